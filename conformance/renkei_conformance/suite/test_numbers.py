"""Numbers cannot be traced back to ID codes (seed items 3, 6, 8, 9).

The visible Number is made by a random conversion table, the invisible codes
by encryption; no interface returns one with the other, and the hub refuses a
Number wherever a link code is expected.
"""

from __future__ import annotations

import pytest

from renkei_conformance.client import Reply
from renkei_conformance.oracle import valid_individual
from renkei_conformance.stats import FALSE_ALARM, kendall
from renkei_conformance.world import World

pytestmark = pytest.mark.usefixtures("wire")


def _issue(world: World, n: int) -> dict[str, str]:
    numbers = {}
    for p in world.persons[:n]:
        r = world.call(
            "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": p.resident_code}
        ).expect(201)
        numbers[p.resident_code] = r["number"]
    return numbers


@pytest.mark.conformance(
    "CT-NUM-001",
    requirements=["RK-NUM-002", "RK-IDC-001", "RK-NUM-004"],
    profiles=["numbering-authority"],
)
def test_number_responses_carry_no_invisible_code(world: World) -> None:
    """Issuing a Number returns a valid 12-digit 個人番号 and nothing that is, or
    contains, the person's ID code or any link code (RK-NUM-002, RK-IDC-001)."""
    world.bind("kit.pension", world.persons[:10])
    numbers = _issue(world, 10)
    disclosed = world.wire.control("POST", "/id-codes", {"resident_codes": list(numbers)}).expect(
        200
    )["id_codes"]
    secrets = set(disclosed.values()) | set(world.links.values())
    for reply in world.wire.transcript:
        if "/numbering/" in reply.url:
            for secret in secrets:
                assert secret not in reply.text, f"{reply.url} returned an invisible code"
    for number in numbers.values():
        assert valid_individual(number), f"{number} is not a valid 個人番号 (RK-NUM-004)"


@pytest.mark.conformance("CT-NUM-002", requirements=["RK-NUM-003"], profiles=["hub"])
def test_hub_refuses_a_number_where_a_link_code_is_expected(world: World) -> None:
    """A requester that sends a 12-digit Number instead of its link code is
    refused with ``number-where-link-code-expected`` (RK-NUM-003), under a
    pattern that would otherwise approve the query."""
    numbers = _issue(world, 1)
    reply = world.query("kit.pension", link_code=next(iter(numbers.values())))
    reply.expect_problem("number-where-link-code-expected", {400, 422})
    assert reply.body.get("requirement") == "RK-NUM-003"


@pytest.mark.conformance(
    "CT-NUM-003",
    requirements=["RK-NUM-001", "RK-NUM-002", "RK-CTL-003"],
    profiles=["numbering-authority"],
)
def test_numbers_are_not_ordered_like_resident_codes_or_id_codes(world: World) -> None:
    """For 20 persons with consecutive resident codes, the Numbers' order is
    unrelated to the resident codes' and to the ID codes' (Kendall's τ).

    The count of discordant pairs of a random order has the Mahonian law, so the
    test is exact at n = 20: each comparison is refused at two-sided p < 5e-7
    (|τ| > 0.737), the pair of them below 1e-6 per run; Numbers in the resident
    codes' order (τ = 1) have p = 8e-19 (the statistical family with ≥ 10,000
    persons is the kit's larger test)."""
    numbers = _issue(world, 20)
    rcs = list(numbers)
    ids = world.wire.control("POST", "/id-codes", {"resident_codes": rcs}).expect(200)["id_codes"]
    as_int = [int(numbers[r]) for r in rcs]
    half = FALSE_ALARM / 2
    by_rc = kendall("Numbers ~ resident codes", as_int, [int(r) for r in rcs], false_alarm=half)
    by_id = kendall("Numbers ~ ID codes", as_int, [int(ids[r], 16) for r in rcs], false_alarm=half)
    assert by_rc.passed, f"Numbers follow resident codes: {by_rc}"
    assert by_id.passed, f"Numbers follow ID codes: {by_id}"


