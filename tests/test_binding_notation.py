"""Classes of notation that binding-normalisation v7 folds (issue 18): every dash in an
address, letter case and separators of names in the alphabet, the historical kana, and in
a kana reading ヴ and its row and the long vowel.  Each class is tested as a class (every
member, or a property over random text), with the spellings it must keep apart."""

from __future__ import annotations

import itertools
import sys
import unicodedata

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.binding_match import Policy, RegistryIndex, decide
from renkei_reference.core.binding_normalise import (
    DASHES,
    KANA_LENGTHENERS,
    KANA_ROWS,
    fold_address,
    fold_kana,
    fold_name,
    strict_text,
)

_PD = frozenset(chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Pd")
_WAVES = frozenset("\u301c\u3030")  # 〜 〰: wave dashes, no look-alikes of a hyphen


def test_the_dashes_are_the_dash_class_and_its_look_alikes() -> None:
    """RK-BND-005: every Pd character but the wave dashes, and exactly the look-alikes
    the spec names (minus, hyphen bullet, long-vowel mark, box-drawing lines)."""
    assert _PD - _WAVES <= DASHES
    look_alikes = frozenset("\u2212\u2043\u30fc\u2500\u2501")
    assert look_alikes == DASHES - _PD
    assert not DASHES & _WAVES


@pytest.mark.requirement("RK-BND-005")
@pytest.mark.parametrize("dash", sorted(DASHES), ids=lambda d: f"U+{ord(d):04X}")
def test_every_dash_between_numbers_is_one_hyphen(dash: str) -> None:
    """HC-ADDR-013's ─ U+2500 and every other dash of the class, between numbers."""
    want = fold_address("東京都新宿区高田馬場3丁目12番5号")
    assert fold_address(f"東京都新宿区高田馬場3{dash}12{dash}5") == want
    assert fold_address(f"東京都新宿区高田馬場三丁目12{dash}5") == want


def test_a_wave_dash_is_no_dash() -> None:
    assert fold_address("本町1〜3") != fold_address("本町1-3")


_LATIN = st.text(alphabet=st.sampled_from(list("abcxyzABCXYZéÉ ,　，")), max_size=20)


@pytest.mark.requirement("RK-BND-005")
@pytest.mark.parametrize(
    "variant", ["Smith John", "SMITH, JOHN", "smith john", "Smith,John", "ＳＭＩＴＨ　ＪＯＨＮ",
                "SMITH ,  JOHN", "SMITH，JOHN"],
)  # fmt: skip
def test_names_in_the_alphabet_meet_in_any_case_and_separator(variant: str) -> None:
    assert fold_name(variant) == fold_name("SMITH JOHN")


def test_names_in_the_alphabet_keep_their_order_and_letters() -> None:
    assert fold_name("SMITH JOHN") != fold_name("JOHN SMITH")
    assert fold_name("SMITH JOHN") != fold_name("SMITH JOAN")
    assert fold_name("SMITH J.") != fold_name("SMITH JOHN")


@given(_LATIN)
def test_the_name_fold_is_case_blind_and_idempotent(text: str) -> None:
    assert fold_name(text.upper()) == fold_name(text.lower()) == fold_name(text)
    assert fold_name(fold_name(text)) == fold_name(text)
    assert fold_name(strict_text(text)) == fold_name(text)


@pytest.mark.requirement("RK-BND-005")
@pytest.mark.parametrize(
    ("a", "b"),
    [("木村 すゑ", "木村 すえ"), ("木村 スヱ", "木村 すえ"), ("ゐく", "いく"), ("ヰク", "イク")],
)  # fmt: skip
def test_historical_kana_in_a_name_meet_their_present_day_kana(a: str, b: str) -> None:
    assert fold_name(a) == fold_name(b)


def test_a_name_keeps_wo_and_its_other_kana() -> None:
    """を is in every character set, so a name written かをる is spelled so; only ゐ/ゑ,
    which many systems lack, fold."""
    assert fold_name("かをる") != fold_name("かおる")
    assert fold_name("すえ") != fold_name("すい")


@pytest.mark.requirement("RK-BND-005")
@pytest.mark.parametrize(
    ("a", "b"),
    [("オーノ ユーコ", "オオノ ユウコ"), ("サトー", "サトウ"), ("オウノ", "オオノ"),
     ("キョーコ", "キョウコ"), ("シーナ", "シイナ"), ("ネーサン", "ネエサン"), ("サーヤ", "サアヤ"),
     ("ハセガワ カヲル", "ハセガワ カオル"), ("ヰ", "イ"), ("ゑみ", "エミ"),
     ("カルヴァーリョ アイ", "カルバーリョ アイ"), ("ヴィ", "ビ"), ("ヴェ", "ベ"), ("ヴォ", "ボ"),
     ("ヴュ", "ビュ"), ("ゔぁ", "バ"), ("ヷ", "ヴァ"), ("ウ゛ィ", "ビ"), ("ヴ", "ブ")],
)  # fmt: skip
def test_kana_spellings_of_one_reading_meet(a: str, b: str) -> None:
    assert fold_kana(a) == fold_kana(b)


_PLAIN_KANA = st.text(
    alphabet=st.sampled_from(sorted(set("".join(KANA_ROWS.values())) | set("ンー"))),
    max_size=12,
)


@given(_PLAIN_KANA)
def test_the_long_vowel_fold_keeps_every_mora(text: str) -> None:
    """On large kana without ヴ, the fold writes each mora as one character: a long
    vowel and a short one (ユウコ, ユコ) never meet, and a long vowel is written ー
    only: no kana that lengthens stays after the kana it lengthens."""
    folded = fold_kana(text)
    assert len(folded) == len(text)
    assert fold_kana(folded) == folded
    lengthened_by = {k: KANA_LENGTHENERS[v] for v, row in KANA_ROWS.items() for k in row}
    assert not any(
        b != "ー" and b in lengthened_by.get(a, "") for a, b in itertools.pairwise(folded)
    )


_TARO = ("山田 太郎", "東京都千代田区霞が関一丁目2番2号", "1980-04-01", "male")
_JIRO = ("山田 次郎", "東京都千代田区霞が関一丁目2番2号", "1980-04-01", "male")


@pytest.mark.requirement("RK-BND-002", "RK-BND-005")
@pytest.mark.parametrize("kana", ["ヤマ● タロウ", "ヤマダ タ\ue000ウ", "〓", "ヤマダ タロ\ufffd"])
def test_a_reading_with_a_placeholder_is_not_given(kana: str) -> None:
    """HC-KANA-019: the 4 items bind as without a reading; the reading neither
    contradicts the resident's nor tells a twin apart."""
    alone = RegistryIndex([_TARO], {}, Policy.FOLDED, ["ヤマダ タロウ"])
    assert decide(alone, _TARO, kana) == decide(alone, _TARO, None)
    assert decide(alone, _TARO, kana).decision == "bound"
    twins = RegistryIndex([_TARO, _JIRO], {}, Policy.FOLDED, ["ヤマダ タロウ", "ヤマダ ジロウ"])
    assert decide(twins, _TARO, kana) == decide(twins, _TARO, None)
    assert decide(twins, _TARO, kana).decision == "review"
    assert decide(twins, _TARO, "ヤマダ タロウ").decision == "bound"


def test_a_placeholder_in_the_name_still_never_binds() -> None:
    index = RegistryIndex([_TARO], {}, Policy.FOLDED, ["ヤマダ タロウ"])
    outcome = decide(index, ("山田 ●郎", *_TARO[1:]), "ヤマダ タロウ")
    assert (outcome.decision, outcome.reasons) == ("review", ("unrepresentable-character",))
