"""Known-bad variants that only adversarial worlds catch (issue 14, item 3).

# renkei: not-an-implementation

Each is the reference with one realistic defect that the kit's tidy world used to
let through: names compared loosely (case, prefixes), a provider picked by the
hub, validity and retention counted from dates or from the wrong zone, legal holds
applied to one side of an entry only, an identity taken from a header.  They
register in ``known_bad.KNOWN_BAD`` (``known_bad`` imports this module) and are
killed by the CT-WLD tests (renkei_conformance/suite/test_adversarial_worlds.py).
The traceability scan skips this file (the marker line above).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import fields, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from .core.retention import HoldScope, LegalHold, Retained
from .known_bad import _override, _variant
from .services.federation import Agency, Federation
from .services.hub import QueryIn

__all__: list[str] = []


def _day(t: datetime | None) -> datetime | None:
    """The UTC midnight that begins ``t``'s UTC date."""
    return None if t is None else t.replace(hour=0, minute=0, second=0, microsecond=0)


# -- near-miss names (CT-WLD-001, CT-WLD-005) ---------------------------------------
@_variant(
    "information-kind-matched-ignoring-case",
    "RK-PAT-001",
    "information kinds are compared case-insensitively: LOCAL-TAX is taken for local-tax",
)
def _kind_case(fed: Federation) -> None:
    hub = fed.hub

    def query(original: Any, caller: Agency, body: QueryIn) -> Any:
        pattern = hub.patterns.get(body.pattern_id)
        if pattern is not None and body.information_kind not in pattern.information_kinds:
            folded = {k.casefold(): k for k in pattern.information_kinds}
            kind = folded.get(body.information_kind.casefold())
            if kind is not None:
                body = replace(body, information_kind=kind)
        return original(caller, body)

    _override(hub, "query", query)


@_variant(
    "requester-designated-by-prefix",
    "RK-PAT-001",
    "a requester is taken as designated when a designated id is a prefix of its id "
    "(kit.pension-fund passes as kit.pension)",
)
def _requester_prefix(fed: Federation) -> None:
    hub, desk = fed.hub, fed.hub.pattern_desk

    def query(original: Any, caller: Agency, body: QueryIn) -> Any:
        table = desk.table
        pattern = table.get(body.pattern_id)
        me = caller.agency_id
        if pattern is None or me in pattern.requesters:
            return original(caller, body)
        if not any(me.startswith(r) for r in pattern.requesters):
            return original(caller, body)
        desk.table = {**table, pattern.pattern_id: replace(
            pattern, requesters=pattern.requesters | {me})}  # fmt: skip
        try:
            return original(caller, body)
        finally:
            desk.table = table

    _override(hub, "query", query)


@_variant(
    "provider-chosen-by-the-hub",
    "RK-PAT-005",
    "a query naming one of a pattern's several providers goes to the pattern's first "
    "designated provider",
)
def _provider_chosen(fed: Federation) -> None:
    hub = fed.hub

    def query(original: Any, caller: Agency, body: QueryIn) -> Any:
        pattern = hub.patterns.get(body.pattern_id)
        if pattern is not None and body.provider in pattern.providers:
            body = replace(body, provider=sorted(pattern.providers)[0])
        return original(caller, body)

    _override(hub, "query", query)


# -- times in other offsets, at day boundaries (CT-WLD-002, CT-WLD-003) -------------
@_variant(
    "pattern-validity-by-utc-date",
    "RK-PAT-001",
    "a pattern is in force from the UTC date its validity starts to the UTC date it "
    "ends: a JST-midnight start approves 15 hours early and ends 15 hours early",
)
def _validity_by_date(fed: Federation) -> None:
    desk = fed.hub.pattern_desk

    def load(original: Any, data: bytes, signature: bytes, now: datetime) -> Any:
        doc = original(data, signature, now)
        table = {}
        for k, p in desk.table.items():
            start, end = _day(p.valid_from), _day(p.valid_until)
            same = start is not None and end is not None and start >= end
            table[k] = p if same else replace(p, valid_from=start, valid_until=end)
        desk.table = table
        return doc

    _override(desk, "load_document", load)


@_variant(
    "retention-from-jst-wall-clock",
    "RK-RET-001",
    "retention is counted from each entry's Japanese wall-clock time read as UTC: "
    "entries are purged 9 hours before their 7 years",
)
def _retention_jst(fed: Federation) -> None:
    _override(
        fed.hub.retention,
        "purge_due",
        lambda original, now: original(now + timedelta(hours=9)),
    )


# -- legal holds on every side (CT-WLD-004) -----------------------------------------
class _RequesterSideScope(HoldScope):
    """An agency criterion that looks at the requester (④) only."""

    __slots__ = ()

    def covers(self, entry: Retained) -> bool:
        if self.agency is not None and entry.requester != self.agency:
            return False
        return super().covers(entry)


def _holds_seen_as(fed: Federation, see: Callable[[LegalHold], LegalHold | None]) -> None:
    """Purging sees each hold as ``see`` makes it (None: not at all)."""
    desk = fed.hub.retention

    def purge_due(original: Any, now: datetime) -> None:
        holds = desk.holds
        seen = {k: see(h) for k, h in holds.items()}
        desk.holds = {k: h for k, h in seen.items() if h is not None}
        try:
            original(now)
        finally:
            desk.holds = holds

    _override(desk, "purge_due", purge_due)


@_variant(
    "legal-hold-on-the-requester-side-only",
    "RK-RET-002",
    "a hold on an agency keeps the entries where it asked, not those where it was asked",
)
def _hold_requester_side(fed: Federation) -> None:
    def see(h: LegalHold) -> LegalHold:
        values = {f.name: getattr(h.scope, f.name) for f in fields(h.scope)}
        return replace(h, scope=_RequesterSideScope(**values))

    _holds_seen_as(fed, see)


