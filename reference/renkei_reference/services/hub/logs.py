"""The hub's tamper-evident access and administrative logs (RK-LOG-004, RK-LOG-006, RK-LOG-009).

Each is a ``SignedLog`` (services.signed_log) over the durable ``LogStore``:
one RFC 9162 leaf an entry, signed checkpoints, receipts with inclusion
proofs.  Purging is the retention desk's, through ``purged``.

Memory.  ``HubLogs`` does not hold the access log: an entry is read from the
store when it is asked for (``entry``, ``held``, ``linkage_serials``,
``person_entries`` — the last two through the store's indexes on the record's
linkage id and person) and checked as it is read (RK-LOG-010,
services.store.log_integrity ``access_entry``: the row's leaf hash is the
tree's leaf, itself checked against the tree's cached levels; the record gives
that leaf; the person is the one the leaf binds; a purged row's time is an
administrative purge's).  What the hub wrote and the store has not committed
yet — appends, purges, re-keyed persons — is held in ``_recent`` until the
store says it is committed (``settle``; with ``MemoryLogStore``, which keeps
nothing, it is the whole log).  The administrative log is still held whole
(``admin_entries``): it grows with administrative events, not with linkages.
"""

from __future__ import annotations

import base64
import secrets
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...core.access_log import AccessLogEntry, Outcome, entry_record, leaf_and_record, leaf_bytes
from ...core.admin_log import AdminEvent, AdminLogEntry, Detail, admin_leaf_bytes
from ...core.codes import ResidentCode
from ...core.errors import GoneError, NotFoundError
from ...core.log_integrity import LogTamperedError
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
]

