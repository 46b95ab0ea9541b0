"""What the clients were told: the ledger of acknowledged steps, kept on the client side
only, and the end-of-run judgement of the hub against it.

Every fact here was acknowledged to a client over the wire: a 202 for a query (the
linkage id, and for a direct query the receipt), a receipt, an answer relayed to the
requester, a provider's own log saying the hub took its answer.  The judgement reads
the hub again as its auditor (``/auditor/access-logs``, receipts, checkpoints,
consistency proofs) and the nodes' shares of the log."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .tlog import Checkpoint, TlogError, leaf_hash, parse_checkpoint, verify_inclusion

__all__ = ["Ledger", "Linkage", "Receipt"]


@dataclass
class Linkage:
    """One approved linkage, as its requester knows it."""

    linkage_id: str
    path: str  # "node": asked through the requester's agency node; "direct": with its certificate
    requester: str
    provider: str
    pattern_id: str
    kind: str
    record_no: str
    incarnation: int  # which start of `renkei serve` approved it
    request_id: str | None = None
    deadline: str | None = None
    replay: bool = False  # a re-sent request id the hub accepted (a defect)
    payloads: list[str] = field(default_factory=list)  # every answer relayed to the requester
    collected_in: int | None = None  # incarnation of the first answer
    forgotten: str | None = None  # the problem slug the hub answered when it no longer knew it
    done: bool = False  # the collector stopped reading it
    born: float = field(default_factory=time.monotonic)


@dataclass(frozen=True)
class Receipt:
    """An acknowledged receipt, verified when it arrived."""

    linkage_id: str
    serial: int
    leaf: bytes
    leaf_hash: bytes
    checkpoint: Checkpoint
    incarnation: int


class Ledger:
    """Thread-safe record of everything acknowledged to the harness's clients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.linkages: dict[str, Linkage] = {}
        self.receipts: list[Receipt] = []
        self.bad_receipts: list[dict[str, Any]] = []  # did not verify on arrival
        self.checkpoints: dict[int, dict[bytes, Checkpoint]] = {}  # size -> root -> checkpoint
        self.used_ids: list[tuple[str, str]] = []  # (linkage_id, request_id) acknowledged
        self.statuses: Counter[str] = Counter()  # "<operation> <status>"
        self.unacknowledged = 0  # requests that got no answer (connection lost …)
        self.verifier_key: str | None = None
        self.verifier_keys_seen: set[str] = set()

    def count(self, key: str) -> None:
        with self.lock:
            self.statuses[key] += 1

    def lost_request(self) -> None:
        with self.lock:
            self.unacknowledged += 1

    def add_linkage(self, linkage: Linkage) -> bool:
        with self.lock:
            if linkage.linkage_id in self.linkages:
                return False
            self.linkages[linkage.linkage_id] = linkage
            return True

    def approved(self) -> int:
        with self.lock:
            return sum(not x.replay for x in self.linkages.values())

    def checkpoint(self, text: str) -> Checkpoint | None:
        """Verify a checkpoint with the pinned key and remember it."""
        if self.verifier_key is None:
            raise RuntimeError("no verifier key pinned")
        try:
            cp = parse_checkpoint(text, self.verifier_key)
        except TlogError as exc:
            with self.lock:
                self.bad_receipts.append({"checkpoint": text, "error": str(exc)})
            return None
        with self.lock:
            self.checkpoints.setdefault(cp.size, {})[cp.root] = cp
        return cp

    def receipt(self, body: dict[str, Any], incarnation: int) -> Receipt | None:
        """Check a receipt as it arrives (leaf hash, signature, inclusion) and keep it."""
        try:
            leaf = base64.b64decode(body["leaf"], validate=True)
            digest = base64.b64decode(body["leaf_hash"], validate=True)
            proof = [base64.b64decode(p, validate=True) for p in body["inclusion_proof"]]
            serial, index, size = (
                int(body["serial"]),
                int(body["leaf_index"]),
                int(body["tree_size"]),
            )
        except (KeyError, ValueError, TypeError) as exc:
            with self.lock:
                self.bad_receipts.append({"receipt": body, "error": f"malformed: {exc}"})
            return None
        cp = self.checkpoint(str(body.get("checkpoint", "")))
        problem = None
        if cp is None:
            problem = "checkpoint does not verify"
        elif leaf_hash(leaf) != digest:
            problem = "leaf_hash is not SHA-256(0x00 ‖ leaf)"
        elif cp.size != size or not verify_inclusion(digest, index, size, proof, cp.root):
            problem = "inclusion proof does not verify against its checkpoint"
        if problem is not None or cp is None:
            with self.lock:
                self.bad_receipts.append({"serial": body.get("serial"), "error": problem})
            return None
        r = Receipt(str(body.get("linkage_id")), serial, leaf, digest, cp, incarnation)
        with self.lock:
            self.receipts.append(r)
        return r

    def remember_request_id(self, linkage_id: str, receipt: Receipt | None) -> str | None:
        """The request id the hub logged for a linkage, read from its receipt's leaf."""
        if receipt is None:
            return None
        try:
            request_id = json.loads(receipt.leaf).get("request_id")
        except ValueError:
            return None
        if not isinstance(request_id, str):
            return None
        with self.lock:
            link = self.linkages.get(linkage_id)
            if link is not None and link.request_id is None:
                link.request_id = request_id
                self.used_ids.append((linkage_id, request_id))
        return request_id
