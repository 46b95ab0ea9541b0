"""Link codes are isolated per agency (seed items 5, 9, 12)."""

from __future__ import annotations

import base64

import pytest

from renkei_conformance.world import World


@pytest.mark.conformance("CT-LNK-001", requirements=["RK-LNK-001"], profiles=["hub"])
def test_link_codes_differ_per_agency(world: World) -> None:
    """The same persons bound by two agencies get pairwise distinct link codes,
    and binding again gives each agency the same code as before (item 15)."""
    a = world.bind("kit.pension", world.persons)
    b = world.bind("kit.city-a", world.persons)
    assert len(set(a.values()) | set(b.values())) == 2 * len(world.persons)
    again = world.bind("kit.pension", world.persons[:3])
    assert all(again[rc] == a[rc] for rc in again)


@pytest.mark.conformance("CT-LNK-002", requirements=["RK-LNK-002"], profiles=["hub"])
def test_link_code_of_another_agency_is_refused(world: World) -> None:
    """An agency presenting a link code issued to another agency is refused."""
    person = world.persons[0]
    foreign = world.link("kit.city-a", person)
    reply = world.query("kit.pension", link_code=foreign)
    reply.expect_problem("link-code-not-valid-for-agency", {400, 403, 422})


@pytest.mark.conformance(
    "CT-LNK-003", requirements=["RK-LNK-002", "RK-LNK-004", "RK-WIRE-004"], profiles=["hub"]
)
@pytest.mark.parametrize("mutation", ["flip-last-byte", "truncate", "garbage"])
def test_forged_or_malformed_link_codes_are_refused(world: World, mutation: str) -> None:
    """Altered, truncated or garbage link codes are refused specifically."""
    code = world.link("kit.pension", world.persons[0])
    if mutation == "flip-last-byte":
        raw = bytearray(base64.urlsafe_b64decode(code + "=" * (-len(code) % 4)))
        raw[-1] ^= 0x01
        forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
        allowed = {"link-code-not-valid-for-agency"}
    elif mutation == "truncate":
        forged, allowed = code[:-4], {"malformed-link-code"}
    else:
        forged, allowed = "not a link code!", {"malformed-link-code"}
    world.query("kit.pension", link_code=forged).expect_problem(allowed, {400, 403, 422})


@pytest.mark.conformance(
    "CT-LNK-004",
    requirements=[
        "RK-LNK-003",
        "RK-FLOW-002",
        "RK-IDC-001",
        "RK-ARCH-004",
        "RK-LOG-008",
        "RK-NUM-009",
        "RK-CTL-006",
    ],
    profiles=["hub"],
)
def test_hub_keeps_no_link_code_and_no_payload(world: World) -> None:
    """After linkages close, nothing the hub stores contains a link code of
    either side, the answered payload (a canary), a Number, a resident code
    or a person's name or address (RK-ARCH-004, RK-LOG-008, RK-NUM-009)."""
    canary = base64.b64encode(b"CANARY-renkei-payload-7f3a9c").decode()
    seen_codes = world.complete_linkages(world.persons[:5], canary)
    numbers = [
        world.call(
            "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": p.resident_code}
        ).expect(201)["number"]
        for p in world.persons[:5]
    ]
    hub_text = world.assert_hub_keeps_none(seen_codes, [canary])
    stores = world.state()
    for number in numbers:
        assert number not in hub_text, "the hub stores a Number (RK-NUM-009)"
    for p in world.persons[:5]:
        for value, what in (
            (p.resident_code, "resident code"),
            (p.name, "name"),
            (p.address, "address"),
        ):
            assert value not in hub_text, f"the hub stores a person's {what} (RK-ARCH-004)"
    numbering_text = repr(stores.get("numbering.table", ""))
    for linkage in stores.get("hub.linkages", []):
        assert str(linkage.get("person", "")) not in numbering_text


@pytest.mark.conformance("CT-LNK-005", requirements=["RK-LNK-006", "RK-LNK-001"], profiles=["hub"])
def test_link_code_unit_is_the_agency_unless_a_shared_unit_is_declared(world: World) -> None:
    """Two agencies registered with one link-code unit (a sector subsystem,
    item 12) share link codes; an agency of its own unit does not."""
    world.tokens.update(
        world.wire.control(
            "POST",
            "/agencies",
            {
                "agencies": [
                    {
                        "agency_id": "kit.kenpo-1",
                        "name": "試験健保一",
                        "link_code_unit": "kit.sector-health",
                    },
                    {
                        "agency_id": "kit.kenpo-2",
                        "name": "試験健保二",
                        "link_code_unit": "kit.sector-health",
                    },
                ]
            },
        ).expect(200)["credentials"]
    )
    person = world.persons[8]
    one, two = world.link("kit.kenpo-1", person), world.link("kit.kenpo-2", person)
    assert one == two
    assert one != world.link("kit.pension", person)


@pytest.mark.conformance("CT-LNK-006", requirements=["RK-LNK-003", "RK-FLOW-002"], profiles=["hub"])
def test_no_link_code_is_kept_after_a_thousand_linkages(world: World) -> None:
    """After 1,000 complete linkages no link code of either side — nor any
    payload — is found anywhere in what the hub stores."""
    payload = base64.b64encode(b"renkei-canary-1000").decode()
    seen: set[str] = set()
    for batch in range(20):
        persons = [world.persons[(batch * 50 + i) % len(world.persons)] for i in range(50)]
        seen |= world.complete_linkages(persons, payload)
    world.assert_hub_keeps_none(seen, [payload])
