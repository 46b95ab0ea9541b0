"""Times and information kinds as a person in Japan reads them (RK-PORT-006):
one source (core/display.py) for My Portal and the auditor's dashboard."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.display import JST, jst_day_start, jst_text, kind_names

_TEXT = re.compile(r"^(\d{4})年(\d{1,2})月(\d{1,2})日 (\d{1,2})時(\d\d)分$")


@pytest.mark.requirement("RK-PORT-006")
def test_an_instant_reads_in_japan_standard_time_to_the_minute() -> None:
    at = datetime(2026, 12, 6, 4, 27, 59, 999_999, tzinfo=UTC)
    assert jst_text(at) == "2026年12月6日 13時27分"
    assert jst_text(datetime(2026, 4, 1, 16, 5, tzinfo=UTC)) == "2026年4月2日 1時05分"
    assert jst_text(datetime(2027, 1, 1, 0, 0, tzinfo=timezone(timedelta(hours=-5)))) == (
        "2027年1月1日 14時00分"
    )


@pytest.mark.requirement("RK-PORT-006")
@given(st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(8999, 12, 30)))
def test_the_text_names_the_same_minute_in_japan(naive: datetime) -> None:
    at = naive.replace(tzinfo=UTC)
    match = _TEXT.match(jst_text(at))
    assert match, jst_text(at)
    shown = datetime(*(int(g) for g in match.groups()), tzinfo=JST)  # type: ignore[misc]
    assert timedelta(0) <= at - shown < timedelta(minutes=1)


@pytest.mark.requirement("RK-PORT-006")
def test_a_day_entered_is_a_day_in_japan() -> None:
    assert jst_day_start(date(2026, 4, 1)) == datetime(2026, 3, 31, 15, 0, tzinfo=UTC)


@pytest.mark.requirement("RK-PORT-006")
def test_kinds_read_by_their_japanese_name_and_unknown_codes_as_they_are() -> None:
    assert kind_names("resident-tax") == ("住民税", "resident tax")
    assert kind_names("pension-record")[0] == "年金給付関係情報"
    assert kind_names("kind-7") == ("kind-7", "kind-7")
    with pytest.raises(ValueError, match="offset"):
        jst_text(datetime(2026, 1, 1))  # an instant without its offset is no instant
