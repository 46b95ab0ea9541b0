"""A synthetic country for binding: notation per municipality and per agency (issue 18).

``synthetic_population.population`` makes the residents (households, moves,
marriages, twins, namesakes, outsiders).  This module makes them look like the
country's registers and agencies, each of which writes the same person its own
way, with the distributions written down in docs/synthetic-country.md:

* **per municipality** (the registry holds what the municipality writes): its
  address numerals (``3丁目12番5号``, the mixed ``三丁目12番5号``, ``3丁目12番地5``,
  all kanji), whether its towns carry 大字, and the ヶ/ケ/が of its place names;
  a share of residents is *removed* (除票: deceased, emigrated) with a reason;
* **per agency** (``AGENCIES``): how its system writes an address (its own
  numerals, or ``3-12-5``), whether it drops the prefecture, 大字, the building
  or writes the room as ``-301``, whether it holds 外字 or writes their standard
  form, whether it gives a kana reading and in which form (small kana written
  large, a typo), and the legacy forms of date and sex its system holds
  (和暦, ``YYYYMMDD``, ``1``/``2``), which its node converts (RK-AGN-007);
* **per record** the destructive noise of ``synthetic_population.extract`` (an
  old address or name, typos, ●, the name in kana, outsiders).

Each record carries its *features*, the case classes it belongs to, and the
ground truth: the person (registry row, or -1 for an outsider) and whether a
careful clerk binds it (``clerk``: the person is current and unique and the
record contradicts none of the person's items).  Deterministic by seed.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from dataclasses import dataclass, field

from ..core import legacy_formats
from ..core.binding_match import fold_items, items_fit
from ..core.binding_normalise import address_readings, fold_address, fold_name
from ..core.variant_kanji import VARIANT_KANJI
from .synthetic_population import MUNICIPALITIES, TOWNS, Population, extract, population

__all__ = ["AGENCIES", "Agency", "Country", "country"]

Items = tuple[str, str, str, str]

#: Register numeral styles of municipalities and their shares (an assumption: no
#: survey publishes them; issue 18 names the mixed form as what many write).
MUNICIPAL_STYLES = (("digits", 0.45), ("mixed", 0.25), ("banchi", 0.20), ("kanji", 0.10))
AZA_SHARE = 0.15  # municipalities whose registered towns carry 大字 (assumption: rural share)
REMOVED_SHARE = 0.03  # residents removed (除票) still in the registry (assumption, see docs)
GA_TOWNS = {"若葉": "若葉ケ丘", "富士見": "富士見ヶ丘", "春日": "春日が丘", "緑町": "緑ケ丘"}
_DESTRUCTIVE_NOISE = {
    "old-address": 0.02, "old-name": 0.005, "name-typo": 0.005, "address-typo": 0.005,
    "birth-typo": 0.003, "placeholder": 0.003, "kana-name": 0.005, "outsider": 0.02,
}  # fmt: skip


@dataclass(frozen=True)
class Agency:
    """How one agency's system writes the 4 items and the reading (shares of its records)."""

    name: str
    share: float  # of all agency records
    styles: tuple[tuple[str, float], ...]  # address numerals; "registry" = as registered
    no_prefecture: float
    no_aza: float
    building: tuple[tuple[str, float], ...]  # keep, drop, dash (-301)
    ga_swap: float  # writes ヶ/ケ/が of a place name another way
    standard_kanji: bool  # JIS X 0208 only: writes a 外字 as its standard form
    kana: float  # records with a kana reading
    kana_large: bool  # small kana written large (全銀-style fields)
    kana_typo: float  # of readings given: one kana wrong (a different reading)
    wareki: float  # date of birth held as 和暦
    yyyymmdd: float
    sex_codes: float  # sex held as 1/2


