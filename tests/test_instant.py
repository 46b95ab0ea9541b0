"""Instants, the core's integer time (RK-RET-001, RK-FLOW-004, RK-KEY-002 rely on it).

The shell converts the clock's aware datetimes to ``Instant`` and back at its
edge; these properties hold the conversion to ``datetime``'s own arithmetic:
the round trip is exact at every offset, ``iso_of`` writes what
``datetime.isoformat`` writes for UTC, and the integer calendar agrees with
``datetime.date`` on every day of years 1 to 9999.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.instant import (
    DAY,
    MAX_INSTANT,
    MIN_INSTANT,
    Instant,
    add_years,
    civil_from_days,
    date_of,
    datetime_of,
    days_from_civil,
    days_in_month,
    instant_of,
    iso_of,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
offsets = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
aware = st.datetimes(
    min_value=datetime(2, 1, 1), max_value=datetime(9998, 12, 31), timezones=offsets
)
instants = st.integers(MIN_INSTANT, MAX_INSTANT).map(Instant)


@given(aware)
def test_an_aware_datetime_round_trips_exactly(at: datetime) -> None:
    i = instant_of(at)
    assert datetime_of(i) == at
    assert datetime_of(i).utcoffset() == timedelta(0)
    assert i == (at - EPOCH) // timedelta(microseconds=1)


@given(instants)
def test_an_instant_round_trips_and_is_written_as_isoformat_writes_utc(at: Instant) -> None:
    as_datetime = datetime_of(at)
    assert instant_of(as_datetime) == at
    assert iso_of(at) == as_datetime.isoformat()
    assert datetime.fromisoformat(iso_of(at)) == as_datetime


@given(aware, aware)
def test_instants_order_as_the_datetimes_they_name(a: datetime, b: datetime) -> None:
    assert (instant_of(a) < instant_of(b)) == (a < b)
    assert (instant_of(a) == instant_of(b)) == (a == b)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        instant_of(datetime(2030, 1, 1))


@given(st.dates())
def test_the_integer_calendar_agrees_with_datetime(day: date) -> None:
    days = (day - date(1970, 1, 1)).days
    assert civil_from_days(days) == (day.year, day.month, day.day)
    assert days_from_civil(day.year, day.month, day.day) == days
    assert days_in_month(day.year, day.month) == calendar.monthrange(day.year, day.month)[1]
    assert date_of(Instant(days * DAY)) == (day.year, day.month, day.day)


@given(instants, st.integers(0, 200))
def test_add_years_keeps_month_day_and_time_and_caps_29_february(at: Instant, years: int) -> None:
    start = datetime_of(at)
    if start.year + years > 9999:
        return
    moved = datetime_of(add_years(at, years))
    day = min(start.day, calendar.monthrange(start.year + years, start.month)[1])
    assert moved == start.replace(year=start.year + years, day=day)
