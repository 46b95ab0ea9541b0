"""Private bodies bind only with recorded consent and an exact match (seed item 20).

Seed item 20 (第１．５．（４）①, なお書き): a private information holder links
only with the person's consent, using 4 items obtained from the person, and
gets a link code only when they match the registry.  The private body records
the consent at the hub (how it was obtained, a digest of its evidence), names
it in every binding record, and the person's withdrawal, recorded by the
private body, stops every further binding and query of that body for that
person (RK-BND-004).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from renkei_conformance.world import PATTERNS, Person, World

CLUB = "kit.club"
PATTERN = {
    "pattern_id": "KIT-P-PRIV",
    "legal_basis": "番号法 第19条（試験）本人同意",
    "purpose": "民間事業者による資格確認（試験）",
    "requesters": [CLUB],
    "providers": ["kit.city-a"],
    "information_kinds": ["resident-record"],
    "answer_within_seconds": 600,
}
EVIDENCE = "yc6mA9GjxGHcEvSHcvxG9isQLN8ogauNMPgkOHKO0S0="


def _private_body(world: World) -> None:
    """Register the kit's private body and a pattern that names it as requester."""
    agencies = [{"agency_id": CLUB, "name": "試験共済会（民間）", "role": "private-body"}]
    tokens = world.wire.control("POST", "/agencies", {"agencies": agencies}).expect(200)
    world.tokens.update(tokens["credentials"])
    world.wire.control("PUT", "/patterns", {"patterns": [*PATTERNS, PATTERN]}).expect(200)


def _consent(world: World, ref: str) -> str:
    body = {
        "record_ref": ref,
        "purpose": "会員資格の確認（試験）",
        "pattern_ids": ["KIT-P-PRIV"],
        "obtained_at": "2026-03-30T02:15:00Z",
        "method": "written",
        "evidence_sha256": EVIDENCE,
    }
    got = world.call(CLUB, "POST", "hub", "/consents", body).expect(201)
    assert got["state"] == "active", got.body
    assert got["private_body"] == CLUB, got.body
    return str(got["consent_id"])


def _records(*rows: tuple[str, Person, str | None]) -> dict[str, Any]:
    out = []
    for ref, p, consent in rows:
        record: dict[str, Any] = {"record_ref": ref, **p.four_items()}
        if consent is not None:
            record["consent_id"] = consent
        out.append(record)
    return {"records": out}


@pytest.mark.conformance("CT-BND-005", requirements=["RK-BND-004", "RK-BND-002"], profiles=["hub"])
def test_a_private_body_binds_only_with_consent_and_an_exact_latest_match(world: World) -> None:
    """A private body's binding request without a consent reference, or naming
    a consent it never recorded, is refused 403 ``consent-required``; with its
    recorded consent only an exact match of the latest 4 items binds, and every
    other record (an earlier address, a variant spelling, three items) is
    ``rejected`` with no reason naming an item.  Consents are logged."""
    _private_body(world)
    p, moved, variant = world.persons[1], world.persons[2], world.persons[3]
    consent = _consent(world, "member-1")
    for bad in (None, "cs-never-recorded"):
        world.call(
            CLUB, "POST", "hub", "/bindings", _records(("m1", p, consent), ("m2", moved, bad))
        ).expect_problem("consent-required", 403)
    # the person moves: the private body still holds the earlier address
    new_home = replace(moved, address="大阪府大阪市北区梅田9丁目9番9号")
    world.wire.control("POST", "/residents", {"residents": [new_home.resident()]}).expect(200)
    wide = variant.address.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    got = {
        r["record_ref"]: r
        for r in world.call(
            CLUB,
            "POST",
            "hub",
            "/bindings",
            _records(
                ("exact", p, consent),
                ("earlier", moved, _consent(world, "member-2")),
                ("nfkc", replace(variant, address=wide), _consent(world, "member-3")),
                ("three", replace(variant, name=variant.name + "子"), _consent(world, "m-4")),
            ),
        ).expect(200)["results"]
    }
    assert got["exact"]["decision"] == "bound", got["exact"]
    assert got["exact"]["link_code"], got["exact"]
    assert got["nfkc"]["decision"] == "bound", "the fixed normalisation (NFKC) is no folding"
    for ref in ("earlier", "three"):
        assert got[ref]["decision"] == "rejected", (ref, got[ref])
        assert not got[ref].get("link_code")
        assert not got[ref]["reasons"], f"a private body is told no reasons: {got[ref]}"
    # the link code is the private body's own, not another agency's
    assert got["exact"]["link_code"] != world.link("kit.pension", p)
    admin = world.call(
        "kit.auditor", "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10_000}
    ).expect(200)
    recorded = [e for e in admin["entries"] if e["event"] == "consent-recorded"]
    assert len(recorded) == 4, recorded
    assert all(e["actor"] == CLUB for e in recorded), recorded
    assert recorded[0]["details"]["consent_id"] == consent
    text = json.dumps(admin.body, ensure_ascii=False)
    assert p.name not in text, "the log holds the 4 items"
    assert p.address not in text, "the log holds the 4 items"