AGENCIES = (
    Agency("municipal-tax", 0.30, (("registry", 0.9), ("hyphen", 0.1)), 0.0, 0.0,
           (("keep", 0.9), ("drop", 0.1)), 0.0, False, 1.0, False, 0.002, 0.3, 0.0, 0.5),
    Agency("health-insurer", 0.25, (("hyphen", 0.7), ("digits", 0.3)), 0.05, 0.5,
           (("keep", 0.5), ("drop", 0.2), ("dash", 0.3)), 0.3, True, 1.0, True, 0.01,
           0.0, 1.0, 1.0),
    Agency("pension", 0.20, (("digits", 0.6), ("hyphen", 0.4)), 0.02, 0.3,
           (("keep", 0.7), ("drop", 0.3)), 0.2, True, 1.0, True, 0.005, 0.6, 0.4, 1.0),
    Agency("welfare", 0.15, (("mixed", 0.4), ("kanji", 0.3), ("banchi", 0.3)), 0.3, 0.2,
           (("keep", 0.8), ("drop", 0.2)), 0.1, False, 0.5, False, 0.01, 0.2, 0.0, 0.0),
    Agency("school", 0.10, (("hyphen", 0.5), ("mixed", 0.5)), 0.1, 0.4,
           (("keep", 0.6), ("drop", 0.2), ("dash", 0.2)), 0.2, True, 0.8, False, 0.02,
           0.0, 0.0, 0.0),
)  # fmt: skip
"""Agency profiles (every figure an assumption; docs/synthetic-country.md says why each)."""

_ADDRESS = re.compile(
    "^({})({})([0-9]+)丁目([0-9]+)番([0-9]+)号(.*)$".format(
        "|".join(p + m for p, m in MUNICIPALITIES), "|".join(sorted(TOWNS, key=len, reverse=True))
    )
)
_KANJI_DIGIT = "〇一二三四五六七八九"
_SMALL = str.maketrans("ァィゥェォッャュョ", "アイウエオツヤユヨ")
_VOICE = str.maketrans(
    "カキクケコサシスセソタチツテトハヒフヘホ", "ガギグゲゴザジズゼゾダヂヅデドバビブベボ"
)
_UNVOICE = str.maketrans(
    "ガギグゲゴザジズゼゾダヂヅデドバビブベボ", "カキクケコサシスセソタチツテトハヒフヘホ"
)


def _kanji(n: int) -> str:
    """1..99 as 漢数字 with 十."""
    tens, ones = divmod(n, 10)
    text = "" if tens == 0 else ("十" if tens == 1 else _KANJI_DIGIT[tens] + "十")
    return text + ("" if ones == 0 else _KANJI_DIGIT[ones])


@dataclass(frozen=True)
class _Parts:
    muni: str  # 都道府県 + 市区町村
    pref: str
    town: str
    numbers: tuple[int, int, int]
    building: str  # "" or " メゾン青葉 301号室"


def _parse(address: str) -> _Parts | None:
    match = _ADDRESS.match(address)
    if match is None:
        return None
    muni, town = match.group(1), match.group(2)
    pref = next(p for p, m in MUNICIPALITIES if p + m == muni)
    numbers = (int(match.group(3)), int(match.group(4)), int(match.group(5)))
    return _Parts(muni, pref, town, numbers, match.group(6))


def _render(parts: _Parts, style: str, *, aza: bool, ga: str | None, building: str) -> str:
    a, b, c = parts.numbers
    town = GA_TOWNS.get(parts.town, parts.town) if ga is None else ga
    head = parts.muni + ("大字" if aza else "") + town
    numbers = {
        "digits": f"{a}丁目{b}番{c}号",
        "mixed": f"{_kanji(a)}丁目{b}番{c}号",
        "banchi": f"{a}丁目{b}番地{c}",
        "kanji": f"{_kanji(a)}丁目{_kanji(b)}番{_kanji(c)}号",
        "hyphen": f"{a}-{b}-{c}",
    }[style]
    return head + numbers + building


def _pick(rng: random.Random, choices: tuple[tuple[str, float], ...]) -> str:
    draw, total = rng.random(), 0.0
    for value, share in choices:
        total += share
        if draw < total:
            return value
    return choices[-1][0]


