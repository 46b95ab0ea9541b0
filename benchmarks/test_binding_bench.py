"""Binding: one record's decision against a 20 000-resident registry, beside its floor.

The floor is what an exact matcher minimally does for one record: the
RK-BND-005 normalisation of name and address and one dict look-up of the
joined key.  The path is ``decide`` (folding, the full-key look-up, the four
three-item look-ups for ambiguity and near matches).  The national-scale
figures (1 M × 1 M, Splink side by side) come from ``renkei binding bench``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from renkei_reference.core.binding_match import Policy, RegistryIndex, decide
from renkei_reference.core.binding_normalise import strict_text
from renkei_reference.services.synthetic_population import extract, population


def test_binding_decision(paired: Callable[..., float]) -> None:
    pop = population(20_000, seed=7)
    ex = extract(pop, 2_000, seed=8)
    index = RegistryIndex(pop.latest, pop.history, Policy.FOLDED)  # the hub's (RK-BND-005)
    exact = {
        "\x1f".join((strict_text(n), strict_text(a), b, s)): i
        for i, (n, a, b, s) in enumerate(pop.latest)
    }
    # A block is whole passes over the 2,000 records, so floor and path blocks see the same ones.
    floor_records, path_records = itertools.cycle(ex.records), itertools.cycle(ex.records)

    def floor() -> int | None:
        n, a, b, s = next(floor_records)
        return exact.get("\x1f".join((strict_text(n), strict_text(a), b, s)))

    def path() -> object:
        return decide(index, next(path_records))

    # The path is memory-bound (a 20,000-resident index), so other processes' use of
    # the caches spreads its rounds more than a compute-bound path's: twice the rounds.
    size = len(ex.records)
    paired(floor, path, number=size, floor_number=10 * size, rounds=41)
