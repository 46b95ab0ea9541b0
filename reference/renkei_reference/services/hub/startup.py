"""What the hub checks at start, before it serves anything (RK-LOG-010, RK-FLOW-008).

The logs are checked row by row as they are read (services.store.log_integrity) and
each state record's seal as it is read (core.record_seal).  A seal cannot
tell a record that was deleted, or put back from an earlier copy, so the state
whose loss or rollback would matter is held against the checked logs:

* the state records (every space in ``COUNTED``: linkages in flight, answers in
  transit and handed out, holds, retention, consents, aliases, agencies and
  their credentials, patterns) against their sealed digest (services.store.sealed_records),
  written in the same transactions: the records counted and summed again give
  the digest, whose log sizes are the stored logs' — a record deleted, added or
  put back from an earlier copy changes the sums, and a digest put back from an
  earlier copy names smaller logs (the logs themselves are held to their
  witness, RK-LOG-011);
* the digest against the one the checkpoint witness holds (every committed
  digest goes there, with its generation, before the step is acknowledged):
  a digest behind the witnessed floor (the generation of the latest step
  that must survive: every step but an acknowledgement, which RK-FLOW-002
  lets come back) is a copy put back after the latest log entry — an answer
  accepted, which writes none — or a store whose last transactions were
  lost, and the start is refused.  The witness is written without a
  flush, so after a power loss it may lag the store (never lead it): a
  stored digest ahead of the witness's is accepted;
* each linkage in flight has its approval as its last entry, and each answer
  handed out its ``provided`` entry (the log's linkage index), a linkage is
  answered exactly when its answer is in transit;
* every hold placed and not lifted in the administrative log has its record
  (else purging would ignore it, RK-RET-002), the pattern table in force is the
  document the administrative log last recorded loading (no rollback,
  RK-PAT-003), and no key ring is behind the last rotation the administrative
  log recorded (RK-KEY-002).

None of this reads the access log's entries but those of the linkages in flight:
the time is the records', not the log's.  A used request id's record is not
counted (one a linkage): a request id found unused is looked up in the log before
it is accepted (``HubLogs.request_serial``, services.hub.linkages).

A store without a digest (written before it, or the digest deleted) gets the
full check instead, once: one pass over the held entries, streamed, holding only
the linkages open at the point reached (a used request id for every entry,
exactly the linkages approved and not ended); the digest is then written.  Any
mismatch is a ``LogTamperedError``: the hub does not start.  A store written
before the sealed records is adopted once (``adopt_legacy_state``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from ...core.access_log import AccessLogEntry, Outcome
from ...core.admin_log import AdminEvent
from ...core.keys import KeyRing
from ...core.linkage import LinkageState
from ...core.log_integrity import LogTamperedError
from ..store.log_store import LogStore, SealedRecords
from .agencies import AGENCY, CREDENTIAL
from .binding import CONSENT
from .codes import ALIAS
from .linkages import EXPIRED, LINKAGE, RELAY, TRANSIT, LinkageDesk, request_key
from .logs import HubLogs
from .patterns import PATTERN, PatternDesk
from .retention import HOLD, RETENTION, RetentionDesk

__all__ = ["COUNTED", "adopt_legacy_state", "check_state_against_logs"]

COUNTED = (
    AGENCY, ALIAS, CONSENT, CREDENTIAL, EXPIRED, HOLD, LINKAGE, PATTERN, RELAY, RETENTION, TRANSIT
)  # fmt: skip
"""The record spaces under the sealed digest: every space of the hub's state but
the used request ids (one a linkage, looked up in the log when found unused) and
``control`` (the test clock's offset, and where the records begin)."""

CONTROL, RECORDS_FROM = "control", "records-from"


def _tampered(where: str, why: str) -> LogTamperedError:
    return LogTamperedError(log="state", where=where, field="record", why=why)


def adopt_legacy_state(
    records: SealedRecords, store: LogStore, logs: HubLogs, *, adopt: bool = False
) -> int:
    """The serial from which every entry's state has a record.

    A store written before the sealed records kept holds, retention periods and
    consents in its plain ``state`` table and used request ids nowhere but in
    the log: at its first start under this code, when an operator adopts it
    (``adopt``; a new store needs none), they are adopted once into the sealed
    records (the request ids from the checked log), and the serial from which
    records are kept is itself recorded.  A store with a state digest has its
    records: the marker missing there is a deletion, not an old store."""
    marker = dict(records.items(CONTROL)).get(RECORDS_FROM)
    if marker is not None:
        return int(marker)
    if records.digest_at_open is not None:
        raise _tampered(f"{CONTROL} {RECORDS_FROM!r}", "deleted from a store with a state digest")
    _digest(records, logs, adopt=adopt)  # no digest: refused unless new or adopted
    spaces = {"hold:": "hold", "consent:": "consent"}
    for key, value in store.state().items():
        if key == "retention":
            records.put("retention", "policy", value)
        for prefix, space in spaces.items():
            if key.startswith(prefix):
                records.put(space, key.removeprefix(prefix), value)
    for e in logs.held():
        records.put("request", request_key(e.requester, e.request_id), e.linkage_id or "")
    start = logs.size + 1
    records.put(CONTROL, RECORDS_FROM, str(start))
    return start


def check_state_against_logs(
    logs: HubLogs,
    linkages: LinkageDesk,
    retention: RetentionDesk,
    patterns: PatternDesk,
    rings: Iterable[KeyRing],
    *,
    records: SealedRecords,
    records_from: int,
    adopt: bool = False,
) -> None:
    """See the module docstring; raises ``LogTamperedError`` on the first mismatch.
    ``adopt``: a store with entries and no digest gets the full check (else it is
    refused), and its digest is written once every check has passed."""
    digested = _digest(records, logs, adopt=adopt)
    if digested:
        _in_flight(logs, linkages)
    else:
        _requests_and_linkages(logs, linkages, records_from)
    _answers(linkages)
    _holds(logs, retention)
    _patterns(logs, patterns)
    _keys(logs, rings)
    if not digested:
        records.changed()  # the digest, from now on kept with the records


def _requests_and_linkages(logs: HubLogs, desk: LinkageDesk, records_from: int) -> None:
    """One pass over the held entries, holding only the linkages open at the
    point reached (and, for the answers handed out, their provided entries)."""
    open_in_log: dict[str, int] = {}  # linkage -> approval serial, while approved and not ended
    relayed = set(desk.relays)
    last: dict[str, Outcome] = {}  # of the linkages whose answer is handed out
    provided: dict[str, set[int]] = {}  # … their provided entries
    for e in logs.held():
        if e.serial >= records_from and request_key(e.requester, e.request_id) not in desk.requests:
            raise _tampered(
                f"request of access entry {e.serial}", "the used request id has no record"
            )
        lid = e.linkage_id
        if lid is None:
            continue
        if lid in relayed:
            last[lid] = e.outcome
            if e.outcome is Outcome.PROVIDED:
                provided.setdefault(lid, set()).add(e.serial)
        if e.outcome is Outcome.APPROVED:
            open_in_log.setdefault(lid, e.serial)
        else:
            open_in_log.pop(lid, None)
    opened = {lid for lid, approved in open_in_log.items() if approved >= records_from}
    for lid in sorted(set(desk.linkages) - opened):
        raise _tampered(f"linkage {lid}", "the log shows it ended or never approved it")
    for lid in sorted(opened - set(desk.linkages)):
        raise _tampered(f"linkage {lid}", "approved in the log, neither ended nor in flight")
    for lid, relay in sorted(desk.relays.items()):  # handed out, not yet acknowledged
        _relayed(lid, relay.serial, last.get(lid), provided.get(lid, set()), desk)


def _digest(records: SealedRecords, logs: HubLogs, *, adopt: bool) -> bool:
    """The records as found at open against their sealed digest; False if there
    is none and the store is new, or adopted (the full pass is then made)."""
    digest = records.digest_at_open
    witnessed = records.witnessed_digest()
    if digest is None:
        empty = logs.access.size == logs.admin.size == 0
        if empty or adopt:
            if witnessed is not None:  # the digest written now goes on from the witness's
                records.generation = max(records.generation, witnessed.generation)
                records.floor = max(records.floor, witnessed.floor)
            return False
        raise _tampered(
            "state digest",
            "there is none, but the logs hold entries: it was deleted, or the store was "
            "written before it (an operator adopts such a store once, after checking it)",
        )
    sizes = (logs.access.size, logs.admin.size)
    if (digest.access, digest.admin) != sizes:
        raise _tampered(
            "state digest",
            f"written with logs of {digest.access} and {digest.admin} entries, the logs "
            f"hold {sizes[0]} and {sizes[1]}: the records are from an earlier copy",
        )
    if witnessed is not None and (
        digest.generation < witnessed.floor
        or (digest.generation == witnessed.generation and digest != witnessed)
    ):
        raise _tampered(
            "state digest",
            f"generation {digest.generation} is behind (or apart from) generation "
            f"{witnessed.floor} of the last step that must survive, which the witness "
            "holds: the state records were put back to an earlier copy, or their latest "
            "transactions were lost (RK-LOG-011)",
        )
    found = records.counted_at_open
    for space in sorted(set(found) | set(digest.spaces)):
        if found.get(space, (0, 0)) != digest.spaces.get(space, (0, 0)):
            raise _tampered(
                f"{space} records",
                "they differ from their sealed digest: a record deleted, added or put "
                "back from an earlier copy",
            )
    return True


def _in_flight(logs: HubLogs, desk: LinkageDesk) -> None:
    """Each linkage in flight has its approval as its last entry, each answer handed
    out its ``provided`` entry: the entry the record names, read by its serial, and
    none after it (the log's linkage index).  Nothing else of the log is read."""
    for lid, linkage in sorted(desk.linkages.items()):
        if not _last(logs, lid, linkage.serial, Outcome.APPROVED):
            raise _tampered(f"linkage {lid}", "the log shows it ended or never approved it")
    for lid, relay in sorted(desk.relays.items()):
        if lid in desk.linkages or not _last(logs, lid, relay.serial, Outcome.PROVIDED):
            raise _tampered(f"answer of linkage {lid}", "handed out, but not provided in the log")


def _last(logs: HubLogs, lid: str, serial: int, outcome: Outcome) -> bool:
    """Whether the entry at ``serial`` (checked as it is read) is ``lid``'s
    ``outcome`` and no later entry of ``lid`` is held."""
    e = logs.entry(serial) if 1 <= serial <= logs.size else None
    if not isinstance(e, AccessLogEntry) or e.linkage_id != lid or e.outcome is not outcome:
        return False
    return all(s <= serial for s in logs.linkage_serials(lid))


def _relayed(
    lid: str, serial: int, last: Outcome | None, provided: set[int], desk: LinkageDesk
) -> None:
    if last is not Outcome.PROVIDED or lid in desk.linkages:
        raise _tampered(f"answer of linkage {lid}", "handed out, but not provided in the log")
    if serial not in provided:
        raise _tampered(f"answer of linkage {lid}", "its provided entry is not in the log")


def _answers(desk: LinkageDesk) -> None:
    for lid, linkage in sorted(desk.linkages.items()):
        if (linkage.state is LinkageState.ANSWERED) != (lid in desk.transit):
            raise _tampered(f"answer of linkage {lid}", "answered without an answer in transit")
    for lid in sorted(set(desk.transit) - set(desk.linkages)):
        raise _tampered(f"answer of linkage {lid}", "an answer in transit of no linkage")


def _holds(logs: HubLogs, retention: RetentionDesk) -> None:
    placed: set[str] = set()
    for a in logs.admin_entries:
        hold_id = str(a.details.get("hold_id"))
        if a.event is AdminEvent.LEGAL_HOLD_PLACED:
            placed.add(hold_id)
        elif a.event is AdminEvent.LEGAL_HOLD_LIFTED:
            placed.discard(hold_id)
    for hold_id in sorted(placed - set(retention.holds)):
        raise _tampered(f"legal hold {hold_id}", "a hold placed and never lifted has no record")


def _patterns(logs: HubLogs, desk: PatternDesk) -> None:
    loads = [a for a in logs.admin_entries if a.event is AdminEvent.PATTERN_DOCUMENT_LOADED]
    if not loads:
        return
    logged = loads[-1].details
    held = desk.latest_document()
    digest = hashlib.sha256(base64.b64decode(held.document)).hexdigest() if held else None
    if (
        held is None
        or desk.version != logged.get("version")
        or digest != logged.get("document_sha256")
    ):
        raise _tampered(
            "pattern document",
            f"the table in force (version {desk.version}) is not the document the "
            f"administrative log last loaded (version {logged.get('version')})",
        )


def _keys(logs: HubLogs, rings: Iterable[KeyRing]) -> None:
    latest: dict[str, int] = {}
    for a in logs.admin_entries:
        if a.event is AdminEvent.KEY_ROTATED:
            latest[str(a.details.get("purpose"))] = int(str(a.details.get("version")))
    for ring in rings:
        logged = latest.get(ring.purpose.value)
        if logged is not None and ring.current < logged:
            raise _tampered(
                f"{ring.purpose.value} key ring",
                f"its current version {ring.current} is behind the rotation to version "
                f"{logged} the administrative log recorded",
            )
