"""Benchmarks: every hot path is measured beside its floor, in the same run.

A floor is what the machine physically does for the same work (a raw AES-SIV
call, a raw SQLite insert of the same bytes, raw SHA-256…).  ``paired``
measures the floor and the path back to back and records
``ratio = floor / path`` (1.0 means no overhead over the floor) in the
benchmark's ``extra_info``, so the JSON report carries it and the regression
check can compare ratios across machines.  No benchmark asserts a time: the
targets live in specs/benchmarks and are compared by the benchmark tooling.
"""

from __future__ import annotations

import os
import timeit
from collections.abc import Callable
from typing import Any

import pytest

os.environ.setdefault("ICONTRACT_SLOW", "")  # production setting: hot-path contracts off


def interleaved_best(
    floor: Callable[[], Any], path: Callable[[], Any], *, number: int, repeat: int = 7
) -> tuple[float, float]:
    """Seconds per call of floor and path, each the best of ``repeat`` blocks of
    ``number`` calls, the blocks alternating floor, path, floor, path…

    Alternating blocks expose both to the same drift of clock frequency and of
    other load on the machine; measuring all floor blocks first and all path
    blocks after lets a drift between the two halves pass for overhead (or
    hide it).
    """
    floor(), path()  # warm both (first-call caches, lazy imports)
    floors: list[float] = []
    paths: list[float] = []
    for _ in range(repeat):
        floors.append(timeit.timeit(floor, number=number))
        paths.append(timeit.timeit(path, number=number))
    return min(floors) / number, min(paths) / number


@pytest.fixture
def paired(benchmark: Any) -> Callable[..., float]:
    """``paired(floor, path, number=…)`` → the ratio floor/path, also in extra_info.

    The ratio comes from interleaved blocks (``interleaved_best``); the path is
    also run under pytest-benchmark for its statistics table.
    """

    def run(floor: Callable[[], Any], path: Callable[[], Any], *, number: int = 2000) -> float:
        benchmark.pedantic(path, rounds=5, iterations=number, warmup_rounds=1)
        floor_s, path_s = interleaved_best(floor, path, number=number)
        ratio = floor_s / path_s
        benchmark.extra_info.update(
            {"floor_s": floor_s, "path_s": path_s, "ratio": round(ratio, 3)}
        )
        print(
            f"\n{benchmark.name}: path {path_s * 1e6:.2f} µs, floor {floor_s * 1e6:.2f} µs, "
            f"ratio {ratio:.2f}"
        )
        return ratio

    return run
