"""The kit's self-validation: every known-bad variant of the reference is caught.

``renkei conformance selftest`` runs the kit against the reference and against
each variant in ``renkei_reference.known_bad``; each variant breaks one
requirement, and some kit test naming that requirement must fail against it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from .background import Job
from .conftest import BACKGROUND, RENKEI, ROOT, run_renkei

# The hub's kill matrix is one long command that needs nothing from the tests around it:
# it runs beside the other tests (tests/background.py, at the lowest priority), and its
# tests take the result.  Its bound is the whole suite's: on a slow 2-core machine it got
# too little of the CPU to end within 15 minutes while the suite ran (40 minutes there).
BACKGROUND.define(
    "selftest:hub", Job((*RENKEI, "conformance", "selftest", "--json"), ROOT, {**os.environ}, 2700)
)


@pytest.fixture(scope="module")
def kill_matrix() -> dict[str, object]:
    proc = BACKGROUND.result("selftest:hub")
    assert proc.returncode == 0, _why_not(proc.stdout) + proc.stderr[-3000:]
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def _why_not(stdout: str) -> str:
    """What made the self-test fail: the reference's tests that did not pass and the
    variants no test killed (the whole output's tail when it is no report)."""
    try:
        report = json.loads(stdout)
    except ValueError:
        return stdout[-3000:]
    survivors = [m for m in report.get("mutants", []) if not m.get("killed")]
    return json.dumps(
        {
            "reference_passed": report.get("reference_passed"),
            "reference_not_passing": report.get("reference_not_passing"),
            "survivors": survivors,
        },
        ensure_ascii=False,
        indent=1,
    )[-6000:]


def test_reference_passes_and_every_known_bad_variant_is_killed(
    kill_matrix: dict[str, object],
) -> None:
    assert kill_matrix["reference_passed"] is True
    mutants = kill_matrix["mutants"]
    assert isinstance(mutants, list)
    assert len(mutants) >= 25
    survivors = [m["name"] for m in mutants if not m["killed"]]
    assert survivors == [], f"known-bad variants the kit did not catch: {survivors}"


def test_each_kill_is_by_a_test_naming_the_violated_requirement(
    kill_matrix: dict[str, object],
) -> None:
    from renkei_conformance.spec import spec_root

    registry = json.loads((spec_root() / "conformance-tests.json").read_text(encoding="utf-8"))
    names = {t["test_id"]: set(t["requirements"]) for t in registry["tests"]}
    mutants = kill_matrix["mutants"]
    assert isinstance(mutants, list)
    for m in mutants:
        assert m["killed_by"], m
        for test_id in m["killed_by"]:
            assert m["requirement"] in names[test_id.split("[")[0]], (m, test_id)
    assert len({m["name"] for m in mutants}) == len(mutants)


def test_selftest_usage_errors_are_one_line() -> None:
    proc = run_renkei("conformance", "selftest", "--variant", "no-such-variant")
    assert proc.returncode == 2
    assert "unknown known-bad variant" in proc.stderr
    assert "Traceback" not in proc.stderr
    proc = run_renkei("conformance", "selftest", "--target", "nowhere")
    assert proc.returncode == 2
    assert "no known-bad catalog" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_every_known_bad_agency_node_is_killed_by_the_node_only_suite() -> None:
    """The reference's agency node alone (``reference-node``: the kit plays the hub)
    passes, and each of its known-bad variants (renkei_reference.known_bad_nodes) is
    killed by a node-only test naming the requirement it breaks (issue 15, item 3)."""
    proc = run_renkei("conformance", "selftest", "--target", "reference-node", "--json")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    matrix = json.loads(proc.stdout)
    assert matrix["reference_passed"] is True
    mutants = matrix["mutants"]
    assert len(mutants) >= 7
    assert [m["name"] for m in mutants if not m["killed"]] == []
    node_only = {f"CT-AGN-{n:03d}" for n in range(7, 12)}
    for m in mutants:
        assert set(m["killed_by"]) <= node_only, m


def _report(tmp_path: Path, **changes: object) -> Path:
    from renkei_conformance import SUITE_VERSION

    data: dict[str, object] = {
        "target": {"name": "reference"},
        "suite_version": SUITE_VERSION,
        "selection": {"keyword": None, "markexpr": None, "profiles": [], "args": ["x"]},
        "completeness": {"profiles": {"hub": {"ran": 3, "expected": 3}}},
        "results": [{"test_id": "CT-X-001", "outcome": "passed", "requirements": ["RK-X"]}],
        **changes,
    }
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_a_reference_report_stands_for_the_run_only_when_it_is_of_the_whole_suite(
    tmp_path: Path,
) -> None:
    """``selftest --reference-report``: the report of a whole run of this kit against
    the target itself is taken; one of a selection, of profiles run in part, of
    another target or of another kit version is refused."""
    from renkei_conformance.selftest import SelftestError, reference_results

    assert reference_results(_report(tmp_path), "reference")[0]["test_id"] == "CT-X-001"
    for changed, why in (
        ({"selection": {"keyword": "test_wire"}}, "whole suite"),
        ({"completeness": {"profiles": {"hub": {"ran": 2, "expected": 3}}}}, "whole suite"),
        ({"target": {"name": "reference@broken"}}, "not 'reference'"),
        ({"suite_version": "0.0.0"}, "kit 0.0.0"),
        ({"results": None}, "not a kit report"),
    ):
        with pytest.raises(SelftestError, match=why):
            reference_results(_report(tmp_path, **changed), "reference")
    (tmp_path / "report.json").write_text("{", encoding="utf-8")
    with pytest.raises(SelftestError, match="not a readable report"):
        reference_results(tmp_path / "report.json", "reference")