@dataclass
class Country:
    """The registry as the municipalities hold it, and one extract per agency mix."""

    latest: list[Items]
    kana: list[str]
    history: dict[int, list[Items]]
    removed: dict[int, str]  # row → removal reason (除票)
    records: list[Items] = field(default_factory=list)
    readings: list[str | None] = field(default_factory=list)
    truth: list[int] = field(default_factory=list)  # registry row, -1 for an outsider
    clerk: list[bool] = field(default_factory=list)  # a careful clerk binds it to truth
    features: list[tuple[str, ...]] = field(default_factory=list)
    agency: list[str] = field(default_factory=list)
    problem: list[bool] = field(default_factory=list)  # the node cannot convert it


def _municipal_models(rng: random.Random) -> dict[str, tuple[str, bool]]:
    return {p + m: (_pick(rng, MUNICIPAL_STYLES), rng.random() < AZA_SHARE)
            for p, m in MUNICIPALITIES}  # fmt: skip


def _registered(address: str, models: dict[str, tuple[str, bool]]) -> str:
    parts = _parse(address)
    if parts is None:
        return address
    style, aza = models[parts.muni]
    return _render(parts, style, aza=aza, ga=None, building=parts.building)


def _wareki(iso: str) -> str | None:
    year, month, day = (int(x) for x in iso.split("-"))
    for era in reversed(legacy_formats.ERAS):
        if (year, month, day) >= (era.first.year, era.first.month, era.first.day):
            n = year - era.offset
            return f"{era.name}{'元' if n == 1 else n}年{month}月{day}日"
    return None


def _groups(pop: Population) -> tuple[set[int], set[int]]:
    """Rows with a twin (same folded family name, address and birth date, other given
    name) and rows with a near-namesake (same folded name and birth date elsewhere)."""
    by_home: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    by_name: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row, (name, address, born, _sex) in enumerate(pop.latest):
        by_home[(fold_name(name.split(" ")[0]), fold_address(address), born)].append(row)
        by_name[(fold_name(name), born)].append(row)
    twins = {r for rows in by_home.values() if len(rows) > 1 for r in rows}
    namesakes = {r for rows in by_name.values() if len(rows) > 1 for r in rows}
    return twins, namesakes


def _same(record: Items, registered: Items) -> bool:
    """The record's folded 4 items fit the registered ones (RK-BND-002: under one of
    its address's readings, the building and room not required)."""
    theirs = fold_items(registered)
    name = fold_name(record[0])
    return any(items_fit((name, a, *record[2:]), theirs) for a in address_readings(record[1]))


def country(size: int, seed: int = 1) -> Country:
    """``size`` residents as their municipalities register them and ``size`` agency
    records written by the agencies of ``AGENCIES`` (deterministic by ``seed``)."""
    rng = random.Random(seed * 7919 + 18)
    pop = population(size, seed=seed)
    ex = extract(pop, size, seed=seed + 1, noise=_DESTRUCTIVE_NOISE)
    models = _municipal_models(rng)
    latest = [(n, _registered(a, models), b, s) for n, a, b, s in pop.latest]
    history = {r: [(n, _registered(a, models), b, s) for n, a, b, s in states]
               for r, states in pop.history.items()}  # fmt: skip
    removed = {r: ("deceased" if rng.random() < 0.8 else "emigrated")
               for r in range(len(latest)) if rng.random() < REMOVED_SHARE}  # fmt: skip
    twins, namesakes = _groups(pop)
    out = Country(latest, list(pop.kana), history, removed)
    agency_shares = tuple((a.name, a.share) for a in AGENCIES)
    by_name = {a.name: a for a in AGENCIES}
    for record, row, noise in zip(ex.records, ex.truth, ex.noise, strict=True):
        agency = by_name[_pick(rng, agency_shares)]
        items, reading, features, problem = _write(rng, agency, record, row, pop, models)
        # a destructive change that folds away is none (a name before marriage 浜田, now 濱田)
        changed = noise != "clean" and not (row >= 0 and _same(items, latest[row]))
        if changed:
            features.append(noise)
        if row >= 0 and row in removed:
            features.append("removed")
        if row in twins:
            features.append("twin")
        if row in namesakes:
            features.append("near-namesake")
        contradicts = changed or "kana-typo" in features or problem
        out.records.append(items)
        out.readings.append(reading)
        out.truth.append(row)
        out.clerk.append(row >= 0 and row not in removed and not contradicts)
        out.features.append(tuple(features) or ("plain",))
        out.agency.append(agency.name)
        out.problem.append(problem)
    return out


