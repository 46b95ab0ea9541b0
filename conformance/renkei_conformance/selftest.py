"""Self-validation: does the kit catch what it claims to catch?

``renkei conformance selftest`` runs the kit against a target (the reference by
default), where everything must pass, and then against each of the target's
*known-bad variants*: the target with one small deliberate violation of one
requirement, listed by the ``renkei.known_bad`` entry point and reached as the
in-process target ``<target>@<variant>``.

A variant is **killed** when a kit test that names the violated requirement
fails against it.  Only those tests run (``--renkei-requirement``), fastest
first by their duration against the good target, stopping at the first
failure.  The kill matrix is the kit's own evidence of strength: a surviving
variant is a hole in the kit, and the repository's tests require 100 %.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from . import SUITE_VERSION

__all__ = [
    "KillResult",
    "SelftestError",
    "known_bad_variants",
    "reference_results",
    "run_selftest",
    "suite_args",
]

SUITE = Path(__file__).resolve().parent / "suite"
CRASH_REQUIREMENTS = frozenset({"RK-WIRE-001"})
"""Requirements whose violation *is* a 5xx: for these a crash is the kill."""
_CRASH = re.compile(r"\bgot (?:HTTP )?5\d\d\b|internal-error")


class SelftestError(Exception):
    """The self-test cannot run (a usage error: exit 2)."""


@dataclass
class KillResult:
    name: str
    requirement: str
    description: str
    killed: bool
    killed_by: list[str] = field(default_factory=list)
    tests_run: int = 0
    seconds: float = 0.0
    note: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "requirement": self.requirement,
            "description": self.description,
            "killed": self.killed,
            "killed_by": self.killed_by,
            "tests_run": self.tests_run,
            "seconds": round(self.seconds, 2),
            "note": self.note,
        }


def suite_args(target: str) -> list[str]:
    """The pytest arguments that run the kit's suite against ``target``."""
    args = [
        "-c",
        str(SUITE / "kit.ini"),
        "--rootdir",
        str(SUITE),
        "--renkei-target",
        target,
        "-p",
        "no:cacheprovider",
        # pytest-benchmark, where installed, would leave ./.benchmarks behind (issue 15)
        "-p",
        "no:benchmark",
    ]
    if os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD"):
        args += ["-p", "renkei_conformance.plugin"]
    return args


def known_bad_variants(target: str) -> list[dict[str, str]]:
    """The known-bad catalog registered for ``target`` (``renkei.known_bad``)."""
    eps = {ep.name: ep for ep in entry_points(group="renkei.known_bad")}
    if target not in eps:
        known = ", ".join(sorted(eps)) or "none installed"
        raise SelftestError(
            f"no known-bad catalog for target {target!r} (catalogs: {known}); "
            "register one in the 'renkei.known_bad' entry-point group"
        )
    try:
        variants = list(eps[target].load()())
    except Exception as exc:  # a broken plugin is a configuration error
        raise SelftestError(f"known-bad catalog {target!r} failed to load: {exc}") from exc
    for v in variants:
        if not {"name", "requirement", "description"} <= set(v):
            raise SelftestError(f"known-bad catalog {target!r}: malformed entry {v!r}")
    return variants


def _pytest(args: Sequence[str], report: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "pytest", *args, "--renkei-report-json", str(report)]
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def _results(report: Path) -> list[dict[str, Any]]:
    if not report.is_file():
        return []
    return list(json.loads(report.read_text(encoding="utf-8")).get("results", []))


def _kill(
    target: str, variant: dict[str, str], good: list[dict[str, Any]], work: Path
) -> KillResult:
    rid = variant["requirement"]
    started = time.monotonic()
    result = KillResult(variant["name"], rid, variant["description"], killed=False)
    naming = sorted(
        (r for r in good if rid in r["requirements"] and r["outcome"] == "passed"),
        key=lambda r: float(r.get("duration_s", 0.0)),
    )
    if not naming:
        result.note = f"no passing kit test names {rid}"
        return result
    report = work / f"{variant['name']}.json"
    nodeids = [str(SUITE / r["nodeid"]) for r in naming]
    proc = _pytest(
        [*nodeids, *suite_args(f"{target}@{variant['name']}"), "-x", "-q"],
        report,
    )
    ran = _results(report)
    result.tests_run = len(ran)
    failed = [r for r in ran if r["outcome"] == "failed" and rid in r["requirements"]]
    crashed = [r for r in failed if _CRASH.search(str(r.get("message", "")))]
    if crashed and rid not in CRASH_REQUIREMENTS:
        # A variant must misbehave, not crash: a 5xx would be caught by any
        # test, so it proves nothing about the test that names the requirement.
        result.note = f"the variant crashed the target (5xx) in {crashed[0]['test_id']}"
        result.seconds = time.monotonic() - started
        return result
    result.killed_by = sorted({r["test_id"] for r in failed})
    result.killed = bool(result.killed_by)
    if result.killed:
        first = next(r for r in ran if r["outcome"] == "failed" and rid in r["requirements"])
        result.note = str(first.get("message", ""))[:300]
    else:
        errors = [r["test_id"] for r in ran if r["outcome"] == "error"]
        tail = (proc.stdout + proc.stderr).strip().splitlines()[-3:]
        result.note = (f"errors (not kills): {', '.join(errors)}" if errors else " | ".join(tail))[
            :500
        ]
    result.seconds = time.monotonic() - started
    return result


