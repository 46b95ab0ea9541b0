"""What the hub acknowledged survives an abrupt stop (RK-FLOW-008; issue 14 item 5).

Only for a target that declares the restart capability (target file member
``restart``): the kit builds a world, completes linkages, has answers accepted
and not yet collected, keeps every receipt, checkpoint and request id it was
given, then crashes the target once through the declared command and checks,
through the wire only, what came back.  The four tests of this module share
that one crash (the scenario is built at the first of them); none of them
moves the target's clock.  In-flight linkages and their deadlines are checked
in test_restart_deadlines.py, which crashes the target again.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

import pytest

from renkei_conformance.client import Wire
from renkei_conformance.restart import NOT_DECLARED, restart_target
from renkei_conformance.tlog import (
    Note,
    VerificationError,
    b64,
    open_checkpoint,
    verify_consistency,
    verify_receipt,
)
from renkei_conformance.world import World

REQUESTER, PROVIDER, AUDITOR = "kit.pension", "kit.city-a", "kit.auditor"


@dataclass
class Crash:
    """What the kit was given before the crash, and the world it crashed."""

    world: World
    vkey: str
    receipts: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)  # signed notes, as received
    request_ids: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # id, query
    relayed: list[str] = field(default_factory=list)  # answer collected and acknowledged
    handed: dict[str, str] = field(default_factory=dict)  # answer read, not acknowledged
    in_transit: dict[str, str] = field(default_factory=dict)  # linkage id -> accepted payload
    entries: list[dict[str, Any]] = field(default_factory=list)  # the auditor's view before
    admin: dict[str, Any] = field(default_factory=dict)  # the administrative log's page before


def _payload(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _take(crash: Crash, receipt: dict[str, Any]) -> None:
    crash.receipts.append(receipt)
    crash.checkpoints.append(receipt["checkpoint"])


@pytest.fixture(scope="module")
def crash(wire: Wire) -> Crash:
    if wire.target.restart is None:
        pytest.skip(NOT_DECLARED)
    world = World.create(wire)
    latest = world.call(AUDITOR, "GET", "hub", "/checkpoints/latest").expect(200)
    out = Crash(world, latest["verifier_key"])
    # linkages completed before the crash: queried, answered, collected
    for i, person in enumerate(world.persons[:3]):
        body = {"request_id": f"kit-dur-done-{i}"}
        accepted = world.query(REQUESTER, person, request_id=body["request_id"]).expect(202)
        _take(out, accepted["receipt"])
        out.request_ids.append((body["request_id"], {"person": i}))
        out.relayed.append(accepted["linkage_id"])
    for delivery in world.deliveries(PROVIDER):
        path = f"/linkages/{delivery['linkage_id']}/answer"
        world.call(PROVIDER, "POST", "hub", path, {"payload": _payload("done")}).expect(202)
    for linkage_id in out.relayed:
        got = world.call(REQUESTER, "GET", "hub", f"/linkages/{linkage_id}").expect(200)
        assert got["answer"]["payload"] == _payload("done"), "the kit's world does not work"
        _take(out, got["receipt"])
        world.acknowledge(REQUESTER, linkage_id)
    # an answer read but not acknowledged (its response as if lost in the crash)
    handed = world.query(REQUESTER, world.persons[6], request_id="kit-dur-handed").expect(202)
    _take(out, handed["receipt"])
    out.request_ids.append(("kit-dur-handed", {"person": 6}))
    world.deliveries(PROVIDER)
    path = f"/linkages/{handed['linkage_id']}/answer"
    world.call(PROVIDER, "POST", "hub", path, {"payload": _payload("handed")}).expect(202)
    got = world.call(REQUESTER, "GET", "hub", f"/linkages/{handed['linkage_id']}").expect(200)
    assert got["answer"]["payload"] == _payload("handed"), "the kit's world does not work"
    out.handed[handed["linkage_id"]] = _payload("handed")
    # a refusal, with its receipt
    refused = world.query(REQUESTER, world.persons[3], pattern_id="KIT-P-999")
    refused.expect_problem("unknown-pattern", 403)
    _take(out, refused.body["receipt"])
    # answers accepted (202) and not yet collected when the target crashes
    for i, person in enumerate(world.persons[4:6]):
        rid = f"kit-dur-transit-{i}"
        accepted = world.query(REQUESTER, person, request_id=rid).expect(202)
        _take(out, accepted["receipt"])
        out.request_ids.append((rid, {"person": 4 + i}))
        out.in_transit[accepted["linkage_id"]] = _payload(f"in transit {i}")
    for delivery in world.deliveries(PROVIDER):
        path = f"/linkages/{delivery['linkage_id']}/answer"
        payload = out.in_transit[delivery["linkage_id"]]
        world.call(PROVIDER, "POST", "hub", path, {"payload": payload}).expect(202)
    latest = world.call(AUDITOR, "GET", "hub", "/checkpoints/latest").expect(200)
    out.checkpoints.append(latest["checkpoint"])
    out.entries = world.audit_log()
    out.admin = _admin_page(world)
    restart_target(wire)
    return out


def _admin_page(world: World) -> dict[str, Any]:
    reply = world.call(
        AUDITOR, "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10_000}
    )
    page: dict[str, Any] = reply.expect(200).body
    return page


def _alive(crash: Crash) -> None:
    """The kit's agencies still act after the restart: the world it built survived."""
    reply = crash.world.call(PROVIDER, "GET", "hub", "/deliveries")
    assert reply.status not in (401, 403), (
        f"after the restart the target refuses the kit's agencies ({reply.status} "
        f"{reply.problem}): the agencies, credentials or patterns registered before the "
        "crash were lost (RK-FLOW-008)"
    )


