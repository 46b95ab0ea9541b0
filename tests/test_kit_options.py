"""What a vendor controls: capabilities, expected failures, profiles."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from renkei_conformance.traceability import TestRef, build_matrix

from .conftest import ROOT, run_renkei


def _kit_tests() -> list[TestRef]:
    suite = ROOT / "conformance" / "renkei_conformance" / "suite"
    return [
        t
        for t in build_matrix(suite, None, None).tests
        if t.kind == "conformance" and "test_statistics" not in t.location
    ]


NUMBERING_ONLY = {t.test_id for t in _kit_tests() if set(t.profiles) == {"numbering-authority"}}
PORTAL_ONLY = {t.test_id for t in _kit_tests() if set(t.profiles) == {"my-portal"}}
NUMBERING = {t.test_id for t in _kit_tests() if "numbering-authority" in t.profiles}
AGENCY_NODE_ONLY = {  # an agency node's, alone or with My Portal (CT-AGN-006)
    t.test_id
    for t in _kit_tests()
    if "agency-node" in t.profiles and set(t.profiles) <= {"agency-node", "my-portal"}
}
# not applicable in process: they need a target reached over mutual TLS
NEEDS_MTLS = {t.test_id for t in _kit_tests() if "test_transport" in t.location} | {"CT-CTL-002"}
# not applicable in process: they need a target file that declares the restart capability
NEEDS_RESTART = {t.test_id for t in _kit_tests() if "test_restart" in t.location}


def _kit(tmp_path: Path, *extra: str) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / "r.json"
    result = run_renkei(
        "conformance",
        "run",
        "--target",
        "reference",
        "-q",
        "--report-json",
        str(report),
        "-k",
        "not test_statistics",  # the 10,000-person tests add nothing to these checks
        *extra,
    )
    data = json.loads(report.read_text()) if report.exists() else {}
    return result.returncode, data, result.stdout + result.stderr


KEY_ROTATION = {t.test_id for t in _kit_tests() if t.test_id.startswith("CT-KEY-")}


def test_undeclared_profiles_and_options_are_not_applicable_not_failed(tmp_path: Path) -> None:
    caps = tmp_path / "caps.yaml"
    caps.write_text(
        "implementation: hub-only\nprofiles: [hub, auditor]\noptions: {key_rotation: false}\n"
    )
    code, data, out = _kit(tmp_path, "--capabilities", str(caps))
    assert code == 0, out
    na = {r["test_id"].split("[")[0] for r in data["results"] if r["outcome"] == "not_applicable"}
    assert PORTAL_ONLY, "the my-portal tests exist"
    # tests parametrized per operation (CT-WIRE-003) are applicable in part
    partly = {r["test_id"].split("[")[0] for r in data["results"] if r["outcome"] == "passed"}
    # A test applies only when every profile it exercises is declared (issue 15).
    undeclared = {
        t.test_id for t in _kit_tests() if t.profiles and not set(t.profiles) <= {"hub", "auditor"}
    }
    assert undeclared >= NUMBERING_ONLY | PORTAL_ONLY | AGENCY_NODE_ONLY
    assert NEEDS_RESTART, "the restart tests exist"
    assert na - partly == undeclared | KEY_ROTATION | NEEDS_MTLS | NEEDS_RESTART
    assert data["summary"]["not_applicable"] == sum(
        r["outcome"] == "not_applicable" for r in data["results"]
    )
    assert data["summary"]["failed"] == 0
    # The file overrides what the target's discovery document says, and says so.
    assert data["capabilities"]["source"].startswith("capability file")
    assert any("override the discovery document" in n for n in data["notices"])


def test_without_a_capability_file_the_discovery_document_selects(tmp_path: Path) -> None:
    code, data, out = _kit(tmp_path, "--requirement", "RK-WIRE-005", "--requirement", "RK-KEY-002")
    assert code == 0, out
    assert data["capabilities"]["source"].startswith("discovery document")
    assert data["capabilities"]["options"]["key_rotation"] is True
    assert {r["test_id"].split("[")[0] for r in data["results"]} == KEY_ROTATION | {"CT-WIRE-002"}
    unknown = run_renkei("conformance", "run", "--target", "reference", "--requirement", "RK-X")
    assert unknown.returncode == 2
    assert "requirement" in unknown.stderr


def test_xfail_manifest_is_strict_and_flags_entries_naming_no_test(tmp_path: Path) -> None:
    manifest = tmp_path / "xfails.yaml"
    manifest.write_text("CT-LNK-001: believed broken\nCT-ZZZ-999: typo in an ID\n")
    code, data, out = _kit(tmp_path, "--xfails", str(manifest))
    assert code == 1, out
    xpassed = [r for r in data["results"] if r["outcome"] == "xpassed"]
    assert [r["test_id"] for r in xpassed] == ["CT-LNK-001"]
    assert "believed broken" in xpassed[0]["message"]
    assert any("CT-ZZZ-999" in n for n in data["notices"])
    assert "verdict: FAIL" in out


def test_profile_option_selects_only_that_profile(tmp_path: Path) -> None:
    code, data, out = _kit(tmp_path, "--profile", "numbering-authority")
    assert code == 0, out
    # the tests of that profile: those only for it, and those shared with others
    assert {r["test_id"] for r in data["results"]} == NUMBERING


def test_an_expected_failure_can_name_one_case_of_a_parametrised_test(tmp_path: Path) -> None:
    """``CT-…[case]`` marks that case only; an entry naming no case is reported (issue 15)."""
    manifest = tmp_path / "xfails.yaml"
    manifest.write_text(
        "CT-WIRE-003[issueCorporateNumber]: believed broken\n"
        "CT-WIRE-003[noSuchOperation]: typo in a case\n"
    )
    report = tmp_path / "r.json"
    result = run_renkei(
        "conformance", "run", "--target", "reference", "-q", "--report-json", str(report),
        "--xfails", str(manifest), "-k", "test_bad_input_derived_from_the_interface",
        "--junit", str(tmp_path / "junit.xml"),
    )  # fmt: skip
    data = json.loads(report.read_text())
    assert result.returncode == 1, result.stdout[-3000:]
    outcomes = {r["test_id"]: r["outcome"] for r in data["results"]}
    assert outcomes.pop("CT-WIRE-003[issueCorporateNumber]") == "xpassed"
    assert set(outcomes.values()) <= {"passed", "not_applicable"}, outcomes
    assert len(outcomes) > 20  # the other cases ran as usual
    assert any(
        "CT-WIRE-003[noSuchOperation] names no case of that test" in n for n in data["notices"]
    ), data["notices"]
    assert data["xfail_manifest"]["CT-WIRE-003[issueCorporateNumber]"] == "believed broken"
    # The unexpected pass says how to run it alone again.
    (xpassed,) = [r for r in data["results"] if r["outcome"] == "xpassed"]
    assert xpassed["reproduce"] == (
        "renkei conformance run --target reference -k "
        "'test_bad_input_derived_from_the_interface_never_gets_a_5xx[issueCorporateNumber]' "
        f"--xfails {manifest}"
    )
    assert "reproduce: renkei conformance run --target reference" in result.stdout
    # JUnit: each case named by its CT id, with its requirements and seed items.
    cases = ET.parse(tmp_path / "junit.xml").getroot().iter("testcase")
    named = {
        c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")} for c in cases
    }
    props = named[
        "CT-WIRE-003[issueCorporateNumber] "
        "test_bad_input_derived_from_the_interface_never_gets_a_5xx"
    ]
    assert props["requirements"] == "RK-WIRE-001 RK-WIRE-002"
    assert props["seed_items"]


def test_a_report_says_what_was_selected_and_whether_each_profile_ran_whole(
    tmp_path: Path,
) -> None:
    code, data, out = _kit(tmp_path, "--profile", "numbering-authority")
    assert code == 0, out
    assert data["selection"]["keyword"] == "not test_statistics"
    assert data["selection"]["profiles"] == ["numbering-authority"]
    coverage = data["completeness"]
    assert coverage["complete"] is False
    hub = coverage["profiles"]["hub"]
    assert hub["missing"]
    assert hub["ran"] + len(hub["missing"]) == hub["expected"]
    assert "coverage: PARTIAL run" in out
