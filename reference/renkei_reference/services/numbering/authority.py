"""The numbering authority service (付番機関): the random conversion table.

It holds the resident code ↔ Number table alone (seed items 8, 10) and never
sees an ID code, a link code or a hub key (RK-NUM-009; import-linter contract
``separation-numbering``).  The table itself, its layout and its rules are in
``services.numbering.table`` and ``core.numbering``; this module binds them to
the injected clock and CSPRNG.
"""

from __future__ import annotations

from typing import Any

from ...core.identifiers import IndividualNumber, ResidentCode
from ...core.numbering import CorporateNumber, Draw, NumberRecord, ReissueReason
from ..clock import Clock
from .table import CsprngDraw, InMemoryNumberingTable, NumberingTable

__all__ = ["NumberingAuthority"]


class NumberingAuthority:
    """Issue, look up, re-issue, follow resident-code changes, corporate Numbers."""

    def __init__(
        self, clock: Clock, table: NumberingTable | None = None, draw: Draw | None = None
    ) -> None:
        self._clock = clock
        self._table = table if table is not None else InMemoryNumberingTable()
        self._draw = draw if draw is not None else CsprngDraw()

    def issue(self, resident: ResidentCode) -> IndividualNumber:
        """RK-NUM-001, RK-NUM-005: a fresh draw, never a Number issued before."""
        return self._table.issue(resident, self._draw, self._clock.now())

    def lookup(self, resident: ResidentCode) -> NumberRecord:
        return self._table.lookup(resident)

    def reissue(
        self, resident: ResidentCode, reason: ReissueReason
    ) -> tuple[IndividualNumber, IndividualNumber]:
        """RK-NUM-007: a new Number at the person's request; returns (old, new)."""
        old = self._table.lookup(resident).number
        new = self._table.reissue(resident, self._draw, self._clock.now(), reason)
        return old, new

    def change_resident_code(self, old: ResidentCode, new: ResidentCode) -> IndividualNumber:
        """RK-NUM-008: the Number continues under the new resident code."""
        return self._table.change_resident_code(old, new, self._clock.now())

    def has_number(self, resident: ResidentCode) -> bool:
        from ...core.errors import NotFoundError

        try:
            self._table.lookup(resident)
        except NotFoundError:
            return False
        return True

    def issue_corporate(self, base12: str) -> CorporateNumber:
        """RK-CORP-001/002: 法人番号 from a 12-digit base, check digit first."""
        return self._table.issue_corporate(base12, self._clock.now())

    def close(self) -> None:
        self._table.close()

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        return self._table.dump_stores()
