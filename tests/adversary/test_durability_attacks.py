"""Adversary tests of the hub's durability and tamper evidence, black box (issue 16).

Each test starts `renkei serve` (plain HTTP, test mode, hub application only) in a
temporary state folder, talks to it over the wire, and kills it with SIGKILL, restarts
it, or edits its state folder as an unlucky operator or an attacker with disk access
would.  A test marked xfail(strict=True) demonstrates a violation of the requirement
its reason names: it asserts what the spec requires and fails today.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import resource
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.adversary.harness import AUDITOR, PATTERN_ID, PROVIDER, REQUESTER, Hub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path / "state")
    h.start()
    try:
        yield h
    finally:
        h.close()


def _records(h: Hub, *spaces: str) -> list[tuple[str, str, str]]:
    db = h.db()
    try:
        marks = ",".join("?" * len(spaces))
        rows = db.execute(
            f"SELECT space, key, value FROM records WHERE space IN ({marks})",
            spaces,
        ).fetchall()
    finally:
        db.close()
    return [(str(s), str(k), str(v)) for s, k, v in rows]


def _put_records(h: Hub, rows: list[tuple[str, str, str]]) -> None:
    db = h.db()
    try:
        db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", rows)
    finally:
        db.close()


def _sql(h: Hub, statement: str, *args: object) -> int:
    db = h.db()
    try:
        count: int = db.execute(statement, args).rowcount
    finally:
        db.close()
    return count


def _outcomes(h: Hub) -> list[tuple[int, str, str | None]]:
    return [(e["serial"], e["outcome"], e.get("linkage_id")) for e in h.access_log()]


def _started_or_tampered(h: Hub, response: httpx.Response) -> bool:
    """The request was refused as RK-LOG-010 says: 500 `log-tampered`."""
    return response.status_code == 500 and response.json().get("type", "").endswith(":log-tampered")


# --------------------------------------------------------------------------------------
# Attacks that once broke the hub (issue 16), kept as regression vectors; the two that
# once needed a witness outside the store (a whole store rolled back, RK-LOG-011) too
# --------------------------------------------------------------------------------------


def test_replayed_pre_relay_records_do_not_relay_the_answer_twice(hub: Hub) -> None:
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    before_relay = _records(hub, "linkage", "transit")
    assert {s for s, _, _ in before_relay} == {"linkage", "transit"}
    first = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert first.status_code == 200
    assert "answer" in first.json()
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204

    hub.kill()
    _put_records(hub, before_relay)  # the attacker restores two sealed rows of a backup
    if not hub.start(expect_ready=False):
        return  # refusing to start is what RK-LOG-010 allows
    second = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert "answer" not in second.text, "the acknowledged answer was relayed again"
    assert second.status_code in (200, 404) or _started_or_tampered(hub, second)


def test_stale_linkage_record_is_reported_as_tampering(hub: Hub) -> None:
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    stale = _records(hub, "linkage")
    assert hub.hub("GET", f"/linkages/{linkage}", REQUESTER).status_code == 200

    hub.kill()
    _put_records(hub, stale)  # only the linkage row of a backup, not its transit row
    if not hub.start(expect_ready=False):
        assert "RK-LOG-010" in hub.output()
        return
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert read.status_code != 500 or _started_or_tampered(hub, read), read.text
    if read.status_code == 500:
        admin = hub.auditor("/admin-logs", {"limit": 1000})
        assert "log-tampered" in admin.text


def test_restored_older_state_does_not_fork_the_signed_log(hub: Hub, tmp_path: Path) -> None:
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    shutil.copytree(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    hub.approve(link_code, "req-2")
    signed = hub.checkpoint()

    hub.kill()
    shutil.rmtree(hub.state_dir)
    shutil.copytree(tmp_path / "backup", hub.state_dir)
    if not hub.start(expect_ready=False):  # refusing to run on state older than it signed
        assert "RK-LOG-011" in hub.output()
        return
    again = hub.query(link_code, "req-2")
    assert again.status_code == 409, "a request_id the hub acknowledged was accepted again"
    now = hub.checkpoint()
    if now["tree_size"] == signed["tree_size"]:
        assert now["root_hash"] == signed["root_hash"], "two roots signed for one tree size"


def test_deleted_in_flight_linkage_is_noticed_or_still_expires(hub: Hub) -> None:
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'linkage' AND key = ?", linkage) == 1
    if not hub.start(expect_ready=False):
        return
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3 * 3600}).status_code == 200
    assert (2, "expired", linkage) in [(s, o, lk) for s, o, lk in _outcomes(hub)]


# --------------------------------------------------------------------------------------
# Attacks the hub withstands (regression vectors)
# --------------------------------------------------------------------------------------


def test_a_vanished_linkage_is_noticed(hub: Hub) -> None:
    """RK-LOG-010 / RK-AUD-002: a linkage erased from the hub's state is noticed —
    the hub refuses to start naming the tampering, or (a hub that starts) its
    auditor reports outcome-missing once the deadline and collection passed."""
    link_code = hub.build_world()
    lost = hub.approve(link_code, "req-1")
    answered = hub.approve(link_code, "req-2")
    assert hub.deliver_and_answer(answered).status_code == 202  # acknowledged, then lost
    hub.kill()
    _sql(
        hub,
        "DELETE FROM records WHERE space IN ('linkage', 'transit') AND key IN (?, ?)",
        lost,
        answered,
    )
    if not hub.start():
        assert "RK-LOG-010" in hub.output()
        return
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3 * 3600}).status_code == 200
    report = hub.auditor("/discrepancies", {"limit": 100})
    assert report.status_code == 200, report.text
    missing = {
        serial
        for d in report.json()["discrepancies"]
        if d["kind"] == "outcome-missing"
        for serial in d["hub_serials"]
    }
    assert missing == {1, 2}


# RK-AUD-002's outcome-missing "once the deadline and the collection period have passed",
# with no grace: tests/test_audit.py::test_an_approval_without_outcome_after_its_deadline_is_flagged
# (a linkage record deleted to provoke it here is now refused at start, above).


def test_deleted_request_id_record_refuses_its_replay(hub: Hub) -> None:
    """RK-LOG-010: a used request id whose record was deleted is never taken for
    an unused one — found in the log when it comes again (500 ``log-tampered``,
    recorded in the administrative log); the start itself reads no entry for it."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 1
    hub.start()
    replay = hub.query(link_code, "req-1")
    assert replay.status_code == 500, replay.text
    assert replay.json()["type"].endswith("log-tampered")
    assert replay.json()["requirement"] == "RK-LOG-010"
    assert "log-tampered" in hub.auditor("/admin-logs", {"limit": 1000}).text
    assert len([e for e in hub.access_log() if e.get("request_id") == "req-1"]) == 1


