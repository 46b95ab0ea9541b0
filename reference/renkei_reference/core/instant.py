"""Instants: points in time as whole microseconds since 1970-01-01T00:00:00Z.

The core's time rules (linkage deadlines and expiry, key-version windows, the
retention boundary of RK-RET-001) work on ``Instant``, a plain integer, so that
CrossHair can analyse their contracts symbolically (it cannot build
timezone-aware ``datetime`` values).  The shell converts at its edge:
``instant_of`` turns the clock's aware datetime into an instant,
``datetime_of`` and ``iso_of`` turn an instant back into the UTC datetime or
the ISO 8601 text the wire and the stores carry.  Microseconds, the resolution
of ``datetime``, make the round trip exact.

The calendar here is the proleptic Gregorian calendar read in UTC, computed on
integers (days since the epoch, after H. Hinnant's ``days_from_civil`` and
``civil_from_days``): ``add_years`` is "the same date and time of day ``years``
years later", 29 February becoming 28 February in a year without one.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import NewType

import icontract

from .contract_levels import HOT

__all__ = [
    "DAY",
    "MAX_INSTANT",
    "MIN_INSTANT",
    "SECOND",
    "Instant",
    "add_years",
    "civil_from_days",
    "date_of",
    "datetime_of",
    "days_from_civil",
    "days_in_month",
    "instant_of",
    "is_leap",
    "iso_of",
    "iso_text",
    "shift_years",
    "year_of",
]

Instant = NewType("Instant", int)
"""Microseconds since 1970-01-01T00:00:00Z (negative before it)."""

SECOND = 1_000_000
DAY = 86_400 * SECOND
MIN_INSTANT = Instant(-62_135_596_800 * SECOND)  # 0001-01-01T00:00:00Z
MAX_INSTANT = Instant(253_402_300_800 * SECOND - 1)  # 9999-12-31T23:59:59.999999Z
MAX_YEAR = 9999

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _in_range(at: int) -> bool:
    return MIN_INSTANT <= at <= MAX_INSTANT


_MICROSECOND = timedelta(microseconds=1)


# ---------------------------------------------------------------------------
# The shell's edge: aware datetimes and ISO 8601 text
# ---------------------------------------------------------------------------


def instant_of(at: datetime) -> Instant:
    """The instant of a timezone-aware datetime.

    :raises ValueError: ``at`` is naive (it names no instant).
    """
    if at.utcoffset() is None:
        raise ValueError("a naive datetime names no instant; give it a UTC offset")
    return Instant((at - _EPOCH) // _MICROSECOND)


def datetime_of(at: Instant) -> datetime:
    """The instant as a UTC datetime (the inverse of ``instant_of``)."""
    return _EPOCH + timedelta(microseconds=at)


@icontract.require(_in_range, "an instant of years 1 to 9999", enabled=HOT)
@icontract.ensure(lambda result: result.endswith("+00:00") and result[10] == "T", enabled=HOT)
def iso_of(at: Instant) -> str:
    """The instant in ISO 8601 at offset ``+00:00``, as ``datetime.isoformat`` writes
    it for a UTC datetime (microseconds only when there are any); integers only."""
    days, rest = divmod(at, DAY)
    year, month, day = _civil(days)
    seconds, micro = divmod(rest, SECOND)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    fraction = f".{micro:06d}" if micro else ""
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}{fraction}+00:00"


@functools.lru_cache(maxsize=4096)
def iso_text(at: Instant) -> str:
    """``iso_of``, remembered for the latest 4,096 instants: a linkage's times are
    written at each of its steps (its stored record, the responses it is in)."""
    return iso_of(at)


# ---------------------------------------------------------------------------
# The civil calendar on integers (proleptic Gregorian, UTC)
# ---------------------------------------------------------------------------


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _month_days(year: int, month: int) -> int:
    if month == 2:
        return 29 if is_leap(year) else 28
    return 30 if month in (4, 6, 9, 11) else 31


@icontract.require(lambda month: 1 <= month <= 12)
@icontract.ensure(lambda result: 28 <= result <= 31)
@icontract.ensure(lambda year, month, result: (result == 29) == (month == 2 and is_leap(year)))
def days_in_month(year: int, month: int) -> int:
    """The number of days of a month (1..12) of a year."""
    return _month_days(year, month)


def _valid_date(year: int, month: int, day: int) -> bool:
    return 1 <= year <= MAX_YEAR and 1 <= month <= 12 and 1 <= day <= _month_days(year, month)


def _days(year: int, month: int, day: int) -> int:
    y = year - 1 if month <= 2 else year
    era = y // 400
    yoe = y - era * 400  # 0..399
    doy = (153 * (month - 3 if month > 2 else month + 9) + 2) // 5 + day - 1  # 0..365
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy  # 0..146096
    return era * 146_097 + doe - 719_468


def _civil(days: int) -> tuple[int, int, int]:
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097  # 0..146096
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365  # 0..399
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # 0..365
    mp = (5 * doy + 2) // 153  # 0..11, March first
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return (yoe + era * 400 + (1 if month <= 2 else 0), month, day)


_MIN_DAY = -719_162  # 0001-01-01
_MAX_DAY = 2_932_896  # 9999-12-31


@icontract.require(_valid_date, "a date of years 1 to 9999")
@icontract.ensure(lambda result: _MIN_DAY <= result <= _MAX_DAY)
@icontract.ensure(lambda year, month, day, result: _civil(result) == (year, month, day))
def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to the date (negative before it)."""
    return _days(year, month, day)


