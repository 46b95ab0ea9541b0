"""A floor and a path measured in many short interleaved rounds, with a noise estimate.

A ratio ``floor / path`` taken from two separate timings flaps on a shared
machine: a burst of other work during the path's timing (or the floor's) reads
as overhead (or as its absence).  Here the two alternate in ``rounds`` short
rounds, each timing four blocks of calls: floor, path, path, floor.  Within a
round each side runs once right after the other side and once after itself,
so the caches it finds are the same mix in every round (a round of two
blocks, floor then path one round and path then floor the next, gave two
populations of ratios ~30 % apart for the binding decision, whose index the
floor evicts).  Every round gives its own ratio; the estimate is the **median
of the per-round ratios**, which a few disturbed rounds cannot move, and its
**noise** is the distribution-free confidence interval of that median (order
statistics of the per-round ratios, ``confidence`` 95 % by default): what this
run itself says about how far its ratio could be off.

Each block is timed on two clocks:

* **CPU time** of the process (``time.process_time``, every thread): time the
  process was not on a core (preempted by other work, the usual effect of a
  loaded machine) does not count.  It is the primary clock of every paired
  benchmark here, the fsync'd log appends included (their work, not their
  waits).
* **Wall time** (``time.perf_counter``): includes waiting for a core, the disk
  or another thread.  It is recorded beside the CPU ratio (``ratio_wall``);
  ``clock="wall"`` makes it the primary one.

``benchmarks.compare`` widens its tolerance by the recorded noise of the
baseline and of the run, and refuses to judge a run too noisy to resolve a
29 % slowdown.  Pure functions except ``measure``, which runs the blocks.
"""

from __future__ import annotations

import gc
import itertools
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Estimate", "Paired", "estimate", "measure", "median_interval"]

Clock = Literal["cpu", "wall"]
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Estimate:
    """The median of per-round ratios and the confidence interval of that median."""

    ratio: float
    low: float
    high: float
    rounds: int

    @property
    def noise(self) -> float:
        """Half the width of the interval in log space: ±``noise`` is ±(e^noise − 1) relative."""
        return (math.log(self.high) - math.log(self.low)) / 2

    def info(self, prefix: str = "ratio") -> dict[str, Any]:
        """The estimate as ``extra_info`` fields (``ratio``, ``ratio_ci``, ``ratio_noise``…)."""
        return {
            prefix: round(self.ratio, 4),
            f"{prefix}_ci": [round(self.low, 4), round(self.high, 4)],
            f"{prefix}_noise": round(self.noise, 4),
            f"{prefix}_rounds": self.rounds,
        }


def median_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The distribution-free confidence interval of the median of ``values``.

    With n values sorted, [x(k), x(n−k+1)] covers the true median with
    probability 1 − 2·P(Binomial(n, ½) < k); k is the largest that keeps this
    ≥ ``confidence``.  Too few values for that give their whole range.
    """
    if not values:
        raise ValueError("no values")
    if not 0 < confidence < 1:
        raise ValueError("confidence is a fraction in (0, 1)")
    ordered = sorted(values)
    n = len(ordered)
    tail = (1 - confidence) / 2
    k, below = 0, 0.0  # below = P(B < k + 1) as k grows
    while k < n // 2:
        below += math.comb(n, k) / 2**n
        if below > tail:
            break
        k += 1
    k = max(k, 1)  # k values may be cut from each end (k = 1: the whole range)
    return ordered[k - 1], ordered[n - k]


def estimate(ratios: Sequence[float], confidence: float = CONFIDENCE) -> Estimate:
    """The median of positive per-round ratios, with its confidence interval."""
    if any(not r > 0 for r in ratios):
        raise ValueError("ratios are positive")
    low, high = median_interval(ratios, confidence)
    return Estimate(statistics.median(ratios), low, high, len(ratios))


@dataclass(frozen=True)
class Paired:
    """One paired measurement: the estimate on each clock and the median block times."""

    cpu: Estimate
    wall: Estimate
    floor_s: float  # median seconds per call of the floor, on the primary clock
    path_s: float
    clock: Clock

    @property
    def primary(self) -> Estimate:
        return self.cpu if self.clock == "cpu" else self.wall

    def info(self) -> dict[str, Any]:
        """``ratio`` (and its interval, noise, rounds) on the primary clock, the other beside."""
        other, name = (self.wall, "wall") if self.clock == "cpu" else (self.cpu, "cpu")
        return {
            **self.primary.info(),
            "ratio_clock": self.clock,
            **other.info(f"ratio_{name}"),
            "floor_s": self.floor_s,
            "path_s": self.path_s,
        }


def _block(fn: Callable[[], Any], number: int) -> tuple[float, float]:
    """CPU and wall seconds of ``number`` calls of ``fn``, the collector paused (as timeit)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        cpu0, wall0 = time.process_time(), time.perf_counter()
        for _ in itertools.repeat(None, number):
            fn()
        return time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        if collecting:
            gc.enable()


def measure(
    floor: Callable[[], Any],
    path: Callable[[], Any],
    *,
    number: int,
    floor_number: int | None = None,
    rounds: int = 21,
    clock: Clock = "cpu",
) -> Paired:
    """``rounds`` rounds, each four blocks: floor, path, path, floor; a path block
    is ``number`` calls, a floor block ``floor_number`` (default ``number``; more
    for a floor much faster than its path).

    Choose ``number`` so that a block takes 5–20 ms of CPU: on a loaded machine
    shorter blocks gave per-round ratios several times as spread (each
    preemption's cold caches weigh more in a short block), longer ones only
    lengthen the run.
    """
    floor_number = number if floor_number is None else floor_number
    if min(number, floor_number, rounds) < 1:
        raise ValueError("number, floor_number and rounds are positive")
    floor(), path()  # warm both (first-call caches, lazy imports)
    # A round shorter than the CPU clock's tick reads as 0: count it as one tick.
    tick = time.get_clock_info("process_time").resolution
    at = 0 if clock == "cpu" else 1
    cpu_ratios, wall_ratios, floors, paths = [], [], [], []
    for _ in range(rounds):
        f1, p1 = _block(floor, floor_number), _block(path, number)
        p2, f2 = _block(path, number), _block(floor, floor_number)
        f = [(f1[c] + f2[c]) / (2 * floor_number) for c in (0, 1)]  # seconds per call
        p = [(p1[c] + p2[c]) / (2 * number) for c in (0, 1)]
        cpu_ratios.append(max(f[0], tick) / max(p[0], tick))
        wall_ratios.append(f[1] / p[1])
        floors.append(f[at])
        paths.append(p[at])
    return Paired(
        estimate(cpu_ratios),
        estimate(wall_ratios),
        statistics.median(floors),
        statistics.median(paths),
        clock,
    )
