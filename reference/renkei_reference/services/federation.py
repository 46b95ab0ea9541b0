"""The reference federation: numbering authority, resident registry and hub.

One object per party, each holding only what the spec lets it hold (items 6,
8, 9, 24): the numbering authority holds the conversion table and no key; the
registry holds residents and their 4 items; the hub holds keys, ID codes, the
pattern table, open linkages and its access log — never a Number, never a
stored link code (RK-LNK-003), never a payload beyond transit (RK-FLOW-002).

This is the skeleton's in-memory store; durable storage arrives behind the
same methods.  Every public method is one atomic step under the party's lock.
"""

from __future__ import annotations

import secrets
import threading
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ..core.access_log import AccessLogEntry, Outcome, auditor_view
from ..core.codes import (
    AgencyId,
    IdCode,
    IndividualNumber,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
)
from ..core.crypto import AesSivCipher, CodeCipher
from ..core.errors import (
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RenkeiError,
    UnauthenticatedError,
)
from ..core.linkage import Event, Linkage, LinkageState, advance
from ..core.numbering import NUMBER_SPACE, issue_number
from ..core.patterns import LinkagePattern, Query, decide
from .clock import Clock

__all__ = ["Agency", "Federation", "FourItems", "Hub", "NumberingAuthority", "ResidentRegistry"]

AUDITOR_UNIT = AgencyId("renkei.auditor")


_PLACEHOLDERS = frozenset("\u25cf\u3013\ufffd")


def _norm(text: str) -> str:
    """Width and space normalisation for exact matching (NFKC, collapsed spaces)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True, slots=True)
class FourItems:
    """４情報: name, address, date of birth, sex (as held by the registry)."""

    name: str
    address: str
    birth_date: str
    sex: str
    name_kana: str | None = None

    def key(self) -> tuple[str, str, str, str]:
        return (_norm(self.name), _norm(self.address), self.birth_date, self.sex)

    def has_placeholder(self) -> bool:
        """● 〓 U+FFFD or a private-use character: a character lost (RK-BND-005)."""
        return any(
            ch in _PLACEHOLDERS or unicodedata.category(ch) == "Co"
            for ch in self.name + self.address + (self.name_kana or "")
        )


@dataclass(frozen=True, slots=True)
class Agency:
    agency_id: str
    name: str
    role: str  # agency | municipality | auditor


class ResidentRegistry:
    """住基ネット simulator: residents with their latest 4 items (items 14, 20)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, FourItems] = {}
        self._by_items: dict[tuple[str, str, str, str], set[str]] = {}
        self._by_three: dict[tuple[int, tuple[str, ...]], set[str]] = {}

    def load(self, residents: Iterable[tuple[ResidentCode, FourItems]]) -> int:
        count = 0
        with self._lock:
            for code, items in residents:
                self._put(code.value, items)
                count += 1
        return count

    def _put(self, code: str, items: FourItems) -> None:
        key = items.key()
        self._latest[code] = items
        self._by_items.setdefault(key, set()).add(code)
        for drop in range(4):
            self._by_three.setdefault((drop, key[:drop] + key[drop + 1 :]), set()).add(code)

    def latest(self, code: ResidentCode) -> FourItems:
        with self._lock:
            items = self._latest.get(code.value)
        if items is None:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-BND-001")
        return items

    def match(self, items: FourItems) -> tuple[list[str], list[str]]:
        """Exact 4-item matches and 3-item (partial) matches against the latest items."""
        key = items.key()
        with self._lock:
            exact = sorted(self._by_items.get(key, ()))
            partial: set[str] = set()
            for drop in range(4):
                partial |= self._by_three.get((drop, key[:drop] + key[drop + 1 :]), set())
        return exact, sorted(partial - set(exact))

    def dump(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"resident_code": c, **asdict(i)} for c, i in sorted(self._latest.items())]


class NumberingAuthority:
    """付番機関: the random code conversion table, held here alone (items 8, 10, 11)."""

    def __init__(self, draw: Callable[[], int] | None = None) -> None:
        self._lock = threading.Lock()
        self._draw = draw or (lambda: secrets.randbelow(NUMBER_SPACE))
        self._current: dict[str, str] = {}
        self._ever: set[str] = set()

    def issue(self, resident: ResidentCode) -> IndividualNumber:
        with self._lock:
            if resident.value in self._current:
                raise ConflictError(
                    "number-already-issued",
                    "this resident code already has a current Number",
                    "RK-NUM-005",
                )
            number = issue_number(self._draw, self._ever.__contains__)
            self._current[resident.value] = number.value
            self._ever.add(number.value)
            return number

    def lookup(self, resident: ResidentCode) -> IndividualNumber:
        with self._lock:
            value = self._current.get(resident.value)
        if value is None:
            raise NotFoundError("not-found", "no Number issued for this resident code")
        return IndividualNumber(value)

    def dump(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{"resident_code": c, "number": n} for c, n in sorted(self._current.items())]


