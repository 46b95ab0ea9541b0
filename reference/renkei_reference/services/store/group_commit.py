"""Group commit: what every durable ``LogStore`` does the same, whatever its database.

The hub changes its logs and state in memory and queues the rows; one writer
thread takes everything queued and commits it in one transaction, so
concurrent requests share one commit (and one fsync).  ``barrier`` is the
future a request awaits before it answers (RK-LOG-001): it completes once
every change queued so far is committed — and, for a batch that stored a
signed checkpoint, once the checkpoint witness has it (RK-LOG-011).  A batch
that cannot be written stays queued and is retried; meanwhile ``refusal``
turns new work away with 503 ``log-store-unavailable`` and nothing accepted is
lost.  ``atomic`` groups the changes of one hub step into one run, so a log
entry and the state change it records are never committed apart.

With ``seal_entries`` (a hub with a state folder), the writer seals each batch's
new and rewritten entries under their keys (services.store.entry_keys), makes the
keys durable before the commit, and overwrites the keys of the entries a batch
purged once it is committed, before anyone waiting on it is answered (RK-RET-003).

A database store (services.store.log_store ``SqliteLogStore``,
services.store.pg_store ``PostgresLogStore``) subclasses ``GroupCommitStore``
and supplies the reads, ``_write_batch`` (one transaction for a batch),
``_after_purge`` and ``_close_connections``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, replace
from typing import Any

from ...core.errors import UnavailableError
from ...core.merkle import HASH_SIZE
from .entry_keys import EntryKeys
from .sealed_records import DIGEST_NAME, DIGEST_SPACE, DIGEST_WITNESS
from .witness import CheckpointWitness

__all__ = [
    "CHECKPOINT_STATE",
    "Change",
    "Dialect",
    "GroupCommitStore",
    "Node",
    "statements",
    "store_unavailable",
]

Node = tuple[int, int, bytes]  # (level, index, hash)

Text = Callable[[], str]
"""A row's value made when the writer takes its batch (``put_record_later``)."""

CHECKPOINT_STATE = "checkpoint:"
"""State keys ``checkpoint:<log>`` hold each log's latest signed checkpoint (signed_log)."""


def store_unavailable(cause: BaseException) -> UnavailableError:
    return UnavailableError(
        "log-store-unavailable",
        f"the hub's log store cannot write at the moment ({cause}); nothing that must be "
        "logged is done until it can — retry later",
        "RK-LOG-001",
    )


def _done() -> Future[None]:
    f: Future[None] = Future()
    f.set_result(None)
    return f


def _barrier_future() -> Future[None]:
    """A barrier shared by every request of a batch, marked running so that no
    waiter can cancel it for the others (a cancelled wrapper of it would cancel it,
    and the writer's ``set_result`` would then fail)."""
    f: Future[None] = Future()
    f.set_running_or_notify_cancel()
    return f


_DONE = _done()


@dataclass(frozen=True, slots=True)
class Change:
    """One queued change: an appended leaf with its nodes (written in bulk with the
    other appends of its batch); a state or record row set (value) or deleted
    (None) — ``row = (table, space, key, value)``, of which a batch writes only the
    last change of each row (a value given as a ``Text`` is made then, once); or a
    statement run once for each of its ``rows`` (purge, rewrite)."""

    leaf: tuple[str, int, bytes, str] | None = None
    nodes: Sequence[tuple[str, int, int, bytes]] = ()
    row: tuple[str, str, str, str | Text | None] | None = None
    sql: str | None = None
    rows: Sequence[tuple[object, ...]] = ()
    is_purge: bool = False  # content erased: the database drops its old copies afterwards


@dataclass(frozen=True, slots=True)
class Dialect:
    """The statements of a batch in one database's SQL (parameters in the order given)."""

    insert_leaf: str  # log, serial, leaf_hash, entry
    insert_node: str  # log, level, idx, hash
    put_record: str  # space, key, value (insert or replace)
    delete_record: str  # space, key
    put_state: str  # key, value (insert or replace)
    delete_state: str  # key


