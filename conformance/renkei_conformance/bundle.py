"""Signed results bundles: a kit run a regulator can check on their own.

A bundle is a DSSE v1 envelope (Dead Simple Signing Envelope,
https://github.com/secure-systems-lab/dsse, as used by in-toto and Sigstore)
signed with Ed25519 (RFC 8032).  Its payload, the *statement*, holds the run's
JSON report (specs/schemas/report.schema.json), the kit and catalog versions,
SHA-256 digests of the normative spec files the kit ran with, and the signer's
public key.  specs/results-bundle.md defines the format; any DSSE verifier
can check the signature, and ``renkei conformance verify-bundle`` checks
everything: envelope, signature, pinned key, report schema, that the summary
counts the results, and which spec the run was made against.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import SUITE_VERSION
from .environment import kit_code_digest, kit_environment
from .spec import spec_root

__all__ = [
    "CERTIFIER",
    "PAYLOAD_TYPE",
    "SELF_ASSERTED",
    "BundleCheck",
    "BundleError",
    "attestation",
    "generate_key",
    "key_id",
    "load_private_key",
    "load_public_key",
    "pae",
    "seal",
    "verify",
]

PAYLOAD_TYPE = "application/vnd.renkei.conformance-results+json"
STATEMENT_FORMAT = "renkei-results-bundle/1"
SPEC_FILES = ("requirements.yaml", "problems.yaml", "openapi/renkei.yaml", "conformance-tests.json")
PASSWORD_ENV = "RENKEI_SIGNING_KEY_PASSWORD"
FAILING = ("failed", "errors", "xpassed")


class BundleError(Exception):
    """A key or bundle file cannot be used (a usage error: exit 2)."""


def pae(payload_type: str, body: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding: what the signature covers."""
    t = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(t), t, len(body), body)


