"""Compare a benchmark run against the committed baseline of ratios.

    python -m pytest benchmarks --benchmark-json run.json
    python -m benchmarks.compare run.json [--baseline benchmarks/baseline.json] [--tolerance 0.2]

Each paired benchmark records ``ratio = floor / path`` in its ``extra_info``
(benchmarks/conftest.py): 1.0 is the machine's floor, lower is slower.  Ratios,
not times, are compared, so a baseline made on one machine holds on another.
A ratio that falls by more than ``tolerance`` (20 % by default) of its
baseline is a regression; a baseline ratio missing from the run is one too
(it can no longer be checked).  Exit 0 when there is none, 1 when there is,
2 on unreadable input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Comparison", "compare", "main", "ratios"]

BASELINE = Path(__file__).resolve().parent / "baseline.json"
TOLERANCE = 0.2


@dataclass(frozen=True)
class Comparison:
    name: str
    baseline: float | None
    run: float | None
    status: str  # "ok" | "regressed" | "improved" | "missing" | "new"

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.run is None:
            return None
        return self.run / self.baseline - 1.0

    @property
    def failed(self) -> bool:
        return self.status in ("regressed", "missing")


def ratios(report: dict[str, Any]) -> dict[str, float]:
    """``fullname → ratio`` for every benchmark of a pytest-benchmark JSON report
    that records one."""
    out: dict[str, float] = {}
    for bench in report.get("benchmarks", []):
        ratio = (bench.get("extra_info") or {}).get("ratio")
        if isinstance(ratio, int | float) and not isinstance(ratio, bool) and ratio > 0:
            out[str(bench["fullname"])] = float(ratio)
    return out


def compare(
    baseline: dict[str, float], run: dict[str, float], tolerance: float = TOLERANCE
) -> list[Comparison]:
    """One comparison per ratio in either report, in name order."""
    if not 0 <= tolerance < 1:
        raise ValueError("tolerance is a fraction in [0, 1)")
    out = []
    for name in sorted(set(baseline) | set(run)):
        base, now = baseline.get(name), run.get(name)
        if base is None:
            status = "new"
        elif now is None:
            status = "missing"
        elif now < base * (1.0 - tolerance):
            status = "regressed"
        elif now > base * (1.0 + tolerance):
            status = "improved"
        else:
            status = "ok"
        out.append(Comparison(name, base, now, status))
    return out


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path} is not a pytest-benchmark JSON report")
    return data


def render(rows: list[Comparison], tolerance: float) -> str:
    width = max([len("benchmark"), *(len(r.name) for r in rows)])
    lines = [f"{'benchmark':<{width}} {'baseline':>8} {'run':>8} {'change':>8}  status"]
    for r in rows:
        change = f"{r.change:+.0%}" if r.change is not None else "-"
        base = f"{r.baseline:.3f}" if r.baseline is not None else "-"
        now = f"{r.run:.3f}" if r.run is not None else "-"
        lines.append(f"{r.name:<{width}} {base:>8} {now:>8} {change:>8}  {r.status}")
    failed = [r for r in rows if r.failed]
    lines.append(
        f"{len(failed)} regression(s) beyond {tolerance:.0%}"
        if failed
        else f"no ratio regressed by more than {tolerance:.0%}"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run", type=Path, help="pytest --benchmark-json output of the run")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline report")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help="default 0.2")
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    try:
        rows = compare(
            ratios(_read(args.baseline)), ratios(_read(args.run)), tolerance=args.tolerance
        )
    except (OSError, ValueError) as exc:
        print(f"benchmarks.compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = [{**r.__dict__, "change": r.change, "failed": r.failed} for r in rows]
        print(json.dumps(payload, indent=2))
    else:
        print(render(rows, args.tolerance))
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