def test_deleted_legal_hold_record_refuses_start(hub: Hub) -> None:
    """RK-LOG-010 / RK-RET-002: a hold placed and not lifted must be found at start."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    placed = hub.client.post(
        hub.base["auditor"] + "/legal-holds",
        headers=hub.h(AUDITOR),
        json={"reason": "investigation", "scope": {"linkage_ids": [linkage]}},
    )
    assert placed.status_code == 201, placed.text
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'hold'") == 1
    assert not hub.start(expect_ready=False)
    assert "RK-LOG-010" in hub.output()


def test_content_blanked_as_if_purged_refuses_start(hub: Hub) -> None:
    """RK-LOG-010 / RK-RET-003: an entry blanked on disk without a logged purge."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    assert (
        _sql(
            hub,
            "UPDATE leaves SET entry = NULL, purged_at = '2034-01-01T00:00:00+00:00' "
            "WHERE log = 'access' AND serial = 1",
        )
        == 1
    )
    assert not hub.start(expect_ready=False)
    assert "RK-LOG-010" in hub.output()


def test_changed_tree_node_is_not_served(hub: Hub) -> None:
    """RK-LOG-010: an interior tree node changed on disk never reaches a proof."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    for i in range(2, 5):
        hub.approve(link_code, f"req-{i}")
    hub.kill()
    assert (
        _sql(
            hub,
            "UPDATE nodes SET hash = zeroblob(32) WHERE log = 'access' AND level = 1 AND idx = 1",
        )
        == 1
    )
    if hub.start(expect_ready=False):
        read = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER)
        assert _started_or_tampered(hub, read), read.text
    else:
        assert "RK-LOG-010" in hub.output()


def test_older_signed_checkpoint_put_back_is_refused(hub: Hub) -> None:
    """RK-LOG-010: the stored checkpoint replaced by an older, validly signed one."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    db = hub.db()
    try:
        (older,) = db.execute("SELECT value FROM state WHERE key = 'checkpoint:access'").fetchone()
    finally:
        db.close()
    hub.approve(link_code, "req-2")
    hub.kill()
    assert _sql(hub, "UPDATE state SET value = ? WHERE key = 'checkpoint:access'", older) == 1
    if hub.start(expect_ready=False):
        assert hub.checkpoint()["tree_size"] == 2
    else:
        assert "RK-LOG-010" in hub.output()


