"""Root-cause attribution (issue 15, item 5): a failure counts against the requirement
its failing check verifies, and the report lists root causes first.

One broken behaviour — errors sent as text/plain — used to mark every requirement
of every test that met it failed.  A response that breaks the wire contract is now
RK-WIRE-001's failure (an error that is no problem document) or RK-WIRE-002's (any
other departure); the test's other requirements are ``blocked``, not failed.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from renkei_conformance import plugin
from renkei_conformance.client import Wire, WireError
from renkei_conformance.plugin import attributed, requirement_outcome, root_causes
from renkei_conformance.target import Target

from .conftest import run_renkei


def _result(
    test_id: str, reqs: list[str], outcome: str = "failed", cause: str | None = None
) -> plugin.TestResult:
    return plugin.TestResult(
        test_id=test_id,
        nodeid=f"suite::{test_id}",
        requirements=reqs,
        seed_items=[],
        outcome=outcome,
        message=f"{test_id} went wrong\nmore",
        duration=0.1,
        root_cause={"requirement": cause, "request": "POST https://hub/bindings"} if cause else {},
    )


def test_a_failure_counts_against_its_root_cause_and_blocks_the_tests_own() -> None:
    results = [
        _result("CT-BND-001", ["RK-BND-001"], cause="RK-WIRE-001"),
        _result("CT-BND-002", ["RK-BND-001", "RK-BND-002"], cause="RK-WIRE-001"),
        _result("CT-PAT-004", ["RK-PAT-005", "RK-WIRE-002"], cause="RK-WIRE-002"),
        _result("CT-LNK-001", ["RK-LNK-001"]),  # its own check failed: no root cause
        _result("CT-LNK-002", ["RK-LNK-002"], outcome="passed"),
    ]
    verdicts = {rid: requirement_outcome(o) for rid, o in attributed(results).items()}
    assert verdicts == {
        "RK-WIRE-001": "failed",
        "RK-BND-001": "blocked",
        "RK-BND-002": "blocked",
        "RK-PAT-005": "blocked",
        "RK-WIRE-002": "failed",
        "RK-LNK-001": "failed",
        "RK-LNK-002": "passed",
    }
    causes = root_causes(results)
    assert [c["requirement"] for c in causes] == ["RK-WIRE-001", "RK-WIRE-002"]  # most first
    assert causes[0]["tests"] == ["CT-BND-001", "CT-BND-002"]
    assert causes[0]["request"] == "POST https://hub/bindings"
    assert causes[0]["message"] == "CT-BND-001 went wrong"


def test_blocked_ranks_below_a_real_failure_and_above_a_pass() -> None:
    assert requirement_outcome(["passed", "blocked"]) == "blocked"
    assert requirement_outcome(["blocked", "failed"]) == "failed"
    assert requirement_outcome([]) == "not_applicable"


def _wire(status: int, content_type: str, body: bytes) -> Wire:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"content-type": content_type}, content=body)

    target = Target(
        name="stub",
        parties={"hub": "http://stub/hub"},
        kind="http",
        _factory=lambda: httpx.Client(transport=httpx.MockTransport(handler)),
    )
    return Wire(target)


@pytest.mark.parametrize(
    ("status", "content_type", "body", "requirement"),
    [
        (400, "text/plain", b"bad request", "RK-WIRE-001"),
        (
            418,
            "application/problem+json",
            json.dumps(
                {"type": "urn:renkei:problem:validation-error", "title": "x", "status": 418}
            ).encode(),
            "RK-WIRE-002",
        ),
    ],
)
def test_a_contract_departure_names_the_requirement_it_breaks(
    status: int, content_type: str, body: bytes, requirement: str
) -> None:
    wire = _wire(status, content_type, body)
    try:
        with pytest.raises(WireError) as caught:
            wire.call("POST", "hub", "/bindings", json_body={"records": []}, token="t")
    finally:
        wire.close()
    assert caught.value.requirement == requirement
    assert caught.value.request == "POST http://stub/hub/bindings"
    assert f"({requirement})" in str(caught.value)


def test_the_report_lists_root_causes_first(tmp_path: Path) -> None:
    """Against a variant answering a malformed query 418 (undeclared), CT-PAT-004 fails on
    the wire contract: RK-WIRE-002 is the root cause, RK-PAT-005 is blocked."""
    report, html = tmp_path / "report.json", tmp_path / "report.html"
    ran = run_renkei(
        "conformance", "run", "--target", "reference@validation-error-answers-418", "-q",
        "-k", "test_a_query_must_name_its_provider",
        "--report-json", str(report), "--html", str(html),
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout[-3000:] + ran.stderr[-2000:]
    data = json.loads(report.read_text(encoding="utf-8"))
    [result] = data["results"]
    assert result["root_cause"]["requirement"] == "RK-WIRE-002"
    assert result["root_cause"]["request"].startswith("POST ")
    assert result["root_cause"]["request"].endswith("/hub/queries")
    assert [c["requirement"] for c in data["root_causes"]] == ["RK-WIRE-002"]
    console = ran.stdout[ran.stdout.index("renkei conformance ===") :]
    assert console.index("root causes") < console.index("RK-PAT-005")
    assert "RK-PAT-005     MUST   blocked" in console
    assert "RK-WIRE-002    MUST   failed" in console
    page = html.read_text(encoding="utf-8")
    assert page.index("<h2>Root causes</h2>") < page.index("<h2>Failures</h2>")
