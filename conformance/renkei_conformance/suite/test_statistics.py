"""Statistical independence on 10,000 synthetic persons (seed items 3, 5, 6, 8).

The persons have consecutive resident codes: the easiest input from which to
spot a Number or a link code computed by a weak function.  Thresholds and
false-alarm rates are in ``renkei_conformance.stats``; each test splits its
false-alarm budget of 1e-6 among the statistics it decides on
(``FALSE_ALARM / k`` each), so it refuses a correct implementation with
probability below 1e-6 per run.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from renkei_conformance.client import Wire
from renkei_conformance.stats import (
    FALSE_ALARM,
    Finding,
    bit_linear_relations,
    digit_uniformity,
    mutual_information,
    spearman,
)
from renkei_conformance.world import World, link_code_bytes

PERSONS = 10_000


@dataclass
class Population:
    resident_codes: list[int]
    numbers: list[str]
    id_codes: list[int]
    links_a: list[int]
    links_b: list[int]


@pytest.fixture(scope="module")
def population(wire: Wire) -> Population:
    world = World.create(wire, n_persons=PERSONS)
    rcs = [p.resident_code for p in world.persons]
    numbers = [
        world.call("kit.town-m", "POST", "numbering", "/numbers", {"resident_code": rc}).expect(
            201
        )["number"]
        for rc in rcs
    ]
    ids = world.wire.control("POST", "/id-codes", {"resident_codes": rcs}).expect(200)["id_codes"]
    links: dict[str, dict[str, str]] = {}
    for agency in ("kit.pension", "kit.city-a"):
        links[agency] = {}
        for start in range(0, PERSONS, 5000):
            links[agency].update(world.bind(agency, world.persons[start : start + 5000]))

    def code_int(code: str) -> int:  # 64 bits of the authenticated part, past the version byte
        return int.from_bytes(link_code_bytes(code)[1:9], "big")

    return Population(
        resident_codes=[int(rc) for rc in rcs],
        numbers=numbers,
        id_codes=[int(ids[rc][2:18], 16) for rc in rcs],
        links_a=[code_int(links["kit.pension"][rc]) for rc in rcs],
        links_b=[code_int(links["kit.city-a"][rc]) for rc in rcs],
    )


def _body(number: str) -> int:
    # The 32 low bits of the 11 free digits: uniform within 0.6 % per bit
    # (10¹¹ / 2³² ≈ 23.3 full cycles), unlike the top bits of a number < 10¹¹;
    # bit_linear_relations conditions on each bit's count, so the bias costs no
    # false alarm.
    return int(number[:11]) % 2**32


def _all_pass(findings: list[Finding]) -> None:
    failed = [str(f) for f in findings if not f.passed]
    assert not failed, "\n".join(failed)


@pytest.mark.conformance(
    "CT-NUM-007",
    requirements=["RK-NUM-001", "RK-NUM-002", "RK-NUM-004"],
    profiles=["numbering-authority"],
)
def test_numbers_are_uniform_and_unordered(population: Population) -> None:
    """The 11 free digits of the Numbers are uniform position by position, and
    the Numbers' order is unrelated to the consecutive resident codes'."""
    nums = [_body(n) for n in population.numbers]
    each = FALSE_ALARM / 3  # three statistics: 1e-6 for the test
    _all_pass(
        [
            digit_uniformity(
                "digits of the Numbers", population.numbers, range(11), false_alarm=each
            ),
            spearman("Number ~ resident code", nums, population.resident_codes, false_alarm=each),
            bit_linear_relations(
                "Number bits ~ resident-code bits",
                nums,
                32,
                population.resident_codes,
                34,
                false_alarm=each,
            ),
        ]
    )


@pytest.mark.conformance(
    "CT-NUM-008",
    requirements=["RK-NUM-002", "RK-IDC-001", "RK-CTL-003"],
    profiles=["numbering-authority", "hub"],
)
def test_numbers_carry_no_information_about_id_codes(population: Population) -> None:
    """Rank correlation, every bit pair and the mutual information of
    Numbers and ID codes are those of independent variables."""
    nums = [_body(n) for n in population.numbers]
    each = FALSE_ALARM / 3  # three statistics: 1e-6 for the test
    _all_pass(
        [
            spearman("Number ~ ID code", nums, population.id_codes, false_alarm=each),
            bit_linear_relations(
                "Number bits ~ ID-code bits", nums, 32, population.id_codes, 64, false_alarm=each
            ),
            mutual_information(
                "Number ; ID code", nums, 32, population.id_codes, 64, false_alarm=each
            ),
        ]
    )


@pytest.mark.conformance("CT-LNK-007", requirements=["RK-LNK-001"], profiles=["hub"])
def test_link_codes_of_two_agencies_are_independent(population: Population) -> None:
    """All 20,000 link codes are distinct, and the two agencies' codes for the
    same persons are statistically independent of each other and of the
    resident codes."""
    # 20,000 random 64-bit values repeat with probability ≈ (2·10⁴)² / 2⁶⁵ ≈ 1e-11
    assert len(set(population.links_a) | set(population.links_b)) == 2 * PERSONS
    a, b, rcs = population.links_a, population.links_b, population.resident_codes
    each = FALSE_ALARM / 4  # four statistics: 1e-6 for the test
    _all_pass(
        [
            spearman("link(A) ~ link(B)", a, b, false_alarm=each),
            bit_linear_relations("link(A) bits ~ link(B) bits", a, 64, b, 64, false_alarm=each),
            mutual_information("link(A) ; link(B)", a, 64, b, 64, false_alarm=each),
            spearman("link(A) ~ resident code", a, rcs, false_alarm=each),
        ]
    )
