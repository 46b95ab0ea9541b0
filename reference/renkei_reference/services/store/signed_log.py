"""One tamper-evident log of the hub: a Merkle tree, its signed checkpoints, its store.

The hub keeps two (RK-LOG-004, RK-LOG-006): the access log and the
administrative log, each with its own origin line.  ``SignedLog`` appends a
leaf to the tree (core.merkle over a ``RecordingNodeStore``), hands the leaf
and the nodes it completed to the durable ``LogStore`` in the same order, and
signs a C2SP checkpoint once per tree size.

On start it resumes from what the store holds without holding it or reading
its history, and believes none of it unchecked (RK-LOG-010,
core.log_integrity): the tree's levels from ``CACHED_LEVEL`` up are read, each
node checked as the hash of its two children, and the nodes of the block of
leaves not yet complete are recomputed from its stored leaves (``check_upper``:
≈ N / 2^CACHED_LEVEL hashes, not N); the latest signed checkpoint the store
keeps for the log (state ``checkpoint:<name>``, written each time a new size
is signed) must be the note this log's key signs for the root at its size;
then the current size is signed and kept.  Every other node — the lower levels
of complete blocks — is checked when it is read: a proof's node, or a leaf an
entry is read against, recomputes its block of leaves and compares with the
block's node held in memory (services.log_store ``RecordingNodeStore``).
``rows`` streams stored leaves from any serial, checking each leaf hash
against the tree, for the hub to build and check its entries from when it
reads them (services/hub/logs.py).  A mismatch raises ``LogTamperedError``.

A log written before checkpoints were kept has none: ``anchored`` is then
False, and the hub accepts that only for a log whose records all predate the
change (services.store.log_integrity).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...core.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint, verifier_key
from ...core.errors import RenkeiError
from ...core.log_integrity import LogBehindWitnessError, LogTamperedError, check_upper
from ...core.merkle import MerkleLog, leaf_hash
from . import log_store
from .log_store import LeafRow, LoadedLog, LogStore, RecordingNodeStore

__all__ = ["SignedCheckpoint", "SignedLog"]

TRIM_EVERY = 4096
"""Appends between two releases of the lower-level nodes already committed."""


def b64(digest: bytes) -> str:
    """Hashes travel as standard base64 (the wire's Sha256 type, as in C2SP notes)."""
    return base64.b64encode(digest).decode()


@dataclass(frozen=True, slots=True)
class SignedCheckpoint:
    """A log's latest checkpoint (OpenAPI ``Checkpoint``, RK-LOG-004): the signed
    note, and what it says — origin, size and root — with the verifier key."""

    origin: str
    tree_size: int
    root_hash: str  # base64
    checkpoint: str  # the signed note (C2SP signed-note)
    verifier_key: str


class SignedLog:
    """An append-only, signed, durably stored log named ``name`` in ``store``."""

    def __init__(
        self,
        name: str,
        origin: str,
        signer: Ed25519PrivateKey,
        store: LogStore,
        *,
        trim_every: int = TRIM_EVERY,
    ) -> None:
        self.name, self.origin, self._signer, self._store = name, origin, signer, store
        self._trim_every = trim_every
        self._nodes = RecordingNodeStore(
            self._checked_tree(),
            partial(store.node, name),
            leaves=partial(store.block, name),
            log=name,
        )
        self.tree = MerkleLog(self._nodes)
        if self._nodes.take():  # parents recomputed on open are implied by the leaves,
            self._nodes.keep_all()  # but not stored: keep them in memory
        self._signed: tuple[int, str] | None = None
        self.anchored = self._check_checkpoint()
        self._check_witness()
        self._opened_size = self.tree.size
        self.checkpoint()  # the tree as checked, signed and kept from now on

    @property
    def on_tamper(self) -> Callable[[LogTamperedError], None] | None:
        """Told of a stored node found changed when a proof reads it (then it raises)."""
        return self._nodes.on_tamper

    @on_tamper.setter
    def on_tamper(self, tell: Callable[[LogTamperedError], None] | None) -> None:
        self._nodes.on_tamper = tell

    def _checked_tree(self) -> LoadedLog:
        """The stored tree, every node recomputed from the stored leaf hashes."""
        loaded = self._store.load(self.name)
        if not loaded.counts:
            return loaded
        size = loaded.counts[0]
        checked = check_upper(
            self.name,
            size,
            log_store.CACHED_LEVEL,
            loaded.upper,
            lambda level, first: self._store.nodes(self.name, level, first),
        )
        if checked.counts != loaded.counts:
            raise LogTamperedError(
                self.name, f"node level {len(checked.counts)}", "nodes", "not in the tree"
            )
        return LoadedLog(checked.counts, checked.upper, checked.tail)

    def _check_checkpoint(self) -> bool:
        """Whether the store keeps a signed checkpoint of this log; if it does,
        it must be exactly the note this log's key signs for the root at its size.

        :raises LogTamperedError: field ``checkpoint``.
        """
        note = self._store.state().get(self.key)
        if note is None:
            return False
        public = self._signer.public_key()
        try:
            cp = open_checkpoint(note, self.origin, public)
            ok = cp.origin == self.origin and cp.size <= self.tree.size
            expected = sign_checkpoint(
                Checkpoint(self.origin, cp.size, self.tree.root(cp.size)), self.origin, self._signer
            )
        except (RenkeiError, ValueError, UnicodeError) as exc:
            raise LogTamperedError(self.name, "checkpoint", "checkpoint", str(exc)) from None
        if not ok or note != expected:
            raise LogTamperedError(
                self.name,
                "checkpoint",
                "checkpoint",
                f"the stored tree does not give the signed checkpoint of size {cp.size}",
            )
        self._signed = (cp.size, note)
        return True

    def _check_witness(self) -> None:
        """RK-LOG-011: the stored tree is neither shorter than the checkpoint its
        witness holds nor a different tree at that size.

        :raises LogBehindWitnessError:
        """
        note = self._store.witnessed(self.name)
        if note is None:
            if self._signed is not None and self._signed[0] > 0 and self._store.witness_required():
                raise LogBehindWitnessError(
                    self.name,
                    f"the witness holds no checkpoint of it, though the store holds one signed "
                    f"at size {self._signed[0]}: the witness was lost, its volume is not "
                    "mounted, or --witness names another folder; if the witness is truly gone "
                    "and the store is known to be current, start once with --adopt-witness",
                )
            return
        try:
            cp = open_checkpoint(note, self.origin, self._signer.public_key())
        except (RenkeiError, ValueError, UnicodeError) as exc:
            raise LogBehindWitnessError(
                self.name, f"the witnessed checkpoint is not signed by this log's key ({exc})"
            ) from None
        if cp.origin != self.origin:
            raise LogBehindWitnessError(self.name, f"the witness is of the log {cp.origin!r}")
        if cp.size > self.tree.size:
            raise LogBehindWitnessError(
                self.name,
                f"it holds {self.tree.size} entries, the witnessed checkpoint {cp.size}",
            )
        if self.tree.root(cp.size) != cp.root_hash:
            raise LogBehindWitnessError(
                self.name, f"its root at size {cp.size} differs from the witnessed root"
            )

    @property
    def key(self) -> str:
        """The state key under which the latest signed checkpoint is kept."""
        return f"{log_store.CHECKPOINT_STATE}{self.name}"

    @property
    def size(self) -> int:
        return self.tree.size

    @property
    def held_bytes(self) -> int:
        """Bytes of Merkle node hashes held in memory (the rest is read from the store)."""
        return self._nodes.held_bytes()

    def leaf_hash(self, serial: int) -> bytes:
        """The tree's leaf at ``serial``, checked against the tree when it is
        read from the store (``RecordingNodeStore.verified``; RK-LOG-010)."""
        if not 1 <= serial <= self.tree.size:
            raise KeyError(serial)
        return self._nodes.verified(0, serial - 1)

    def rows(self, first: int = 1, limit: int = -1) -> Iterator[LeafRow]:
        """The stored (committed) leaves from serial ``first`` on, at most
        ``limit`` of them (-1: all, streamed), in serial order.

        Each row is checked against the tree as it comes: a serial out of order
        or beyond the tree, a leaf hash that differs from the tree's leaf, or —
        reading to the end — fewer rows than the store held when the log was
        opened raise ``LogTamperedError`` (RK-LOG-010).
        """

        def disagree(serial: int, field: str) -> LogTamperedError:
            return LogTamperedError(
                self.name, f"serial {serial}", field, "the leaves and the tree disagree"
            )

        expected = max(first, 1)
        stream = self._store.leaves(self.name, expected, limit)
        try:
            for row in stream:
                if row.serial != expected or row.serial > self.tree.size:
                    raise disagree(expected, "serial")
                if row.leaf_hash != self.leaf_hash(row.serial):
                    raise disagree(expected, "leaf_hash")
                expected += 1
                yield row
            if limit < 0 and expected <= self._opened_size:
                raise disagree(expected, "serial")
        finally:  # release the store's cursor now, not when collected
            close = getattr(stream, "close", None)
            if close is not None:
                close()

    def append(self, serial: int, leaf: bytes, record: str) -> None:
        """Append ``leaf`` (its hash to the tree) and queue it with ``record`` for commit."""
        if serial != self.tree.size + 1:
            raise RuntimeError(f"{self.name} log serial {serial} after {self.tree.size}")
        digest = leaf_hash(leaf)
        self.tree.append(digest)
        self._store.append(self.name, serial, digest, record, self._nodes.take())
        if serial % self._trim_every == 0:
            self._nodes.trim(self._store.committed(self.name))

    def checkpoint(self) -> tuple[int, str]:
        """The signed checkpoint of the current size, signed once per size."""
        size = self.tree.size
        if self._signed is None or self._signed[0] != size:
            cp = Checkpoint(self.origin, size, self.tree.root(size))
            self._signed = (size, sign_checkpoint(cp, self.origin, self._signer))
            self._store.put_state(self.key, self._signed[1])  # checked at the next start
        return self._signed

    def covering(self, size: int) -> tuple[int, str]:
        """A signed checkpoint of at least ``size`` entries: the last one signed when
        it covers them (a receipt may be proved against any checkpoint that holds
        its entry, RK-LOG-004), else one of the current size."""
        signed = self._signed
        if signed is not None and size <= signed[0] <= self.tree.size:
            return signed
        return self.checkpoint()

    def latest(self) -> SignedCheckpoint:
        """The latest checkpoint, signed (OpenAPI ``Checkpoint``)."""
        size, note = self.checkpoint()
        return SignedCheckpoint(
            origin=self.origin,
            tree_size=size,
            root_hash=b64(self.tree.root(size)),
            checkpoint=note,
            verifier_key=verifier_key(self.origin, self._signer.public_key()),
        )
