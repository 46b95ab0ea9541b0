"""The numbering authority's rules, without storage (seed items 6, 8, 10, 11, 32).

Theory of operation.  The numbering authority (付番機関) alone holds the code
conversion table resident code ↔ Number (RK-NUM-001).  A Number is drawn
uniformly from the valid 12-digit space by a CSPRNG that the shell injects as
``draw``; it is never computed from the resident code or from any key, so there
is no logical way back from a Number to an ID code (RK-NUM-002).  Duplicates and
Numbers ever issued before — revoked ones included — are rejected (RK-NUM-005).

This module is the sans-I/O half (h11 style): no storage, clock or randomness.
A store looks up the *facts* a rule needs (``ResidentCodeState``: does the
resident code have a current Number, was it retired by a change), calls a
``decide_*`` function with them, and writes the ``NumberEvent`` it returns —
check, then write, inside one transaction.  Every refusal is a
``core.errors`` error naming the requirement it enforces:

================================  ============================================  ==========
operation and fault               error (problem slug)                          requirement
================================  ============================================  ==========
issue, code has a Number          ConflictError ``number-already-issued``       RK-NUM-005
issue, code retired by a change   NotFoundError ``unknown-resident``            RK-NUM-008
lookup/reissue, no Number         NotFoundError ``not-found``                   RK-NUM-007
lookup/reissue, code retired      NotFoundError ``not-found``                   RK-NUM-008
change, old == new                CallerError ``validation-error``              RK-NUM-008
change, old has no Number         NotFoundError ``not-found``                   RK-NUM-008
change, new has a Number          ConflictError ``number-already-issued``       RK-NUM-008
change, new retired               NotFoundError ``unknown-resident``            RK-NUM-008
MAX_DRAWS collisions in a row     StateError ``number-space-exhausted``         RK-NUM-005
corporate base not 12 digits      CallerError ``validation-error``              RK-CORP-001
corporate number malformed        CallerError ``malformed-corporate-number``    RK-CORP-001
corporate base issued before      ConflictError ``corporate-number-already-…``  RK-CORP-002
================================  ============================================  ==========

Rules that are the spec's and rules that are renkei's own:

* RK-NUM-007 — a re-issue draws a new Number exactly like an issue, revokes
  the old one (which stays in the table, so it is never drawn again) and
  records the history: resident code, old Number, new Number, time, reason.
* RK-NUM-008 — a change of resident code moves the Number to the new code.
  renkei adds: the old code is *retired* and never used again (neither issued
  a Number nor taken as the new code of a later change).  Juki-net never reuses
  a resident code, and without this rule one code could name two persons in
  the history.
* Times are kept in UTC to the second (``normalize_time``); RK-NUM-007 asks
  for the date of a change.
* RK-CORP-001/002 — a corporate number (法人番号) is its 12-digit base preceded
  by the check digit of 財務省令 平成26年第70号 第2条; one per base, kept apart
  from the Numbers of persons and public (no draw, no hiding).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import icontract

from .check_digit import (
    corporate_number_check_digit,
    individual_number_check_digit,
    is_valid_corporate_number,
)
from .errors import CallerError, ConflictError, NotFoundError, StateError
from .identifiers import IndividualNumber, ResidentCode

__all__ = [
    "CORPORATE_BASE_SPACE",
    "MAX_DRAWS",
    "NUMBER_SPACE",
    "CorporateNumber",
    "CorporateRecord",
    "Draw",
    "NumberEvent",
    "NumberEventKind",
    "NumberRecord",
    "NumberStatus",
    "ReissueReason",
    "ResidentCodeState",
    "decide_corporate_issue",
    "decide_issue",
    "decide_reissue",
    "decide_resident_code_change",
    "epoch_seconds",
    "from_epoch_seconds",
    "issue_number",
    "normalize_time",
    "number_from_draw",
    "number_value",
    "require_current",
]

NUMBER_SPACE = 10**11
"""Size of the body space: 11 free digits, the 12th is the check digit."""

MAX_DRAWS = 64
"""Draws tried before giving up; with ≤ 1.25×10⁸ of 10¹¹ taken, 64 misses are impossible."""

CORPORATE_BASE_SPACE = 10**12
"""Size of the corporate-number base space: 12 digits, the check digit goes in front."""

Draw = Callable[[], int]
"""A uniform integer in [0, NUMBER_SPACE) from a CSPRNG, injected by the shell."""


# -- Numbers from draws (RK-NUM-001, RK-NUM-004) ------------------------------------------


@icontract.require(lambda draw: 0 <= draw < NUMBER_SPACE)
@icontract.ensure(lambda draw, result: int(result.value[:11]) == draw)
def number_from_draw(draw: int) -> IndividualNumber:
    """The Number whose 11-digit body is ``draw`` (a uniform random draw)."""
    body = f"{draw:011d}"
    return IndividualNumber(body + str(individual_number_check_digit(body)))


def _weighted_mod11(weights: tuple[int, ...]) -> tuple[int, ...]:
    """Σ P_n·Q_n mod 11 for every value of len(weights) digits (weights from the right)."""
    return tuple(
        sum((v // 10**i) % 10 * w for i, w in enumerate(weights)) % 11
        for v in range(10 ** len(weights))
    )


# Q_n of 総務省令 第5条 for n = 1..11 from the right is 2..7 then 2..6; split into
# digits 1-4, 5-8 and 9-11 so that three table look-ups give the weighted sum.
_LOW = _weighted_mod11((2, 3, 4, 5))
_MID = _weighted_mod11((6, 7, 2, 3))
_HIGH = _weighted_mod11((4, 5, 6))
_CHECK = tuple(0 if r <= 1 else 11 - r for r in range(11))


def number_value(body: int) -> int:
    """The Number with 11-digit body ``body``, as an integer (RK-NUM-004).

    The integer twin of ``number_from_draw`` for bulk issue: the same check digit
    from table look-ups, no string and no contract overhead.  The tests prove
    ``number_value(b) == int(number_from_draw(b).value)`` for all bodies.

    :raises ValueError: ``body`` is not an int in [0, NUMBER_SPACE) (a broken draw).
    """
    if type(body) is not int or not 0 <= body < NUMBER_SPACE:
        raise ValueError(f"a draw must be an int in [0, {NUMBER_SPACE}), got {body!r}")
    return (
        body * 10
        + _CHECK[
            (_LOW[body % 10_000] + _MID[body // 10_000 % 10_000] + _HIGH[body // 100_000_000]) % 11
        ]
    )


@icontract.ensure(lambda result: len(result.value) == 12)
def issue_number(draw: Draw, ever_issued: Callable[[str], bool]) -> IndividualNumber:
    """Draw Numbers until one was never issued before (RK-NUM-001, RK-NUM-005).

    Args:
        draw: returns a uniform integer in [0, NUMBER_SPACE) from a CSPRNG.
        ever_issued: True when the Number was issued to anyone, ever (revoked
            Numbers included).

    :raises StateError: ``number-space-exhausted`` after ``MAX_DRAWS`` collisions.
    :raises ValueError: ``draw`` returned something outside [0, NUMBER_SPACE).
    """
    for _ in range(MAX_DRAWS):
        body = draw()
        if type(body) is not int or not 0 <= body < NUMBER_SPACE:
            raise ValueError(f"a draw must be an int in [0, {NUMBER_SPACE}), got {body!r}")
        candidate = number_from_draw(body)
        if not ever_issued(candidate.value):
            return candidate
    raise StateError("number-space-exhausted", "no free Number found", "RK-NUM-005")


# -- time ----------------------------------------------------------------------------------


def _usable_time(at: datetime) -> bool:
    """Timezone-aware, and far enough from the ends of ``datetime`` to convert to UTC."""
    return at.tzinfo is not None and 1 < at.year < 9999


@icontract.require(_usable_time, "times are timezone-aware")
@icontract.ensure(lambda result: result.tzinfo is UTC and result.microsecond == 0)
def normalize_time(at: datetime) -> datetime:
    """``at`` in UTC, truncated to the second: the precision the table keeps."""
    return at.astimezone(UTC).replace(microsecond=0)


def _is_normal(at: datetime) -> bool:
    return at.tzinfo is UTC and at.microsecond == 0


def epoch_seconds(at: datetime) -> int:
    """Seconds since 1970-01-01T00:00Z of a time (stored form of every timestamp)."""
    return int(normalize_time(at).timestamp())


def from_epoch_seconds(seconds: int) -> datetime:
    """Inverse of ``epoch_seconds``: an aware UTC datetime."""
    return datetime.fromtimestamp(seconds, UTC)


# -- records and events ------------------------------------------------------------------


class NumberStatus(enum.Enum):
    """Status of a Number in the table (RK-NUM-007): ``current`` or ``revoked``."""

    CURRENT = "current"
    REVOKED = "revoked"


class NumberEventKind(enum.Enum):
    """What happened to a person's entry in the conversion table."""

    ISSUED = "issued"  # RK-NUM-001
    REISSUED = "reissued"  # RK-NUM-007
    RESIDENT_CODE_CHANGED = "resident-code-changed"  # RK-NUM-008


