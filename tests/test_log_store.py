"""The hub's durable log store: group commit, restart, store full, purge, kill -9.

(RK-LOG-001, RK-LOG-004, RK-LOG-006, RK-LOG-009, RK-RET-002, RK-RET-003.)

* A hub reopened over the same ``SqliteLogStore`` and signing key has the same
  access and administrative logs, checkpoints, receipts and proofs.
* Appends queued together are committed in one transaction; a barrier
  completes only after the commit.
* A store that cannot write (``database or disk is full``) refuses new
  linkages with 503 ``log-store-unavailable``, keeps every queued entry and
  commits it once it can write again.
* Purging under retention keeps the leaf hash and drops the content from the
  database file; holds survive a restart.
* ``renkei serve --state-dir`` killed with SIGKILL restarts with a log that is
  consistent with every checkpoint it published before.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_conformance.target import InProcessTransport
from renkei_reference.core.check_digit import resident_code_check_digit
from renkei_reference.core.codes import ResidentCode
from renkei_reference.core.errors import UnavailableError
from renkei_reference.core.merkle import verify_consistency, verify_inclusion
from renkei_reference.core.patterns import LinkagePattern
from renkei_reference.core.retention import LogClass
from renkei_reference.services import hub_wire as wire
from renkei_reference.services.app import create_app
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Agency, Federation, FourItems
from renkei_reference.services.hub import HoldScopeIn, QueryIn
from renkei_reference.services.store.keystore import MemoryKeyStore
from renkei_reference.services.store.log_store import Change, SqliteLogStore

from .postgres import Backend

pytestmark = pytest.mark.requirement("RK-LOG-001", "RK-LOG-004", "RK-LOG-006", "RK-RET-003")

T0 = datetime(2030, 1, 1, tzinfo=UTC)
ROOT_SECRET = b"\x07" * 32
AUDITOR = Agency("auditor", "第三者機関", "auditor")
A, B = Agency("a", "A庁", "agency"), Agency("b", "B市", "municipality")
ITEMS = [FourItems(f"氏名{i}", f"住所{i}", "1980-01-01", "female") for i in range(3)]
FULL = "database or disk is full"


def _rc(i: int) -> ResidentCode:
    body = f"{1_000_000_000 + i:010d}"
    return ResidentCode(body + str(resident_code_check_digit(body)))


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


class FullDisk(SqliteLogStore):
    """A store whose disk fills up on demand, as SQLite reports it."""

    full = False

    def _write(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        if self.full:
            raise sqlite3.OperationalError(FULL)
        super()._write(conn, changes)


def _federation(
    path: Path, signer: Ed25519PrivateKey, clock: ControllableClock, store: type = SqliteLogStore
) -> Federation:
    return Federation(
        clock,
        MemoryKeyStore(T0, ROOT_SECRET),
        log_store=store(path, retry_seconds=0.05),
        log_signer=signer,
    )


def _hub_on(
    backend: Backend,
    signer: Ed25519PrivateKey,
    clock: ControllableClock,
    name: str = "logs",
    *,
    full_disk: bool = False,
    adopt_state: bool = False,
) -> Federation:
    """A federation whose hub keeps its logs in ``backend``'s store ``name``
    (the store closed again if the hub refuses to start)."""
    store = backend.open(name, full_disk=full_disk, retry_seconds=0.05)
    try:
        return Federation(
            clock,
            MemoryKeyStore(T0, ROOT_SECRET),
            log_store=store,
            log_signer=signer,
            adopt_state=adopt_state,
        )
    except BaseException:
        store.close()
        raise


def _populate(fed: Federation) -> dict[str, str]:
    """Agencies, a pattern, residents and bound link codes; returns A's link codes."""
    for agency in (A, B, AUDITOR):
        fed.register(agency)
    fed.registry.load((_rc(i), items) for i, items in enumerate(ITEMS))
    fed.hub.load_patterns(
        [
            LinkagePattern(
                "P-1",
                "別表1",
                "p",
                frozenset({"a"}),
                frozenset({"b"}),
                frozenset({"k"}),
                answer_within_seconds=60,
            )
        ]
    )
    results = fed.hub.bind_all(A, [(f"r{i}", items) for i, items in enumerate(ITEMS)])
    return {r.record_ref: str(r.link_code) for r in results}