def statements(changes: Sequence[Change], sql: Dialect) -> Iterator[tuple[str, list[Any]]]:
    """A batch as ``(statement, parameter rows)`` to run in order in one transaction:
    consecutive appends in one statement each for leaves and nodes, a purge or
    rewrite where it was queued, and at the end the last change of each state or
    record row, one statement of each kind.  Empty statements are left out."""
    leaves: list[Any] = []
    nodes: list[Any] = []
    rows: dict[tuple[str, str, str], str | None] = {}
    for change in changes:
        if change.leaf is not None:
            leaves.append(change.leaf)
            nodes.extend(change.nodes)
        elif change.row is not None:
            table, space, key, value = change.row
            if callable(value):
                raise TypeError(f"{space}/{key}: a row's value is made before it is written")
            rows[(table, space, key)] = value
        elif change.sql is not None:
            if leaves:
                yield sql.insert_leaf, leaves
                yield sql.insert_node, nodes
                leaves, nodes = [], []
            yield change.sql, list(change.rows)
    if leaves:
        yield sql.insert_leaf, leaves
        yield sql.insert_node, nodes
    records = [(s, k, v) for (t, s, k), v in rows.items() if t == "records"]
    state = [(k, v) for (t, _, k), v in rows.items() if t == "state"]
    kinds = (
        (sql.put_record, [(s, k, v) for s, k, v in records if v is not None]),
        (sql.delete_record, [(s, k) for s, k, v in records if v is None]),
        (sql.put_state, [(k, v) for k, v in state if v is not None]),
        (sql.delete_state, [(k,) for k, v in state if v is None]),
    )
    for statement, params in kinds:
        if params:
            yield statement, params


def _made(batch: Sequence[Change]) -> list[Change]:
    """The batch with each row's last ``Text`` value made and the row's earlier
    changes left out (a batch writes only the last change of a row)."""
    if not any(c.row is not None and callable(c.row[3]) for c in batch):
        return list(batch)
    last: dict[tuple[str, str, str], int] = {}
    for i, change in enumerate(batch):
        if change.row is not None:
            last[change.row[:3]] = i
    out: list[Change] = []
    for i, change in enumerate(batch):
        row = change.row
        if row is None or not callable(row[3]):
            out.append(change)
        elif last[row[:3]] == i:
            out.append(replace(change, row=(*row[:3], row[3]())))
    return out


class _Atomic:
    """``GroupCommitStore.atomic``'s block (a class: it is entered at every step)."""

    __slots__ = ("_outer", "_store")

    def __init__(self, store: GroupCommitStore) -> None:
        self._store = store
        self._outer = False

    def __enter__(self) -> None:
        group = self._store._group
        if getattr(group, "changes", None) is None:  # else nested: the outer block queues
            group.changes = []
            self._outer = True

    def __exit__(self, *_: object) -> None:
        if self._outer:  # also when the block raised: what it queued is queued
            group = self._store._group
            changes: list[Change] = group.changes
            group.changes = None
            if changes:
                self._store._enqueue_all(changes)


def _serial(value: object) -> int:
    if not isinstance(value, int):
        raise TypeError(f"a serial is an int, not {type(value).__name__}")
    return value


def _rewritten(keys: EntryKeys, row: tuple[object, ...]) -> tuple[object, ...]:
    """A rewrite's row ``(entry, log, serial)`` with its entry sealed again."""
    entry, log, serial = row
    return (keys.reseal(str(log), _serial(serial), str(entry)), log, serial)