class ReissueReason(enum.Enum):
    """Why the person asked for a new Number (seed item 11; wire ``ReissueNumberRequest``)."""

    PERSON_REQUEST = "person-request"
    SUSPECTED_LEAK = "suspected-leak"


@dataclass(frozen=True, slots=True)
class NumberRecord:
    """One row of the conversion table: a Number ever issued and its holder (RK-NUM-007).

    ``resident_code`` is the holder's current code for a current Number, and the
    code that held it when it was revoked for a revoked one.
    """

    number: IndividualNumber
    resident_code: ResidentCode
    issued_at: datetime
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        if not _is_normal(self.issued_at) or (
            self.revoked_at is not None and not _is_normal(self.revoked_at)
        ):
            raise ValueError("record times are UTC whole seconds (use normalize_time)")

    @property
    def status(self) -> NumberStatus:
        return NumberStatus.CURRENT if self.revoked_at is None else NumberStatus.REVOKED


@dataclass(frozen=True, slots=True)
class NumberEvent:
    """One change of the conversion table, as history keeps it (RK-NUM-007, RK-NUM-008).

    ``resident_code`` and ``number`` are the person's code and Number *after*
    the event.  A ``REISSUED`` event names the revoked ``old_number`` and the
    ``reason``; a ``RESIDENT_CODE_CHANGED`` event names the retired
    ``old_resident_code``; an ``ISSUED`` event names neither.
    """

    kind: NumberEventKind
    at: datetime
    resident_code: ResidentCode
    number: IndividualNumber
    old_resident_code: ResidentCode | None = None
    old_number: IndividualNumber | None = None
    reason: ReissueReason | None = None

    def __post_init__(self) -> None:
        if not _is_normal(self.at):
            raise ValueError("event times are UTC whole seconds (use normalize_time)")
        reissued = self.kind is NumberEventKind.REISSUED
        changed = self.kind is NumberEventKind.RESIDENT_CODE_CHANGED
        if (self.old_number is not None) is not reissued or (self.reason is not None) is not (
            reissued
        ):
            raise ValueError("old_number and reason belong to REISSUED events only")
        if (self.old_resident_code is not None) is not changed:
            raise ValueError("old_resident_code belongs to RESIDENT_CODE_CHANGED events only")
        if reissued and self.old_number == self.number:
            raise ValueError("a re-issue changes the Number")
        if changed and self.old_resident_code == self.resident_code:
            raise ValueError("a resident-code change changes the resident code")


