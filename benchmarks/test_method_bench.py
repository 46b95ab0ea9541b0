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
from benchmarks.test_log_bench import _queries, _table
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from renkei_reference.core.codes import (
    AgencyId,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
)
from renkei_reference.core.crypto import AesSivCipher, derive_key

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
    id_cipher = AesSivCipher.derived(SECRET, "id-code", 1)
    link_cipher = AesSivCipher.derived(SECRET, "link-code", 1)
    a, b = AgencyId("city.131016"), AgencyId("nenkin-kiko")
    text = link_code_for(link_cipher, id_code_of(id_cipher, ResidentCode("12345678903")), a).text()

    def path() -> str:
        id_code = id_code_from_link_code(link_cipher, LinkCode.parse(text), a)
        return link_code_for(link_cipher, id_code, b).text()

    siv = AESSIV(derive_key(SECRET, "link-code", 1))
    ad_a, ad_b = [b"renkei/link-code/v1", b"city.131016"], [b"renkei/link-code/v1", b"nenkin-kiko"]
    body = LinkCode.parse(text).raw[1:]

    def floor() -> bytes:
        return siv.encrypt(siv.decrypt(body, ad_a), ad_b)

    return floor, path, 2000


def _pattern_decision() -> tuple[Callable[[], Any], Callable[[], Any], int]:
    """test_log_bench's pattern decision and its inline floor (pure Python)."""
    from renkei_reference.core.patterns import decide

    table, queries = _table(), _queries()
    floor_queries, path_queries = itertools.cycle(queries), itertools.cycle(queries)

    def path() -> None:
        decide(table, next(path_queries))

    def floor() -> None:
        q = next(floor_queries)
        p = table.get(q.pattern_id)
        _ = (
            p is not None
            and q.authenticated_requester == q.requester
            and q.requester in p.requesters
            and q.provider in p.providers
            and q.information_kind in p.information_kinds
            and (p.valid_from is None or p.valid_from <= q.at)
            and (p.valid_until is None or q.at < p.valid_until)
        )

    return floor, path, 20_000


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
