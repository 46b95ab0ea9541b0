"""Binding link codes to agency records (seed items 13–15, 20).

Only an exact, unique match of all four items against the registry's latest 4
items binds; the 2023 review found 8,351 wrong-person links made from
three-item matches (DIGEST, facts).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from renkei_conformance.spec import load_binding_vectors
from renkei_conformance.world import Person, World, population


def _bind(world: World, agency: str, records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    reply = world.call(agency, "POST", "hub", "/bindings", {"records": records}).expect(200)
    return {r["record_ref"]: r for r in reply["results"]}


def _record(ref: str, p: Person) -> dict[str, Any]:
    return {"record_ref": ref, **p.four_items()}


@pytest.mark.conformance(
    "CT-BND-001", requirements=["RK-BND-001", "RK-BND-002", "RK-BND-003"], profiles=["hub"]
)
def test_only_an_exact_unique_four_item_match_binds(world: World) -> None:
    """Exact → bound; three of four items (address, name, birth date or sex
    differs) → review ``partial-match``; two residents with the same 4 items →
    review ``ambiguous-match``; nothing alike → rejected ``no-match``.  Only
    ``bound`` carries a link code."""
    twin_a, twin_b = population(2, first=2_000_000_000)
    twin_b = replace(
        twin_b,
        name=twin_a.name,
        name_kana=twin_a.name_kana,
        address=twin_a.address,
        birth_date=twin_a.birth_date,
        sex=twin_a.sex,
    )
    world.wire.control(
        "POST", "/residents", {"residents": [twin_a.resident(), twin_b.resident()]}
    ).expect(200, 204)
    p = world.persons[4]
    other_sex = "female" if p.sex == "male" else "male"
    records = [
        _record("exact", p),
        _record("address", replace(p, address=p.address + "（旧住所）")),
        _record("name", replace(p, name=p.name + "子")),
        _record("birth", replace(p, birth_date="1901-01-01")),
        _record("sex", replace(p, sex=other_sex)),
        _record("twins", twin_a),
        _record(
            "stranger",
            replace(p, name="存在 しない", address="北海道札幌市", birth_date="1900-01-01"),
        ),
    ]
    got = _bind(world, "kit.pension", records)
    assert got["exact"]["decision"] == "bound"
    assert got["exact"].get("link_code")
    for ref in ("address", "name", "birth", "sex"):
        assert got[ref]["decision"] == "review", (ref, got[ref])
        assert "partial-match" in got[ref]["reasons"], (ref, got[ref])
    assert got["twins"]["decision"] == "review"
    assert "ambiguous-match" in got["twins"]["reasons"]
    assert got["stranger"]["decision"] == "rejected"
    assert "no-match" in got["stranger"]["reasons"]
    for ref, result in got.items():
        if ref != "exact":
            assert not result.get("link_code"), f"{ref} must not carry a link code"


@pytest.mark.conformance("CT-BND-002", requirements=["RK-BND-005", "RK-BND-002"], profiles=["hub"])
def test_normalisation_is_nfkc_and_placeholders_never_bind(world: World) -> None:
    """Full-width digits and doubled spaces bind after NFKC and space
    folding; a name with ● (a character lost to a placeholder) goes to review
    with ``unrepresentable-character`` and no link code."""
    p = world.persons[5]
    wide = p.address.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    spaced = p.name.replace(" ", "   ")
    placeholder = p.name[:1] + "●" + p.name[2:]
    got = _bind(
        world,
        "kit.pension",
        [
            _record("wide", replace(p, address=wide, name=spaced)),
            _record("placeholder", replace(p, name=placeholder)),
        ],
    )
    assert got["wide"]["decision"] == "bound", got["wide"]
    assert got["wide"]["link_code"] == world.link("kit.pension", p)
    assert got["placeholder"]["decision"] == "review", got["placeholder"]
    assert "unrepresentable-character" in got["placeholder"]["reasons"]
    assert not got["placeholder"].get("link_code")


# -- hard cases: the binding never binds a wrong person ---------------------------

_KASUMI = "東京都千代田区霞が関1丁目2番3号"
_UMEDA = "大阪府大阪市北区梅田2丁目5番10号 メゾン青葉 301号室"

# (key, name, kana, address, birth date, sex): residents the kit loads.  Twins
# whose given names are one character apart, two residents with identical
# 4 items, 斎藤/齋藤 at one address with one birth date, namesakes one house
# number apart and in two prefectures' 府中市, and a resident in variant kanji.
_HARD = [
    ("twin-a", "高橋 健一", "タカハシ ケンイチ", _KASUMI, "1990-04-01", "male"),
    ("twin-b", "高橋 健二", "タカハシ ケンジ", _KASUMI, "1990-04-01", "male"),
    ("same-a", "佐藤 美咲", "サトウ ミサキ", "北海道札幌市中央区旭町4丁目8番9号", "1995-12-01", "female"),  # noqa: E501
    ("same-b", "佐藤 美咲", "サトウ ミサキ", "北海道札幌市中央区旭町4丁目8番9号", "1995-12-01", "female"),  # noqa: E501
    ("saito", "斎藤 誠", "サイトウ マコト", "福岡県福岡市博多区天神2丁目3番4号", "1960-03-03", "male"),  # noqa: E501
    ("saito-v", "齋藤 誠", "サイトウ マコト", "福岡県福岡市博多区天神2丁目3番4号", "1960-03-03", "male"),  # noqa: E501
    ("next-a", "山本 大輔", "ヤマモト ダイスケ", "神奈川県横浜市港北区日吉1丁目1番1号", "1980-08-08", "male"),  # noqa: E501
    ("next-b", "山本 大輔", "ヤマモト ダイスケ", "神奈川県横浜市港北区日吉1丁目1番2号", "1980-08-08", "male"),  # noqa: E501
    ("fuchu-t", "中村 陽子", "ナカムラ ヨウコ", "東京都府中市中央1丁目2番3号", "1955-05-05", "female"),  # noqa: E501
    ("fuchu-h", "中村 陽子", "ナカムラ ヨウコ", "広島県府中市中央1丁目2番3号", "1955-05-05", "female"),  # noqa: E501
    ("taka", "髙橋 翔太", "タカハシ ショウタ", _UMEDA, "1985-07-15", "male"),
]  # fmt: skip


def _hard_persons() -> dict[str, Person]:
    people = population(len(_HARD), first=2_100_000_000)
    return {
        key: replace(p, name=name, name_kana=kana, address=address, birth_date=born, sex=sex)
        for p, (key, name, kana, address, born, sex) in zip(people, _HARD, strict=True)
    }


def _with(p: Person, **items: str) -> Person:
    return replace(p, **items)


@pytest.mark.conformance(
    "CT-BND-003", requirements=["RK-BND-002", "RK-BND-001", "RK-BND-005"], profiles=["hub"]
)
def test_binding_never_binds_a_wrong_person(world: World) -> None:
    """Hard cases through the wire: twins one character apart, identical 4
    items, variant-kanji namesakes, namesakes next door and in another
    prefecture, a resident's address before a move, a person the registry does
    not hold living with registered family, typos, ● and the name in kana.
    Every ``bound`` result carries the link code of the very person the record
    is about (learnt afterwards, once each resident has been made unique); the
    records that fit two residents, fit only an earlier address, or are about
    a person the registry does not hold are never bound."""
    hard = _hard_persons()
    world.wire.control(
        "POST", "/residents", {"residents": [p.resident() for p in hard.values()]}
    ).expect(200, 204)
    taka = hard["taka"]
    moved = _with(taka, address="京都府京都市左京区本町3丁目4番5号")
    # the resident moves: the registry's latest address changes, the old one is earlier
    world.wire.control(
        "POST", "/residents", {"residents": [moved.resident(), taka.resident()]}
    ).expect(200, 204)
    outsider = _with(hard["twin-a"], name="高橋 健三", name_kana="タカハシ ケンゾウ")
    wide = _UMEDA.translate(str.maketrans("0123456789 ", "０１２３４５６７８９\u3000"))
    cases: list[tuple[str, Person, str | None, bool]] = [
        # (ref, record, true person key or None for nobody registered, may bind)
        *[(f"exact-{k}", p, k, True) for k, p in hard.items()],
        ("wide", _with(taka, address=wide), "taka", True),
        ("old-address", moved, "taka", False),
        ("outsider", outsider, None, False),
        ("twin-typo", _with(hard["twin-a"], name="高橋 健二"), "twin-a", True),
        ("sex-flip", _with(hard["fuchu-t"], sex="male"), "fuchu-t", False),
        ("no-address", _with(hard["fuchu-t"], address="東京都府中市"), "fuchu-t", False),
        ("placeholder", _with(hard["fuchu-t"], name="中村 ●子"), "fuchu-t", False),
        ("kana", _with(hard["fuchu-t"], name="ナカムラ ヨウコ"), "fuchu-t", False),
        ("birth-typo", _with(hard["fuchu-h"], birth_date="1955-05-06"), "fuchu-h", False),
    ]
    got = _bind(world, "kit.insurer", [_record(ref, p) for ref, p, _, _ in cases])
    for key in ("same-a", "same-b"):
        assert got[f"exact-{key}"]["decision"] == "review", got[f"exact-{key}"]
        assert "ambiguous-match" in got[f"exact-{key}"]["reasons"]
    for ref, _, _, may_bind in cases:
        assert got[ref]["decision"] in {"bound", "review", "rejected"}, got[ref]
        if not may_bind:
            assert got[ref]["decision"] != "bound", (ref, got[ref])
        if got[ref]["decision"] != "bound":
            assert not got[ref].get("link_code"), (ref, got[ref])

    # Make every resident unique (its own address), then learn each one's link code.
    unique = {
        key: _with(p, address=f"沖縄県那覇市泉町{n + 1}丁目{n + 11}番{n + 21}号")
        for n, (key, p) in enumerate(hard.items())
    }
    world.wire.control(
        "POST", "/residents", {"residents": [p.resident() for p in unique.values()]}
    ).expect(200, 204)
    truth = world.bind("kit.insurer", list(unique.values()))
    link_of = {key: truth[p.resident_code] for key, p in unique.items()}
    assert len(set(link_of.values())) == len(link_of)
    for ref, _, person, _ in cases:
        if got[ref]["decision"] == "bound":
            assert person is not None, f"{ref}: bound a person the registry does not hold"
            assert got[ref]["link_code"] == link_of[person], f"{ref}: bound the wrong person"


@pytest.mark.conformance(
    "CT-BND-004",
    requirements=["RK-BND-001", "RK-BND-002", "RK-BND-003", "RK-BND-005", "RK-BND-009"],
    profiles=["hub"],
)
def test_binding_vectors_through_the_wire(world: World) -> None:
    """specs/vectors/binding-decisions.json, the normative (folded) policy of
    RK-BND-005 and specs/binding-normalisation.md: the registry of the
    file is loaded (earlier items first, then the latest, with the status of a
    resident the file marks removed, RK-BND-009); every record gets
    the expected decision (or one the vector also allows) with the reasons
    RK-BND-003 makes mandatory, and a ``bound`` record carries the link code of
    the resident the vector names (learnt once every resident is unique)."""
    data = load_binding_vectors()
    people = population(len(data["registry"]), first=2_200_000_000)
    residents: dict[str, Person] = {}
    for p, (key, entry) in zip(people, data["registry"].items(), strict=True):
        for state in [*entry.get("earlier", []), entry["latest"]]:
            residents[key] = replace(p, **state)
            payload: dict[str, Any] = residents[key].resident()
            if "name_kana" not in state:  # the vector's registry holds no reading for it
                del payload["name_kana"]
            if state is entry["latest"] and "removed" in entry:  # 除票 (RK-BND-009)
                payload |= {"status": "removed", **entry["removed"]}
            world.wire.control("POST", "/residents", {"residents": [payload]}).expect(200, 204)
    records = [{"record_ref": case["id"], **case["record"]} for case in data["tests"]]
    got = _bind(world, "kit.city-a", records)
    unique = {
        key: replace(p, address=f"沖縄県那覇市泉町{n + 1}丁目{n + 11}番{n + 21}号")
        for n, (key, p) in enumerate(residents.items())
    }
    world.wire.control(
        "POST", "/residents", {"residents": [p.resident() for p in unique.values()]}
    ).expect(200, 204)
    truth = world.bind("kit.city-a", list(unique.values()))
    mandatory = {"ambiguous-match", "partial-match", "no-match", "unrepresentable-character"}
    mandatory |= {"kana-differs"}  # RK-BND-003: the reading stopped the bind
    mandatory |= {"resident-removed"}  # RK-BND-009: the resident fits but was removed
    mandatory |= {f"{item}-missing" for item in ("name", "address", "birth-date", "sex")}
    mandatory |= {"variant-form"}  # the notice on a record bound through folding
    for case in data["tests"]:
        want, result = case["expected"]["folded"], got[case["id"]]
        resident = None
        if result["decision"] == "bound":
            resident = next(
                (k for k, p in unique.items() if truth[p.resident_code] == result["link_code"]),
                "a resident the vector does not name",
            )
        else:
            assert not result.get("link_code"), (case["id"], result)
        allowed = [(want["decision"], want["resident"])]
        allowed += [(a["decision"], a["resident"]) for a in want.get("also", [])]
        assert (result["decision"], resident) in allowed, (case["id"], result, resident)
        if (result["decision"], resident) == allowed[0]:
            missing = (set(want["reasons"]) & mandatory) - set(result["reasons"])
            assert not missing, (case["id"], result)
        if result["decision"] == "bound":  # RK-BND-003: no reason but the notice
            assert set(result["reasons"]) <= {"variant-form"}, (case["id"], result)


@pytest.mark.conformance("CT-BND-008", requirements=["RK-BND-002", "RK-BND-005"], profiles=["hub"])
def test_the_kana_reading_is_evidence(world: World) -> None:
    """A given kana reading must agree with the registered one after the kana
    folding (hiragana, half-width, small kana written large): a reading that
    names someone else never binds (review ``kana-differs``); one that agrees
    tells twins one character apart from each other, so the record of either
    twin binds to that twin, while the same record without a reading stays in
    review (``near-match``)."""
    a, b = population(2, first=2_300_000_000)
    twin_a = replace(a, name="鈴木 翔太", name_kana="スズキ ショウタ", address=_KASUMI,
                     birth_date="2001-06-10", sex="male")  # fmt: skip
    twin_b = replace(twin_a, resident_code=b.resident_code, name="鈴木 翔大",
                     name_kana="スズキ ショウダイ")  # fmt: skip
    world.wire.control(
        "POST", "/residents", {"residents": [twin_a.resident(), twin_b.resident()]}
    ).expect(200, 204)
    no_kana = {k: v for k, v in twin_a.four_items().items() if k != "name_kana"}
    got = _bind(
        world,
        "kit.pension",
        [
            _record("a", twin_a),
            _record("b", twin_b),
            _record("a-legacy", replace(twin_a, name_kana="ｽｽﾞｷ ｼﾖｳﾀ")),
            _record("a-hiragana", replace(twin_a, name_kana="すずき　しょうた")),
            _record("a-other-reading", replace(twin_a, name_kana="スズキ ショウジ")),
            _record("a-crossed", replace(twin_a, name_kana=twin_b.name_kana)),
            {"record_ref": "a-no-kana", **no_kana},
        ],
    )
    link_a, link_b = world.link("kit.pension", twin_a), world.link("kit.pension", twin_b)
    assert link_a != link_b
    for ref in ("a", "a-legacy", "a-hiragana"):
        assert got[ref]["decision"] == "bound", (ref, got[ref])
        assert got[ref]["link_code"] == link_a, ref
    assert got["b"]["decision"] == "bound", got["b"]
    assert got["b"]["link_code"] == link_b
    for ref in ("a-other-reading", "a-crossed"):
        assert got[ref]["decision"] == "review", (ref, got[ref])
        assert "kana-differs" in got[ref]["reasons"], (ref, got[ref])
        assert not got[ref].get("link_code"), ref
    assert got["a-no-kana"]["decision"] == "review", got["a-no-kana"]
    assert not got["a-no-kana"].get("link_code")


@pytest.mark.conformance("CT-BND-009", requirements=["RK-BND-003"], profiles=["hub"])
def test_one_record_never_fails_the_batch(world: World) -> None:
    """A batch with records missing an item (absent, null or blank) and malformed
    records (a 和暦 or YYYYMMDD date, a sex code, an undeclared member, no object
    at all) is answered 200, one result per record in request order: a record
    with an item missing goes to review with ``<item>-missing`` and no link code,
    a malformed record gets its own problem ``malformed-binding-record`` naming
    RK-BND-003, and the well-formed records are decided as if alone.  Only a body
    that is no batch is refused as a whole."""
    p = world.persons[6]
    full = _record("ok", p)
    no_address = {k: v for k, v in _record("no-address", p).items() if k != "address"}
    records: list[Any] = [
        full,
        {**_record("blank-name", p), "name": "  "},
        no_address,
        {**_record("null-sex", p), "sex": None},
        {**_record("blank-birth", p), "birth_date": ""},
        {**_record("yyyymmdd", p), "birth_date": p.birth_date.replace("-", "")},
        {**_record("wareki", p), "birth_date": "昭和55年4月1日"},
        {**_record("sex-code", p), "sex": "1"},
        {**_record("sex-kanji", p), "sex": "男"},
        {**_record("undeclared", p), "gender": "male"},
        "not a record",
        {**_record("ok-again", p)},
    ]
    reply = world.call("kit.pension", "POST", "hub", "/bindings", {"records": records})
    results = reply.expect(200)["results"]
    assert len(results) == len(records)
    refs = [r.get("record_ref") for r in results]
    assert refs[:10] == [r["record_ref"] for r in records[:10]], refs
    assert refs[10] is None, refs
    assert refs[11] == "ok-again", refs
    got = {r["record_ref"]: r for r in results if r.get("record_ref")}
    link = world.link("kit.pension", p)
    for ref in ("ok", "ok-again"):
        assert got[ref]["decision"] == "bound", got[ref]
        assert got[ref]["link_code"] == link
    missing = [("blank-name", "name-missing"), ("no-address", "address-missing"),
               ("null-sex", "sex-missing"), ("blank-birth", "birth-date-missing")]  # fmt: skip
    for ref, reason in missing:
        assert got[ref]["decision"] == "review", (ref, got[ref])
        assert reason in got[ref]["reasons"], (ref, got[ref])
        assert not got[ref].get("link_code"), ref
    for result in [got[r] for r in ("yyyymmdd", "wareki", "sex-code", "sex-kanji", "undeclared")]:
        assert "decision" not in result, result
        assert not result.get("link_code"), result
        problem = result["problem"]
        assert problem["type"] == "urn:renkei:problem:malformed-binding-record", result
        assert problem["status"] == 422, result
        assert problem["title"], result
        assert problem.get("requirement") == "RK-BND-003", result
    assert results[10]["problem"]["type"] == "urn:renkei:problem:malformed-binding-record"
    not_a_batch: list[Any] = [{"records": "not a list"}, {"records": []}, [full]]
    for body in not_a_batch:
        world.call("kit.pension", "POST", "hub", "/bindings", body).expect_problem(
            "validation-error", 422
        )


def _removed(p: Person, reason: str, on: str) -> dict[str, Any]:
    return {**p.resident(), "status": "removed", "removed_reason": reason, "removed_on": on}


@pytest.mark.conformance("CT-BND-010", requirements=["RK-BND-009", "RK-BND-002"], profiles=["hub"])
def test_a_resident_removed_from_the_registry_is_never_bound(world: World) -> None:
    """A resident removed from the registry (除票: deceased, emigrated) is never
    bound: the record that fits him on all four items (and on the reading)
    goes to review ``resident-removed`` with no link code, the same record
    without a reading stays in review too (his living twin is one slip away),
    a record fitting him on three items
    is not told of the removal, and he still counts as the near neighbour of
    his living twin (the twin's record without a reading stays in review
    ``near-match``; with the twin's own reading it binds).  An emigrant loaded
    again as current binds again, and a link code bound before a removal still
    carries a query.  A removal without its reason and date, or a reason on a
    current resident, is refused ``validation-error``."""
    a, b, c = population(3, first=2_400_000_000)
    dead = replace(a, name="村田 和也", name_kana="ムラタ カズヤ", birth_date="1978-12-03",
                   address="北海道旭川市6条通9丁目46番地", sex="male")  # fmt: skip
    twin = replace(dead, resident_code=b.resident_code, name="村田 和成")
    twin = replace(twin, name_kana="ムラタ カズナリ")
    emigrant = replace(c, name="高野 美咲", name_kana="タカノ ミサキ", birth_date="1990-07-22",
                       address="東京都世田谷区北沢2丁目14番7号", sex="female")  # fmt: skip
    world.wire.control(
        "POST",
        "/residents",
        {
            "residents": [
                _removed(dead, "deceased", "2020-08-08"),
                twin.resident(),
                _removed(emigrant, "emigrated", "2023-09-01"),
            ]
        },
    ).expect(200, 204)
    no_kana = {k: v for k, v in twin.four_items().items() if k != "name_kana"}
    dead_no_kana = {k: v for k, v in dead.four_items().items() if k != "name_kana"}
    got = _bind(
        world,
        "kit.pension",
        [
            _record("dead", dead),
            {"record_ref": "dead-no-kana", **dead_no_kana},
            _record("dead-three", replace(dead, birth_date="1978-12-30")),
            _record("twin", twin),
            {"record_ref": "twin-no-kana", **no_kana},
            _record("emigrant", emigrant),
        ],
    )
    for ref in ("dead", "emigrant"):
        assert got[ref]["decision"] == "review", (ref, got[ref])
        assert "resident-removed" in got[ref]["reasons"], (ref, got[ref])
        assert not got[ref].get("link_code"), ref
    # without a reading the dead twin's record is one slip from the living twin
    assert got["dead-no-kana"]["decision"] == "review", got["dead-no-kana"]
    assert not got["dead-no-kana"].get("link_code")
    assert got["dead-three"]["decision"] != "bound", got["dead-three"]
    assert "resident-removed" not in got["dead-three"]["reasons"], got["dead-three"]
    assert got["twin"]["decision"] == "bound", got["twin"]
    assert got["twin"]["link_code"] == world.link("kit.pension", twin)
    assert got["twin-no-kana"]["decision"] == "review", got["twin-no-kana"]
    assert not got["twin-no-kana"].get("link_code")
    assert "resident-removed" not in got["twin-no-kana"]["reasons"], got["twin-no-kana"]
    # the emigrant returns: current again, bound again
    world.wire.control("POST", "/residents", {"residents": [emigrant.resident()]}).expect(200, 204)
    back = _bind(world, "kit.pension", [_record("back", emigrant)])["back"]
    assert back["decision"] == "bound", back
    # a link code bound while he was current still carries a query after his removal
    link = back["link_code"]
    world.wire.control(
        "POST", "/residents", {"residents": [_removed(emigrant, "deceased", "2026-01-02")]}
    ).expect(200, 204)
    world.query("kit.pension", link_code=link).expect(202)
    for bad in (
        {**emigrant.resident(), "status": "removed"},
        {**emigrant.resident(), "status": "removed", "removed_reason": "deceased"},
        {**emigrant.resident(), "removed_on": "2026-01-02"},
        {**_removed(emigrant, "deceased", "2026-01-02"), "status": "current"},
        _removed(emigrant, "vanished", "2026-01-02"),
    ):
        world.wire.control("POST", "/residents", {"residents": [bad]}).expect_problem(
            "validation-error", 422
        )