@dataclass(frozen=True, slots=True)
class ResidentCodeState:
    """What the table knows about one resident code: the facts every rule needs.

    ``current`` is its current Number (None when it has none); ``retired`` is
    True when a resident-code change replaced it (RK-NUM-008).  A retired code
    has no current Number.
    """

    current: IndividualNumber | None = None
    retired: bool = False

    def __post_init__(self) -> None:
        if self.retired and self.current is not None:
            raise ValueError("a retired resident code has no current Number")


NO_NUMBER = ResidentCodeState()
"""The state of a resident code the table has never seen."""


# -- rules (check, then the event to write) -----------------------------------------------


def require_current(state: ResidentCodeState, requirement: str = "RK-NUM-007") -> IndividualNumber:
    """The current Number of a resident code, or the specific refusal (lookup rule).

    :raises NotFoundError: ``not-found`` naming RK-NUM-008 when the code was retired
        by a resident-code change, naming ``requirement`` when it has no Number.
    """
    if state.retired:
        raise NotFoundError(
            "not-found",
            "this resident code was replaced by a resident-code change and no longer "
            "resolves to a Number; use the new resident code",
            "RK-NUM-008",
        )
    if state.current is None:
        raise NotFoundError(
            "not-found", "no Number has been issued for this resident code", requirement
        )
    return state.current