@dataclass
class _HubStores:
    linkages: dict[str, Linkage] = field(default_factory=dict)
    in_transit: dict[str, str] = field(default_factory=dict)  # linkage_id -> payload (b64)
    requests: dict[tuple[str, str], str] = field(default_factory=dict)
    access_log: list[AccessLogEntry] = field(default_factory=list)


class Hub:
    """情報連携基盤: approval, code conversion, relay and the hub's access log."""

    def __init__(
        self,
        registry: ResidentRegistry,
        id_cipher: CodeCipher,
        link_cipher: CodeCipher,
        clock: Clock,
    ) -> None:
        self._lock = threading.RLock()
        self._registry = registry
        self._id = id_cipher
        self._link = link_cipher
        self._clock = clock
        self.agencies: dict[str, Agency] = {}
        self.patterns: dict[str, LinkagePattern] = {}
        self._s = _HubStores()

    # -- configuration -----------------------------------------------------
    def register_agency(self, agency: Agency) -> None:
        AgencyId(agency.agency_id)
        with self._lock:
            self.agencies[agency.agency_id] = agency

    def load_patterns(self, patterns: Iterable[LinkagePattern]) -> int:
        table = {p.pattern_id: p for p in patterns}
        with self._lock:
            self.patterns = table
        return len(table)

    def disclose_id_code(self, resident: ResidentCode) -> IdCode:
        """Test mode only (RK-CTL-003): the ID code of a synthetic person."""
        return id_code_of(self._id, resident)

    # -- binding (items 13-15, 20) ------------------------------------------
    def bind(self, agency: Agency, record_ref: str, items: FourItems) -> dict[str, Any]:
        """Bind one record (RK-BND-001..003, RK-BND-005): exact, unique, all four items."""
        if items.has_placeholder():
            return {
                "record_ref": record_ref,
                "decision": "review",
                "link_code": None,
                "reasons": ["unrepresentable-character"],
            }
        exact, partial = self._registry.match(items)
        if len(exact) == 1:
            id_code = id_code_of(self._id, ResidentCode(exact[0]))
            link = link_code_for(self._link, id_code, AgencyId(agency.agency_id))
            return {
                "record_ref": record_ref,
                "decision": "bound",
                "link_code": link.text(),
                "reasons": [],
            }
        if len(exact) > 1:
            return {
                "record_ref": record_ref,
                "decision": "review",
                "link_code": None,
                "reasons": ["ambiguous-match"],
            }
        if partial:
            return {
                "record_ref": record_ref,
                "decision": "review",
                "link_code": None,
                "reasons": ["partial-match"],
            }
        return {
            "record_ref": record_ref,
            "decision": "rejected",
            "link_code": None,
            "reasons": ["no-match"],
        }

    # -- the linkage flow (items 18, 20-22, 28) ------------------------------
    def _log(
        self,
        *,
        at: datetime,
        outcome: Outcome,
        requester: str,
        provider: str,
        pattern_id: str,
        information_kind: str,
        request_id: str,
        reason: str | None = None,
        detail: str | None = None,
        linkage_id: str | None = None,
        person: bytes | None = None,
    ) -> AccessLogEntry:
        pattern = self.patterns.get(pattern_id)
        entry = AccessLogEntry(
            serial=len(self._s.access_log) + 1,
            at=at,
            pattern_id=pattern_id,
            legal_basis=pattern.legal_basis if pattern else None,
            requester=requester,
            requester_name=self._name(requester),
            provider=provider,
            provider_name=self._name(provider),
            information_kind=information_kind,
            outcome=outcome,
            reason=reason,
            detail=detail,
            linkage_id=linkage_id,
            request_id=request_id,
            person=person,
        )
        self._s.access_log.append(entry)
        return entry

    def _name(self, agency_id: str) -> str:
        agency = self.agencies.get(agency_id)
        return agency.name if agency else agency_id

    def expire_due(self) -> None:
        now = self._clock.now()
        with self._lock:
            for lid, linkage in list(self._s.linkages.items()):
                if linkage.state in (LinkageState.PENDING, LinkageState.DELIVERED) and (
                    now >= linkage.deadline
                ):
                    self._expire(linkage, now)
                    del self._s.linkages[lid]

    def _expire(self, linkage: Linkage, now: datetime) -> None:
        advance(linkage, Event.EXPIRE, now)
        self._log(
            at=now,
            outcome=Outcome.EXPIRED,
            requester=linkage.requester,
            provider=linkage.provider,
            pattern_id=linkage.pattern_id,
            information_kind=linkage.information_kind,
            request_id=linkage.request_id,
            linkage_id=linkage.linkage_id,
            person=linkage.person.raw,
            reason="deadline-passed",
        )

    def query(self, caller: Agency, body: dict[str, Any]) -> Linkage:
        """Step ② of item 21: approve, then link(A) → ID → (link(B) at delivery)."""
        self.expire_due()
        now = self._clock.now()
        requester = AgencyId(body["requester"]).value
        provider = AgencyId(body["provider"]).value
        pattern_id, kind, request_id = (
            body["pattern_id"],
            body["information_kind"],
            body["request_id"],
        )
        with self._lock:
            key = (caller.agency_id, request_id)
            if key in self._s.requests:
                raise ConflictError(
                    "duplicate-request-id",
                    f"request_id {request_id!r} was already used by this requester",
                    "RK-FLOW-003",
                )
            self._s.requests[key] = ""
            log: dict[str, Any] = {
                "requester": caller.agency_id,
                "provider": provider,
                "pattern_id": pattern_id,
                "information_kind": kind,
                "request_id": request_id,
            }
            decision = decide(
                self.patterns,
                Query(caller.agency_id, requester, provider, pattern_id, kind, now),
            )
            if not decision.approved:
                assert decision.reason is not None
                self._log(
                    at=now,
                    outcome=Outcome.REFUSED,
                    reason=decision.reason.value,
                    detail=decision.detail,
                    **log,
                )
                raise PermissionDeniedError(decision.reason.value, decision.detail, "RK-PAT-002")
            assert decision.pattern is not None
            try:
                link = LinkCode.parse(body["link_code"])
                id_code = id_code_from_link_code(self._link, link, AgencyId(caller.agency_id))
            except RenkeiError as exc:
                self._log(
                    at=now, outcome=Outcome.REFUSED, reason=exc.problem, detail=exc.detail, **log
                )
                raise
            linkage = Linkage(
                linkage_id=secrets.token_hex(16),
                request_id=request_id,
                requester=caller.agency_id,
                provider=provider,
                pattern_id=pattern_id,
                information_kind=kind,
                person=id_code,
                requested_at=now,
                deadline=now + timedelta(seconds=decision.pattern.answer_within_seconds),
            )
            self._s.linkages[linkage.linkage_id] = linkage
            self._s.requests[key] = linkage.linkage_id
            self._log(
                at=now,
                outcome=Outcome.APPROVED,
                linkage_id=linkage.linkage_id,
                person=id_code.raw,
                detail=decision.detail,
                **log,
            )
            return linkage

    def deliveries(self, provider: Agency) -> list[dict[str, Any]]:
        """Pull delivery (RK-FLOW-005): each pending linkage once, link code(B) made now."""
        self.expire_due()
        now = self._clock.now()
        out: list[dict[str, Any]] = []
        with self._lock:
            for lid, linkage in list(self._s.linkages.items()):
                if linkage.provider != provider.agency_id or linkage.state is not (
                    LinkageState.PENDING
                ):
                    continue
                self._s.linkages[lid] = advance(linkage, Event.PULL, now)
                link_b = link_code_for(self._link, linkage.person, AgencyId(provider.agency_id))
                out.append(
                    {
                        "linkage_id": lid,
                        "requester": linkage.requester,
                        "pattern_id": linkage.pattern_id,
                        "information_kind": linkage.information_kind,
                        "link_code": link_b.text(),
                        "deadline": linkage.deadline.isoformat(),
                    }
                )
        return out

    def _linkage_for(self, linkage_id: str, party: str, role: str) -> Linkage:
        linkage = self._s.linkages.get(linkage_id)
        owner = (
            None
            if linkage is None
            else (linkage.provider if role == "provider" else linkage.requester)
        )
        if linkage is None or owner != party:
            raise NotFoundError(
                "unknown-linkage",
                f"no open linkage {linkage_id!r} for which you are the {role}",
                "RK-FLOW-003",
            )
        return linkage

    def answer(self, provider: Agency, linkage_id: str, payload: str) -> Linkage:
        """Step ③ of item 22: the answer is held in transit only."""
        now = self._clock.now()
        with self._lock:
            linkage = self._linkage_for(linkage_id, provider.agency_id, "provider")
            try:
                nxt = advance(linkage, Event.ANSWER, now)
            except RenkeiError as exc:
                if exc.problem == "answer-after-deadline":
                    self._expire(linkage, now)
                    del self._s.linkages[linkage_id]
                raise
            self._s.linkages[linkage_id] = nxt
            self._s.in_transit[linkage_id] = payload
            return nxt

    def status(self, requester: Agency, linkage_id: str) -> tuple[Linkage, str | None]:
        """The requester's view; an answer is relayed once, then erased (RK-FLOW-002)."""
        self.expire_due()
        now = self._clock.now()
        with self._lock:
            linkage = self._s.linkages.get(linkage_id)
            if linkage is None or linkage.requester != requester.agency_id:
                raise NotFoundError(
                    "unknown-linkage",
                    f"no open linkage {linkage_id!r} for which you are the requester",
                    "RK-FLOW-003",
                )
            if linkage.state is not LinkageState.ANSWERED:
                return linkage, None
            payload = self._s.in_transit.pop(linkage_id)
            closed = advance(linkage, Event.RELAY, now)
            del self._s.linkages[linkage_id]
            self._log(
                at=now,
                outcome=Outcome.PROVIDED,
                requester=linkage.requester,
                provider=linkage.provider,
                pattern_id=linkage.pattern_id,
                information_kind=linkage.information_kind,
                request_id=linkage.request_id,
                linkage_id=linkage_id,
                person=linkage.person.raw,
            )
            return closed, payload

    # -- logs ----------------------------------------------------------------
    def auditor_entries(self, after: int, limit: int) -> list[dict[str, Any]]:
        with self._lock:
            entries = self._s.access_log[after : after + limit]
        return [auditor_view(e, self._person_ref(e.person)) for e in entries]

    def _person_ref(self, person: bytes | None) -> str | None:
        if person is None:
            return None
        return link_code_for(self._link, IdCode(person), AUDITOR_UNIT).text()

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Everything the hub stores (for the control interface's state dump)."""
        with self._lock:
            return {
                "hub.agencies": [asdict(a) for a in self.agencies.values()],
                "hub.patterns": [
                    {
                        **asdict(p),
                        "requesters": sorted(p.requesters),
                        "providers": sorted(p.providers),
                        "information_kinds": sorted(p.information_kinds),
                        "valid_from": p.valid_from.isoformat() if p.valid_from else None,
                        "valid_until": p.valid_until.isoformat() if p.valid_until else None,
                    }
                    for p in self.patterns.values()
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
                        "requested_at": x.requested_at.isoformat(),
                        "deadline": x.deadline.isoformat(),
                        "state": x.state.value,
                    }
                    for x in self._s.linkages.values()
                ],
                "hub.in_transit": [
                    {"linkage_id": k, "payload": v} for k, v in self._s.in_transit.items()
                ],
                "hub.requests": [
                    {"requester": r, "request_id": q, "linkage_id": lid}
                    for (r, q), lid in self._s.requests.items()
                ],
                "hub.access_log": [
                    {
                        **asdict(e),
                        "at": e.at.isoformat(),
                        "outcome": e.outcome.value,
                        "person": e.person.hex() if e.person else None,
                    }
                    for e in self._s.access_log
                ],
            }


