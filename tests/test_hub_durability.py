"""The hub's in-flight state is durable (issue 16 item 2; RK-FLOW-002..004, RK-LOG-001).

* Linkages in flight, answers in transit, used request ids, the expired
  linkages and the aliases of changed resident codes live in the store and
  change in the same transaction as the log entries that record them: a hub
  restarted over the same store carries on where the acknowledged steps left.
* Overdue linkages are expired and logged at start.
* An answer is kept until its ``provided`` entry is committed: a full store
  answers 503 and the next read, once space is back, relays it — until acknowledged.
* The pattern table and the registered organisations outlive a restart.
"""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any, NamedTuple

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_conformance.target import InProcessTransport
from renkei_reference.core.access_log import AccessLogEntry, Outcome
from renkei_reference.core.errors import ConflictError, UnavailableError
from renkei_reference.core.linkage import LinkageState
from renkei_reference.core.log_integrity import LogTamperedError
from renkei_reference.services.app import create_app
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Federation
from renkei_reference.services.hub import HoldScopeIn
from renkei_reference.services.hub.linkages import request_key

from .postgres import Backend
from .test_log_store import (
    AUDITOR,
    ITEMS,
    T0,
    A,
    B,
    _hub_on,
    _populate,
    _query,
    _rc,
)

pytestmark = pytest.mark.requirement("RK-FLOW-002", "RK-FLOW-003", "RK-FLOW-004", "RK-LOG-001")

PAYLOAD = base64.b64encode("回答".encode()).decode()
USED = 'q-used-0123456789 "照会"\\\t'


class Durable(NamedTuple):
    """A hub over a store file, populated (agencies, a pattern, bound persons)."""

    where: Backend  # the store kind and its place
    signer: Ed25519PrivateKey
    clock: ControllableClock
    fed: Federation
    links: dict[str, str]


@pytest.fixture
def hub(backend: Backend) -> Durable:
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    fed = _hub_on(backend, signer, clock)
    return Durable(backend, signer, clock, fed, _populate(fed))


def _restart(where: Backend, signer: Ed25519PrivateKey, clock: ControllableClock) -> Federation:
    """A second hub over the same store file, as after ``kill -9`` (the first is
    abandoned, never closed: only what its barrier acknowledged counts)."""
    return _hub_on(where, signer, clock)


def _entries(fed: Federation, linkage_id: str) -> list[AccessLogEntry]:
    return [e for e in fed.hub.logs.held() if e.linkage_id == linkage_id]


def test_in_flight_state_survives_a_restart(hub: Durable) -> None:
    where, signer, clock, fed, links = hub
    pending = _query(fed, links["r0"], "q-pending")
    delivered = _query(fed, links["r1"], "q-delivered")
    answered = _query(fed, links["r2"], "q-answered")
    assert {d.linkage_id for d in fed.hub.deliveries(B, limit=2)} == {
        pending.linkage_id,
        delivered.linkage_id,
    }
    fed.hub.answer(B, answered.linkage_id, PAYLOAD)
    fed.hub.log_barrier().result(10)  # acknowledged

    again = _restart(where, signer, clock)
    states = {lid: x.state for lid, x in again.hub.linkages.linkages.items()}
    assert states == {
        pending.linkage_id: LinkageState.DELIVERED,
        delivered.linkage_id: LinkageState.DELIVERED,
        answered.linkage_id: LinkageState.ANSWERED,
    }
    for rid in ("q-pending", "q-delivered", "q-answered"):
        with pytest.raises(ConflictError, match="duplicate-request-id"):
            _query(again, links["r0"], rid)
    assert again.hub.deliveries(B) == [], "nothing is delivered twice"
    closed, payload, receipt = again.hub.status(A, answered.linkage_id)
    assert (closed.state, payload) == (LinkageState.CLOSED, PAYLOAD)
    assert receipt is not None
    again.hub.answer(B, pending.linkage_id, PAYLOAD)
    assert again.hub.status(A, pending.linkage_id)[1] == PAYLOAD
    # the same agencies and the same pattern table: a new query is approved
    assert _query(again, links["r0"], "q-new").state is LinkageState.PENDING
    outcomes = [e.outcome for e in _entries(again, answered.linkage_id)]
    assert outcomes == [Outcome.APPROVED, Outcome.PROVIDED]
    again.close()


