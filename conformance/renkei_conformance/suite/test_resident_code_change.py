"""A change of resident code (seed items 8, 4): the Number continues and the
person's linkage continues with no agency re-binding."""

from __future__ import annotations

from dataclasses import replace

import pytest

from renkei_conformance.world import World, resident_code


@pytest.mark.conformance(
    "CT-NUM-006",
    requirements=["RK-NUM-008", "RK-IDC-003", "RK-CTL-005"],
    profiles=["hub", "numbering-authority"],
)
def test_resident_code_change_keeps_number_id_code_and_link_codes(world: World) -> None:
    """The registry changes a resident's code (and address): the numbering
    authority gives the same Number under the new code, the hub the same ID
    code, and an agency binding the new 4 items gets its old link code, which
    keeps working in queries."""
    person = world.persons[7]
    number = world.call(
        "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": person.resident_code}
    ).expect(201)["number"]
    link_before = world.link("kit.pension", person)
    id_before = world.wire.control(
        "POST", "/id-codes", {"resident_codes": [person.resident_code]}
    ).expect(200)["id_codes"][person.resident_code]
    moved = replace(
        person,
        resident_code=resident_code(3_000_000_007),
        address="大阪府大阪市北区中之島1丁目3番20号",
    )
    world.wire.control(
        "POST",
        "/residents",
        {"residents": [{**moved.resident(), "previous_resident_code": person.resident_code}]},
    ).expect(200, 204)
    looked = world.call("kit.town-m", "GET", "numbering", f"/numbers/{moved.resident_code}")
    assert looked.expect(200)["number"] == number, "the Number must continue (RK-NUM-008)"
    id_after = world.wire.control(
        "POST", "/id-codes", {"resident_codes": [moved.resident_code]}
    ).expect(200)["id_codes"][moved.resident_code]
    assert id_after == id_before, "the ID code must survive the change (RK-IDC-003)"
    world.links.clear()
    assert world.bind("kit.pension", [moved])[moved.resident_code] == link_before
    world.query("kit.pension", link_code=link_before).expect(202)
    stale = world.call(
        "kit.pension",
        "POST",
        "hub",
        "/bindings",
        {"records": [{"record_ref": "old", **person.four_items()}]},
    ).expect(200)
    assert stale["results"][0]["decision"] != "bound", "only the latest 4 items bind"