def _latest(crash: Crash) -> Note:
    latest = crash.world.call(AUDITOR, "GET", "hub", "/checkpoints/latest").expect(200)
    return open_checkpoint(latest["checkpoint"], crash.vkey)


def _consistent(
    crash: Crash,
    old: Note,
    new: Note,
    *,
    where: tuple[str, str] = ("hub", "/checkpoints/consistency"),
    log: str = "the access log",
    requirements: str = "RK-LOG-009",
) -> None:
    """``new`` extends ``old``: not smaller, the same root at the same size, and a
    consistency proof from the target (at ``where``) that verifies."""
    assert new.size >= old.size, (
        f"{log} shrank across the restart: a checkpoint of size {old.size} was signed "
        f"before the crash, the latest after it has size {new.size} (RK-FLOW-008)"
    )
    if old.size == new.size:
        assert old.root == new.root, f"two different trees of {log} of size {old.size} were signed"
        return
    party, path = where
    proof = crash.world.call(
        AUDITOR, "GET", party, path, params={"first": old.size, "second": new.size}
    ).expect(200)["proof"]
    try:
        verify_consistency(old.size, new.size, [b64(h) for h in proof], old.root, new.root)
    except VerificationError as exc:
        raise AssertionError(
            f"{log} after the restart is not consistent with its checkpoint of size "
            f"{old.size} signed before it: {exc} ({requirements})"
        ) from exc


@pytest.mark.conformance(
    "CT-DUR-001",
    requirements=["RK-FLOW-008", "RK-LOG-004", "RK-LOG-009"],
    profiles=["hub", "auditor"],
)
def test_every_receipt_given_before_a_crash_still_verifies_after_it(crash: Crash) -> None:
    """Every receipt the kit was given before the crash (approvals, a refusal,
    relays) verifies, and its entry is in the tree after the restart: the
    checkpoint it was proved against is consistent with the latest one, and a
    linkage's receipt asked for again names the same leaf at the same index."""
    _alive(crash)
    new = _latest(crash)
    for receipt in crash.receipts:
        old, _ = verify_receipt(receipt, crash.vkey)
        _consistent(crash, old, new)
    linkage_receipts = [r for r in crash.receipts if r.get("linkage_id")]
    assert linkage_receipts, "the scenario gave no linkage receipt"
    for receipt in linkage_receipts:
        again = crash.world.call(
            REQUESTER,
            "GET",
            "hub",
            f"/linkages/{receipt['linkage_id']}/receipt",
            params={"serial": receipt["serial"]},
        ).expect(200)
        note, _ = verify_receipt(again.body, crash.vkey)
        assert (again["leaf_index"], again["leaf_hash"]) == (
            receipt["leaf_index"],
            receipt["leaf_hash"],
        ), f"the entry of serial {receipt['serial']} changed across the restart"
        _consistent(crash, note, new)


@pytest.mark.conformance(
    "CT-DUR-002", requirements=["RK-FLOW-008", "RK-FLOW-003"], profiles=["hub"]
)
def test_request_ids_used_before_a_crash_are_still_refused_after_it(crash: Crash) -> None:
    """Each request_id the requester used before the crash, sent again with the
    same query, is refused with 409 ``duplicate-request-id`` and opens no
    linkage: the provider is handed no new delivery."""
    _alive(crash)
    accepted = []
    for request_id, query in crash.request_ids:
        person = crash.world.persons[query["person"]]
        reply = crash.world.query(REQUESTER, person, request_id=request_id)
        if reply.status == 202:
            accepted.append(request_id)
            continue
        reply.expect_problem("duplicate-request-id", 409)
    assert not accepted, (
        f"request ids used before the crash were accepted again after it: {accepted} "
        "(RK-FLOW-003, RK-FLOW-008)"
    )
    pulled = [d["linkage_id"] for d in crash.world.deliveries(PROVIDER)]
    assert pulled == [], f"a replayed request_id opened a linkage: deliveries {pulled}"


