"""The measurement method itself, on real hot paths under artificial load (issue 17 item 4).

Two checks, each a few seconds, run with the benchmark suite (they time real
code, so they are not unit tests; the statistics alone are unit-tested with
synthetic samples in tests/test_bench.py):

* **unchanged code compares clean**: a hot path and its floor are measured
  once as the machine is, then again while ``BUSY`` extra processes spin on
  every core; ``benchmarks.compare`` finds no regression (nor a ``noisy``
  verdict) between the two.
* **a real slowdown is caught**: under the same load, the same path doing 30 %
  more of its own work (three calls in every ten run it twice) fails the
  comparison (as ``regressed``; ``noisy`` would fail it too).

For contrast each also prints the ratio by the method this replaced (the best
of 7 blocks on wall time), which moves with the load.

Run::

    python -m pytest benchmarks/test_method_bench.py -s
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import timeit
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from benchmarks.compare import Measured, compare
from benchmarks.pairing import measure
from benchmarks.test_codes_bench import conversion_pair
from benchmarks.test_log_bench import decision_pair

BUSY = 2 * (os.cpu_count() or 1)  # spinning processes: two per core
SPIN_S = 60  # each spinner stops by itself after this, should the test die first
SECRET = bytes(range(32))


@contextmanager
def busy(count: int = BUSY) -> Iterator[None]:
    """``count`` processes, each spinning on the CPU until stopped (or ``SPIN_S``)."""
    loop = f"import time\nend = time.monotonic() + {SPIN_S}\nwhile time.monotonic() < end: pass"
    spinners = [subprocess.Popen([sys.executable, "-c", loop]) for _ in range(count)]
    try:
        yield
    finally:
        for spinner in spinners:
            spinner.kill()
        for spinner in spinners:
            spinner.wait(timeout=10)


def slowed(path: Callable[[], Any], factor: float) -> Callable[[], Any]:
    """``path`` doing ``factor`` times its work over every ten calls (1.0: unchanged)."""
    extra = round((factor - 1) * 10)
    calls = itertools.count()

    def run() -> Any:
        out = path()
        if next(calls) % 10 < extra:
            path()
        return out

    return run


def _code_conversion() -> tuple[Callable[[], Any], Callable[[], Any], int]:
    """test_codes_bench's link → ID → link conversion and its raw AES-SIV floor."""
    return (*conversion_pair(), 2000)


def _pattern_decision() -> tuple[Callable[[], Any], Callable[[], Any], int]:
    """test_log_bench's pattern decision and its inline floor (pure Python)."""
    return (*decision_pair(), 20_000)


CASES = {"code conversion": _code_conversion, "pattern decision": _pattern_decision}


def _measured(floor: Callable[[], Any], path: Callable[[], Any], number: int) -> Measured:
    est = measure(floor, path, number=number).cpu
    return Measured(est.ratio, est.noise)


def _old_method(floor: Callable[[], Any], path: Callable[[], Any], number: int) -> float:
    """The replaced method: best of 7 alternating blocks on wall time."""
    f = min(timeit.timeit(floor, number=number) for _ in range(7))
    p = min(timeit.timeit(path, number=number) for _ in range(7))
    return f / p


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", sorted(CASES))
def test_unchanged_code_under_load_compares_clean_and_a_30_percent_slowdown_does_not(
    case: str,
) -> None:
    floor, path, number = CASES[case]()
    same = slowed(path, 1.0)  # the same bookkeeping per call as the slowed path
    as_is = _measured(floor, same, number)
    old_as_is = _old_method(floor, same, number)
    with busy():
        loaded = _measured(floor, same, number)
        old_loaded = _old_method(floor, same, number)
        slow = _measured(floor, slowed(path, 1.3), number)
    rows = compare({"as is": as_is}, {"as is": loaded})
    caught = compare({"as is": as_is}, {"as is": slow})
    print(
        f"\n{case} ({BUSY} spinners): as is {as_is.ratio:.3f} ±{as_is.noise:.3f}, "
        f"loaded {loaded.ratio:.3f} ±{loaded.noise:.3f} → {rows[0].status}; "
        f"30 % slower {slow.ratio:.3f} ±{slow.noise:.3f} → {caught[0].status} "
        f"({caught[0].change:+.1%}); old method {old_as_is:.3f} → {old_loaded:.3f} loaded"
    )
    assert rows[0].status == "ok", rows
    assert caught[0].failed, caught  # regressed, or too noisy to tell (compare fails either way)
