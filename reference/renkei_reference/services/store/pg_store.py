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
* **Indexes.**  Every read is a primary-key range — a level's nodes, a block of
  leaf hashes and one node by ``(log, level, idx)``, the leaves by ``(log,
  serial)``, a space's records by ``(space, key)`` — or, for a linkage's or a
  person's held entries, an expression index on the record's field; streams page through them by
  key (``PAGE`` rows a query), never holding a cursor open.  Keys use the ``C``
  collation, so records stream in the byte order SQLite gives.
* **Purge.**  A purge sets ``entry`` to NULL and keeps the leaf hash.  An UPDATE
  leaves the old row version in the table's pages, and a plain ``VACUUM`` frees
  it without overwriting it, so once the queue is idle after a purge the writer
  runs ``VACUUM FULL`` on the leaves and records: the tables are rewritten and
  the old files, purged text and all, removed.  That rewrites the whole table
  and holds its lock while it runs (a purge is rare: retention runs, not
  requests); a log at national scale would purge by dropping time partitions
  instead.  PostgreSQL's WAL (and any WAL archive, standby or backup) still holds
  what was written, so a hub with a state folder stores every entry sealed under
  a key of its own kept there, outside the database (services.store.entry_keys),
  and the purge overwrites the key: what the WAL keeps opens under no key
  (RK-RET-003).
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg

from ...core.log_integrity import LogTamperedError
from . import log_store
from .entry_keys import SEALED_START
from .group_commit import Change, Dialect, GroupCommitStore, statements, store_unavailable
from .log_store import INDEXED, KEY_CHARS, LeafRow, LoadedLog, LogStore, _checked
from .witness import CheckpointWitness

__all__ = ["PAGE", "SCHEMA", "PostgresLogStore", "erase"]

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
"""The store's tables; every lookup is a range of a primary key or of an index below."""


_VALUE = {"request_id": r'((?:[^"\\]|\\.)*)'}
"""The pattern of a field's value in the canonical record: hex ids, but a request
id is any string (as JSON writes it, escapes included)."""


def _key(field: str) -> str:
    # the canonical record's text, not a cast to jsonb: a record changed into
    # something else than JSON is still stored, and refused when it is read
    value = _VALUE.get(field, "([0-9a-f]+)")
    return f'right(substring(entry from \'"{field}":"{value}"\'), {KEY_CHARS})'


def _written(field: str, value: str) -> str:
    """``value`` as the canonical record writes it (``json.dumps``, as
    core.access_log does): what the index of ``field`` keeps the end of."""
    return json.dumps(value, ensure_ascii=False)[1:-1] if field in _VALUE else value


_UNREADABLE = (
    "entry IS NOT NULL AND NOT (left(entry, 1) = '{' AND right(entry, 1) = '}'"
    + "".join(f" AND strpos(entry, '\"{f}\":') > 0" for f in INDEXED)
    + ")"
)
"""A held record the indexes cannot read (as ``log_store._UNREADABLE``, on the
canonical record's text): not an object, or a member of ``INDEXED`` missing."""

_INDEX = "CREATE INDEX IF NOT EXISTS leaves_{} ON leaves ({}) WHERE {};\n"

INDEXES = "".join(
    _INDEX.format(f, f"log, {_key(f)}", "entry IS NOT NULL") for f in INDEXED
) + _INDEX.format("unreadable", "log, serial", _UNREADABLE)
"""The held records by linkage and by person (their last ``KEY_CHARS`` characters)."""

TABLES = ("leaves", "nodes", "state", "records")


SQL = Dialect(
    insert_leaf="INSERT INTO leaves (log, serial, leaf_hash, entry) VALUES (%s, %s, %s, %s)",
    insert_node="INSERT INTO nodes VALUES (%s, %s, %s, %s)",
    put_record="INSERT INTO records VALUES (%s, %s, %s)"
    " ON CONFLICT (space, key) DO UPDATE SET value = EXCLUDED.value",
    delete_record="DELETE FROM records WHERE space = %s AND key = %s",
    put_state="INSERT INTO state VALUES (%s, %s)"
    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
    delete_state="DELETE FROM state WHERE key = %s",
)


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


