"""Access logs are kept 7 years, then purged; legal holds stop purging (seed item 25).

番号法施行令 第30条 fixes 7 years, the limitation period of computer fraud
(刑法 第246条の2, 刑事訴訟法 第250条).  Purging drops an entry's content and
salt but keeps its leaf hash, so checkpoints stay consistent and later
receipts keep verifying (RK-RET-003).
"""

from __future__ import annotations

import pytest

from renkei_conformance.tlog import b64, open_checkpoint, verify_consistency, verify_receipt
from renkei_conformance.world import World

DAY = 86_400
SEVEN_YEARS = 7 * 365 * DAY + 2 * DAY  # 7 calendar years hold one or two 29 Februaries


def _serials(world: World) -> set[int]:
    """Serials of the entries the auditor can still read (the expiry of a linkage
    is an entry of its own, made when it expires)."""
    return {int(e["serial"]) for e in world.audit_log()}


@pytest.mark.conformance(
    "CT-RET-001", requirements=["RK-RET-001", "RK-RET-003", "RK-CTL-002"], profiles=["hub"]
)
def test_entries_live_seven_years_and_purging_keeps_the_log_verifiable(world: World) -> None:
    """Present at 7 years minus a day; gone after 7 years and a day — from the
    auditor's view and from every store — while a checkpoint taken before is
    consistent with one after, and a new entry's receipt verifies."""
    world.wire.control("PUT", "/clock", {"now": "2030-06-15T09:00:00+00:00"}).expect(200)
    vkey = world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)[
        "verifier_key"
    ]
    old = [world.query("kit.pension", p).expect(202) for p in world.persons[:3]]
    before = open_checkpoint(old[-1]["receipt"]["checkpoint"], vkey)
    world.wire.control("PUT", "/clock", {"now": "2037-06-14T09:00:00+00:00"}).expect(200)
    made = {o["serial"] for o in old}
    assert made <= _serials(world), "purged before 7 years"
    world.wire.control("PUT", "/clock", {"now": "2037-06-16T09:00:00+00:00"}).expect(200)
    assert not (made & _serials(world)), "kept after 7 years"
    rows = {r["serial"]: r for r in world.state()["hub.access_log"]}
    for o in old:
        assert "request_id" not in rows.get(o["serial"], {}), "a purged entry's content is kept"
    fresh = world.query("kit.pension", world.persons[3]).expect(202)
    receipt = fresh["receipt"]
    after, _ = verify_receipt(receipt, vkey)
    proof = world.call(
        "kit.auditor",
        "GET",
        "hub",
        "/checkpoints/consistency",
        params={"first": before.size, "second": after.size},
    ).expect(200)["proof"]
    verify_consistency(before.size, after.size, [b64(h) for h in proof], before.root, after.root)
    gone = world.call(
        "kit.pension",
        "GET",
        "hub",
        f"/linkages/{old[0]['linkage_id']}/receipt",
        params={"serial": old[0]["serial"]},
    )
    gone.expect_problem({"entry-purged", "unknown-linkage"}, {404, 410})


@pytest.mark.conformance("CT-RET-002", requirements=["RK-RET-002"], profiles=["hub", "auditor"])
def test_a_legal_hold_stops_purging_until_it_is_lifted(world: World) -> None:
    """A hold on one agency keeps that agency's entries past 7 years while the
    others are purged; once lifted, they go too."""
    world.wire.control("PUT", "/clock", {"now": "2030-06-15T09:00:00+00:00"}).expect(200)
    held = world.query("kit.pension", world.persons[0]).expect(202)["serial"]
    free = world.query(
        "kit.insurer", world.persons[0], pattern_id="KIT-P-002", information_kind="income"
    ).expect(202)["serial"]
    hold = world.call(
        "kit.auditor",
        "POST",
        "auditor",
        "/legal-holds",
        {
            "reason": "不正アクセスの疑い（試験）",
            "case_reference": "KIT-2030-1",
            "scope": {"agency_id": "kit.pension"},
        },
    ).expect(201)
    world.wire.control("POST", "/clock/advance", {"seconds": SEVEN_YEARS + DAY}).expect(200)
    kept = _serials(world)
    assert held in kept, "a held entry was purged"
    assert free not in kept, "an entry outside the hold was kept"
    world.call("kit.auditor", "DELETE", "auditor", f"/legal-holds/{hold['hold_id']}").expect(204)
    assert held not in _serials(world), "the entry stayed after the hold was lifted"
    world.call(
        "kit.pension", "POST", "auditor", "/legal-holds", {"reason": "x", "scope": {}}
    ).expect_problem({"forbidden-role"}, 403)


@pytest.mark.conformance("CT-RET-003", requirements=["RK-RET-001"], profiles=["hub"])
def test_retention_is_configurable_but_never_below_seven_years(world: World) -> None:
    """A class cannot be set below the legal minimum; a longer period keeps
    entries past 7 years."""
    world.wire.control(
        "POST", "/retention", {"log_class": "hub-access-log", "years": 5}
    ).expect_problem("retention-below-legal-minimum", 422)
    world.wire.control("POST", "/retention", {"log_class": "hub-access-log", "years": 10}).expect(
        200
    )
    serial = world.query("kit.pension", world.persons[1]).expect(202)["serial"]
    world.wire.control("POST", "/clock/advance", {"seconds": SEVEN_YEARS + DAY}).expect(200)
    assert serial in _serials(world)


@pytest.mark.conformance(
    "CT-RET-004", requirements=["RK-RET-003", "RK-LOG-001"], profiles=["hub", "auditor"]
)
def test_the_auditors_paging_crosses_a_purged_range(world: World) -> None:
    """After a purge, the auditor's pages skip the purged serials: a page from
    before them holds the later entries, and ``next_after`` leads from a full
    page to the next one until every entry still held has been read."""
    world.wire.control("PUT", "/clock", {"now": "2030-06-15T09:00:00+00:00"}).expect(200)
    old = {world.query("kit.pension", p).expect(202)["serial"] for p in world.persons[:4]}
    world.wire.control("PUT", "/clock", {"now": "2037-06-16T09:00:00+00:00"}).expect(200)
    fresh = {world.query("kit.pension", p).expect(202)["serial"] for p in world.persons[4:9]}
    after, seen = min(old) - 1, []
    for _ in range(100):
        page = world.call(
            "kit.auditor", "GET", "auditor", "/access-logs", params={"after": after, "limit": 2}
        ).expect(200)
        serials = [int(e["serial"]) for e in page["entries"]]
        assert all(s > after for s in serials), (after, serials)
        seen += serials
        if "next_after" not in page.body:
            break
        assert serials, f"a page with next_after but no entries after {after}"
        after = int(page["next_after"])
    assert not (old & set(seen)), "a purged entry was served"
    assert fresh <= set(seen), f"entries after the purged range were not reached: {seen}"
