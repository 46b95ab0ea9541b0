"""Instruction counts of floor and path under Valgrind's callgrind: ratios no load moves.

    python -m benchmarks.instructions --json run-instructions.json
    python -m benchmarks.compare run-instructions.json \\
        --baseline benchmarks/baseline-instructions.json

Runs the pure-CPU paired benchmarks (``FILES``: code conversions, pattern
decisions, sealing, the binding decision) in one pytest process under
``valgrind --tool=callgrind``.  There ``paired`` (benchmarks/conftest.py) runs
each side inside a call of the C library's ``qsort`` (through ``ctypes``, the
side's calls made from the comparison callback) and reads the number of
instructions callgrind counted inside that call (``--toggle-collect`` and
``--dump-after`` on ``qsort_r``), less that of an empty call.  The recorded
``ratio`` is then floor instructions per call over path instructions per call,
``ratio_clock`` is ``instructions``, and the interval is the ratio itself (a
count does not depend on the load; ``PYTHONHASHSEED`` is fixed so that dict
and set layouts repeat).  Hardware counters (``perf stat -e instructions``)
would be far faster, but the virtual machine this was built on does not pass
them through; callgrind runs Python some 30–50× slower, so the benchmarks with
1 M-entry fixtures (Merkle log, numbering table) and the I/O-bound durable
appends stay with CPU time.  Exit: pytest's.
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["FILES", "active", "count", "main"]

ENV = "RENKEI_BENCH_CALLGRIND"  # the callgrind output file's path, set for the child
ROOT = Path(__file__).resolve().parent.parent
BASELINE = Path(__file__).resolve().parent / "baseline-instructions.json"
FILES = (
    "benchmarks/test_codes_bench.py",
    "benchmarks/test_log_bench.py::test_pattern_decisions",
    "benchmarks/test_sealing_bench.py",
    "benchmarks/test_binding_bench.py",
)
_COMPARE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


def active() -> bool:
    """True in the pytest process ``main`` runs under callgrind."""
    return ENV in os.environ


def _latest_dump(prefix: str) -> int:
    """Instructions in the newest dump callgrind wrote (``prefix.N``, N largest)."""
    dumps = [
        p for p in Path(prefix).parent.glob(Path(prefix).name + ".*") if p.suffix[1:].isdigit()
    ]
    newest = max(dumps, key=lambda p: int(p.suffix[1:]))
    for line in newest.read_text(encoding="utf-8").splitlines():
        if line.startswith("summary:"):
            return int(line.split()[1])
    raise ValueError(f"{newest}: no summary line")


def _counted(fn: Callable[[], Any], calls: int) -> int:
    """Instructions of ``calls`` calls of ``fn``, made inside one ``qsort`` call."""
    failed: list[BaseException] = []

    def compare(_a: int | None, _b: int | None) -> int:
        try:
            for _ in itertools.repeat(None, calls):
                fn()
        except BaseException as exc:  # re-raised below, outside the C call
            failed.append(exc)
        return 0

    callback = _COMPARE(compare)
    pair = (ctypes.c_int * 2)(0, 0)  # two elements: exactly one comparison
    ctypes.CDLL(None).qsort(pair, 2, ctypes.sizeof(ctypes.c_int), callback)
    if failed:
        raise failed[0]
    return _latest_dump(os.environ[ENV])


def count(
    floor: Callable[[], Any], path: Callable[[], Any], *, number: int, floor_number: int
) -> dict[str, Any]:
    """``extra_info`` fields: the instruction ratio floor/path per call and the counts."""
    floor(), path()  # warm both, as the timed measurement does
    empty = _counted(lambda: None, 0)
    floor_each = (_counted(floor, floor_number) - empty) / floor_number
    path_each = (_counted(path, number) - empty) / number
    ratio = floor_each / path_each
    return {
        "ratio": round(ratio, 4),
        "ratio_ci": [round(ratio, 4), round(ratio, 4)],
        "ratio_noise": 0.0,
        "ratio_clock": "instructions",
        "floor_instructions": round(floor_each),
        "path_instructions": round(path_each),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.instructions", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--json", type=Path, required=True, help="the pytest-benchmark report")
    parser.add_argument("tests", nargs="*", default=list(FILES), help=f"default {FILES}")
    args = parser.parse_args(argv)
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("benchmarks.instructions: valgrind is not installed", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="renkei-callgrind-") as folder:
        out = str(Path(folder) / "callgrind.out")
        command = [
            valgrind, "--tool=callgrind", "--collect-atstart=no",
            "--toggle-collect=qsort_r", "--dump-after=qsort_r", f"--callgrind-out-file={out}",
            sys.executable, "-m", "pytest", *args.tests, "-q", "-s", "-p", "no:randomly",
            "-p", "no:cacheprovider", f"--benchmark-json={args.json.resolve()}",
        ]  # fmt: skip
        env = {**os.environ, ENV: out, "PYTHONHASHSEED": "0"}
        return subprocess.run(command, cwd=ROOT, env=env, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