@icontract.require(lambda days: _MIN_DAY <= days <= _MAX_DAY, "a day of years 1 to 9999")
@icontract.ensure(lambda result: _valid_date(*result))
@icontract.ensure(lambda days, result: _days(*result) == days)
def civil_from_days(days: int) -> tuple[int, int, int]:
    """The (year, month, day) ``days`` days after 1970-01-01."""
    return _civil(days)


def year_of(at: int) -> int:
    """The UTC calendar year of an instant (no contract: for use in contracts)."""
    return _civil(at // DAY)[0]


@icontract.require(_in_range, "an instant of years 1 to 9999")
@icontract.ensure(lambda result: _valid_date(*result))
def date_of(at: Instant) -> tuple[int, int, int]:
    """The UTC calendar date (year, month, day) of an instant."""
    return _civil(at // DAY)


def _same_date_later(at: Instant, years: int, result: Instant) -> bool:
    (y0, m0, d0), (y1, m1, d1) = _civil(at // DAY), _civil(result // DAY)
    leap_day_moved = (m0, d0, d1) == (2, 29, 28) and not is_leap(y1)
    return y1 == y0 + years and m1 == m0 and (d1 == d0 or leap_day_moved)


@icontract.require(_in_range, "an instant of years 1 to 9999")
@icontract.require(lambda years: years >= 0)
@icontract.require(
    lambda at, years: year_of(at) + years <= MAX_YEAR,
    "the result is a representable date",
)
@icontract.ensure(lambda result: MIN_INSTANT <= result <= MAX_INSTANT)
@icontract.ensure(lambda at, years, result: result >= at and (result > at) == (years > 0))
@icontract.ensure(lambda at, result: result % DAY == at % DAY, "the same time of day")
@icontract.ensure(_same_date_later, "the same month and day, `years` years later")
def add_years(at: Instant, years: int) -> Instant:
    """``at`` moved ``years`` calendar years on (UTC): the same month, day and time
    of day; 29 February becomes 28 February when the target year has none."""
    return shift_years(at, years)


def shift_years(at: Instant, years: int) -> Instant:
    """``add_years`` without its contract checks: for callers whose own contracts
    state what they rely on (each check recomputes the calendar)."""
    days, time_of_day = divmod(at, DAY)
    year, month, day = _civil(days)
    year += years
    if month == 2 and day == 29 and not is_leap(year):
        day = 28
    return Instant(_days(year, month, day) * DAY + time_of_day)
