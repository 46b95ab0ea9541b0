"""Benchmarks: every hot path is measured beside its floor, in the same run.

A floor is what the machine physically does for the same work (a raw AES-SIV
call, a raw SQLite insert of the same bytes, raw SHA-256…).  ``paired``
measures the floor and the path in many short interleaved rounds
(benchmarks/pairing.py) and records ``ratio = floor / path`` (1.0 means no
overhead over the floor) — the median of the per-round ratios on the process's
CPU clock — with its confidence interval (``ratio_ci``, ``ratio_noise``) and
the wall-clock ratio beside it, in the benchmark's ``extra_info``, so the JSON
report carries them and the regression check (``python -m benchmarks.compare``)
can compare ratios across runs and machines within the noise each run
measured.  No benchmark asserts a time: the targets live in specs/benchmarks
and are compared by the benchmark tooling.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
from benchmarks import instructions
from benchmarks.pairing import Clock, measure

os.environ.setdefault("ICONTRACT_SLOW", "")  # production setting: hot-path contracts off


@pytest.fixture
def paired(benchmark: Any) -> Callable[..., float]:
    """``paired(floor, path, number=…, rounds=…)`` → the ratio floor/path, also in extra_info.

    ``number`` calls make a block (5–20 ms of CPU; ``floor_number`` calls for a
    much faster floor); ``rounds`` rounds of four blocks: floor, path, path,
    floor.  The path is also run under pytest-benchmark for its statistics table
    (unless ``--benchmark-disable``).
    """

    def run(
        floor: Callable[[], Any],
        path: Callable[[], Any],
        *,
        number: int,
        floor_number: int | None = None,
        rounds: int = 21,
        clock: Clock = "cpu",
    ) -> float:
        if instructions.active():  # under callgrind: python -m benchmarks.instructions
            benchmark.pedantic(path, rounds=1, iterations=1)
            counted = instructions.count(
                floor, path, number=number, floor_number=floor_number or number
            )
            benchmark.extra_info.update(counted)
            print(f"\n{benchmark.name}: instruction ratio {counted['ratio']:.4f} {counted}")
            return float(counted["ratio"])
        benchmark.pedantic(path, rounds=5, iterations=number, warmup_rounds=1)
        got = measure(
            floor, path, number=number, floor_number=floor_number, rounds=rounds, clock=clock
        )
        benchmark.extra_info.update(got.info())
        est = got.primary
        print(
            f"\n{benchmark.name}: path {got.path_s * 1e6:.2f} µs, floor {got.floor_s * 1e6:.2f} µs "
            f"({clock} time), ratio {est.ratio:.3f} [{est.low:.3f}, {est.high:.3f}], "
            f"wall-clock ratio {got.wall.ratio:.3f}"
        )
        return est.ratio

    return run
