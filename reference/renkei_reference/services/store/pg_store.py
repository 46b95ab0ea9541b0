"""The hub's durable logs in PostgreSQL (RK-LOG-004, RK-LOG-006, RK-LOG-010, RK-RET-003).

``PostgresLogStore`` is the ``LogStore`` (services.store.log_store) of ``renkei serve
--store postgresql://…``: the same rows as ``SqliteLogStore`` — one a leaf (serial,
leaf hash, record or NULL once purged), the Merkle tree's perfect-subtree nodes, the
``state`` settings and the hub's sealed ``records`` — in four tables of the database
the URL names (created if missing), and the same behaviour:

* **Group commit.**  Changes are queued in order; one writer thread drains
  everything queued so far into *one* transaction and commits it.  ``atomic``
  holds a hub step's changes back and queues them as one run, so a step is
  never split across transactions.  ``barrier`` completes once everything
  queued before it is committed.
* **Durable commit.**  The writer's session sets ``synchronous_commit = on``: a
  commit returns once its WAL record is flushed to disk (and to a synchronous
  standby, where the operator configured one).
* **Store unavailable.**  A failed commit (server down, disk full, connection
  lost) rolls the batch back and keeps it queued; waiters get ``503
  log-store-unavailable``, ``refusal`` refuses new work, and the writer retries
  every ``retry_seconds`` on a fresh connection if the old one broke.
* **Checked on read.**  The store returns what is stored and believes none of it:
  the hub checks every row, node, checkpoint and record as it does over SQLite
  (services.store.signed_log, log_integrity, ``RecordingNodeStore``,
  ``SealedRecords``).  Hashes are ``bytea``; text that is not valid UTF-8 cannot
  be stored, so a changed byte reads as a different text, which the checks report.
* **Indexes.**  Every read is a primary-key range: a level's nodes, a block of
  leaf hashes and one node by ``(log, level, idx)``, the leaves by ``(log,
  serial)``, a space's records by ``(space, key)``; streams page through them by
  key (``PAGE`` rows a query), never holding a cursor open.  Keys use the ``C``
  collation, so records stream in the byte order SQLite gives.
* **Purge.**  A purge sets ``entry`` to NULL and keeps the leaf hash.  An UPDATE
  leaves the old row version in the table's pages, and a plain ``VACUUM`` frees
  it without overwriting it, so once the queue is idle after a purge the writer
  runs ``VACUUM FULL`` on the leaves and records: the tables are rewritten and
  the old files, purged text and all, removed.  That rewrites the whole table
  and holds its lock while it runs (a purge is rare: retention runs, not
  requests); a log at national scale would purge by dropping time partitions
  instead.  PostgreSQL's WAL (and any WAL archive or standby) still holds the
  purged text until its segments are recycled: the operator's WAL retention
  bounds how long (RK-RET-003).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import psycopg

from ...core.errors import UnavailableError
from ...core.log_integrity import LogTamperedError
from ...core.merkle import HASH_SIZE
from .log_store import CACHED_LEVEL, LeafRow, LoadedLog, LogStore, store_unavailable

__all__ = ["PAGE", "SCHEMA", "PostgresLogStore", "erase"]

Node = tuple[int, int, bytes]

PAGE = 4096
"""Rows fetched by one query of a stream."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    log text COLLATE "C" NOT NULL, serial bigint NOT NULL, leaf_hash bytea NOT NULL,
    entry text, purged_at text, PRIMARY KEY (log, serial));
CREATE TABLE IF NOT EXISTS nodes (
    log text COLLATE "C" NOT NULL, level integer NOT NULL, idx bigint NOT NULL,
    hash bytea NOT NULL, PRIMARY KEY (log, level, idx));
CREATE TABLE IF NOT EXISTS state (key text COLLATE "C" PRIMARY KEY, value text NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    space text COLLATE "C" NOT NULL, key text COLLATE "C" NOT NULL, value text NOT NULL,
    PRIMARY KEY (space, key));
"""
"""The store's tables; every lookup is a range of a primary key."""

TABLES = ("leaves", "nodes", "state", "records")


def _done() -> Future[None]:
    f: Future[None] = Future()
    f.set_result(None)
    return f


_DONE = _done()