def test_forged_leaf_appended_on_disk_is_refused(hub: Hub) -> None:
    """RK-LOG-010: a leaf row added at the end of the access log by hand."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    db = hub.db()
    try:
        (entry,) = db.execute(
            "SELECT entry FROM leaves WHERE log = 'access' AND serial = 1"
        ).fetchone()
        forged = entry.replace('"serial":1', '"serial":2')
        db.execute("INSERT INTO leaves VALUES ('access', 2, zeroblob(32), ?, NULL)", (forged,))
    finally:
        db.close()
    if hub.start(expect_ready=False):
        read = hub.auditor("/access-logs", {"limit": 100})
        assert _started_or_tampered(hub, read) or [e["serial"] for e in read.json()["entries"]] == [
            1
        ]
    else:
        assert "RK-LOG-010" in hub.output()


def test_swapped_access_entries_are_not_served(hub: Hub) -> None:
    """RK-LOG-010: two stored entries exchanged (reordered rows) are never served."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    hub.kill()
    db = hub.db()
    try:
        rows = dict(db.execute("SELECT serial, entry FROM leaves WHERE log = 'access'").fetchall())
        db.execute("UPDATE leaves SET entry = ? WHERE log = 'access' AND serial = 1", (rows[2],))
        db.execute("UPDATE leaves SET entry = ? WHERE log = 'access' AND serial = 2", (rows[1],))
    finally:
        db.close()
    if hub.start(expect_ready=False):
        read = hub.auditor("/access-logs", {"limit": 100})
        assert _started_or_tampered(hub, read), read.text
    else:
        assert "RK-LOG-010" in hub.output()


def test_sealed_record_moved_under_another_key_is_refused(hub: Hub) -> None:
    """RK-LOG-010: a sealed linkage record copied under another linkage's key."""
    link_code = hub.build_world()
    first = hub.approve(link_code, "req-1")
    second = hub.approve(link_code, "req-2")
    hub.kill()
    value = {k: v for _, k, v in _records(hub, "linkage")}[first]
    _put_records(hub, [("linkage", second, value)])
    if hub.start(expect_ready=False):
        read = hub.hub("GET", f"/linkages/{second}", REQUESTER)
        assert _started_or_tampered(hub, read), read.text
    else:
        assert "RK-LOG-010" in hub.output()


def test_legal_hold_survives_purge_and_the_purge_is_logged(hub: Hub) -> None:
    """RK-RET-002/003: a held entry outlives retention; others purged, proofs still served."""
    link_code = hub.build_world()
    held = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    placed = hub.client.post(
        hub.base["auditor"] + "/legal-holds",
        headers=hub.h(AUDITOR),
        json={"reason": "investigation", "scope": {"linkage_ids": [held]}},
    )
    assert placed.status_code == 201, placed.text
    before = hub.checkpoint()
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    hub.kill()  # power loss right after the purge
    assert hub.start()
    serials = {s for s, _, _ in _outcomes(hub)}
    assert 1 in serials
    assert 2 not in serials
    after = hub.checkpoint()
    proof = hub.client.get(
        hub.base["hub"] + "/checkpoints/consistency",
        params={"first": before["tree_size"], "second": after["tree_size"]},
        headers=hub.h(AUDITOR),
    )
    assert proof.status_code == 200, proof.text
    assert "purge" in hub.auditor("/admin-logs", {"limit": 1000}).text