class GroupCommitStore:
    """The queue, the barriers, the writer thread and the witness of a durable store."""

    _errors: tuple[type[BaseException], ...] = ()
    """The database's errors: a batch failing with one of them is retried."""
    _purge_sql = ""
    _rewrite_sql = ""
    """Statements with the database's parameter style (purge: purged_at, log,
    serial; rewrite: entry, log, serial)."""

    def __init__(self, *, retry_seconds: float, witness: CheckpointWitness | None) -> None:
        self.retry_seconds = retry_seconds
        self.witness = witness
        self._unwitnessed: dict[str, str] = {}  # committed checkpoints the witness lacks
        # log → its highest committed serial (read when first asked, moved on by the writer)
        self._committed_size: dict[str, int] = {}
        self._cond = threading.Condition()
        self._queue: list[Change] = []  # queued, not yet committed, in order
        self._seq = 0  # number of changes ever queued
        self._taken = 0  # number of changes the writer has taken into its transaction
        self._committed = 0  # number of changes committed
        # Barriers: one future for the batch being written, one for the next batch,
        # shared by every request that waits on it (no allocation per request).
        self._inflight: Future[None] = _barrier_future()
        self._next: Future[None] = _barrier_future()
        self._failure: BaseException | None = None
        self._closing = False
        self._group = threading.local()  # changes held back by ``atomic`` in this thread
        self.batches = 0  # commits made (for tests and benchmarks)
        # run by the writer before each commit (the transit vault flushes its keys)
        self.before_commit: list[Callable[[], None]] = []
        self._writer: threading.Thread | None = None
        # the key files the entries are sealed under (RK-RET-003); None: stored in the clear
        self.entry_keys: EntryKeys | None = None

    def _start(self, name: str) -> None:
        """Start the writer (the subclass's connections are open by then)."""
        self._writer = threading.Thread(target=self._run, name=name, daemon=True)
        self._writer.start()

    # -- what a database store supplies ----------------------------------------
    def _write_batch(self, changes: Sequence[Change]) -> None:
        """Commit ``changes`` in one transaction, or raise one of ``_errors``."""
        raise NotImplementedError

    def _after_purge(self) -> bool:
        """Purged content must not linger in the database's files (RK-RET-003);
        False if that could not be done now (a reader pins the old content): the
        writer tries again every ``retry_seconds`` while it is idle."""
        return True

    def _close_connections(self) -> None:
        raise NotImplementedError

    def _stored_size(self, log: str) -> int:
        """The highest serial of ``log`` stored (committed), 0 if none."""
        raise NotImplementedError

    def _first_sealed(self, log: str, first: int) -> int | None:
        """The lowest serial of ``log`` from ``first`` on whose stored entry is sealed."""
        raise NotImplementedError

    def _is_purged(self, log: str, serial: int) -> bool:
        """Whether the store holds entry ``serial`` of ``log``, purged."""
        raise NotImplementedError

    def seal_entries(self, keys: EntryKeys, logs: Sequence[str] = ("access", "admin")) -> None:
        """Seal every entry written from now on under ``keys`` and open the ones
        read back with them (services.store.entry_keys; RK-RET-003).  Before the
        hub reads the store.

        :raises StateFileError: a key file is missing or cut short while the store
            holds entries sealed under its keys.
        """
        keys.attach(logs, self._first_sealed, self._is_purged, self._stored_size)
        self.entry_keys = keys

    def _opened(self, log: str, serial: int, entry: str | None) -> str | None:
        """A stored entry as the hub reads it: opened when it is sealed."""
        keys = self.entry_keys
        return entry if keys is None else keys.open(log, serial, entry)

    def _tags(self, log: str, field: str, value: str) -> tuple[str | None, bool]:
        """How an entry whose ``field`` is ``value`` is found in the index: its tag
        when entries are sealed (None when not), and whether it may also be a row
        written in the clear, under the value's own text."""
        keys = self.entry_keys
        if keys is None:
            return None, True
        return keys.tag(log, field, value), keys.in_the_clear(log)

    def _sealed_batch(self, batch: Sequence[Change]) -> tuple[list[Change], list[tuple[str, int]]]:
        """The batch as it is written — each row's last value made (``_made``), new
        and rewritten entries sealed, their keys written first — and the entries it
        purges."""
        batch = _made(batch)
        keys = self.entry_keys
        if keys is None:
            return batch, []
        new = [c.leaf for c in batch if c.leaf is not None]
        sealed = iter(keys.seal([(log, serial, entry) for log, serial, _, entry in new]))
        out: list[Change] = []
        purged: list[tuple[str, int]] = []
        for change in batch:
            written = change
            if change.leaf is not None:
                log, serial, digest, _ = change.leaf
                written = replace(change, leaf=(log, serial, digest, next(sealed)))
            elif change.sql is not None and change.sql == self._rewrite_sql:
                written = replace(change, rows=[_rewritten(keys, row) for row in change.rows])
            elif change.is_purge:
                purged.extend((str(row[1]), _serial(row[2])) for row in change.rows)
            out.append(written)
        return out, purged

    def committed(self, log: str) -> int:
        """How many leaves of ``log`` are committed (its highest committed serial)."""
        with self._cond:
            known = self._committed_size.get(log)
        if known is None:
            stored = self._stored_size(log)
            with self._cond:
                known = max(stored, self._committed_size.get(log, 0))
                self._committed_size[log] = known
        return known

    def mark(self) -> int | None:
        """A mark of every change queued so far (``settled`` tells when they are
        committed), or None while this thread holds a step's changes back
        (``atomic``): they are not numbered until the step ends."""
        if getattr(self._group, "changes", None):
            return None
        with self._cond:
            return self._seq

    def settled(self, mark: int) -> bool:
        """Whether every change up to ``mark`` is committed (readable from the store)."""
        with self._cond:
            return self._committed >= mark

    # -- queued changes ------------------------------------------------------
    def atomic(self) -> contextlib.AbstractContextManager[None]:
        """Every change queued inside the block (by this thread) is queued as one
        run at its end, so the writer commits all of them in one transaction or
        none: a log entry and the state change it records are never apart."""
        return _Atomic(self)

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
        rows = [(purged_at, log, s) for s in serials]
        self._enqueue(Change(sql=self._purge_sql, rows=rows, is_purge=True))

    def rewrite(self, log: str, entries: Sequence[tuple[int, str]]) -> None:
        rows = [(entry, log, serial) for serial, entry in entries]
        self._enqueue(Change(sql=self._rewrite_sql, rows=rows))

    def put_state(self, key: str, value: str | None) -> None:
        self._enqueue(Change(row=("state", "", key, value)))

    def put_record(self, space: str, key: str, value: str | None) -> None:
        """Set (or, with None, delete) one record (in-flight linkages, answers in
        transit, used request ids, …)."""
        self._enqueue(Change(row=("records", space, key, value)))

    def put_record_later(self, space: str, key: str, value: Text) -> None:
        """Set one record to ``value()``, called by the writer when it takes the
        batch, and only for the last change of the record in that batch: a record
        rewritten at every step (the sealed state digest) is made once a commit.
        ``value`` must not depend on anything that changes after the call."""
        self._enqueue(Change(row=("records", space, key, value)))

    def witnessed(self, log: str) -> str | None:
        """RK-LOG-011: the latest checkpoint of ``log`` the witness holds, if any."""
        return None if self.witness is None else self.witness.witnessed(log)

    def witness_required(self) -> bool:
        """RK-LOG-011: with a witness (not being adopted), a log whose store holds a
        signed checkpoint past the empty tree does not start unwitnessed."""
        return self.witness is not None and not self.witness.adopt

    # -- acknowledgement -------------------------------------------------------
    def barrier(self) -> Future[None]:
        """Completes when every change queued so far is committed (and witnessed);
        fails with ``log-store-unavailable`` at once while the store cannot write."""
        with self._cond:
            if self._committed >= self._seq and not self._unwitnessed:
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

    # -- the writer ------------------------------------------------------------
    def _run(self) -> None:
        purged = False
        failures: tuple[type[BaseException], ...] = (*self._errors, OSError)  # hooks: OSError
        while True:
            with self._cond:
                while not self._queue and not self._closing and not self._unwitnessed:
                    if purged:  # the purged content is still in the files: retry soon
                        self._cond.wait(self.retry_seconds)
                        break
                    self._cond.wait()
                if not self._queue and self._unwitnessed and not self._closing:
                    self._cond.wait(self.retry_seconds)  # the witness failed: retry it
                retry_witness = not self._queue and bool(self._unwitnessed)
                retry_purge = not self._queue and not retry_witness and purged
                if not self._queue and not retry_witness and not retry_purge:
                    return
            if retry_purge:
                purged = not self._after_purge()
                if purged and self._closing:
                    return  # closing: the last connection's close checkpoints the rest
                continue
            if retry_witness:
                failed = self._tell_witness([])
                with self._cond:
                    self._failure = failed
                if self._closing and failed is not None:
                    return  # closing with a witness that cannot be written
                continue
            with self._cond:
                batch = list(self._queue)
                self._taken = self._committed + len(batch)
                self._inflight, self._next = self._next, _barrier_future()
                future = self._inflight
            try:
                writing, purging = self._sealed_batch(batch)
                if self.entry_keys is not None:
                    if purging:
                        self.entry_keys.before_purge(purging)
                    self.entry_keys.sync()  # the keys on disk before the entries commit
                for hook in self.before_commit:
                    hook()
                self._write_batch(writing)
            except failures as exc:
                with self._cond:
                    self._failure = exc
                    self._taken = self._committed  # the batch goes back to the queue
                    closing = self._closing
                future.set_exception(store_unavailable(exc))
                if closing:
                    return  # the backlog cannot be written; it was never acknowledged
                with self._cond:
                    self._cond.wait(self.retry_seconds)  # then retry the whole backlog
                continue
            if self.entry_keys is not None:
                self._shred(purging)
            failed = self._tell_witness(writing)  # before anyone learns of the commit
            with self._cond:
                del self._queue[: len(batch)]
                self._committed = self._taken
                for change in batch:
                    if change.leaf is not None and change.leaf[0] in self._committed_size:
                        self._committed_size[change.leaf[0]] = change.leaf[1]
                self._failure = failed
                self.batches += 1
                idle = not self._queue
            if failed is None:
                future.set_result(None)
            else:  # committed, but not witnessed: not acknowledged either
                future.set_exception(store_unavailable(failed))
            purged = purged or any(c.is_purge for c in batch)
            if purged and idle:
                purged = not self._after_purge()

    def _shred(self, purging: Sequence[tuple[str, int]]) -> None:
        """After a commit: its keys are no longer pending, and the keys of the
        entries it purged are overwritten before anyone learns of the commit
        (RK-RET-003).  An I/O error leaves them listed (``log-keys.shred``): the
        next start overwrites them."""
        assert self.entry_keys is not None
        self.entry_keys.committed()
        if purging:
            with contextlib.suppress(OSError):
                self.entry_keys.shred(purging)

    def _tell_witness(self, batch: Sequence[Change]) -> OSError | None:
        """RK-LOG-011: the checkpoints a batch committed go to the witness before
        anyone waiting on the commit is answered.  The error if the witness could
        not be written: those waiting then fail with ``log-store-unavailable``
        (what they did is committed) and new work is refused until a retry
        writes it."""
        for change in batch:
            row = change.row
            if row is None or not isinstance(value := row[3], str):
                continue  # not a row, a deletion (or a value not made: not written)
            if row[0] == "state" and row[2].startswith(CHECKPOINT_STATE):
                self._unwitnessed[row[2][len(CHECKPOINT_STATE) :]] = value
            elif row[0] == "records" and (row[1], row[2]) == (DIGEST_SPACE, DIGEST_NAME):
                # the sealed state digest too: a store put back to before a step
                # that wrote no log entry (an answer accepted) is behind it
                self._unwitnessed[DIGEST_WITNESS] = value
        if self.witness is not None and self._unwitnessed:
            try:
                self.witness.record(self._unwitnessed)
            except OSError as exc:
                return exc
        self._unwitnessed.clear()
        return None

    def close(self) -> None:
        """Commit what is queued (if the store can), stop the writer, close the database."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        if self._writer is not None:
            self._writer.join()
        self._close_connections()
        if self.entry_keys is not None:
            self.entry_keys.close()