def _write(  # noqa: PLR0917 -- one record's inputs, private to country()
    rng: random.Random,
    agency: Agency,
    record: Items,
    row: int,
    pop: Population,
    models: dict[str, tuple[str, bool]],
) -> tuple[Items, str | None, list[str], bool]:
    """One record as ``agency`` writes it, its features, and whether its node
    cannot convert it (a problem of its own)."""
    name, address, born, sex = record
    features: list[str] = []
    parts = _parse(address)
    if parts is not None:
        registered_style, aza = models[parts.muni]
        style = _pick(rng, agency.styles)
        style = registered_style if style == "registry" else style
        if style != registered_style:
            features.append(f"address-{style}")
        keep_aza = aza and rng.random() >= agency.no_aza
        if aza and not keep_aza:
            features.append("no-aza")
        ga = None
        if parts.town in GA_TOWNS and rng.random() < agency.ga_swap:
            registered = GA_TOWNS[parts.town]
            mark = next(ch for ch in registered if ch in "ケヶが")
            ga = registered.replace(mark, sorted(set("ケヶが") - {mark})[rng.randrange(2)])
            features.append("ga-variant")
        building = parts.building
        if building:
            how = _pick(rng, agency.building)
            if how == "drop":
                building = ""
                features.append("no-building")
            elif how == "dash":
                building = "-" + building.rsplit(" ", 1)[-1].removesuffix("号室")
                features.append("room-dash")
        address = _render(parts, style, aza=keep_aza, ga=ga, building=building)
        if rng.random() < agency.no_prefecture:
            address = address.removeprefix(parts.pref)
            features.append("no-prefecture")
    if agency.standard_kanji and any(ch in VARIANT_KANJI for ch in name):
        name = "".join(VARIANT_KANJI.get(ch, ch) for ch in name)
        features.append("variant-kanji")
    reading: str | None = None
    if row >= 0 and rng.random() < agency.kana:
        reading = pop.kana[row]
        features.append("kana")
        if agency.kana_large and reading.translate(_SMALL) != reading:
            reading = reading.translate(_SMALL)
            features.append("kana-large")
        if rng.random() < agency.kana_typo:
            voiced = reading.translate(_VOICE)
            changed = voiced if voiced != reading else reading.translate(_UNVOICE)
            if changed != reading:
                pos = next(i for i, (a, b) in enumerate(zip(reading, changed, strict=True))
                           if a != b)  # fmt: skip
                reading = reading[:pos] + changed[pos] + reading[pos + 1 :]
                features.append("kana-typo")
    sent_born, sent_sex = born, sex
    draw = rng.random()
    if draw < agency.wareki:
        sent_born = _wareki(born) or born
        features.append("legacy-date")
    elif draw < agency.wareki + agency.yyyymmdd:
        sent_born = born.replace("-", "")
        features.append("legacy-date")
    if rng.random() < agency.sex_codes:
        sent_sex = {"male": "1", "female": "2"}.get(sex, sex)
        features.append("legacy-sex")
    # the agency node converts the legacy forms before it sends (RK-AGN-007)
    date, code = legacy_formats.birth_date(sent_born), legacy_formats.sex(sent_sex)
    if date.value is None or code.value is None:
        return (name, address, sent_born, sent_sex), reading, features, True
    return (name, address, date.value, code.value), reading, features, False
