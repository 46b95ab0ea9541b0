"""Certifier mode and the trust model (issue 15, item 2; specs/results-bundle.md).

A certifier runs the kit against a vendor's deployment with a fresh challenge seed,
from which the kit derives its world, and signs with the certifier's key; every
other run is self-asserted.  Each forgery the trust model says the tooling catches
has a test here.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_conformance.bundle import CERTIFIER, SELF_ASSERTED, seal, verify
from renkei_conformance.oracle import check_digit_resident
from renkei_conformance.world import (
    AGENCIES,
    Challenge,
    World,
    current_challenge,
    population,
    set_challenge,
)

from .conftest import run_renkei
from .test_bundle import ONE_TEST, _report, _statement

SEEDS = st.binary(min_size=32, max_size=32)


def _world(c: Challenge) -> dict[str, Any]:
    """Everything a seed decides that a target learns."""
    return {
        "persons": population(30, challenge=c),
        "hard_cases": population(3, first=2_000_000_000, challenge=c),
        "request_ids": [c.request_id(n) for n in (1, 2, 3)],
        "agency_names": [c.agency_name(name) for name, _ in AGENCIES.values()],
        "root_secrets": [c.root_secret(n) for n in (1, 2)],
        "draws": [c.rng("pattern-tables", 0).getrandbits(64) for _ in (1, 2)],
    }


@settings(max_examples=40, deadline=None)
@given(a=SEEDS, b=SEEDS)
def test_two_seeds_give_different_worlds_and_one_seed_the_same(a: bytes, b: bytes) -> None:
    assert _world(Challenge(a)) == _world(Challenge(a))
    if a != b:
        first, second = _world(Challenge(a)), _world(Challenge(b))
        for part in first:
            assert first[part] != second[part], part
        codes = {p.resident_code for p in first["persons"]}
        assert not codes & {p.resident_code for p in second["persons"]}


@settings(max_examples=40, deadline=None)
@given(seed=SEEDS)
def test_a_seeded_world_is_still_a_valid_world(seed: bytes) -> None:
    """Distinct serials keep distinct, valid resident codes; a population's 4 items
    stay unique."""
    c = Challenge(seed)
    people = population(200, challenge=c) + population(50, first=2_000_000_000, challenge=c)
    codes = [p.resident_code for p in people]
    assert len(set(codes)) == len(codes)
    assert all(
        len(code) == 11 and code[-1] == str(check_digit_resident(code[:10])) for code in codes
    )
    assert len({tuple(p.four_items().values()) for p in people[:200]}) == 200
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", p.birth_date) for p in people)


def test_without_a_seed_the_kit_keeps_its_fixed_world() -> None:
    fixed = Challenge()
    code = population(3, challenge=fixed)[0].resident_code
    assert code == "1000000000" + str(check_digit_resident("1000000000"))
    assert fixed.request_id(7) == "kit-7"
    assert fixed.agency_name("試験市") == "試験市"
    assert fixed.root_secret(1) != fixed.root_secret(1)  # drawn afresh at every reset
    assert fixed.rng("random-resident-codes", 20261206).random() == (
        fixed.rng("other label", 20261206).random()
    )


@pytest.fixture
def seeded() -> Iterator[None]:
    yield
    set_challenge(None)


def _target_world(seed: bytes) -> tuple[list[str], list[str]]:
    """Set up the kit's world against the in-process reference with ``seed`` and
    read back what the target stores: its residents' codes and agencies' names."""
    from renkei_conformance.client import Wire
    from renkei_conformance.target import resolve_target

    set_challenge(seed)
    wire = Wire(resolve_target("reference"))
    try:
        World.create(wire, n_persons=5)
        text = json.dumps(wire.control("GET", "/state").expect(200)["stores"], ensure_ascii=False)
    finally:
        wire.close()
    codes = sorted(set(re.findall(r"\b\d{11}\b", text)))
    names = sorted(set(re.findall(r"（課題 [0-9a-f]{10}）", text)))
    return codes, names


@pytest.mark.usefixtures("seeded")
def test_the_target_learns_the_seeded_world() -> None:
    a, b = bytes(range(32)), bytes(range(1, 33))
    codes_a, names_a = _target_world(a)
    assert codes_a == sorted(p.resident_code for p in population(5, challenge=Challenge(a)))
    assert names_a == [f"（課題 {Challenge(a).tag}）"]
    assert _target_world(a) == (codes_a, names_a)
    codes_b, names_b = _target_world(b)
    assert not set(codes_a) & set(codes_b)
    assert names_b != names_a
    assert current_challenge().seed == b


# -- the forgeries of the trust model ------------------------------------------------
SEED = "5e" * 32


def _certified(outcomes: list[str] | None = None, seed: str | None = SEED) -> dict[str, Any]:
    report = _report(outcomes or ["passed", "passed"])
    report["challenge"] = {"mode": CERTIFIER, "seed": seed}
    return report


def _resign(envelope: dict[str, Any], statement: dict[str, Any], key: Ed25519PrivateKey) -> Any:
    """What a holder of ``key`` can do: change the statement and sign it again."""
    from renkei_conformance.bundle import PAYLOAD_TYPE, key_id, pae

    raw = key.public_key().public_bytes_raw()
    statement["signer"] = {
        "keyid": key_id(key.public_key()),
        "public_key": base64.b64encode(raw).decode(),
    }
    body = json.dumps(statement).encode()
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [
            {
                "keyid": key_id(key.public_key()),
                "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, body))).decode(),
            }
        ],
    }


def test_a_certifier_bundle_verifies_as_the_certifiers() -> None:
    certifier = Ed25519PrivateKey.generate()
    check = verify(seal(_certified(), certifier), certifier.public_key())
    assert check.valid, check.problems
    assert check.mode == CERTIFIER
    assert SEED in check.mode_reason()
    assert check.certification_problems(require_certifier=True) == []
    assert check.as_json()["challenge_seed"] == SEED


def test_a_certifier_bundle_edited_and_re_signed_by_the_vendor_is_refused() -> None:
    certifier, vendor = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    envelope = seal(_certified(["failed", "passed"]), certifier)
    statement = _statement(envelope)
    statement["report"]["results"][0]["outcome"] = "passed"
    statement["report"]["summary"].update(passed=2, failed=0)
    forged = _resign(envelope, statement, vendor)
    pinned = verify(forged, certifier.public_key())
    assert not pinned.valid
    assert any("not by the trusted key" in p for p in pinned.problems)
    assert pinned.certification_problems(require_certifier=True)
    # Unpinned, the forgery is authentic as the vendor's bundle — and only that.
    unpinned = verify(forged)
    assert unpinned.valid
    assert "UNPINNED" in unpinned.mode_reason()
    assert any("--key" in p for p in unpinned.certification_problems(require_certifier=True))


def test_a_vendor_run_claiming_certifier_mode_is_refused_under_the_certifiers_key() -> None:
    certifier, vendor = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    claimed = seal(_certified(), vendor)  # a vendor can run --certify with its own key
    check = verify(claimed, certifier.public_key())
    assert not check.valid
    assert check.certification_problems(require_certifier=True)


def test_a_self_run_is_labelled_self_asserted() -> None:
    vendor = Ed25519PrivateKey.generate()
    report = _report(["passed"])
    report["challenge"] = {"mode": SELF_ASSERTED, "seed": SEED}  # seeded, but the vendor's own
    check = verify(seal(report, vendor), vendor.public_key())
    assert check.valid
    assert check.mode == SELF_ASSERTED
    assert _statement(seal(report, vendor))["attestation"]["mode"] == SELF_ASSERTED
    assert check.certification_problems() == []  # a pass, as the vendor's claim
    assert any(SELF_ASSERTED in p for p in check.certification_problems(require_certifier=True))
    legacy = _report(["passed"])  # made before certifier mode: no challenge at all
    assert verify(seal(legacy, vendor), vendor.public_key()).mode == SELF_ASSERTED


def test_certifier_mode_without_a_seed_is_not_certifier_mode() -> None:
    certifier = Ed25519PrivateKey.generate()
    check = verify(seal(_certified(seed=None), certifier), certifier.public_key())
    assert check.valid
    assert check.mode == SELF_ASSERTED
    assert "no challenge seed" in check.mode_reason()
    assert check.certification_problems(require_certifier=True)


def test_an_attestation_that_contradicts_its_report_is_not_certifier_mode() -> None:
    certifier = Ed25519PrivateKey.generate()
    report = _report(["passed"])
    report["challenge"] = {"mode": SELF_ASSERTED, "seed": SEED}
    envelope = seal(report, certifier)
    statement = _statement(envelope)
    statement["attestation"] = {"mode": CERTIFIER, "challenge_seed": SEED}
    check = verify(_resign(envelope, statement, certifier), certifier.public_key())
    assert check.valid
    assert check.mode == SELF_ASSERTED


def test_the_cli_certifies_with_a_fresh_seed_and_pins_the_certifier(tmp_path: Path) -> None:
    key = tmp_path / "certifier.pem"
    assert run_renkei("conformance", "keygen", "--out", str(key)).returncode == 0
    seeds = []
    for n in (1, 2):
        bundle = tmp_path / f"certified-{n}.json"
        ran = run_renkei(
            "conformance", "run", "--target", "reference", "-q", "-k", ONE_TEST, "--certify",
            "--bundle", str(bundle), "--signing-key", str(key),
        )  # fmt: skip
        assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
        seed = _statement(json.loads(bundle.read_text()))["report"]["challenge"]["seed"]
        assert f"challenge seed {seed}" in ran.stdout
        assert f"run: certifier, challenge seed {seed}" in ran.stdout
        seeds.append(seed)
    assert seeds[0] != seeds[1]
    shown = run_renkei("conformance", "verify-bundle", str(bundle), "--key", f"{key}.pub")
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert (
        f"mode:      certifier (run by a certifier with challenge seed {seeds[1]}" in shown.stdout
    )
    other = tmp_path / "vendor.pem"
    assert run_renkei("conformance", "keygen", "--out", str(other)).returncode == 0
    refused = run_renkei("conformance", "verify-bundle", str(bundle), "--key", f"{other}.pub")
    assert refused.returncode == 1
    assert "not by the trusted key" in refused.stdout


def test_a_self_run_is_self_asserted_in_the_cli_and_reproduces_with_its_seed(
    tmp_path: Path,
) -> None:
    key = tmp_path / "vendor.pem"
    assert run_renkei("conformance", "keygen", "--out", str(key)).returncode == 0
    bundle = tmp_path / "results.json"
    ran = run_renkei(
        "conformance", "run", "--target", "reference", "-q", "-k", ONE_TEST, "--seed", SEED,
        "--bundle", str(bundle), "--signing-key", str(key),
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert _statement(json.loads(bundle.read_text()))["report"]["challenge"] == {
        "mode": SELF_ASSERTED,
        "seed": SEED,
    }
    shown = run_renkei(
        "conformance", "verify-bundle", str(bundle), "--key", f"{key}.pub",
        "--require-certifier",
    )  # fmt: skip
    assert "mode:      self-asserted (the vendor's own run" in shown.stdout


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--certify"], "--certify signs a bundle"),
        (
            ["--certify", "--seed", SEED, "--bundle", "b.json", "--signing-key", "k.pem"],
            "no --seed",
        ),
        (["--seed", "xyz"], "64 lowercase hex"),
    ],
)
def test_certifier_mode_usage_errors_are_one_line(extra: list[str], says: str) -> None:
    proc = run_renkei("conformance", "run", "--target", "reference", *extra)
    assert proc.returncode == 2
    assert says in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_failure_of_a_seeded_run_reproduces_in_the_same_world(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    ran = run_renkei(
        "conformance", "run", "--target", "reference@validation-error-answers-418", "-q",
        "-k", "test_a_query_must_name_its_provider", "--seed", SEED,
        "--report-json", str(report),
    )  # fmt: skip
    assert ran.returncode == 1, ran.stdout[-3000:] + ran.stderr[-2000:]
    [result] = json.loads(report.read_text(encoding="utf-8"))["results"]
    assert result["reproduce"].endswith(f"--seed {SEED}")
    assert f"reproduce: {result['reproduce']}" in ran.stdout


def test_a_changed_seed_or_a_stripped_signature_does_not_verify() -> None:
    """The regulator and anyone holding the bundle can change nothing signed."""
    certifier = Ed25519PrivateKey.generate()
    envelope = seal(_certified(), certifier)
    statement = _statement(envelope)
    statement["report"]["challenge"]["seed"] = "00" * 32
    statement["attestation"]["challenge_seed"] = "00" * 32
    reseeded = {**envelope, "payload": base64.b64encode(json.dumps(statement).encode()).decode()}
    check = verify(reseeded, certifier.public_key())
    assert not check.valid
    assert any("signature" in p for p in check.problems)
    stripped = verify({**envelope, "signatures": []}, certifier.public_key())
    assert not stripped.valid


def test_a_bundle_made_against_another_spec_edition_does_not_certify() -> None:
    vendor = Ed25519PrivateKey.generate()
    envelope = seal(_certified(), vendor)
    statement = _statement(envelope)
    statement["kit"]["spec_digests"]["requirements.yaml"] = "0" * 64
    check = verify(_resign(envelope, statement, vendor), vendor.public_key())
    assert check.valid, check.problems
    assert any("other spec files" in n for n in check.notes)
    assert any("spec files differ" in p for p in check.certification_problems())
