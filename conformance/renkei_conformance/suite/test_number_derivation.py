"""Numbers are drawn, not computed (seed items 3, 6, 8; RK-NUM-001, RK-NUM-002, RK-NUM-007).

The statistics of ``test_statistics`` look inside one deployment at consecutive
resident codes; a keyed function of the resident code passes every one of them.
These tests look where such a function shows (issue 14):

* across a reset: the same residents get other Numbers, as fresh draws do;
* digit by digit: with random resident codes, no digit of a Number depends on any
  digit of the resident code;
* on re-issue: the new Number is unrelated to the old one, and a revoked Number is
  never handed out again.

Every test refuses a correct implementation with probability below 1e-6 per run
(``renkei_conformance.stats``; a test deciding on two statistics gives each half;
tests/test_kit_stats.py measures false alarms and power).
"""

from __future__ import annotations

import dataclasses
import random

import pytest

from renkei_conformance.client import Reply, Wire
from renkei_conformance.oracle import valid_individual
from renkei_conformance.stats import FALSE_ALARM, digit_dependence, digit_uniformity
from renkei_conformance.world import (
    Person,
    World,
    current_challenge,
    population,
    resident_code,
)

pytestmark = pytest.mark.usefixtures("wire")

ACROSS_RESET = 200
"""Residents numbered before and after a reset: a repeat has probability ≈ 200 · 10⁻¹¹."""
RANDOM_CODES = 2000
"""Residents with random codes for the digit test: ≈ 20 per cell of a 10×10 table."""
REISSUED = 600
"""Numbers re-issued for the old ~ new test: 6 per cell."""


def _numbers(world: World, persons: list[Person]) -> dict[str, str]:
    def issue(p: Person) -> str:
        body = {"resident_code": p.resident_code}
        return str(
            world.call("kit.town-m", "POST", "numbering", "/numbers", body).expect(201)["number"]
        )

    return dict(zip([p.resident_code for p in persons], world.each(issue, persons), strict=True))


def _reissue(world: World, rc: str) -> Reply:
    body = {"reason": "person-request"}
    return world.call("kit.town-m", "POST", "numbering", f"/numbers/{rc}/reissue", body).expect(201)


def _with_random_codes(rng: random.Random, n: int, skip: int) -> list[Person]:
    """``n`` residents with distinct uniformly random resident codes (4 items unique,
    none shared with the world's first ``skip`` persons)."""
    people = population(n + skip)
    taken = {p.resident_code for p in people[:skip]}  # drawn by chance: 4e-6 a run
    codes: set[str] = set()
    while len(codes) < n:
        code = resident_code(rng.randrange(10**10))
        if code not in taken:
            codes.add(code)
    people = people[skip:]
    return [
        dataclasses.replace(p, resident_code=c) for p, c in zip(people, sorted(codes), strict=True)
    ]


@pytest.mark.conformance(
    "CT-NUM-010",
    requirements=["RK-NUM-001", "RK-NUM-002"],
    profiles=["numbering-authority"],
)
def test_the_same_residents_get_other_numbers_after_a_reset(wire: Wire) -> None:
    """Numbered twice, once before and once after a reset, the same 200 residents
    get other Numbers: fresh random draws repeat with probability ≈ 2·10⁻⁹, while
    any function of the resident code (keyed or not, with a key kept across the
    reset) gives the same Number again."""
    world = World.create(wire, n_persons=ACROSS_RESET)
    before = _numbers(world, world.persons)
    world = World.create(wire, n_persons=ACROSS_RESET)
    after = _numbers(world, world.persons)
    same = sorted(rc for rc in before if before[rc] == after[rc])
    assert not same, (
        f"{len(same)} of {ACROSS_RESET} residents got the same Number again after a reset "
        f"(e.g. resident code {same[0]} → {before[same[0]]}): Numbers are computed from the "
        "resident code, not drawn from a random conversion table (RK-NUM-001, RK-NUM-002)"
    )


@pytest.mark.conformance(
    "CT-NUM-011",
    requirements=["RK-NUM-001", "RK-NUM-002"],
    profiles=["numbering-authority"],
)
def test_no_digit_of_a_number_depends_on_a_digit_of_the_resident_code(wire: Wire) -> None:
    """For 2,000 residents with random resident codes, every digit position of the
    Number is independent of every digit position of the resident code (χ² of each
    10×10 table, Bonferroni over the 110 pairs)."""
    world = World.create(wire)
    draws = current_challenge().rng("random-resident-codes", 20261206)
    people = _with_random_codes(draws, RANDOM_CODES, len(world.persons))
    wire.control("POST", "/residents", {"residents": [p.resident() for p in people]}).expect(200)
    numbers = _numbers(world, people)
    codes = list(numbers)
    finding = digit_dependence(
        "Number digit ~ resident-code digit",
        codes,
        range(10),
        [numbers[c] for c in codes],
        range(11),
    )
    assert finding.passed, str(finding)


@pytest.mark.conformance(
    "CT-NUM-012",
    requirements=["RK-NUM-001", "RK-NUM-005", "RK-NUM-007"],
    profiles=["numbering-authority"],
)
def test_a_reissued_number_is_unrelated_to_the_old_and_a_revoked_one_never_returns(
    wire: Wire,
) -> None:
    """600 Numbers re-issued at the persons' request: each new Number is valid and
    differs from the old; no digit of the new depends on a digit of the old; the
    differences new − old are uniform digit by digit (no ``old + k``); and no
    revoked Number is handed out again — not to the persons re-issued twice, not
    to residents numbered afterwards."""
    world = World.create(wire, n_persons=REISSUED + 100)
    first = _numbers(world, world.persons[:REISSUED])
    renewed: dict[str, str] = {}
    replies = world.each(lambda rc: _reissue(world, rc), list(first))
    for (rc, old), reply in zip(first.items(), replies, strict=True):
        assert reply["previous_number"] == old, reply
        renewed[rc] = reply["number"]
    olds = [first[rc] for rc in first]
    news = [renewed[rc] for rc in first]
    assert all(valid_individual(n) for n in news)
    assert not [rc for rc in first if first[rc] == renewed[rc]], "a re-issue kept the Number"
    half = FALSE_ALARM / 2  # two statistics: 1e-6 for the test
    dependence = digit_dependence(
        "new Number digit ~ old Number digit", olds, range(11), news, range(11), false_alarm=half
    )
    differences = [
        f"{(int(new[:11]) - int(old[:11])) % 10**11:011d}"
        for old, new in zip(olds, news, strict=True)
    ]
    steps = digit_uniformity("digits of new − old", differences, range(11), false_alarm=half)
    assert dependence.passed, str(dependence)
    assert steps.passed, str(steps)
    revoked = set(olds)
    later = _numbers(world, world.persons[REISSUED:])
    twice = list(first)[:50]
    again = {
        rc: str(reply["number"])
        for rc, reply in zip(twice, world.each(lambda rc: _reissue(world, rc), twice), strict=True)
    }
    revoked |= {renewed[rc] for rc in again}
    handed_out = list(later.values()) + list(again.values())
    back = sorted(set(handed_out) & revoked)
    assert not back, (
        f"revoked Numbers were issued again: {back[:5]} (RK-NUM-007: a revoked Number is "
        "never reissued)"
    )
