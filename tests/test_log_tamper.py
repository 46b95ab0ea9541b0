"""One byte changed in the hub's stored logs is never served (RK-LOG-010; issue 16 item 3).

A durable hub (``SqliteLogStore`` in a temporary directory, keys in a key file)
logs linkages that are provided, refused and expired, rotates its ID-code key
(the stored persons are re-made under the new version), purges the oldest
entries under retention and keeps an administrative log.  Then, with the
Merkle tree's cached level lowered to 2 so that a small log has nodes of every
class (stored below the cached level, held from it up, the block not yet
complete), every stored field of every row, every node and each log's stored
checkpoint is changed one byte (a bit of a byte or of a character) at a time,
each on a fresh copy of the file:

* each change is refused with ``log-tampered`` naming the log, the place and
  the field — at start, or (a stored node below the cached level of a complete
  block, which the hub reads only for a proof) when the hub first reads it:
  never served;
* while a hub runs, each stored node it reads for a proof, changed after it
  started, is refused with ``log-tampered`` and recorded once as a
  ``log-tampered`` administrative entry, and no proof carries the changed hash;
  a changed record is never served (the hub serves what it checked at start).

The person is bound into the leaf (leaf version 2) without being revealed: the
digest differs between two entries of one person, survives the key rotation,
and a stored person changed to another valid ID code is refused.
"""

from __future__ import annotations

import base64
import json
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from renkei_conformance.target import InProcessTransport
from renkei_reference.core.codes import IdCode, id_code_of, resident_code_of
from renkei_reference.core.keys import KeyPurpose
from renkei_reference.core.log_integrity import LogTamperedError
from renkei_reference.services.app import create_app
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Federation
from renkei_reference.services.hub import ConsistencyProof, Receipt
from renkei_reference.services.store import log_store
from renkei_reference.services.store.keystore import FileKeyStore
from renkei_reference.services.store.log_store import SqliteLogStore

from .postgres import Backend, PostgresCluster, pg_sql
from .test_log_store import AUDITOR, ITEMS, T0, A, B, _populate, _query, _rc

pytestmark = pytest.mark.requirement("RK-LOG-010", "RK-LOG-004", "RK-LOG-006", "RK-RET-003")

SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
CACHED = 2  # blocks of 4 leaves: a 9-leaf log has stored, held and incomplete-block nodes


def _b64(text: str) -> bytes:
    return base64.b64decode(text)


Place = Path | str
"""Where a store lives: a SQLite file, or a PostgreSQL database's URL."""


def _store(place: Place) -> Any:
    if isinstance(place, Path):
        return SqliteLogStore(place)
    from renkei_reference.services.store.pg_store import PostgresLogStore

    return PostgresLogStore(place)


def _rows(place: Place, sql: str, args: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    """Rows read behind the hub's back, in either database (``?`` placeholders)."""
    if isinstance(place, Path):
        db = sqlite3.connect(place)
        try:
            return db.execute(sql, args).fetchall()
        finally:
            db.close()
    rows = _pg(place).execute(pg_sql(sql), args).fetchall()  # type: ignore[arg-type]
    return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in row) for row in rows]


def _execute(place: Place, sql: str, args: tuple[object, ...] = ()) -> None:
    """One change behind the hub's back, committed."""
    if isinstance(place, Path):
        db = sqlite3.connect(place)
        try:
            db.execute(sql, args)
            db.commit()
        finally:
            db.close()
        return
    _pg(place).execute(pg_sql(sql), args)  # type: ignore[arg-type]


_CONNECTIONS: dict[str, Any] = {}


def _pg(dsn: str) -> Any:
    """One autocommit connection per database, kept for the module's many reads."""
    if dsn not in _CONNECTIONS:
        import psycopg

        _CONNECTIONS[dsn] = psycopg.connect(dsn, autocommit=True)
    return _CONNECTIONS[dsn]


def _forget(dsn: str) -> None:
    conn = _CONNECTIONS.pop(dsn, None)
    if conn is not None:
        conn.close()


