"""The agency node's conversion of legacy forms (seed item 29, RK-AGN-007).

``core.legacy_formats`` against specs/vectors/legacy-formats.json (written by hand)
and against properties: every real date written in the era it falls in, in any of
the forms legacy systems use, reads back as itself; the same date named in any
other era is refused, never moved; Gregorian forms and full-width digits read
back exactly; nothing any text holds makes the converter fail or answer a value
that is not a real date or a sex of the wire.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_reference.core.legacy_formats import (
    DATE_PROBLEMS,
    ERAS,
    SEX_PROBLEMS,
    SEXES,
    Conversion,
    birth_date,
    sex,
)

from .conftest import ROOT

VECTORS = json.loads(
    (ROOT / "specs" / "vectors" / "legacy-formats.json").read_text(encoding="utf-8")
)
_ERAS: list[dict[str, Any]] = VECTORS["eras"]
_WIDE = str.maketrans("0123456789.-/", "０１２３４５６７８９．－／")
_SYMBOL = {"明治": "㍾", "大正": "㍽", "昭和": "㍼", "平成": "㍻", "令和": "㋿"}
_DAYS = st.dates(dt.date(1873, 1, 1), dt.date(2099, 12, 31))


def _expected(case: dict[str, Any]) -> Conversion:
    want = case["expected"]
    return Conversion(want.get("value"), want.get("problem"))


@pytest.mark.requirement("RK-AGN-007")
@pytest.mark.parametrize("case", VECTORS["birth_date"], ids=lambda c: c["id"])
def test_birth_date_vectors(case: dict[str, Any]) -> None:
    assert birth_date(case["input"]) == _expected(case), case.get("comment")


@pytest.mark.requirement("RK-AGN-007")
@pytest.mark.parametrize("case", VECTORS["sex"], ids=lambda c: c["id"])
def test_sex_vectors(case: dict[str, Any]) -> None:
    assert sex(case["input"]) == _expected(case), case.get("comment")


def test_the_era_table_is_the_vectors() -> None:
    """The converter's eras are the published ones, day for day."""
    assert [(e.name, e.initial, e.first.isoformat(), e.offset) for e in ERAS] == [
        (e["name"], e["initial"], e["first"], e["offset"]) for e in _ERAS
    ]
    assert [e.last.isoformat() for e in ERAS[:-1]] == [e["last"] for e in _ERAS[:-1]]


def _era_of(day: dt.date) -> dict[str, Any]:
    (era,) = [e for e in _ERAS if e["first"] <= day.isoformat() <= (e["last"] or "9999")]
    return era


def _forms(era: dict[str, Any], year: int, day: dt.date) -> list[str]:
    """``day`` written in ``era`` as its year ``year``, in the forms legacy systems use."""
    y, m, d = str(year), day.month, day.day
    kanji_year = "元" if year == 1 else y
    forms = [
        f"{era['name']}{kanji_year}年{m}月{d}日",
        f"{era['name']}{year:02d}年{m:02d}月{d:02d}日",
        f"{era['initial']}{y}.{m}.{d}",
        f"{era['initial']}{year:02d}.{m:02d}.{d:02d}",
        f"{era['initial'].lower()}{y}/{m}/{d}",
        f"{era['name'][0]}{y}-{m}-{d}",
        f"{_SYMBOL[era['name']]}{kanji_year}年{m}月{d}日",
    ]
    return [*forms, *(f.translate(_WIDE) for f in forms)]


@pytest.mark.requirement("RK-AGN-007")
@settings(max_examples=300, deadline=None)
@given(day=_DAYS)
def test_a_date_in_its_own_era_reads_back_as_itself(day: dt.date) -> None:
    era = _era_of(day)
    for text in _forms(era, day.year - era["offset"], day):
        assert birth_date(text) == Conversion(day.isoformat()), text


@pytest.mark.requirement("RK-AGN-007")
@settings(max_examples=300, deadline=None)
@given(day=_DAYS, other=st.sampled_from(range(len(_ERAS))))
def test_a_date_named_in_another_era_is_refused_never_moved(day: dt.date, other: int) -> None:
    """``day`` written with the year number of another era names a day outside
    that era: refused, never read as a day of the era it falls in."""
    era = _ERAS[other]
    year = day.year - era["offset"]
    if era is _era_of(day) or not 1 <= year <= 99:
        return
    want = "date-lunisolar" if era["name"] == "明治" and year < 6 else "date-outside-era"
    for text in _forms(era, year, day):
        assert birth_date(text) == Conversion(None, want), text


@pytest.mark.requirement("RK-AGN-007")
@given(day=st.dates(dt.date(1000, 1, 1), dt.date(9999, 12, 31)))
def test_gregorian_forms_read_back_exactly(day: dt.date) -> None:
    iso = day.isoformat()
    plain = iso.replace("-", "")
    y, m, d = day.year, day.month, day.day
    for text in (iso, plain, f"{y}/{m}/{d}", f"{y}.{m:02d}.{d}", f"{y}年{m}月{d}日"):
        assert birth_date(text) == Conversion(iso), text
        assert birth_date(text.translate(_WIDE)) == Conversion(iso), text


@pytest.mark.requirement("RK-AGN-007")
@given(st.text(max_size=30))
def test_any_text_converts_to_a_real_date_or_a_stated_reason(text: str) -> None:
    got = birth_date(text)
    if got.value is None:
        assert got.problem in DATE_PROBLEMS
    elif text.strip():
        assert dt.date.fromisoformat(got.value).isoformat() == got.value
    else:
        assert got.value == text


@pytest.mark.requirement("RK-AGN-007")
@given(st.text(max_size=8))
def test_any_text_converts_to_a_sex_of_the_wire_or_a_stated_reason(text: str) -> None:
    got = sex(text)
    assert got.value in (*SEXES, text) if got.value is not None else got.problem in SEX_PROBLEMS
    if got.value is not None and text.strip():
        assert got.value in SEXES