WINDOW = 256
"""Rows read by the first query of a walk through the log (then up to ``WINDOW_MAX``)."""
WINDOW_MAX = 4096
DISAGREE = "the leaves and the tree disagree"


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


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What one access-log entry says of a query (①–⑥ of item 22 and its ids)."""

    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    request_id: str


APPENDED_KEPT = 4096
"""How many of the last appended entries the hub keeps for their receipts."""


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
        # what this process wrote and the store may not have committed yet
        self._recent: dict[int, StoredEntry] = {}
        # the last entries appended, with their leaves, for their receipts: held from
        # the append, never read back, so nothing here needs checking (RK-LOG-010);
        # a purged or re-keyed entry leaves it
        self._appended: dict[int, tuple[AccessLogEntry, bytes]] = {}
        self._recent_linkages: dict[str, list[int]] = {}
        self._recent_linkage_of: dict[int, str] = {}
        self._writes: dict[int, int] = {}  # serial -> writes not yet released
        self._unsettled: deque[tuple[int | None, int]] = deque()  # (store mark, serial)
        # called inside the transaction of each append (the state digest's log sizes)
        self.appended: Callable[[], None] = lambda: None
        logs = (self.access, self.admin)
        check_anchored(((g.name, g.size, g.anchored) for g in logs), self.held())
        self.access.on_tamper = self.admin.on_tamper = TamperReports(self.record, now)
        self.report_reads = False  # set once the hub serves (``_read``)

    # -- what is not committed yet ----------------------------------------------
    def _wrote(self, entry: StoredEntry) -> None:
        serial = entry.serial
        self._appended.pop(serial, None)
        self._recent[serial] = entry
        self._writes[serial] = self._writes.get(serial, 0) + 1
        linkage_id = getattr(entry, "linkage_id", None)
        if linkage_id is not None and serial not in self._recent_linkage_of:
            self._recent_linkages.setdefault(linkage_id, []).append(serial)
            self._recent_linkage_of[serial] = linkage_id
        self._unsettled.append((None, serial))

    def settle(self) -> None:
        """Release what the store has committed (called between the hub's steps,
        when everything written before is queued: ``LogStore.mark``)."""
        mark = self.store.mark()
        if mark is None:
            return
        unsettled = self._unsettled
        for i in range(len(unsettled) - 1, -1, -1):
            if unsettled[i][0] is not None:
                break
            unsettled[i] = (mark, unsettled[i][1])
        while unsettled and (m := unsettled[0][0]) is not None and self.store.settled(m):
            _, serial = unsettled.popleft()
            left = self._writes.pop(serial) - 1
            if left:  # written again since: released with its last write
                self._writes[serial] = left
                continue
            self._recent.pop(serial, None)
            linkage_id = self._recent_linkage_of.pop(serial, None)
            if linkage_id is not None:
                kept = self._recent_linkages[linkage_id]
                kept.remove(serial)
                if not kept:
                    del self._recent_linkages[linkage_id]

    # -- reading the access log ---------------------------------------------------
    @property
    def size(self) -> int:
        """The access log's number of entries (purged ones included)."""
        return self.access.size

    def _read(self, row: LeafRow) -> StoredEntry:
        """The row's entry, checked; a mismatch found while the hub serves
        (``report_reads``) is reported to the auditor (a ``log-tampered``
        administrative entry, ``TamperReports``) before it is raised — at start
        the hub refuses to start instead, and writes nothing."""
        try:
            return self._check.access_entry(row, self.access.leaf_hash(row.serial))
        except LogTamperedError as error:
            report = self.access.on_tamper
            if self.report_reads and report is not None:
                report(error)
            raise

    def _complete(self) -> None:
        """A lookup the store's index answered with nothing is only an answer if
        the index can read every held record: a record changed so that it no
        longer parses, or lost the member looked up, is in no index.  Such a
        record is read (and its check raises ``LogTamperedError``): the caller
        gets 500 ``log-tampered``, never 404 or "unused" for a linkage or
        request id the changed entry may hold (RK-LOG-010)."""
        odd = self.store.unreadable("access")
        if odd is not None:
            self._found(odd)

    def _missing(self, serial: int) -> LogTamperedError:
        return LogTamperedError(
            log="access", where=f"serial {serial}", field="serial", why=DISAGREE
        )

    def entry(self, serial: int) -> StoredEntry:
        """The entry at ``serial`` (1 … ``size``), checked as it is read.

        :raises IndexError: no such serial.
        """
        if not 1 <= serial <= self.size:
            raise IndexError(serial)
        recent = self._recent.get(serial)
        if recent is not None:
            return recent
        found = next(self.access.rows(serial, 1), None)
        if found is None:
            raise self._missing(serial)
        return self._read(found)

    def _found(self, serial: int) -> StoredEntry:
        """An entry an index named: a serial outside the log is a changed row."""
        if not 1 <= serial <= self.size:
            raise LogTamperedError(
                log="access", where=f"serial {serial}", field="serial", why="outside the log"
            )
        return self.entry(serial)

    def entries(self, first: int = 1) -> Iterator[StoredEntry]:
        """Every entry from serial ``first`` on, purged ones included, in order,
        each checked as it is read (windows of ``WINDOW`` … ``WINDOW_MAX`` rows;
        the entries not committed yet come last)."""
        serial, window = max(first, 1), WINDOW
        while serial <= self.size:
            read = False
            for row in self.access.rows(serial, window):
                recent = self._recent.get(serial)
                yield recent if recent is not None else self._read(row)
                serial, read = serial + 1, True
            if not read:  # nothing stored from here on: the rest is not committed yet
                while serial <= self.size:
                    recent = self._recent.get(serial)
                    if recent is None:
                        raise self._missing(serial)
                    yield recent
                    serial += 1
            window = min(window * 2, WINDOW_MAX)

    def held(self, first: int = 1) -> Iterator[AccessLogEntry]:
        """The entries still held (not purged), from serial ``first`` on, in order."""
        return (e for e in self.entries(first) if isinstance(e, AccessLogEntry))

    def linkage_serials(self, linkage_id: str, known: Iterable[int] = ()) -> list[int]:
        """The serials of the held entries of one linkage, in order (the store's
        index on the record's linkage id, what is not committed yet, and the
        ``known`` serials the hub's state records name for it — the approval of
        a linkage in flight, the ``provided`` entry of an answer handed out —
        which are read whatever the index says, so that a changed entry of a
        linkage in flight is a ``LogTamperedError``).  Nothing found: see
        ``_complete``."""
        candidates = set(self._recent_linkages.get(linkage_id, ()))
        candidates.update(known)
        candidates.update(self.store.find("access", "linkage_id", linkage_id))
        found = [
            s
            for s in sorted(candidates)
            if isinstance(e := self._found(s), AccessLogEntry) and e.linkage_id == linkage_id
        ]
        if not found:
            self._complete()
        return found

    def person_entries(self, person: bytes) -> list[AccessLogEntry]:
        """The held entries about ``person`` (an ID code), in order (the store's
        index on the record's person, and what is not committed yet)."""
        out: dict[int, AccessLogEntry] = {}
        for serial in self.store.find("access", "person", person.hex()):
            if serial not in self._recent:
                e = self._found(serial)
                if isinstance(e, AccessLogEntry) and e.person == person:
                    out[serial] = e
        for serial, e in self._recent.items():
            if isinstance(e, AccessLogEntry) and e.person == person:
                out[serial] = e
        return [out[s] for s in sorted(out)]

    # -- writing ---------------------------------------------------------------
    def record(self, event: AdminEvent, actor: str, at: datetime, **details: Detail) -> None:
        """Append to the administrative log (RK-LOG-006) and sign its checkpoint, so
        that the step is witnessed before it is acknowledged (RK-LOG-011): a store put
        back to before it (a legal hold, a key rotation lost) refuses to start."""
        entry = AdminLogEntry(len(self.admin_entries) + 1, at, event, actor, details)
        leaf = admin_leaf_bytes(entry)
        with self.store.atomic():
            self.admin.append(entry.serial, leaf, leaf.decode())
            self.appended()
        self.admin_entries.append(entry)
        self._check.note_admin(entry)
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
            serial=self.size + 1,
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
        leaf, record = leaf_and_record(entry)
        with self.store.atomic():
            self.access.append(entry.serial, leaf, record)
            self.appended()
        self._wrote(entry)
        self._appended[entry.serial] = (entry, leaf)
        if len(self._appended) > APPENDED_KEPT:
            del self._appended[next(iter(self._appended))]
        return entry

    def request_serial(self, requester: str, request_id: str) -> int | None:
        """The first held entry of ``requester``'s ``request_id``, if any (the
        store's index on the record's request id, and what is not committed
        yet), each candidate checked as it is read."""
        candidates = {
            s
            for s, e in self._recent.items()
            if isinstance(e, AccessLogEntry) and e.request_id == request_id
        }
        found, odd = self.store.find_checked("access", "request_id", request_id)
        candidates.update(found)
        for serial in sorted(candidates):
            e = self._found(serial)
            if isinstance(e, AccessLogEntry) and (e.requester, e.request_id) == (
                requester,
                request_id,
            ):
                return serial
        if odd is not None:  # as ``_complete``, from the same read
            self._found(odd)
        return None

    def purged(self, entries: Iterable[PurgedEntry], at: datetime) -> None:
        """The retention desk purged ``entries``.  Called after the purge's
        administrative entry, which vouches for the purged rows when they are
        read back (RK-LOG-010)."""
        serials = []
        for e in entries:
            self._wrote(e)
            serials.append(e.serial)
        self.store.purge("access", serials, at.isoformat())

    def rekey_persons(self, move: Callable[[bytes], bytes]) -> None:
        """Re-make the stored persons' ID codes after an ID-key rotation (RK-KEY-002)."""
        rewritten: list[tuple[int, str]] = []
        for e in list(self.held()):
            if e.person and move(e.person) != e.person:
                moved = replace(e, person=move(e.person))
                rewritten.append((e.serial, entry_record(moved)))
                self._wrote(moved)
        if rewritten:
            self.store.rewrite("access", rewritten)

    # -- reading ---------------------------------------------------------------
    def receipt_for(self, serial: int) -> Receipt:
        """Serial, leaf, leaf hash, inclusion proof and the checkpoint it proves against."""
        appended = self._appended.get(serial)
        if appended is not None:
            entry, leaf = appended
        else:
            stored = self.entry(serial)
            if isinstance(stored, PurgedEntry):
                raise GoneError(
                    "entry-purged",
                    f"entry {serial} was purged when its retention ended",
                    "RK-RET-003",
                )
            entry, leaf = stored, leaf_bytes(stored)
        size, note = self.access.covering(serial)
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

    def linkage_receipt(
        self, party: str | None, linkage_id: str, serial: int | None, known: Iterable[int] = ()
    ) -> Receipt:
        """A receipt for an entry of a linkage the caller took part in, or of any
        linkage for the auditor (``party`` None; RK-LOG-009); ``known``: see
        ``linkage_serials``."""
        serials = self.linkage_serials(linkage_id, known)
        first = self.entry(serials[0]) if serials else None
        assert first is None or isinstance(first, AccessLogEntry)
        if first is None or (party is not None and party not in (first.requester, first.provider)):
            raise NotFoundError(
                "unknown-linkage", f"no linkage {linkage_id!r} in which you took part", "RK-LOG-009"
            )
        if serial is None:
            serial = serials[-1]
        elif serial not in serials:
            if 1 <= serial <= self.size and isinstance(self.entry(serial), PurgedEntry):
                # a purged entry's linkage is gone with its record (RK-RET-003)
                raise GoneError(
                    "entry-purged",
                    f"entry {serial} was purged when its retention ended",
                    "RK-RET-003",
                )
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