class Federation:
    """All parties of one reference deployment, wired together."""

    def __init__(self, clock: Clock, root_secret: bytes | None = None) -> None:
        self.clock = clock
        secret = root_secret or secrets.token_bytes(32)
        self.registry = ResidentRegistry()
        self.numbering = NumberingAuthority()
        self.hub = Hub(
            self.registry,
            AesSivCipher.derived(secret, "id-code", 1),
            AesSivCipher.derived(secret, "link-code", 1),
            clock,
        )
        self.credentials: dict[str, str] = {}  # token -> agency_id

    def register(self, agency: Agency) -> str:
        self.hub.register_agency(agency)
        for token, aid in list(self.credentials.items()):
            if aid == agency.agency_id:
                del self.credentials[token]
        token = secrets.token_urlsafe(24)
        self.credentials[token] = agency.agency_id
        return token

    def authenticate(self, token: str | None) -> Agency:
        agency_id = self.credentials.get(token or "")
        if agency_id is None:
            raise UnauthenticatedError(
                "unauthenticated",
                "this interface needs an agency credential (the client certificate in production)",
                "RK-ARCH-002",
            )
        return self.hub.agencies[agency_id]

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        return {
            **self.hub.dump(),
            "numbering.table": self.numbering.dump(),
            "registry.residents": self.registry.dump(),
        }