@_variant(
    "legal-hold-by-person-not-applied",
    "RK-RET-002",
    "a hold scoped by person is accepted and stored, but purging does not apply it",
)
def _hold_person_ignored(fed: Federation) -> None:
    _holds_seen_as(fed, lambda h: None if h.scope.person is not None else h)


@_variant(
    "legal-hold-period-by-utc-dates",
    "RK-RET-002",
    "a hold's period is taken as whole UTC dates: from/to sent in JST move up to 9 hours",
)
def _hold_period_dates(fed: Federation) -> None:
    def see(h: LegalHold) -> LegalHold:
        start, end = _day(h.scope.not_before), _day(h.scope.before)
        if start is not None and end is not None and start >= end:
            return h
        return replace(h, scope=replace(h.scope, not_before=start, before=end))

    _holds_seen_as(fed, see)


# -- the noise pass (CT-WLD-005) ----------------------------------------------------
_forwarded: ContextVar[str | None] = ContextVar("forwarded_user", default=None)


def _note_forwarded_user(headers: dict[str, str]) -> None:
    _forwarded.set(headers.get("x-forwarded-user"))


@_variant(
    "caller-from-forwarded-header",
    "RK-ARCH-002",
    "an authenticated request carrying X-Forwarded-User (as a TLS-terminating proxy "
    "would set it) is served as the agency that header names",
    inspect=_note_forwarded_user,
)
def _caller_from_header(fed: Federation) -> None:
    def authenticate(original: Any, token: str | None) -> Agency:
        agency: Agency = original(token)
        named = _forwarded.get()
        return fed.hub.agencies.get(named, agency) if named else agency

    _override(fed, "authenticate", authenticate)


_header_now: ContextVar[datetime | None] = ContextVar("header_now", default=None)


def _note_header_clock(headers: dict[str, str]) -> None:
    sent = headers.get("x-renkei-now")
    try:
        at = datetime.fromisoformat(sent.replace("Z", "+00:00")) if sent else None
    except ValueError:
        at = None
    _header_now.set(at.astimezone(UTC) if at is not None and at.tzinfo else None)


@_variant(
    "query-time-from-header",
    "RK-PAT-001",
    "a query is decided at the time an X-Renkei-Now header names (a test hook left on), "
    "not at the hub's clock",
    inspect=_note_header_clock,
)
def _query_time_from_header(fed: Federation) -> None:
    def query(original: Any, caller: Agency, q: QueryIn, now: datetime) -> Any:
        return original(caller, q, _header_now.get() or now)

    _override(fed.hub.linkages, "query", query)


@_variant(
    "logged-provider-is-the-patterns-first",
    "RK-LOG-002",
    "under a pattern with several providers, the log names the pattern's first designated "
    "provider (⑤), whichever the query named and the linkage went to",
)
def _logged_provider(fed: Federation) -> None:
    def log_access(original: Any, facts: Any, **kw: Any) -> Any:
        pattern = kw.get("pattern")
        if pattern is not None and facts.provider in pattern.providers:
            facts = replace(facts, provider=sorted(pattern.providers)[0])
        return original(facts, **kw)

    _override(fed.hub.logs, "log_access", log_access)


@_variant(
    "operating-hours-end-inclusive",
    "RK-AUD-003",
    "the end hour of the operating hours counts as inside: queries from 20:00 to 20:59 "
    "JST are not reported",
)
def _end_hour_inclusive(fed: Federation) -> None:
    def anomalies(original: Any, auditor: Any, rules: Any) -> Any:
        start, end = rules.operating_hours
        return original(auditor, replace(rules, operating_hours=(start, min(end + 1, 24))))

    _override(fed.auditor, "anomalies", anomalies)


def _wall_clock(text: str | None) -> datetime | None:
    """``text``'s wall-clock time read as UTC, its offset dropped."""
    if text is None:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).replace(tzinfo=UTC)


@_variant(
    "document-validity-offset-dropped",
    "RK-PAT-001",
    "a signed pattern document's validity times are read as wall-clock UTC: "
    "2030-04-01T00:00:00+09:00 comes into force 9 hours late",
)
def _document_offset_dropped(fed: Federation) -> None:
    desk = fed.hub.pattern_desk

    def load(original: Any, data: bytes, signature: bytes, now: datetime) -> Any:
        doc = original(data, signature, now)
        raw = {p["pattern_id"]: p for p in json.loads(data)["patterns"]}
        desk.table = {
            k: replace(p, valid_from=_wall_clock(raw[k].get("valid_from")),
                       valid_until=_wall_clock(raw[k].get("valid_until")))
            if k in raw else p
            for k, p in desk.table.items()
        }  # fmt: skip
        return doc

    _override(desk, "load_document", load)


class _AnyCriterionScope(HoldScope):
    """A scope that covers an entry meeting *any* of its criteria, not every one."""

    __slots__ = ()

    def covers(self, entry: Retained) -> bool:
        given = {f.name: getattr(self, f.name) for f in fields(HoldScope)}
        given = {k: v for k, v in given.items() if v is not None}
        return any(HoldScope(**{k: v}).covers(entry) for k, v in given.items()) or not given


@_variant(
    "legal-hold-criteria-joined-by-or",
    "RK-RET-001",
    "a hold naming an agency and a pattern keeps every entry of the agency and every "
    "entry of the pattern: entries no hold covers outlive their 7 years",
)
def _hold_criteria_or(fed: Federation) -> None:
    def see(h: LegalHold) -> LegalHold:
        values = {f.name: getattr(h.scope, f.name) for f in fields(h.scope)}
        return replace(h, scope=_AnyCriterionScope(**values))

    _holds_seen_as(fed, see)
