"""The hub's tamper-evident access and administrative logs (RK-LOG-004, RK-LOG-006, RK-LOG-009).

Each is a ``SignedLog`` (services.signed_log) over the durable ``LogStore``:
one RFC 9162 leaf an entry, signed checkpoints, receipts with inclusion
proofs.  ``HubLogs`` owns the entries as read back from the store at start,
the index of each linkage's serials, and the receipts; purging is the
retention desk's, through ``purged``.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...core.access_log import AccessLogEntry, Outcome, entry_record, leaf_bytes
from ...core.admin_log import AdminEvent, AdminLogEntry, Detail, admin_leaf_bytes
from ...core.codes import ResidentCode
from ...core.errors import GoneError, NotFoundError
from ...core.merkle import leaf_hash
from ...core.patterns import LinkagePattern
from ...core.retention import SALT_SIZE, PurgedEntry, StoredEntry
from ..store.log_integrity import StoredLogCheck, TamperReports, check_anchored
from ..store.log_store import LeafRow, LogStore
from ..store.signed_log import SignedCheckpoint, SignedLog, b64

__all__ = [
    "AccessFacts",
    "AdminPage",
    "ConsistencyProof",
    "HubLogs",
    "Receipt",
    "admin_origin",
    "resume_access_log",
]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The proof that an entry is in the signed log (OpenAPI ``Receipt``, RK-LOG-004):
    the leaf, its hash, its inclusion proof and the checkpoint it proves against."""

    linkage_id: str | None
    serial: int
    leaf_index: int
    leaf: str  # base64 of the leaf bytes
    leaf_hash: str  # base64
    tree_size: int
    inclusion_proof: tuple[str, ...]  # base64 hashes, RFC 9162 §2.1.3
    checkpoint: str  # the signed note


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    """RFC 9162 §2.1.4 proof between two sizes (OpenAPI ``ConsistencyProof``)."""

    first: int
    second: int
    proof: tuple[str, ...]  # base64 hashes


@dataclass(frozen=True, slots=True)
class AdminPage:
    """A page of the administrative log with the signed checkpoint (RK-LOG-006)."""

    entries: tuple[AdminLogEntry, ...]
    checkpoint: SignedCheckpoint


def admin_origin(origin: str) -> str:
    """The administrative log's origin line, beside the access log's (RK-LOG-006)."""
    return origin.removesuffix("/access-log") + "/admin-log"


