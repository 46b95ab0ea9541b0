"""Signed results bundles (issue 6): a regulator checks a vendor's run on their own.

The bundle is a DSSE v1 envelope signed with Ed25519 (specs/results-bundle.md).
"""

from __future__ import annotations

import base64
import json
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from renkei_conformance.bundle import PAYLOAD_TYPE, key_id, seal, verify

from .conftest import run_renkei

ONE_TEST = "test_number_responses_carry_no_invisible_code"


def _report(outcomes: list[str]) -> dict[str, Any]:
    summary = dict.fromkeys(
        ("passed", "failed", "warnings", "not_applicable", "xfailed", "xpassed", "errors"), 0
    )
    plural = {"warning": "warnings", "error": "errors"}
    for o in outcomes:
        summary[plural.get(o, o)] += 1
    return {
        "suite_version": "0.1.0",
        "spec_version": "0.1.0",
        "kit_environment": {
            "kit_version": "0.1.0",
            "python": "3.11.7",
            "implementation": "cpython",
            "platform": "Linux",
            "dependencies": {"cryptography": "51.0.1"},
        },
        "target": {"name": "vendor-x", "kind": "http", "parties": {}},
        "capabilities": {"profiles": ["hub"]},
        "summary": summary,
        "selection": {
            "keyword": None,
            "markexpr": None,
            "profiles": [],
            "requirements": [],
            "args": [],
        },
        "completeness": {
            "complete": True,
            "profiles": {"hub": {"expected": len(outcomes), "ran": len(outcomes), "missing": []}},
        },
        "xfail_manifest": {},
        "results": [
            {
                "test_id": f"CT-LNK-{i + 1:03d}",
                "requirements": ["RK-LNK-001"],
                "seed_items": [5],
                "outcome": o,
                "message": "",
            }
            for i, o in enumerate(outcomes)
        ],
    }


