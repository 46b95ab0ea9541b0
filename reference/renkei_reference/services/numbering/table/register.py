"""The Number register: issuing and looking up Numbers (table ``number``).

It owns the ``number`` rows and their count in ``numbering_meta``: the first
Number of a resident code (RK-NUM-001), never one issued before and at most one
current per code (RK-NUM-005), and the look-ups over them.  Re-issue and
resident-code change, which also write ``number_event``, are ``events``'.

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
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

from ....core.identifiers import IndividualNumber, ResidentCode
from ....core.numbering import (
    NUMBER_SPACE,
    Draw,
    NumberRecord,
    decide_issue,
    epoch_seconds,
    from_epoch_seconds,
    number_value,
    require_current,
)
from .draws import Replay
from .store import (
    INSERT_NUMBER,
    NumberingFile,
    bump,
    ever_issued,
    iso,
    num,
    numbers_issued,
    state,
)

__all__ = ["MAX_CHUNK", "NumberRegister"]

_COLLISION_BUDGET = 0.25  # expected Number collisions per optimistic chunk
_MIN_CHUNK = 64
MAX_CHUNK: Final = 4096
_PROBE = 500  # host parameters per IN (...) probe


def _issue_one(
    db: sqlite3.Connection, resident: ResidentCode, draw: Draw, at: datetime
) -> IndividualNumber:
    code = int(resident.value)
    event = decide_issue(
        resident, state(db, code), draw, lambda number: ever_issued(db, number), at
    )
    db.execute(INSERT_NUMBER, (int(event.number.value), code, epoch_seconds(event.at)))
    return event.number


def _any_retired(db: sqlite3.Connection, codes: list[int]) -> bool:
    for i in range(0, len(codes), _PROBE):
        part = codes[i : i + _PROBE]
        marks = ",".join("?" * len(part))
        sql = f"SELECT 1 FROM number_event WHERE old_resident_code IN ({marks}) LIMIT 1"
        if db.execute(sql, part).fetchone() is not None:
            return True
    return False


class NumberRegister:
    """Issue (one or a batch) and look up Numbers in the ``number`` table."""

    def __init__(self, file: NumberingFile, *, max_chunk: int = MAX_CHUNK) -> None:
        if max_chunk < 1:
            raise ValueError("max_chunk must be at least 1")
        self._file = file
        self._max_chunk = max_chunk

    # -- issue ----------------------------------------------------------------------------
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
        with self._file.write() as db:
            number = _issue_one(db, resident, draw, at)
            bump(db, 1)
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
        with self._file.write() as db:
            taken = numbers_issued(db)
            check_retired = (
                db.execute(
                    "SELECT 1 FROM number_event WHERE old_resident_code IS NOT NULL LIMIT 1"
                ).fetchone()
                is not None
            )
            size = self._chunk_size(taken)
            chunk: list[ResidentCode] = []
            for resident in residents:
                chunk.append(resident)
                if len(chunk) >= size:
                    self._issue_chunk(db, chunk, draw, at, stamp=stamp, check_retired=check_retired)
                    issued += len(chunk)
                    size = self._chunk_size(taken + issued)
                    chunk = []
            if chunk:
                self._issue_chunk(db, chunk, draw, at, stamp=stamp, check_retired=check_retired)
                issued += len(chunk)
            bump(db, issued)
        return issued

    def _chunk_size(self, taken: int) -> int:
        """Largest chunk whose expected Number collisions stay within the budget."""
        fit = int(_COLLISION_BUDGET * NUMBER_SPACE / max(taken, 1))
        return min(self._max_chunk, max(_MIN_CHUNK, fit))

    @staticmethod
    def _issue_chunk(
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
        if check_retired and _any_retired(db, codes):
            for resident in chunk:  # some code here is refused; raise the first refusal
                _issue_one(db, resident, draw, at)
            return
        pending = [draw() for _ in codes]
        done = 0
        while done < len(codes):
            rows = [(number_value(d), c, stamp) for d, c in zip(pending, codes[done:], strict=True)]
            before = db.total_changes
            try:
                db.executemany(INSERT_NUMBER, rows)
            except sqlite3.IntegrityError:
                stored = db.total_changes - before
            else:
                return
            replay = Replay(pending[stored:], draw)
            _issue_one(db, chunk[done + stored], replay, at)  # refuses, or redraws
            done += stored + 1
            pending = replay.left_over()
            pending += [draw() for _ in range(len(codes) - done - len(pending))]

    # -- look-up --------------------------------------------------------------------------
    def lookup(self, resident: ResidentCode) -> NumberRecord:
        """The current Number of ``resident`` and its status (RK-NUM-007).

        Raises:
            NotFoundError: ``not-found`` — no Number (RK-NUM-007), or the code
                was replaced by a resident-code change (RK-NUM-008).
        """
        with self._file.read() as db:
            row = db.execute(
                "SELECT number, issued_at FROM number "
                "WHERE resident_code = ? AND revoked_at IS NULL",
                (int(resident.value),),
            ).fetchone()
            if row is None:
                require_current(state(db, int(resident.value)))
                raise AssertionError("unreachable: require_current raised")  # pragma: no cover
        return NumberRecord(num(row[0]), resident, from_epoch_seconds(row[1]))

    def ever_issued(self, number: IndividualNumber) -> bool:
        """True when ``number`` was ever issued to anyone, revoked or not (RK-NUM-005)."""
        with self._file.read() as db:
            return ever_issued(db, number.value)

    def count(self) -> int:
        """How many Numbers were ever issued (current and revoked); O(1)."""
        with self._file.read() as db:
            return numbers_issued(db)

    def dump(self) -> list[dict[str, Any]]:
        """Every Number ever issued, with holder, times and status (RK-CTL-003)."""
        with self._file.read() as db:
            return self.dump_rows(db)

    @staticmethod
    def dump_rows(db: sqlite3.Connection) -> list[dict[str, Any]]:
        """``dump`` inside the caller's read transaction."""
        rows = db.execute(
            "SELECT number, resident_code, issued_at, revoked_at FROM number "
            "ORDER BY resident_code, issued_at, number"
        ).fetchall()
        return [
            {
                "resident_code": f"{code:011d}",
                "number": f"{n:012d}",
                "status": "current" if revoked is None else "revoked",
                "issued_at": iso(issued),
                "revoked_at": iso(revoked),
            }
            for n, code, issued, revoked in rows
        ]
