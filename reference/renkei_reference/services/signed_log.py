"""One tamper-evident log of the hub: a Merkle tree, its signed checkpoints, its store.

The hub keeps two (RK-LOG-004, RK-LOG-006): the access log and the
administrative log, each with its own origin line.  ``SignedLog`` appends a
leaf to the in-memory tree (core.merkle over a ``RecordingNodeStore``), hands
the leaf and the nodes it completed to the durable ``LogStore`` in the same
order, and signs a C2SP checkpoint once per tree size.  On start it resumes
from what the store holds and checks that the stored nodes and leaves agree.
"""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.checkpoint import Checkpoint, sign_checkpoint, verifier_key
from ..core.merkle import MerkleLog, leaf_hash
from .log_store import LeafRow, LogStore, RecordingNodeStore

__all__ = ["SignedLog"]


def b64(digest: bytes) -> str:
    """Hashes travel as standard base64 (the wire's Sha256 type, as in C2SP notes)."""
    return base64.b64encode(digest).decode()


class SignedLog:
    """An append-only, signed, durably stored log named ``name`` in ``store``."""

    def __init__(self, name: str, origin: str, signer: Ed25519PrivateKey, store: LogStore) -> None:
        self.name, self.origin, self._signer, self._store = name, origin, signer, store
        loaded = store.load(name)
        self._nodes = RecordingNodeStore(loaded.levels)
        self.tree = MerkleLog(self._nodes)
        self._nodes.take()  # parents recomputed on open are already implied by the leaves
        self.loaded: list[LeafRow] = loaded.leaves
        if self.tree.size != len(loaded.leaves) or any(
            row.serial != i + 1 or row.leaf_hash != self._nodes.get(0, i)
            for i, row in enumerate(loaded.leaves)
        ):
            raise RuntimeError(f"the stored {name} log's leaves and tree disagree")
        self._signed: tuple[int, str] | None = None

    @property
    def size(self) -> int:
        return self.tree.size

    def append(self, serial: int, leaf: bytes, record: str) -> None:
        """Append ``leaf`` (its hash to the tree) and queue it with ``record`` for commit."""
        if serial != self.tree.size + 1:
            raise RuntimeError(f"{self.name} log serial {serial} after {self.tree.size}")
        digest = leaf_hash(leaf)
        self.tree.append(digest)
        self._store.append(self.name, serial, digest, record, self._nodes.take())

    def checkpoint(self) -> tuple[int, str]:
        """The signed checkpoint of the current size, signed once per size."""
        size = self.tree.size
        if self._signed is None or self._signed[0] != size:
            cp = Checkpoint(self.origin, size, self.tree.root(size))
            self._signed = (size, sign_checkpoint(cp, self.origin, self._signer))
        return self._signed

    def latest(self) -> dict[str, object]:
        """The wire form of the latest checkpoint (OpenAPI ``Checkpoint``)."""
        size, note = self.checkpoint()
        return {
            "origin": self.origin,
            "tree_size": size,
            "root_hash": b64(self.tree.root(size)),
            "checkpoint": note,
            "verifier_key": verifier_key(self.origin, self._signer.public_key()),
        }
