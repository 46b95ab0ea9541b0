"""Legacy forms of the 4 items, converted to the wire's forms (seed item 29, RK-AGN-007).

The agency node is the interface layer that absorbs the differences of the
legacy systems behind it (item 29): before it sends records for binding it
writes their date of birth as ``YYYY-MM-DD`` and their sex as ``male``,
``female`` or ``other``.  What it converts:

* dates of birth in the Japanese era calendar (和暦): ``昭和45年3月7日``,
  ``平成元年1月8日`` (元年 is year 1), ``S45.3.7``, ``H01.01.08``, ``R1.5.1``,
  ``昭45.3.7``, the era symbols ``㍼`` ``㍻`` ``㋿``; the eras 明治 (from 明治6年,
  the first year of the Gregorian calendar in Japan), 大正, 昭和, 平成 and 令和 with
  their exact first and last days;
* Gregorian dates as ``YYYYMMDD``, ``YYYY/M/D``, ``YYYY.M.D``, ``YYYY-M-D`` and
  ``YYYY年M月D日``;
* full-width digits and separators anywhere in them (NFKC);
* sex codes: ``1``/``2`` (住基, JIS X 0303, ISO/IEC 5218), ``男``/``女``,
  ``男性``/``女性``, ``M``/``F``, and the wire's words in any case.

It never guesses (RK-AGN-007).  A value it cannot convert is that record's own
problem, named by a reason:

* ``date-outside-era`` — a date before the first or after the last day of the
  era it names (``S64.1.8``: 平成 began on 1989-01-08; ``H31.5.1``: 令和 began
  on 2019-05-01; year 0);
* ``date-lunisolar`` — 明治1年 to 明治5年, dates of the lunisolar calendar, which
  no arithmetic converts;
* ``date-impossible`` — no such day (``1960-02-30``);
* ``date-form-unknown`` — any other form, among them a two-digit year
  (``250301``: 1925 or 2025?), day and month in an order the form does not
  fix (``07/04/1979``) and kanji numerals;
* ``sex-code-unknown`` — any other sex code, among them ``0`` (not known) and
  ``9`` (not applicable) of ISO/IEC 5218, which state no sex.

A blank or absent value is left as it is: the hub sends such a record to
review ``<item>-missing`` (RK-BND-003).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import icontract

__all__ = [
    "DATE_PROBLEMS",
    "ERAS",
    "SEXES",
    "SEX_PROBLEMS",
    "Conversion",
    "Era",
    "birth_date",
    "era_date",
    "sex",
]

DATE_PROBLEMS = ("date-outside-era", "date-lunisolar", "date-impossible", "date-form-unknown")
SEX_PROBLEMS = ("sex-code-unknown",)
SEXES = ("male", "female", "other")
_ISO = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
MAX_TEXT = 64
"""Longer values are no date or sex code of any legacy system: ``date-form-unknown``."""


@dataclass(frozen=True, slots=True)
class Era:
    """One era (元号): its name, its initial, its first and last day, and the
    Gregorian year of its year 1 less one (year ``y`` is ``offset + y``)."""

    name: str
    initial: str
    first: dt.date
    last: dt.date
    offset: int


ERAS = (
    Era("明治", "M", dt.date(1868, 1, 25), dt.date(1912, 7, 29), 1867),
    Era("大正", "T", dt.date(1912, 7, 30), dt.date(1926, 12, 24), 1911),
    Era("昭和", "S", dt.date(1926, 12, 25), dt.date(1989, 1, 7), 1925),
    Era("平成", "H", dt.date(1989, 1, 8), dt.date(2019, 4, 30), 1988),
    Era("令和", "R", dt.date(2019, 5, 1), dt.date(9999, 12, 31), 2018),
)
"""The eras the converter knows.  明治's first day is 慶応4年1月1日 (1868-01-25),
to which the era was dated back; its years 1-5 are lunisolar (``date-lunisolar``):
the Gregorian calendar began on 明治6年1月1日 = 1873-01-01."""
GREGORIAN_FROM = dt.date(1873, 1, 1)
_BY_NAME = {**{e.name: e for e in ERAS}, **{e.initial: e for e in ERAS},
            **{e.name[0]: e for e in ERAS}}  # fmt: skip

_SEP = "[-/.]"
_N = "([0-9]{1,2})"
_GREGORIAN = (
    re.compile(r"^([0-9]{4})([0-9]{2})([0-9]{2})$"),
    re.compile(rf"^([0-9]{{4}}){_SEP}([0-9]{{1,2}}){_SEP}([0-9]{{1,2}})$"),
    re.compile(r"^([0-9]{4})年([0-9]{1,2})月([0-9]{1,2})日$"),
)
_ERA = "({}|[{}])".format(  # an era's name, its initial or its name's first character
    "|".join(e.name for e in ERAS), "".join(e.initial + e.name[0] for e in ERAS)
)
_WAREKI = (
    re.compile(rf"^{_ERA}(元|[0-9]{{1,2}})年{_N}月{_N}日$", re.IGNORECASE),
    re.compile(rf"^{_ERA}(元|[0-9]{{1,2}}){_SEP}{_N}{_SEP}{_N}$", re.IGNORECASE),
)
_DASHES = str.maketrans({"‐": "-", "‑": "-", "−": "-", "ー": "-", "－": "-"})
_SEX_CODES = {
    "male": "male", "m": "male", "1": "male", "男": "male", "男性": "male",
    "female": "female", "f": "female", "2": "female", "女": "female", "女性": "female",
    "other": "other",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Conversion:
    """A legacy value in the wire's form (``value``), or why it cannot be
    converted (``problem``, with ``value`` None)."""

    value: str | None
    problem: str | None = None


def _plain(text: str) -> str:
    """NFKC (full-width digits and letters, era symbols such as ㍻ → 平成), the
    dashes legacy systems write as hyphens, no white space."""
    folded = unicodedata.normalize("NFKC", text).translate(_DASHES)
    return "".join(folded.split())


def _iso(day: dt.date) -> str:
    return f"{day.year:04d}-{day.month:02d}-{day.day:02d}"


def _day(year: int, month: int, day: int) -> dt.date | None:
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


def _is_iso_date(text: str) -> bool:
    return bool(_ISO.match(text)) and _day(*map(int, text.split("-"))) is not None


@icontract.require(lambda era: era in ERAS, "one of the eras the converter knows")
@icontract.require(lambda year, month, day: 0 <= year < 100 and 0 <= month < 100 and 0 <= day < 100)
@icontract.ensure(lambda result: (result.value is None) != (result.problem is None))
@icontract.ensure(lambda result: result.problem is None or result.problem in DATE_PROBLEMS)
@icontract.ensure(
    lambda era, result: (
        result.value is None
        or (
            era.first <= dt.date.fromisoformat(result.value) <= era.last
            and dt.date.fromisoformat(result.value) >= GREGORIAN_FROM
        )
    ),
    "a converted date lies in the era it names, in the Gregorian calendar",
)
def era_date(era: Era, year: int, month: int, day: int) -> Conversion:
    """Year ``year`` (元年 is 1), month and day of ``era`` as ``YYYY-MM-DD``."""
    if year < 1:
        return Conversion(None, "date-outside-era")
    found = _day(era.offset + year, month, day)
    if era.name == "明治" and year < 6:
        return Conversion(None, "date-lunisolar")
    if found is None:
        return Conversion(None, "date-impossible")
    if not era.first <= found <= era.last:
        return Conversion(None, "date-outside-era")
    return Conversion(_iso(found))


@icontract.require(lambda text: len(text) <= 10_000)
@icontract.ensure(lambda result: (result.value is None) != (result.problem is None))
@icontract.ensure(lambda result: result.problem is None or result.problem in DATE_PROBLEMS)
@icontract.ensure(
    lambda text, result: result.value is None or _is_iso_date(result.value) or result.value == text,
    "the value is a real date written YYYY-MM-DD, or the blank value as given",
)
@icontract.ensure(
    lambda text, result: not text.strip() or result.value is None or _is_iso_date(result.value)
)
def birth_date(text: str) -> Conversion:
    """A legacy date of birth as ``YYYY-MM-DD`` (see the module's forms); a blank
    value is returned as it is."""
    if not text.strip():
        return Conversion(text)
    plain = _plain(text) if len(text) <= MAX_TEXT else ""
    for form in _GREGORIAN:
        match = form.match(plain)
        if match:
            found = _day(*(int(g) for g in match.groups()))
            return Conversion(_iso(found)) if found else Conversion(None, "date-impossible")
    for form in _WAREKI:
        match = form.match(plain)
        if match:
            mark, year, month, day = match.groups()
            number = 1 if year == "元" else int(year)
            return era_date(_BY_NAME[mark.upper()], number, int(month), int(day))
    return Conversion(None, "date-form-unknown")


@icontract.require(lambda text: len(text) <= 10_000)
@icontract.ensure(lambda result: (result.value is None) != (result.problem is None))
@icontract.ensure(lambda result: result.problem is None or result.problem in SEX_PROBLEMS)
@icontract.ensure(
    lambda text, result: result.value is None or result.value in SEXES or result.value == text,
    "the value is a sex of the wire, or the blank value as given",
)
def sex(text: str) -> Conversion:
    """A legacy sex code as ``male``, ``female`` or ``other``; a blank value is
    returned as it is."""
    if not text.strip():
        return Conversion(text)
    found = _SEX_CODES.get(_plain(text).casefold()) if len(text) <= MAX_TEXT else None
    return Conversion(found) if found else Conversion(None, "sex-code-unknown")
