"""The visible identifiers: resident codes, Numbers and agency ids (seed items 3, 8, 10).

Plain validated values with no cryptography behind them, so that the
numbering authority can use them without reaching any hub machinery
(import-linter contract ``separation-numbering``, RK-NUM-009).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .check_digit import is_valid_individual_number, is_valid_resident_code
from .errors import CallerError

__all__ = ["AgencyId", "IndividualNumber", "ResidentCode"]

_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
LINK_CODE_LABEL = b"renkei/link-code/v1"
"""Domain-separation label bound into every link code (core.codes)."""


@dataclass(frozen=True, slots=True)
class ResidentCode:
    """住民票コード: 11 ASCII digits with a check digit (RK-NUM-006)."""

    value: str

    def __post_init__(self) -> None:
        if not is_valid_resident_code(self.value):
            raise CallerError(
                "malformed-resident-code",
                "a resident code (住民票コード) is 11 digits whose last digit checks",
                "RK-NUM-006",
            )


@dataclass(frozen=True, slots=True)
class IndividualNumber:
    """個人番号: the visible 12-digit Number (RK-NUM-004)."""

    value: str

    def __post_init__(self) -> None:
        if not is_valid_individual_number(self.value):
            raise CallerError(
                "malformed-number",
                "a Number (個人番号) is 12 digits whose last digit checks",
                "RK-NUM-004",
            )


@dataclass(frozen=True, slots=True)
class AgencyId:
    """Identifier of an information-holding agency (情報保有機関) or a link-code unit."""

    value: str
    encoded: bytes = field(init=False, repr=False, compare=False)
    """The id in UTF-8, as it is bound into link codes (made once, not per query)."""
    link_ad: list[bytes] = field(init=False, repr=False, compare=False, hash=False)
    """The associated data of this unit's link codes (RK-LNK-001), made once.
    Shared and never mutated: ``cryptography`` only reads it."""

    def __post_init__(self) -> None:
        if not _AGENCY_ID.fullmatch(self.value):
            raise CallerError(
                "malformed-agency-id",
                "an agency id is 1-63 characters of a-z, 0-9, '.', '_' or '-'",
                "RK-ARCH-002",
            )
        object.__setattr__(self, "encoded", self.value.encode())
        object.__setattr__(self, "link_ad", [LINK_CODE_LABEL, self.encoded])
