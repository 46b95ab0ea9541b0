"""Verdicts on time that a loaded machine's stall does not decide.

A kit test that bounds how long something takes, or how much load a target
carries, measures on the vendor's CI machine, shared and sometimes loaded: one
exchange can stall for seconds for reasons that are not the target's.  Such a
measurement is made up to ``TRIES`` times and is a finding only if every try
misses: a target that is slow misses every try, while a stall that hits one try
in q hits all of them with probability q^TRIES (q = 1/100 gives 1e-6).

A cost compared across time (before and after a history) is read against floors
measured beside it: ``slowdown`` is how much slower the machine ran the floors the
second time, by which the comparison's margin is widened.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["TRIES", "retried", "slowdown"]

TRIES = 3
T = TypeVar("T")


def retried(attempt: Callable[[], T], ok: Callable[[T], bool], tries: int = TRIES) -> list[T]:
    """Every result of ``attempt``, made until one is ``ok`` or ``tries`` were made;
    the verdict is ``ok`` of the last one."""
    results: list[T] = []
    for _ in range(max(tries, 1)):
        results.append(attempt())
        if ok(results[-1]):
            break
    return results


def _median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def slowdown(floors: Sequence[tuple[Sequence[float], Sequence[float]]]) -> float:
    """The machine's slowdown between two measurements: for each floor (its costs
    before, its costs after), the ratio of the medians; the smallest of them, never
    below 1.  A machine's slowdown shows in every floor; a target that slows along
    with what is measured shows in a floor it serves but not in one it does not."""
    ratios = [
        _median(after) / _median(before)
        for before, after in floors
        if before and after and _median(before) > 0
    ]
    return max(1.0, min(ratios, default=1.0))
