"""The numbering authority's SQLite file: schema, connection, transactions, facts.

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
  O(1) size that sizes the optimistic batches of ``issue_many``.

Durability: WAL with ``synchronous=FULL`` (an issued Number that was notified
must survive a power cut, or it could be drawn again).  One connection,
serialised by a lock; run one ``NumberingFile`` per file.

The facts (``state``, ``ever_issued``, ``numbers_issued``, ``bump``) are the
reads and the counter every part of the table shares; each runs inside a
transaction the caller opened with ``NumberingFile.write`` or ``read``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Final

from ....core.identifiers import IndividualNumber, ResidentCode
from ....core.numbering import NO_NUMBER, ResidentCodeState, from_epoch_seconds

__all__ = [
    "INSERT_NUMBER",
    "SCHEMA_VERSION",
    "NumberingFile",
    "bump",
    "ever_issued",
    "iso",
    "num",
    "numbers_issued",
    "rc",
    "state",
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

INSERT_NUMBER: Final = "INSERT INTO number (number, resident_code, issued_at) VALUES (?, ?, ?)"


def rc(value: int) -> ResidentCode:
    """A stored resident code as the typed value."""
    return ResidentCode(f"{value:011d}")


def num(value: int) -> IndividualNumber:
    """A stored Number as the typed value."""
    return IndividualNumber(f"{value:012d}")


def iso(seconds: int | None) -> str | None:
    """A stored time as ISO 8601 (UTC), or ``None``."""
    return None if seconds is None else from_epoch_seconds(seconds).isoformat()


class NumberingFile:
    """One SQLite file (stdlib ``sqlite3``, WAL) and its one serialised connection.

    Args:
        path: the database file, created with the schema when new; ``":memory:"``
            for a private in-memory database.
        cache_mib: SQLite page cache (see ``SqliteNumberingTable``).

    Raises:
        RuntimeError: the file holds another schema version.
    """

    def __init__(self, path: str | Path, *, cache_mib: int = 64) -> None:
        self._lock = threading.Lock()
        self._path = str(path)
        self._db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.execute(f"PRAGMA cache_size = {-1024 * int(cache_mib)}")
        self._ensure_schema()

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
    def write(self) -> Iterator[sqlite3.Connection]:
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
    def read(self) -> Iterator[sqlite3.Connection]:
        """One consistent read snapshot."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield self._db
            finally:
                self._db.execute("COMMIT")

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
        """Close the connection; the file is unusable afterwards."""
        with self._lock:
            self._db.close()


# -- facts shared by the parts ------------------------------------------------------------
def state(db: sqlite3.Connection, resident: int) -> ResidentCodeState:
    """What the table says of a resident code: its current Number, retired, or neither."""
    row = db.execute(
        "SELECT number FROM number WHERE resident_code = ? AND revoked_at IS NULL",
        (resident,),
    ).fetchone()
    if row is not None:
        return ResidentCodeState(current=num(row[0]))
    retired = db.execute(
        "SELECT 1 FROM number_event WHERE old_resident_code = ?", (resident,)
    ).fetchone()
    return ResidentCodeState(retired=True) if retired else NO_NUMBER


def ever_issued(db: sqlite3.Connection, number: str) -> bool:
    """True when the Number has a row, revoked or not (RK-NUM-005)."""
    return db.execute("SELECT 1 FROM number WHERE number = ?", (int(number),)).fetchone() is not (
        None
    )


def numbers_issued(db: sqlite3.Connection) -> int:
    """How many Numbers were ever issued (current and revoked); O(1)."""
    (value,) = db.execute("SELECT value FROM numbering_meta WHERE name = 'numbers'").fetchone()
    return int(value)


def bump(db: sqlite3.Connection, by: int) -> None:
    """Count ``by`` more Numbers issued, in the caller's transaction."""
    db.execute("UPDATE numbering_meta SET value = value + ? WHERE name = 'numbers'", (by,))
