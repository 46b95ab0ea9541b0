"""Normalisation of the 4 items for binding (４情報の正規化, seed item 14).

Two levels, both deterministic and pure:

* ``strict_text`` — the strict form of RK-BND-005: Unicode NFKC and runs of
  white space collapsed into one space.  Full-width and half-width forms
  (全角・半角) become one.  A private body binds on it (RK-BND-004); a record
  bound otherwise whose strict form is not the resident's gets the notice
  ``variant-form``.
* ``fold_name`` / ``fold_address`` — the *folded* forms of RK-BND-005
  (specs/binding-normalisation.md, the table in
  specs/binding-normalisation.json): what the hub binds on, and what finds
  candidates, ambiguity and review reasons (RK-BND-002, RK-BND-003):

  - everything ``strict_text`` does, then all white space removed;
  - in names, commas removed and letter case folded (SMITH, JOHN = Smith John),
    and the historical kana ヰ/ヱ (ゐ/ゑ) as イ/エ (``HISTORICAL_KANA``);
  - hiragana → katakana and half-width katakana → full-width (``jaconv``);
  - variation selectors removed and variant kanji (異体字) → one
    representative, by ``VARIANT_KANJI`` (core/variant_kanji.py, generated
    from the MJ縮退マップ and Unihan: 髙→高, 﨑/嵜→崎, 齋→斎, 齊→斉, 邉/邊→辺, …);
  - in addresses, folded as a whole (version 2 of the spec): the prefecture
    and county left out before a municipality whose name names it alone
    (core/municipalities.py, from Japan Post's KEN_ALL: 「東京都練馬区」 →
    ``練馬区``, but 「東京都府中市」 stays, 府中市 being in 広島県 too), address numbers
    (kanji, full-width, ASCII) become integers, every dash (``DASHES``) between two is
    one, and 「三丁目12番5号」「3-12-5」
    「3丁目12番地5」「３－１２－５」「3の12の5」 all become ``3-12-5``; 大字/字 are
    left out and ヶ/ケ/が between two kanji are one; ``address_parts`` reads a
    folded address as place and number, building and room (方書),
    ``address_locator`` the street locator of a Kyoto ward's address (通り名:
    「河原町通三条上る」 → ``河原町3条上ル``), and ``addresses_fit`` compares two of
    them (building, room and locator not required).
* ``fold_kana`` — the folded form of a kana reading (RK-BND-002, RK-BND-005):
  NFKC, white space and ・ removed, voiced marks composed, hiragana →
  katakana, small kana → large, ヂ/ヅ → ジ/ズ, ヲ/ヰ/ヱ → オ/イ/エ, ヴ and its row →
  バ行 (``KANA_VU``) and long vowels written ー (``KANA_LENGTHENERS``); never voiced →
  unvoiced, never a long vowel and a short one.

Folding only ever *merges* spellings; the matcher treats any two residents
whose folded items coincide as ambiguous, so folding can turn a bind into a
review but never a review into a wrong bind.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import icontract
import jaconv

from .municipalities import MUNICIPALITIES
from .variant_kanji import VARIANT_KANJI

__all__ = [
    "DASHES",
    "HISTORICAL_KANA",
    "KANA_EQUIVALENTS",
    "KANA_LENGTHENERS",
    "KANA_ROWS",
    "KANA_VU",
    "PLACEHOLDERS",
    "VARIANT_KANJI",
    "VARIATION_SELECTORS",
    "address_locator",
    "address_parts",
    "address_place",
    "address_readings",
    "addresses_fit",
    "fold_address",
    "fold_address_whole",
    "fold_kana",
    "fold_name",
    "has_placeholder",
    "kana_reading",
    "kanji_numeral_to_int",
    "strict_text",
]

#: Characters that stand for a lost character (RK-BND-005): ● 〓 U+FFFD.
PLACEHOLDERS = frozenset("\u25cf\u3013\ufffd")

# PLACEHOLDERS and the private-use characters (general category Co: U+E000–F8FF and
# planes 15 and 16 but their last two code points), in one character class
_LOST = re.compile("[\u25cf\u3013\ufffd\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd]")

#: Variation selectors (U+FE00–FE0F, U+E0100–E01EF): a variation sequence picks a
#: glyph of its base character (an IVS of the MJ or Adobe-Japan1 collections), never
#: another character, so the folded forms drop them (RK-BND-005).
VARIATION_SELECTORS = frozenset(chr(c) for c in (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0)))
_FOLD_TABLE = {ord(k): v for k, v in VARIANT_KANJI.items()} | dict.fromkeys(
    map(ord, VARIATION_SELECTORS)
)
# hiragana U+3041–U+3096, U+309D–U+309E → katakana (+0x60; what jaconv.hira2kata
# does), and the variant kanji, in one table: the domains are disjoint
_KATAKANA_VARIANTS = str.maketrans(
    {chr(c): chr(c + 0x60) for c in (*range(0x3041, 0x3097), 0x309D, 0x309E)} | _FOLD_TABLE
)

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_KANJI_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMERAL = "〇零一二三四五六七八九十百千"

# The address fold (specs/binding-normalisation.md §2, "Address"), on the text
# after NFKC, katakana and variant kanji, white space still in place:
_NUM = f"0-9{_KANJI_NUMERAL}"  # a numeral character, ASCII or kanji
#: The dashes of the address fold (RK-BND-005, specs/binding-normalisation.md §2): every
#: character of Unicode general category Pd but the wave dashes 〜 〰, and the look-alikes
#: written for a dash in Japanese text: minus −, hyphen bullet ⁃, the long-vowel mark ー
#: (ｰ after NFKC) and the box-drawing lines ─ ━ (OCR, legacy code pages).
DASHES = frozenset(
    "-\u058a\u05be\u1400\u1806\u2010\u2011\u2012\u2013\u2014\u2015\u2e17\u2e1a\u2e3a"
    "\u2e3b\u2e40\u2e5d\u30a0\ufe31\ufe32\ufe58\ufe63\uff0d\U00010ead"
    "\u2212\u2043\u30fc\u2500\u2501"
)
_DASHES = re.escape("".join(sorted(DASHES)))  # the same, as the inside of a character class
_IDEOGRAPH = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003ffff"
_SEPARATOR = f"(?:丁目|番地ノ?|番ノ?|号(?!室)|ノ|[{_DASHES}])"
_AZA = re.compile("大?字")  # 大字・字, the prefixes of a 大字/字 name
_GA = re.compile(f"(?<=[{_IDEOGRAPH}])[ヶケガ](?=[{_IDEOGRAPH}])")  # 霞が関・霞ヶ関・霞ケ関
_KANJI_RUN = re.compile(f"[{_KANJI_NUMERAL}]+")
# a kanji numeral run is an address number when a unit, a separator and a numeral,
# white space or the end follow it, or when a numeral and a separator precede it
_NUMBER_AFTER = re.compile(f"丁目|番|号|条|地割|[0-9]|(?:{_SEPARATOR}\\s?)+[{_NUM}]|\\s|$")
_NUMBER_BEFORE = re.compile(f"[{_NUM}](?:\\s?{_SEPARATOR})*\\s?$")
_IDEOGRAPH_AT = re.compile(f"[{_IDEOGRAPH}]")  # a kanji follows: 「7 千里山ハイツ」 is a name
_LEADING_ZEROS = re.compile("(?<![0-9])0+(?=[0-9])")
_FIRST_DIGIT = re.compile("[0-9０-９]")
_SPACE_RUN = re.compile(r"\s+")
_ANY_DIGIT = re.compile("[0-9]")
_OPENS = frozenset("0123456789丁番号条地ノ") | DASHES  # what may begin a number's context
_MAYBE_GA = re.compile("[ヶケガ]")
_BETWEEN = re.compile(f"(?<=[0-9])(?:(?:\\s*{_SEPARATOR})+\\s*|\\s+)(?=[0-9])")
_TRAILING = re.compile(f"(?<=[0-9])(?:\\s*(?:番地|番|号))+(?![{_IDEOGRAPH}])")  # a run at once


def _place(text: str) -> str:
    """A name of the municipality table as steps 1-2 fold it, ヶ/ケ/ガ between two
    kanji as ケ (what ``_municipality`` compares, so 袖ヶ浦市 is 袖ケ浦市)."""
    text = "".join(unicodedata.normalize("NFKC", text).split())
    return _GA.sub("ケ", _AZA.sub("", text.translate(_KATAKANA_VARIANTS)))


# The municipality table (core/municipalities.py, from KEN_ALL), folded as the address:
# the prefectures; (prefecture, name) and (county, name) → the prefectures they name;
# name → its prefectures (several: 府中市 in 東京都 and 広島県).
_PREFECTURES: dict[str, str] = {_place(p): p for _, p, _, _ in MUNICIPALITIES}
_IN_PREFECTURE: frozenset[tuple[str, str]] = frozenset(
    (_place(p), _place(n)) for _, p, _, n in MUNICIPALITIES
)
_IN_COUNTY: dict[tuple[str, str], tuple[str, ...]] = {}
_NAMED: dict[str, tuple[str, ...]] = {}
for _code, _pref, _county, _name in MUNICIPALITIES:
    _NAMED[_place(_name)] = (*_NAMED.get(_place(_name), ()), _place(_pref))
    if _county:
        _key = (_place(_county), _place(_name))
        _IN_COUNTY[_key] = (*_IN_COUNTY.get(_key, ()), _place(_pref))
_LONGEST_NAME = max(map(len, _NAMED))
_LONGEST_COUNTY = max(len(c) for c, _ in _IN_COUNTY)


def _municipality(text: str) -> tuple[str, tuple[str, ...]]:
    """Step 3 of the address fold on text after steps 1-2: the prefecture and the
    county in front of a municipality of the table (the longest name of the table
    the text has there, which must be of the prefecture and county written) are
    left out when the municipality's name names it alone (練馬区), else the county
    only (広島県府中市).
    Returns the text and, when it begins with a name of several municipalities
    that neither a prefecture nor a county picks out (府中市…), their prefectures
    as the table writes them (the text unchanged)."""
    look = _GA.sub("ケ", text) if _MAYBE_GA.search(text, 0, 24) else text
    pos, pref = 0, None
    for size in (3, 4):
        if look[:size] in _PREFECTURES:
            pos, pref = size + (look[size : size + 1] == " "), look[:size]
            break
    for name_at, county in (*_counties(look, pos), (pos, None)):
        name = next(
            (look[name_at : name_at + size]
             for size in range(min(_LONGEST_NAME, len(look) - name_at), 1, -1)
             if look[name_at : name_at + size] in _NAMED),
            None,
        )  # fmt: skip
        if name is None:
            continue
        prefs = _IN_COUNTY.get((county, name), ()) if county else _NAMED[name]
        prefs = tuple(p for p in prefs if pref is None or p == pref)
        if not prefs:
            continue
        if len(prefs) > 1:
            return text, tuple(_PREFECTURES[p] for p in prefs)
        kept = name if len(_NAMED[name]) == 1 else prefs[0] + name
        return kept + text[name_at + len(name) :], ()
    return text, ()


def _counties(look: str, pos: int) -> tuple[tuple[int, str], ...]:
    """Where a municipality's name would begin after a county (…郡) at ``pos``."""
    end = look.find("郡", pos + 1, pos + _LONGEST_COUNTY)
    if end < 0:
        return ()
    after = end + 1 + (look[end + 1 : end + 2] == " ")
    return ((after, look[pos : end + 1]),)


