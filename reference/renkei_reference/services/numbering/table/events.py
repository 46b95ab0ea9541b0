"""What a person's Number and resident code do after issue (table ``number_event``).

Re-issue at the person's request (RK-NUM-007) revokes the old Number — its row
stays, so it is never drawn again (RK-NUM-005) — and issues a new one;
a resident-code change (RK-NUM-008) moves the Number to the new code and
retires the old code.  Each is one event in ``number_event``, and ``history``
reads them back, following the person through earlier resident codes.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ....core.identifiers import IndividualNumber, ResidentCode
from ....core.numbering import (
    Draw,
    NumberEvent,
    NumberEventKind,
    ReissueReason,
    decide_reissue,
    decide_resident_code_change,
    epoch_seconds,
    from_epoch_seconds,
    require_current,
)
from .store import INSERT_NUMBER, NumberingFile, bump, ever_issued, iso, num, rc, state

__all__ = ["NumberEvents"]


class NumberEvents:
    """Re-issue, resident-code change and the history they leave."""

    def __init__(self, file: NumberingFile) -> None:
        self._file = file

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
        with self._file.write() as db:
            event = decide_reissue(
                resident,
                state(db, code),
                draw,
                lambda number: ever_issued(db, number),
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
            db.execute(INSERT_NUMBER, (int(event.number.value), code, stamp))
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
            bump(db, 1)
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
        with self._file.write() as db:
            event = decide_resident_code_change(
                old, state(db, int(old.value)), new, state(db, int(new.value)), at
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
        with self._file.read() as db:
            code = int(resident.value)
            current = require_current(state(db, code))
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
                NumberEventKind.ISSUED, from_epoch_seconds(issued_at), rc(chain[-1]), num(first)
            )
        ]
        for kind, at, code_, number, old_rc, old_number, reason in rows:
            events.append(
                NumberEvent(
                    NumberEventKind(kind),
                    from_epoch_seconds(at),
                    rc(code_),
                    num(number),
                    None if old_rc is None else rc(old_rc),
                    None if old_number is None else num(old_number),
                    None if reason is None else ReissueReason(reason),
                )
            )
        return events

    @staticmethod
    def dump_rows(db: sqlite3.Connection) -> list[dict[str, Any]]:
        """Every event, in order, inside the caller's read transaction (RK-CTL-003)."""
        events = db.execute(
            "SELECT seq, kind, at, resident_code, number, old_resident_code, old_number, "
            "reason FROM number_event ORDER BY seq"
        ).fetchall()
        return [
            {
                "seq": seq,
                "kind": kind,
                "at": iso(at),
                "resident_code": f"{code:011d}",
                "number": f"{n:012d}",
                "old_resident_code": None if orc is None else f"{orc:011d}",
                "old_number": None if on is None else f"{on:012d}",
                "reason": reason,
            }
            for seq, kind, at, code, n, orc, on, reason in events
        ]