def test_overdue_linkages_are_expired_and_logged_at_start(hub: Durable) -> None:
    where, signer, clock, fed, links = hub
    late = _query(fed, links["r0"], "q-late")
    fed.hub.log_barrier().result(10)

    clock.advance(300)  # past the 60 s answer period while down
    again = _restart(where, signer, clock)
    assert late.linkage_id not in again.hub.linkages.linkages
    expired = _entries(again, late.linkage_id)[-1]
    assert (expired.outcome, expired.reason) == (Outcome.EXPIRED, "deadline-passed")
    with pytest.raises(ConflictError, match="answer-after-deadline"):
        again.hub.answer(B, late.linkage_id, PAYLOAD)
    again.hub.log_barrier().result(10)

    third = _restart(where, signer, clock)  # the expiry itself was durable
    assert [e.outcome for e in _entries(third, late.linkage_id)] == [
        Outcome.APPROVED,
        Outcome.EXPIRED,
    ]
    third.close()


def test_aliases_of_changed_resident_codes_survive_a_restart(hub: Durable) -> None:
    where, signer, clock, fed, links = hub
    fed.load_residents([(_rc(100), ITEMS[0], _rc(0))])  # r0's resident code changed
    fed.hub.log_barrier().result(10)
    again = _restart(where, signer, clock)
    assert again.hub.disclose_id_code(_rc(100)) == again.hub.disclose_id_code(_rc(0))
    assert _query(again, links["r0"], "q-after-change").state is LinkageState.PENDING
    again.close()


def test_a_store_that_cannot_write_refuses_answers_and_loses_none(backend: Backend) -> None:
    clock = ControllableClock(T0)
    fed = _hub_on(backend, Ed25519PrivateKey.generate(), clock, full_disk=True)
    store: Any = fed.log_store
    links = _populate(fed)
    linkage = _query(fed, links["r0"], "q-1")
    fed.hub.log_barrier().result(10)
    store.full = True
    _query(fed, links["r1"], "q-2")  # queued; its commit fails
    with pytest.raises(UnavailableError):
        fed.hub.log_barrier().result(10)
    with pytest.raises(UnavailableError, match="log-store-unavailable"):
        fed.hub.answer(B, linkage.linkage_id, PAYLOAD)
    assert fed.hub.linkages.linkages[linkage.linkage_id].state is LinkageState.PENDING
    store.full = False
    _wait_writable(store)
    fed.hub.answer(B, linkage.linkage_id, PAYLOAD)
    assert fed.hub.status(A, linkage.linkage_id)[1] == PAYLOAD
    fed.close()


def _wait_writable(store: Any) -> None:
    deadline = time.monotonic() + 10
    while store.refusal() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    store.barrier().result(10)


def test_an_answer_is_relayed_once_after_the_store_was_full(backend: Backend) -> None:
    """Disk full while the requester collects: 503, the answer kept; once space is
    back the next read relays it, with the same receipt and one ``provided`` entry."""
    boxes: list[Federation] = []

    def factory(clock: Any) -> Federation:
        fed = _hub_on(backend, Ed25519PrivateKey.generate(), clock, f"logs{len(boxes)}",
                      full_disk=True)  # fmt: skip
        boxes.append(fed)
        return fed

    app = create_app(test_mode=True, federation_factory=factory)
    fed = boxes[-1]
    links = _populate(fed)
    token = fed.register(A)
    linkage = _query(fed, links["r0"], "q-full")
    fed.hub.answer(B, linkage.linkage_id, PAYLOAD)
    fed.hub.log_barrier().result(10)
    store: Any = fed.log_store
    url = f"/hub/linkages/{linkage.linkage_id}"
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(transport=InProcessTransport(app), base_url="http://hub.test") as client:
        store.full = True
        refused = client.get(url, headers=auth)
        assert refused.status_code == 503, refused.text
        assert refused.json()["type"] == "urn:renkei:problem:log-store-unavailable"
        assert client.get(url, headers=auth).status_code == 503  # still full
        store.full = False
        _wait_writable(store)
        relayed = client.get(url, headers=auth)
        assert relayed.status_code == 200, relayed.text
        assert relayed.json()["answer"] == {"payload": PAYLOAD}
        assert client.get(url, headers=auth).json() == relayed.json()  # until acknowledged
        assert client.delete(url + "/answer", headers=auth).status_code == 204
        after = client.get(url, headers=auth)
        assert (
            "answer" not in after.json() if after.status_code == 200 else after.status_code == 404
        )
    provided = [e for e in _entries(fed, linkage.linkage_id) if e.outcome is Outcome.PROVIDED]
    assert len(provided) == 1
    assert relayed.json()["receipt"]["serial"] == provided[0].serial


def _stored_records(where: Backend) -> list[tuple[str, str, str]]:
    return where.rows("SELECT space, key, value FROM records ORDER BY space, key")


