"""Retention, purge and legal holds of the hub's access log (item 25; RK-RET-001..003).

The retention periods and the holds live in the store's sealed records (spaces
``retention`` and ``hold``), so that a restarted hub never purges what a hold protects
(RK-RET-002).  Purging keeps the leaf hashes: receipts and proofs keep
verifying (RK-RET-003).
"""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from ...core.admin_log import AdminEvent
from ...core.errors import CallerError, NotFoundError, UnavailableError
from ...core.retention import (
    HoldScope,
    LegalHold,
    LogClass,
    RetentionPolicy,
    hold_from_record,
    hold_record,
    purge_entry,
    purge_plan,
    retained_until,
    serial_ranges,
)
from ..store.log_store import SealedRecords
from .logs import HubLogs

__all__ = ["HoldScopeIn", "LegalHoldView", "Purge", "RetentionDesk", "hold_document"]

HOLD, RETENTION = "hold", "retention"  # record spaces: holds survive a restart (RK-RET-002)


@dataclass(frozen=True, slots=True)
class HoldScopeIn:
    """A hold's scope as the HTTP edge validated it (OpenAPI ``LegalHoldScope``);
    the person named by the auditor's pseudonym (``person_ref``)."""

    linkage_ids: tuple[str, ...] | None = None
    agency_id: str | None = None
    person_ref: str | None = None
    pattern_id: str | None = None
    serials: tuple[int, int] | None = None  # first, last
    not_before: datetime | None = None  # ``from``
    before: datetime | None = None  # ``to``

    def criteria(self) -> list[str]:
        """The wire names of the criteria given, sorted (the administrative log's ``scope``)."""
        given = {
            "linkage_ids": self.linkage_ids,
            "agency_id": self.agency_id,
            "person_ref": self.person_ref,
            "pattern_id": self.pattern_id,
            "serials": self.serials,
            "from": self.not_before,
            "to": self.before,
        }
        return sorted(k for k, v in given.items() if v)


@dataclass(frozen=True, slots=True)
class LegalHoldView:
    """A legal hold as the auditor reads it (OpenAPI ``LegalHold``): the person by
    the pseudonym the auditor named it with, never the ID code."""

    hold: LegalHold
    person_ref: str | None


@dataclass(frozen=True, slots=True)
class Purge:
    """One purge run: when, of which class, the serial ranges purged (RK-RET-003)."""

    at: datetime
    log_class: LogClass
    ranges: tuple[tuple[int, int], ...]


def _years(record: str) -> dict[LogClass, int]:
    return {LogClass(k): int(v) for k, v in json.loads(record).items()}


