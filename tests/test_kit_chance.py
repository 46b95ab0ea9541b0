"""Random choices of the kit itself that a correct implementation could trip over
by chance (issue kit9): each is drawn from a space large enough that a kit run —
or a node's life of many runs — meets a coincidence with negligible probability."""

from __future__ import annotations

import secrets
from typing import Any

import pytest

from renkei_conformance.hubdouble import HubDouble


def test_hub_double_serial_bases_are_drawn_from_2_to_the_43_and_stay_exact_in_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A node keeps the serials of every hub double it met (CT-AGN-010 looks its
    entry up by serial): the doubles' serial bases are drawn from 2^43 values, so
    a run's ~10 doubles share one with the ~10^4 a node met in its life with
    probability ≈ 10^5 / 2^43 ≈ 1e-8 (with 10^6 bases it was 0.1); the largest
    serial stays below 2^53, exact in every JSON reader."""
    asked: list[int] = []

    def largest(n: int) -> int:
        asked.append(n)
        return n - 1

    monkeypatch.setattr(secrets, "randbelow", largest)
    double: Any = HubDouble({}, [])
    assert asked == [2**43]
    assert double._base + 999_999 < 2**53


def test_ct_num_011s_random_residents_never_take_a_world_persons_resident_code() -> None:
    """CT-NUM-011 loads 2,000 residents with random resident codes beside the
    world's 20; a draw of one of the world's codes (4e-6 a run) would load a second
    resident under it.  Such a draw is skipped."""
    from renkei_conformance.suite.test_number_derivation import _with_random_codes
    from renkei_conformance.world import population

    world = population(20)

    class Draws:
        serials = iter([1_000_000_003, 1_000_000_019, 7, 8, 9])

        def randrange(self, _stop: int) -> int:
            return next(self.serials)

    people = _with_random_codes(Draws(), 3, 20)  # type: ignore[arg-type]
    assert len(people) == 3
    assert not {p.resident_code for p in people} & {p.resident_code for p in world}
    assert {p.name for p in people}.isdisjoint({p.name for p in world})