def key_id(public: Ed25519PublicKey) -> str:
    """SHA-256 of the raw 32-byte public key, hex: the key's fingerprint."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


def spec_digests(root: Path | None = None) -> dict[str, str]:
    base = root or spec_root()
    return {
        name: hashlib.sha256((base / name).read_bytes()).hexdigest()
        for name in SPEC_FILES
        if (base / name).is_file()
    }


# -- keys ------------------------------------------------------------------------
def generate_key(out: Path) -> tuple[Path, str]:
    """Write a new Ed25519 private key (PKCS#8 PEM, mode 0600) and its public key
    beside it (``<out>.pub``); return the public key's path and key ID."""
    if out.exists():
        raise BundleError(f"{out} already exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    password = os.environ.get(PASSWORD_ENV)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode())
        if password
        else serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return pub, key_id(key.public_key())


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read signing key {path}: {exc.strerror}") from exc
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError) as exc:
        raise BundleError(
            f"{path} is not a usable PEM private key ({exc}); an encrypted key needs "
            f"its password in ${PASSWORD_ENV}"
        ) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise BundleError(
            f"{path} is not an Ed25519 key; make one with `renkei conformance keygen`"
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BundleError(f"cannot read public key {path}: {exc.strerror}") from exc
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise BundleError(f"{path} is not a PEM public key ({exc})") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise BundleError(f"{path} is not an Ed25519 public key")
    return key


# -- sealing and verifying -------------------------------------------------------------
CERTIFIER = "certifier"
SELF_ASSERTED = "self-asserted"
_SEED_HEX = frozenset("0123456789abcdef")


def _seed_of(report: dict[str, Any]) -> str | None:
    seed = (report.get("challenge") or {}).get("seed")
    ok = isinstance(seed, str) and len(seed) == 64 and set(seed) <= _SEED_HEX
    return seed if ok else None


def attestation(report: dict[str, Any]) -> dict[str, Any]:
    """Who ran the recorded run (specs/results-bundle.md, trust model): ``certifier``
    only for a run in certifier mode with its challenge seed, else ``self-asserted``."""
    seed = _seed_of(report)
    claimed = (report.get("challenge") or {}).get("mode") == CERTIFIER
    return {"mode": CERTIFIER if claimed and seed else SELF_ASSERTED, "challenge_seed": seed}


def _canonical(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def seal(
    report: dict[str, Any], key: Ed25519PrivateKey, created: datetime | None = None
) -> dict[str, Any]:
    """The DSSE envelope of a run's report, signed with ``key``."""
    public = key.public_key()
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    statement = {
        "format": STATEMENT_FORMAT,
        "created": (created or datetime.now(UTC)).isoformat(),
        "kit": {
            "suite_version": SUITE_VERSION,
            "spec_version": report.get("spec_version"),
            "spec_digests": spec_digests(),
            "code_digest": kit_code_digest(),
            "environment": kit_environment(),
        },
        "signer": {"keyid": key_id(public), "public_key": base64.b64encode(raw).decode()},
        "attestation": attestation(report),
        "report": report,
    }
    body = _canonical(statement)
    return {
        "payloadType": PAYLOAD_TYPE,
        "payload": base64.b64encode(body).decode(),
        "signatures": [
            {
                "keyid": key_id(public),
                "sig": base64.b64encode(key.sign(pae(PAYLOAD_TYPE, body))).decode(),
            }
        ],
    }


@dataclass
class BundleCheck:
    """What ``verify`` found: ``valid`` is about authenticity and integrity;
    ``run_passed`` is the verdict of the run the bundle records."""

    valid: bool = False
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    keyid: str | None = None
    statement: dict[str, Any] | None = None

    @property
    def report(self) -> dict[str, Any]:
        return dict((self.statement or {}).get("report") or {})

    kit_differs: bool = False
    """The bundle was made by a kit whose code or spec files differ from this one's."""
    pinned: bool = False
    """The signer was checked against a key the verifier trusts (``--key``)."""

    @property
    def mode(self) -> str:
        """``certifier`` when the run was made in certifier mode with a challenge seed
        and the statement says so; otherwise ``self-asserted``."""
        said = (self.statement or {}).get("attestation") or {}
        derived = attestation(self.report)
        if derived["mode"] == CERTIFIER and said == derived:
            return CERTIFIER
        return SELF_ASSERTED

    def mode_reason(self) -> str:
        """Why a bundle is self-asserted, or whose certification it is."""
        challenge = self.report.get("challenge") or {}
        said = (self.statement or {}).get("attestation") or {}
        if self.mode == CERTIFIER:
            who = "the pinned signer" if self.pinned else "an UNPINNED signer (give --key)"
            seed = _seed_of(self.report)
            return f"run by a certifier with challenge seed {seed}; signed by {who}"
        if challenge.get("mode") != CERTIFIER:
            return "the vendor's own run: not made in certifier mode"
        if _seed_of(self.report) is None:
            return "claims certifier mode but records no challenge seed"
        if said != attestation(self.report):
            return "the statement's attestation does not match its report"
        return "not made in certifier mode"

    def certification_problems(
        self, allow_xfail: bool = False, require_certifier: bool = False
    ) -> list[str]:
        """Why this bundle does not certify a pass (empty when it does).

        A pass needs an authentic bundle, made by this kit on its spec files, of a run
        in which the complete suite of every declared profile ran, nothing failed, and
        no test was expected to fail unless the certifier allows it (issue 15)."""
        if not self.valid:
            return ["the bundle is not authentic and intact"]
        report = self.report
        summary = report.get("summary", {})
        problems = [f"{summary[k]} {k}" for k in FAILING if summary.get(k, 0)]
        if summary.get("xfailed", 0) and not allow_xfail:
            problems.append(
                f"{summary['xfailed']} expected failures (a certifier may accept them with "
                "--allow-xfail)"
            )
        coverage = report.get("completeness") or {}
        for profile, c in (coverage.get("profiles") or {}).items():
            if c.get("missing"):
                problems.append(
                    f"partial run: {c['ran']} of the {c['expected']} tests of profile "
                    f"{profile} ran (missing e.g. {', '.join(c['missing'][:3])})"
                )
        if self.kit_differs:
            problems.append("made by a kit whose code or spec files differ from this kit's")
        if require_certifier and self.mode != CERTIFIER:
            problems.append(f"{SELF_ASSERTED}: {self.mode_reason()}")
        elif require_certifier and not self.pinned:
            problems.append("certifier mode needs the certifier's key: give --key CERTIFIER.pem")
        return problems

    @property
    def run_passed(self) -> bool:
        return not self.certification_problems()

    def as_json(self) -> dict[str, Any]:
        report = self.report
        return {
            "valid": self.valid,
            "problems": self.problems,
            "notes": self.notes,
            "keyid": self.keyid,
            "run_passed": self.run_passed,
            "mode": self.mode if self.statement else None,
            "mode_reason": self.mode_reason() if self.statement else None,
            "challenge_seed": _seed_of(self.report),
            "created": (self.statement or {}).get("created"),
            "target": report.get("target"),
            "certified_role": report.get("certified_role"),
            "suite_version": report.get("suite_version"),
            "spec_version": report.get("spec_version"),
            "kit_environment": report.get("kit_environment"),
            "summary": report.get("summary"),
            "selection": report.get("selection"),
            "completeness": report.get("completeness"),
            "xfail_manifest": report.get("xfail_manifest"),
            "notices": report.get("notices"),
            "capabilities": report.get("capabilities"),
            "kit": {
                k: v
                for k, v in ((self.statement or {}).get("kit") or {}).items()
                if k != "environment"
            },
            "certification_problems": self.certification_problems(),
            # verification by review: for the regulator, not judged by the run
            "review": [
                {"id": i.get("id"), "requirement": i.get("requirement"), "status": "review"}
                for i in report.get("review") or []
            ],
        }


def _schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(
        (spec_root() / "schemas" / name).read_text(encoding="utf-8")
    )
    return loaded


def _b64(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(f"{what} is not base64") from exc


def verify(envelope: Any, trusted: Ed25519PublicKey | None = None) -> BundleCheck:
    """Check a bundle completely; never raises on bad content, reports it."""
    check = BundleCheck()
    try:
        jsonschema.validate(envelope, _schema("results-bundle.schema.json"))
    except jsonschema.ValidationError as exc:
        check.problems.append(f"not a renkei results bundle: {exc.message}")
        return check
    try:
        body = _b64(envelope["payload"], "payload")
        statement = json.loads(body)
        if not isinstance(statement, dict) or statement.get("format") != STATEMENT_FORMAT:
            raise ValueError(f"payload is not a {STATEMENT_FORMAT} statement")
        raw = _b64(statement["signer"]["public_key"], "signer public key")
        public = Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, KeyError, TypeError) as exc:
        check.problems.append(f"malformed payload: {exc}")
        return check
    check.statement = statement
    check.keyid = key_id(public)
    if statement["signer"].get("keyid") != check.keyid:
        check.problems.append("the statement's key ID does not match its public key")
    check.pinned = trusted is not None
    if trusted is not None and key_id(trusted) != check.keyid:
        check.problems.append(
            f"signed by key {check.keyid}, not by the trusted key {key_id(trusted)}"
        )
    elif trusted is None:
        check.notes.append(
            f"signer not pinned: key {check.keyid} (give --key to require a known signer)"
        )
    good = False
    for sig in envelope["signatures"]:
        if sig["keyid"] != check.keyid:
            continue
        try:
            public.verify(_b64(sig["sig"], "signature"), pae(envelope["payloadType"], body))
            good = True
        except (InvalidSignature, ValueError):
            continue
    if not good:
        check.problems.append("no valid Ed25519 signature by the stated signer over the payload")
    report: dict[str, Any] = statement.get("report") or {}
    try:
        jsonschema.validate(report, _schema("report.schema.json"))
    except jsonschema.ValidationError as exc:
        check.problems.append(f"the report does not match report.schema.json: {exc.message}")
        return check
    counted = dict.fromkeys(report["summary"], 0)
    plural = {"warning": "warnings", "error": "errors"}
    for r in report["results"]:
        key = plural.get(r["outcome"], r["outcome"])
        counted[key] = counted.get(key, 0) + 1
    if counted != report["summary"]:
        check.problems.append(
            f"the summary {report['summary']} does not count the results {counted}"
        )
    mine = spec_digests()
    theirs = statement.get("kit", {}).get("spec_digests", {})
    differ = sorted(k for k in mine if theirs.get(k) != mine[k])
    if differ:
        check.kit_differs = True
        check.notes.append(
            "made against other spec files than this kit's "
            f"({', '.join(differ)}; catalog {report['spec_version']})"
        )
    if statement.get("kit", {}).get("code_digest") != kit_code_digest():
        check.kit_differs = True
        check.notes.append("made by a kit whose code differs from this kit's (kit.code_digest)")
    check.valid = not check.problems
    return check
