"""Binding link codes to agency records (seed items 13–15, 20).

Only an exact, unique match of all four items against the registry's latest 4
items binds; the 2023 review found 8,351 wrong-person links made from
three-item matches (DIGEST, facts).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

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