@icontract.require(_usable_time, "times are timezone-aware")
@icontract.ensure(
    lambda resident, result: (
        result.kind is NumberEventKind.ISSUED and result.resident_code == resident
    )
)
def decide_issue(
    resident: ResidentCode,
    state: ResidentCodeState,
    draw: Draw,
    ever_issued: Callable[[str], bool],
    at: datetime,
) -> NumberEvent:
    """Issue the first Number of a resident code (RK-NUM-001, RK-NUM-005, RK-NUM-008).

    Args:
        resident: the resident code (validated by construction, RK-NUM-006).
        state: the table's facts about ``resident``.
        draw: the injected CSPRNG draw.
        ever_issued: True for a Number issued to anyone, ever.
        at: the time of issue (timezone-aware).

    Returns:
        The ``ISSUED`` event to write.

    :raises ConflictError: ``number-already-issued`` (RK-NUM-005).
    :raises NotFoundError: ``unknown-resident`` (RK-NUM-008) for a retired code.
    :raises StateError: ``number-space-exhausted`` (RK-NUM-005).
    :raises ValueError: ``draw`` is broken (see ``issue_number``).
    """
    if state.retired:
        raise NotFoundError(
            "unknown-resident",
            "this resident code was replaced by a resident-code change; a replaced code "
            "is never given a Number again",
            "RK-NUM-008",
        )
    if state.current is not None:
        raise ConflictError(
            "number-already-issued",
            "this resident code already has a current Number; a new Number is issued "
            "only by re-issue at the person's request",
            "RK-NUM-005",
        )
    number = issue_number(draw, ever_issued)
    return NumberEvent(NumberEventKind.ISSUED, normalize_time(at), resident, number)


@icontract.require(_usable_time, "times are timezone-aware")
@icontract.ensure(
    lambda resident, state, result: (
        result.kind is NumberEventKind.REISSUED
        and result.resident_code == resident
        and result.old_number == state.current
        and result.number != state.current
    )
)
def decide_reissue(
    resident: ResidentCode,
    state: ResidentCodeState,
    draw: Draw,
    ever_issued: Callable[[str], bool],
    at: datetime,
    *,
    reason: ReissueReason = ReissueReason.PERSON_REQUEST,
) -> NumberEvent:
    """Replace a person's Number at their request (RK-NUM-007, RK-NUM-001, RK-NUM-005).

    The new Number is drawn exactly as at issue; the current Number counts as
    ever issued, so it cannot come back.  The store revokes the old Number (and
    keeps it), stores the new one and records the event.

    :raises NotFoundError: ``not-found`` — no Number (RK-NUM-007) or a retired code
        (RK-NUM-008).
    :raises StateError: ``number-space-exhausted`` (RK-NUM-005).
    :raises ValueError: ``draw`` is broken (see ``issue_number``).
    """
    old = require_current(state, "RK-NUM-007")
    number = issue_number(draw, lambda v: v == old.value or ever_issued(v))
    return NumberEvent(
        NumberEventKind.REISSUED, normalize_time(at), resident, number, None, old, reason
    )


