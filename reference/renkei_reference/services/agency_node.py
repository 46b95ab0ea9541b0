"""The agency node (中間サーバー / 連携サーバー; seed items 15, 19, 24, 28–29).

What each agency runs between its business systems and the hub:

* it alone holds the agency's **correspondence table** (record number ↔ link
  code, RK-BND-007/008), its **share of the log** (⑦–⑫, RK-LOG-003,
  RK-AGN-002) and its credentials;
* every linkage action needs a **designated staff member at a designated
  terminal** (RK-AGN-001); refusals are recorded;
* it reaches the hub only through the wire protocol (``HubConnection``: any
  ``httpx.Client`` pointed at a hub — HTTPS with the agency's client
  certificate in production, the in-process transport in tests) and names
  persons to the hub only by link codes;
* it reaches the business system through an **adapter** (RK-AGN-004) and
  fetches answer content when it answers, keeping no copy of business data.
  Two adapters ship: ``SqlAdapter`` (any DB-API 2.0 driver) and
  ``CsvFolderAdapter`` (CSV files dropped into a folder).  Writing another is
  implementing ``BusinessSystem.fetch`` — see its docstring;
* it converts the legacy forms of the 4 items its business systems hold (和暦
  and ``YYYYMMDD`` dates, full-width digits, sex codes such as ``1``/``2`` or
  ``男``/``女``) to the wire's forms before binding, and a record it cannot
  convert becomes that record's own problem (``core.legacy_formats``, RK-AGN-007).

The rules are pure (``core.agency``); this class holds state and does I/O.
"""

from __future__ import annotations

import base64
import csv
import enum
import secrets
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol

import httpx

from ..core import legacy_formats
from ..core.admin_log import AdminEvent
from ..core.agency import (
    Action,
    AgencyLogEntry,
    CorrespondenceTable,
    Designation,
    Side,
    authorize,
    require,
)
from ..core.errors import CallerError, ConflictError, NotFoundError, RenkeiError
from .agency_log_store import AgencyLogStore
from .clock import Clock

__all__ = [
    "NO_INFORMATION",
    "AgencyNode",
    "Answer",
    "BusinessSystem",
    "CsvFolderAdapter",
    "DeliveryLoop",
    "Fault",
    "HubConnection",
    "HubRefusal",
    "SqlAdapter",
]

NO_INFORMATION = b'{"renkei":"no-information"}'
"""The answer when the agency holds nothing of the kind asked (RK-AGN-003: say so
rather than let the linkage expire)."""


GARBAGE_PAYLOAD = "<garbage: not base64>"
"""What a node under the ``garbage`` fault sends: the hub must refuse it (422)."""
LATE = frozenset({"answer-after-deadline"})


class Fault(enum.Enum):
    """Simulated provider faults (issue 5), switched at run time in test mode."""

    NONE = "none"
    DOWN = "down"  # neither pulls nor answers: the linkage expires at its deadline
    SLOW = "slow"  # pulls but holds its answers until the fault is cleared
    GARBAGE = "garbage"  # answers with a payload the hub must refuse


def _deadline(delivery: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(delivery["deadline"]))


# -- business systems (RK-AGN-004) ---------------------------------------------------
@dataclass(frozen=True)
class Answer:
    """What a business system returns: the payload sent to the requester and a
    description of it for the agency's log (⑪; never the payload itself)."""

    payload: bytes
    description: str


class BusinessSystem(Protocol):
    """A legacy business system behind the adapter layer.

    ``fetch`` returns the information of ``information_kind`` about the person
    the agency knows as ``record_no``, or ``None`` when it holds none.  It is
    called at answer time, so the node keeps no copy of business data.  It must
    not raise for a missing record; it may raise ``OSError`` or a DB-API error
    when the system is down (the node then leaves the delivery unanswered and
    reports it).
    """

    def fetch(self, record_no: str, information_kind: str) -> Answer | None: ...


