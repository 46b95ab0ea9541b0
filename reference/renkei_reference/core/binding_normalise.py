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
  - hiragana → katakana and half-width katakana → full-width (``jaconv``);
  - variant kanji (異体字) → one representative, by ``VARIANT_KANJI``
    (髙→高, 﨑/嵜→崎, 齋/齊/斉→斎, 邉/邊→辺, …);
  - in addresses, kanji numerals before 丁目/番/号 become digits and the
    notations 「1丁目2番3号」「1丁目2番地3」「1-2-3」「1ー2ー3」「1の2の3」 all become
    ``1-2-3``.
* ``fold_kana`` — the folded form of a kana reading (RK-BND-002, RK-BND-005):
  NFKC, white space and ・ removed, voiced marks composed, hiragana →
  katakana, small kana → large and ヂ/ヅ → ジ/ズ; never voiced → unvoiced.

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

__all__ = [
    "KANA_EQUIVALENTS",
    "PLACEHOLDERS",
    "VARIANT_KANJI",
    "fold_address",
    "fold_kana",
    "fold_name",
    "has_placeholder",
    "kanji_numeral_to_int",
    "strict_text",
]

#: Characters that stand for a lost character (RK-BND-005): ● 〓 U+FFFD.
PLACEHOLDERS = frozenset("\u25cf\u3013\ufffd")

#: Variant kanji (異体字) → the representative form.  Deliberately small and
#: limited to variants that official registers treat as the same name
#: (JIS X 0213 / 戸籍統一文字 pairs common in family and place names).
VARIANT_KANJI: dict[str, str] = {
    "髙": "高",
    "﨑": "崎",
    "嵜": "崎",
    "碕": "崎",
    "齋": "斎",
    "齊": "斎",
    "斉": "斎",
    "邉": "辺",
    "邊": "辺",
    "濵": "浜",
    "濱": "浜",
    "澤": "沢",
    "櫻": "桜",
    "廣": "広",
    "國": "国",
    "德": "徳",
    "眞": "真",
    "惠": "恵",
    "榮": "栄",
    "藏": "蔵",
    "實": "実",
    "壽": "寿",
    "增": "増",
    "淺": "浅",
    "關": "関",
    "嶋": "島",
    "嶌": "島",
    "槇": "槙",
    "冨": "富",
    "𠮷": "吉",
    "﨔": "欅",
    "曻": "昇",
    "栁": "柳",
}
_VARIANTS = str.maketrans(VARIANT_KANJI)

_KANJI_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5}
_KANJI_DIGITS |= {"六": 6, "七": 7, "八": 8, "九": 9}
_KANJI_UNITS = {"十": 10, "百": 100, "千": 1000}
_KANJI_NUMERAL = "〇零一二三四五六七八九十百千"

_NUMERAL_BEFORE_UNIT = re.compile(
    f"([{_KANJI_NUMERAL}]+)(?=丁目|番|号|[のノ][0-9{_KANJI_NUMERAL}])"
)
_HAS_NUMERAL = re.compile(f"[{_KANJI_NUMERAL}](?:丁目|番|号|の|ノ)")
# 丁目・番地・番・号 or a dash or の between two numbers → "-"; a trailing 番地/番/号
# (not 号室) → nothing.  Literal replacements keep ``re.sub`` on its fast path.
_BETWEEN = re.compile(r"(?<=[0-9])(?:丁目|番地|番|号(?!室)|[\-‐‑‒–—―−ー－のノ])(?=[0-9])")
_TRAILING = re.compile(r"(?<=[0-9])(?:番地|番|号(?!室))+")  # a run at once: idempotent
_FIRST_DIGIT = re.compile(r"[0-9０-９]")
_SPACE = re.compile(r"\s+")


def strict_text(text: str) -> str:
    """RK-BND-005: NFKC, white-space runs collapsed into one space, trimmed."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


def has_placeholder(text: str) -> bool:
    """● 〓 U+FFFD or a private-use character: a character was lost (RK-BND-005)."""
    return any(ch in PLACEHOLDERS or unicodedata.category(ch) == "Co" for ch in text)


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


def _fold_common(text: str) -> str:
    text = "".join(unicodedata.normalize("NFKC", text).split())
    return jaconv.hira2kata(text).translate(_VARIANTS)


@functools.lru_cache(maxsize=1 << 16)
def fold_name(name: str) -> str:
    """Folded name: NFKC, no spaces, katakana, representative kanji."""
    return _fold_common(name)


#: Kana that legacy and hand-written records spell another way for one sound:
#: small kana written large (全銀 format, many older kana fields hold no small
#: kana: キヨウコ for キョウコ) and ヂ/ヅ written ジ/ズ (one sound each).  Voiced
#: and unvoiced (ザ/サ) are never merged: ヤマザキ and ヤマサキ are two readings.
KANA_EQUIVALENTS: dict[str, str] = dict(
    zip("ァィゥェォッャュョヮヵヶヂヅ", "アイウエオツヤユヨワカケジズ", strict=True)
)
_KANA_FOLD = str.maketrans(KANA_EQUIVALENTS | {"・": None})


@icontract.ensure(lambda result: not any(ch.isspace() for ch in result))
@functools.lru_cache(maxsize=1 << 16)
def fold_kana(reading: str) -> str:
    """Folded kana reading (specs/binding-normalisation.md §2): NFKC, white space
    and the middle dot ・ removed, hiragana → katakana, ``KANA_EQUIVALENTS``,
    then NFC (a detached voiced mark joins its kana: 「カ ゛」 → ガ) and
    ``KANA_EQUIVALENTS`` once more (「っ゛」 → ヅ → ズ)."""
    text = "".join(unicodedata.normalize("NFKC", reading).split())
    text = jaconv.hira2kata(text).translate(_KANA_FOLD)
    return unicodedata.normalize("NFC", text).translate(_KANA_FOLD)


@functools.lru_cache(maxsize=1 << 16)
def _fold_address_part(text: str) -> str:
    text = _fold_common(text)
    if _HAS_NUMERAL.search(text):
        text = _NUMERAL_BEFORE_UNIT.sub(lambda m: str(kanji_numeral_to_int(m.group(1))), text)
    return _TRAILING.sub("", _BETWEEN.sub("-", text))


def fold_address(address: str) -> str:
    """Folded address: as ``fold_name`` plus 丁目・番地・号 written ``1-2-3``.

    The part before the first digit (都道府県・市区町村・町名) and the rest
    (丁目・番・号, building) fold separately — no rule spans a non-digit
    followed by a digit — so that both halves are memoised."""
    first = _FIRST_DIGIT.search(address)
    if first is None or first.start() == 0:
        return _fold_address_part(address)
    cut = first.start()
    return _fold_address_part(address[:cut]) + _fold_address_part(address[cut:])