def test_kill_during_a_purge_keeps_the_log_consistent(hub: Hub) -> None:
    """RK-RET-003 / RK-FLOW-008: SIGKILL while a 7-year purge runs."""
    link_code = hub.build_world()
    for i in range(40):
        hub.approve(link_code, f"req-{i}")
    before = hub.checkpoint()
    advance = threading.Thread(target=_advance_quietly, args=(hub, 8 * 366 * 86400))
    advance.start()
    time.sleep(0.01)
    hub.kill()
    advance.join()
    assert hub.start()
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    after = hub.checkpoint()
    assert after["tree_size"] >= before["tree_size"]
    proof = hub.client.get(
        hub.base["hub"] + "/checkpoints/consistency",
        params={"first": before["tree_size"], "second": after["tree_size"]},
        headers=hub.h(AUDITOR),
    )
    assert proof.status_code == 200, proof.text
    assert not [s for s, _, _ in _outcomes(hub) if s <= before["tree_size"]]
    assert "purge" in hub.auditor("/admin-logs", {"limit": 1000}).text


def _advance_quietly(hub: Hub, seconds: int) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(hub.base["control"] + "/clock/advance", json={"seconds": seconds}, timeout=30)


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_refuses_with_503_and_changes_nothing(hub: Hub) -> None:
    """RK-LOG-001 / RK-FLOW-008: with the disk full, queries get 503 and nothing is half-done."""
    link_code = hub.build_world()
    hub.kill()
    biggest = max(p.stat().st_size for p in hub.state_dir.iterdir())
    hub.preexec = _limit_file_size(biggest + 300_000)
    assert hub.start()
    accepted, refused = 0, None
    for i in range(400):
        r = hub.query(link_code, f"q-{i}")
        if r.status_code != 202:
            refused = (i, r)
            break
        accepted += 1
    assert refused is not None, "the file size limit was never reached"
    assert refused[1].status_code == 503, refused[1].text
    assert refused[1].json()["type"].endswith(":log-store-unavailable")
    hub.preexec = None
    assert hub.restart()
    assert len(hub.access_log()) == accepted
    assert hub.query(link_code, f"q-{refused[0]}").status_code == 202  # id not consumed


def test_full_disk_at_relay_does_not_lose_or_duplicate_the_answer(hub: Hub) -> None:
    """RK-FLOW-002 / RK-FLOW-008: a relay that cannot be recorded is not served."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    hub.kill()
    biggest = max(p.stat().st_size for p in hub.state_dir.iterdir())
    hub.preexec = _limit_file_size(biggest + 40_000)
    assert hub.start()
    for i in range(200):
        if hub.query(link_code, f"fill-{i}").status_code != 202:
            break
    blocked = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert blocked.status_code == 503, blocked.text
    assert "answer" not in blocked.text
    hub.preexec = None
    assert hub.restart()
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert read.json()["answer"]["payload"] == "aGVsbG8="
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text


def test_accepted_answer_survives_kill_and_is_relayed_until_acknowledged(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-002: kill between the 202 and the read, after the read
    (the same answer is read again: the response could have been lost), and after
    the acknowledgement (never again)."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    assert hub.restart()
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert read.status_code == 200
    assert read.json()["answer"]["payload"] == "aGVsbG8="
    assert hub.restart()
    again = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert again.json() == read.json()
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    assert hub.restart()
    gone = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert "answer" not in gone.text
    assert [o for _, o, lid in _outcomes(hub) if lid == linkage] == ["approved", "provided"]
    assert hub.hub("GET", "/deliveries", PROVIDER).json()["deliveries"] == []
    assert hub.query(link_code, "req-1").status_code == 409


def test_in_flight_linkage_expires_across_a_restart(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-004: the deadline passes while the hub is down."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.restart()
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3601}).status_code == 200
    assert (2, "expired", linkage) in _outcomes(hub)
    late = hub.hub("POST", f"/linkages/{linkage}/answer", PROVIDER, {"payload": "YQ=="})
    assert late.status_code in (404, 409)


def test_clock_set_back_does_not_reopen_an_expired_linkage(hub: Hub) -> None:
    """RK-FLOW-003 / RK-FLOW-004: expired is final even when the test clock goes back."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.hub("GET", "/deliveries", PROVIDER)
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3601}).status_code == 200
    assert hub.restart()
    assert hub.ctl("PUT", "/clock", {"now": "2026-04-01T09:10:00Z"}).status_code == 200
    late = hub.hub("POST", f"/linkages/{linkage}/answer", PROVIDER, {"payload": "YQ=="})
    assert late.status_code in (404, 409), late.text


