"""The binding desk: binding, rebinding, consents and the 4-item currency (items 13–15, 20).

Every binding request is one administrative-log entry with its agency, time,
count and decisions — never the 4 items (RK-LOG-006).  Private bodies' consents
(RK-BND-004) live in the store's sealed records (space ``consent``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ...core.admin_log import AdminEvent
from ...core.codes import ResidentCode
from ...core.errors import RenkeiError
from ..registry.registry import FourItems, ResidentRegistry
from ..store.log_store import SealedRecords
from .agencies import Agency, Role
from .codes import CodeDesk
from .consents import ConsentBook, ConsentIn, ConsentRecord
from .logs import HubLogs

__all__ = ["BindingDecision", "BindingDesk", "CurrencyResult", "Rebinding"]

CONSENT = "consent"


@dataclass(frozen=True, slots=True)
class BindingDecision:
    """One record's binding decision (OpenAPI ``BindingResult``, RK-BND-001..005)."""

    record_ref: str
    decision: str  # bound | review | rejected
    reasons: tuple[str, ...]
    link_code: str | None = None  # when bound: the agency's link code


@dataclass(frozen=True, slots=True)
class Rebinding:
    """One link code re-made under the current key (OpenAPI ``RebindingResult``,
    RK-KEY-002): the new link code, or the problem type that refused it."""

    link_code: str
    new_link_code: str | None
    problem: str | None


@dataclass(frozen=True, slots=True)
class CurrencyResult:
    """One record of the currency service (OpenAPI ``CurrencyResult``, RK-BND-006)."""

    record_ref: str
    status: str  # current | updated | no-data
    four_items: FourItems | None = None  # the latest 4 items, when told


def _decision(record_ref: str, decision: str, reasons: Iterable[str], link: str | None = None
              ) -> BindingDecision:  # fmt: skip
    return BindingDecision(record_ref, decision, tuple(reasons), link)


