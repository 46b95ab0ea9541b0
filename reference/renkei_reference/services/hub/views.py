"""Read views of the hub's logs: the auditor's (item 27) and the person's (item 23).

The auditor sees every entry still held with the person as a pseudonym — the
person's link code for the auditor's unit (RK-AUD-001); each read is itself an
administrative-log entry (RK-LOG-006).  The person sees, through My Portal,
only the entries about themselves that the signed pattern does not withhold
(RK-PORT-003, RK-LOG-007).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ...core.access_log import AccessLogEntry
from ...core.admin_log import AdminEvent, Detail
from ...core.codes import AgencyId, IdCode
from ...core.retention import PurgedEntry
from .agencies import AUDITOR_UNIT
from .codes import CodeDesk
from .logs import AdminPage, HubLogs

__all__ = ["AuditorEntry", "LogViews"]


@dataclass(frozen=True, slots=True)
class AuditorEntry:
    """An access-log entry as the auditor reads it (RK-AUD-001): the entry, with the
    person as the auditor's pseudonym (the person's link code for the auditor's
    unit), never the ID code."""

    entry: AccessLogEntry
    person_ref: str | None


class LogViews:
    """The auditor's and the person's views of the access log."""

    def __init__(self, logs: HubLogs, codes: CodeDesk) -> None:
        self._logs = logs
        self._codes = codes

    def person_ref(self, person: bytes | None) -> str | None:
        """The auditor's pseudonym: the person's link code for the auditor unit."""
        if person is None:
            return None
        return self._codes.link_out(IdCode(person), AUDITOR_UNIT).text()

    def auditor_entries(self, auditor: str, after: int, limit: int, now: datetime
                        ) -> list[AuditorEntry]:  # fmt: skip
        """Up to ``limit`` entries still held with serial > ``after``, purged serials
        skipped however many there are (RK-RET-003); the read is logged."""
        out: list[AuditorEntry] = []
        if limit > 0:
            for e in self._logs.held(after + 1):
                out.append(AuditorEntry(e, self.person_ref(e.person)))
                if len(out) == limit:
                    break
        self.record_read(auditor, "access", after=after, limit=limit, n=len(out), now=now)
        return out

    def audit_snapshot(
        self, auditor: str, analysis: str, shares: int, unavailable: int, now: datetime
    ) -> tuple[list[AuditorEntry], list[int]]:
        """Every entry still held, in the auditor's view, and the purged serials:
        what the auditor's analyses merge (RK-AUD-002, RK-AUD-003); one entry."""
        held = [AuditorEntry(e, self.person_ref(e.person)) for e in self._logs.held()]
        purged = [e.serial for e in self._logs.entries() if isinstance(e, PurgedEntry)]
        self._logs.record(
            AdminEvent.AUDITOR_READ,
            auditor,
            now,
            log="analysis",
            analysis=analysis,
            entries=len(held),
            agency_shares=shares,
            agency_shares_unavailable=unavailable,
        )
        return held, purged

    def admin_entries(self, auditor: str, after: int, limit: int, now: datetime) -> AdminPage:
        """The administrative log for the auditor (RK-LOG-006), then the read logged."""
        page = self._logs.admin_page(after, limit)
        self.record_read(auditor, "admin", after=after, limit=limit, n=len(page.entries), now=now)
        return page

    def record_read(
        self, auditor: str, log: str, *, after: int, limit: int, n: int, now: datetime
    ) -> None:  # fmt: skip
        self._logs.record(
            AdminEvent.AUDITOR_READ, auditor, now, log=log, after=after, limit=limit, entries=n
        )

    def person_entries(self, unit: AgencyId, link_code: str, now: datetime) -> list[AccessLogEntry]:
        """The hub-held entries about the person behind ``link_code`` (My Portal):
        the caller names the person only by its own link code (RK-PORT-003); refused
        queries carry no person and never match; withheld entries never show."""
        person = self._codes.link_in(link_code, unit, now).raw
        return [e for e in self._logs.person_entries(person) if not e.withheld]

    def portal_disclosure(self, details: dict[str, Detail], now: datetime) -> None:
        """RK-LOG-006: a disclosure My Portal made, never naming the person."""
        own = {k: v for k, v in details.items() if k not in ("event", "actor", "at")}
        self._logs.record(AdminEvent.PORTAL_DISCLOSURE, "my-portal", now, **own)
