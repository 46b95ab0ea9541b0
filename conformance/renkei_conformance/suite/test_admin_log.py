"""The hub's administrative log (seed items 19, 22; RK-LOG-006).

Everything that changes what the hub approves or keeps, and every read of the
logs, is recorded in an administrative log with the same integrity
protection as the access log: the kit recomputes the RFC 9162 root over the
leaves it reads, checks it against the checkpoint the hub signed with its log
key, and checks that a later checkpoint is consistent with it.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from renkei_conformance.tlog import (
    b64,
    leaf_hash,
    merkle_root,
    open_checkpoint,
    verify_consistency,
)
from renkei_conformance.world import World


def _admin_log(world: World) -> dict[str, Any]:
    reply = world.call(
        "kit.auditor", "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10_000}
    )
    page: dict[str, Any] = reply.expect(200).body
    return page


def _verified(page: dict[str, Any]) -> tuple[int, bytes]:
    """The entries are the leaves of the signed checkpoint's tree (RK-LOG-006)."""
    cp = page["checkpoint"]
    note = open_checkpoint(cp["checkpoint"], cp["verifier_key"])
    assert note.origin == cp["origin"]
    assert note.size == cp["tree_size"]
    entries = page["entries"]
    assert [e["serial"] for e in entries] == list(range(1, len(entries) + 1)), "gap-free serials"
    assert len(entries) == note.size, "a full read covers the whole signed tree"
    for e in entries:
        leaf = json.loads(b64(e["leaf"]))
        assert leaf == {k: v for k, v in e.items() if k != "leaf"}, "the leaf is the entry"
    assert merkle_root([leaf_hash(b64(e["leaf"])) for e in entries]) == note.root
    return note.size, note.root


@pytest.mark.conformance("CT-LOG-005", requirements=["RK-LOG-006"], profiles=["hub", "auditor"])
def test_administrative_events_are_logged_with_integrity_protection(world: World) -> None:
    """Agency registrations, the pattern-document load, a binding request (agency,
    count, decisions — never the 4 items), a legal hold placed and lifted and an
    auditor read each appear; the log verifies against its signed checkpoint and
    grows consistently."""
    access_cp = world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)
    persons = world.persons[:3]
    world.bind("kit.pension", persons)
    world.audit_log()
    hold = world.call(
        "kit.auditor",
        "POST",
        "auditor",
        "/legal-holds",
        {"reason": "kit case", "scope": {"agency_id": "kit.pension"}},
    ).expect(201)
    world.call("kit.auditor", "DELETE", "auditor", f"/legal-holds/{hold['hold_id']}").expect(204)

    first = _admin_log(world)
    size, root = _verified(first)
    assert first["checkpoint"]["origin"] != access_cp["origin"], "its own log, its own origin"
    events = [e["event"] for e in first["entries"]]
    assert {"agency-registered", "pattern-document-loaded"} <= set(events)
    binding = [e for e in first["entries"] if e["event"] == "binding-request"][-1]
    assert binding["actor"] == "kit.pension"
    assert binding["details"]["records"] == 3
    assert binding["details"]["bound"] == 3
    text = json.dumps(first, ensure_ascii=False)
    for p in persons:
        for value in (p.name, p.address, p.resident_code):
            assert value not in text, "the administrative log holds the 4 items"
    for link in world.links.values():
        assert link not in text, "the administrative log holds a link code"
    reads = [e for e in first["entries"] if e["event"] == "auditor-read"]
    assert any(e["actor"] == "kit.auditor" and e["details"]["log"] == "access" for e in reads)
    placed = [e for e in first["entries"] if e["event"] == "legal-hold-placed"]
    lifted = [e for e in first["entries"] if e["event"] == "legal-hold-lifted"]
    assert placed[-1]["details"]["hold_id"] == hold["hold_id"] == lifted[-1]["details"]["hold_id"]

    second = _admin_log(world)  # the first read is now logged, as the next entry
    new_size, new_root = _verified(second)
    assert new_size == size + 1
    assert second["entries"][size]["event"] == "auditor-read"
    assert second["entries"][size]["details"]["log"] == "admin"
    assert second["checkpoint"]["verifier_key"] == first["checkpoint"]["verifier_key"]
    proof = world.call(
        "kit.auditor",
        "GET",
        "auditor",
        "/admin-logs/consistency",
        params={"first": size, "second": new_size},
    ).expect(200)["proof"]
    verify_consistency(size, new_size, [b64(h) for h in proof], root, new_root)
    world.call(
        "kit.pension", "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10}
    ).expect_problem("forbidden-role", 403)