def _dump(place: Place) -> list[list[tuple[Any, ...]]]:
    """Every stored row, in key order."""
    return [
        _rows(place, f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
        for table, key in (*_KEYS.items(), ("records", ("space", "key")))
    ]


@dataclass
class Durable:
    folder: Path
    pristine: bytes  # the database file, every batch committed and checkpointed
    clock_at: datetime
    cluster: PostgresCluster | None = None  # PostgreSQL: the pristine copy is a database
    source: str = ""

    def copy(self, name: str) -> Place:
        if self.cluster is not None:  # a database made from the pristine one
            import psycopg

            db = name.replace(".", "_")
            _forget(self.cluster.dsn(db))
            with psycopg.connect(self.cluster.dsn(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}"')
                conn.execute(f'CREATE DATABASE "{db}" TEMPLATE "{self.source}"')
            return self.cluster.dsn(db)
        path = self.folder / name
        for stale in self.folder.glob(f"{name}*"):
            stale.unlink()
        path.write_bytes(self.pristine)
        return path

    def open(self, path: Place) -> Federation:
        """A hub started over ``path`` (refusing if its logs were changed)."""
        store = _store(path)
        try:
            return Federation(
                ControllableClock(self.clock_at),
                FileKeyStore(self.folder / "keys.json", T0),
                log_store=store,
                log_signer=SIGNER,
            )
        except BaseException:
            store.close()
            raise


def _bind(fed: Federation) -> dict[str, str]:
    results = fed.hub.bind_all(A, [(f"r{i}", items) for i, items in enumerate(ITEMS)])
    return {r.record_ref: str(r.link_code) for r in results}


def _provided(fed: Federation, link: str, rid: str) -> None:
    linkage = _query(fed, link, rid)
    fed.hub.deliveries(B)
    fed.hub.answer(B, linkage.linkage_id, "c2VhbGVk")
    fed.hub.status(A, linkage.linkage_id)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def durable(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Durable]:
    cluster: PostgresCluster | None = None
    if request.param == "postgresql":
        cluster = request.getfixturevalue("postgres_cluster")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(log_store, "CACHED_LEVEL", CACHED)
        folder = tmp_path_factory.mktemp("tamper")
        path: Place = folder / "logs.sqlite3"
        if cluster is not None:
            path = cluster.database()
        clock = ControllableClock(T0)
        fed = Federation(
            clock,
            FileKeyStore(folder / "keys.json", T0),
            log_store=_store(path),
            log_signer=SIGNER,
        )
        links = _populate(fed)  # agencies, P-1, residents r0..r2 bound
        _provided(fed, links["r0"], "q1")  # 1 approved, 2 provided
        with pytest.raises(Exception, match="unknown-pattern"):
            _query(fed, links["r0"], "q2", pattern="P-X")  # 3 refused
        clock.set(T0 + timedelta(days=365))
        _query(fed, links["r1"], "q3")  # 4 approved
        clock.set(T0 + timedelta(days=365, minutes=5))
        fed.hub.expire_due()  # 5 expired
        fed.hub.rotate(KeyPurpose.ID_CODE, timedelta(days=30))  # persons re-made
        links = _bind(fed)
        _provided(fed, links["r2"], "q4")  # 6, 7
        clock.set(T0 + timedelta(days=365 * 7 + 30))
        fed.hub.expire_due()  # purges 1 to 3
        links = _bind(fed)
        _provided(fed, links["r0"], "q5")  # 8, 9
        fed.hub.auditor_entries(AUDITOR, 0, 100)
        fed.hub.latest_checkpoint()
        fed.close()
        at = clock.now()
        # a clean start anchors the current sizes; then the file is the pristine copy
        setup = Durable(folder, b"", at)
        setup.open(path).close()
        if isinstance(path, str):
            from psycopg.conninfo import conninfo_to_dict

            yield Durable(folder, b"", at, cluster, conninfo_to_dict(path)["dbname"])
            for dsn in list(_CONNECTIONS):
                _forget(dsn)
            return
        sqlite3.connect(path).execute("PRAGMA wal_checkpoint(TRUNCATE)").connection.close()
        yield Durable(folder, path.read_bytes(), at)


# -- mutations -------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One stored value changed by one bit of one byte (or of one character)."""

    table: str
    key: tuple[object, ...]
    column: str
    position: int  # byte or character index; -1 for an integer column

    def label(self) -> str:
        return f"{self.table}{self.key}.{self.column}@{self.position}"


_KEYS = {"leaves": ("log", "serial"), "nodes": ("log", "level", "idx"), "state": ("key",)}


def _changed(value: object, position: int) -> object:
    if isinstance(value, int):
        return value ^ 0x40
    if isinstance(value, bytes):
        return value[:position] + bytes([value[position] ^ 0x01]) + value[position + 1 :]
    assert isinstance(value, str)
    return value[:position] + chr(ord(value[position]) ^ 0x01) + value[position + 1 :]


def _apply(path: Place, m: Mutation) -> bool:
    """Change the stored value; False when the database refuses the change (a key clash)."""
    import psycopg

    where = " AND ".join(f"{k} = ?" for k in _KEYS[m.table])
    ((value,),) = _rows(path, f"SELECT {m.column} FROM {m.table} WHERE {where}", m.key)
    try:
        _execute(
            path,
            f"UPDATE {m.table} SET {m.column} = ? WHERE {where}",
            (_changed(value, m.position), *m.key),
        )
    except (sqlite3.IntegrityError, psycopg.IntegrityError):
        return False
    return True


def _undo(path: Place, m: Mutation) -> None:
    """Change back what ``_apply(path, m)`` changed (each change is its own inverse)."""
    key = list(m.key)
    if m.column in _KEYS[m.table]:  # the row moved: find it at its changed key
        at = _KEYS[m.table].index(m.column)
        key[at] = _changed(key[at], m.position)
    assert _apply(path, Mutation(m.table, tuple(key), m.column, m.position))


def _positions(length: int, every: bool) -> list[int]:
    return list(range(length)) if every else sorted({0, length // 2, length - 1})


def _mutations(pristine: Place, *, sweep: bool = True) -> list[Mutation]:
    """Every column of every row, node and stored checkpoint; every byte (or
    character) of one row of each log — the access entry of a person re-made
    by the key rotation, the administrative purge entry — of one node of each
    class and of the access log's checkpoint; of the others a few bytes: the
    first, middle and last, and for JSON records the first character of each
    member's name and the first and last of its value.  Without ``sweep``, the
    few bytes of every value (the checks are the same code over either store;
    the store's part is to hand back what it keeps, each value of each row)."""
    out: list[Mutation] = []
    (purge,) = _rows(
        pristine,
        "SELECT serial FROM leaves WHERE log = 'admin' AND entry LIKE '%\"event\":\"purge\"%'",
    )
    every_rows = {("access", 6), ("admin", purge[0])} if sweep else set()
    for log, serial, leaf, entry, purged_at in _rows(
        pristine, "SELECT log, serial, leaf_hash, entry, purged_at FROM leaves ORDER BY log, serial"
    ):
        key = (log, serial)
        every = key in every_rows
        out.append(Mutation("leaves", key, "log", 0))
        out.append(Mutation("leaves", key, "serial", -1))
        out += [Mutation("leaves", key, "leaf_hash", i) for i in _positions(len(leaf), every)]
        if entry is not None:
            out += [Mutation("leaves", key, "entry", i) for i in _record_positions(entry, every)]
        if purged_at is not None:
            out += [
                Mutation("leaves", key, "purged_at", i) for i in _positions(len(purged_at), every)
            ]
    first_of_class: set[tuple[str, str]] = set()
    for log, level, idx, digest in _rows(
        pristine, "SELECT log, level, idx, hash FROM nodes ORDER BY log, level DESC, idx DESC"
    ):
        key = (log, level, idx)
        ((size,),) = _rows(
            pristine, "SELECT count(*) FROM nodes WHERE log = ? AND level = 0", (log,)
        )
        stored_below = level < CACHED and idx < (size >> CACHED) << (CACHED - level)
        node_class = (log, "held" if level >= CACHED else "stored" if stored_below else "tail")
        every = sweep and node_class not in first_of_class
        first_of_class.add(node_class)
        out.append(Mutation("nodes", key, "log", 0))
        out.append(Mutation("nodes", key, "level", -1))
        out.append(Mutation("nodes", key, "idx", -1))
        out += [Mutation("nodes", key, "hash", i) for i in _positions(len(digest), every)]
    for name, value in _rows(
        pristine, "SELECT key, value FROM state WHERE key LIKE 'checkpoint:%' ORDER BY key"
    ):
        every = sweep and name == "checkpoint:access"
        out += [Mutation("state", (name,), "value", i) for i in _positions(len(value), every)]
    return out


def _record_positions(record: str, every: bool) -> list[int]:
    if every:
        return list(range(len(record)))
    # a few characters of each member: its name's first, its value's first and last
    positions = {0, len(record) - 1}
    body = json.loads(record)
    for name in body:
        at = record.index(f'"{name}":')
        positions.add(at + 1)
        value = json.dumps(body[name], separators=(",", ":"), ensure_ascii=False)
        start = at + len(name) + 3
        positions |= {start, start + len(value) - 1}
    return sorted(positions)


# -- at start -------------------------------------------------------------------


def _log_of(m: Mutation) -> str:
    name = str(m.key[0])
    return name.removeprefix("checkpoint:")


def _refusal(durable: Durable, path: Place, m: Mutation) -> tuple[LogTamperedError, bool]:
    """The refusal of a changed log, and whether the hub started: it refuses at
    start, or else when it first reads the changed value (every entry, receipt
    and proof it serves; RK-LOG-010) — a node below the cached level of a
    complete block is read only by a proof."""
    try:
        fed = durable.open(path)
    except LogTamperedError as exc:
        return exc, False
    try:
        list(fed.hub.logs.entries())
        _, refused = _served_proofs(fed)
    except LogTamperedError as exc:
        return exc, True
    finally:
        fed.close()
    if refused:
        return refused[0], True
    pytest.fail(f"{m.label()}: the hub started over a changed log and served it")


def test_every_single_byte_change_is_refused_at_start(
    durable: Durable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_store, "CACHED_LEVEL", CACHED)
    clean = durable.open(durable.copy("clean.sqlite3"))
    assert clean.hub.latest_checkpoint().tree_size == 9
    clean.close()
    # PostgreSQL: a few bytes of every stored value (a start over PostgreSQL costs
    # 4x one over SQLite); SQLite: every byte of one row, node and checkpoint of each kind too
    mutations = _mutations(durable.copy("list.sqlite3"), sweep=durable.cluster is None)
    refused: dict[str, int] = {}
    clashes = 0
    # SQLite: a fresh copy of the file for each change; PostgreSQL: one copy of the
    # database, each change undone after the refused start (which writes nothing)
    shared = durable.copy("m.sqlite3") if durable.cluster is not None else None
    before = _dump(shared) if shared is not None else None
    for m in mutations:
        path = shared if shared is not None else durable.copy("m.sqlite3")
        if not _apply(path, m):
            clashes += 1
            continue
        exc, started = _refusal(durable, path, m)
        if shared is not None and started:  # a started hub writes: a fresh copy
            shared = durable.copy("m.sqlite3")
        elif shared is not None:
            _undo(shared, m)
        assert exc.problem == "log-tampered"
        assert exc.status_hint == 500
        if m.column != "log":  # a row moved to the other log may be missed in either
            assert exc.log == _log_of(m), (m.label(), str(exc))
        refused[exc.field] = refused.get(exc.field, 0) + 1
    if shared is not None:
        assert _dump(shared) == before, "a refused start or an undo changed the database"
    total = sum(refused.values())
    print(f"\n{len(mutations)} mutations, {total} refused at start, {clashes} refused by SQLite")
    print(json.dumps(refused, sort_keys=True))
    assert total + clashes == len(mutations)
    assert total > (1500 if durable.cluster is None else 450)
    assert {"entry", "leaf_hash", "hash", "purged_at", "checkpoint"} <= set(refused)
    # a person changed within its entry: every character of the swept row (a person
    # swapped for another valid one: test_the_person_is_bound_…, on both stores)
    assert "person" in refused or durable.cluster is not None


# -- while the hub runs ---------------------------------------------------------------


def _stored_lower_nodes(path: Place) -> list[tuple[str, int, int]]:
    """The nodes below the cached level in complete blocks: read from the store."""
    out = []
    for log in ("access", "admin"):
        ((size,),) = _rows(path, "SELECT count(*) FROM nodes WHERE log = ? AND level = 0", (log,))
        for level in range(CACHED):
            out += [(log, level, idx) for idx in range((size >> CACHED) << (CACHED - level))]
    return out


def _served_proofs(fed: Federation) -> tuple[list[bytes], list[LogTamperedError]]:
    """Every receipt, inclusion and consistency proof the hub serves; the refusals."""
    hub, served, refused = fed.hub, [], []
    calls: list[Callable[[], Receipt | ConsistencyProof]] = []
    size = hub.latest_checkpoint().tree_size
    admin_size = hub.admin_entries(AUDITOR, 0, 0).checkpoint.tree_size
    calls += [lambda s=s: hub.receipt_for(s) for s in range(4, size + 1)]  # 1-3 purged
    calls += [lambda m=m: hub.consistency(m, size) for m in range(1, size + 1)]
    calls += [lambda m=m: hub.admin_consistency(m, admin_size) for m in range(1, admin_size + 1)]
    for call in calls:
        try:
            answer = call()
        except LogTamperedError as exc:
            refused.append(exc)
            continue
        proof = answer.inclusion_proof if isinstance(answer, Receipt) else answer.proof
        served += [_b64(h) for h in proof]
    return served, refused


def test_a_node_changed_while_the_hub_runs_is_refused_reported_and_never_served(
    durable: Durable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_store, "CACHED_LEVEL", CACHED)
    nodes = _stored_lower_nodes(durable.copy("list.sqlite3"))
    assert {(log, level) for log, level, _ in nodes} == {
        (log, level) for log in ("access", "admin") for level in range(CACHED)
    }
    mutations = [Mutation("nodes", key, "hash", position) for key in nodes for position in (0, 31)]
    for m in mutations:
        path = durable.copy("run.sqlite3")
        fed = durable.open(path)
        before = fed.hub.admin_entries(AUDITOR, 0, 1000).checkpoint.tree_size
        assert _apply(path, m)  # another writer changes the file under the running hub
        ((stored,),) = _rows(
            path, "SELECT hash FROM nodes WHERE log = ? AND level = ? AND idx = ?", m.key
        )
        served, refused = _served_proofs(fed)
        assert refused, f"{m.label()}: no proof read the changed node"
        assert stored not in served, f"{m.label()}: a proof carried the changed hash"
        entries = fed.hub.admin_entries(AUDITOR, before, 1000).entries
        reports = [e.details for e in entries if e.event.value == "log-tampered"]
        assert reports, m.label()
        assert all(r["log"] == m.key[0] for r in reports), (m.label(), reports)
        places = [(r["log"], r["location"], r["field"]) for r in reports]
        assert len(places) == len(set(places)), "each place is reported once"
        fed.close()
    print(f"\n{len(mutations)} nodes changed while running, each refused and reported")


def test_the_web_layer_answers_log_tampered_as_a_problem(
    durable: Durable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A proof over a node changed under the running hub: 500 problem+json
    ``log-tampered`` naming the log, the place and the field."""
    monkeypatch.setattr(log_store, "CACHED_LEVEL", CACHED)
    path = durable.copy("web.sqlite3")
    feds: list[Federation] = []

    def factory(clock: Any) -> Federation:
        feds.append(durable.open(path))
        return feds[-1]

    app = create_app(test_mode=True, federation_factory=factory)
    token = feds[-1].register(AUDITOR)
    assert _apply(path, Mutation("nodes", ("access", 0, 0), "hash", 3))
    with httpx.Client(transport=InProcessTransport(app), base_url="http://hub.test") as client:
        answer = client.get(
            "/hub/checkpoints/consistency",
            params={"first": 1, "second": 9},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 500
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["type"] == "urn:renkei:problem:log-tampered"
    assert problem["title"] == "Log tampered"
    assert problem["requirement"] == "RK-LOG-010"
    assert (problem["log"], problem["field"]) == ("access", "hash")
    assert problem["location"].startswith("node level 0")
    feds[-1].close()


# -- the person in the leaf -------------------------------------------------------


def _record(path: Place, serial: int) -> dict[str, Any]:
    ((entry,),) = _rows(
        path, "SELECT entry FROM leaves WHERE log = 'access' AND serial = ?", (serial,)
    )
    record: dict[str, Any] = json.loads(entry)
    return record


def test_the_person_is_bound_into_the_leaf_and_revealed_nowhere(
    durable: Durable, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaf version 2 holds a digest of the person, never the ID code; two
    entries of one person share nothing; the digest held across the key
    rotation (the hub started over the re-made persons); a stored person
    changed to another person's valid ID code is refused when it is read."""
    monkeypatch.setattr(log_store, "CACHED_LEVEL", CACHED)
    path = durable.copy("person.sqlite3")
    fed = durable.open(path)
    receipts = [fed.hub.receipt_for(s) for s in (6, 7, 8, 9)]
    leaves = [json.loads(_b64(r.leaf)) for r in receipts]
    records = [_record(path, s) for s in (6, 7, 8, 9)]
    for leaf, record in zip(leaves, records, strict=True):
        assert leaf["leaf_version"] == 2
        assert "person" not in leaf
        assert leaf["person_digest"] == record["person_digest"]
        assert len(bytes.fromhex(leaf["person_digest"])) == 32
        assert record["person"] not in json.dumps(leaf)
        assert {k: v for k, v in record.items() if k not in ("person", "person_digest")} == {
            k: v for k, v in leaf.items() if k != "person_digest"
        }
    assert records[0]["person"] == records[1]["person"]  # one linkage, one person
    assert leaves[0]["person_digest"] != leaves[1]["person_digest"]
    keys = FileKeyStore(durable.folder / "keys.json", T0)
    version = keys.ring(KeyPurpose.ID_CODE).current
    assert version == 2
    assert bytes.fromhex(_record(path, 4)["person"])[0] == version  # re-made, still bound
    fed.close()

    # another person's valid ID code in place of the stored one
    person = IdCode(bytes.fromhex(records[0]["person"]))
    cipher = keys.cipher(KeyPurpose.ID_CODE, version)
    resident = resident_code_of(cipher, person)
    other = next(_rc(i) for i in range(3) if _rc(i) != resident)
    swapped = id_code_of(cipher, other).hex()
    _execute(
        path,
        "UPDATE leaves SET entry = replace(entry, ?, ?) WHERE log = 'access' AND serial = 6",
        (records[0]["person"], swapped),
    )
    fed = durable.open(path)  # a start reads no entry but those of linkages in flight
    try:
        with pytest.raises(LogTamperedError, match="serial 6, person: not the person the leaf"):
            fed.hub.receipt_for(6)
    finally:
        fed.close()


def test_renkei_serve_refuses_to_start_over_a_changed_log(tmp_path: Path, backend: Backend) -> None:
    """The operator is told which log, row and field; exit status 3, no traceback."""
    from renkei_reference.cli import _durable
    from renkei_reference.services.store.stores import parse_store

    state = tmp_path / "state"
    place = backend.place()
    store = f"sqlite:{place}" if backend.kind == "sqlite" else place
    fed = _durable(state, parse_store(store, state / "logs.sqlite3"))(ControllableClock(T0))
    fed.register(A)
    fed.close()
    assert _apply(Path(place) if backend.kind == "sqlite" else place,
                  Mutation("leaves", ("admin", 1), "entry", 12))  # fmt: skip
    refused = refused_start(tmp_path, state, store)
    assert "refusing to start: the stored admin log was changed: serial 1, entry" in refused


# -- logs written before leaf version 2 ------------------------------------------------


def test_a_log_from_before_leaf_version_2_starts_and_is_anchored_from_then_on(
    tmp_path: Path,
) -> None:
    """Entries logged before keep their version-1 leaf and are checked for what
    it binds; such a log kept no signed checkpoint, which is accepted only while
    every record is of version 1 — a version-2 log whose checkpoints are
    deleted is refused."""
    from renkei_reference.core.access_log import (
        AccessLogEntry,
        Outcome,
        entry_record,
        leaf_bytes,
    )
    from renkei_reference.services.store.keystore import MemoryKeyStore
    from renkei_reference.services.store.signed_log import SignedLog

    path = tmp_path / "old.sqlite3"
    store = SqliteLogStore(path)
    log = SignedLog("access", "renkei.reference/hub/access-log", SIGNER, store)
    old = AccessLogEntry(
        serial=1,
        at=T0,
        pattern_id="P-1",
        legal_basis=None,
        requester="a",
        requester_name="A庁",
        provider="b",
        provider_name="B市",
        information_kind="k",
        outcome=Outcome.APPROVED,
        reason=None,
        detail=None,
        linkage_id="lk-1",
        request_id="q-1",
        person=b"\x01" * 28,
        salt=b"\x02" * 32,
        leaf_version=1,
    )
    log.append(1, leaf_bytes(old), entry_record(old))
    assert "leaf_version" not in entry_record(old)
    store.put_state(log.key, None)  # as kept before: no checkpoint
    store.close()

    def start() -> Federation:  # a store from before the state digest: adopted once
        return Federation(
            ControllableClock(T0),
            MemoryKeyStore(T0, b"\x07" * 32),
            log_store=SqliteLogStore(path),
            log_signer=SIGNER,
            adopt_state=True,
        )

    fed = start()
    leaf = json.loads(_b64(fed.hub.receipt_for(1).leaf))
    assert "leaf_version" not in leaf
    assert "person_digest" not in leaf
    fed.close()
    db = sqlite3.connect(path)
    keys = {k for (k,) in db.execute("SELECT key FROM state WHERE key LIKE 'checkpoint:%'")}
    assert keys == {"checkpoint:access", "checkpoint:admin"}  # anchored from this start on
    db.close()


def test_deleted_checkpoints_of_a_version_2_log_are_refused(
    durable: Durable, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(log_store, "CACHED_LEVEL", CACHED)
    path = durable.copy("anchor.sqlite3")
    _execute(path, "DELETE FROM state WHERE key LIKE 'checkpoint:%'")
    with pytest.raises(LogTamperedError, match="checkpoint: it is gone"):
        durable.open(path)


# -- the tree check, as a property ---------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    size=st.integers(min_value=1, max_value=80),
    cached=st.integers(min_value=1, max_value=4),
    pick=st.integers(min_value=0),
    bit=st.integers(min_value=0, max_value=255),
)
def test_check_tree_keeps_a_true_tree_and_refuses_any_flipped_node(
    size: int, cached: int, pick: int, bit: int
) -> None:
    """``check_tree`` over the stored nodes of a tree of any size gives back its
    counts, its levels from the cached level up and the incomplete block below;
    one bit flipped in any stored node that has children or a parent is refused.
    (The one node with neither, the last leaf of an odd size > 1 or the only
    leaf, is checked against its row by ``SignedLog.rows``; the every-byte
    test above covers it.)"""
    from renkei_reference.core.log_integrity import check_tree
    from renkei_reference.core.merkle import MemoryNodeStore, MerkleLog, leaf_hash

    nodes = MemoryNodeStore()
    tree = MerkleLog(nodes)
    for i in range(size):
        tree.append(leaf_hash(i.to_bytes(4, "big")))
    levels = [
        [nodes.get(level, i) for i in range(nodes.count(level))]
        for level in range(size.bit_length())
    ]

    def stored(rows: list[list[bytes]]) -> Callable[[int], Iterator[tuple[int, object]]]:
        return lambda level: iter(enumerate(rows[level]) if level < len(rows) else ())

    checked = check_tree("access", size, cached, stored(levels))
    assert checked.counts == [len(row) for row in levels]
    assert checked.upper == [b"".join(row) for row in levels[cached:]]
    whole = (size >> cached) << cached
    assert checked.tail == [b"".join(row[whole >> lv :]) for lv, row in enumerate(levels[:cached])]

    places = [
        (lv, i)
        for lv, row in enumerate(levels)
        for i in range(len(row))
        if lv > 0 or i < (size >> 1) << 1  # a leaf with a parent
    ]
    assume(places)
    level, index = places[pick % len(places)]
    changed = [list(row) for row in levels]
    digest = changed[level][index]
    changed[level][index] = (
        digest[: bit // 8] + bytes([digest[bit // 8] ^ (1 << bit % 8)]) + digest[bit // 8 + 1 :]
    )
    with pytest.raises(LogTamperedError) as caught:
        check_tree("access", size, cached, stored(changed))
    assert caught.value.field == "hash"
    assert caught.value.where.startswith("node level")


def refused_start(tmp_path: Path, state: Path, store: str) -> str:
    """``renkei serve`` on ``state`` and ``store``, which must refuse to start: exit 3,
    no traceback, no target file written.  Its standard error."""
    done = subprocess.run(
        [*RENKEI_SERVE, "--target-file", str(tmp_path / "target.json"),
         "--state-dir", str(state), "--plain-http", "--store", store],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "target.json").exists()
    return done.stderr


RENKEI_SERVE = (sys.executable, "-m", "renkei_conformance", "serve", "--port", "0")