@icontract.require(_usable_time, "times are timezone-aware")
@icontract.ensure(
    lambda old, new, old_state, result: (
        result.kind is NumberEventKind.RESIDENT_CODE_CHANGED
        and result.resident_code == new
        and result.old_resident_code == old
        and result.number == old_state.current
    )
)
def decide_resident_code_change(
    old: ResidentCode,
    old_state: ResidentCodeState,
    new: ResidentCode,
    new_state: ResidentCodeState,
    at: datetime,
) -> NumberEvent:
    """Follow a change of resident code: the Number continues (RK-NUM-008).

    :raises CallerError: ``validation-error`` when old and new are the same code.
    :raises NotFoundError: ``not-found`` when the old code has no Number or was
        retired; ``unknown-resident`` when the new code was retired.
    :raises ConflictError: ``number-already-issued`` when the new code already has
        a Number (it must not be treated as a new person).
    """
    if old == new:
        raise CallerError(
            "validation-error",
            "the old and the new resident code are the same; nothing to change",
            "RK-NUM-008",
        )
    if old_state.retired:
        raise NotFoundError(
            "not-found",
            "the old resident code was already replaced by an earlier resident-code change",
            "RK-NUM-008",
        )
    if old_state.current is None:
        raise NotFoundError(
            "not-found", "the old resident code has no Number to carry over", "RK-NUM-008"
        )
    if new_state.retired:
        raise NotFoundError(
            "unknown-resident",
            "the new resident code was itself replaced by a resident-code change and is "
            "never used again",
            "RK-NUM-008",
        )
    if new_state.current is not None:
        raise ConflictError(
            "number-already-issued",
            "the new resident code already has a Number; a resident-code change must not "
            "give a person a second Number",
            "RK-NUM-008",
        )
    return NumberEvent(
        NumberEventKind.RESIDENT_CODE_CHANGED,
        normalize_time(at),
        new,
        old_state.current,
        old_resident_code=old,
    )


# -- corporate numbers (seed item 32) -------------------------------------------------------


def _base12(base: str) -> bool:
    return len(base) == 12 and base.isascii() and base.isdigit()


@dataclass(frozen=True, slots=True)
class CorporateNumber:
    """法人番号: 13 ASCII digits, the leading one the check digit of the base (RK-CORP-001)."""

    value: str

    def __post_init__(self) -> None:
        if not is_valid_corporate_number(self.value):
            raise CallerError(
                "malformed-corporate-number",
                "a corporate number (法人番号) is 13 digits whose first digit is the check "
                "digit of the other 12",
                "RK-CORP-001",
            )

    @property
    def base(self) -> str:
        """The 12-digit base (会社法人等番号 or an assigned base)."""
        return self.value[1:]

    @classmethod
    @icontract.ensure(lambda base, result: result.base == base)
    def from_base(cls, base: str) -> CorporateNumber:
        """The corporate number of a 12-digit base (RK-CORP-001).

        :raises CallerError: ``validation-error`` when ``base`` is not 12 ASCII digits.
        """
        if not _base12(base):
            raise CallerError(
                "validation-error",
                "a corporate-number base is 12 ASCII digits",
                "RK-CORP-001",
            )
        return cls(str(corporate_number_check_digit(base)) + base)


@dataclass(frozen=True, slots=True)
class CorporateRecord:
    """A corporate number issued by the authority, and when (RK-CORP-002)."""

    number: CorporateNumber
    issued_at: datetime

    def __post_init__(self) -> None:
        if not _is_normal(self.issued_at):
            raise ValueError("record times are UTC whole seconds (use normalize_time)")


@icontract.require(_usable_time, "times are timezone-aware")
@icontract.ensure(lambda base, result: result.number.base == base)
def decide_corporate_issue(base: str, already_issued: bool, at: datetime) -> CorporateRecord:
    """Issue the corporate number of a 12-digit base, once (RK-CORP-001, RK-CORP-002).

    :raises CallerError: ``validation-error`` for a base that is not 12 ASCII digits.
    :raises ConflictError: ``corporate-number-already-issued`` for a base issued before.
    """
    number = CorporateNumber.from_base(base)
    if already_issued:
        raise ConflictError(
            "corporate-number-already-issued",
            "a corporate number with this 12-digit base was already issued; corporate "
            "numbers are issued once and never again",
            "RK-CORP-002",
        )
    return CorporateRecord(number, normalize_time(at))
