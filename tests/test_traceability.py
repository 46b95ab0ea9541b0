"""Traceability, enforced: every MUST is verified by a test that names it,
every kit test names a requirement, every requirement ID used exists.

Requirements whose tests belong to later issues are listed, with the issue,
in ``traceability_pending.yaml``; the list may only shrink: an entry that has
gained a test fails until it is removed.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml

from renkei_conformance.spec import load_catalog
from renkei_conformance.traceability import build_matrix, outside_the_kit, without_kit_test

from .conftest import ROOT

SUITE = ROOT / "conformance" / "renkei_conformance" / "suite"
# an empty list (every MUST verified) parses as None
PENDING = (
    yaml.safe_load((Path(__file__).parent / "traceability_pending.yaml").read_text("utf-8")) or {}
)


def _matrix():  # type: ignore[no-untyped-def]
    return build_matrix(SUITE, ROOT / "tests", ROOT / "reference")


def test_every_must_is_verified_or_pending_with_its_issue() -> None:
    catalog = load_catalog()
    matrix = _matrix()
    unverified = [r.id for r in catalog if r.level == "MUST" and not matrix.verified_by(r.id)]
    missing = sorted(set(unverified) - set(PENDING))
    assert not missing, f"MUST requirements without any test: {missing}"
    done = sorted(rid for rid in PENDING if matrix.verified_by(rid))
    assert not done, f"now verified; remove from traceability_pending.yaml: {done}"
    assert all(isinstance(v, str) and re.search(r"issue \d+", v) for v in PENDING.values())
    unknown = sorted(set(PENDING) - set(catalog.requirements))
    assert not unknown, unknown


def test_every_must_verified_by_conformance_has_a_kit_test() -> None:
    """Issue 14, item 8: a MUST whose verification is ``conformance`` counts as
    verified only by a kit test (renkei_conformance/suite) that names it — the
    reference's own unit tests say nothing about a vendor's implementation."""
    catalog = load_catalog()
    matrix = _matrix()
    missing = [rid for rid in without_kit_test(catalog, matrix) if rid not in PENDING]
    assert not missing, f"MUSTs verified by conformance without a kit test: {missing}"
    # the gate counts kit tests only: a repository test alone would not do
    only_repository = build_matrix(SUITE / "no-such-folder", ROOT / "tests", None)
    assert set(without_kit_test(catalog, only_repository)) == {
        r.id for r in catalog if r.level == "MUST" and r.verification == "conformance"
    }


def test_requirements_verified_outside_the_kit_are_published_with_their_tests() -> None:
    """specs/verified-outside-the-kit.json (what every kit report states) lists each
    requirement verified by contract, property or review with the tests that verify
    it; every such MUST but a review one has a test there (a repository test, or a kit
    test for a contract the kit checks on every response, as RK-WIRE-002)."""
    catalog = load_catalog()
    published = json.loads((ROOT / "specs" / "verified-outside-the-kit.json").read_text("utf-8"))
    assert published == json.loads(outside_the_kit(catalog, _matrix())), (
        "out of date: run `renkei spec render`"
    )
    rows = {row["requirement"]: row for row in published["requirements"]}
    assert set(rows) == {r.id for r in catalog if r.verification != "conformance"}
    for rid in ("RK-NUM-006", "RK-IDC-002"):  # issue 14: never in a report before
        assert rows[rid]["verification"] == "contract", rid
        assert rows[rid]["repository_tests"], rid
    for r in catalog:
        if r.level == "MUST" and r.verification in ("contract", "property"):
            row = rows[r.id]
            assert row["repository_tests"] or row["kit_tests"], f"{r.id}: nothing verifies it"


def test_a_requirement_verified_by_review_is_verified_only_through_its_checklist() -> None:
    """``verification: review`` counts as verified only when the review is
    real: specs/review/checklist.yaml has items traced to the requirement, and
    a test that names the requirement exercises that checklist (the kit's
    ``renkei_conformance.review``), so naming a requirement on any test is not
    enough."""
    from renkei_conformance.review import load_checklist

    catalog = load_catalog()
    matrix = _matrix()
    traced = {item["requirement"] for item in load_checklist()["items"]}
    for req in catalog:
        if req.verification != "review" or req.level != "MUST" or req.id in PENDING:
            continue
        assert req.id in traced, f"{req.id}: no item in specs/review/checklist.yaml"
        if req.id not in ("RK-ARCH-005", "RK-ARCH-006"):
            continue  # verified by review before the checklist existed: tests of their own
        reviewing = [
            t
            for t in matrix.verified_by(req.id)
            if "renkei_conformance.review"
            in ((SUITE.parent.parent if t.kind == "conformance" else ROOT) / t.location)
            .with_name(t.location.split(":")[0].rsplit("/", 1)[-1])
            .read_text("utf-8")
        ]
        assert reviewing, f"{req.id}: no test applies the review checklist"


def test_every_kit_test_names_known_requirements_and_has_a_stable_unique_id() -> None:
    catalog = load_catalog()
    kit = [t for t in _matrix().tests if t.kind == "conformance"]
    assert kit
    ids = [t.test_id for t in kit]
    assert len(ids) == len(set(ids)), "duplicate conformance test IDs"
    for t in kit:
        assert re.fullmatch(r"CT-[A-Z]+-\d{3}", t.test_id), t
        assert t.requirements, f"{t.test_id} names no requirement"
        assert set(t.requirements) <= set(catalog.requirements), t
        assert t.title, f"{t.test_id} has no docstring saying what it checks"


def test_published_test_ids_are_never_dropped_or_reused() -> None:
    """specs/conformance-tests.json is append-only: a test that leaves the
    suite stays listed as retired, and a retired ID is never used again."""
    published = json.loads((ROOT / "specs" / "conformance-tests.json").read_text("utf-8"))
    current = {t.test_id for t in _matrix().tests if t.kind == "conformance"}
    listed = {t["test_id"]: t.get("retired", False) for t in published["tests"]}
    assert current <= set(listed), f"unpublished tests: {sorted(current - set(listed))}"
    reused = sorted(tid for tid, retired in listed.items() if retired and tid in current)
    assert not reused, f"retired test IDs used again: {reused}"
    vanished = sorted(tid for tid, retired in listed.items() if not retired and tid not in current)
    assert not vanished, f"tests gone without being marked retired: {vanished}"


def test_every_requirement_id_mentioned_anywhere_exists() -> None:
    catalog = load_catalog()
    pattern = re.compile(r"\bRK-[A-Z]+-\d{3}\b")
    unknown: dict[str, set[str]] = {}
    for folder in ("reference", "conformance", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            for rid in set(pattern.findall(path.read_text(encoding="utf-8"))):
                if rid not in catalog.requirements:
                    unknown.setdefault(rid, set()).add(str(path.relative_to(ROOT)))
    for path in (ROOT / "specs").rglob("*"):
        if path.suffix in (".yaml", ".json") and path.name != "requirements.yaml":
            for rid in set(pattern.findall(path.read_text(encoding="utf-8"))):
                if rid not in catalog.requirements:
                    unknown.setdefault(rid, set()).add(str(path.relative_to(ROOT)))
    assert not unknown, unknown