@pytest.mark.requirement("RK-LOG-010")
def test_every_changed_or_deleted_record_that_matters_refuses_the_start(hub: Durable) -> None:
    """The hub's state records are sealed: one byte changed in any record's key or
    value refuses the start — a used request id's record, read when its id comes
    again, refuses that request instead; deleting a hold in force refuses the
    start too (with the state digest, or without it by the full check)."""
    where, signer, clock, fed, links = hub
    _query(fed, links["r0"], "q-open")
    answered = _query(fed, links["r1"], "q-answered")
    fed.hub.answer(B, answered.linkage_id, PAYLOAD)
    fed.hub.place_hold(AUDITOR, "case", None, HoldScopeIn(serials=(1, 1)))
    fed.hub.log_barrier().result(10)
    fed.close()
    rows = _stored_records(where)
    spaces = {space for space, _, _ in rows}
    assert {"agency", "credential", "digest", "hold", "linkage", "pattern", "request",
            "transit"} <= spaces  # fmt: skip
    used = {request_key("a", r): r for r in ("q-open", "q-answered")}
    mutations = 0
    for space, key, value in rows:
        for column, text in (("key", key), ("value", value)):
            for i in sorted({0, len(text) // 2, len(text) - 1}):
                changed = text[:i] + ("0" if text[i] != "0" else "1") + text[i + 1 :]
                where.execute(f"UPDATE records SET {column} = ? WHERE space = ? AND key = ?",
                              (changed, space, key))  # fmt: skip
                if space == "request":  # read when its id comes again, not at start
                    again = _restart(where, signer, clock)
                    with pytest.raises(LogTamperedError):
                        _query(again, links["r0"], used[key])
                    again.close()
                else:
                    with pytest.raises(LogTamperedError):
                        _restart(where, signer, clock)
                mutations += 1
                where.execute(f"UPDATE records SET {column} = ? WHERE space = ? AND {column} = ?",
                              (text, space, changed))  # fmt: skip
    assert mutations >= 6 * len(rows) - 6
    rows = _stored_records(where)  # with the digest the last restarts wrote
    where.execute("DELETE FROM records WHERE space = 'hold'")
    with pytest.raises(LogTamperedError, match="hold records"):
        _restart(where, signer, clock)
    where.execute("DELETE FROM records WHERE space = 'digest'")
    with pytest.raises(LogTamperedError, match=r"state digest.*there is none"):
        _restart(where, signer, clock)
    with pytest.raises(LogTamperedError, match="a hold placed and never lifted has no record"):
        _hub_on(where, signer, clock, adopt_state=True)  # the full check instead
    assert not where.rows("SELECT key FROM records WHERE space = 'digest'")  # none written
    for row in [r for r in rows if r[0] in ("hold", "digest")]:
        where.execute("INSERT INTO records VALUES (?, ?, ?)", row)
    _restart(where, signer, clock).close()  # restored: it starts


@pytest.mark.requirement("RK-LOG-010")
def test_a_deleted_request_id_record_is_never_taken_for_an_unused_request_id(
    hub: Durable,
) -> None:
    """A used request id's record deleted while the hub is down: the id is found in
    the log before it is accepted again (500 ``log-tampered``, recorded in the
    administrative log); with the state digest deleted too, the hub refuses to
    start, and the full check made when an operator adopts the store finds it."""
    where, signer, clock, fed, links = hub
    # escapes and non-ASCII in the canonical record: each store's index finds it
    _query(fed, links["r0"], USED)
    fed.hub.log_barrier().result(10)
    fed.close()
    rows = [r for r in _stored_records(where) if r[0] in ("request", "digest")]
    where.execute("DELETE FROM records WHERE space = 'request'")
    again = _restart(where, signer, clock)
    with pytest.raises(LogTamperedError, match="the used request id has no record"):
        _query(again, links["r0"], USED)
    again.hub.log_barrier().result(10)
    tampered = [a for a in again.hub.logs.admin_entries if a.event.value == "log-tampered"]
    assert [a.details["location"] for a in tampered] == ["request of access entry 1"]
    again.close()
    where.execute("DELETE FROM records WHERE space = 'digest'")
    with pytest.raises(LogTamperedError, match="state digest"):
        _restart(where, signer, clock)
    with pytest.raises(LogTamperedError, match="the used request id has no record"):
        _hub_on(where, signer, clock, adopt_state=True)
    for row in rows:
        if row[0] == "request":
            where.execute("INSERT INTO records VALUES (?, ?, ?)", row)
    _hub_on(where, signer, clock, adopt_state=True).close()  # adopted: the digest written
    fed = _restart(where, signer, clock)
    with pytest.raises(ConflictError, match="already used"):
        _query(fed, links["r0"], USED)
    fed.close()


def test_a_postgresql_server_that_goes_away_refuses_answers_and_loses_none() -> None:
    """PostgreSQL stopped under the running hub (its own server here): the queued
    step is not acknowledged, new work is refused with 503 ``log-store-unavailable``;
    once the server is back the store reconnects and commits the backlog, once."""
    from .postgres import PostgresCluster, pg_bin

    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip("PostgreSQL is not installed (.ci/run installs it)")
    cluster = PostgresCluster(bin_dir)
    try:
        where = Backend("postgresql", Path(), cluster)
        fed = _hub_on(where, Ed25519PrivateKey.generate(), ControllableClock(T0))
        links = _populate(fed)
        linkage = _query(fed, links["r0"], "q-1")
        fed.hub.log_barrier().result(10)
        cluster.halt()
        fed.hub.answer(B, linkage.linkage_id, PAYLOAD)  # queued; its commit fails
        with pytest.raises(UnavailableError, match="log-store-unavailable"):
            fed.hub.log_barrier().result(10)
        with pytest.raises(UnavailableError, match="log-store-unavailable"):
            _query(fed, links["r1"], "q-2")
        cluster.start()
        _wait_writable(fed.log_store)
        assert fed.hub.status(A, linkage.linkage_id)[1] == PAYLOAD
        fed.hub.log_barrier().result(10)
        outcomes = where.rows("SELECT entry FROM leaves WHERE log = 'access' ORDER BY serial")
        assert [json.loads(e)["outcome"] for (e,) in outcomes] == ["approved", "provided"]
        fed.close()
    finally:
        cluster.stop()


@pytest.mark.requirement("RK-LOG-010")
def test_state_records_deleted_or_put_back_from_an_earlier_copy_refuse_the_start(
    hub: Durable,
) -> None:
    """Each record verifies, yet the set does not: a linkage in flight deleted, an
    ended linkage or an earlier state of one put back, every record (their digest
    too) put back from an earlier copy while the logs went on, or the marker of
    the serial records are kept from deleted (which would have the store adopted
    as one written before the sealed records) — the start is refused, without
    reading the log's entries (the sealed digest)."""
    where, signer, clock, fed, links = hub
    ended = _query(fed, links["r0"], "q-ended")
    fed.hub.log_barrier().result(10)
    earlier = _stored_records(where)  # ``ended`` pending
    fed.hub.deliveries(B)
    fed.hub.answer(B, ended.linkage_id, PAYLOAD)
    fed.hub.status(A, ended.linkage_id)  # provided: handed out
    fed.hub.acknowledge(A, ended.linkage_id)  # ended
    flight = _query(fed, links["r1"], "q-flight")
    fed.hub.deliveries(B)  # delivered
    fed.hub.log_barrier().result(10)
    fed.close()
    now = _stored_records(where)
    row = {(s, k): v for s, k, v in earlier}
    flight_row = next(r for r in now if r[:2] == ("linkage", flight.linkage_id))

    def refused(match: str) -> None:
        with pytest.raises(LogTamperedError, match=match):
            _restart(where, signer, clock)

    where.execute("DELETE FROM records WHERE space = 'linkage'")
    refused("linkage records")  # the linkage in flight deleted
    where.execute("INSERT INTO records VALUES (?, ?, ?)", flight_row)
    key = ("linkage", ended.linkage_id)
    where.execute("INSERT INTO records VALUES (?, ?, ?)", (*key, row[key]))
    refused("linkage records")  # an ended linkage put back
    where.execute("DELETE FROM records WHERE space = 'linkage' AND key = ?", (key[1],))
    pending = next(v for s, k, v in earlier if s == "linkage")
    where.execute("UPDATE records SET value = ? WHERE space = 'linkage'", (pending,))
    where.execute("UPDATE records SET key = ? WHERE space = 'linkage'", (key[1],))
    refused("linkage records")  # a record put back in place of another
    where.execute("DELETE FROM records")
    for r in earlier:  # everything, its digest too, from the earlier copy
        where.execute("INSERT INTO records VALUES (?, ?, ?)", r)
    refused("state digest.*earlier copy")
    where.execute("DELETE FROM records")
    for r in now:  # the serial records are kept from, deleted: not taken for an old store
        if r[:2] != ("control", "records-from"):
            where.execute("INSERT INTO records VALUES (?, ?, ?)", r)
    refused("records-from.*deleted")
    where.execute("DELETE FROM records")
    for r in now:
        where.execute("INSERT INTO records VALUES (?, ?, ?)", r)
    again = _restart(where, signer, clock)  # as it was: it starts
    assert set(again.hub.linkages.linkages) == {flight.linkage_id}
    again.close()
