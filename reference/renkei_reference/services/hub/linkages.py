"""The linkage desk: query, delivery, answer, relay and expiry (items 18, 20–22, 28).

Durable by construction (RK-FLOW-003, RK-FLOW-004, RK-LOG-001).  Everything a
crash must not lose lives in the durable store and changes in the same
transaction as the access-log entry that records it (``LogStore.atomic``):

* ``request`` — each (requester, request_id) ever used, refused queries
  included, so a request id is refused again after any restart: kept as a
  SHA-256 digest (``request_key``), so that no request id outlives the
  purge of the entries that name it (RK-RET-003);
* ``linkage`` — each linkage in flight with its state (pending, delivered,
  answered);
* ``transit`` — the answer of an answered linkage until the requester first
  reads it or the linkage expires;
* ``relay`` — an answer handed out to its requester (its ``provided`` entry
  logged) until the requester acknowledges it or the collection period ends
  (RK-FLOW-002, RK-FLOW-007): every read by the requester until then gets the
  same answer and receipt, so a response lost in a crash of either side is
  read again, never lost;
* ``expired`` — the latest ``EXPIRED_KEPT`` linkages that expired unanswered,
  so a late answer is told so (409 ``answer-after-deadline``).

The web layer answers only once the changes are committed (group commit,
services.log_store), so every acknowledged step survives a crash; ``provided``
is logged once, at the first hand-out.  At start the desk resumes from the
store and expires whatever is overdue.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ...core.access_log import AccessLogEntry, Outcome
from ...core.codes import AgencyId, IdCode
from ...core.errors import ConflictError, NotFoundError, PermissionDeniedError, RenkeiError
from ...core.instant import Instant, instant_of, iso_of, iso_text
from ...core.linkage import (
    Event,
    Linkage,
    LinkageState,
    advance,
    deadline_after,
    linkage_from_record,
    linkage_record,
)
from ...core.log_integrity import LogTamperedError
from ...core.patterns import Query, decide
from ..store.log_store import RecordMap, SealedRecords
from ..store.transit_vault import TransitVault
from .agencies import Agency, Role
from .codes import CodeDesk
from .logs import AccessFacts, HubLogs
from .patterns import PatternDesk

__all__ = ["EXPIRED_KEPT", "Delivery", "LinkageDesk", "QueryIn", "request_key"]

EXPIRED_KEPT = 100_000
LINKAGE, TRANSIT, REQUEST, EXPIRED = "linkage", "transit", "request", "expired"
RELAY = "relay"


def request_key(requester: str, request_id: str) -> str:
    """The stored key of a used request id: a digest, never the id itself."""
    return hashlib.sha256(f"{requester}\x1f{request_id}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class QueryIn:
    """A query as the HTTP edge validated it (OpenAPI ``QueryRequest``)."""

    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    request_id: str
    link_code: str


@dataclass(frozen=True, slots=True)
class Delivery:
    """A linkage handed to its provider (OpenAPI ``Delivery``, RK-FLOW-005): the
    requester's link code is never in it; the provider's is made at delivery."""

    linkage_id: str
    requester: str
    pattern_id: str
    information_kind: str
    link_code: str  # the provider's link code for the person, made now
    deadline: Instant
    serial: int


@dataclass(frozen=True, slots=True)
class Relay:
    """An answer handed out to its requester and not yet acknowledged (RK-FLOW-002)."""

    linkage: Linkage  # closed
    payload: str  # as stored: sealed when the hub has a transit vault
    serial: int  # its ``provided`` entry
    expires_at: Instant  # the end of the collection period (RK-FLOW-007)

    def record(self) -> str:
        """The stored form (sealed by the records, like every other)."""
        return json.dumps(
            {
                "linkage": linkage_record(self.linkage),
                "payload": self.payload,
                "serial": self.serial,
                "expires_at": iso_text(self.expires_at),
            }
        )

    @classmethod
    def from_record(cls, text: str) -> Relay:
        d = json.loads(text)
        return cls(
            linkage_from_record(d["linkage"]),
            d["payload"],
            int(d["serial"]),
            instant_of(datetime.fromisoformat(d["expires_at"])),
        )


class LinkageDesk:
    """Linkages in flight, their answers in transit, the request ids used."""

    def __init__(
        self,
        logs: HubLogs,
        codes: CodeDesk,
        patterns: PatternDesk,
        records: SealedRecords,
        refuse_withdrawn: Callable[[str, bytes], None],
        *,
        vault: TransitVault | None = None,
    ) -> None:
        self._logs = logs
        self._codes = codes
        self._patterns = patterns
        self._records = records
        self._store = records.store  # its transactions and commits
        self._refuse_withdrawn = refuse_withdrawn  # RK-BND-004: a private body's person
        self._vault = vault  # answers at rest sealed, erased by their key (RK-FLOW-002)
        self.linkages = {k: linkage_from_record(v) for k, v in records.items(LINKAGE)}
        self.transit = dict(records.items(TRANSIT))
        self.requests = RecordMap(records, REQUEST)  # request_key -> linkage, read when asked
        expired = sorted((json.loads(v)["at"], k, json.loads(v)["provider"])
                         for k, v in records.items(EXPIRED))  # fmt: skip
        self.expired = {lid: provider for _, lid, provider in expired}
        self.relays = {k: Relay.from_record(v) for k, v in records.items(RELAY)}
        if vault is not None:  # keys of answers erased before a crash are overwritten
            vault.keep_only(
                [*self.transit.items(), *((k, r.payload) for k, r in self.relays.items())]
            )
        self._next_relay_expiry = min((r.expires_at for r in self.relays.values()), default=None)
        self._next_expiry: Instant | None = min(
            (x.expires_at for x in self.linkages.values()), default=None
        )

    # -- durable changes -------------------------------------------------------
    def _put(self, linkage: Linkage) -> None:
        self.linkages[linkage.linkage_id] = linkage
        self._records.put(LINKAGE, linkage.linkage_id, linkage_record(linkage))

    def _drop(self, linkage_id: str) -> str | None:
        """The linkage leaves the desk, and its answer in transit the ``transit``
        records; returns the answer's stored form, if any."""
        del self.linkages[linkage_id]
        self._records.put(LINKAGE, linkage_id, None)
        stored = self.transit.pop(linkage_id, None)
        if stored is not None:
            self._records.put(TRANSIT, linkage_id, None)
        return stored

    def _sealed(self, linkage_id: str, payload: str) -> str:
        return payload if self._vault is None else self._vault.seal(linkage_id, payload)

    def _opened(self, linkage_id: str, stored: str) -> str:
        return stored if self._vault is None else self._vault.open(linkage_id, stored)

    def _erased(self, linkage_id: str, stored: str) -> None:
        if self._vault is not None:
            self._vault.retire(linkage_id, stored)

    def _use_request(self, requester: str, request_id: str, linkage_id: str) -> None:
        key = request_key(requester, request_id)
        self.requests[key] = linkage_id
        self._records.put(REQUEST, key, linkage_id)

    def _log(self, linkage: Linkage, at: datetime, outcome: Outcome, reason: str | None = None,
             detail: str | None = None) -> AccessLogEntry:  # fmt: skip
        facts = AccessFacts(linkage.requester, linkage.provider, linkage.pattern_id,
                            linkage.information_kind, linkage.request_id)  # fmt: skip
        return self._logs.log_access(
            facts,
            at=at,
            outcome=outcome,
            pattern=self._patterns.table.get(linkage.pattern_id),
            pattern_version=self._patterns.version,
            reason=reason,
            detail=detail,
            linkage_id=linkage.linkage_id,
            person=linkage.person.raw,
        )

    def known_serials(self, linkage_id: str) -> tuple[int, ...]:
        """The access entries the state records name for ``linkage_id``: its
        approval while in flight, its ``provided`` entry while its answer is
        handed out (read whatever the log's index says, RK-LOG-010)."""
        linkage, relay = self.linkages.get(linkage_id), self.relays.get(linkage_id)
        return tuple(x.serial for x in (linkage, relay) if x is not None and x.serial > 0)

    # -- the flow --------------------------------------------------------------
    def query(self, caller: Agency, q: QueryIn, now: datetime) -> Linkage:
        """Step ② of item 21: approve (RK-PAT-001), then link(A) → ID (RK-FLOW-001)."""
        key = request_key(caller.agency_id, q.request_id)
        if key in self.requests:  # a retry, e.g. after a 503 whose query was recorded
            earlier = self.requests[key]
            made = f"linkage {earlier}" if earlier else "no linkage (it was refused)"
            raise ConflictError(
                "duplicate-request-id",
                f"request_id {q.request_id!r} was already used by this requester: "
                f"its query made {made}",
                "RK-FLOW-003",
            )
        used = self._logs.request_serial(caller.agency_id, q.request_id)
        if used is not None:  # a used request id whose record is gone (RK-LOG-010)
            error = LogTamperedError(
                log="state",
                where=f"request of access entry {used}",
                field="record",
                why="the used request id has no record",
            )
            report = self._logs.access.on_tamper
            if report is not None:
                report(error)
            raise error
        facts = AccessFacts(caller.agency_id, AgencyId(q.provider).value, q.pattern_id,
                            q.information_kind, q.request_id)  # fmt: skip
        pattern = self._patterns.table.get(q.pattern_id)
        version = self._patterns.version
        made = ""  # the linkage the request id made: none unless approved (RK-FLOW-003)
        with self._store.atomic():
            try:
                decision = decide(
                    self._patterns.table,
                    Query(caller.agency_id, AgencyId(q.requester).value, facts.provider,
                          q.pattern_id, q.information_kind, now),
                )  # fmt: skip
                if not decision.approved or decision.pattern is None:
                    reason = decision.reason.value if decision.reason else "refused"
                    entry = self._logs.log_access(
                        facts, at=now, outcome=Outcome.REFUSED, pattern=pattern,
                        pattern_version=version, reason=reason, detail=decision.detail,
                    )  # fmt: skip
                    raise PermissionDeniedError(
                        reason, decision.detail, "RK-PAT-002", self._refusal_extensions(entry)
                    )
                try:
                    id_code = self._codes.link_in(q.link_code, caller.unit, now)
                    if caller.role is Role.PRIVATE_BODY:  # RK-BND-004: consent withdrawn
                        self._refuse_withdrawn(caller.agency_id, id_code.raw)
                except RenkeiError as exc:
                    entry = self._logs.log_access(
                        facts, at=now, outcome=Outcome.REFUSED, pattern=pattern,
                        pattern_version=version, reason=exc.problem, detail=exc.detail,
                    )  # fmt: skip
                    exc.extensions.update(self._refusal_extensions(entry))
                    raise
                linkage_id = secrets.token_hex(16)
                entry = self._logs.log_access(
                    facts, at=now, outcome=Outcome.APPROVED, pattern=pattern,
                    pattern_version=version, linkage_id=linkage_id, person=id_code.raw,
                    detail=decision.detail,
                )  # fmt: skip
                linkage = Linkage(
                    linkage_id=linkage_id,
                    request_id=q.request_id,
                    requester=caller.agency_id,
                    provider=facts.provider,
                    pattern_id=q.pattern_id,
                    information_kind=q.information_kind,
                    person=id_code,
                    requested_at=(at := instant_of(now)),
                    deadline=deadline_after(at, decision.pattern.answer_within_seconds),
                    serial=entry.serial,
                )
                self._put(linkage)
                made = linkage_id
            finally:  # refused or not, the request id is used: one record of it
                self._use_request(caller.agency_id, q.request_id, made)
        if self._next_expiry is None or linkage.deadline < self._next_expiry:
            self._next_expiry = linkage.deadline
        return linkage

    def _refusal_extensions(self, entry: AccessLogEntry) -> dict[str, object]:
        """RFC 9457 extension members of a refusal: its serial and receipt (RK-LOG-004/005)."""
        return {"serial": entry.serial, "receipt": self._logs.receipt_for(entry.serial)}

    def deliveries(self, provider: Agency, limit: int, now: datetime) -> list[Delivery]:
        """Pull delivery (RK-FLOW-005): each pending linkage once, oldest first, at
        most ``limit``; link code(B) made now."""
        out: list[Delivery] = []
        with self._store.atomic():
            for linkage in list(self.linkages.values()):
                if len(out) >= limit:
                    break
                if linkage.provider != provider.agency_id or (
                    linkage.state is not LinkageState.PENDING
                ):
                    continue
                self._put(advance(linkage, Event.PULL, instant_of(now)))
                out.append(
                    Delivery(
                        linkage_id=linkage.linkage_id,
                        requester=linkage.requester,
                        pattern_id=linkage.pattern_id,
                        information_kind=linkage.information_kind,
                        link_code=self._codes.link_out(linkage.person, provider.unit).text(),
                        deadline=linkage.deadline,
                        serial=linkage.serial,
                    )
                )
        return out

    def open_linkage(self, linkage_id: str, party: str, role: str) -> Linkage:
        linkage = self.linkages.get(linkage_id)
        owner = None
        if linkage is not None:
            owner = linkage.provider if role == "provider" else linkage.requester
        if linkage is None or owner != party:
            raise NotFoundError(
                "unknown-linkage",
                f"no open linkage {linkage_id!r} for which you are the {role}",
                "RK-FLOW-003",
            )
        return linkage

    def answer(self, provider: Agency, linkage_id: str, payload: str, now: datetime) -> Linkage:
        """Step ③ of item 22: the answer is held in transit only, until relayed."""
        if self.expired.get(linkage_id) == provider.agency_id:
            raise ConflictError(
                "answer-after-deadline",
                f"linkage {linkage_id!r} expired at its deadline; the answer is discarded",
                "RK-FLOW-004",
            )
        linkage = self.open_linkage(linkage_id, provider.agency_id, "provider")
        try:
            nxt = advance(linkage, Event.ANSWER, instant_of(now))
        except RenkeiError as exc:
            if exc.problem == "answer-after-deadline":
                self._expire(linkage, now)
            raise
        stored = self._sealed(linkage_id, payload)
        with self._store.atomic():
            self._put(nxt)
            self.transit[linkage_id] = stored
            self._records.put(TRANSIT, linkage_id, stored)
        return nxt

    def status(
        self, requester: Agency, linkage_id: str, now: datetime
    ) -> tuple[Linkage, str | None, int | None]:
        """The requester's view.  An answered linkage hands its answer out with the
        serial of its ``provided`` entry (whose receipt goes with it), logged at the
        first read; every later read gets the same until ``acknowledge``
        (RK-FLOW-002, RK-LOG-004)."""
        relay = self.relays.get(linkage_id)
        if relay is not None and relay.linkage.requester == requester.agency_id:
            payload = self._opened(linkage_id, relay.payload)
            return relay.linkage, payload, relay.serial
        linkage = self.open_linkage(linkage_id, requester.agency_id, "requester")
        if linkage.state is not LinkageState.ANSWERED:
            return linkage, None, None
        closed = advance(linkage, Event.RELAY, instant_of(now))
        with self._store.atomic():
            entry = self._log(linkage, now, Outcome.PROVIDED)
            stored = self._drop(linkage_id)
            assert stored is not None
            relay = Relay(closed, stored, entry.serial, linkage.expires_at)
            self.relays[linkage_id] = relay
            self._records.put(RELAY, linkage_id, relay.record())
        payload = self._opened(linkage_id, stored)
        if self._next_relay_expiry is None or relay.expires_at < self._next_relay_expiry:
            self._next_relay_expiry = relay.expires_at
        return closed, payload, entry.serial

    def acknowledge(self, requester: Agency, linkage_id: str) -> None:
        """The requester has the answer: it is erased (RK-FLOW-002)."""
        relay = self.relays.get(linkage_id)
        if relay is None or relay.linkage.requester != requester.agency_id:
            raise NotFoundError(
                "unknown-linkage",
                f"no answer of linkage {linkage_id!r} handed out to you is in transit "
                "(not read yet, already acknowledged or erased)",
                "RK-FLOW-002",
            )
        self._erase_relay(linkage_id)

    def _erase_relay(self, linkage_id: str) -> None:
        relay = self.relays.pop(linkage_id)
        self._records.put(RELAY, linkage_id, None)
        self._erased(linkage_id, relay.payload)

    def may_expire(self, now: datetime) -> bool:
        """Whether ``expire_due`` may find anything: a linkage or a relayed answer
        whose earliest possible time has come."""
        at = instant_of(now)
        return (self._next_relay_expiry is not None and at >= self._next_relay_expiry) or (
            self._next_expiry is not None and at >= self._next_expiry
        )

    def expire_due(self, now: datetime) -> None:
        """Expire linkages past their time.  The open linkages are scanned only once
        the earliest time any of them could expire has come (``_next_expiry`` is a
        lower bound: answering only moves a linkage's time later)."""
        at = instant_of(now)
        if self._next_relay_expiry is not None and at >= self._next_relay_expiry:
            for lid in [k for k, r in self.relays.items() if at >= r.expires_at]:
                with self._store.atomic():  # never acknowledged: erased, no entry (RK-FLOW-007)
                    self._erase_relay(lid)
            self._next_relay_expiry = min(
                (r.expires_at for r in self.relays.values()), default=None
            )
        if self._next_expiry is None or at < self._next_expiry:
            return
        for linkage in list(self.linkages.values()):
            if at >= linkage.expires_at:
                self._expire(linkage, now)
        self._next_expiry = min((x.expires_at for x in self.linkages.values()), default=None)

    def _expire(self, linkage: Linkage, now: datetime) -> None:
        """Deadline passed (RK-FLOW-004), or an answer was not collected in time
        (RK-FLOW-007): the linkage ends, any answer in transit is erased."""
        advance(linkage, Event.EXPIRE, instant_of(now))
        with self._store.atomic():
            stored = self._drop(linkage.linkage_id)
            collected_late = stored is not None
            if stored is not None:
                self._erased(linkage.linkage_id, stored)
            reason = "not-collected" if collected_late else "deadline-passed"
            if not collected_late:
                self._remember_expired(linkage, now)
            # ② is when the hub ended it (after a restart, later than the deadline)
            due = f"due at {iso_of(linkage.expires_at)}"
            self._log(linkage, now, Outcome.EXPIRED, reason, detail=due)

    def _remember_expired(self, linkage: Linkage, now: datetime) -> None:
        self.expired[linkage.linkage_id] = linkage.provider
        value = json.dumps({"at": now.isoformat(), "provider": linkage.provider})
        self._records.put(EXPIRED, linkage.linkage_id, value)
        if len(self.expired) > EXPIRED_KEPT:
            oldest = next(iter(self.expired))
            del self.expired[oldest]
            self._records.put(EXPIRED, oldest, None)

    def rekey_persons(self, move: Callable[[bytes], bytes]) -> None:
        """Re-make the in-flight linkages' ID codes after an ID-key rotation."""
        for linkage in list(self.linkages.values()):
            moved = move(linkage.person.raw)
            if moved != linkage.person.raw:
                self._put(replace(linkage, person=IdCode(moved)))

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """What the desk holds (RK-CTL-006)."""
        return {
            "hub.expired_linkages": [
                {"linkage_id": lid, "provider": provider} for lid, provider in self.expired.items()
            ],
            "hub.linkages": [
                {
                    "linkage_id": x.linkage_id,
                    "request_id": x.request_id,
                    "requester": x.requester,
                    "provider": x.provider,
                    "pattern_id": x.pattern_id,
                    "information_kind": x.information_kind,
                    "person": x.person.hex(),
                    "requested_at": iso_of(x.requested_at),
                    "deadline": iso_of(x.deadline),
                    "state": x.state.value,
                }
                for x in self.linkages.values()
            ],
            "hub.in_transit": [
                *(
                    {"linkage_id": k, "payload": self._opened(k, v)}
                    for k, v in self.transit.items()
                ),
                *(
                    {"linkage_id": k, "payload": self._opened(k, r.payload)}
                    for k, r in self.relays.items()
                ),
            ],
            "hub.requests": [
                {"request_key": k, "linkage_id": lid} for k, lid in self.requests.items()
            ],
        }
