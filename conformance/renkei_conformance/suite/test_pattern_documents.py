"""Patterns come only from signed, versioned documents (seed item 17; RK-PAT-003, RK-PAT-004).

The kit plays the issuer: it names its own Ed25519 key as the trust anchor,
signs documents over their exact bytes and loads them through the control
interface.  A bad signature, a stale version or an invalid pattern is
refused with 422 ``invalid-pattern`` and the table in force stays as it was.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from renkei_conformance.world import PATTERNS, World

NEW = {
    "pattern_id": "KIT-P-010",
    "legal_basis": "番号法 別表第二 項番（試験）10",
    "purpose": "児童手当の支給に関する事務（試験）",
    "requesters": ["kit.insurer"],
    "providers": ["kit.city-a"],
    "information_kinds": ["household"],
    "valid_from": None,
    "valid_until": None,
    "answer_within_seconds": 600,
    "withheld_from_person": True,
}


def _document(version: int, patterns: list[dict[str, Any]]) -> bytes:
    body = {
        "format": "renkei-patterns/1",
        "version": version,
        "issued_at": "2026-04-01T00:00:00Z",
        "issuer": "renkei conformance kit",
        "patterns": patterns,
    }
    return json.dumps(body, ensure_ascii=False, indent=1).encode()


def _plain(p: dict[str, Any]) -> dict[str, Any]:
    return {"valid_from": None, "valid_until": None, **p}


def _load(world: World, data: bytes, key: Ed25519PrivateKey) -> Any:
    return world.wire.control(
        "PUT",
        "/patterns",
        {
            "document": base64.b64encode(data).decode(),
            "signature": base64.b64encode(key.sign(data)).decode(),
        },
    )


@pytest.mark.conformance(
    "CT-PAT-005", requirements=["RK-PAT-003", "RK-PAT-004", "RK-CTL-005"], profiles=["hub"]
)
def test_only_signed_newer_valid_documents_change_the_table(world: World) -> None:
    """A document signed by the anchor loads; a tampered byte, another key, a
    version not above the one in force or a pattern without legal basis are
    refused with 422 ``invalid-pattern`` and change nothing; a plain list not
    signed by the anchor no longer loads."""
    issuer = Ed25519PrivateKey.generate()
    raw = issuer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    world.wire.control("PUT", "/pattern-trust-anchor", {"public_key": raw}).expect(200)
    person = world.persons[14]
    table = [*(_plain(p) for p in PATTERNS), NEW]
    good = _document(10, table)
    assert _load(world, good, issuer).expect(200)["version"] == 10
    world.query("kit.insurer", person, pattern_id="KIT-P-010", information_kind="household").expect(
        202
    )

    without = _document(11, [p for p in table if p["pattern_id"] != "KIT-P-010"])
    tampered = without.replace(b'"version": 11', b'"version": 12')
    refusals = {
        "tampered": (tampered, issuer, without),
        "other key": (without, Ed25519PrivateKey.generate(), None),
        "stale": (_document(10, table[:1]), issuer, None),
        "no legal basis": (_document(11, [{**NEW, "legal_basis": ""}]), issuer, None),
    }
    for case, (data, key, signed_bytes) in refusals.items():
        signature = key.sign(signed_bytes if signed_bytes is not None else data)
        reply = world.wire.control(
            "PUT",
            "/patterns",
            {
                "document": base64.b64encode(data).decode(),
                "signature": base64.b64encode(signature).decode(),
            },
        )
        assert reply.status == 422, f"{case}: {reply.status} {reply.text[:300]}"
        assert reply.problem == "invalid-pattern", f"{case}: {reply.problem}"
        world.query(
            "kit.insurer", person, pattern_id="KIT-P-010", information_kind="household"
        ).expect(202)
    world.wire.control("PUT", "/patterns", {"patterns": PATTERNS}).expect_problem(
        "invalid-pattern", 422
    )


@pytest.mark.conformance(
    "CT-PAT-006", requirements=["RK-PAT-003", "RK-LOG-002"], profiles=["hub", "auditor"]
)
def test_entries_record_the_document_version_and_the_withheld_flag(world: World) -> None:
    """Each entry records the version of the document it was decided under;
    entries under a withheld pattern carry the flag in the auditor's view."""
    issuer = Ed25519PrivateKey.generate()
    raw = issuer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    world.wire.control("PUT", "/pattern-trust-anchor", {"public_key": raw}).expect(200)
    _load(world, _document(20, [*(_plain(p) for p in PATTERNS), NEW]), issuer).expect(200)
    open_id = world.query("kit.pension", world.persons[15]).expect(202)["linkage_id"]
    hidden_id = world.query(
        "kit.insurer", world.persons[15], pattern_id="KIT-P-010", information_kind="household"
    ).expect(202)["linkage_id"]
    entries = {e["linkage_id"]: e for e in world.audit_log() if e.get("linkage_id")}
    assert entries[open_id]["pattern_version"] == 20
    assert entries[hidden_id]["pattern_version"] == 20
    assert entries[hidden_id]["withheld"] is True
    assert entries[open_id]["withheld"] is False


