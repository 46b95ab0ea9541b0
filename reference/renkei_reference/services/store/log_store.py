"""Durable storage of the hub's logs, with group commit (RK-LOG-004, RK-LOG-006, RK-RET-003).

Theory of operation.

* **What is stored.**  For each log (``access``, ``admin``): one row a leaf —
  the serial, the RFC 9162 leaf hash and the stored record (``entry``, NULL
  once purged, with ``purged_at``) — and the perfect-subtree node hashes of
  the Merkle tree (core.merkle ``NodeStore``: ``(level, index) → hash``).  A
  small ``state`` table keeps the hub settings that purging depends on
  (legal holds, retention periods), so that a restart can never purge what a
  hold protects.
* **Group commit.**  The hub works in memory and hands every change to the
  store in order (``append``, ``purge``, ``rewrite``, ``put_state``); a single
  writer thread drains everything queued so far into *one* transaction and
  commits it.  Concurrent requests therefore share one commit (and one fsync)
  instead of paying one each.  ``barrier()`` returns a future that completes
  once everything queued before the call is committed; the web layer awaits it
  before it sends a response, so a receipt, a checkpoint or any answer that
  depends on a log entry is acknowledged only after that entry is on disk.
* **Durability setting.**  SQLite in WAL mode with ``synchronous=FULL``: every
  commit fsyncs the WAL, so a committed batch survives a power loss, not only
  a crash of the process.  ``NORMAL`` would survive ``kill -9`` but could lose
  the last batches on power loss — after the hub had handed out signed
  checkpoints covering them, which would then contradict the log on restart.
  Group commit is what makes the fsync affordable: its cost is paid once a
  batch, not once an entry.
* **Store full.**  When a commit fails (``database or disk is full``, an I/O
  error), the batch is rolled back but nothing is dropped: the changes stay
  queued, the waiting requests get ``503 log-store-unavailable``, and the
  writer retries every ``retry_seconds``.  While the backlog is not committed,
  ``refusal()`` returns that error and the hub refuses new linkages and
  bindings before changing any state (RK-LOG-001: no linkage without its log
  entry).  Once a retry commits, everything proceeds.
* **Restart memory.**  A restart holds neither the stored rows nor the
  lower levels of the Merkle tree: ``load`` gives the node counts and the
  levels from ``CACHED_LEVEL`` up (64 B / 2^CACHED_LEVEL a leaf); the rows are
  read when the hub asks for them — ``leaf``/``leaves`` by serial, ``find`` by
  linkage id or person through an expression index on the record (the last
  ``KEY_CHARS`` characters: candidates the hub reads and checks), ``record``
  one state record — through a second connection (WAL: it sees every
  committed batch and never waits for the writer).  Nodes appended since are
  held in memory until their batch is committed (``committed``), then read
  from the store too (``RecordingNodeStore.trim``); the hub holds what it
  wrote until ``settled`` says the store has it (``mark``).
* **Checked on read (RK-LOG-010).**  Nothing read back is believed: at start
  the hub checks the upper levels, the incomplete block and the signed
  checkpoint (services.signed_log); ``RecordingNodeStore`` checks each
  lower-level node it reads later against the block of leaves under a node it
  holds — for which it keeps, below ``CACHED_LEVEL``, the nodes of the block
  not yet complete in memory (at most 2^(CACHED_LEVEL+1) − 1 hashes, 64 KiB);
  and each row is checked when the hub reads it (services.store.log_integrity).
  Text is read with ``surrogateescape``, so that a byte changed into invalid
  UTF-8 is a mismatch the checks report, not a crash; a record changed into
  something that is not JSON has no index key and is refused when read.
* **Purge.**  A purge sets ``entry`` to NULL and keeps the leaf hash
  (RK-RET-003); ``secure_delete`` overwrites the freed content in the database
  file and the WAL is checkpointed with TRUNCATE afterwards.  A reader's open
  transaction can keep the WAL from being reset, and backups keep what they
  copied, so a hub with a state folder stores every entry sealed under a key of
  its own kept outside the database (services.store.entry_keys), which the purge
  overwrites: the sealed copies left behind open under no key.

``MemoryLogStore`` keeps nothing and acknowledges at once: the in-process
targets and unit tests, whose hub state lives and dies with the process.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ...core.errors import UnavailableError
from ...core.log_integrity import BlockCheck, LogTamperedError, block_levels
from ...core.merkle import HASH_SIZE
from .entry_keys import INDEXED_MEMBERS, SEALED_START
from .group_commit import (
    _DONE,
    CHECKPOINT_STATE,
    Change,
    Dialect,
    GroupCommitStore,
    Node,
    statements,
    store_unavailable,
)
from .sealed_records import RecordMap, SealedRecords
from .witness import CheckpointWitness

__all__ = [
    "CACHED_LEVEL",
    "CHECKPOINT_STATE",
    "INDEXED",
    "KEY_CHARS",
    "TAIL_BYTES",
    "Change",
    "LeafRow",
    "LoadedLog",
    "LogStore",
    "MemoryLogStore",
    "RecordMap",
    "RecordingNodeStore",
    "SealedRecords",
    "SqliteLogStore",
    "store_unavailable",
]

CACHED_LEVEL = 10
"""Merkle levels from this one up stay in memory (64 B / 2¹⁰ = 0.0625 B a leaf:
0.6 MB at 10⁷ entries, 7.8 MB at 125 M); the levels below are read from the
stored node rows: a proof node costs at most ``CACHED_LEVEL`` reads, and each
is checked against the block of 2¹⁰ leaves under a node held."""
TAIL_BYTES = (2 ** (CACHED_LEVEL + 1) - 1) * HASH_SIZE
"""The most held below ``CACHED_LEVEL`` besides uncommitted nodes: the nodes
of the block of 2^CACHED_LEVEL leaves not yet complete (64 KiB), which have
no ancestor held in memory to check them against (RK-LOG-010)."""


@dataclass(frozen=True, slots=True)
class LeafRow:
    """One stored leaf: ``entry`` is None once purged (then ``purged_at`` is set)."""

    serial: int
    leaf_hash: bytes
    entry: str | None
    purged_at: str | None


@dataclass
class LoadedLog:
    """What a store holds of one log's tree when the hub starts (not the leaves'
    records: ``LogStore.leaves`` streams those).

    ``counts[level]`` nodes are stored at each level; ``upper`` holds the packed
    hashes of the levels from ``CACHED_LEVEL`` up; ``tail`` (when given) those
    of the levels below that lie in the block of ``2^CACHED_LEVEL`` leaves not
    yet complete; the other lower nodes are read with ``LogStore.node``.
    """

    counts: list[int] = field(default_factory=list)
    upper: list[bytes] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)


class LogStore(Protocol):
    """Ordered, group-committed changes to the durable logs (see the module docstring)."""

    def load(self, log: str) -> LoadedLog: ...

    def leaves(self, log: str, first: int = 1, limit: int = -1) -> Iterator[LeafRow]: ...

    def leaf(self, log: str, serial: int) -> LeafRow | None: ...

    def find(self, log: str, field: str, value: str) -> list[int]: ...

    def unreadable(self, log: str) -> int | None: ...

    def find_checked(self, log: str, field: str, value: str) -> tuple[list[int], int | None]:
        """``find`` and ``unreadable`` together, in one read where the store can."""
        ...

    def mark(self) -> int | None: ...

    def settled(self, mark: int) -> bool: ...

    def hashes(self, log: str, level: int) -> Iterator[bytes]: ...

    def nodes(self, log: str, level: int, first: int = 0) -> Iterator[tuple[int, bytes]]: ...

    def block(self, log: str, first: int, count: int) -> list[tuple[int, bytes]]: ...

    def node(self, log: str, level: int, index: int) -> bytes: ...

    def committed(self, log: str) -> int: ...

    def append(
        self, log: str, serial: int, leaf_hash: bytes, entry: str, nodes: Sequence[Node]
    ) -> None: ...

    def purge(self, log: str, serials: Sequence[int], purged_at: str) -> None: ...

    def rewrite(self, log: str, entries: Sequence[tuple[int, str]]) -> None: ...

    def put_state(self, key: str, value: str | None) -> None: ...

    def state(self) -> dict[str, str]: ...

    def put_record(self, space: str, key: str, value: str | None) -> None: ...

    def put_record_later(self, space: str, key: str, value: Callable[[], str]) -> None:
        """``put_record`` with ``value()``, made when the batch is written: once a
        commit for a record rewritten at every step."""
        ...

    def records(self, space: str) -> Iterator[tuple[str, str]]: ...

    def record(self, space: str, key: str) -> str | None: ...

    def atomic(self) -> contextlib.AbstractContextManager[None]: ...

    def witnessed(self, log: str) -> str | None: ...

    def witness_required(self) -> bool:
        """Whether a log with signed checkpoints must be witnessed to start (RK-LOG-011)."""
        ...

    def barrier(self) -> Future[None]: ...

    def refusal(self) -> UnavailableError | None: ...

    def close(self) -> None: ...


class MemoryLogStore:
    """A ``LogStore`` that keeps nothing: the in-memory hub's logs die with it."""

    def load(self, log: str) -> LoadedLog:
        return LoadedLog()

    def leaves(self, log: str, first: int = 1, limit: int = -1) -> Iterator[LeafRow]:
        return iter(())

    def leaf(self, log: str, serial: int) -> LeafRow | None:
        return None

    def find(self, log: str, field: str, value: str) -> list[int]:
        return []

    def unreadable(self, log: str) -> int | None:
        return None

    def find_checked(self, log: str, field: str, value: str) -> tuple[list[int], int | None]:
        return [], None

    def mark(self) -> int | None:
        return None

    def settled(self, mark: int) -> bool:
        return False  # nothing is ever stored: the hub keeps what it wrote

    def hashes(self, log: str, level: int) -> Iterator[bytes]:
        return iter(())

    def nodes(self, log: str, level: int, first: int = 0) -> Iterator[tuple[int, bytes]]:
        return iter(())

    def block(self, log: str, first: int, count: int) -> list[tuple[int, bytes]]:
        return []

    def node(self, log: str, level: int, index: int) -> bytes:
        raise KeyError((level, index))

    def committed(self, log: str) -> int:
        return 0  # nothing is ever stored: the tree holds every node in memory

    def append(
        self, log: str, serial: int, leaf_hash: bytes, entry: str, nodes: Sequence[Node]
    ) -> None:
        pass

    def purge(self, log: str, serials: Sequence[int], purged_at: str) -> None:
        pass

    def rewrite(self, log: str, entries: Sequence[tuple[int, str]]) -> None:
        pass

    def put_state(self, key: str, value: str | None) -> None:
        pass

    def state(self) -> dict[str, str]:
        return {}

    def put_record(self, space: str, key: str, value: str | None) -> None:
        pass

    def put_record_later(self, space: str, key: str, value: Callable[[], str]) -> None:
        pass

    def records(self, space: str) -> Iterator[tuple[str, str]]:
        return iter(())

    def record(self, space: str, key: str) -> str | None:
        return None

    def atomic(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def witnessed(self, log: str) -> str | None:
        return None  # nothing outlives a memory store: there is nothing to roll back

    def witness_required(self) -> bool:
        return False

    def barrier(self) -> Future[None]:
        return _DONE

    def refusal(self) -> UnavailableError | None:
        return None

    def close(self) -> None:
        pass


class RecordingNodeStore:
    """The Merkle tree's ``NodeStore`` (core.merkle) over what a ``LogStore`` holds.

    Levels from ``CACHED_LEVEL`` up are held in memory; below it, the nodes of
    the block of ``2^CACHED_LEVEL`` leaves not yet complete are held too, and
    the nodes of complete blocks that the store held at open (and those
    ``trim`` later finds committed) are read with ``read`` — each checked
    (RK-LOG-010): the block's stored leaf hashes (``leaves``) must fold up to
    the block's node held in memory, and the node read must be the one they
    give, else ``LogTamperedError`` (after ``on_tamper`` is told).  The last
    block checked is kept, so a proof reads a block's leaves once.  It
    remembers the nodes put since the last ``take``, so the hub can hand each
    append's new nodes to the durable store.  With nothing stored
    (``MemoryLogStore``) every node is held, 64 bytes a leaf, as in
    ``MemoryNodeStore``.
    """

    __slots__ = (
        "_base",
        "_block",
        "_cached",
        "_fresh",
        "_leaves",
        "_levels",
        "_log",
        "_read",
        "_scanned",
        "_trimmable",
        "on_tamper",
    )

    def __init__(
        self,
        loaded: LoadedLog | None = None,
        read: Callable[[int, int], bytes] | None = None,
        *,
        leaves: Callable[[int, int], list[tuple[int, bytes]]] | None = None,
        log: str = "",
    ) -> None:
        loaded = loaded or LoadedLog()
        if loaded.counts and read is None:
            raise ValueError("stored nodes need a reader")
        self._cached = CACHED_LEVEL
        # per level: the index of the first node held in memory, and the held nodes
        self._base: list[int] = []
        self._levels: list[bytearray] = []
        for level, count in enumerate(loaded.counts):
            if level < self._cached:
                held = loaded.tail[level] if level < len(loaded.tail) else b""
                self._base.append(count - len(held) // HASH_SIZE)
                self._levels.append(bytearray(held))
                continue
            row = bytearray(loaded.upper[level - self._cached])
            if len(row) != count * HASH_SIZE:
                raise RuntimeError(f"level {level}: {count} nodes stored, {len(row)} bytes read")
            self._base.append(0)
            self._levels.append(row)
        self._read = read
        self._leaves = leaves
        self._log = log
        self._block: BlockCheck | None = None  # the block last checked for a proof
        self._scanned: BlockCheck | None = None  # … for a leaf an entry is read against
        self._fresh: list[Node] = []
        self._trimmable = True
        self.on_tamper: Callable[[LogTamperedError], None] | None = None

    def get(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels) and index >= 0:
            base = self._base[level]
            if index < base:
                return self._checked(level, index)
            start = (index - base) * HASH_SIZE
            row = self._levels[level]
            if start + HASH_SIZE <= len(row):
                return bytes(row[start : start + HASH_SIZE])
        raise KeyError((level, index))

    def verified(self, level: int, index: int) -> bytes:
        """The node as the tree has it: ``get``, except that a node of the block
        last checked is not read from the store again (a stored row compared
        with it is compared with the checked tree, RK-LOG-010)."""
        if 0 <= level < len(self._base) and 0 <= index < self._base[level]:
            return self._checked(level, index, reread=False)
        return self.get(level, index)

    def _tampered(self, where: str, field: str, why: str) -> LogTamperedError:
        error = LogTamperedError(self._log, where, field, why)
        if self.on_tamper is not None:
            self.on_tamper(error)
        return error

    def _checked(self, level: int, index: int, *, reread: bool = True) -> bytes:
        """A stored node below ``CACHED_LEVEL``, checked against the block of
        leaves under the held node of its complete block (RK-LOG-010)."""
        assert self._read is not None
        shift = self._cached - level
        first = (index >> shift) << self._cached
        block = self._block if reread else self._scanned
        fresh = block is None or block.first != first
        if fresh:
            size = 1 << self._cached
            rows = self._leaves(first, size) if self._leaves is not None else []
            for i, (found, digest) in enumerate(rows):
                if found != first + i or len(digest) != HASH_SIZE:
                    raise self._tampered(f"node level 0 index {first + i}", "idx", "out of place")
            if len(rows) != size:
                raise self._tampered(f"node level 0 index {first}", "nodes", "block incomplete")
            levels = block_levels([digest for _, digest in rows])
            anchor = self.get(self._cached, first >> self._cached)
            if levels[-1][0] != anchor:
                raise self._tampered(
                    f"node level 0 index {first}..{first + size - 1}",
                    "hash",
                    "the leaves do not give their block's node",
                )
            block = BlockCheck(first, levels)
            if reread:
                self._block = block
            else:
                self._scanned = block
        assert block is not None
        computed = block.get(level, index)
        assert computed is not None
        if not reread:
            return computed
        try:  # a leaf of a block just read is the row read: no second read
            stored = computed if level == 0 and fresh else self._read(level, index)
        except KeyError:
            raise self._tampered(f"node level {level} index {index}", "nodes", "missing") from None
        if stored != computed:
            raise self._tampered(
                f"node level {level} index {index}", "hash", "not the hash of its leaves"
            )
        return computed

    def put(self, level: int, index: int, digest: bytes) -> None:
        if len(digest) != HASH_SIZE:
            raise ValueError("a node hash is 32 bytes")
        while len(self._levels) <= level:
            self._base.append(0)
            self._levels.append(bytearray())
        if index != self.count(level):
            raise RuntimeError(
                f"node store is append-only: level {level} has {self.count(level)} "
                f"nodes, cannot put index {index}"
            )
        self._levels[level] += digest
        self._fresh.append((level, index, digest))

    def count(self, level: int) -> int:
        if 0 <= level < len(self._levels):
            return self._base[level] + len(self._levels[level]) // HASH_SIZE
        return 0

    def take(self) -> list[Node]:
        fresh, self._fresh = self._fresh, []
        return fresh

    def keep_all(self) -> None:
        """Never ``trim``: nodes were put that the store does not hold (parents
        recomputed on open, implied by the leaves but never stored)."""
        self._trimmable = False

    def held_bytes(self) -> int:
        """Bytes of node hashes held in memory."""
        return sum(len(row) for row in self._levels)

    def trim(self, committed: int) -> None:
        """Release the lower-level nodes of the complete blocks of the first
        ``committed`` leaves, whose batches are committed: the store serves
        them from now on (checked against the block's node held in memory)."""
        if not self._trimmable or self._read is None:
            return
        whole = (committed >> self._cached) << self._cached
        for level in range(min(self._cached, len(self._levels))):
            base = self._base[level]
            upto = min(whole >> level, self.count(level))
            if upto > base:
                del self._levels[level][: (upto - base) * HASH_SIZE]
                self._base[level] = upto


INDEXED = INDEXED_MEMBERS
"""Record fields the store indexes (the linkage's entries, the person's entries,
the entries of a request id: a used request id whose record is missing is found
there, RK-LOG-010)."""
KEY_CHARS = 16
"""An index keeps the last 16 characters of the field (64 bits of a hex id)."""


def _key(field: str) -> str:
    # a record that is not JSON (changed behind the hub's back) has no key: it is
    # still stored as it is, and refused when it is read (RK-LOG-010)
    return (
        f"(CASE WHEN json_valid(entry) THEN substr(json_extract(entry, '$.{field}'), -{KEY_CHARS})"
        " END)"
    )


_UNREADABLE = (
    "entry IS NOT NULL AND NOT (typeof(entry) = 'text' AND json_valid(entry)"
    + "".join(f" AND json_type(entry, '$.{f}') IS NOT NULL" for f in INDEXED)
    + ")"
)
"""A held record the indexes cannot read: not JSON text, or a member of
``INDEXED`` missing (every record the hub writes has each, null or not)."""

_INDEXES = "".join(
    f"CREATE INDEX IF NOT EXISTS leaves_{f} ON leaves (log, {_key(f)}) WHERE entry IS NOT NULL;\n"
    for f in INDEXED
) + (f"CREATE INDEX IF NOT EXISTS leaves_unreadable ON leaves (log, serial) WHERE {_UNREADABLE};\n")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    log TEXT NOT NULL, serial INTEGER NOT NULL, leaf_hash BLOB NOT NULL,
    entry TEXT, purged_at TEXT, PRIMARY KEY (log, serial)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS nodes (
    log TEXT NOT NULL, level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL,
    PRIMARY KEY (log, level, idx)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
    space TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (space, key)) WITHOUT ROWID;
"""


SQL = Dialect(
    insert_leaf="INSERT INTO leaves (log, serial, leaf_hash, entry) VALUES (?, ?, ?, ?)",
    insert_node="INSERT INTO nodes VALUES (?, ?, ?, ?)",
    put_record="INSERT OR REPLACE INTO records VALUES (?, ?, ?)",
    delete_record="DELETE FROM records WHERE space = ? AND key = ?",
    put_state="INSERT OR REPLACE INTO state VALUES (?, ?)",
    delete_state="DELETE FROM state WHERE key = ?",
)


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the store's settings (WAL, synchronous=FULL, secure_delete)."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA secure_delete=ON")
    return conn


def _checked(rows: Sequence[tuple[int, int]]) -> tuple[list[int], int | None]:
    """``find_checked``'s rows ``(serial, unreadable?)`` as its result."""
    return (
        sorted(int(s) for s, odd in rows if not odd),
        next((int(s) for s, odd in rows if odd), None),
    )


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _text_record(space: str, key: object, value: object) -> tuple[str, str]:
    """A state record as the hub writes it: key and value are SQLite TEXT.  The
    column types do not stop a BLOB or a number being stored there behind the
    hub's back; such a row is a changed record (RK-LOG-010), reported before
    anything reads it as text."""
    if isinstance(key, str) and isinstance(value, str):
        return key, value
    raise LogTamperedError(
        log="state",
        where=f"{space} {key!r}",
        field="record",
        why=f"its key or value is stored as {type(key).__name__}/{type(value).__name__}, "
        "the hub writes text",
    )


class SqliteLogStore(GroupCommitStore):
    """The durable ``LogStore``: one SQLite file, one writer thread, group commit."""

    _errors = (sqlite3.Error,)
    _purge_sql = "UPDATE leaves SET entry = NULL, purged_at = ? WHERE log = ? AND serial = ?"
    _rewrite_sql = "UPDATE leaves SET entry = ? WHERE log = ? AND serial = ? AND entry IS NOT NULL"

    def __init__(
        self,
        path: Path,
        *,
        retry_seconds: float = 0.5,
        witness: CheckpointWitness | None = None,
    ) -> None:
        super().__init__(retry_seconds=retry_seconds, witness=witness)
        self.path = path
        self._conn = connect(path)
        self._conn.text_factory = _text
        self._conn.executescript(_SCHEMA + _INDEXES)
        # a WAL left by a hub killed before it could truncate it after a purge still
        # holds the purged text: copied into the database and truncated now (RK-RET-003)
        self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._reader = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # a byte changed into invalid UTF-8 reads as a different text, which the
        # checks report (RK-LOG-010), instead of failing the read
        self._reader.text_factory = _text
        self._read_lock = threading.Lock()
        self._start("renkei-log-writer")

    # -- reading (a second connection: committed data, never blocking the writer) --
    def _select(self, sql: str, args: tuple[object, ...]) -> list[Any]:
        with self._read_lock:
            # fetchall runs the statement to its end: no read transaction stays
            # open to pin the WAL
            return self._reader.execute(sql, args).fetchall()

    def load(self, log: str) -> LoadedLog:
        out = LoadedLog()
        while True:  # each level is written in index order from 0: its count is max + 1
            level = len(out.counts)
            ((top,),) = self._select(
                "SELECT max(idx) FROM nodes WHERE log = ? AND level = ?", (log, level)
            )
            if top is None:
                return out
            out.counts.append(top + 1)
            if level >= CACHED_LEVEL:  # streamed into one buffer: no row objects held
                packed, count = bytearray(), 0
                for digest in self.hashes(log, level):
                    packed += digest
                    count += 1
                if count != top + 1:
                    raise LogTamperedError(log, f"node level {level}", "nodes", "missing")
                out.upper.append(bytes(packed))

    def _stream(
        self, sql: str, args: tuple[object, ...], make: Callable[[Any], Any] = tuple
    ) -> Iterator[Any]:
        """The rows of a query, fetched a few thousand at a time, each made into
        ``make(row)``; closing the iterator releases the cursor."""
        with self._read_lock:
            cursor = self._reader.execute(sql, args)
        try:
            while True:
                with self._read_lock:
                    rows = cursor.fetchmany(4096)
                if not rows:
                    return
                for row in rows:
                    yield make(row)
        finally:
            with contextlib.suppress(sqlite3.ProgrammingError):  # the store closed first
                cursor.close()

    def leaves(self, log: str, first: int = 1, limit: int = -1) -> Iterator[LeafRow]:
        """The stored leaves from serial ``first`` on, at most ``limit`` (-1: all,
        streamed), in serial order."""
        sql = (
            "SELECT serial, leaf_hash, entry, purged_at FROM leaves"
            " WHERE log = ? AND serial >= ? ORDER BY serial LIMIT ?"
        )
        if limit >= 0:
            return iter([self._row(log, r) for r in self._select(sql, (log, first, limit))])
        return self._stream(sql, (log, first, -1), lambda r: self._row(log, r))

    def _row(self, log: str, row: Any) -> LeafRow:
        serial, digest, entry, purged_at = row
        return LeafRow(serial, digest, self._opened(log, serial, entry), purged_at)

    def leaf(self, log: str, serial: int) -> LeafRow | None:
        """One stored (committed) leaf, None if there is none."""
        rows = self._select(
            "SELECT serial, leaf_hash, entry, purged_at FROM leaves WHERE log = ? AND serial = ?",
            (log, serial),
        )
        return self._row(log, rows[0]) if rows else None

    def _first_sealed(self, log: str, first: int) -> int | None:
        rows = self._select(
            "SELECT serial FROM leaves WHERE log = ? AND serial >= ?"
            f" AND substr(entry, 1, {len(SEALED_START)}) = ? ORDER BY serial LIMIT 1",
            (log, first, SEALED_START),
        )
        return int(rows[0][0]) if rows else None

    def _is_purged(self, log: str, serial: int) -> bool:
        rows = self._select(
            "SELECT entry IS NULL FROM leaves WHERE log = ? AND serial = ?", (log, serial)
        )
        return bool(rows and rows[0][0])

    def find(self, log: str, field: str, value: str) -> list[int]:
        """The serials of the held records whose ``field`` (one of ``INDEXED``)
        ends as ``value`` does, through its index: candidates, which the caller
        reads and checks (the index keeps the last ``KEY_CHARS`` characters)."""
        if field not in INDEXED:
            raise ValueError(f"no index on {field!r}")
        sql = (
            f"SELECT serial FROM leaves INDEXED BY leaves_{field}"
            f" WHERE log = ? AND {_key(field)} = ? AND entry IS NOT NULL ORDER BY serial"
        )
        tag, clear = self._tags(log, field, value)
        found = [] if tag is None else [s for (s,) in self._select(sql, (log, tag))]
        if clear:  # rows written in the clear, indexed by their own text
            found += [s for (s,) in self._select(sql, (log, value[-KEY_CHARS:]))]
            found = sorted(set(found))
        return found

    def unreadable(self, log: str) -> int | None:
        """The first held record the indexes cannot read (``_UNREADABLE``: changed
        behind the hub's back), through a partial index that is empty while
        nothing is changed; None if there is none.  A lookup that ``find``
        answers with nothing is complete only when this is None (RK-LOG-010)."""
        sql = (
            "SELECT serial FROM leaves INDEXED BY leaves_unreadable"
            f" WHERE log = ? AND {_UNREADABLE} ORDER BY serial LIMIT 1"
        )
        rows = self._select(sql, (log,))
        return int(rows[0][0]) if rows else None

    def find_checked(self, log: str, field: str, value: str) -> tuple[list[int], int | None]:
        """``find`` and ``unreadable`` in one statement: a query's check of its
        request id reads the store once (RK-FLOW-003, RK-LOG-010)."""
        if field not in INDEXED:
            raise ValueError(f"no index on {field!r}")
        tag, clear = self._tags(log, field, value)
        if tag is None or clear:  # entries in the clear: two keys to look up
            return self.find(log, field, value), self.unreadable(log)
        sql = (
            f"SELECT serial, 0 FROM leaves INDEXED BY leaves_{field}"
            f" WHERE log = ? AND {_key(field)} = ? AND entry IS NOT NULL"
            " UNION ALL SELECT * FROM (SELECT serial, 1 FROM leaves INDEXED BY leaves_unreadable"
            f" WHERE log = ? AND {_UNREADABLE} ORDER BY serial LIMIT 1)"
        )
        return _checked(self._select(sql, (log, tag, log)))

    def hashes(self, log: str, level: int) -> Iterator[bytes]:
        """The stored node hashes of one level in index order, streamed."""
        sql = "SELECT hash FROM nodes WHERE log = ? AND level = ? ORDER BY idx"
        return self._stream(sql, (log, level), lambda r: r[0])

    def nodes(self, log: str, level: int, first: int = 0) -> Iterator[tuple[int, bytes]]:
        """The stored ``(index, hash)`` rows of one level from index ``first`` on,
        in index order, streamed."""
        sql = "SELECT idx, hash FROM nodes WHERE log = ? AND level = ? AND idx >= ? ORDER BY idx"
        return self._stream(sql, (log, level, first))

    def block(self, log: str, first: int, count: int) -> list[tuple[int, bytes]]:
        """The stored ``(index, leaf hash)`` nodes of leaves ``first`` to ``first + count − 1``."""
        return [
            (i, h)
            for i, h in self._select(
                "SELECT idx, hash FROM nodes WHERE log = ? AND level = 0 AND idx >= ? AND idx < ?"
                " ORDER BY idx",
                (log, first, first + count),
            )
        ]

    def node(self, log: str, level: int, index: int) -> bytes:
        """One stored node hash; ``KeyError`` if it is not stored (committed)."""
        rows = self._select(
            "SELECT hash FROM nodes WHERE log = ? AND level = ? AND idx = ?", (log, level, index)
        )
        if not rows:
            raise KeyError((level, index))
        digest: bytes = rows[0][0]
        return digest

    def _stored_size(self, log: str) -> int:
        ((stored,),) = self._select("SELECT max(serial) FROM leaves WHERE log = ?", (log,))
        return int(stored or 0)

    def state(self) -> dict[str, str]:
        return dict(self._conn.execute("SELECT key, value FROM state").fetchall())

    def records(self, space: str) -> Iterator[tuple[str, str]]:
        """The committed records of one space (in-flight linkages, answers in
        transit, used request ids, …), streamed in key order; a key or value
        stored as something else than text is a ``LogTamperedError``."""
        sql = "SELECT key, value FROM records WHERE space = ? ORDER BY key"
        return (_text_record(space, k, v) for k, v in self._stream(sql, (space,)))

    def record(self, space: str, key: str) -> str | None:
        """One committed record, None if there is none."""
        rows = self._select("SELECT value FROM records WHERE space = ? AND key = ?", (space, key))
        return _text_record(space, key, rows[0][0])[1] if rows else None

    # -- the writer ------------------------------------------------------------
    def _write(self, conn: sqlite3.Connection, changes: Sequence[Change]) -> None:
        """One transaction for the whole batch (a subclass may fail it in tests)."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement, params in statements(changes, SQL):
                conn.executemany(statement, params)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def _write_batch(self, changes: Sequence[Change]) -> None:
        self._write(self._conn, changes)

    def _after_purge(self) -> bool:
        """Copy the WAL into the database (whose freed pages ``secure_delete``
        overwrote) and truncate it: no purged text left in the WAL.  A reader's
        open transaction (an unfinished stream of the hub's, an operator's
        backup tool) keeps the WAL from being truncated: False, retried."""
        try:
            busy, _, _ = self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.Error:
            return False
        return int(busy) == 0

    def _close_connections(self) -> None:
        self._conn.close()
        self._reader.close()