@pytest.mark.conformance("CT-BND-006", requirements=["RK-BND-004"], profiles=["hub"])
def test_withdrawn_consent_makes_the_link_unusable(world: World) -> None:
    """After the private body records the person's withdrawal (``DELETE
    /hub/consents/{id}``, logged), its queries about that person and any new
    binding of that person (naming the withdrawn consent or another) are refused
    403 ``consent-withdrawn``; withdrawing twice is a no-op; another body may
    not withdraw it (404); other persons are unaffected."""
    _private_body(world)
    p, q = world.persons[6], world.persons[7]
    cp, cq = _consent(world, "member-6"), _consent(world, "member-7")
    results = world.call(
        CLUB, "POST", "hub", "/bindings", _records(("p", p, cp), ("q", q, cq))
    ).expect(200)["results"]
    link_p, link_q = (r["link_code"] for r in results)
    world.query(
        CLUB, link_code=link_p, pattern_id="KIT-P-PRIV", information_kind="resident-record"
    ).expect(202)
    world.call("kit.pension", "DELETE", "hub", f"/consents/{cp}").expect_problem(
        "forbidden-role", 403
    )
    world.call(CLUB, "DELETE", "hub", "/consents/cs-not-ours").expect_problem("not-found", 404)
    world.call(CLUB, "DELETE", "hub", f"/consents/{cp}").expect(204)
    world.call(CLUB, "DELETE", "hub", f"/consents/{cp}").expect(204)
    world.query(
        CLUB, link_code=link_p, pattern_id="KIT-P-PRIV", information_kind="resident-record"
    ).expect_problem("consent-withdrawn", 403)
    world.call(CLUB, "POST", "hub", "/bindings", _records(("again", p, cp))).expect_problem(
        "consent-withdrawn", 403
    )
    fresh = _consent(world, "member-6b")
    world.call(CLUB, "POST", "hub", "/bindings", _records(("again", p, fresh))).expect_problem(
        "consent-withdrawn", 403
    )
    world.query(
        CLUB, link_code=link_q, pattern_id="KIT-P-PRIV", information_kind="resident-record"
    ).expect(202)
    refused = [e for e in world.audit_log() if e.get("reason") == "consent-withdrawn"]
    assert refused, "the refusal is in the access log"
    assert refused[-1]["requester_id"] == CLUB
    admin = world.call(
        "kit.auditor", "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10_000}
    ).expect(200)
    withdrawn = [e for e in admin["entries"] if e["event"] == "consent-withdrawn"]
    assert [e["details"]["consent_id"] for e in withdrawn] == [cp], withdrawn


@pytest.mark.conformance("CT-BND-011", requirements=["RK-BND-009", "RK-BND-004"], profiles=["hub"])
def test_a_private_body_never_binds_a_removed_resident_and_is_told_nothing(world: World) -> None:
    """A private body's record naming its consent and the exact latest 4 items of a
    resident removed from the registry (deceased) is ``rejected`` with no reasons
    and no link code — exactly as a record that fits nobody, so that binding is no
    oracle on who died — while the same body's exact record of a current resident
    binds."""
    _private_body(world)
    dead, alive = world.persons[7], world.persons[8]
    removed = {**dead.resident(), "status": "removed", "removed_reason": "deceased"}
    removed["removed_on"] = "2024-01-15"
    world.wire.control("POST", "/residents", {"residents": [removed]}).expect(200, 204)
    nobody = replace(dead, name="存在 しない", address="北海道札幌市", birth_date="1900-01-01")
    got = {
        r["record_ref"]: r
        for r in world.call(
            CLUB,
            "POST",
            "hub",
            "/bindings",
            _records(
                ("dead", dead, _consent(world, "m-dead")),
                ("nobody", nobody, _consent(world, "m-nobody")),
                ("alive", alive, _consent(world, "m-alive")),
            ),
        ).expect(200)["results"]
    }
    assert got["alive"]["decision"] == "bound", got["alive"]
    for ref in ("dead", "nobody"):
        assert got[ref]["decision"] == "rejected", (ref, got[ref])
        assert not got[ref].get("link_code"), (ref, got[ref])
        assert got[ref]["reasons"] == [], f"a private body is told no reasons: {got[ref]}"
    assert {k: v for k, v in got["dead"].items() if k != "record_ref"} == {
        k: v for k, v in got["nobody"].items() if k != "record_ref"
    }
