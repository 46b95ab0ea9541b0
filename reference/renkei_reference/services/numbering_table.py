"""The numbering authority's code conversion table, durable (seed items 8, 11, 32).

The rules live in ``core.numbering`` (pure); this module stores their results.
Each operation is one SQLite transaction: read the facts, let the core decide,
write the event — or roll back, so that a refused or failed operation leaves
the table exactly as it was (no partial write).

Layout (125,000,000 persons; all codes stored as INTEGERs, which fit int64)::

    number(number INTEGER PRIMARY KEY,        -- 12-digit Number = the rowid
           resident_code INTEGER NOT NULL,    -- holder (when revoked: holder at revocation)
           issued_at INTEGER NOT NULL,        -- epoch seconds, UTC
           revoked_at INTEGER)                -- NULL while current
    UNIQUE INDEX number_current ON number(resident_code) WHERE revoked_at IS NULL
    number_event(seq, kind, at, resident_code, number,
                 old_resident_code UNIQUE, old_number UNIQUE, reason)
    corporate_number(base INTEGER PRIMARY KEY, issued_at INTEGER NOT NULL)
    numbering_meta(name TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID

Why this layout:

* Two B-trees per person are the minimum for the two directions the authority
  needs — resident code → Number (look-up, no double issue) and Number → "ever
  issued?" (RK-NUM-005) — and this layout has exactly two.
* Every Number ever issued, revoked ones included, is one row keyed by the
  Number itself.  An integer primary key *is* the rowid, so the table is its
  own Number index (a WITHOUT ROWID table would only add a separate rowid-less
  copy of the same key); "never issued again" is one rowid probe, and the
  PRIMARY KEY constraint refuses a reused Number even if a caller skipped the
  probe.
* The resident-code index is partial (``WHERE revoked_at IS NULL``): revoked
  rows cost no index space, and the UNIQUE constraint is precisely RK-NUM-005's
  "at most one current Number per resident code".
* Codes are INTEGERs (6-byte records for 11- and 12-digit values) rather than
  TEXT (12-13 bytes); timestamps are epoch seconds (4 bytes); the NULL
  ``revoked_at`` costs one header byte.  Measured (benchmarks/
  test_numbering_bench.py): 46.4 bytes per person, file included, flat from
  10⁶ to 2×10⁷ entries (42.2 after VACUUM) — 5.8 GB for 125 million.
* History is kept only for what the person's code and Number do after issue
  (re-issue, RK-NUM-007; resident-code change, RK-NUM-008), in ``number_event``;
  the issue itself is the Number's row.  Both event kinds are rare, so the
  event table and its indexes are small; ``old_resident_code UNIQUE`` is also
  the set of retired resident codes.
* ``numbering_meta`` counts the Numbers ever issued inside each transaction: an
  O(1) size that sizes the optimistic batches of ``issue_many`` (below).

Bulk issue.  ``issue_many`` issues a batch in one transaction, chunk by chunk:
it draws one candidate per resident code and inserts the chunk with one
``executemany``, letting the constraints do the checks (no probe per row).
``executemany`` stops at the first row a constraint refuses — a Number
collision, a resident code that already has a Number, a duplicate in the
batch; the rows before it stay, being exactly what ``issue`` would have stored,
and ``total_changes`` says how many.  The refused code then goes through
``issue``'s own path, replaying the draws already taken (so it redraws past a
collision, or raises the specific refusal), and the chunk resumes.  The result
is exactly that of repeated ``issue`` with the same draws.  Chunks shrink as
the table grows so that a collision stays rare (≤ 0.25 per chunk, 64 rows at
the least).  Retired resident codes are not covered by a constraint; while any
exist, each chunk is probed for them first.  A SAVEPOINT per chunk would be
simpler but costs ~40 % of the insert time (sub-journal writes of re-dirtied
pages), which is why the refused row is handled in place instead.

Durability: WAL with ``synchronous=FULL`` (an issued Number that was notified
must survive a power cut, or it could be drawn again).  One connection,
serialised by a lock; run one ``SqliteNumberingTable`` per file.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from array import array
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

from ..core.errors import NotFoundError
from ..core.identifiers import IndividualNumber, ResidentCode
from ..core.numbering import (
    NO_NUMBER,
    NUMBER_SPACE,
    CorporateNumber,
    CorporateRecord,
    Draw,
    NumberEvent,
    NumberEventKind,
    NumberRecord,
    ReissueReason,
    ResidentCodeState,
    decide_corporate_issue,
    decide_issue,
    decide_reissue,
    decide_resident_code_change,
    epoch_seconds,
    from_epoch_seconds,
    number_value,
    require_current,
)

__all__ = [
    "SCHEMA_VERSION",
    "CsprngDraw",
    "InMemoryNumberingTable",
    "NumberingTable",
    "SqliteNumberingTable",
]

SCHEMA_VERSION: Final = 1

_SCHEMA = """
CREATE TABLE number (
    number        INTEGER PRIMARY KEY,
    resident_code INTEGER NOT NULL,
    issued_at     INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX number_current ON number(resident_code) WHERE revoked_at IS NULL;
CREATE TABLE number_event (
    seq               INTEGER PRIMARY KEY,
    kind              TEXT NOT NULL CHECK (kind IN ('reissued', 'resident-code-changed')),
    at                INTEGER NOT NULL,
    resident_code     INTEGER NOT NULL,
    number            INTEGER NOT NULL,
    old_resident_code INTEGER UNIQUE,
    old_number        INTEGER UNIQUE,
    reason            TEXT,
    CHECK ((kind = 'reissued') = (old_number IS NOT NULL AND reason IS NOT NULL)),
    CHECK ((kind = 'resident-code-changed') = (old_resident_code IS NOT NULL))
);
CREATE INDEX number_event_by_resident ON number_event(resident_code);
CREATE TABLE corporate_number (
    base      INTEGER PRIMARY KEY,
    issued_at INTEGER NOT NULL
);
CREATE TABLE numbering_meta (
    name  TEXT PRIMARY KEY,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO numbering_meta VALUES ('numbers', 0);
"""

_INSERT_NUMBER = "INSERT INTO number (number, resident_code, issued_at) VALUES (?, ?, ?)"
_COLLISION_BUDGET = 0.25  # expected Number collisions per optimistic chunk
_MIN_CHUNK, _MAX_CHUNK = 64, 4096
_PROBE = 500  # host parameters per IN (...) probe


class NumberingTable(Protocol):
    """The numbering authority's conversion table (RK-NUM-001, -005, -007, -008, RK-CORP-002).

    Held by the numbering authority alone.  Every method is one atomic step: a
    refused call raises a ``core.errors`` error naming the requirement and
    changes nothing.  See ``core.numbering`` for the rules and their errors.
    """

    def issue(self, resident: ResidentCode, draw: Draw, at: datetime) -> IndividualNumber:
        """Issue the first Number of ``resident`` (RK-NUM-001, RK-NUM-005)."""
        ...

    def issue_many(self, residents: Iterable[ResidentCode], draw: Draw, at: datetime) -> int:
        """Issue Numbers to many resident codes, all or nothing; returns the count."""
        ...

    def lookup(self, resident: ResidentCode) -> NumberRecord:
        """The current Number of ``resident`` and its status (RK-NUM-007)."""
        ...

    def reissue(
        self,
        resident: ResidentCode,
        draw: Draw,
        at: datetime,
        reason: ReissueReason = ReissueReason.PERSON_REQUEST,
    ) -> IndividualNumber:
        """Replace the Number at the person's request; the old one is revoked (RK-NUM-007)."""
        ...

    def change_resident_code(
        self, old: ResidentCode, new: ResidentCode, at: datetime
    ) -> IndividualNumber:
        """Move the Number from ``old`` to ``new``; the Number continues (RK-NUM-008)."""
        ...

    def ever_issued(self, number: IndividualNumber) -> bool:
        """True when ``number`` was ever issued to anyone, revoked or not (RK-NUM-005)."""
        ...

    def history(self, resident: ResidentCode) -> list[NumberEvent]:
        """The events of the person who now holds ``resident``, oldest first (RK-NUM-007)."""
        ...

    def issue_corporate(self, base12: str, at: datetime) -> CorporateNumber:
        """Issue the corporate number of a 12-digit base, once (RK-CORP-001, RK-CORP-002)."""
        ...

    def lookup_corporate(self, number: CorporateNumber) -> CorporateRecord:
        """The issued corporate number ``number`` (RK-CORP-002)."""
        ...

    def count(self) -> int:
        """How many Numbers were ever issued (current and revoked)."""
        ...

    def dump(self) -> list[dict[str, Any]]:
        """Every row of the conversion table (test-mode state dump, RK-CTL-003)."""
        ...

    def dump_stores(self) -> dict[str, list[dict[str, Any]]]:
        """Every store of the authority: table, history, corporate numbers."""
        ...

    def bytes_used(self) -> int:
        """Size of the stored table in bytes."""
        ...

    def close(self) -> None:
        """Release the storage."""
        ...


class CsprngDraw:
    """Uniform draws in [0, NUMBER_SPACE) from the operating system's CSPRNG (RK-NUM-001).

    Reads 64-bit words from ``secrets.token_bytes`` in blocks, keeps the low 37
    bits (2³⁷ > 10¹¹) and rejects values ≥ 10¹¹: rejection sampling, so every
    11-digit body is equally likely and nothing but the CSPRNG decides it.
    Buffered because ``secrets.randbelow`` per draw costs about 1.3 µs, close to
    half of what storing a Number costs.  Not thread-safe: a table calls its
    draw under its own lock.
    """

    __slots__ = ("_block", "_buffer")

    _MASK = (1 << 37) - 1

    def __init__(self, block: int = 4096) -> None:
        self._block = block
        self._buffer: list[int] = []

    def __call__(self) -> int:
        while not self._buffer:
            words = array("Q", secrets.token_bytes(8 * self._block))
            mask = self._MASK
            self._buffer = [w & mask for w in words if w & mask < NUMBER_SPACE]
        return self._buffer.pop()


class _Replay:
    """A draw that first returns recorded values, then falls through to ``draw``."""

    __slots__ = ("_draw", "_next", "_recorded")

    def __init__(self, recorded: list[int], draw: Draw) -> None:
        self._recorded = recorded
        self._next = 0
        self._draw = draw

    def __call__(self) -> int:
        if self._next < len(self._recorded):
            self._next += 1
            return self._recorded[self._next - 1]
        return self._draw()

    def left_over(self) -> list[int]:
        """The recorded values not yet returned."""
        return self._recorded[self._next :]


def _rc(value: int) -> ResidentCode:
    return ResidentCode(f"{value:011d}")


def _num(value: int) -> IndividualNumber:
    return IndividualNumber(f"{value:012d}")


def _iso(seconds: int | None) -> str | None:
    return None if seconds is None else from_epoch_seconds(seconds).isoformat()


class SqliteNumberingTable:
    """The conversion table in one SQLite file (stdlib ``sqlite3``, WAL).

    Args:
        path: the database file, created with the schema when new; ``":memory:"``
            for a private in-memory database.
        cache_mib: SQLite page cache.  Numbers arrive in random order, so
            every insert touches a random page of the Number B-tree; while the
            table fits in the cache bulk issue runs at ~10⁵ Numbers/s, beyond it
            it falls towards one page write per Number (measured: ~2-4×10⁴/s at
            2×10⁷ entries with 64 MiB).  For the initial load of 125 million
            give it the table's size (~6 GB).
        max_chunk: upper bound of an ``issue_many`` chunk (tests make it small
            to exercise chunk boundaries).

    Raises:
        RuntimeError: the file holds another schema version.
    """

    def __init__(
        self, path: str | Path, *, cache_mib: int = 64, max_chunk: int = _MAX_CHUNK
    ) -> None:
        if max_chunk < 1:
            raise ValueError("max_chunk must be at least 1")
        self._max_chunk = max_chunk
        self._lock = threading.Lock()
        self._path = str(path)
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(f"PRAGMA cache_size = {-1024 * int(cache_mib)}")
        self._ensure_schema()

    # -- connection and transactions -------------------------------------------------------
    def _ensure_schema(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return
            if version != 0:
                raise RuntimeError(
                    f"{self._path} holds numbering schema version {version}, "
                    f"this code reads version {SCHEMA_VERSION}"
                )
            self._db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: BEGIN IMMEDIATE … COMMIT, or ROLLBACK on any exception."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One consistent read snapshot."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

    # -- facts ----------------------------------------------------------------------------
    @staticmethod
    def _state(db: sqlite3.Connection, resident: int) -> ResidentCodeState:
        row = db.execute(
            "SELECT number FROM number WHERE resident_code = ? AND revoked_at IS NULL",
            (resident,),
        ).fetchone()
        if row is not None:
            return ResidentCodeState(current=_num(row[0]))
        retired = db.execute(
            "SELECT 1 FROM number_event WHERE old_resident_code = ?", (resident,)
        ).fetchone()
        return ResidentCodeState(retired=True) if retired else NO_NUMBER

    @staticmethod
    def _ever_issued(db: sqlite3.Connection, number: str) -> bool:
        return db.execute(
            "SELECT 1 FROM number WHERE number = ?", (int(number),)
        ).fetchone() is not (None)

    @staticmethod
    def _bump(db: sqlite3.Connection, by: int) -> None:
        db.execute("UPDATE numbering_meta SET value = value + ? WHERE name = 'numbers'", (by,))

    # -- issue ----------------------------------------------------------------------------
    def _issue_one(
        self, db: sqlite3.Connection, resident: ResidentCode, draw: Draw, at: datetime
    ) -> IndividualNumber:
        code = int(resident.value)
        event = decide_issue(
            resident,
            self._state(db, code),
            draw,
            lambda number: self._ever_issued(db, number),
            at,
        )
        db.execute(_INSERT_NUMBER, (int(event.number.value), code, epoch_seconds(event.at)))
        return event.number

    def issue(self, resident: ResidentCode, draw: Draw, at: datetime) -> IndividualNumber:
        """Issue the first Number of ``resident`` (RK-NUM-001, RK-NUM-005).

        Args:
            resident: the resident code.
            draw: uniform integers in [0, NUMBER_SPACE) from a CSPRNG.
            at: the time of issue (timezone-aware).

        Returns:
            The new Number.

        Raises:
            ConflictError: ``number-already-issued`` (RK-NUM-005).
            NotFoundError: ``unknown-resident`` for a retired code (RK-NUM-008).
            StateError: ``number-space-exhausted`` (RK-NUM-005).
        """
        with self._write() as db:
            number = self._issue_one(db, resident, draw, at)
            self._bump(db, 1)
            return number

    def issue_many(self, residents: Iterable[ResidentCode], draw: Draw, at: datetime) -> int:
        """Issue Numbers to many resident codes in one transaction (RK-NUM-001, RK-NUM-005).

        The result equals ``issue`` called for each code in order with the same
        ``draw`` — but all or nothing: when any code is refused, the first
        refusal in input order is raised and no Number of the batch is stored.
        The batch is streamed in chunks; only one chunk is held in memory.

        Returns:
            The number of Numbers issued (the length of ``residents``).

        Raises:
            The errors of ``issue``, for the first refused code; a duplicate in the
            batch is ``number-already-issued``.
        """
        stamp = epoch_seconds(at)
        issued = 0
        with self._write() as db:
            (taken,) = db.execute(
                "SELECT value FROM numbering_meta WHERE name = 'numbers'"
            ).fetchone()
            check_retired = (
                db.execute(
                    "SELECT 1 FROM number_event WHERE old_resident_code IS NOT NULL LIMIT 1"
                ).fetchone()
                is not None
            )
            size = self._chunk_size(int(taken))
            chunk: list[ResidentCode] = []
            for resident in residents:
                chunk.append(resident)
                if len(chunk) >= size:
                    self._issue_chunk(db, chunk, draw, at, stamp=stamp, check_retired=check_retired)
                    issued += len(chunk)
                    size = self._chunk_size(int(taken) + issued)
                    chunk = []
            if chunk:
                self._issue_chunk(db, chunk, draw, at, stamp=stamp, check_retired=check_retired)
                issued += len(chunk)
            self._bump(db, issued)
        return issued

    def _chunk_size(self, taken: int) -> int:
        """Largest chunk whose expected Number collisions stay within the budget."""
        fit = int(_COLLISION_BUDGET * NUMBER_SPACE / max(taken, 1))
        return min(self._max_chunk, max(_MIN_CHUNK, fit))

    def _issue_chunk(
        self,
        db: sqlite3.Connection,
        chunk: list[ResidentCode],
        draw: Draw,
        at: datetime,
        *,
        stamp: int,
        check_retired: bool,
    ) -> None:
        """Issue one chunk: optimistic ``executemany``, exact sequential semantics.

        One draw per code, then one ``executemany``; the constraints refuse any
        row that ``issue`` would have refused or redrawn.  ``executemany`` stops
        at the refused row, the rows before it stay (they are exactly what
        ``issue`` would have stored), and ``total_changes`` tells how many.  The
        refused code goes through ``issue``'s own path, replaying the draws
        already taken, and the rest of the chunk resumes with the draws left.
        """
        codes = [int(r.value) for r in chunk]
        if check_retired and self._any_retired(db, codes):
            for resident in chunk:  # some code here is refused; raise the first refusal
                self._issue_one(db, resident, draw, at)
            return
        pending = [draw() for _ in codes]
        done = 0
        while done < len(codes):
            rows = [(number_value(d), c, stamp) for d, c in zip(pending, codes[done:], strict=True)]
            before = db.total_changes
            try:
                db.executemany(_INSERT_NUMBER, rows)
            except sqlite3.IntegrityError:
                stored = db.total_changes - before
            else:
                return
            replay = _Replay(pending[stored:], draw)
            self._issue_one(db, chunk[done + stored], replay, at)  # refuses, or redraws
            done += stored + 1
            pending = replay.left_over()
            pending += [draw() for _ in range(len(codes) - done - len(pending))]

    @staticmethod
    def _any_retired(db: sqlite3.Connection, codes: list[int]) -> bool:
        for i in range(0, len(codes), _PROBE):
            part = codes[i : i + _PROBE]
            marks = ",".join("?" * len(part))
            sql = f"SELECT 1 FROM number_event WHERE old_resident_code IN ({marks}) LIMIT 1"
            if db.execute(sql, part).fetchone() is not None:
                return True
        return False

    # -- look-up --------------------------------------------------------------------------
    def lookup(self, resident: ResidentCode) -> NumberRecord:
        """The current Number of ``resident`` and its status (RK-NUM-007).

        Raises:
            NotFoundError: ``not-found`` — no Number (RK-NUM-007), or the code
                was replaced by a resident-code change (RK-NUM-008).
        """
        with self._read() as db:
            row = db.execute(
                "SELECT number, issued_at FROM number "
                "WHERE resident_code = ? AND revoked_at IS NULL",
                (int(resident.value),),
            ).fetchone()
            if row is None:
                require_current(self._state(db, int(resident.value)))
                raise AssertionError("unreachable: require_current raised")  # pragma: no cover
        return NumberRecord(_num(row[0]), resident, from_epoch_seconds(row[1]))

    def ever_issued(self, number: IndividualNumber) -> bool:
        """True when ``number`` was ever issued to anyone, revoked or not (RK-NUM-005)."""
        with self._read() as db:
            return self._ever_issued(db, number.value)

    def count(self) -> int:
        """How many Numbers were ever issued (current and revoked); O(1)."""
        with self._read() as db:
            row = db.execute("SELECT value FROM numbering_meta WHERE name = 'numbers'").fetchone()
        return int(row[0])

    # -- re-issue and resident-code change ------------------------------------------------
    def reissue(
        self,
        resident: ResidentCode,
        draw: Draw,
        at: datetime,
        reason: ReissueReason = ReissueReason.PERSON_REQUEST,
    ) -> IndividualNumber:
        """Replace the Number at the person's request (RK-NUM-007, RK-NUM-005).

        The old Number is revoked and stays in the table, so it is never drawn
        again; the event (resident code, old Number, new Number, time, reason)
        goes to the history.

        Returns:
            The new Number.

        Raises:
            NotFoundError: ``not-found`` — no Number (RK-NUM-007) or a retired
                code (RK-NUM-008).
            StateError: ``number-space-exhausted`` (RK-NUM-005).
        """
        code = int(resident.value)
        with self._write() as db:
            event = decide_reissue(
                resident,
                self._state(db, code),
                draw,
                lambda number: self._ever_issued(db, number),
                at,
                reason=reason,
            )
            assert event.old_number is not None
            assert event.reason is not None
            stamp = epoch_seconds(event.at)
            db.execute(
                "UPDATE number SET revoked_at = ? WHERE number = ?",
                (stamp, int(event.old_number.value)),
            )
            db.execute(_INSERT_NUMBER, (int(event.number.value), code, stamp))
            db.execute(
                "INSERT INTO number_event (kind, at, resident_code, number, old_number, reason) "
                "VALUES ('reissued', ?, ?, ?, ?, ?)",
                (
                    stamp,
                    code,
                    int(event.number.value),
                    int(event.old_number.value),
                    event.reason.value,
                ),
            )
            self._bump(db, 1)
            return event.number

    def change_resident_code(
        self, old: ResidentCode, new: ResidentCode, at: datetime
    ) -> IndividualNumber:
        """Follow a change of resident code; the Number continues (RK-NUM-008).

        The old code is retired: it no longer resolves and is never used again.

        Returns:
            The Number, unchanged.

        Raises:
            CallerError: ``validation-error`` when old and new are equal.
            NotFoundError: ``not-found`` (old code without a Number or retired),
                ``unknown-resident`` (new code retired).
            ConflictError: ``number-already-issued`` (new code has a Number).
        """
        with self._write() as db:
            event = decide_resident_code_change(
                old, self._state(db, int(old.value)), new, self._state(db, int(new.value)), at
            )
            number = int(event.number.value)
            db.execute(
                "UPDATE number SET resident_code = ? WHERE number = ?", (int(new.value), number)
            )
            db.execute(
                "INSERT INTO number_event (kind, at, resident_code, number, old_resident_code) "
                "VALUES ('resident-code-changed', ?, ?, ?, ?)",
                (epoch_seconds(event.at), int(new.value), number, int(old.value)),
            )
            return event.number

    def history(self, resident: ResidentCode) -> list[NumberEvent]:
        """The events of the person who now holds ``resident``, oldest first (RK-NUM-007).

        Starts with the issue of the person's first Number, then every re-issue
        and resident-code change, following the person back through earlier
        resident codes.

        Raises:
            NotFoundError: ``not-found`` as for ``lookup``.
        """
        with self._read() as db:
            code = int(resident.value)
            current = require_current(self._state(db, code))
            chain = [code]
            while True:
                row = db.execute(
                    "SELECT old_resident_code FROM number_event "
                    "WHERE resident_code = ? AND kind = 'resident-code-changed'",
                    (chain[-1],),
                ).fetchone()
                if row is None:
                    break
                chain.append(int(row[0]))
            marks = ",".join("?" * len(chain))
            rows = db.execute(
                "SELECT kind, at, resident_code, number, old_resident_code, old_number, reason "
                f"FROM number_event WHERE resident_code IN ({marks}) ORDER BY seq",
                chain,
            ).fetchall()
            first = next((int(r[5]) for r in rows if r[0] == "reissued"), int(current.value))
            (issued_at,) = db.execute(
                "SELECT issued_at FROM number WHERE number = ?", (first,)
            ).fetchone()
        events = [
            NumberEvent(
                NumberEventKind.ISSUED, from_epoch_seconds(issued_at), _rc(chain[-1]), _num(first)
            )
        ]
        for kind, at, rc, number, old_rc, old_number, reason in rows:
            events.append(
                NumberEvent(
                    NumberEventKind(kind),
                    from_epoch_seconds(at),
                    _rc(rc),
                    _num(number),
                    None if old_rc is None else _rc(old_rc),
                    None if old_number is None else _num(old_number),
                    None if reason is None else ReissueReason(reason),
                )
            )
        return events

    # -- corporate numbers ----------------------------------------------------------------
    def issue_corporate(self, base12: str, at: datetime) -> CorporateNumber:
        """Issue the corporate number of a 12-digit base, once (RK-CORP-001, RK-CORP-002).

        Raises:
            CallerError: ``validation-error`` for a malformed base (RK-CORP-001).
            ConflictError: ``corporate-number-already-issued`` (RK-CORP-002).
        """
        base = int(CorporateNumber.from_base(base12).base)  # validation-error first
        with self._write() as db:
            known = (
                db.execute("SELECT 1 FROM corporate_number WHERE base = ?", (base,)).fetchone()
                is not None
            )
            record = decide_corporate_issue(base12, known, at)
            db.execute(
                "INSERT INTO corporate_number (base, issued_at) VALUES (?, ?)",
                (int(record.number.base), epoch_seconds(record.issued_at)),
            )
            return record.number

    def lookup_corporate(self, number: CorporateNumber) -> CorporateRecord:
        """The issued corporate number ``number`` (RK-CORP-002).

        Raises:
            NotFoundError: ``not-found`` when it was never issued.
        """
        with self._read() as db:
            row = db.execute(
                "SELECT issued_at FROM corporate_number WHERE base = ?", (int(number.base),)
            ).fetchone()
        if row is None:
            raise NotFoundError(
                "not-found", "no corporate number with this base was issued", "RK-CORP-002"
            )
        return CorporateRecord(number, from_epoch_seconds(row[0]))

    # -- dumps and size ---------------------------------------------------------------------
    def dump(self) -> list[dict[str, Any]]:
        """Every Number ever issued, with holder, times and status (RK-CTL-003)."""
        with self._read() as db:
            rows = db.execute(
                "SELECT number, resident_code, issued_at, revoked_at FROM number "
                "ORDER BY resident_code, issued_at, number"
            ).fetchall()
        return [
            {
                "resident_code": f"{rc:011d}",
                "number": f"{n:012d}",
                "status": "current" if revoked is None else "revoked",
                "issued_at": _iso(issued),
                "revoked_at": _iso(revoked),
            }
            for n, rc, issued, revoked in rows
        ]

    def dump_stores(self) -> dict[str, list[dict[str, Any]]]:
        """Every store of the authority, keyed like ``Federation.dump``."""
        with self._read() as db:
            events = db.execute(
                "SELECT seq, kind, at, resident_code, number, old_resident_code, old_number, "
                "reason FROM number_event ORDER BY seq"
            ).fetchall()
            corporate = db.execute(
                "SELECT base, issued_at FROM corporate_number ORDER BY base"
            ).fetchall()
        return {
            "numbering.table": self.dump(),
            "numbering.events": [
                {
                    "seq": seq,
                    "kind": kind,
                    "at": _iso(at),
                    "resident_code": f"{rc:011d}",
                    "number": f"{n:012d}",
                    "old_resident_code": None if orc is None else f"{orc:011d}",
                    "old_number": None if on is None else f"{on:012d}",
                    "reason": reason,
                }
                for seq, kind, at, rc, n, orc, on, reason in events
            ],
            "numbering.corporate": [
                {
                    "base12": f"{base:012d}",
                    "corporate_number": CorporateNumber.from_base(f"{base:012d}").value,
                    "issued_at": _iso(issued),
                }
                for base, issued in corporate
            ],
        }

    def bytes_used(self) -> int:
        """Size of the database in bytes (pages × page size; WAL frames included)."""
        with self._lock:
            (pages,) = self._db.execute("PRAGMA page_count").fetchone()
            (size,) = self._db.execute("PRAGMA page_size").fetchone()
        return int(pages) * int(size)

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it (after a bulk load)."""
        with self._lock:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close the connection; the table is unusable afterwards."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> SqliteNumberingTable:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InMemoryNumberingTable(SqliteNumberingTable):
    """The same table in a private in-memory SQLite database (in-process tests, demos).

    Deliberately not a second implementation over dicts: the in-memory twin
    runs the very SQL, constraints and transactions of the durable table, so
    the two cannot drift apart.  The independent model that checks the
    behaviour lives in the tests (tests/test_numbering.py), where it is the
    oracle of a stateful property test.
    """

    def __init__(self, *, max_chunk: int = _MAX_CHUNK) -> None:
        super().__init__(":memory:", max_chunk=max_chunk)
