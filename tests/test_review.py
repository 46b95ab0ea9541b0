"""Verification by review, made executable (specs/review/checklist.yaml).

RK-ARCH-005 (no search or aggregation interface; seed items 1, 2, 17): the
checklist's automated items pass on the published interface document and each
catches the violation it names.  RK-ARCH-006 (organisational safeguards; seed
items 2, 19): the certification checklist traces every item to its requirement
and seed items in English and Japanese, and every report of the kit — JSON,
HTML, results bundle — carries the items as ``review`` items for the regulator,
apart from passed and failed.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_conformance.bundle import seal, verify
from renkei_conformance.report import write_html
from renkei_conformance.review import check_openapi, load_checklist
from renkei_conformance.spec import load_catalog

from .conftest import ROOT

OPENAPI = yaml.safe_load((ROOT / "specs" / "openapi" / "renkei.yaml").read_text("utf-8"))
_JA = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _op(**extra: Any) -> dict[str, Any]:
    return {"x-renkei-profile": "hub", "responses": {}, **extra}


def _returning(properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties}
    return {"200": {"content": {"application/json": {"schema": schema}}}}


def _sending(properties: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": properties}
    return {"content": {"application/json": {"schema": schema}}}


# One deliberate violation per automated item: the item it must raise.
VIOLATIONS: dict[str, dict[str, Any]] = {
    "RV-ARCH-005-01": _op(
        parameters=[{"name": "birth_date", "in": "query"}],
        **{"x-renkei-requirements": ["RK-FLOW-005"]},
    ),
    "RV-ARCH-005-02": _op(
        requestBody=_sending({"name": {}, "address": {}}),
        **{"x-renkei-requirements": ["RK-PAT-001"]},
    ),
    "RV-ARCH-005-03": _op(
        responses=_returning({"items": {"type": "array", "items": {"$ref": "#/x/withId"}}}),
        **{"x-renkei-requirements": ["RK-FLOW-005"]},
    ),
    "RV-ARCH-005-04": _op(
        responses=_returning({"persons": {"type": "integer"}}),
        **{"x-renkei-requirements": ["RK-FLOW-005"]},
    ),
    "RV-ARCH-005-05": _op(
        requestBody=_sending({"link_code": {}, "to_agency": {}}),
        responses=_returning({"link_code": {}}),
        **{"x-renkei-requirements": ["RK-LNK-002"]},
    ),
    "RV-ARCH-005-06": _op(responses={}),
}


@pytest.mark.requirement("RK-ARCH-005")
def test_the_published_interface_passes_the_search_and_aggregation_review() -> None:
    """Every hub operation of specs/openapi/renkei.yaml passes RV-ARCH-005-01..06."""
    hub_ops = [
        p for p, item in OPENAPI["paths"].items() for op in item.values()
        if isinstance(op, dict) and op.get("x-renkei-profile") == "hub"
    ]  # fmt: skip
    assert len(hub_ops) >= 10, "the review must see the hub's operations"
    assert check_openapi(OPENAPI) == []


@pytest.mark.requirement("RK-ARCH-005")
@pytest.mark.parametrize("item", sorted(VIOLATIONS))
def test_each_automated_item_catches_its_violation(item: str) -> None:
    """A hub operation added to the published document with one violation
    raises exactly that item; so does the same operation in a served document
    that lacks the extensions, unknown to the published one."""
    doc = copy.deepcopy(OPENAPI)
    doc["x"] = {"withId": {"type": "object", "properties": {"id_code": {}, "record_ref": {}}}}
    doc["paths"]["/hub/kit-review"] = {"post": VIOLATIONS[item]}
    found = {f.item for f in check_openapi(doc) if f.operation == "POST /hub/kit-review"}
    assert item in found, found
    assert found <= {item, "RV-ARCH-005-06"}, found
    served = copy.deepcopy(doc)
    for path_item in served["paths"].values():
        for op in path_item.values():
            if isinstance(op, dict):
                op.pop("x-renkei-requirements", None)
                op.pop("x-renkei-profile", None)
    departures = check_openapi(served, OPENAPI)
    assert {f.operation for f in departures} == {"POST /hub/kit-review"}, departures
    assert item in {f.item for f in departures}


@pytest.mark.requirement("RK-ARCH-005", "RK-ARCH-006")
def test_the_checklist_traces_every_item_to_its_requirement_and_seed_items() -> None:
    """Each item names a requirement verified by review and seed items of that
    requirement, in English and Japanese; every MUST verified by review has
    items; RK-ARCH-006's cover purpose, confidentiality, documented security
    and inspection; every automated item has a rule the kit implements."""
    checklist = load_checklist()
    catalog = load_catalog()
    items = checklist["items"]
    ids = [i["id"] for i in items]
    assert len(ids) == len(set(ids)), "item IDs are unique"
    for item in items:
        req = catalog[item["requirement"]]
        assert req.verification == "review", item["id"]
        assert set(item["seed_items"]) <= set(req.seed_items), item["id"]
        assert item["id"].startswith("RV-" + item["requirement"][3:] + "-"), item["id"]
        assert _JA.search(item["ja"]), f"{item['id']}: the Japanese text is missing"
        assert not _JA.search(item["en"]), f"{item['id']}: the English text is not English"
    for req in catalog:
        if req.verification == "review" and req.level == "MUST":
            assert any(i["requirement"] == req.id for i in items), f"{req.id} has no item"
    automated = {i["id"] for i in items if i["check"] == "automated"}
    assert automated == set(VIOLATIONS), "every automated item has its violation test"
    arch6 = " ".join(i["en"] for i in items if i["requirement"] == "RK-ARCH-006")
    for word in ("purposes fixed by law", "confidentiality", "documented", "inspection"):
        assert word in arch6, word


@pytest.mark.requirement("RK-ARCH-006", "RK-ARCH-005")
def test_every_report_carries_the_review_items_apart_from_outcomes(tmp_path: Path) -> None:
    """A kit run's JSON report (schema-valid), its HTML report and a signed
    results bundle carry every checklist item with status ``review``; the
    summary counts only test outcomes."""
    out = tmp_path / "report.json"
    subprocess.run(
        [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            "--pyargs", "renkei_conformance.suite", "--renkei-target", "reference",
            "-k", "served_interface", "--renkei-report-json", str(out),
        ],
        check=True, cwd=tmp_path, capture_output=True, timeout=600,
    )  # fmt: skip
    report = json.loads(out.read_text("utf-8"))
    schema = json.loads((ROOT / "specs" / "schemas" / "report.schema.json").read_text("utf-8"))
    jsonschema.validate(report, schema)
    ids = {i["id"] for i in load_checklist()["items"]}
    assert {i["id"] for i in report["review"]} == ids
    assert {i["status"] for i in report["review"]} == {"review"}
    assert [r["test_id"] for r in report["results"]] == ["CT-ARCH-002"]
    assert report["results"][0]["outcome"] == "passed"
    assert sum(report["summary"].values()) == 1, "review items are not outcomes"
    page = tmp_path / "report.html"
    write_html(report, page)
    html = page.read_text("utf-8")
    assert "Review items for the regulator" in html
    assert all(i in html for i in ids)
    check = verify(seal(report, Ed25519PrivateKey.generate()))
    assert check.valid, check.problems
    assert {i["id"] for i in check.as_json()["review"]} == ids