def test_key_rotation_survives_a_kill(hub: Hub) -> None:
    """RK-FLOW-008: a rotation acknowledged on the control interface survives SIGKILL."""
    link_code = hub.build_world()
    assert hub.ctl("PUT", "/clock", {"now": "2099-01-01T00:00:00Z"}).status_code == 200
    hub.ctl(
        "PUT",
        "/patterns",
        {
            "patterns": [
                {
                    "pattern_id": PATTERN_ID,
                    "legal_basis": "番号法 別表第二 項番1",
                    "purpose": "x",
                    "requesters": [REQUESTER],
                    "providers": [PROVIDER],
                    "information_kinds": ["resident-tax"],
                    "valid_from": "2026-01-01T00:00:00Z",
                }
            ]
        },
    )
    rotated = hub.ctl("POST", "/keys/rotate", {"purpose": "link-code", "transition_seconds": 3600})
    assert rotated.status_code == 200, rotated.text
    assert hub.restart()
    rebound = hub.hub("POST", "/rebindings", REQUESTER, {"link_codes": [link_code]})
    assert rebound.status_code == 200, rebound.text
    new_code = rebound.json()["results"][0]["new_link_code"]
    assert new_code
    assert new_code != link_code
    assert hub.query(link_code, "req-old").status_code == 202  # inside the window
    assert hub.query(new_code, "req-new").status_code == 202


def test_concurrent_duplicate_request_ids_make_one_linkage(hub: Hub) -> None:
    """RK-FLOW-003: one request_id sent 16 times at once creates one linkage."""
    link_code = hub.build_world()
    with cf.ThreadPoolExecutor(8) as pool:
        codes = sorted(pool.map(lambda _: hub_query_status(hub, link_code, "same"), range(16)))
    assert codes == [202] + [409] * 15
    assert [o for _, o, _ in _outcomes(hub)] == ["approved"]


def hub_query_status(hub: Hub, link_code: str, request_id: str) -> int:
    with httpx.Client(timeout=20) as client:
        return client.post(
            hub.base["hub"] + "/queries",
            headers=hub.h(REQUESTER),
            json={
                "request_id": request_id,
                "requester": REQUESTER,
                "provider": PROVIDER,
                "pattern_id": PATTERN_ID,
                "information_kind": "resident-tax",
                "link_code": link_code,
            },
        ).status_code