def _query(fed: Federation, link: str, rid: str, pattern: str = "P-1") -> Any:
    body = {
        "request_id": rid,
        "requester": "a",
        "provider": "b",
        "pattern_id": pattern,
        "information_kind": "k",
        "link_code": link,
    }
    return fed.hub.query(A, QueryIn(**body))


def _activity(fed: Federation, links: dict[str, str], n: int) -> None:
    for i in range(n):
        linkage = _query(fed, links[f"r{i % 3}"], f"q{i}-{fed.hub.latest_checkpoint().tree_size}")
        if i % 2:
            fed.hub.deliveries(B)
            fed.hub.answer(B, linkage.linkage_id, "c2VhbGVk")
            fed.hub.status(A, linkage.linkage_id)
    with pytest.raises(Exception, match="unknown-pattern"):
        _query(fed, links["r0"], f"refused-{n}", pattern="P-X")


def _snapshot(fed: Federation) -> dict[str, Any]:
    hub = fed.hub
    size = hub.latest_checkpoint().tree_size
    dump = hub.dump()
    return {
        "checkpoint": hub.latest_checkpoint(),
        "receipts": [hub.receipt_for(s) for s in range(1, size + 1)],
        "consistency": [hub.consistency(m, size) for m in range(1, size + 1)],
        "access_log": dump["hub.access_log"],
        "admin_log": dump["hub.admin_log"],
        "log_tree": dump["hub.log_tree"],
    }


def test_a_reopened_hub_has_the_same_logs_checkpoints_and_proofs(backend: Backend) -> None:
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    fed = _hub_on(backend, signer, clock)
    links = _populate(fed)
    _activity(fed, links, 9)
    fed.hub.log_barrier().result(10)
    before = _snapshot(fed)
    assert before["checkpoint"].tree_size == 9 + 4 + 1  # approved, provided, refused
    fed.close()

    again = _hub_on(backend, signer, clock)
    assert _snapshot(again) == before
    # The reopened log goes on: new entries are consistent with the old checkpoint.
    for agency in (A, B):
        again.register(agency)
    old_size = before["checkpoint"].tree_size
    with pytest.raises(Exception, match="unknown-pattern"):
        _query(again, links["r0"], "after-restart", pattern="P-X")
    latest = again.hub.latest_checkpoint()
    proof = again.hub.consistency(old_size, latest.tree_size).proof
    verify_consistency(
        old_size,
        latest.tree_size,
        [_b64(h) for h in proof],
        _b64(before["checkpoint"].root_hash),
        _b64(latest.root_hash),
    )
    again.close()


def test_the_administrative_log_records_what_changed_and_never_the_four_items(
    backend: Backend,
) -> None:
    """RK-LOG-006: agency registrations, the pattern document, the binding
    request (counts only), holds, retention, purges and auditor reads."""
    clock = ControllableClock(T0)
    fed = _hub_on(backend, Ed25519PrivateKey.generate(), clock)
    links = _populate(fed)
    _activity(fed, links, 2)
    hold = fed.hub.place_hold(AUDITOR, "case 1", None, HoldScopeIn(serials=(1, 1)))
    fed.hub.auditor_entries(AUDITOR, 0, 10)
    clock.set(T0 + timedelta(days=365 * 7 + 5))
    fed.hub.expire_due()
    fed.hub.lift_hold(AUDITOR, hold.hold.hold_id)
    page = wire.admin_page(fed.hub.admin_entries(AUDITOR, 0, 100))
    events = [e["event"] for e in page["entries"]]
    assert events.count("agency-registered") == 3
    assert "pattern-document-loaded" in events
    binding = next(e for e in page["entries"] if e["event"] == "binding-request")
    assert binding["actor"] == "a"
    assert binding["details"] == {"records": 3, "bound": 3, "review": 0, "rejected": 0}
    text = json.dumps(page, ensure_ascii=False)
    for items in ITEMS:
        assert items.name not in text
        assert items.address not in text
    for link in links.values():
        assert link not in text
    purges = [e for e in page["entries"] if e["event"] == "purge"]
    assert [e["details"]["ranges"] for e in purges] == [[[2, 4]], [[1, 1]]]
    assert events[-5:] == [
        "legal-hold-placed",
        "auditor-read",
        "purge",
        "legal-hold-lifted",
        "purge",
    ]
    # Integrity: the leaves hash to the signed checkpoint's root (RK-LOG-004 protection).
    cp = page["checkpoint"]
    assert cp["tree_size"] == len(page["entries"])
    assert cp["origin"].endswith("/admin-log")
    assert json.loads(_b64(page["entries"][0]["leaf"])) == {
        k: v for k, v in page["entries"][0].items() if k != "leaf"
    }
    # The read itself is logged, as the next entry.
    assert fed.hub.admin_entries(AUDITOR, cp["tree_size"], 1).entries[0].event.value == (
        "auditor-read"
    )
    fed.close()


