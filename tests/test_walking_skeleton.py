"""The walking skeleton: the kit passes against the reference in process and
over HTTPS with mutual TLS 1.3 on loopback (``renkei serve``), through the same
black-box wire protocol."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from .background import Job
from .conftest import BACKGROUND, RENKEI, ROOT, run_renkei

FAMILIES = {
    "Numbers untraceable to ID codes": {"CT-NUM-001", "CT-NUM-002", "CT-NUM-003"},
    "link codes isolated per agency": {"CT-LNK-001", "CT-LNK-002", "CT-LNK-004"},
    "unauthorized patterns refused": {"CT-PAT-001", "CT-PAT-002"},
    "log complete": {"CT-LOG-001", "CT-LOG-002"},
}


def _argv(target: str, folder: Path, *extra: str) -> tuple[str, ...]:
    return (
        "conformance", "run", "--target", target,
        "--report-json", str(folder / "report.json"), "--junit", str(folder / "junit.xml"),
        "--html", str(folder / "report.html"), *extra,
    )  # fmt: skip


def _read(result: subprocess.CompletedProcess[str], folder: Path) -> dict[str, Any]:
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "verdict: PASS" in result.stdout
    assert (folder / "junit.xml").read_text().startswith("<?xml")
    assert "Traceability matrix" in (folder / "report.html").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    return data


def _run(target: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    return _read(run_renkei(*_argv(target, tmp_path, *extra)), tmp_path)


# The in-process run is one command that needs nothing from the tests around it: it runs
# beside the other tests (tests/background.py) and its test reads what it wrote.
_IN_PROCESS = Path(tempfile.mkdtemp(prefix="renkei-skeleton-"))
IN_PROCESS_REPORT = _IN_PROCESS / "report.json"
"""Its JSON report, which the kill matrix takes as its run against the reference."""
BACKGROUND.define(
    "kit:in-process",
    Job((*RENKEI, *_argv("reference", _IN_PROCESS)), ROOT, {**os.environ}, 900, nice=0),
)


# Tests that need the target reached over mutual TLS (not applicable in process).
NEEDS_MTLS = {"CT-TLS-001", "CT-CTL-002", "CT-PORT-007"}
AGENCY_NODE = {f"CT-AGN-{i:03d}" for i in (*range(1, 7), *range(12, 16))}  # served nodes
# The node-only suite (the kit plays the hub) applies to an agency-node target alone.
NODE_ONLY = frozenset(f"CT-AGN-{i:03d}" for i in range(7, 12))


def check_report(data: dict[str, Any], not_applicable: frozenset[str] = frozenset()) -> None:
    assert {
        "suite_version",
        "spec_version",
        "target",
        "capabilities",
        "summary",
        "results",
    } <= data.keys()
    others = [r for r in data["results"] if r["outcome"] != "passed"]
    assert {r["outcome"] for r in others} <= {"not_applicable"}, others
    # Not applicable: what needs mutual TLS (in process), and operations of
    # profiles the reference does not implement yet (CT-WIRE-003[operation]).
    unexpected = [
        r
        for r in others
        if r["test_id"] not in not_applicable | NODE_ONLY and "declares no" not in r["message"]
    ]
    assert not unexpected, unexpected
    passed_ids = {r["test_id"] for r in data["results"] if r["outcome"] == "passed"}
    assert not not_applicable & passed_ids, "a test needing mutual TLS passed in process"
    passed = {r["test_id"].split("[")[0] for r in data["results"]}
    for family, ids in FAMILIES.items():
        assert ids <= passed, f"family {family!r} incomplete: {ids - passed}"
    for r in data["results"]:
        assert r["requirements"], r
        assert r["seed_items"], r


def test_kit_passes_against_the_reference_in_process() -> None:
    data = _read(BACKGROUND.result("kit:in-process"), _IN_PROCESS)
    assert data["target"]["kind"] == "in-process"
    check_report(data, frozenset(NEEDS_MTLS))


def test_plain_http_serving_is_the_test_mode_stand_in(
    tmp_path: Path, served_reference_plain: Path
) -> None:
    """``renkei serve --plain-http``: bearer credentials only; the mutual-TLS test
    is reported not applicable, apart from failures."""
    data = _run(str(served_reference_plain) + "", tmp_path, "-k", "transport or test_wire")
    assert data["target"]["parties"]["hub"].startswith("http://127.0.0.1:")
    results = {r["test_id"]: r["outcome"] for r in data["results"]}
    assert results["CT-TLS-001"] == "not_applicable", results
    assert results["CT-ARCH-001"] == "passed", results


@pytest.mark.requirement("RK-CTL-001")
def test_production_mode_has_no_control_interface() -> None:
    """RK-CTL-001, checked on the reference itself (a vendor's production mode
    is outside what the kit can reach)."""
    import asyncio

    import httpx

    from renkei_reference.services.app import create_app

    async def probe() -> httpx.Response:
        transport = httpx.ASGITransport(app=create_app(test_mode=False))
        async with httpx.AsyncClient(transport=transport, base_url="http://p") as c:
            return await c.post("/control/reset")

    resp = asyncio.run(probe())
    assert resp.status_code == 404
    assert resp.json()["type"] == "urn:renkei:problem:control-disabled"
    assert resp.json()["requirement"] == "RK-CTL-001"