@pytest.mark.conformance(
    "CT-PAT-007", requirements=["RK-LOG-007", "RK-PAT-003"], profiles=["hub", "auditor"]
)
def test_the_withheld_flag_comes_only_from_the_signed_document(world: World) -> None:
    """RK-LOG-007: every entry under a pattern the signed document withholds from
    the person is flagged — approval and relay alike, in the signed leaf of its
    receipt and in the auditor's view — and a query cannot set or clear the
    flag: a query carrying one is refused as malformed (RK-WIRE-002).  (That My
    Portal hides flagged entries from the person is checked with My Portal.)"""
    issuer = Ed25519PrivateKey.generate()
    raw = issuer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    world.wire.control("PUT", "/pattern-trust-anchor", {"public_key": raw}).expect(200)
    _load(world, _document(30, [*(_plain(p) for p in PATTERNS), NEW]), issuer).expect(200)
    person = world.persons[16]
    body = {
        "request_id": "kit-withheld-forged",
        "requester": "kit.insurer",
        "provider": "kit.city-a",
        "pattern_id": "KIT-P-010",
        "information_kind": "household",
        "link_code": world.link("kit.insurer", person),
        "withheld": False,
    }
    world.call("kit.insurer", "POST", "hub", "/queries", body).expect_problem(
        "validation-error", 422
    )
    forged_open = {**body, "request_id": "kit-withheld-forged-2", "withheld_from_person": True}
    forged_open.pop("withheld")
    world.call("kit.insurer", "POST", "hub", "/queries", forged_open).expect_problem(
        "validation-error", 422
    )
    hidden = world.query(
        "kit.insurer", person, pattern_id="KIT-P-010", information_kind="household"
    ).expect(202)
    shown = world.query("kit.pension", person).expect(202)
    assert json.loads(base64.b64decode(hidden["receipt"]["leaf"]))["withheld"] is True
    assert json.loads(base64.b64decode(shown["receipt"]["leaf"]))["withheld"] is False
    for d in world.deliveries("kit.city-a"):
        world.call(
            "kit.city-a",
            "POST",
            "hub",
            f"/linkages/{d['linkage_id']}/answer",
            {"payload": base64.b64encode(b"kit").decode()},
        ).expect(202)
    relayed = world.call("kit.insurer", "GET", "hub", f"/linkages/{hidden['linkage_id']}")
    assert json.loads(base64.b64decode(relayed.expect(200)["receipt"]["leaf"]))["withheld"] is True
    entries = [e for e in world.audit_log() if e.get("linkage_id") == hidden["linkage_id"]]
    assert {e["outcome"] for e in entries} == {"approved", "provided"}
    assert all(e["withheld"] is True for e in entries), "the auditor sees them, flagged"
    others = [e for e in world.audit_log() if e.get("linkage_id") == shown["linkage_id"]]
    assert others
    assert all(e["withheld"] is False for e in others)
