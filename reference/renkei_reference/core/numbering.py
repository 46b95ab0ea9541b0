"""Issuing Numbers through a random code conversion table (seed items 6, 8, 11).

The numbering authority (付番機関) alone holds the table resident code ↔ Number
(RK-NUM-001).  A Number is drawn uniformly from the valid 12-digit space by a
CSPRNG that the shell injects as ``draw``; it is never computed from the
resident code or from any key, so there is no logical way back from a Number to
an ID code (RK-NUM-002).  Duplicates and Numbers ever issued before (including
revoked ones) are rejected (RK-NUM-005).
"""

from __future__ import annotations

from collections.abc import Callable

import icontract

from .check_digit import individual_number_check_digit
from .errors import StateError
from .identifiers import IndividualNumber

__all__ = ["MAX_DRAWS", "NUMBER_SPACE", "issue_number", "number_from_draw"]

NUMBER_SPACE = 10**11
"""Size of the body space: 11 free digits, the 12th is the check digit."""

MAX_DRAWS = 64
"""Draws tried before giving up; with ≤ 1.25×10⁸ of 10¹¹ taken, 64 misses are impossible."""


@icontract.require(lambda draw: 0 <= draw < NUMBER_SPACE)
@icontract.ensure(lambda draw, result: int(result.value[:11]) == draw)
def number_from_draw(draw: int) -> IndividualNumber:
    """The Number whose 11-digit body is ``draw`` (a uniform random draw)."""
    body = f"{draw:011d}"
    return IndividualNumber(body + str(individual_number_check_digit(body)))


def issue_number(draw: Callable[[], int], ever_issued: Callable[[str], bool]) -> IndividualNumber:
    """Draw Numbers until one was never issued before (RK-NUM-001, RK-NUM-005).

    Args:
        draw: returns a uniform integer in [0, NUMBER_SPACE) from a CSPRNG.
        ever_issued: True when the Number was issued to anyone, ever.

    Raises:
        StateError: ``number-space-exhausted`` after ``MAX_DRAWS`` collisions.
    """
    for _ in range(MAX_DRAWS):
        candidate = number_from_draw(draw())
        if not ever_issued(candidate.value):
            return candidate
    raise StateError("number-space-exhausted", "no free Number found", "RK-NUM-005")
