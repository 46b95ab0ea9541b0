"""Corporate numbers (法人番号): issued once per 12-digit base (table ``corporate_number``)."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Any

from ....core.errors import NotFoundError
from ....core.numbering import (
    CorporateNumber,
    CorporateRecord,
    decide_corporate_issue,
    epoch_seconds,
    from_epoch_seconds,
)
from .store import NumberingFile, iso

__all__ = ["CorporateBook"]


class CorporateBook:
    """Issue and look up corporate numbers (RK-CORP-001, RK-CORP-002)."""

    def __init__(self, file: NumberingFile) -> None:
        self._file = file

    def issue_corporate(self, base12: str, at: datetime) -> CorporateNumber:
        """Issue the corporate number of a 12-digit base, once (RK-CORP-001, RK-CORP-002).

        Raises:
            CallerError: ``validation-error`` for a malformed base (RK-CORP-001).
            ConflictError: ``corporate-number-already-issued`` (RK-CORP-002).
        """
        base = int(CorporateNumber.from_base(base12).base)  # validation-error first
        with self._file.write() as db:
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
        with self._file.read() as db:
            row = db.execute(
                "SELECT issued_at FROM corporate_number WHERE base = ?", (int(number.base),)
            ).fetchone()
        if row is None:
            raise NotFoundError(
                "not-found", "no corporate number with this base was issued", "RK-CORP-002"
            )
        return CorporateRecord(number, from_epoch_seconds(row[0]))

    @staticmethod
    def dump_rows(db: sqlite3.Connection) -> list[dict[str, Any]]:
        """Every corporate number issued, by base, inside the caller's read (RK-CTL-003)."""
        corporate = db.execute(
            "SELECT base, issued_at FROM corporate_number ORDER BY base"
        ).fetchall()
        return [
            {
                "base12": f"{base:012d}",
                "corporate_number": CorporateNumber.from_base(f"{base:012d}").value,
                "issued_at": iso(issued),
            }
            for base, issued in corporate
        ]