class PostgresLogStore(GroupCommitStore):
    """The durable ``LogStore`` over PostgreSQL: one writer thread, group commit."""

    _errors = (psycopg.Error,)
    _purge_sql = "UPDATE leaves SET entry = NULL, purged_at = %s WHERE log = %s AND serial = %s"
    _rewrite_sql = (
        "UPDATE leaves SET entry = %s WHERE log = %s AND serial = %s AND entry IS NOT NULL"
    )

    def __init__(
        self, dsn: str, *, retry_seconds: float = 0.5, witness: CheckpointWitness | None = None
    ) -> None:
        super().__init__(retry_seconds=retry_seconds, witness=witness)
        self.dsn = dsn
        self._conn: psycopg.Connection[Any] | None = connect(dsn)
        with self._conn.transaction():
            # one creator at a time: CREATE TABLE IF NOT EXISTS races otherwise
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext('renkei-store-schema'))")
            self._conn.execute(SCHEMA)
            self._conn.execute(INDEXES)
        self._reader = connect(dsn, autocommit=True)
        self._read_lock = threading.Lock()
        self._start("renkei-pg-writer")

    # -- reading (a second connection, autocommit: committed data only) --------
    def _select(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        """The rows of one query; on a connection the server dropped, once more on a
        fresh one, else 503 ``log-store-unavailable`` (the request is refused, not failed)."""
        with self._read_lock:
            for attempt in (1, 2):
                try:
                    if self._reader.broken:  # the server restarted: read on a fresh connection
                        self._reader.close()
                        self._reader = connect(self.dsn, autocommit=True)
                    return self._reader.execute(sql, args).fetchall()
                except psycopg.OperationalError as exc:
                    if attempt == 2 or not self._reader.broken:
                        raise store_unavailable(exc) from exc
            raise AssertionError("not reached: the second attempt returns or raises")

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
            if level >= log_store.CACHED_LEVEL:  # read when called: tests lower it
                hashes = list(self.hashes(log, level))
                if len(hashes) != top + 1:
                    raise LogTamperedError(log, f"node level {level}", "nodes", "missing")
                out.upper.append(b"".join(hashes))

    def leaves(self, log: str, first: int = 1, limit: int = -1) -> Iterator[LeafRow]:
        """The stored leaves from serial ``first`` on, at most ``limit`` (-1: all,
        streamed), in serial order."""
        sql = (
            "SELECT serial, leaf_hash, entry, purged_at FROM leaves"
            " WHERE log = %s AND serial > %s ORDER BY serial LIMIT %s"
        )
        rows = (
            self._select(sql, (log, first - 1, limit))
            if limit >= 0
            else self._pages(sql, (log,), first - 1, lambda r: r[0])
        )
        for row in rows:
            yield LeafRow(row[0], bytes(row[1]), self._opened(log, row[0], row[2]), row[3])

    def leaf(self, log: str, serial: int) -> LeafRow | None:
        """One stored (committed) leaf, None if there is none."""
        rows = self._select(
            "SELECT serial, leaf_hash, entry, purged_at FROM leaves WHERE log = %s AND serial = %s",
            (log, serial),
        )
        if not rows:
            return None
        return LeafRow(serial, bytes(rows[0][1]), self._opened(log, serial, rows[0][2]), rows[0][3])

    def _first_sealed(self, log: str, first: int) -> int | None:
        rows = self._select(
            "SELECT serial FROM leaves WHERE log = %s AND serial >= %s"
            f" AND left(entry, {len(SEALED_START)}) = %s ORDER BY serial LIMIT 1",
            (log, first, SEALED_START),
        )
        return int(rows[0][0]) if rows else None

    def _is_purged(self, log: str, serial: int) -> bool:
        rows = self._select(
            "SELECT entry IS NULL FROM leaves WHERE log = %s AND serial = %s", (log, serial)
        )
        return bool(rows and rows[0][0])

    def find(self, log: str, field: str, value: str) -> list[int]:
        """The serials of the held records whose ``field`` ends as ``value`` does,
        through its index (as ``SqliteLogStore.find``): candidates to check."""
        if field not in INDEXED:
            raise ValueError(f"no index on {field!r}")
        sql = (
            f"SELECT serial FROM leaves WHERE log = %s AND {_key(field)} = %s"
            " AND entry IS NOT NULL ORDER BY serial"
        )
        tag, clear = self._tags(log, field, value)
        found = [] if tag is None else [s for (s,) in self._select(sql, (log, tag))]
        if clear:  # rows written in the clear, indexed by their own text
            key = _written(field, value)[-KEY_CHARS:]
            found = sorted({*found, *(s for (s,) in self._select(sql, (log, key)))})
        return found

    def unreadable(self, log: str) -> int | None:
        """The first held record the indexes cannot read (as
        ``SqliteLogStore.unreadable``, through a partial index)."""
        sql = f"SELECT serial FROM leaves WHERE log = %s AND {_UNREADABLE} ORDER BY serial LIMIT 1"
        rows = self._select(sql, (log,))
        return int(rows[0][0]) if rows else None

    def find_checked(self, log: str, field: str, value: str) -> tuple[list[int], int | None]:
        """``find`` and ``unreadable`` in one statement, one round trip (as
        ``SqliteLogStore.find_checked``)."""
        if field not in INDEXED:
            raise ValueError(f"no index on {field!r}")
        tag, clear = self._tags(log, field, value)
        if tag is None or clear:
            return self.find(log, field, value), self.unreadable(log)
        sql = (
            f"SELECT serial, 0 FROM leaves WHERE log = %s AND {_key(field)} = %s"
            " AND entry IS NOT NULL UNION ALL (SELECT serial, 1 FROM leaves"
            f" WHERE log = %s AND {_UNREADABLE} ORDER BY serial LIMIT 1)"
        )
        return _checked(self._select(sql, (log, tag, log)))

    def nodes(self, log: str, level: int, first: int = 0) -> Iterator[tuple[int, bytes]]:
        """The stored ``(index, hash)`` rows of one level from index ``first`` on,
        in index order, streamed."""
        sql = (
            "SELECT idx, hash FROM nodes WHERE log = %s AND level = %s AND idx > %s"
            " ORDER BY idx LIMIT %s"
        )
        for idx, digest in self._pages(sql, (log, level), first - 1, lambda r: r[0]):
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

    def _stored_size(self, log: str) -> int:
        ((stored,),) = self._select("SELECT max(serial) FROM leaves WHERE log = %s", (log,))
        return int(stored or 0)

    def state(self) -> dict[str, str]:
        return dict(self._select("SELECT key, value FROM state", ()))

    def record(self, space: str, key: str) -> str | None:
        """One committed record, None if there is none."""
        rows = self._select("SELECT value FROM records WHERE space = %s AND key = %s", (space, key))
        return str(rows[0][0]) if rows else None

    def records(self, space: str) -> Iterator[tuple[str, str]]:
        """The committed records of one space, streamed in key order."""
        sql = "SELECT key, value FROM records WHERE space = %s AND key > %s ORDER BY key LIMIT %s"
        yield from self._pages(sql, (space,), "", lambda r: r[0])

    # -- the writer --------------------------------------------------------------------
    pipelined = True
    """Whether a batch is sent in pipeline mode (one round trip for its statements)."""

    def _write(self, conn: psycopg.Connection[Any], changes: Sequence[Change]) -> None:
        """One transaction for the whole batch (a subclass may fail it in tests),
        sent in pipeline mode: its statements and the commit reach the server
        together and are answered in one round trip, not one each."""
        pipeline = conn.pipeline() if self.pipelined else contextlib.nullcontext()
        with pipeline, conn.transaction(), conn.cursor() as cur:
            for statement, params in statements(changes, SQL):
                cur.executemany(statement, params)

    def _connection(self) -> psycopg.Connection[Any]:
        """The writer's connection, opened afresh after one broke."""
        if self._conn is None or self._conn.closed or self._conn.broken:
            if self._conn is not None:
                self._conn.close()
            self._conn = None
            self._conn = connect(self.dsn)
        return self._conn

    def _write_batch(self, changes: Sequence[Change]) -> None:
        self._write(self._connection(), changes)

    def _after_purge(self) -> bool:
        with contextlib.suppress(psycopg.Error), self._read_lock:  # no purged text in the files
            self._reader.execute("VACUUM FULL leaves, records")
        return True

    def _close_connections(self) -> None:
        if self._conn is not None:
            self._conn.close()
        self._reader.close()


def _is_log_store(store: PostgresLogStore) -> LogStore:
    return store  # mypy checks that the class implements the protocol