@pytest.mark.conformance(
    "CT-DUR-003", requirements=["RK-FLOW-008", "RK-FLOW-002", "RK-FLOW-005"], profiles=["hub"]
)
def test_an_answer_accepted_before_a_crash_is_relayed_exactly_once_after_it(
    crash: Crash,
) -> None:
    """An answer the hub accepted (202) before the crash and the requester had
    not collected is relayed after the restart, unchanged, until acknowledged;
    an answer read before the crash and not acknowledged is read again after
    it (a response lost in the crash is not a lost answer); an answer
    acknowledged before the crash is not relayed again; no linkage answered
    before the crash is delivered to the provider again."""
    _alive(crash)
    redelivered = [
        d["linkage_id"]
        for d in crash.world.deliveries(PROVIDER)
        if d["linkage_id"] in crash.in_transit or d["linkage_id"] in crash.relayed
    ]
    assert not redelivered, f"linkages delivered again after the restart: {redelivered}"
    for linkage_id, payload in crash.in_transit.items():
        first = crash.world.call(REQUESTER, "GET", "hub", f"/linkages/{linkage_id}")
        relayed = first.body.get("answer", {}) if first.status == 200 else {}
        assert relayed.get("payload") == payload, (
            f"the answer accepted for {linkage_id} before the crash was lost: "
            f"{first.status} {first.text[:200]} (RK-FLOW-002, RK-FLOW-008)"
        )
        crash.world.acknowledge(REQUESTER, linkage_id)
        second = crash.world.call(REQUESTER, "GET", "hub", f"/linkages/{linkage_id}")
        assert second.status == 404 or (second.status == 200 and "answer" not in second.body), (
            f"the answer of {linkage_id} was relayed after its acknowledgement (RK-FLOW-002)"
        )
    for linkage_id, payload in crash.handed.items():
        again = crash.world.call(REQUESTER, "GET", "hub", f"/linkages/{linkage_id}")
        handed = again.body.get("answer", {}) if again.status == 200 else {}
        assert handed.get("payload") == payload, (
            f"the answer of {linkage_id}, read before the crash but not acknowledged, was "
            f"lost: {again.status} {again.text[:200]} (RK-FLOW-002, RK-FLOW-008)"
        )
        crash.world.acknowledge(REQUESTER, linkage_id)
    for linkage_id in crash.relayed:
        again = crash.world.call(REQUESTER, "GET", "hub", f"/linkages/{linkage_id}")
        assert again.status == 404 or (again.status == 200 and "answer" not in again.body), (
            f"the answer of {linkage_id}, acknowledged before the crash, was relayed again after it"
        )


@pytest.mark.conformance(
    "CT-DUR-004",
    requirements=["RK-FLOW-008", "RK-LOG-009", "RK-LOG-005", "RK-LOG-001", "RK-LOG-006"],
    profiles=["hub", "auditor"],
)
def test_the_log_after_a_crash_continues_the_log_before_it(crash: Crash) -> None:
    """Every checkpoint seen before the crash is consistent with the latest
    after it; every entry the auditor read before the crash is served unchanged
    after it; the serials stay gap-free, and the next query's entry takes a
    serial after every one seen (none is reused).  The same for the
    administrative log: its entries before the crash unchanged, its checkpoint
    then consistent with its checkpoint now."""
    _alive(crash)
    new = _latest(crash)
    for text in crash.checkpoints:
        _consistent(crash, open_checkpoint(text, crash.vkey), new)
    accepted = crash.world.query(REQUESTER, crash.world.persons[7]).expect(202)
    highest = max(int(e["serial"]) for e in crash.entries)
    assert accepted["serial"] > highest, (
        f"the first entry after the restart has serial {accepted['serial']}, one before "
        f"the crash had {highest}: a serial was reused (RK-LOG-005)"
    )
    after = {int(e["serial"]): e for e in crash.world.audit_log()}
    for before in crash.entries:
        serial = int(before["serial"])
        assert after.get(serial) == before, (
            f"the auditor's entry {serial} changed or vanished across the restart: "
            f"{before} → {after.get(serial)}"
        )
    serials = sorted(after)
    assert serials == list(range(serials[0], serials[-1] + 1)), (
        "the serials after the restart have gaps (RK-LOG-005)"
    )
    latest = _latest(crash)
    receipt = accepted["receipt"]
    verify_receipt(receipt, crash.vkey)
    _consistent(crash, open_checkpoint(receipt["checkpoint"], crash.vkey), latest)
    _admin_continues(crash)


def _admin_continues(crash: Crash) -> None:
    old_cp, page = crash.admin["checkpoint"], _admin_page(crash.world)
    new_cp = page["checkpoint"]
    assert new_cp["verifier_key"] == old_cp["verifier_key"], "the admin log's key changed"
    old = open_checkpoint(old_cp["checkpoint"], old_cp["verifier_key"])
    new = open_checkpoint(new_cp["checkpoint"], new_cp["verifier_key"])
    _consistent(crash, old, new, where=("auditor", "/admin-logs/consistency"),
                log="the administrative log", requirements="RK-LOG-006, RK-LOG-009")  # fmt: skip
    after = {e["serial"]: e for e in page["entries"]}
    for entry in crash.admin["entries"]:
        assert after.get(entry["serial"]) == entry, (
            f"the administrative entry {entry['serial']} changed or vanished across the "
            f"restart: {entry} → {after.get(entry['serial'])}"
        )