def test_appends_from_concurrent_requests_share_commits(backend: Backend) -> None:
    """Group commit: many appends queued while a commit runs go into the next one,
    and each barrier completes only once its entries are committed."""
    store = backend.open()
    futures = []
    for serial in range(1, 2001):
        store.append("access", serial, bytes(32), f"entry {serial}", [(0, serial - 1, bytes(32))])
        futures.append((serial, store.barrier()))
    futures[0][1].result(10)
    assert backend.rows("SELECT max(serial) FROM leaves")[0][0] >= 1
    for serial, future in futures[::50] + futures[-1:]:
        future.result(10)
        assert backend.rows("SELECT max(serial) FROM leaves")[0][0] >= serial
    assert 1 <= store.batches < 2000, "appends were batched into fewer transactions"
    store.close()
    assert backend.rows("SELECT count(*) FROM leaves") == [(2000,)]


def test_a_full_store_refuses_new_linkages_and_loses_no_entry(backend: Backend) -> None:
    clock = ControllableClock(T0)
    fed = _hub_on(backend, Ed25519PrivateKey.generate(), clock, full_disk=True)
    store: Any = fed.log_store
    links = _populate(fed)
    _query(fed, links["r0"], "q-ok")
    fed.hub.log_barrier().result(10)

    store.full = True
    linkage = _query(fed, links["r1"], "q-in-flight")  # queued, then the commit fails
    with pytest.raises(UnavailableError) as failed:
        fed.hub.log_barrier().result(10)
    assert failed.value.problem == "log-store-unavailable"
    assert failed.value.status_hint == 503
    size = fed.hub.latest_checkpoint().tree_size
    with pytest.raises(UnavailableError, match="log-store-unavailable"):
        _query(fed, links["r2"], "q-refused")
    assert fed.hub.latest_checkpoint().tree_size == size, "a refusal changes nothing"

    store.full = False  # space again: the backlog is committed by the next retry
    deadline = time.monotonic() + 10
    while store.refusal() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    fed.hub.log_barrier().result(10)
    rows = backend.rows("SELECT entry FROM leaves WHERE log = 'access' ORDER BY serial")
    stored = [json.loads(e) for (e,) in rows]
    assert [e["request_id"] for e in stored] == ["q-ok", "q-in-flight"]
    assert stored[1]["linkage_id"] == linkage.linkage_id
    _query(fed, links["r2"], "q-after")  # accepted again
    fed.close()


