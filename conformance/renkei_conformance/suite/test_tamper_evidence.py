"""The hub's log is tamper-evident (seed items 22–23; RK-LOG-004, RK-LOG-005, RK-LOG-009).

Every hub response that creates a log entry carries a receipt: the entry's
serial, its leaf and leaf hash, an RFC 9162 inclusion proof and the signed
checkpoint it proves against.  The kit verifies all of it with its own
verifier, as a requester, a person or the auditor could.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from renkei_conformance.tlog import b64, open_checkpoint, verify_consistency, verify_receipt
from renkei_conformance.world import World


def _pinned_key(world: World) -> str:
    latest = world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)
    key: str = latest["verifier_key"]
    return key


def _check_receipt(receipt: dict[str, Any], vkey: str, **expected: Any) -> dict[str, Any]:
    _, fields = verify_receipt(receipt, vkey)
    for key, value in expected.items():
        assert fields.get(key) == value, f"leaf {key} = {fields.get(key)!r}, expected {value!r}"
    return fields


@pytest.mark.conformance(
    "CT-LOG-003", requirements=["RK-LOG-004", "RK-LOG-005", "RK-LOG-008"], profiles=["hub"]
)
def test_every_response_that_logs_carries_a_verifiable_receipt(world: World) -> None:
    """Approval, refusal, delivery and relay: each carries the entry's serial
    and a receipt that verifies against a checkpoint signed by the hub's log
    key; the leaf records ①–⑥ and the outcome and names no person."""
    vkey = _pinned_key(world)
    person = world.persons[9]
    approved = world.query("kit.pension", person).expect(202)
    fields = _check_receipt(
        approved["receipt"],
        vkey,
        outcome="approved",
        requester="kit.pension",
        provider="kit.city-a",
        pattern_id="KIT-P-001",
        information_kind="local-tax",
    )
    assert approved["serial"] == approved["receipt"]["serial"]
    refused = world.query("kit.pension", person, pattern_id="KIT-P-999")
    refused.expect_problem("unknown-pattern", 403)
    _check_receipt(refused.body["receipt"], vkey, outcome="refused")
    assert refused.body["serial"] == approved["serial"] + 1, "serials have no gaps (RK-LOG-005)"
    delivery = next(
        d for d in world.deliveries("kit.city-a") if d["linkage_id"] == approved["linkage_id"]
    )
    assert delivery["serial"] == approved["serial"]
    world.call(
        "kit.city-a",
        "POST",
        "hub",
        f"/linkages/{approved['linkage_id']}/answer",
        {"payload": base64.b64encode(b"ok").decode()},
    ).expect(202)
    relayed = world.call("kit.pension", "GET", "hub", f"/linkages/{approved['linkage_id']}").expect(
        200
    )
    _check_receipt(relayed["receipt"], vkey, outcome="provided", linkage_id=approved["linkage_id"])
    texts = json.dumps(fields, ensure_ascii=False)
    for value in (
        person.resident_code,
        person.name,
        person.address,
        world.link("kit.pension", person),
    ):
        assert value not in texts, "a log leaf names the person (RK-LOG-008)"


@pytest.mark.conformance(
    "CT-LOG-004", requirements=["RK-LOG-009", "RK-LOG-004"], profiles=["hub", "auditor"]
)
def test_checkpoints_grow_consistently_and_proofs_are_served_on_request(world: World) -> None:
    """Successive signed checkpoints are consistent (RFC 9162 §2.1.4); an old
    receipt's entry is still included in the newest tree; sizes out of range
    are refused with ``tree-size-out-of-range``."""
    vkey = _pinned_key(world)
    first = world.query("kit.pension", world.persons[10]).expect(202)
    old = open_checkpoint(first["receipt"]["checkpoint"], vkey)
    for person in world.persons[11:15]:
        world.query("kit.pension", person).expect(202)
    latest = world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)
    new = open_checkpoint(latest["checkpoint"], vkey)
    assert new.size == latest["tree_size"] > old.size
    assert b64(latest["root_hash"]) == new.root
    proof = world.call(
        "kit.auditor",
        "GET",
        "hub",
        "/checkpoints/consistency",
        params={"first": old.size, "second": new.size},
    ).expect(200)["proof"]
    verify_consistency(old.size, new.size, [b64(h) for h in proof], old.root, new.root)
    again = world.call(
        "kit.pension", "GET", "hub", f"/linkages/{first['linkage_id']}/receipt"
    ).expect(200)
    _check_receipt(again.body, vkey, outcome="approved")
    assert again["tree_size"] >= new.size
    world.call(
        "kit.auditor",
        "GET",
        "hub",
        "/checkpoints/consistency",
        params={"first": 1, "second": new.size + 5},
    ).expect_problem("tree-size-out-of-range", 422)
    world.call(
        "kit.insurer", "GET", "hub", f"/linkages/{first['linkage_id']}/receipt"
    ).expect_problem({"unknown-linkage"}, {403, 404})