class RetentionDesk:
    """The retention policy, the legal holds and the purges of the access log."""

    def __init__(self, logs: HubLogs, records: SealedRecords) -> None:
        self._logs = logs
        self._records = records
        self.policy = RetentionPolicy()
        self.holds: dict[str, LegalHold] = {}
        self.purges: list[Purge] = []
        self._unpurged_from = 0  # index of the oldest entry not yet purged
        # (index of that entry, retention policy, earliest time anything is due)
        self._not_before: tuple[int, RetentionPolicy, datetime] | None = None
        for _, value in records.items(HOLD):
            hold = hold_from_record(value)
            self.holds[hold.hold_id] = hold
        for _, value in records.items(RETENTION):
            self.policy = RetentionPolicy(
                **{c.value.replace("-", "_"): y for c, y in _years(value).items()}
            )

    def _save_hold(self, hold: LegalHold) -> None:
        self.holds[hold.hold_id] = hold
        self._records.put(HOLD, hold.hold_id, hold_record(hold))

    def may_purge(self, now: datetime) -> bool:
        """Whether ``purge_due`` may find anything due: False only when the earliest
        time anything can be due, known for the oldest unpurged entry under the
        current policy, has not come (or nothing is unpurged)."""
        if self._unpurged_from >= self._logs.size:
            return False
        due = self._not_before
        fresh = due is not None and due[0] == self._unpurged_from and due[1] is self.policy
        return not (fresh and due is not None and now < due[2])

    def purge_due(self, now: datetime) -> None:
        """Purge every entry whose retention ended and that no hold covers.

        The log is read from its oldest unpurged entry on, and only as far as
        entries are due under the access log's retention: entries are made in
        time order, so the first one not yet due ends the walk."""
        logs = self._logs
        if self._unpurged_from >= logs.size:
            return
        # Nothing can be due before the oldest unpurged entry's end under the
        # shortest retention; that time is computed once per (entry, policy), so
        # the check on every request is a comparison.
        due = self._not_before
        if due is None or due[0] != self._unpurged_from or due[1] is not self.policy:
            try:
                oldest = next(logs.held(self._unpurged_from + 1), None)
            except UnavailableError:
                return  # the store cannot be read now: purging waits for a later step
            if oldest is None:
                self._unpurged_from = logs.size
                return
            self._unpurged_from = oldest.serial - 1
            shortest = min(self.policy.years_for(c) for c in LogClass)
            due = (self._unpurged_from, self.policy, retained_until(oldest.at, shortest))
            self._not_before = due
        if now < due[2]:
            return
        log_class = LogClass.HUB_ACCESS_LOG
        years = self.policy.years_for(log_class)
        window = list(
            itertools.takewhile(
                lambda e: retained_until(e.at, years) <= now,
                logs.held(self._unpurged_from + 1),
            )
        )
        plan = purge_plan(window, self.policy, list(self.holds.values()), now, log_class)
        if not plan:
            return
        ranges = serial_ranges(plan)
        self.purges.append(Purge(now, log_class, ranges))
        self._logs.record(
            AdminEvent.PURGE, "hub", now, log_class=log_class.value, entries=len(plan),
            ranges=[list(r) for r in ranges],
        )  # fmt: skip
        chosen = frozenset(plan)
        self._logs.purged((purge_entry(e, now) for e in window if e.serial in chosen), now)
        kept = next((e.serial for e in window if e.serial not in chosen), None)
        self._unpurged_from = window[-1].serial if kept is None else kept - 1

    def set_retention(self, log_class: LogClass, years: int, now: datetime) -> RetentionPolicy:
        """RK-RET-001: per class, never below the legal minimum of 7 years."""
        self.policy = self.policy.with_years(log_class, years)
        self._records.put(RETENTION, "policy", json.dumps(self.policy.as_dict()))
        self._logs.record(
            AdminEvent.RETENTION_CHANGED, "control", now, log_class=log_class.value, years=years
        )
        self.purge_due(now)
        return self.policy

    def place_hold(
        self,
        auditor: str,
        reason: str,
        case_reference: str | None,
        scope: HoldScopeIn,
        *,
        person: bytes | None,
        now: datetime,
    ) -> LegalHold:
        """RK-RET-002: the auditor stops purging of what the scope covers."""
        try:
            hold_scope = HoldScope(
                serials=scope.serials,
                pattern_id=scope.pattern_id,
                agency=scope.agency_id,
                linkage_ids=frozenset(scope.linkage_ids) if scope.linkage_ids else None,
                person=person,
                not_before=scope.not_before,
                before=scope.before,
            )
        except ValueError as exc:
            raise CallerError("validation-error", str(exc), "RK-RET-002") from exc
        hold = LegalHold(
            hold_id=secrets.token_hex(8),
            scope=hold_scope,
            reason=reason,
            placed_by=auditor,
            placed_at=now,
            case_reference=case_reference,
        )
        self._save_hold(hold)
        self._logs.record(
            AdminEvent.LEGAL_HOLD_PLACED,
            auditor,
            now,
            hold_id=hold.hold_id,
            reason=reason,
            case_reference=case_reference,
            scope=scope.criteria(),
        )
        return hold

    def lift_hold(self, auditor: str, hold_id: str, now: datetime) -> None:
        hold = self.holds.get(hold_id)
        if hold is None or not hold.in_force(now):
            raise NotFoundError("not-found", f"no legal hold {hold_id!r} in force", "RK-RET-002")
        self._save_hold(hold.lift(now, auditor))
        self._logs.record(AdminEvent.LEGAL_HOLD_LIFTED, auditor, now, hold_id=hold_id)
        self.purge_due(now)

    def in_force(self, now: datetime) -> list[LegalHold]:
        """The holds in force, newest first."""
        holds = [h for h in self.holds.values() if h.in_force(now)]
        return sorted(holds, key=lambda h: h.placed_at, reverse=True)

    def rekey_persons(self, move: Callable[[bytes], bytes]) -> None:
        """Re-make the ID codes the holds' scopes name after an ID-key rotation."""
        for h in list(self.holds.values()):
            if h.scope.person and move(h.scope.person) != h.scope.person:
                self._save_hold(replace(h, scope=replace(h.scope, person=move(h.scope.person))))


def hold_document(view: LegalHoldView) -> dict[str, Any]:
    """A hold in the form of OpenAPI ``LegalHold``: what the HTTP edge writes, and
    the state export's (RK-CTL-006) entry for it."""
    hold, person_ref = view.hold, view.person_ref
    sc = hold.scope
    scope: dict[str, Any] = {
        "linkage_ids": sorted(sc.linkage_ids) if sc.linkage_ids else None,
        "agency_id": sc.agency,
        "person_ref": person_ref,
        "pattern_id": sc.pattern_id,
        "serials": {"first": sc.serials[0], "last": sc.serials[1]} if sc.serials else None,
        "from": sc.not_before.isoformat() if sc.not_before else None,
        "to": sc.before.isoformat() if sc.before else None,
    }
    out: dict[str, Any] = {
        "hold_id": hold.hold_id,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": hold.placed_at.isoformat(),
        "scope": {k: v for k, v in scope.items() if v is not None},
    }
    if hold.case_reference:
        out["case_reference"] = hold.case_reference
    return out
