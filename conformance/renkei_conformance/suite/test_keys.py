"""Changing the hub's codes in an emergency (seed item 11, 第１．３．（６）).

ID codes and link codes are never requested by persons but must be changeable
for security.  A rotation makes a new key version current; codes of the
previous version stay accepted during a transition window in which agencies
re-bind their tables without new 4-item matching; after it they are refused.
Numbers are untouched: they are made by another method, by another party.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from renkei_conformance.world import World


def _rotate(world: World, purpose: str, seconds: int) -> dict[str, Any]:
    reply = world.wire.control(
        "POST", "/keys/rotate", {"purpose": purpose, "transition_seconds": seconds}
    ).expect(200)
    body: dict[str, Any] = reply.body
    return body


def _numbers(world: World, n: int) -> dict[str, str]:
    return {
        p.resident_code: world.call(
            "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": p.resident_code}
        ).expect(201)["number"]
        for p in world.persons[:n]
    }


def _current_numbers(world: World, rcs: list[str]) -> dict[str, str]:
    return {
        rc: world.call("kit.town-m", "GET", "numbering", f"/numbers/{rc}").expect(200)["number"]
        for rc in rcs
    }


@pytest.mark.conformance(
    "CT-KEY-001",
    requirements=["RK-KEY-002", "RK-LNK-005", "RK-NUM-002", "RK-NUM-009"],
    profiles=["hub"],
    needs=["key_rotation"],
)
@pytest.mark.parametrize("purpose", ["link-code", "id-code"])
def test_rotation_with_a_transition_window(world: World, purpose: str) -> None:
    """After a rotation the old link codes still work during the window and
    re-bind to new, different codes that work; after the window the old codes
    are refused with ``unknown-key-version``; no Number changes."""
    persons = world.persons[:4]
    numbers = _numbers(world, 4)
    old = world.bind("kit.pension", persons)
    ids_before = world.wire.control("POST", "/id-codes", {"resident_codes": list(old)}).expect(200)[
        "id_codes"
    ]
    ring = _rotate(world, purpose, 3600)
    assert ring["current_version"] == 2
    assert set(ring["accepted_versions"]) == {1, 2}
    world.query("kit.pension", link_code=old[persons[0].resident_code]).expect(202)
    results = world.call(
        "kit.pension", "POST", "hub", "/rebindings", {"link_codes": list(old.values())}
    ).expect(200)["results"]
    new = {r["link_code"]: r["new_link_code"] for r in results}
    assert all(new[c] and new[c] != c for c in old.values()), results
    world.query("kit.pension", link_code=new[old[persons[1].resident_code]]).expect(202)
    rebound = world.bind("kit.pension", persons[:1])
    assert rebound[persons[0].resident_code] == new[old[persons[0].resident_code]]
    ids_after = world.wire.control("POST", "/id-codes", {"resident_codes": list(old)}).expect(200)[
        "id_codes"
    ]
    assert (ids_after != ids_before) == (purpose == "id-code")
    world.wire.control("POST", "/clock/advance", {"seconds": 3601}).expect(200)
    world.query("kit.pension", link_code=old[persons[2].resident_code]).expect_problem(
        "unknown-key-version", {403, 422}
    )
    world.query("kit.pension", link_code=new[old[persons[2].resident_code]]).expect(202)
    assert _current_numbers(world, list(numbers)) == numbers, "a key rotation changed a Number"


@pytest.mark.conformance(
    "CT-KEY-002",
    requirements=["RK-KEY-002", "RK-LNK-005"],
    profiles=["hub"],
    needs=["key_rotation"],
)
def test_emergency_rotation_refuses_old_codes_at_once(world: World) -> None:
    """A rotation with a zero window refuses the previous version at once, in
    queries and in re-binding alike."""
    code = world.link("kit.pension", world.persons[0])
    _rotate(world, "link-code", 0)
    world.query("kit.pension", link_code=code).expect_problem("unknown-key-version", {403, 422})
    result = world.call("kit.pension", "POST", "hub", "/rebindings", {"link_codes": [code]}).expect(
        200
    )["results"][0]
    assert result["new_link_code"] is None
    assert result["problem"] == "urn:renkei:problem:unknown-key-version"


@pytest.mark.conformance(
    "CT-KEY-003",
    requirements=["RK-KEY-002", "RK-LOG-006"],
    profiles=["hub"],
    needs=["key_rotation"],
)
def test_a_rebinding_is_logged_as_a_binding_request_and_an_empty_code_is_refused(
    world: World,
) -> None:
    """Re-binding changes an agency's table like a binding does: the hub logs
    each call in the administrative log (agency, count, outcomes — never a
    link code); a request naming an empty link code does not match the schema."""
    code = world.link("kit.pension", world.persons[0])
    world.call("kit.pension", "POST", "hub", "/rebindings", {"link_codes": [""]}).expect_problem(
        "validation-error", 422
    )
    world.call(
        "kit.pension", "POST", "hub", "/rebindings", {"link_codes": [code, "A" * 60]}
    ).expect(200)
    admin = world.call(
        "kit.auditor", "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10_000}
    ).expect(200)
    rebindings = [
        e for e in admin["entries"]
        if e["event"] == "binding-request" and e["details"].get("rebinding") is True
    ]  # fmt: skip
    assert len(rebindings) == 1, "one logged binding request per accepted re-binding"
    assert rebindings[0]["actor"] == "kit.pension"
    assert rebindings[0]["details"]["records"] == 2
    assert rebindings[0]["details"]["rebound"] == 1
    assert rebindings[0]["details"]["refused"] == 1
    assert code not in json.dumps(admin.body)
