"""The numbering authority service (付番機関): the random conversion table.

It holds the resident code ↔ Number table alone (seed items 8, 10) and never
sees an ID code, a link code or a hub key (RK-NUM-009; import-linter contract
``separation``).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable
from typing import Any

from ..core.errors import ConflictError, NotFoundError
from ..core.identifiers import IndividualNumber, ResidentCode
from ..core.numbering import NUMBER_SPACE, issue_number

__all__ = ["NumberingAuthority"]


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

    def change_resident_code(self, old: ResidentCode, new: ResidentCode) -> None:
        """Follow a change of resident code: the Number continues (RK-NUM-008)."""
        with self._lock:
            if new.value in self._current:
                raise ConflictError(
                    "number-already-issued",
                    "the new resident code already has a Number",
                    "RK-NUM-008",
                )
            number = self._current.pop(old.value, None)
            if number is not None:
                self._current[new.value] = number

    def lookup(self, resident: ResidentCode) -> IndividualNumber:
        with self._lock:
            value = self._current.get(resident.value)
        if value is None:
            raise NotFoundError("not-found", "no Number issued for this resident code")
        return IndividualNumber(value)

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                "numbering.table": [
                    {"resident_code": c, "number": n} for c, n in sorted(self._current.items())
                ]
            }