@dataclass(frozen=True, slots=True)
class Change:
    """One queued change: an appended leaf with its nodes, a state or record row
    set (value) or deleted (None) — ``row = (table, space, key, value)`` — or a
    statement run once for each of its ``rows`` (purge, rewrite)."""

    leaf: tuple[str, int, bytes, str] | None = None
    nodes: Sequence[tuple[str, int, int, bytes]] = ()
    row: tuple[str, str, str, str | None] | None = None
    sql: str | None = None
    rows: Sequence[tuple[object, ...]] = ()
    is_purge: bool = False


def connect(dsn: str, *, autocommit: bool = False) -> psycopg.Connection[Any]:
    """A connection with the store's settings (durable commit)."""
    conn = psycopg.connect(dsn, autocommit=autocommit)
    conn.execute("SET synchronous_commit = on")
    if not autocommit:
        conn.commit()
    return conn


def erase(dsn: str) -> None:
    """Drop the store's tables (a reset of the test-mode federation starts afresh)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES))


class PostgresLogStore:
    """The durable ``LogStore`` over PostgreSQL: one writer thread, group commit."""

    def __init__(self, dsn: str, *, retry_seconds: float = 0.5) -> None:
        self.dsn = dsn
        self.retry_seconds = retry_seconds
        self._conn: psycopg.Connection[Any] | None = connect(dsn)
        with self._conn.transaction():
            # one creator at a time: CREATE TABLE IF NOT EXISTS races otherwise
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('renkei-store-schema'))")
            self._conn.execute(SCHEMA)
        self._reader = connect(dsn, autocommit=True)
        self._read_lock = threading.Lock()
        self._committed_size: dict[str, int] = {}
        self._cond = threading.Condition()
        self._queue: list[Change] = []
        self._seq = 0  # changes ever queued
        self._taken = 0  # changes the writer has taken into its transaction
        self._committed = 0  # changes committed
        self._inflight: Future[None] = Future()
        self._next: Future[None] = Future()
        self._failure: BaseException | None = None
        self._closing = False
        self._group = threading.local()
        self.batches = 0
        self._writer = threading.Thread(target=self._run, name="renkei-pg-writer", daemon=True)
        self._writer.start()

    # -- reading (a second connection, autocommit: committed data only) --------
    def _select(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        with self._read_lock:
            if self._reader.broken:  # the server restarted: read on a fresh connection
                self._reader.close()
                self._reader = connect(self.dsn, autocommit=True)
            return self._reader.execute(sql, args).fetchall()

    def _pages(
        self, sql: str, args: tuple[object, ...], start: object, key: Callable[[Any], object]
    ) -> Iterator[Any]:
        """The rows of ``sql`` (its last parameter: the key to start after, then
        ``LIMIT``), fetched ``PAGE`` at a time by key."""
        after = start
        while True:
            rows = self._select(sql, (*args, after, PAGE))
            yield from rows
            if len(rows) < PAGE:
                return
            after = key(rows[-1])

    def load(self, log: str) -> LoadedLog:
        out = LoadedLog()
        while True:  # each level is written in index order from 0: its count is max + 1
            level = len(out.counts)
            ((top,),) = self._select(
                "SELECT max(idx) FROM nodes WHERE log = %s AND level = %s", (log, level)
            )
            if top is None:
                return out
            out.counts.append(top + 1)
            if level >= CACHED_LEVEL:
                hashes = list(self.hashes(log, level))
                if len(hashes) != top + 1:
                    raise LogTamperedError(log, f"node level {level}", "nodes", "missing")
                out.upper.append(b"".join(hashes))

    def leaves(self, log: str) -> Iterator[LeafRow]:
        """The stored leaves in serial order, streamed."""
        sql = (
            "SELECT serial, leaf_hash, entry, purged_at FROM leaves"
            " WHERE log = %s AND serial > %s ORDER BY serial LIMIT %s"
        )
        for row in self._pages(sql, (log,), -1, lambda r: r[0]):
            yield LeafRow(row[0], bytes(row[1]), row[2], row[3])

    def nodes(self, log: str, level: int) -> Iterator[tuple[int, bytes]]:
        """The stored ``(index, hash)`` rows of one level in index order, streamed."""
        sql = (
            "SELECT idx, hash FROM nodes WHERE log = %s AND level = %s AND idx > %s"
            " ORDER BY idx LIMIT %s"
        )
        for idx, digest in self._pages(sql, (log, level), -1, lambda r: r[0]):
            yield idx, bytes(digest)

    def hashes(self, log: str, level: int) -> Iterator[bytes]:
        """The stored node hashes of one level in index order, streamed."""
        return (digest for _, digest in self.nodes(log, level))

    def block(self, log: str, first: int, count: int) -> list[tuple[int, bytes]]:
        """The stored ``(index, leaf hash)`` nodes of leaves ``first`` to ``first + count − 1``."""
        return [
            (i, bytes(h))
            for i, h in self._select(
                "SELECT idx, hash FROM nodes WHERE log = %s AND level = 0"
                " AND idx >= %s AND idx < %s ORDER BY idx",
                (log, first, first + count),
            )
        ]

    def node(self, log: str, level: int, index: int) -> bytes:
        """One stored node hash; ``KeyError`` if it is not stored (committed)."""
        rows = self._select(
            "SELECT hash FROM nodes WHERE log = %s AND level = %s AND idx = %s",
            (log, level, index),
        )
        if not rows:
            raise KeyError((level, index))
        return bytes(rows[0][0])

    def committed(self, log: str) -> int:
        """How many leaves of ``log`` are committed (its highest committed serial)."""
        with self._cond:
            known = self._committed_size.get(log)
        if known is None:
            ((stored,),) = self._select("SELECT max(serial) FROM leaves WHERE log = %s", (log,))
            with self._cond:
                known = max(stored or 0, self._committed_size.get(log, 0))
                self._committed_size[log] = known
        return known

    def state(self) -> dict[str, str]:
        return dict(self._select("SELECT key, value FROM state", ()))

    def records(self, space: str) -> Iterator[tuple[str, str]]:
        """The committed records of one space, streamed in key order."""
        sql = "SELECT key, value FROM records WHERE space = %s AND key > %s ORDER BY key LIMIT %s"
        yield from self._pages(sql, (space,), "", lambda r: r[0])

    # -- queued changes ------------------------------------------------------------
    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """Every change queued inside the block (by this thread) is queued as one
        run at its end: the writer commits all of them in one transaction or none."""
        if getattr(self._group, "changes", None) is not None:
            yield  # nested: the outer block queues them
            return
        self._group.changes = []
        try:
            yield
        finally:
            changes: list[Change] = self._group.changes
            self._group.changes = None
            if changes:
                self._enqueue_all(changes)

    def _enqueue(self, change: Change) -> None:
        held = getattr(self._group, "changes", None)
        if held is not None:
            held.append(change)
            return
        self._enqueue_all([change])

    def _enqueue_all(self, changes: list[Change]) -> None:
        with self._cond:
            if self._closing:
                raise RuntimeError("the log store is closed")
            self._seq += len(changes)
            self._queue.extend(changes)
            self._cond.notify()

    def append(
        self, log: str, serial: int, leaf_hash: bytes, entry: str, nodes: Sequence[Node]
    ) -> None:
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        rows = [(log, level, index, digest) for level, index, digest in nodes]
        self._enqueue(Change(leaf=(log, serial, leaf_hash, entry), nodes=rows))

    def purge(self, log: str, serials: Sequence[int], purged_at: str) -> None:
        sql = "UPDATE leaves SET entry = NULL, purged_at = %s WHERE log = %s AND serial = %s"
        self._enqueue(Change(sql=sql, rows=[(purged_at, log, s) for s in serials], is_purge=True))

    def rewrite(self, log: str, entries: Sequence[tuple[int, str]]) -> None:
        sql = "UPDATE leaves SET entry = %s WHERE log = %s AND serial = %s AND entry IS NOT NULL"
        self._enqueue(Change(sql=sql, rows=[(e, log, s) for s, e in entries]))

    def put_state(self, key: str, value: str | None) -> None:
        self._enqueue(Change(row=("state", "", key, value)))

    def put_record(self, space: str, key: str, value: str | None) -> None:
        """Set (or, with None, delete) one record."""
        self._enqueue(Change(row=("records", space, key, value)))

    # -- acknowledgement -------------------------------------------------------------
    def barrier(self) -> Future[None]:
        """Completes when every change queued so far is committed; fails with
        ``log-store-unavailable`` at once while the store cannot write."""
        with self._cond:
            if self._committed >= self._seq:
                return _DONE
            if self._failure is not None:
                failed: Future[None] = Future()
                failed.set_exception(store_unavailable(self._failure))
                return failed
            return self._next if self._seq > self._taken else self._inflight

    def refusal(self) -> UnavailableError | None:
        """The error to refuse new work with while a backlog cannot be written."""
        with self._cond:
            failure = self._failure
        return store_unavailable(failure) if failure is not None else None

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything queued is committed (tests, shutdown)."""
        self.barrier().result(timeout)

    # -- the writer --------------------------------------------------------------------
    def _write(self, conn: psycopg.Connection[Any], changes: Sequence[Change]) -> None:
        """One transaction for the whole batch: its appends in one statement each for
        leaves and nodes, each row's last change (a subclass may fail it in tests)."""
        leaves: list[tuple[str, int, bytes, str]] = []
        nodes: list[tuple[str, int, int, bytes]] = []
        rows: dict[tuple[str, str, str], str | None] = {}
        with conn.transaction(), conn.cursor() as cur:

            def flush() -> None:
                if leaves:
                    cur.executemany(
                        "INSERT INTO leaves (log, serial, leaf_hash, entry)"
                        " VALUES (%s, %s, %s, %s)",
                        leaves,
                    )
                    cur.executemany("INSERT INTO nodes VALUES (%s, %s, %s, %s)", nodes)
                    leaves.clear()
                    nodes.clear()

            for change in changes:
                if change.leaf is not None:
                    leaves.append(change.leaf)
                    nodes.extend(change.nodes)
                elif change.row is not None:
                    table, space, key, value = change.row
                    rows[(table, space, key)] = value
                elif change.sql is not None:
                    flush()
                    cur.executemany(change.sql, change.rows)
            flush()
            _write_rows(cur, rows)

    def _connection(self) -> psycopg.Connection[Any]:
        """The writer's connection, opened afresh after one broke."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._conn = connect(self.dsn)
        return self._conn

    def _run(self) -> None:
        purged = False
        while True:
            with self._cond:
                while not self._queue and not self._closing:
                    self._cond.wait()
                if not self._queue:
                    return
                batch = list(self._queue)
                self._taken = self._committed + len(batch)
                self._inflight, self._next = self._next, Future()
                future = self._inflight
            try:
                self._write(self._connection(), batch)
            except psycopg.Error as exc:
                with self._cond:
                    self._failure = exc
                    self._taken = self._committed  # the batch goes back to the queue
                    closing = self._closing
                future.set_exception(store_unavailable(exc))
                if closing:
                    return  # the backlog cannot be written; it was never acknowledged
                with self._cond:
                    self._cond.wait(self.retry_seconds)
                continue
            with self._cond:
                del self._queue[: len(batch)]
                self._committed = self._taken
                for change in batch:
                    if change.leaf is not None and change.leaf[0] in self._committed_size:
                        self._committed_size[change.leaf[0]] = change.leaf[1]
                self._failure = None
                self.batches += 1
                idle = not self._queue
            future.set_result(None)
            purged = purged or any(c.is_purge for c in batch)
            if purged and idle:  # no purged text stays in the tables' files (RK-RET-003)
                with contextlib.suppress(psycopg.Error), self._read_lock:
                    self._reader.execute("VACUUM FULL leaves, records")
                purged = False

    def close(self) -> None:
        """Commit what is queued (if the store can), stop the writer, close the connections."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._writer.join()
        if self._conn is not None:
            self._conn.close()
        self._reader.close()


def _write_rows(cur: psycopg.Cursor[Any], rows: dict[tuple[str, str, str], str | None]) -> None:
    """The state and record rows a batch set or deleted, one statement of each kind."""
    put = [(s, k, v) for (t, s, k), v in rows.items() if t == "records" and v is not None]
    gone = [(s, k) for (t, s, k), v in rows.items() if t == "records" and v is None]
    state = [(k, v) for (t, _, k), v in rows.items() if t == "state" and v is not None]
    dropped = [(k,) for (t, _, k), v in rows.items() if t == "state" and v is None]
    if put:
        cur.executemany(
            "INSERT INTO records VALUES (%s, %s, %s)"
            " ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value",
            put,
        )
    if gone:
        cur.executemany("DELETE FROM records WHERE space = %s AND key = %s", gone)
    if state:
        cur.executemany(
            "INSERT INTO state VALUES (%s, %s)"
            " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            state,
        )
    if dropped:
        cur.executemany("DELETE FROM state WHERE key = %s", dropped)


def _is_log_store(store: PostgresLogStore) -> LogStore:
    return store  # mypy checks that the class implements the protocol
