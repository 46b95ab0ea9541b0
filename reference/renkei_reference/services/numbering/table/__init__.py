"""The numbering authority's code conversion table, durable (seed items 8, 11, 32).

The rules live in ``core.numbering`` (pure); this package stores their results.
Each operation is one SQLite transaction: read the facts, let the core decide,
write the event — or roll back, so that a refused or failed operation leaves
the table exactly as it was (no partial write).

It is made of parts over one SQLite file, each owning its tables:

* ``store`` — the file: schema and its layout (why it is as it is), the one
  serialised connection, transactions, durability, and the facts every part
  reads (a resident code's state, "ever issued?", the count);
* ``register`` — the ``number`` table: issue one or a batch (RK-NUM-001,
  RK-NUM-005), look-ups, the count;
* ``events`` — ``number_event``: re-issue (RK-NUM-007), resident-code change
  (RK-NUM-008) and the person's history;
* ``corporate`` — ``corporate_number`` (RK-CORP-001, RK-CORP-002);
* ``draws`` — the CSPRNG draw (RK-NUM-001) and the replay bulk issue uses.

``SqliteNumberingTable`` is the façade the authority uses (``NumberingTable``).
Every part is in this package, so the import-linter contracts
``separation-numbering`` and ``separation-hub`` (RK-NUM-009) cover them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ....core.identifiers import IndividualNumber, ResidentCode
from ....core.numbering import (
    CorporateNumber,
    CorporateRecord,
    Draw,
    NumberEvent,
    NumberRecord,
    ReissueReason,
)
from .corporate import CorporateBook
from .draws import CsprngDraw
from .events import NumberEvents
from .register import MAX_CHUNK, NumberRegister
from .store import SCHEMA_VERSION, NumberingFile

__all__ = [
    "SCHEMA_VERSION",
    "CsprngDraw",
    "InMemoryNumberingTable",
    "NumberingTable",
    "SqliteNumberingTable",
]


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


class SqliteNumberingTable:
    """The conversion table in one SQLite file (stdlib ``sqlite3``, WAL): the façade
    over the register, the events and the corporate book (see the package docstring).

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
        self, path: str | Path, *, cache_mib: int = 64, max_chunk: int = MAX_CHUNK
    ) -> None:
        if max_chunk < 1:
            raise ValueError("max_chunk must be at least 1")
        self._file = NumberingFile(path, cache_mib=cache_mib)
        self._register = NumberRegister(self._file, max_chunk=max_chunk)
        self._events = NumberEvents(self._file)
        self._corporate = CorporateBook(self._file)

    # -- the register: issue and look-up (RK-NUM-001, RK-NUM-005) ---------------------------
    def issue(self, resident: ResidentCode, draw: Draw, at: datetime) -> IndividualNumber:
        """Issue the first Number of ``resident`` (RK-NUM-001, RK-NUM-005); see
        ``NumberRegister.issue``."""
        return self._register.issue(resident, draw, at)

    def issue_many(self, residents: Iterable[ResidentCode], draw: Draw, at: datetime) -> int:
        """Issue Numbers to many resident codes, all or nothing (RK-NUM-001, RK-NUM-005);
        see ``NumberRegister.issue_many``."""
        return self._register.issue_many(residents, draw, at)

    def lookup(self, resident: ResidentCode) -> NumberRecord:
        """The current Number of ``resident`` and its status (RK-NUM-007)."""
        return self._register.lookup(resident)

    def ever_issued(self, number: IndividualNumber) -> bool:
        """True when ``number`` was ever issued to anyone, revoked or not (RK-NUM-005)."""
        return self._register.ever_issued(number)

    def count(self) -> int:
        """How many Numbers were ever issued (current and revoked); O(1)."""
        return self._register.count()

    # -- the events: re-issue, resident-code change, history ---------------------------------
    def reissue(
        self,
        resident: ResidentCode,
        draw: Draw,
        at: datetime,
        reason: ReissueReason = ReissueReason.PERSON_REQUEST,
    ) -> IndividualNumber:
        """Replace the Number at the person's request (RK-NUM-007, RK-NUM-005); see
        ``NumberEvents.reissue``."""
        return self._events.reissue(resident, draw, at, reason)

    def change_resident_code(
        self, old: ResidentCode, new: ResidentCode, at: datetime
    ) -> IndividualNumber:
        """Follow a change of resident code; the Number continues (RK-NUM-008)."""
        return self._events.change_resident_code(old, new, at)

    def history(self, resident: ResidentCode) -> list[NumberEvent]:
        """The events of the person who now holds ``resident``, oldest first (RK-NUM-007)."""
        return self._events.history(resident)

    # -- corporate numbers ----------------------------------------------------------------
    def issue_corporate(self, base12: str, at: datetime) -> CorporateNumber:
        """Issue the corporate number of a 12-digit base, once (RK-CORP-001, RK-CORP-002)."""
        return self._corporate.issue_corporate(base12, at)

    def lookup_corporate(self, number: CorporateNumber) -> CorporateRecord:
        """The issued corporate number ``number`` (RK-CORP-002)."""
        return self._corporate.lookup_corporate(number)

    # -- dumps and size ---------------------------------------------------------------------
    def dump(self) -> list[dict[str, Any]]:
        """Every Number ever issued, with holder, times and status (RK-CTL-003)."""
        return self._register.dump()

    def dump_stores(self) -> dict[str, list[dict[str, Any]]]:
        """Every store of the authority, keyed like ``Federation.dump``, from one read."""
        with self._file.read() as db:
            return {
                "numbering.table": NumberRegister.dump_rows(db),
                "numbering.events": NumberEvents.dump_rows(db),
                "numbering.corporate": CorporateBook.dump_rows(db),
            }

    def bytes_used(self) -> int:
        """Size of the database in bytes (pages × page size; WAL frames included)."""
        return self._file.bytes_used()

    def checkpoint(self) -> None:
        """Copy the WAL into the database file and truncate it (after a bulk load)."""
        self._file.checkpoint()

    def close(self) -> None:
        """Close the connection; the table is unusable afterwards."""
        self._file.close()

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

    def __init__(self, *, max_chunk: int = MAX_CHUNK) -> None:
        super().__init__(":memory:", max_chunk=max_chunk)