def test_concurrent_answers_and_reads_relay_once(hub: Hub) -> None:
    """RK-FLOW-002 / RK-FLOW-003: 8 answers at once, then 8 reads at once (the same
    answer each, one ``provided`` entry), then 8 acknowledgements at once (one 204)."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.hub("GET", "/deliveries", PROVIDER)

    def answer(i: int) -> int:
        with httpx.Client(timeout=20) as client:
            return client.post(
                hub.base["hub"] + f"/linkages/{linkage}/answer",
                headers=hub.h(PROVIDER),
                json={"payload": "YQ=="},
            ).status_code

    def read(i: int) -> str | None:
        with httpx.Client(timeout=20) as client:
            r = client.get(hub.base["hub"] + f"/linkages/{linkage}", headers=hub.h(REQUESTER))
            return (r.json().get("answer") or {}).get("payload")

    def acknowledge(i: int) -> int:
        with httpx.Client(timeout=20) as client:
            url = hub.base["hub"] + f"/linkages/{linkage}/answer"
            return client.delete(url, headers=hub.h(REQUESTER)).status_code

    with cf.ThreadPoolExecutor(8) as pool:
        assert sorted(pool.map(answer, range(8))) == [202] + [409] * 7
        assert list(pool.map(read, range(8))) == ["YQ=="] * 8
        assert sorted(pool.map(acknowledge, range(8))) == [204] + [404] * 7
    assert read(0) is None
    assert [o for _, o, _ in _outcomes(hub)] == ["approved", "provided"]


def test_deadlines_and_collection_pass_while_the_hub_is_down(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-004 / RK-FLOW-007: real time runs out while the hub is stopped."""
    link_code = hub.build_world(answer_within=2)
    pending = hub.approve(link_code, "req-1")
    answered = hub.approve(link_code, "req-2")
    assert hub.deliver_and_answer(answered).status_code == 202
    hub.kill()
    time.sleep(4)
    assert hub.start()
    entries = {(e["linkage_id"], e["outcome"], e.get("reason")) for e in hub.access_log()}
    assert (pending, "expired", "deadline-passed") in entries
    assert (answered, "expired", "not-collected") in entries
    assert "answer" not in hub.hub("GET", f"/linkages/{answered}", REQUESTER).text
    assert "aGVsbG8=" not in hub.ctl("GET", "/state").text


@pytest.mark.parametrize("delay", [0.0, 0.005, 0.02])
def test_kill_while_a_query_is_in_flight_leaves_id_and_log_agreeing(hub: Hub, delay: float) -> None:
    """RK-FLOW-008 / RK-FLOW-003: the request id is consumed iff its entry is in the log."""
    link_code = hub.build_world()
    sent = threading.Thread(target=_query_quietly, args=(hub, link_code, "req-x"))
    sent.start()
    time.sleep(delay)
    hub.kill()
    sent.join()
    assert hub.start()
    logged = [e for e in hub.access_log() if e.get("request_id") == "req-x"]
    again = hub.query(link_code, "req-x")
    if logged:
        assert again.status_code == 409, again.text
        assert len(logged) == 1
    else:
        assert again.status_code == 202, again.text
    checkpoint = hub.checkpoint()
    assert checkpoint["tree_size"] == len(hub.access_log())