def reference_results(report: Path, target: str) -> list[dict[str, Any]]:
    """The results of a whole run of this kit against ``target`` itself, from its
    JSON report (``renkei conformance run --target T --report-json PATH``).

    :raises SelftestError: the report is of another target or kit version, or of a
        run that did not select the whole suite.
    """
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SelftestError(f"--reference-report {report}: not a readable report ({exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        raise SelftestError(f"--reference-report {report}: not a kit report")
    name = (data.get("target") or {}).get("name")
    if name != target:
        raise SelftestError(f"--reference-report {report}: a run against {name!r}, not {target!r}")
    if data.get("suite_version") != SUITE_VERSION:
        raise SelftestError(
            f"--reference-report {report}: kit {data.get('suite_version')}, not {SUITE_VERSION}"
        )
    selection = data.get("selection") or {}
    chosen = {k: v for k, v in selection.items() if v and k != "args"}
    partial = {
        p: c
        for p, c in ((data.get("completeness") or {}).get("profiles") or {}).items()
        if c.get("ran") != c.get("expected")
    }
    if chosen or partial:
        raise SelftestError(
            f"--reference-report {report}: not a run of the whole suite "
            f"(selection {chosen or 'none'}, profiles run in part {sorted(partial) or 'none'})"
        )
    results: list[dict[str, Any]] = data["results"]
    return results


def run_selftest(
    target: str = "reference",
    *,
    jobs: int | None = None,
    only: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
    reference_report: Path | None = None,
) -> dict[str, Any]:
    """Run the kit against ``target`` and each known-bad variant; the kill matrix.

    With ``reference_report`` (the report of a whole run of this kit against
    ``target``, ``reference_results``) the kit is not run against ``target`` again."""
    say = progress or (lambda _msg: None)
    variants = known_bad_variants(target)
    if only:
        missing = sorted(set(only) - {v["name"] for v in variants})
        if missing:
            raise SelftestError(f"unknown known-bad variant: {', '.join(missing)}")
        variants = [v for v in variants if v["name"] in only]
    with tempfile.TemporaryDirectory(prefix="renkei-selftest-") as tmp:
        work = Path(tmp)
        started = time.monotonic()
        ran_whole = True
        if reference_report is not None:
            say(f"the kit's run against {target}: {reference_report}")
            good = reference_results(reference_report, target)
        else:
            say(f"running the kit against {target} …")
            good_report = work / "good.json"
            proc = _pytest([str(SUITE), *suite_args(target), "-q"], good_report)
            good = _results(good_report)
            ran_whole = proc.returncode == 0
            if not good:
                raise SelftestError(
                    f"the kit did not run against {target}: "
                    + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
                )
        bad = [r for r in good if r["outcome"] in ("failed", "error", "xpassed")]
        say(f"  {len(good)} tests, {len(bad)} not passing ({time.monotonic() - started:.1f} s)")
        workers = max(1, jobs or os.cpu_count() or 1)
        say(f"running {len(variants)} known-bad variants ({workers} at a time) …")

        def one(v: dict[str, str]) -> KillResult:
            r = _kill(target, v, good, work)
            say(
                f"  {'killed  ' if r.killed else 'SURVIVED'} {r.name:<38} {r.requirement:<13}"
                f" {', '.join(r.killed_by)}"
            )
            return r

        with ThreadPoolExecutor(max_workers=workers) as pool:
            kills = list(pool.map(one, variants))
    killed = sum(k.killed for k in kills)
    return {
        "target": target,
        "reference_passed": ran_whole and not bad,
        "reference_tests": len(good),
        "reference_not_passing": [r["test_id"] for r in bad],
        "killed": killed,
        "total": len(kills),
        "mutants": [k.as_json() for k in kills],
    }


def render_matrix(result: dict[str, Any]) -> str:
    """The kill matrix as text, one variant per line."""
    lines = [
        f"target {result['target']}: "
        + (
            "every test passed"
            if result["reference_passed"]
            else f"NOT PASSING: {', '.join(result['reference_not_passing']) or 'see the run'}"
        ),
        "",
        f"{'variant':<38} {'requirement':<13} {'killed':<7} killed by",
    ]
    for m in result["mutants"]:
        by = ", ".join(m["killed_by"]) or f"({m['note']})"
        lines.append(
            f"{m['name']:<38} {m['requirement']:<13} {'yes' if m['killed'] else 'NO':<7} {by}"
        )
    lines.append("")
    lines.append(f"killed {result['killed']} of {result['total']} known-bad variants")
    return "\n".join(lines)