def test_the_web_layer_answers_503_while_the_store_is_full(backend: Backend) -> None:
    store_box: list[Any] = []

    def factory(clock: Any) -> Federation:
        fed = _hub_on(
            backend, Ed25519PrivateKey.generate(), clock, f"logs{len(store_box)}", full_disk=True
        )
        store_box.append(fed.log_store)
        return fed

    app = create_app(test_mode=True, federation_factory=factory)
    with httpx.Client(transport=InProcessTransport(app), base_url="http://hub.test") as client:
        tokens = client.post(
            "/control/agencies",
            json={"agencies": [{"agency_id": "a", "name": "A", "role": "agency"}]},
        )
        assert tokens.status_code == 200, tokens.text
        token = tokens.json()["credentials"]["a"]
        ok = client.get("/hub/checkpoints/latest", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200
        store_box[-1].full = True
        client.post(
            "/control/agencies",
            json={"agencies": [{"agency_id": "b", "name": "B", "role": "agency"}]},
        )  # an administrative entry that cannot be committed
        refused = client.get(
            "/hub/checkpoints/latest", headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.status_code == 503
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:renkei:problem:log-store-unavailable"
        store_box[-1].full = False
        time.sleep(0.3)
        again = client.get("/hub/checkpoints/latest", headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 200


@pytest.mark.requirement("RK-RET-002")
def test_purging_keeps_hashes_drops_content_and_holds_survive_a_restart(
    backend: Backend, tmp_path: Path
) -> None:
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    fed = _hub_on(backend, signer, clock)
    links = _populate(fed)
    _query(fed, links["r0"], "q-held")
    _query(fed, links["r1"], "q-purged")
    marker = fed.hub.dump()["hub.access_log"][1]["request_id"]
    fed.hub.place_hold(AUDITOR, "case", None, HoldScopeIn(serials=(1, 1)))
    fed.hub.set_retention(LogClass.HUB_ACCESS_LOG, 8)
    clock.advance(61)  # both linkages expire unanswered: entries 3 and 4
    fed.hub.expire_due()
    fed.close()

    clock.set(T0 + timedelta(days=365 * 8 + 3))
    again = _hub_on(backend, signer, clock)
    again.hub.expire_due()  # purges all but entry 1: it is held, after a restart too
    again.hub.log_barrier().result(10)
    log = again.hub.dump()["hub.access_log"]
    assert "request_id" in log[0]
    assert "request_id" not in log[1]
    new = again.hub.receipt_for(1)
    verify_inclusion(
        _b64(new.leaf_hash),
        0,
        new.tree_size,
        [_b64(h) for h in new.inclusion_proof],
        _b64(again.hub.latest_checkpoint().root_hash),
    )
    again.close()
    rows = backend.rows(
        "SELECT serial, entry IS NULL, length(leaf_hash) FROM leaves WHERE log = 'access'"
        " ORDER BY serial"
    )
    assert [(s, bool(gone), n) for s, gone, n in rows] == [
        (1, False, 32),
        (2, True, 32),
        (3, True, 32),
        (4, True, 32),
    ]
    raw = backend.stored_bytes()
    assert marker.encode() not in raw, "purged content lingers in the database files"


# ---------------------------------------------------------------------------
# renkei serve --state-dir, killed with SIGKILL
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def _serve(state: Path, target: Path, *store: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "renkei_conformance",
            "serve",
            "--port",
            "0",
            "--target-file",
            str(target),
            "--state-dir",
            str(state),
            "--plain-http",  # what is tested here is the log, not the transport
            *store,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)


def _wait_ready(target: Path, proc: subprocess.Popen[str]) -> dict[str, str]:
    deadline = time.monotonic() + 30
    while True:
        if target.exists():
            parties: dict[str, str] = json.loads(target.read_text())["parties"]
            try:
                httpx.get(parties["control"] + "/health", timeout=1).raise_for_status()
                return parties
            except httpx.HTTPError:
                pass
        assert proc.poll() is None, "renkei serve exited"
        assert time.monotonic() < deadline, "renkei serve did not start in time"
        time.sleep(0.05)


def test_a_killed_server_restarts_with_a_consistent_log(backend: Backend, tmp_path: Path) -> None:
    """``--store``: the default SQLite file in the state folder, or a PostgreSQL URL."""
    state, target = tmp_path / "state", tmp_path / "target.json"
    place = backend.place()
    store = ("--store", f"sqlite:{place}" if backend.kind == "sqlite" else place)
    with _serve(state, target, *store) as proc:
        published = _publish(_wait_ready(target, proc))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    target.unlink()
    with _serve(state, target, *store) as proc:
        _check_consistent(_wait_ready(target, proc), published)
    ((stored,),) = backend.rows("SELECT count(*) FROM leaves WHERE log = 'access'")
    assert stored >= 40, "the log lives in the store --store names"


def _register(control: str) -> dict[str, str]:
    tokens = httpx.post(
        control + "/agencies",
        json={"agencies": [{"agency_id": "kit.a", "name": "A", "role": "agency"}]},
    ).json()["credentials"]
    return {"Authorization": f"Bearer {tokens['kit.a']}"}


def _publish(parties: dict[str, str]) -> list[dict[str, Any]]:
    """Log entries (refused queries, each with a receipt) and checkpoints seen on the way."""
    hub = parties["hub"]
    published: list[dict[str, Any]] = []
    with httpx.Client(headers=_register(parties["control"]), timeout=10) as client:
        for i in range(40):  # refused queries: each one a log entry with a receipt
            r = client.post(
                hub + "/queries",
                json={
                    "request_id": f"kill-{i}",
                    "requester": "kit.a",
                    "provider": "kit.a",
                    "pattern_id": "NONE",
                    "information_kind": "k",
                    "link_code": "AQ" + "A" * 62,
                },
            )
            assert r.status_code in (403, 422), r.text
            if i % 10 == 9:
                published.append(client.get(hub + "/checkpoints/latest").json())
    return published


def _check_consistent(parties: dict[str, str], published: list[dict[str, Any]]) -> None:
    with httpx.Client(headers=_register(parties["control"]), timeout=10) as client:
        latest = client.get(parties["hub"] + "/checkpoints/latest").json()
        assert latest["verifier_key"] == published[-1]["verifier_key"], "same log key"
        assert latest["tree_size"] >= published[-1]["tree_size"]
        for old in published:
            proof = client.get(
                parties["hub"] + "/checkpoints/consistency",
                params={"first": old["tree_size"], "second": latest["tree_size"]},
            ).json()["proof"]
            verify_consistency(
                old["tree_size"],
                latest["tree_size"],
                [_b64(h) for h in proof],
                _b64(old["root_hash"]),
                _b64(latest["root_hash"]),
            )


def test_store_names_the_two_stores_and_refuses_any_other(tmp_path: Path) -> None:
    """``renkei serve --store``: empty (the state folder's SQLite file), ``sqlite:PATH``
    or a PostgreSQL URL; anything else is refused naming the accepted forms, and a
    password in the URL is never printed."""
    from renkei_reference.services.store.stores import parse_store

    default = tmp_path / "logs.sqlite3"
    assert parse_store("", default).path == default
    assert parse_store("sqlite:/x/y.db", default).path == Path("/x/y.db")
    url = "postgresql://hub:s3cret@db.example:5433/renkei"
    assert parse_store(url, default).dsn == url
    assert "s3cret" not in parse_store(url, default).describe()
    assert "dbname=renkei" in parse_store(url, default).describe()
    for bad in ("sqlite:", "mysql://h/db", "logs.sqlite3"):
        with pytest.raises(ValueError, match="expected sqlite:PATH or postgresql://"):
            parse_store(bad, default)
    done = subprocess.run(
        [sys.executable, "-m", "renkei_conformance", "serve", "--store", "mysql://h/db",
         "--state-dir", str(tmp_path / "s"), "--target-file", str(tmp_path / "t.json")],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "expected sqlite:PATH or postgresql://" in done.stderr
    assert not (tmp_path / "t.json").exists()


def test_a_response_cancelled_while_it_waits_for_the_commit_harms_no_other(
    backend: Backend,
) -> None:
    """A request whose wait for the group commit is cancelled (its client went
    away, or a graceful shutdown ran out) leaves the commit shared with the other
    requests of its batch intact: they are answered and the writer goes on
    committing (RK-LOG-001)."""
    import asyncio

    store = backend.open("cancel", retry_seconds=0.05)
    try:

        async def scenario() -> None:
            store.put_state("k1", "v1")
            shared = store.barrier()
            impatient = asyncio.ensure_future(asyncio.wrap_future(shared))
            patient = asyncio.ensure_future(asyncio.wrap_future(store.barrier()))
            await asyncio.sleep(0)
            impatient.cancel()
            await asyncio.wait_for(patient, 10)
            assert not shared.cancelled(), "one waiter cancelled the commit of every other"

        asyncio.run(scenario())
        store.put_state("k2", "v2")
        store.flush(10)  # the writer is alive and commits what comes after
        assert store.batches >= 1
    finally:
        store.close()