@pytest.mark.conformance(
    "CT-NUM-004", requirements=["RK-NUM-005"], profiles=["numbering-authority"]
)
def test_no_double_issue(world: World) -> None:
    """A second issue for the same resident code is refused (二重付番の回避)."""
    person = world.persons[0]
    first = world.call(
        "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": person.resident_code}
    ).expect(201)
    again: Reply = world.call(
        "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": person.resident_code}
    )
    again.expect_problem("number-already-issued", 409)
    looked = world.call("kit.town-m", "GET", "numbering", f"/numbers/{person.resident_code}")
    assert looked.expect(200)["number"] == first["number"]


@pytest.mark.conformance(
    "CT-NUM-005", requirements=["RK-NUM-010"], profiles=["numbering-authority"]
)
def test_only_municipalities_may_ask_for_numbers(world: World) -> None:
    """Issuance and look-up answer only the municipality (resident-registry)
    role; any other agency gets 403 ``forbidden-role``."""
    rc = world.persons[0].resident_code
    world.call(
        "kit.pension", "POST", "numbering", "/numbers", {"resident_code": rc}
    ).expect_problem("forbidden-role", 403)
    world.call("kit.town-m", "POST", "numbering", "/numbers", {"resident_code": rc}).expect(201)
    world.call("kit.pension", "GET", "numbering", f"/numbers/{rc}").expect_problem(
        "forbidden-role", 403
    )


@pytest.mark.conformance(
    "CT-NUM-009",
    requirements=["RK-NUM-007", "RK-NUM-002", "RK-NUM-009"],
    profiles=["numbering-authority", "hub"],
)
def test_a_new_number_at_the_persons_request_changes_no_invisible_code(world: World) -> None:
    """Re-issuing a Number revokes the old one, gives a new valid one, and
    changes neither the person's ID code nor any link code."""
    person = world.persons[16]
    first = world.call(
        "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": person.resident_code}
    ).expect(201)["number"]
    link = world.link("kit.pension", person)
    id_before = world.wire.control(
        "POST", "/id-codes", {"resident_codes": [person.resident_code]}
    ).expect(200)["id_codes"]
    again = world.call(
        "kit.town-m",
        "POST",
        "numbering",
        f"/numbers/{person.resident_code}/reissue",
        {"reason": "person-request"},
    ).expect(201)
    assert again["previous_number"] == first
    assert again["number"] != first
    assert valid_individual(again["number"])
    looked = world.call("kit.town-m", "GET", "numbering", f"/numbers/{person.resident_code}")
    assert looked.expect(200)["number"] == again["number"]
    id_after = world.wire.control(
        "POST", "/id-codes", {"resident_codes": [person.resident_code]}
    ).expect(200)["id_codes"]
    assert id_after == id_before, "re-issuing a Number changed the ID code"
    world.links.clear()
    assert world.link("kit.pension", person) == link, "re-issuing a Number changed a link code"


@pytest.mark.conformance(
    "CT-CORP-001", requirements=["RK-CORP-001", "RK-CORP-002"], profiles=["numbering-authority"]
)
def test_corporate_numbers(world: World) -> None:
    """A 法人番号 is the 12-digit base with the leading check digit of
    財務省令 平成26年第70号 第2条; a base is numbered once; a malformed base is
    refused."""
    reply = world.call(
        "kit.town-m", "POST", "numbering", "/corporate-numbers", {"base12": "123456789012"}
    ).expect(201)
    assert reply["corporate_number"] == "7123456789012"
    world.call(
        "kit.town-m", "POST", "numbering", "/corporate-numbers", {"base12": "123456789012"}
    ).expect_problem("corporate-number-already-issued", 409)
    world.call(
        "kit.town-m", "POST", "numbering", "/corporate-numbers", {"base12": "12345678901X"}
    ).expect_problem({"validation-error"}, 422)
