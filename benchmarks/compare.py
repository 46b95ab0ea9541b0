"""Compare a benchmark run against the committed baseline of ratios, within their noise.

    python -m pytest benchmarks --benchmark-json run.json
    python -m benchmarks.compare run.json [--baseline benchmarks/baseline.json]
                                          [--tolerance 0.15] [--max-noise 0.09]

Each paired benchmark records ``ratio = floor / path`` in its ``extra_info``
(benchmarks/conftest.py, benchmarks/pairing.py): 1.0 is the machine's floor,
lower is slower.  Ratios, not times, are compared, so a baseline made on one
machine holds on another.  The ratio is the median of many short interleaved
rounds of floor and path on the process's CPU clock (the wall-clock ratio is
recorded beside it), and ``ratio_ci`` is the confidence interval of that
median: the run's own noise.  A shared, loaded machine widens
the interval instead of moving the ratio.

With ``d = ln(run / baseline)`` and the combined noise
``h = √(h_baseline² + h_run²)`` (``h`` = half the width of ``ratio_ci`` in
log space; 0 for a report without one):

* **regressed**: ``d < ln(1 − tolerance) − h`` — the ratio fell by more than
  the tolerance (15 % by default) even at the favourable end of the noise;
* **noisy**: otherwise, when ``h > max_noise`` (0.09 by default) — the two
  runs cannot resolve the change the check is for: re-run on a quieter
  machine or with more rounds;
* **improved**: ``d > ln(1 + tolerance) + h``; **ok** otherwise.

So, with the defaults, a run whose ratio fell by 22.3 % or more (a path 29 %
slower over an unchanged floor) is always reported, as *regressed* or as
*noisy*; a change within the tolerance and the noise never is.  A baseline
ratio missing from the run fails too (it can no longer be checked).  Exit 0
when nothing failed (regressed, noisy, missing), 1 when something did, 2 on
unreadable input.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Comparison", "Measured", "compare", "main", "measurements", "ratios"]

BASELINE = Path(__file__).resolve().parent / "baseline.json"
TOLERANCE = 0.15
MAX_NOISE = 0.09


@dataclass(frozen=True)
class Measured:
    """A ratio and its noise: half the width of its confidence interval in log space."""

    ratio: float
    noise: float = 0.0


@dataclass(frozen=True)
class Comparison:
    name: str
    baseline: float | None
    run: float | None
    status: str  # "ok" | "regressed" | "noisy" | "improved" | "missing" | "new"
    noise: float = 0.0  # the combined noise h of baseline and run

    @property
    def change(self) -> float | None:
        if self.baseline is None or self.run is None:
            return None
        return self.run / self.baseline - 1.0

    @property
    def failed(self) -> bool:
        return self.status in ("regressed", "noisy", "missing")


def _number(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return float(value)
    return None


def measurements(report: dict[str, Any]) -> dict[str, Measured]:
    """``fullname → Measured`` for every benchmark of a pytest-benchmark JSON report
    that records a ratio; its noise from ``ratio_ci`` when recorded."""
    out: dict[str, Measured] = {}
    for bench in report.get("benchmarks", []):
        info = bench.get("extra_info") or {}
        ratio = _number(info.get("ratio"))
        if ratio is None:
            continue
        noise = 0.0
        ci = info.get("ratio_ci")
        if isinstance(ci, list) and len(ci) == 2:
            low, high = _number(ci[0]), _number(ci[1])
            if low is not None and high is not None and low <= high:
                noise = (math.log(high) - math.log(low)) / 2
        out[str(bench["fullname"])] = Measured(ratio, noise)
    return out


def ratios(report: dict[str, Any]) -> dict[str, float]:
    """``fullname → ratio`` for every benchmark of a report that records one."""
    return {name: m.ratio for name, m in measurements(report).items()}


def _measured(value: float | Measured) -> Measured:
    return value if isinstance(value, Measured) else Measured(float(value))


def compare(
    baseline: Mapping[str, float | Measured],
    run: Mapping[str, float | Measured],
    tolerance: float = TOLERANCE,
    max_noise: float = MAX_NOISE,
) -> list[Comparison]:
    """One comparison per ratio in either report, in name order (rules: module docstring)."""
    if not 0 <= tolerance < 1:
        raise ValueError("tolerance is a fraction in [0, 1)")
    if not max_noise >= 0:
        raise ValueError("max_noise is not negative")
    out = []
    for name in sorted(set(baseline) | set(run)):
        base = _measured(baseline[name]) if name in baseline else None
        now = _measured(run[name]) if name in run else None
        noise = math.hypot(base.noise if base else 0.0, now.noise if now else 0.0)
        if base is None:
            status = "new"
        elif now is None:
            status = "missing"
        else:
            d = math.log(now.ratio / base.ratio)
            if d < math.log(1.0 - tolerance) - noise:
                status = "regressed"
            elif noise > max_noise:
                status = "noisy"
            elif d > math.log(1.0 + tolerance) + noise:
                status = "improved"
            else:
                status = "ok"
        out.append(
            Comparison(
                name,
                base.ratio if base else None,
                now.ratio if now else None,
                status,
                round(noise, 4),
            )
        )
    return out


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("benchmarks"), list):
        raise ValueError(f"{path} is not a pytest-benchmark JSON report")
    return data


def render(rows: list[Comparison], tolerance: float, max_noise: float = MAX_NOISE) -> str:
    width = max([len("benchmark"), *(len(r.name) for r in rows)])
    head = f"{'benchmark':<{width}} {'baseline':>8} {'run':>8} {'change':>8} {'noise':>6}  status"
    lines = [head]
    for r in rows:
        change = f"{r.change:+.0%}" if r.change is not None else "-"
        base = f"{r.baseline:.3f}" if r.baseline is not None else "-"
        now = f"{r.run:.3f}" if r.run is not None else "-"
        noise = f"±{math.expm1(r.noise):.0%}"
        lines.append(f"{r.name:<{width}} {base:>8} {now:>8} {change:>8} {noise:>6}  {r.status}")
    failed = [r for r in rows if r.failed]
    rule = f"tolerance {tolerance:.0%} beyond the noise, noise at most ±{math.expm1(max_noise):.0%}"
    if failed:
        what = ", ".join(f"{r.name.rsplit('::', 1)[-1]} {r.status}" for r in failed)
        lines.append(f"{len(failed)} failed ({rule}): {what}")
    else:
        lines.append(f"no ratio regressed ({rule})")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("run", type=Path, help="pytest --benchmark-json output of the run")
    parser.add_argument("--baseline", type=Path, default=BASELINE, help="the baseline report")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE, help=f"default {TOLERANCE}")
    parser.add_argument(
        "--max-noise",
        type=float,
        default=MAX_NOISE,
        help=f"largest combined noise (log-space half-width) judged, default {MAX_NOISE}",
    )
    parser.add_argument("--json", action="store_true", help="print the comparison as JSON")
    args = parser.parse_args(argv)
    try:
        rows = compare(
            measurements(_read(args.baseline)),
            measurements(_read(args.run)),
            tolerance=args.tolerance,
            max_noise=args.max_noise,
        )
    except (OSError, ValueError) as exc:
        print(f"benchmarks.compare: {exc}", file=sys.stderr)
        return 2
    if args.json:
        payload = [{**r.__dict__, "change": r.change, "failed": r.failed} for r in rows]
        print(json.dumps(payload, indent=2))
    else:
        print(render(rows, args.tolerance, args.max_noise))
    return 1 if any(r.failed for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