def strict_text(text: str) -> str:
    """RK-BND-005: NFKC, white-space runs collapsed into one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def has_placeholder(text: str) -> bool:
    """● 〓 U+FFFD or a private-use character: a character was lost (RK-BND-005)."""
    return _LOST.search(text) is not None


@icontract.require(lambda text: len(text) > 0)
@icontract.require(lambda text: all(ch in _KANJI_NUMERAL for ch in text))
@icontract.ensure(lambda result: result >= 0)
def kanji_numeral_to_int(text: str) -> int:
    """漢数字 → int: positional (「二〇三」 = 203) or with units (「二百三」 = 203).

    Exact for any length (an address may carry a long run; folding must not
    merge two different numbers, nor fail on one)."""
    if not any(ch in _KANJI_UNITS for ch in text):
        return int("".join(str(_KANJI_DIGITS[ch]) for ch in text))
    total, digit = 0, 0
    for ch in text:
        if ch in _KANJI_UNITS:
            total += (digit or 1) * _KANJI_UNITS[ch]
            digit = 0
        else:
            digit = digit * 10 + _KANJI_DIGITS[ch]
    return total + digit


#: The historical kana ゐ ゑ (ヰ ヱ), which many systems cannot write, as the kana of
#: present-day usage that replaces them (い え, イ エ): one sound each (RK-BND-005).
HISTORICAL_KANA: dict[str, str] = {"ヰ": "イ", "ヱ": "エ"}
_NAME_FOLD = str.maketrans(_FOLD_TABLE | {ord(k): v for k, v in HISTORICAL_KANA.items()})


@functools.lru_cache(maxsize=1 << 16)
def fold_name(name: str) -> str:
    """Folded name (specs/binding-normalisation.md §2): NFKC, white space and commas
    removed, letter case folded (``str.casefold``: SMITH JOHN, Smith John and
    SMITH, JOHN are one), katakana, historical kana ヰ/ヱ as イ/エ, representative
    kanji.  The order of the parts is kept."""
    text = "".join(unicodedata.normalize("NFKC", name).split())
    if "," in text:
        text = text.replace(",", "")
    return jaconv.hira2kata(text.casefold()).translate(_NAME_FOLD)


#: Kana that legacy and hand-written records spell another way for one sound:
#: small kana written large (全銀 format, many older kana fields hold no small
#: kana: キヨウコ for キョウコ) and ヂ/ヅ written ジ/ズ (one sound each).  Voiced
#: and unvoiced (ザ/サ) are never merged: ヤマザキ and ヤマサキ are two readings.
#: The historical kana ヲ ヰ ヱ are the one sound of オ イ エ.
KANA_EQUIVALENTS: dict[str, str] = dict(
    zip("ァィゥェォッャュョヮヵヶヂヅヲヰヱ", "アイウエオツヤユヨワカケジズオイエ", strict=True)
)
_KANA_FOLD = str.maketrans(KANA_EQUIVALENTS | {"・": None})
# ヴ and its row (外来語の表記, 1991: ヴァ ヴィ ヴ ヴェ ヴォ ヴュ may be written
# バ ビ ブ ベ ボ ビュ), on text whose small kana are already large
KANA_VU: dict[str, str] = {"ヴア": "バ", "ヴイ": "ビ", "ヴエ": "ベ", "ヴオ": "ボ", "ヴユ": "ビユ"}
KANA_VU |= {"ヴ": "ブ", "ヷ": "バ", "ヸ": "ビ", "ヹ": "ベ", "ヺ": "ボ"}
_VU_RUN = re.compile("ヴ[アイエオユ]?|[ヷヸヹヺ]")
# The long vowels (現代仮名遣い, 1986): after a kana of each vowel's row, the kana that
# present-day usage writes to lengthen it, and ー, become ー; エ段 + イ (えい: read エイ or
# エー) is not a long vowel.
KANA_ROWS: dict[str, str] = {
    "ア": "アカガサザタダナハバパマヤラワ",
    "イ": "イキギシジチニヒビピミリ",
    "ウ": "ウクグスズツヌフブプムユル",
    "エ": "エケゲセゼテデネヘベペメレ",
    "オ": "オコゴソゾトドノホボポモヨロ",
}
KANA_LENGTHENERS: dict[str, str] = {
    "ア": "アー",
    "イ": "イー",
    "ウ": "ウー",
    "エ": "エー",
    "オ": "オウー",
}
_LENGTHENED_BY = {kana: KANA_LENGTHENERS[vowel] for vowel, row in KANA_ROWS.items() for kana in row}


def _long_vowels(text: str) -> str:
    """Each kana of a row followed by a kana that lengthens it (``KANA_LENGTHENERS``) or ー:
    the second as ー, left to right (「オオウチ」 → オーウチ; 「オウノ」「オーノ」「オオノ」 →
    オーノ)."""
    out: list[str] = []
    lengthens = ""
    for ch in text:
        if ch in lengthens:
            out.append("ー")
            lengthens = ""
        else:
            out.append(ch)
            lengthens = _LENGTHENED_BY.get(ch, "")
    return "".join(out)


@icontract.ensure(lambda result: not any(ch.isspace() for ch in result))
def _fold_kana(reading: str) -> str:
    """Folded kana reading (specs/binding-normalisation.md §2): NFKC, white space
    and the middle dot ・ removed, hiragana → katakana, ``KANA_EQUIVALENTS``,
    then NFC (a detached voiced mark joins its kana: 「カ ゛」 → ガ) and
    ``KANA_EQUIVALENTS`` once more (「っ゛」 → ヅ → ズ)."""
    text = "".join(unicodedata.normalize("NFKC", reading).split())
    text = jaconv.hira2kata(text).translate(_KANA_FOLD)
    text = unicodedata.normalize("NFC", text).translate(_KANA_FOLD)
    return _long_vowels(_VU_RUN.sub(lambda m: KANA_VU[m.group()], text))


fold_kana = functools.lru_cache(maxsize=1 << 16)(_fold_kana)


def kana_reading(kana: str | None) -> str | None:
    """A given kana reading folded (``fold_kana``), or None when it is *not given*:
    absent, blank, or holding a placeholder or private-use character (RK-BND-005: a
    reading with a lost character is no evidence either way)."""
    return fold_kana(kana) if kana and kana.strip() and not has_placeholder(kana) else None


def _address_numbers(text: str) -> str:
    """Every ASCII digit run, and every kanji numeral run that stands as an
    address number (not 千代田, 八王子, 四日市), as its integer in ASCII digits."""
    if not _KANJI_RUN.search(text):
        return _LEADING_ZEROS.sub("", text)
    out: list[str] = []
    pos = 0
    for match in _KANJI_RUN.finditer(text):
        start, end = match.span()
        if _NUMBER_AFTER.match(text, end) or (
            _NUMBER_BEFORE.search(text, max(0, start - 12), start)
            and not _IDEOGRAPH_AT.match(text, end)
        ):
            out.append(text[pos:start])
            out.append(str(kanji_numeral_to_int(match.group())))
            pos = end
    out.append(text[pos:])
    return _LEADING_ZEROS.sub("", "".join(out))


def fold_address_whole(address: str) -> str:
    """Folded address (specs/binding-normalisation.md §2), one pass over the whole
    address, exactly as the spec's steps read: as ``fold_name`` (but white space
    kept until step 7) with 大字/字 removed, the prefecture and county left out
    before a municipality whose name names it alone (``_municipality``), then
    address numbers as integers,
    丁目・番地・番・号・の or a dash (or white space) between two numbers as ``-``, a
    trailing 番地/番/号 removed, white space removed, and last ヶ/ケ/ガ between two
    kanji as ケ: 「三丁目12番5号」「3-12-5」「3丁目12番地5」「３－１２－５」「3の12の5」
    → ``3-12-5``.  ``fold_address`` computes the same, faster."""
    text = " ".join(unicodedata.normalize("NFKC", address).split())
    text = _municipality(_AZA.sub("", text.translate(_KATAKANA_VARIANTS)))[0]
    text = _BETWEEN.sub("-", _address_numbers(text))
    return _GA.sub("ケ", "".join(_TRAILING.sub("", text).split()))


@functools.lru_cache(maxsize=1 << 16)
def _letters(part: str, start: bool) -> tuple[str, str | None, tuple[str, ...]]:
    """Steps 1-2 of one part (NFKC, white-space runs as one space, kept at the
    ends; katakana, variant kanji, 大字/字 removed) and, when ``start`` (the part
    begins the address), step 3; when steps 4-7 can neither act on the part nor
    depend on what follows it, the part's folded form; and the prefectures of
    ``_municipality`` (several when the part begins with a name of several
    municipalities and nothing picks one out).  Steps 4-7 can act when the part
    holds an ASCII digit, or a kanji numeral run that is an address number or is
    not followed, inside the part, by a character that closes its context
    (千代田: 代 closes it)."""
    text = _SPACE_RUN.sub(" ", unicodedata.normalize("NFKC", part))
    text = _AZA.sub("", text.translate(_KATAKANA_VARIANTS))
    prefectures: tuple[str, ...] = ()
    if start:
        text, prefectures = _municipality(text)
    if _ANY_DIGIT.search(text):
        return text, None, prefectures
    for match in _KANJI_RUN.finditer(text):
        end = match.end()
        if end == len(text) or text[end] in _OPENS or text[end].isspace():
            return text, None, prefectures
        if _NUMBER_BEFORE.search(text, max(0, match.start() - 12), match.start()):
            return text, None, prefectures
    folded = "".join(text.split())
    return text, (_GA.sub("ケ", folded) if _MAYBE_GA.search(folded) else folded), prefectures


@functools.lru_cache(maxsize=1 << 16)
def _rest(text: str) -> str:
    """Steps 4-8 on text after steps 1-3."""
    text = _BETWEEN.sub("-", _address_numbers(text))
    text = "".join(_TRAILING.sub("", text).split())
    return _GA.sub("ケ", text) if _MAYBE_GA.search(text) else text


def fold_address(address: str) -> str:
    """``fold_address_whole``, computed in two parts where that is the same: steps
    1-3 are local to the part before the first digit (都道府県・市区町村・町名), so
    it and the rest get them apart, memoised; when the first part gives steps 4-7
    nothing to act on or depend on, they run on the rest alone, and step 8 cannot
    span the cut (a digit is no kanji).  tests/test_binding.py checks that both
    functions agree.

    No icontract contract: it runs for every resident when the index is built
    and for every record; its properties (idempotent, no white space, width-
    blind, numbers merged exactly when equal) are hypothesis properties in
    tests/test_binding.py."""
    first = _FIRST_DIGIT.search(address)
    if first is None or first.start() == 0:
        return _rest(_letters(address, True)[0])
    cut = first.start()
    (head, folded, _), tail = _letters(address[:cut], True), _letters(address[cut:], False)[0]
    if folded is not None:
        return folded + _rest(tail)
    if head.endswith(" ") and tail.startswith(" "):
        tail = tail[1:]
    return _rest(head + tail)


def _fold_address(address: str) -> tuple[str, tuple[str, ...]]:
    """``fold_address`` and the prefectures of ``_municipality`` for the address."""
    first = _FIRST_DIGIT.search(address)
    if first is None or first.start() == 0:
        text, _, prefectures = _letters(address, True)
        return _rest(text), prefectures
    cut = first.start()
    (head, folded, prefectures), tail = (
        _letters(address[:cut], True),
        _letters(address[cut:], False)[0],
    )
    if folded is not None:
        return folded + _rest(tail), prefectures
    if head.endswith(" ") and tail.startswith(" "):
        tail = tail[1:]
    return _rest(head + tail), prefectures


# The parts of a folded address (specs/binding-normalisation.md §2, "Parts"): a room —
# the fourth number or later of a run joined by "-" at the end, digits and 号室 at the
# end, or digits at the end after a building — and a building: a run after the last
# ASCII digit of the rest, holding none, that begins with a letter (no "-", no
# bracket: 「1-2-3（旧住所）」 names no building) and no address word.
_PLAIN = re.compile("(?:^|[^0-9-])[0-9]+(?:-[0-9]+){1,2}$")  # 「…2-5-10」: no part to read
_CHAIN_ROOM = re.compile("[0-9]+(?:-[0-9]+){2}-([0-9]+)(?:号?室)?$")
_NUMBERED_ROOM = re.compile("([0-9]+)号?室$")
_BARE_ROOM = re.compile("(?<=[^0-9-])([0-9]+)$")
_BUILDING = re.compile("(?<=[0-9])(?![丁番号条地線通町区組班棟館階室])[^0-9][^0-9]*$")


# Kyoto's street locators (通り名, specs/binding-normalisation.md §2, "Parts"): in an
# address of a ward of 京都市 (the municipality as step 3 writes it), the text between
# the ward and the 町名 that ends in a direction — 上る・下る・西入・東入 in any of their
# spellings once folded (上ル/上ガル/アガル, 西入ル/西イル/西ヘ入ル/ニシイル, …) —
# possibly several (「寺町通四条下る東入」) and an ordinal (「上る2丁目」「2筋目」) after
# the last; what follows it must open the 町名 (a letter, or a number before 条: 2条殿町).
_KYOTO_WARD = re.compile("京都市(?:北|上京|左京|中京|東山|山科|下京|南|右京|西京|伏見)区")
_DIRECTION = "上ガ?ル|アガル|下ガ?ル|サガル|(?:西|ニシ|東|ヒガシ)ヘ?(?:入ル?|イル)"
_ORDINAL = f"(?:[0-9]+|[{_KANJI_NUMERAL}]+)(?:丁目|筋目)"
_LOCATOR = re.compile(
    f"(?:(?:[0-9]+条|{_ORDINAL}|[^0-9{_DASHES}])*?(?:{_DIRECTION}))+(?:{_ORDINAL})?"
    f"(?=[0-9]+条|[^0-9{_DASHES}])"
)
_LOCATOR_DIRECTION = re.compile(_DIRECTION)
_LOCATOR_ORDINAL = re.compile(f"([{_KANJI_NUMERAL}]+)(?=丁目|筋目)")
_CANONICAL_DIRECTION = {"上": "上ル", "ア": "上ル", "下": "下ル", "サ": "下ル"}
_CANONICAL_DIRECTION |= {"西": "西入", "ニ": "西入", "東": "東入", "ヒ": "東入"}


@functools.lru_cache(maxsize=1 << 16)
def _split_locator(folded: str) -> tuple[str, str]:
    """A folded address as (its Kyoto street locator in its canonical notation, the
    address without it): 「京都市中京区河原町通三条上ル恵比須町427」 →
    (``河原町3条上ル``, ``京都市中京区恵比須町427``); ("", the address) for every
    address that has none.  Canonical: every direction as 上ル・下ル・西入・東入, 通 and
    通リ removed, kanji ordinals (二筋目) in ASCII digits."""
    ward = _KYOTO_WARD.match(folded)
    if ward is None or _LOCATOR_DIRECTION.search(folded, ward.end()) is None:
        return "", folded
    locator = _LOCATOR.match(folded, ward.end())
    if locator is None:
        return "", folded
    text = _LOCATOR_DIRECTION.sub(lambda m: _CANONICAL_DIRECTION[m.group()[0]], locator.group())
    text = _LOCATOR_ORDINAL.sub(lambda m: str(kanji_numeral_to_int(m.group())), text)
    rest = folded[: ward.end()] + folded[locator.end() :]
    return text.replace("通リ", "").replace("通", ""), rest


def address_locator(folded: str) -> str:
    """The Kyoto street locator (通り名) of a folded address in its canonical notation,
    or "" (``_split_locator``): a part that is not required, and that must be equal
    when both addresses give one (``addresses_fit``)."""
    return _split_locator(folded)[0] if folded.startswith("京都市") else ""


def _building(text: str, end: int) -> re.Match[str] | None:
    """The building at the end of ``text[:end]``: ``_BUILDING``, opened by a letter."""
    match = _BUILDING.search(text, 0, end)
    return match if match is not None and unicodedata.category(match.group()[0])[0] == "L" else None


@functools.lru_cache(maxsize=1 << 16)
def address_parts(folded: str) -> tuple[str, str, str]:
    """``_address_parts`` of the address without its Kyoto street locator
    (``address_locator``), which is a part of its own: 「京都市中京区河原町通三条上ル
    恵比須町427」 → (``京都市中京区恵比須町427``, ``""``, ``""``)."""
    return _address_parts(_split_locator(folded)[1] if folded.startswith("京都市") else folded)


def _address_parts(folded: str) -> tuple[str, str, str]:
    """A folded address (``fold_address``) as (place and number, building, room):
    「…梅田2-5-10メゾン青葉301号室」 → (``…梅田2-5-10``, ``メゾン青葉``, ``301``),
    「…1-15-3-202」 → (``…1-15-3``, ``""``, ``202``), 「…土田4567ヒマワリ寮」 →
    (``…土田4567``, ``ヒマワリ寮``, ``""``); an address without them is its own
    first part.  The building and the room are not required for a bind, and a
    room or building given on both sides must be equal (``addresses_fit``)."""
    if _PLAIN.search(folded) is not None:
        return folded, "", ""
    chain = _CHAIN_ROOM.search(folded)
    if chain is not None:
        return folded[: chain.start(1) - 1], "", chain.group(1)
    rest, room = folded, ""
    numbered = _NUMBERED_ROOM.search(folded)
    if numbered is not None:
        rest, room = folded[: numbered.start()], numbered.group(1)
        if rest.endswith("-") and rest[-2:-1].isdigit():  # 「1番地-301号室」
            return rest[:-1], "", room
    else:
        bare = _BARE_ROOM.search(folded)
        if bare is not None and _building(folded, bare.start()) is not None:
            rest, room = folded[: bare.start()], bare.group(1)
    building = _building(rest, len(rest))
    if building is None:
        return folded, "", ""
    return rest[: building.start()], building.group(), room


def address_place(folded: str) -> str:
    """The place and number of a folded address (``address_parts``, first part)."""
    if _PLAIN.search(folded) is not None and not folded.startswith("京都市"):
        return folded
    return address_parts(folded)[0]


def addresses_fit(ours: str, theirs: str) -> bool:
    """Two folded addresses agree (RK-BND-002): the same place and number, and
    the building, the room and the Kyoto street locator each equal or not given
    on one side."""
    if ours == theirs:
        return True
    a, b = address_parts(ours), address_parts(theirs)
    if not (
        a[0] == b[0]
        and (not a[1] or not b[1] or a[1] == b[1])
        and (not a[2] or not b[2] or a[2] == b[2])
    ):
        return False
    la, lb = address_locator(ours), address_locator(theirs)
    return not la or not lb or la == lb


def address_readings(address: str) -> tuple[str, ...]:
    """The folded address (``fold_address``) or, when the address leaves out the
    prefecture before a name of several municipalities and no county picks one
    out (府中市…: 東京都 and 広島県), the address folded with each of their
    prefectures in front, in the table's order (RK-BND-002: every resident the
    record fits under one of them is a candidate)."""
    folded, prefectures = _fold_address(address)
    if not prefectures:
        return (folded,)
    return tuple(fold_address(p + address) for p in prefectures)