class SqlAdapter:
    """A business database reached through any DB-API 2.0 driver (PEP 249).

    ``query`` selects the content (and optionally a description as a second
    column) with the placeholders ``{record_no}`` and ``{kind}``, rewritten into
    the driver's ``paramstyle``; e.g.
    ``SELECT amount, 'tax ' || year FROM tax WHERE person = {record_no} AND kind = {kind}``.
    """

    _STYLES: ClassVar[dict[str, tuple[str, str]]] = {
        "qmark": ("?", "?"),
        "named": (":record_no", ":kind"),
        "format": ("%s", "%s"),
        "pyformat": ("%(record_no)s", "%(kind)s"),
        "numeric": (":1", ":2"),
    }

    def __init__(self, connect: Callable[[], Any], query: str, paramstyle: str) -> None:
        if paramstyle not in self._STYLES:
            raise ValueError(f"unsupported DB-API paramstyle {paramstyle!r}")
        rec, kind = self._STYLES[paramstyle]
        self._connect = connect
        self._sql = query.replace("{record_no}", rec).replace("{kind}", kind)
        self._named = paramstyle in ("named", "pyformat")

    def fetch(self, record_no: str, information_kind: str) -> Answer | None:
        params: Any = (
            {"record_no": record_no, "kind": information_kind}
            if self._named
            else (record_no, information_kind)
        )
        conn = self._connect()
        try:
            cur = conn.cursor()
            cur.execute(self._sql, params)
            row = cur.fetchone()
        finally:
            conn.close()
        if row is None or row[0] is None:
            return None
        value = row[0]
        payload = value if isinstance(value, bytes) else str(value).encode()
        description = str(row[1]) if len(row) > 1 and row[1] is not None else information_kind
        return Answer(payload, description)


class CsvFolderAdapter:
    """Files dropped into a folder by a legacy system: ``<information_kind>.csv``,
    UTF-8 (a BOM is accepted), with the columns ``record_no``, ``content`` and
    optionally ``description``.  The last row for a record wins, so a system can
    append corrections.  Files are read at answer time, never cached.
    """

    def __init__(self, folder: Path) -> None:
        self._folder = Path(folder)

    def fetch(self, record_no: str, information_kind: str) -> Answer | None:
        if "/" in information_kind or information_kind.startswith("."):
            return None
        path = self._folder / f"{information_kind}.csv"
        if not path.is_file():
            return None
        found: dict[str, str] | None = None
        with path.open(encoding="utf-8-sig", newline="") as f:
            for row in csv.DictReader(f):
                if row.get("record_no") == record_no:
                    found = row
        if found is None or found.get("content") in (None, ""):
            return None
        return Answer(found["content"].encode(), found.get("description") or information_kind)


# -- legacy forms of the 4 items (item 29, RK-AGN-007) ------------------------------
_CONVERT = {"birth_date": legacy_formats.birth_date, "sex": legacy_formats.sex}


def _to_wire(record: dict[str, Any]) -> dict[str, Any]:
    """A business system's record as a wire ``BindingRecord``: legacy dates and
    sex codes in the wire's forms; or, when one cannot be converted, the record's
    own problem (RK-AGN-007, RK-BND-003), naming the item and why, never its value."""
    out: dict[str, Any] = {"record_ref": record["record_no"]}
    for key, value in record.items():
        if key == "record_no":
            continue
        convert = _CONVERT.get(key)
        if convert is None or not isinstance(value, str):
            out[key] = value
            continue
        done = convert(value)
        if done.value is None:
            return {"record_ref": record["record_no"], "problem": {
                "type": "urn:renkei:problem:malformed-binding-record",
                "title": "Malformed binding record",
                "status": 422,
                "detail": f"{key}: {done.problem} (the node cannot convert it, RK-AGN-007)",
                "requirement": "RK-BND-003",
            }}  # fmt: skip
        out[key] = done.value
    return out