def resume_access_log(
    rows: Iterable[LeafRow], check: StoredLogCheck
) -> tuple[list[StoredEntry], dict[str, list[int]]]:
    """The access log's entries and the serials of each linkage, from the stored
    rows as they stream by, each checked (a hub restart; RK-LOG-010; the rows
    themselves are not kept, and the entries share one string per agency,
    pattern and kind)."""
    entries: list[StoredEntry] = []
    serials: dict[str, list[int]] = {}  # linkage_id -> serials (an index)
    for e in check.access_entries(rows):
        entries.append(e)
        if isinstance(e, AccessLogEntry) and e.linkage_id is not None:
            serials.setdefault(e.linkage_id, []).append(e.serial)
    return entries, serials


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What one access-log entry says of a query (①–⑥ of item 22 and its ids)."""

    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    request_id: str


class HubLogs:
    """The access log and the administrative log, resumed from the store."""

    def __init__(
        self,
        store: LogStore,
        signer: Ed25519PrivateKey,
        origin: str,
        *,
        name: Callable[[str], str],
        resident_of: Callable[[bytes], ResidentCode],
        now: Callable[[], datetime],
    ) -> None:
        self.store = store
        self.origin = origin
        self._name = name
        self.access = SignedLog("access", origin, signer, store)
        self.admin = SignedLog("admin", admin_origin(origin), signer, store)
        # every stored row is checked as it is read back (RK-LOG-010); the
        # administrative log first: its purge entries vouch for purged rows
        self._check = StoredLogCheck(signer, resident_of)
        self.admin_entries = self._check.admin_entries(self.admin.rows())
        self.entries, self._serials = resume_access_log(self.access.rows(), self._check)
        logs = (self.access, self.admin)
        check_anchored(((g.name, g.size, g.anchored) for g in logs), self.entries)
        self.access.on_tamper = self.admin.on_tamper = TamperReports(self.record, now)

    # -- writing ---------------------------------------------------------------
    def record(self, event: AdminEvent, actor: str, at: datetime, **details: Detail) -> None:
        """Append to the administrative log (RK-LOG-006) and sign its checkpoint, so
        that the step is witnessed before it is acknowledged (RK-LOG-011): a store put
        back to before it (a legal hold, a key rotation lost) refuses to start."""
        entry = AdminLogEntry(len(self.admin_entries) + 1, at, event, actor, details)
        leaf = admin_leaf_bytes(entry)
        self.admin.append(entry.serial, leaf, leaf.decode())
        self.admin_entries.append(entry)
        self.admin.checkpoint()

    def log_access(
        self,
        facts: AccessFacts,
        *,
        at: datetime,
        outcome: Outcome,
        pattern: LinkagePattern | None,
        pattern_version: int | None,
        reason: str | None = None,
        detail: str | None = None,
        linkage_id: str | None = None,
        person: bytes | None = None,
    ) -> AccessLogEntry:
        """Append one access-log entry (RK-LOG-001..005): the legal basis and the
        person's-view flag come from the pattern in force."""
        salt = secrets.token_bytes(SALT_SIZE)
        entry = AccessLogEntry(
            serial=len(self.entries) + 1,
            at=at,
            pattern_id=facts.pattern_id,
            legal_basis=pattern.legal_basis if pattern else None,
            requester=facts.requester,
            requester_name=self._name(facts.requester),
            provider=facts.provider,
            provider_name=self._name(facts.provider),
            information_kind=facts.information_kind,
            outcome=outcome,
            reason=reason,
            detail=detail,
            linkage_id=linkage_id,
            request_id=facts.request_id,
            person=person,
            salt=salt,
            pattern_version=pattern_version,
            withheld=pattern.withheld_from_person if pattern else False,
            person_digest=self._check.digest(salt, person),  # RK-LOG-010
        )
        self.access.append(entry.serial, leaf_bytes(entry), entry_record(entry))
        self.entries.append(entry)
        if linkage_id is not None:
            self._serials.setdefault(linkage_id, []).append(entry.serial)
        return entry

    def purged(self, entries: list[StoredEntry], serials: list[int], at: datetime) -> None:
        """The retention desk purged ``serials``: ``entries`` is the log after it.
        Called after the purge's administrative entry, which vouches for the purged
        rows at a restart (RK-LOG-010)."""
        self.entries = entries
        self.store.purge("access", serials, at.isoformat())

    def rekey_persons(self, move: Callable[[bytes], bytes]) -> None:
        """Re-make the stored persons' ID codes after an ID-key rotation (RK-KEY-002)."""
        rewritten: list[tuple[int, str]] = []
        for i, e in enumerate(self.entries):
            if isinstance(e, AccessLogEntry) and e.person and move(e.person) != e.person:
                self.entries[i] = moved = replace(e, person=move(e.person))
                rewritten.append((e.serial, entry_record(moved)))
        if rewritten:
            self.store.rewrite("access", rewritten)

    # -- reading ---------------------------------------------------------------
    def held(self) -> Iterator[AccessLogEntry]:
        """The entries still held (not purged), in serial order."""
        return (e for e in self.entries if isinstance(e, AccessLogEntry))

    def receipt_for(self, serial: int) -> Receipt:
        """Serial, leaf, leaf hash, inclusion proof and the checkpoint it proves against."""
        entry = self.entries[serial - 1]
        if isinstance(entry, PurgedEntry):
            raise GoneError(
                "entry-purged", f"entry {serial} was purged when its retention ended", "RK-RET-003"
            )
        size, note = self.access.checkpoint()
        leaf = leaf_bytes(entry)
        proof = self.access.tree.inclusion_proof(serial - 1, size)
        return Receipt(
            linkage_id=entry.linkage_id,
            serial=serial,
            leaf_index=serial - 1,
            leaf=base64.b64encode(leaf).decode(),
            leaf_hash=b64(leaf_hash(leaf)),
            tree_size=size,
            inclusion_proof=tuple(b64(h) for h in proof),
            checkpoint=note,
        )

    def linkage_receipt(self, party: str | None, linkage_id: str, serial: int | None) -> Receipt:
        """A receipt for an entry of a linkage the caller took part in, or of any
        linkage for the auditor (``party`` None; RK-LOG-009)."""
        serials = self._serials.get(linkage_id, [])
        kept = [e for n in serials if isinstance(e := self.entries[n - 1], AccessLogEntry)]
        first = kept[0] if kept else None
        if first is None or (party is not None and party not in (first.requester, first.provider)):
            raise NotFoundError(
                "unknown-linkage", f"no linkage {linkage_id!r} in which you took part", "RK-LOG-009"
            )
        if serial is None:
            serial = serials[-1]
        elif serial not in serials:
            raise NotFoundError(
                "not-found",
                f"entry {serial} does not belong to linkage {linkage_id!r}",
                "RK-LOG-009",
            )
        return self.receipt_for(serial)

    def consistency(self, log: SignedLog, first: int, second: int) -> ConsistencyProof:
        """RFC 9162 §2.1.4 proof between two sizes; out of range → tree-size-out-of-range."""
        proof = log.tree.consistency_proof(first, second)
        return ConsistencyProof(first, second, tuple(b64(h) for h in proof))

    def admin_page(self, after: int, limit: int) -> AdminPage:
        """Administrative-log entries and the signed checkpoint."""
        return AdminPage(tuple(self.admin_entries[after : after + limit]), self.admin.latest())

    def tree_dump(self) -> list[dict[str, Any]]:
        return [
            {
                "log": log.name,
                "size": log.size,
                "root": b64(log.tree.root()),
                "note": "node hashes derived from the log's leaves",
            }
            for log in (self.access, self.admin)
            if log.size
        ]