def _statement(envelope: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(base64.b64decode(envelope["payload"]))
    return loaded


def _repack(envelope: dict[str, Any], statement: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(statement).encode()
    return {**envelope, "payload": base64.b64encode(body).decode()}


def test_a_sealed_report_verifies_with_any_dsse_verifier() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = seal(_report(["passed", "passed"]), key)
    check = verify(envelope, key.public_key())
    assert check.valid, check.problems
    assert check.run_passed
    # Independent check: DSSE v1 PAE by hand, Ed25519 from the raw public key.
    body = base64.b64decode(envelope["payload"])
    t = PAYLOAD_TYPE.encode()
    pae = (
        b"DSSEv1 " + str(len(t)).encode() + b" " + t + b" " + str(len(body)).encode() + b" " + body
    )
    raw = base64.b64decode(_statement(envelope)["signer"]["public_key"])
    Ed25519PublicKey.from_public_bytes(raw).verify(
        base64.b64decode(envelope["signatures"][0]["sig"]), pae
    )
    assert envelope["signatures"][0]["keyid"] == key_id(key.public_key())


def test_an_altered_outcome_breaks_the_signature() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = seal(_report(["failed", "passed"]), key)
    statement = _statement(envelope)
    statement["report"]["results"][0]["outcome"] = "passed"
    statement["report"]["summary"].update(passed=2, failed=0)
    check = verify(_repack(envelope, statement), key.public_key())
    assert not check.valid
    assert any("signature" in p for p in check.problems)
    assert not check.run_passed


def test_a_bundle_re_signed_by_someone_else_is_refused_when_the_signer_is_pinned() -> None:
    vendor, forger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    forged = seal(_report(["passed"]), forger)
    check = verify(forged, vendor.public_key())
    assert not check.valid
    assert any("not by the trusted key" in p for p in check.problems)
    unpinned = verify(forged)
    assert unpinned.valid
    assert any("not pinned" in n for n in unpinned.notes)


def test_a_summary_that_does_not_count_the_results_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    report = _report(["failed"])
    report["summary"].update(failed=0, passed=1)
    check = verify(seal(report, key), key.public_key())
    assert not check.valid
    assert any("does not count the results" in p for p in check.problems)


@pytest.mark.parametrize(
    "envelope",
    [
        None,
        [],
        {"payloadType": PAYLOAD_TYPE},
        {
            "payloadType": PAYLOAD_TYPE,
            "payload": "!!",
            "signatures": [{"keyid": "0" * 64, "sig": "AA=="}],
        },
    ],
)
def test_garbage_is_reported_not_raised(envelope: Any) -> None:
    check = verify(envelope)
    assert not check.valid
    assert check.problems


def test_the_cli_signs_a_run_and_checks_it(tmp_path: Path) -> None:
    key = tmp_path / "vendor.pem"
    made = run_renkei("conformance", "keygen", "--out", str(key))
    assert made.returncode == 0, made.stderr
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    again = run_renkei("conformance", "keygen", "--out", str(key))
    assert again.returncode == 2
    assert "refusing to overwrite" in again.stderr
    bundle = tmp_path / "results.json"
    ran = run_renkei(
        "conformance", "run", "--target", "reference", "-q", "-k", ONE_TEST,
        "--bundle", str(bundle), "--signing-key", str(key),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    ok = run_renkei("conformance", "verify-bundle", str(bundle), "--key", f"{key}.pub")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "signature: valid" in ok.stdout
    # One test of the suite ran: authentic, but it certifies nothing (issue 15).
    assert "verdict:   FAIL" in ok.stdout
    assert "partial run" in ok.stdout
    assert f"-k {ONE_TEST}" in ok.stdout or f"'keyword': '{ONE_TEST}'" in ok.stdout
    partial = run_renkei(
        "conformance", "verify-bundle", str(bundle), "--key", f"{key}.pub", "--require-pass"
    )
    assert partial.returncode == 1, partial.stdout
    envelope = json.loads(bundle.read_text(encoding="utf-8"))
    statement = _statement(envelope)
    # The run records what the kit ran with (issue 19): its dependencies, transitively.
    for recorded in (statement["kit"]["environment"], statement["report"]["kit_environment"]):
        deps = recorded["dependencies"]
        assert deps["cryptography"] == metadata.version("cryptography")
        assert deps["cffi"] == metadata.version("cffi")  # cryptography's own dependency
        assert deps["pytest"] == metadata.version("pytest")
        assert recorded["python"] == platform.python_version()
    statement["report"]["target"]["name"] = "someone-else"
    bundle.write_text(json.dumps(_repack(envelope, statement)), encoding="utf-8")
    bad = run_renkei("conformance", "verify-bundle", str(bundle), "--json")
    assert bad.returncode == 1
    assert json.loads(bad.stdout)["valid"] is False
    bundle.write_text("not json", encoding="utf-8")
    broken = run_renkei("conformance", "verify-bundle", str(bundle))
    assert broken.returncode == 1
    assert "Traceback" not in broken.stderr


def test_bundle_usage_errors_are_one_line(tmp_path: Path) -> None:
    half = run_renkei("conformance", "run", "--target", "reference", "--bundle", "x.json")
    assert half.returncode == 2
    assert "go together" in half.stderr
    (tmp_path / "rsa.pem").write_text(
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"
    )
    bad_key = run_renkei(
        "conformance", "run", "--target", "reference", "--bundle", str(tmp_path / "b.json"),
        "--signing-key", str(tmp_path / "rsa.pem"),
    )  # fmt: skip
    assert bad_key.returncode == 2
    assert "not a usable PEM private key" in bad_key.stderr
    missing = run_renkei("conformance", "verify-bundle", str(tmp_path / "nope.json"))
    assert missing.returncode == 2
    for proc in (half, bad_key, missing):
        assert "Traceback" not in proc.stderr


def test_an_encrypted_signing_key_needs_its_password(tmp_path: Path) -> None:
    key = tmp_path / "locked.pem"
    env = {"RENKEI_SIGNING_KEY_PASSWORD": "correct horse"}
    assert run_renkei("conformance", "keygen", "--out", str(key), env=env).returncode == 0
    assert b"ENCRYPTED" in key.read_bytes()
    no_pw = run_renkei(
        "conformance", "run", "--target", "reference", "-k", ONE_TEST,
        "--bundle", str(tmp_path / "b.json"), "--signing-key", str(key),
    )  # fmt: skip
    assert no_pw.returncode == 2
    assert "RENKEI_SIGNING_KEY_PASSWORD" in no_pw.stderr


def _sealed_check(report: dict[str, Any], allow_xfail: bool = False) -> list[str]:
    key = Ed25519PrivateKey.generate()
    check = verify(seal(report, key), key.public_key())
    assert check.valid, check.problems
    return check.certification_problems(allow_xfail=allow_xfail)


def test_a_complete_passing_run_certifies() -> None:
    assert _sealed_check(_report(["passed", "not_applicable", "warning"])) == []


def test_a_partial_run_does_not_certify() -> None:
    """A run of one test, listed as an expected failure, used to verify as PASS."""
    report = _report(["xfailed"])
    report["selection"]["keyword"] = "one_test"
    report["completeness"] = {
        "complete": False,
        "profiles": {"hub": {"expected": 78, "ran": 1, "missing": ["CT-LNK-001"]}},
    }
    report["xfail_manifest"] = {"CT-LNK-001": "known"}
    problems = _sealed_check(report, allow_xfail=True)
    assert any("partial run: 1 of the 78 tests of profile hub" in p for p in problems)


def test_expected_failures_certify_only_when_the_certifier_allows_them() -> None:
    report = _report(["passed", "xfailed"])
    assert any("1 expected failures" in p for p in _sealed_check(report))
    assert _sealed_check(report, allow_xfail=True) == []


@pytest.mark.parametrize("outcome", ["failed", "error", "xpassed"])
def test_a_failure_of_any_kind_does_not_certify(outcome: str) -> None:
    assert _sealed_check(_report(["passed", outcome]), allow_xfail=True)


def test_a_bundle_from_a_modified_kit_does_not_certify() -> None:
    key = Ed25519PrivateKey.generate()
    envelope = seal(_report(["passed"]), key)
    statement = _statement(envelope)
    statement["kit"]["code_digest"] = "sha256:" + "0" * 64  # as a modified kit would record
    body = json.dumps(statement).encode()
    from renkei_conformance.bundle import pae

    resigned = {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [
            {
                "keyid": key_id(key.public_key()),
                "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, body))).decode(),
            }
        ],
    }
    check = verify(resigned, key.public_key())
    assert check.valid, check.problems
    assert any("code differs" in n for n in check.notes)
    assert any("kit whose code" in p for p in check.certification_problems(allow_xfail=True))