class BindingDesk:
    """Binds agencies' records to link codes through the registry's 4 items."""

    def __init__(
        self, registry: ResidentRegistry, codes: CodeDesk, logs: HubLogs, records: SealedRecords
    ) -> None:
        self._registry = registry
        self._codes = codes
        self._logs = logs
        self.consents = ConsentBook(lambda c: records.put(CONSENT, c.consent_id, c.to_json()))
        for _, value in records.items(CONSENT):  # a withdrawal outlives a restart (RK-BND-004)
            self.consents.restore(value)

    def bind_all(
        self,
        agency: Agency,
        records: Iterable[tuple[str, FourItems]],
        consent_ids: list[str | None],
        now: datetime,
    ) -> list[BindingDecision]:
        """A binding request (RK-BND-001): each record decided, the request logged.
        A private body's goes through ``_bind_private`` (RK-BND-004)."""
        if agency.role is Role.PRIVATE_BODY:
            results = self._bind_private(agency, list(records), consent_ids)
        else:
            results = [self.bind(agency, ref, items) for ref, items in records]
        counts = {d: sum(r.decision == d for r in results) for d in ("bound", "review", "rejected")}
        self._logs.record(
            AdminEvent.BINDING_REQUEST, agency.agency_id, now, records=len(results), **counts
        )
        return results

    def bind(self, agency: Agency, record_ref: str, items: FourItems) -> BindingDecision:
        """Bind one record (RK-BND-001..003, RK-BND-005) with the core matcher
        (``core.binding_match``, folded policy): all four folded items of exactly
        one resident's latest items, nobody else fitting or one slip away; a
        record bound only through the folding carries the notice ``variant-form``."""
        if items.has_placeholder():
            return _decision(record_ref, "review", ["unrepresentable-character"])
        outcome, resident = self._registry.decide(items)
        if resident is not None:
            link = self._codes.link_out(self._codes.id_code(ResidentCode(resident)), agency.unit)
            return _decision(record_ref, "bound", outcome.reasons, link.text())
        return _decision(record_ref, outcome.decision, outcome.reasons)

    def _bind_private(
        self, agency: Agency, records: list[tuple[str, FourItems]], consent_ids: list[str | None]
    ) -> list[BindingDecision]:
        """RK-BND-004: every record names an active consent of the caller (else the
        request is refused 403); a record binds only when its 4 items are exactly
        the latest ones of exactly one resident (no folding, no earlier items) and
        the answer is only ``bound`` or ``rejected``, with no reason naming an item."""
        padded = consent_ids + [None] * (len(records) - len(consent_ids))
        for cid in padded:
            self.consents.usable(agency.agency_id, cid)
        results: list[BindingDecision] = []
        for (ref, items), cid in zip(records, padded, strict=True):
            resident = None if items.has_placeholder() else self._registry.decide(items)[1]
            if resident is None or not self._registry.is_latest(resident, items):
                results.append(_decision(ref, "rejected", []))
                continue
            id_code = self._codes.id_code(ResidentCode(resident))
            self.consents.refuse_if_withdrawn(agency.agency_id, id_code.raw)
            # one consent is one person's: never reused for another (RK-BND-004)
            self.consents.require_person(str(cid), id_code.raw)
            self.consents.tie(str(cid), id_code.raw)
            link = self._codes.link_out(id_code, agency.unit).text()
            results.append(_decision(ref, "bound", [], link))
        return results

    def rebind(self, agency: Agency, link_codes: list[str], now: datetime) -> list[Rebinding]:
        """RK-KEY-002: translate an agency's link codes of accepted older versions
        into current ones, without 4-item matching.  Logged as a binding request
        (RK-LOG-006): agency, time, count and outcomes — never a link code."""
        out: list[Rebinding] = []
        for text in link_codes:
            try:
                new = self._codes.link_out(self._codes.link_in(text, agency.unit, now), agency.unit)
            except RenkeiError as exc:
                out.append(Rebinding(text, None, f"urn:renkei:problem:{exc.problem}"))
                continue
            out.append(Rebinding(text, new.text(), None))
        rebound = sum(r.problem is None for r in out)
        self._logs.record(
            AdminEvent.BINDING_REQUEST, agency.agency_id, now, records=len(out),
            rebinding=True, rebound=rebound, refused=len(out) - rebound,
        )  # fmt: skip
        return out

    def record_consent(self, agency: Agency, body: ConsentIn, now: datetime) -> ConsentRecord:
        """A private body records a person's consent (RK-BND-004); logged."""
        consent = self.consents.record(agency.agency_id, body, now.isoformat())
        self._logs.record(
            AdminEvent.CONSENT_RECORDED,
            agency.agency_id,
            now,
            consent_id=consent.consent_id,
            method=consent.method,
        )
        return consent

    def withdraw_consent(self, agency: Agency, consent_id: str, now: datetime) -> None:
        """The person withdrew consent; the private body records it (RK-BND-004)."""
        if self.consents.withdraw(agency.agency_id, consent_id, now.isoformat()):
            self._logs.record(
                AdminEvent.CONSENT_WITHDRAWN, agency.agency_id, now, consent_id=consent_id
            )

    def latest_four_items(
        self, agency: Agency, records: list[tuple[str, str, FourItems]], now: datetime
    ) -> list[CurrencyResult]:
        """The currency service (４情報の最新化, RK-BND-006), through the hub: the
        agency names each person by its own link code (any link code not valid for
        it refuses the request: a person not bound to the agency) and sends the 4
        items it holds; the registry answers the latest 4 items only when those are
        exactly one recorded state of that person.  No ID code, Number or resident
        code leaves the hub; every use is logged (registry and administrative log)."""
        codes = [
            self._codes.resident(self._codes.link_in(link, agency.unit, now)).value
            for _, link, _ in records
        ]
        results: list[CurrencyResult] = []
        for (ref, _, items), code in zip(records, codes, strict=True):
            status, latest = self._registry.currency(
                code, items, agency=agency.agency_id, at=now.isoformat()
            )
            results.append(CurrencyResult(ref, status, latest))
        counts = {s: sum(r.status == s for r in results) for s in ("current", "updated", "no-data")}
        self._logs.record(
            AdminEvent.FOUR_ITEMS_CURRENCY, agency.agency_id, now, records=len(results), **counts
        )
        return results