# -- the hub, through the wire ----------------------------------------------------
class HubRefusal(RenkeiError):
    """The hub refused a request; its problem type, status and detail are kept."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        slug = str(body.get("type", "urn:renkei:problem:unknown")).rsplit(":", 1)[-1]
        super().__init__(
            slug,
            str(body.get("detail", "")),
            str(body.get("requirement") or "RK-WIRE-001"),
            {k: v for k, v in body.items() if k in ("serial", "receipt")},
        )
        self.http_status = status


class HubConnection:
    """The hub's wire protocol as the node uses it (RK-BND-007: link codes only)."""

    def __init__(self, client: httpx.Client, hub_url: str, token: str | None = None) -> None:
        self._client = client
        self._base = hub_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        resp = self._client.request(method, self._base + path, json=body, headers=self._headers)
        data = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            raise HubRefusal(resp.status_code, data if isinstance(data, dict) else {})
        return dict(data)


# -- the node -------------------------------------------------------------------------
@dataclass(frozen=True)
class Denial:
    """An attempt refused by the designation (RK-AGN-001: refused *and logged*)."""

    at: str
    staff_id: str
    terminal: str
    action: str
    reason: str


class AgencyNode:
    """One agency's node: table, designation, log, hub connection, business system."""

    def __init__(
        self,
        agency_id: str,
        hub: HubConnection,
        designation: Designation,
        system: BusinessSystem,
        clock: Clock,
        *,
        withheld_kinds: frozenset[str] = frozenset(),
        log_store: AgencyLogStore | None = None,
    ) -> None:
        self.agency_id = agency_id
        self._withheld_kinds = withheld_kinds  # exempt from disclosure by law
        self._hub = hub
        self._designation = designation
        self._system = system
        self._clock = clock
        self._lock = threading.RLock()
        self.table = CorrespondenceTable()
        # its share of the log, kept, retained and held (RK-AGN-005)
        self.log_store = log_store or AgencyLogStore(clock)
        self._queries: dict[str, dict[str, Any]] = {}  # linkage_id -> what was asked
        # application_id -> record, kept in the store across restarts (RK-PORT-004)
        self._applications: dict[str, dict[str, Any]] = {
            a["application_id"]: a for a in self.log_store.applications()
        }
        self._held: dict[str, dict[str, Any]] = {}  # linkage_id -> delivery, unanswered
        self._refusals: set[tuple[str, str]] = set()  # (linkage_id, problem) logged
        self.fault = Fault.NONE

    # -- designation ---------------------------------------------------------------
    def _guard(self, staff_id: str, terminal: str, action: Action) -> str:
        """RK-AGN-001: the operator (⑦/⑧) for the log, or a logged refusal."""
        reason = authorize(self._designation, staff_id, terminal, action)
        if reason is not None:  # kept in the node's store, served to the auditor
            self.log_store.deny(staff_id, terminal, action.value, reason)
        member = require(self._designation, staff_id, terminal, action)
        return f"{member.department} {member.name} ({member.staff_id})"

    @property
    def denials(self) -> list[Denial]:
        """Every refused attempt, oldest first (RK-AGN-001)."""
        return [
            Denial(d["at"], d["staff_id"], d["terminal"], d["action"], d["reason"])
            for d in self.log_store.denials()
        ]

    # -- binding (RK-BND-007, RK-BND-008, RK-AGN-007) --------------------------------
    def bind(
        self, staff_id: str, terminal: str, records: list[dict[str, str]]
    ) -> list[dict[str, Any]]:
        """Submit records (``record_no`` + the 4 items, as the business system holds
        them) for binding; enter what the hub binds into the table unless it
        collides; everything else is reviewed.  Legacy dates and sex codes are
        converted first (``core.legacy_formats``, RK-AGN-007); a record whose value
        cannot be converted is not sent and gets its own problem
        ``malformed-binding-record`` in its place, the others being sent."""
        self._guard(staff_id, terminal, Action.CHANGE_TABLE)
        converted = [_to_wire(r) for r in records]
        wire = [c for c in converted if "problem" not in c]
        sent = self._hub.call("POST", "/bindings", {"records": wire})["results"] if wire else []
        answers = iter(sent)
        results = [c if "problem" in c else next(answers) for c in converted]
        now = self._clock.now()
        with self._lock:
            for r in results:
                if r.get("decision") == "bound" and r.get("link_code"):
                    self.table = self.table.bind(r["record_ref"], r["link_code"], now)
                elif r.get("record_ref") is not None:  # a decision, or the record's problem
                    problem = str((r.get("problem") or {}).get("type", "")).rpartition(":")[2]
                    reasons = ",".join(r.get("reasons") or []) or r.get("decision") or problem
                    self.table = self.table.with_review(r["record_ref"], reasons)
        return list(results)

    def link_code(self, staff_id: str, terminal: str, record_no: str) -> str | None:
        self._guard(staff_id, terminal, Action.READ_TABLE)
        return self.table.link_code_of(record_no)

    # -- the linkage flow -------------------------------------------------------------
    def _entry(self, **fields: Any) -> AgencyLogEntry:
        return self.log_store.append(**fields)

    @property
    def log(self) -> list[AgencyLogEntry]:
        """The retained entries of the node's log, oldest first (RK-AGN-005)."""
        return self.log_store.entries()

    def query(
        self,
        staff_id: str,
        terminal: str,
        *,
        record_no: str,
        provider: str,
        pattern_id: str,
        information_kind: str,
        use: str,
    ) -> str:
        """Ask the hub about the person of ``record_no`` (RK-BND-007: by link code
        only); ⑦ ⑨ ⑫ go to the agency's log with the hub's serial ①."""
        operator = self._guard(staff_id, terminal, Action.QUERY)
        if not use.strip():
            raise CallerError("validation-error", "⑫ the use must be recorded", "RK-AGN-002")
        link = self.table.link_code_of(record_no)
        if link is None:
            raise NotFoundError(
                "record-not-bound", f"record {record_no!r} has no link code yet", "RK-BND-007"
            )
        request_id = f"{self.agency_id}-{secrets.token_hex(8)}"
        body = {
            "request_id": request_id,
            "requester": self.agency_id,
            "provider": provider,
            "pattern_id": pattern_id,
            "information_kind": information_kind,
            "link_code": link,
        }
        common = {
            "request_id": request_id,
            "side": Side.REQUESTER,
            "requester": self.agency_id,
            "provider": provider,
            "pattern_id": pattern_id,
            "information_kind": information_kind,
            "operator": operator,
            "terminal": terminal,
            "use": use,
        }
        try:
            accepted = self._hub.call("POST", "/queries", body)
        except HubRefusal as refusal:
            self._entry(
                hub_serial=refusal.extensions.get("serial"),
                linkage_id=None,
                outcome="refused",
                reason=refusal.problem,
                **common,
            )
            raise
        self._entry(
            hub_serial=accepted["serial"],
            linkage_id=accepted["linkage_id"],
            outcome="approved",
            **common,
        )
        with self._lock:
            self._queries[accepted["linkage_id"]] = common
        return str(accepted["linkage_id"])

    def answer_deliveries(self, staff_id: str, terminal: str) -> list[dict[str, Any]]:
        """Pull deliveries and answer each from the business system (RK-AGN-003);
        ⑧ ⑩ ⑪ go to the log.  A person the agency does not know, or a kind it
        holds nothing of, is answered as such, not left to expire.

        A delivery is held until the hub has taken its answer or ended it: an
        answer the hub refuses as malformed (422) is tried again on the next
        call, so nothing is lost while the deadline runs; an answer refused as
        late (409 ``answer-after-deadline``, or 404 once the hub forgot the
        expired linkage) is logged as expired and dropped, never relayed
        (RK-FLOW-004).  ``fault`` simulates a provider that is down (neither
        pulls nor answers), slow (pulls, holds its answers until the fault is
        cleared) or answers garbage (a payload the hub must refuse)."""
        operator = self._guard(staff_id, terminal, Action.ANSWER)
        if self.fault is Fault.DOWN:
            return []
        for d in self._hub.call("GET", "/deliveries")["deliveries"]:
            with self._lock:
                self._held[d["linkage_id"]] = d
        if self.fault is Fault.SLOW:
            return []
        with self._lock:
            held = list(self._held.values())
        return [self._answer_one(d, operator, terminal) for d in held]

    def _answer_one(self, d: dict[str, Any], operator: str, terminal: str) -> dict[str, Any]:
        record = self.table.record_of(d["link_code"])
        found = self._system.fetch(record, d["information_kind"]) if record else None
        payload = base64.b64encode(found.payload if found else NO_INFORMATION).decode()
        content = found.description if found else "該当情報なし (no information held)"
        if self.fault is Fault.GARBAGE:
            payload = GARBAGE_PAYLOAD
        lid = d["linkage_id"]
        entry = {
            "hub_serial": d.get("serial"),
            "linkage_id": lid,
            "request_id": None,
            "side": Side.PROVIDER,
            "requester": d["requester"],
            "provider": self.agency_id,
            "pattern_id": d["pattern_id"],
            "information_kind": d["information_kind"],
            "operator": operator,
            "terminal": terminal,
        }
        try:
            self._hub.call("POST", f"/linkages/{lid}/answer", {"payload": payload})
        except HubRefusal as refusal:
            late = refusal.problem in LATE or (
                refusal.http_status == 404 and self._clock.now() >= _deadline(d)
            )
            if late or refusal.http_status in (404, 409):  # ended at the hub: drop it
                with self._lock:
                    self._held.pop(lid, None)
                outcome = "expired" if late else "answer-refused"
                self._entry(outcome=outcome, reason=refusal.problem, **entry)
                return {"linkage_id": lid, "answered": False, "refused": refusal.problem}
            with self._lock:  # malformed or not now: kept, tried again next time
                first = (lid, refusal.problem) not in self._refusals
                self._refusals.add((lid, refusal.problem))
            if first:
                self._entry(outcome="answer-refused", reason=refusal.problem, **entry)
            return {"linkage_id": lid, "answered": False, "refused": refusal.problem}
        with self._lock:
            self._held.pop(lid, None)
        self._entry(outcome="answered", content=content, **entry)
        return {"linkage_id": lid, "answered": found is not None}

    def held(self) -> list[str]:
        """Linkage ids pulled and not yet answered (or ended) at the hub."""
        with self._lock:
            return list(self._held)

    def read_answer(self, staff_id: str, terminal: str, linkage_id: str) -> bytes | None:
        """The answer to one of this agency's queries, once it has arrived."""
        self._guard(staff_id, terminal, Action.READ_ANSWER)
        status = self._hub.call("GET", f"/linkages/{linkage_id}")
        answer = status.get("answer")
        if not answer:
            return None
        with self._lock:
            asked = self._queries.pop(linkage_id, None)
        if asked is not None:  # the requester's record of the provided entry
            self._entry(
                hub_serial=(status.get("receipt") or {}).get("serial"),
                linkage_id=linkage_id,
                outcome="received",
                **asked,
            )
        return base64.b64decode(answer["payload"])

    # -- the auditor (RK-AUD-001, RK-AGN-005) -----------------------------------------
    def auditor_entries(self, after: int = 0, limit: int = 1000) -> list[dict[str, object]]:
        return self.log_store.page(after, limit)

    # -- the person's application for ⑪ and ⑫ (item 26; RK-PORT-004) ---------------
    def apply(
        self,
        application_id: str,
        linkage_ids: list[str],
        items: set[str],
        *,
        applicant: str,
        channel: str = "portal",
    ) -> dict[str, Any]:
        """A person's separate application to this agency for ⑪ (content, provider
        side) and ⑫ (use, requester side) of the named linkages, brought by My
        Portal (``applicant``) on the person's behalf (``channel``: ``portal`` or
        ``counter``).  It waits, ``submitted``, for designated staff to decide
        (``decide``).  Idempotent per application; a linkage this agency holds no
        entry of is 404."""
        with self._lock:
            known = self._applications.get(application_id)
            if known is not None:
                return self._application_view(known)
            held = {e.linkage_id for e in self.log if e.outcome in ("approved", "answered")}
            unknown = [lid for lid in linkage_ids if lid not in held]
            if unknown:
                raise NotFoundError(
                    "unknown-linkage",
                    f"this agency holds no entry for linkage {unknown[0]!r}",
                    "RK-PORT-004",
                )
            record: dict[str, Any] = {
                "application_id": application_id,
                "linkage_ids": list(linkage_ids),
                "items": sorted(items),
                "channel": channel,
                "state": "submitted",
                "submitted_at": self._clock.now().isoformat(),
            }
            self._applications[application_id] = record
            self.log_store.save_application(record)
        self.log_store.record_admin(
            AdminEvent.DISCLOSURE_APPLICATION,
            applicant,
            application_id=application_id,
            linkages=len(linkage_ids),
            items=sorted(items),
            channel=channel,
        )
        return self._application_view(record)

    def applications(self, state: str | None = None) -> list[dict[str, Any]]:
        """The applications, oldest first (``state``: only those in it)."""
        with self._lock:
            return [
                self._application_view(a)
                for a in self._applications.values()
                if state is None or a["state"] == state
            ]

    def application(self, application_id: str) -> dict[str, Any]:
        """One application, with the released ⑪/⑫ once it is granted; 404 otherwise.
        After a restart what a grant released is read again from the retained log."""
        with self._lock:
            record = self._applications.get(application_id)
            if record is None:
                raise NotFoundError(
                    "not-found", f"no application {application_id!r} here", "RK-PORT-004"
                )
            if "entries" not in record and record["state"] in ("granted", "partially-granted"):
                record["entries"] = self._release(record["linkage_ids"], set(record["items"]))
            return self._application_view(record, released=True)

    def decide(
        self, staff_id: str, terminal: str, application_id: str, *, grant: bool
    ) -> dict[str, Any]:
        """Designated staff at a designated terminal grant or refuse an application
        (RK-AGN-001, Action ``decide-disclosure``); the decision is attributed to
        them (⑦-like: operator and terminal) and made once (409
        ``application-already-decided``).  A grant releases what the law allows:
        kinds exempt from disclosure are ``withheld``; all withheld is ``refused``."""
        operator = self._guard(staff_id, terminal, Action.DECIDE_DISCLOSURE)
        with self._lock:
            record = self._applications.get(application_id)
            if record is None:
                raise NotFoundError(
                    "not-found", f"no application {application_id!r} here", "RK-PORT-004"
                )
            if record["state"] != "submitted":
                raise ConflictError(
                    "application-already-decided",
                    f"application {application_id!r} was {record['state']}",
                    "RK-PORT-004",
                )
            entries = self._release(record["linkage_ids"], set(record["items"]))
            held = sum(x["withheld"] for x in entries)
            if not grant:
                state, entries = "refused", []
            elif held == len(entries):  # all exempt by law: refused, and said why
                state = "refused"
            else:
                state = "granted" if held == 0 else "partially-granted"
            record.update(
                state=state,
                entries=entries,
                decided_at=self._clock.now().isoformat(),
                decided_by=operator,
                decided_at_terminal=terminal,
            )
            self.log_store.save_application(record)
        self.log_store.record_admin(
            AdminEvent.DISCLOSURE_DECISION,
            operator,
            application_id=application_id,
            decision=state,
            terminal=terminal,
        )
        return self._application_view(record, released=True)

    def _release(self, linkage_ids: list[str], items: set[str]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        for e in self.log:
            if e.linkage_id not in linkage_ids or e.outcome not in ("approved", "answered"):
                continue
            withheld = e.information_kind in self._withheld_kinds
            out: dict[str, Any] = {"linkage_id": e.linkage_id, "side": e.side.value,
                                   "withheld": withheld}  # fmt: skip
            if not withheld:
                if e.side is Side.PROVIDER and "content" in items and e.content:
                    out["content"] = e.content
                if e.side is Side.REQUESTER and "use" in items and e.use:
                    out["use"] = e.use
            entries.append(out)
        return entries

    @staticmethod
    def _application_view(record: dict[str, Any], *, released: bool = False) -> dict[str, Any]:
        """OpenAPI ``AgencyDisclosureApplication``."""
        view = {k: v for k, v in record.items() if k != "entries"}
        if released and record.get("entries"):
            view["entries"] = list(record["entries"])
        return view

    def bring_current(
        self, staff_id: str, terminal: str, records: list[dict[str, str]]
    ) -> dict[str, dict[str, Any]]:
        """RK-BND-006: the latest 4 items of bound records (``record_no`` + the 4
        items the agency holds), through the hub by link code only, before the
        agency re-binds them or picks a provider by the person's address.
        Returns ``{record_no: {"status", "four_items"?}}``; a record without a
        link code is ``not-bound`` (the hub is not asked)."""
        self._guard(staff_id, terminal, Action.READ_TABLE)
        out: dict[str, dict[str, Any]] = {}
        wire = []
        for r in records:
            link = self.table.link_code_of(r["record_no"])
            if link is None:
                out[r["record_no"]] = {"status": "not-bound"}
                continue
            items = {k: v for k, v in r.items() if k != "record_no"}
            wire.append({"record_ref": r["record_no"], "link_code": link, "four_items": items})
        if wire:
            for res in self._hub.call("POST", "/latest-four-items", {"records": wire})["results"]:
                out[res["record_ref"]] = {k: v for k, v in res.items() if k != "record_ref"}
        return out

    def records_for_review(self) -> Iterable[dict[str, str | None]]:
        return [
            {"record_no": r.record_no, "reason": r.reason, "other_record_no": r.other_record_no}
            for r in self.table.review
        ]


# -- the runtime: answering within the deadline (RK-AGN-003) ------------------------
class DeliveryLoop:
    """Pulls the node's deliveries every ``interval`` seconds and answers them,
    as the node's designated service account (``staff_id`` at ``terminal``,
    which the log attributes the answers to, RK-AGN-002).

    ``interval`` must be well under the shortest answer period of the node's
    patterns (RK-AGN-003).  While the hub refuses the node (not registered, e.g.
    after a reset in test mode) or cannot be reached, it backs off up to
    ``max_backoff`` seconds and reports each change of condition once.
    """

    def __init__(
        self,
        node: AgencyNode,
        staff_id: str,
        terminal: str,
        *,
        interval: float = 0.5,
        max_backoff: float = 5.0,
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.node = node
        self._who = (staff_id, terminal)
        self._interval = interval
        self._max_backoff = max(max_backoff, interval)
        self._report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._condition = "ok"

    def run_once(self) -> float:
        """One round; returns the seconds to wait before the next."""
        try:
            self.node.answer_deliveries(*self._who)
        except HubRefusal as refusal:
            return self._trouble(f"the hub refuses the node: {refusal.problem}")
        except (httpx.HTTPError, OSError) as exc:
            return self._trouble(f"the hub is unreachable: {type(exc).__name__}")
        except Exception as exc:  # a business system failing: keep answering the rest later
            return self._trouble(f"answering failed: {type(exc).__name__}: {exc}")
        if self._condition != "ok":
            self._report(f"{self.node.agency_id}: answering again")
            self._condition = "ok"
        return self._interval

    def _trouble(self, condition: str) -> float:
        if condition != self._condition:
            self._report(f"{self.node.agency_id}: {condition}")
            self._condition = condition
        return self._max_backoff

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.run_once())

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"delivery-loop {self.node.agency_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
