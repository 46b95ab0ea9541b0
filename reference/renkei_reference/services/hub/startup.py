"""What the hub checks at start, before it serves anything (RK-LOG-010, RK-FLOW-008).

The logs are checked row by row as they are read (services.store.log_integrity) and
each state record's seal as it is read (core.record_seal).  A seal cannot
tell a record that was deleted, or put back from an earlier copy, so the state
whose loss or rollback would matter is held against the checked logs here:

* every used request id of a held entry has its record (else it could be
  replayed, RK-FLOW-003) — each looked up in the store, not held;
* every hold placed and not lifted in the administrative log has its record
  (else purging would ignore it, RK-RET-002);
* the linkages in flight are exactly the approved linkages whose last entry is
  their approval (a stale record would relay an answer twice, a deleted one
  would never end, RK-FLOW-002/004), and a linkage is answered exactly when
  its answer is in transit; an answer handed out and not yet acknowledged
  belongs to a linkage whose last entry is the ``provided`` entry it names;
* the pattern table in force is the document the administrative log last
  recorded loading (no rollback, RK-PAT-003), and no key ring is behind the
  last rotation the administrative log recorded (RK-KEY-002).

The held entries are read once, streamed (each checked as it is read), holding
only the linkages open at the point reached: the checks take time in the
log's size, not memory.  Any mismatch is a ``LogTamperedError``: the hub does not start.  A store
written before the sealed records is adopted once (``adopt_legacy_state``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable

from ...core.access_log import Outcome
from ...core.admin_log import AdminEvent
from ...core.keys import KeyRing
from ...core.linkage import LinkageState
from ...core.log_integrity import LogTamperedError
from ..store.log_store import LogStore, SealedRecords
from .linkages import LinkageDesk, request_key
from .logs import HubLogs
from .patterns import PatternDesk
from .retention import RetentionDesk

__all__ = ["adopt_legacy_state", "check_state_against_logs"]

CONTROL, RECORDS_FROM = "control", "records-from"


def _tampered(where: str, why: str) -> LogTamperedError:
    return LogTamperedError(log="state", where=where, field="record", why=why)


def adopt_legacy_state(records: SealedRecords, store: LogStore, logs: HubLogs) -> int:
    """The serial from which every entry's state has a record.

    A store written before the sealed records kept holds, retention periods and
    consents in its plain ``state`` table and used request ids nowhere but in
    the log: at its first start under this code they are adopted once into the
    sealed records (the request ids from the checked log), and the serial from
    which records are kept is itself recorded."""
    marker = dict(records.items(CONTROL)).get(RECORDS_FROM)
    if marker is not None:
        return int(marker)
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
    records_from: int,
) -> None:
    """See the module docstring; raises ``LogTamperedError`` on the first mismatch."""
    _requests_and_linkages(logs, linkages, records_from)
    _holds(logs, retention)
    _patterns(logs, patterns)
    _keys(logs, rings)


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
    for lid, linkage in sorted(desk.linkages.items()):
        if (linkage.state is LinkageState.ANSWERED) != (lid in desk.transit):
            raise _tampered(f"answer of linkage {lid}", "answered without an answer in transit")
    for lid in sorted(set(desk.transit) - set(desk.linkages)):
        raise _tampered(f"answer of linkage {lid}", "an answer in transit of no linkage")
    for lid, relay in sorted(desk.relays.items()):  # handed out, not yet acknowledged
        if last.get(lid) is not Outcome.PROVIDED or lid in desk.linkages:
            raise _tampered(f"answer of linkage {lid}", "handed out, but not provided in the log")
        if relay.serial not in provided.get(lid, ()):
            raise _tampered(f"answer of linkage {lid}", "its provided entry is not in the log")


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
