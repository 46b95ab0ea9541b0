"""Linkages in flight end after an abrupt stop (RK-FLOW-008, RK-FLOW-004; issue 14 item 5).

Only for a target that declares the restart capability (target file member
``restart``).  Before the crash one linkage is approved and not yet fetched by
its provider, another fetched and not yet answered.  After the restart the
first must still be delivered (once) and, left unanswered, expire at its
deadline — reached by moving the target's test-mode clock (POST
/control/clock/advance) — and be logged as expired; the second must still be
answerable before its deadline, its answer relayed until acknowledged.
"""

from __future__ import annotations

import base64
from datetime import datetime

import pytest

from renkei_conformance.client import Wire
from renkei_conformance.restart import NOT_DECLARED, restart_target
from renkei_conformance.world import World

REQUESTER, PROVIDER = "kit.pension", "kit.city-a"
ANSWER_WITHIN_SECONDS = 600  # KIT-P-001's answer period (world.PATTERNS)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@pytest.mark.conformance(
    "CT-DUR-005",
    requirements=["RK-FLOW-008", "RK-FLOW-003", "RK-FLOW-004", "RK-FLOW-005"],
    profiles=["hub", "auditor"],
)
def test_every_linkage_in_flight_at_a_crash_ends_answered_or_expired(wire: Wire) -> None:
    """A linkage approved before the crash and not yet fetched is delivered once
    after it, keeps its deadline, and — unanswered — expires at the deadline:
    a late answer is refused and the auditor's log records it as expired.  A
    linkage fetched before the crash is still answerable after it, and its
    answer is relayed until acknowledged."""
    if wire.target.restart is None:
        pytest.skip(NOT_DECLARED)
    world = World.create(wire)
    delivered = world.query(REQUESTER, world.persons[0]).expect(202)
    fetched = [d["linkage_id"] for d in world.deliveries(PROVIDER)]
    assert fetched == [delivered["linkage_id"]], f"the kit's world does not work: {fetched}"
    pending = world.query(REQUESTER, world.persons[1]).expect(202)
    restart_target(wire)

    reply = world.call(REQUESTER, "GET", "hub", f"/linkages/{pending['linkage_id']}")
    assert reply.status == 200, (
        f"a linkage approved before the crash is unknown after it: {reply.status} "
        f"{reply.problem} (RK-FLOW-008)"
    )
    assert _instant(reply["deadline"]) == _instant(pending["deadline"]), (
        "the linkage's deadline changed across the restart (RK-FLOW-004)"
    )
    after = [d["linkage_id"] for d in world.deliveries(PROVIDER)]
    assert after == [pending["linkage_id"]], (
        "after the restart the provider must be handed the linkage it had not fetched, "
        f"once, and not the one it had (RK-FLOW-005): deliveries {after}"
    )
    payload = base64.b64encode(b"answered after the restart").decode()
    answer = f"/linkages/{delivered['linkage_id']}/answer"
    world.call(PROVIDER, "POST", "hub", answer, {"payload": payload}).expect(202)
    got = world.call(REQUESTER, "GET", "hub", f"/linkages/{delivered['linkage_id']}").expect(200)
    assert got.body.get("answer", {}).get("payload") == payload
    world.acknowledge(REQUESTER, delivered["linkage_id"])
    again = world.call(REQUESTER, "GET", "hub", f"/linkages/{delivered['linkage_id']}")
    assert again.status == 404 or (again.status == 200 and "answer" not in again.body)

    world.wire.control("POST", "/clock/advance", {"seconds": ANSWER_WITHIN_SECONDS + 1}).expect(200)
    late = f"/linkages/{pending['linkage_id']}/answer"
    world.call(PROVIDER, "POST", "hub", late, {"payload": payload}).expect_problem(
        {"answer-after-deadline", "unknown-linkage"}, {404, 409, 410}
    )
    outcomes = [
        e["outcome"] for e in world.audit_log() if e.get("linkage_id") == pending["linkage_id"]
    ]
    assert outcomes[-1:] == ["expired"], (
        f"the linkage in flight at the crash was not logged as expired at its deadline: "
        f"{outcomes} (RK-FLOW-004, RK-FLOW-008)"
    )
    provided = [
        e["outcome"] for e in world.audit_log() if e.get("linkage_id") == delivered["linkage_id"]
    ]
    assert provided == ["approved", "provided"], provided