def _query_quietly(hub: Hub, link_code: str, request_id: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        hub_query_status(hub, link_code, request_id)


def _pattern(pattern_id: str, requesters: list[str], providers: list[str], kind: str) -> object:
    return {
        "pattern_id": pattern_id,
        "legal_basis": "番号法 別表第二 項番1",
        "purpose": "年金給付の支給に関する事務",
        "requesters": requesters,
        "providers": providers,
        "information_kinds": [kind],
        "valid_from": "2026-01-01T00:00:00Z",
    }


def test_deleted_pattern_document_does_not_roll_the_table_back(hub: Hub) -> None:
    link_code = hub.build_world()
    superseding = hub.ctl(
        "PUT", "/patterns", {"patterns": [_pattern("P-0002", [PROVIDER], [REQUESTER], "pension")]}
    )
    assert superseding.status_code == 200, superseding.text
    assert superseding.json()["version"] == 2
    assert hub.query(link_code, "req-1").status_code == 403  # P-0001 no longer in force
    hub.kill()
    db = hub.db()
    try:
        keys = [k for (k,) in db.execute("SELECT key FROM records WHERE space = 'pattern'")]
        db.execute("DELETE FROM records WHERE space = 'pattern' AND key = ?", (max(keys),))
    finally:
        db.close()
    if not hub.start(expect_ready=False):
        return
    rolled_back = hub.query(link_code, "req-2")
    assert rolled_back.status_code != 202, "approved under a superseded pattern document"


def test_restored_key_file_does_not_undo_an_emergency_rotation(hub: Hub) -> None:
    link_code = hub.build_world()
    assert hub.ctl("PUT", "/clock", {"now": "2099-01-01T00:00:00Z"}).status_code == 200
    hub.ctl(
        "PUT",
        "/patterns",
        {"patterns": [_pattern(PATTERN_ID, [REQUESTER], [PROVIDER], "resident-tax")]},
    )
    before = (hub.state_dir / "keys.json").read_bytes()
    rotated = hub.ctl("POST", "/keys/rotate", {"purpose": "link-code", "transition_seconds": 0})
    assert rotated.status_code == 200, rotated.text
    assert hub.query(link_code, "req-1").status_code == 403  # unknown-key-version
    hub.kill()
    (hub.state_dir / "keys.json").write_bytes(before)
    if not hub.start(expect_ready=False):
        return
    retired = hub.query(link_code, "req-2")
    assert retired.status_code == 403, "a link code of the retired key version was accepted"


def test_deleted_answer_in_transit_is_reported_as_tampering(hub: Hub) -> None:
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'transit'") == 1
    if not hub.start(expect_ready=False):
        assert "RK-LOG-010" in hub.output()
        return
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert _started_or_tampered(hub, read), read.text


def test_replaced_log_signing_key_refuses_start(hub: Hub) -> None:
    """RK-LOG-010: stored checkpoints and seals checked against the hub's own key."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    (hub.state_dir / "log-signer.key").write_bytes(b"11" * 32 + b"\n")
    assert not hub.start(expect_ready=False)
    assert "RK-LOG-010" in hub.output()


def test_deleted_write_ahead_log_is_noticed(hub: Hub) -> None:
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    signed = hub.checkpoint()
    hub.kill()
    for name in ("logs.sqlite3-wal", "logs.sqlite3-shm"):
        (hub.state_dir / name).unlink(missing_ok=True)
    if not hub.start(expect_ready=False):
        assert "RK-LOG-011" in hub.output()
        return
    hub.creds = {}
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    now = hub.checkpoint()
    assert now["verifier_key"] != signed["verifier_key"] or (
        now["tree_size"] != signed["tree_size"] or now["root_hash"] == signed["root_hash"]
    ), "two roots signed under one key for one tree size"


def _place_hold(hub: Hub, linkage: str) -> str:
    placed = hub.client.post(
        hub.base["auditor"] + "/legal-holds",
        headers=hub.h(AUDITOR),
        json={"reason": "investigation", "scope": {"linkage_ids": [linkage]}},
    )
    assert placed.status_code == 201, placed.text
    hold_id: str = placed.json()["hold_id"]
    return hold_id


def test_hold_acknowledged_then_killed_still_blocks_the_purge(hub: Hub) -> None:
    """RK-RET-002 / RK-FLOW-008: SIGKILL right after the 201 of a hold, then 8 years pass."""
    link_code = hub.build_world()
    held = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    _place_hold(hub, held)
    assert hub.restart()
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    serials = {s for s, _, _ in _outcomes(hub)}
    assert 1 in serials
    assert 2 not in serials


def test_lifted_hold_survives_a_kill_and_the_purge_then_proceeds(hub: Hub) -> None:
    """RK-RET-002 / RK-RET-003: a lift acknowledged before SIGKILL is not forgotten."""
    link_code = hub.build_world()
    held = hub.approve(link_code, "req-1")
    hold_id = _place_hold(hub, held)
    lifted = hub.client.delete(
        hub.base["auditor"] + f"/legal-holds/{hold_id}", headers=hub.h(AUDITOR)
    )
    assert lifted.status_code in (200, 204), lifted.text
    assert hub.restart()
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    assert 1 not in {s for s, _, _ in _outcomes(hub)}


def test_second_answer_after_a_kill_is_a_state_conflict(hub: Hub) -> None:
    """RK-FLOW-003 / RK-FLOW-008: the answered state survives; a second answer is refused."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    assert hub.restart()
    second = hub.hub("POST", f"/linkages/{linkage}/answer", PROVIDER, {"payload": "Yg=="})
    assert second.status_code == 409, second.text
    assert second.json()["type"].endswith(":linkage-state-conflict")
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert read.json()["answer"]["payload"] == "aGVsbG8="
