"""The agency node's share of the log, kept (seed items 24–28; RK-AGN-005).

Item 24 (第１．６．（２）) stores ⑦–⑫ at the agencies; items 26 and 27 let the
person and the third-party body see them; item 28 lists storing them among an
agency's functions.  This store is the node's durable log:

* **append-only** (RK-AGN-005): one SQLite row per entry, its serial the
  node's own sequence; triggers refuse every ``UPDATE`` except the purge of a
  due entry's content and every ``DELETE``, so no code path can rewrite history;
* **retained** (RK-RET-001): 7 years by default (``core.retention``, the hub's
  rule, with the node's injected clock), never below the legal minimum;
* **legal holds** (RK-RET-002): the auditor's hold stops the purge of what its
  scope covers; once lifted, the next purge run removes what it kept;
* **purged** (RK-RET-003): the content goes, a tombstone (serial, time made,
  time purged) stays, so the auditor sees that an entry existed;
* **served** (RK-AUD-001): the auditor's pages, by serial; and the entries
  themselves for the person's ⑪/⑫ application (RK-PORT-004);
* **refusals** (RK-AGN-001): every attempt by staff or at a terminal outside
  the designation, append-only, served to the auditor by their own serial;
* **administrative log** (RK-AGN-006): legal holds placed and lifted and the
  auditor's reads of the node's logs, as ``core.admin_log`` entries (the
  hub's format: serial, time, event, actor, details; the record is the
  canonical leaf), append-only, served to the auditor.  Unlike the hub's, it
  has no Merkle tree or signed checkpoints: a node holds no log signing key.

Refusals and administrative entries are not purged: like the hub's
administrative log they hold no personal information of the persons linked.

``path`` is a file for a durable store (a restarted node resumes its log, its
retention and its holds) or ``:memory:`` (the default; tests).
"""

from __future__ import annotations

import base64
import json
import secrets
import sqlite3
import threading
from dataclasses import asdict, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ...core.admin_log import (
    AdminEvent,
    AdminLogEntry,
    Detail,
    admin_entry_from_record,
    admin_leaf_bytes,
    admin_view,
)
from ...core.agency import AgencyLogEntry, Side
from ...core.errors import NotFoundError
from ...core.retention import (
    HoldScope,
    LegalHold,
    LogClass,
    RetentionPolicy,
    due_for_purge,
    hold_from_record,
    hold_record,
)
from ..clock import Clock

__all__ = ["AgencyLogStore"]

_CLASS = LogClass.AGENCY_ACCESS_LOG

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entries (
    serial    INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    record    TEXT,            -- the entry as JSON; NULL once purged
    purged_at TEXT
);
-- RK-AGN-005: append-only.  The only change a row may see is its purge.
CREATE TRIGGER IF NOT EXISTS entries_append_only BEFORE UPDATE ON entries
WHEN NEW.record IS NOT NULL OR OLD.record IS NULL OR NEW.serial != OLD.serial
     OR NEW.at != OLD.at OR NEW.purged_at IS NULL
BEGIN SELECT RAISE(ABORT, 'the agency log is append-only (RK-AGN-005)'); END;
CREATE TRIGGER IF NOT EXISTS entries_never_deleted BEFORE DELETE ON entries
BEGIN SELECT RAISE(ABORT, 'the agency log is append-only (RK-AGN-005)'); END;
CREATE TABLE IF NOT EXISTS holds (hold_id TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value TEXT NOT NULL);
-- RK-AGN-001: every refused attempt by undesignated staff or at an undesignated terminal
CREATE TABLE IF NOT EXISTS denials (serial INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS denials_append_only BEFORE UPDATE ON denials
BEGIN SELECT RAISE(ABORT, 'the refusals are append-only (RK-AGN-001)'); END;
CREATE TRIGGER IF NOT EXISTS denials_never_deleted BEFORE DELETE ON denials
BEGIN SELECT RAISE(ABORT, 'the refusals are append-only (RK-AGN-001)'); END;
-- RK-AGN-006: the node's administrative log (core.admin_log leaves)
CREATE TABLE IF NOT EXISTS admin (serial INTEGER PRIMARY KEY, record TEXT NOT NULL);
CREATE TRIGGER IF NOT EXISTS admin_append_only BEFORE UPDATE ON admin
BEGIN SELECT RAISE(ABORT, 'the administrative log is append-only (RK-AGN-006)'); END;
CREATE TRIGGER IF NOT EXISTS admin_never_deleted BEFORE DELETE ON admin
BEGIN SELECT RAISE(ABORT, 'the administrative log is append-only (RK-AGN-006)'); END;
-- RK-PORT-004: the disclosure applications brought to the node, until and after decision
-- (what a grant releases is read from the entries, never copied here)
CREATE TABLE IF NOT EXISTS applications (application_id TEXT PRIMARY KEY, record TEXT NOT NULL);
"""


def _sortable(t: datetime) -> str:
    """A UTC time as text that sorts as the time does (the ``at`` column)."""
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _record(entry: AgencyLogEntry) -> str:
    data = asdict(entry)
    data["side"] = entry.side.value
    data["at"] = entry.at.isoformat()
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def _entry(record: str) -> AgencyLogEntry:
    data = json.loads(record)
    data["side"] = Side(data["side"])
    data["at"] = datetime.fromisoformat(data["at"])
    return AgencyLogEntry(**{f.name: data[f.name] for f in fields(AgencyLogEntry)})


class AgencyLogStore:
    """An agency node's log: durable, append-only, retained, held, served."""

    def __init__(self, clock: Clock, path: Path | str = ":memory:") -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM settings WHERE name = 'years'").fetchone()
        years = int(row[0]) if row else RetentionPolicy().years_for(_CLASS)
        self._policy = RetentionPolicy().with_years(_CLASS, years)
        self._holds = {
            hold.hold_id: hold
            for (text,) in self._db.execute("SELECT record FROM holds")
            for hold in [hold_from_record(text)]
        }

    # -- keeping ------------------------------------------------------------------
    def append(self, **values: Any) -> AgencyLogEntry:
        """Append an entry made now (the node's clock); its serial is the next one."""
        with self._lock:
            last = self._db.execute("SELECT max(serial) FROM entries").fetchone()[0]
            entry = AgencyLogEntry(serial=(last or 0) + 1, at=self._clock.now(), **values)
            self._db.execute(
                "INSERT INTO entries (serial, at, record) VALUES (?, ?, ?)",
                (entry.serial, _sortable(entry.at), _record(entry)),
            )
            self.purge_due()
            return entry

    def entries(self) -> list[AgencyLogEntry]:
        """Every retained entry, oldest first."""
        with self._lock:
            self.purge_due()
            rows = self._db.execute(
                "SELECT record FROM entries WHERE record IS NOT NULL ORDER BY serial"
            ).fetchall()
        return [_entry(text) for (text,) in rows]

    # -- serving (RK-AUD-001) --------------------------------------------------------
    def page(self, after: int, limit: int) -> list[dict[str, object]]:
        """The auditor's page: retained entries with a serial above ``after``."""
        with self._lock:
            self.purge_due()
            rows = self._db.execute(
                "SELECT record FROM entries WHERE serial > ? AND record IS NOT NULL "
                "ORDER BY serial LIMIT ?",
                (after, limit),
            ).fetchall()
        return [_entry(text).auditor_view() for (text,) in rows]

    def purged(self) -> list[dict[str, str]]:
        """Tombstones of purged entries: serial, when made, when purged."""
        with self._lock:
            rows = self._db.execute(
                "SELECT serial, at, purged_at FROM entries WHERE record IS NULL ORDER BY serial"
            ).fetchall()
        return [{"serial": s, "at": at, "purged_at": p} for s, at, p in rows]

    # -- refusals (RK-AGN-001) ---------------------------------------------------------
    def deny(self, staff_id: str, terminal: str, action: str, reason: str) -> dict[str, Any]:
        """Record a refused attempt; returns it as the auditor reads it."""
        with self._lock:
            last = self._db.execute("SELECT max(serial) FROM denials").fetchone()[0]
            denial = {
                "serial": (last or 0) + 1,
                "at": self._clock.now().isoformat(),
                "staff_id": staff_id,
                "terminal": terminal,
                "action": action,
                "reason": reason,
            }
            self._db.execute(
                "INSERT INTO denials (serial, record) VALUES (?, ?)",
                (denial["serial"], json.dumps(denial, ensure_ascii=False, sort_keys=True)),
            )
            return denial

    def denials(self, after: int = 0, limit: int = 2**31) -> list[dict[str, Any]]:
        """Refusals with a serial above ``after``, oldest first (``AgencyDenial``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM denials WHERE serial > ? ORDER BY serial LIMIT ?",
                (after, limit),
            ).fetchall()
        return [dict(json.loads(text)) for (text,) in rows]

    # -- the administrative log (RK-AGN-006) -----------------------------------------
    def record_admin(self, event: AdminEvent, actor: str, **details: Detail) -> AdminLogEntry:
        """Append an administrative entry made now by ``actor``."""
        with self._lock:
            last = self._db.execute("SELECT max(serial) FROM admin").fetchone()[0]
            entry = AdminLogEntry((last or 0) + 1, self._clock.now(), event, actor, details)
            self._db.execute(
                "INSERT INTO admin (serial, record) VALUES (?, ?)",
                (entry.serial, admin_leaf_bytes(entry).decode()),
            )
            return entry

    def admin_page(self, after: int, limit: int) -> list[dict[str, Any]]:
        """Administrative entries above ``after`` with their leaves (``AdminLogEntry``)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT record FROM admin WHERE serial > ? ORDER BY serial LIMIT ?",
                (after, limit),
            ).fetchall()
        return [
            {**admin_view(admin_entry_from_record(text)),
             "leaf": base64.b64encode(text.encode()).decode()}
            for (text,) in rows
        ]  # fmt: skip

    # -- retention and holds (RK-RET-001..003) --------------------------------------
    @property
    def retention_years(self) -> int:
        return self._policy.years_for(_CLASS)

    def set_retention(self, years: int) -> None:
        """RK-RET-001: never below the legal minimum (``retention-below-legal-minimum``)."""
        with self._lock:
            self._policy = self._policy.with_years(_CLASS, years)
            self._db.execute(
                "INSERT OR REPLACE INTO settings (name, value) VALUES ('years', ?)", (str(years),)
            )
            self.purge_due()

    def place_hold(
        self, placed_by: str, reason: str, scope: HoldScope, case_reference: str | None = None
    ) -> LegalHold:
        """RK-RET-002: the auditor stops the purge of what ``scope`` covers."""
        with self._lock:
            hold = LegalHold(
                hold_id=secrets.token_hex(8),
                scope=scope,
                reason=reason,
                placed_by=placed_by,
                placed_at=self._clock.now(),
                case_reference=case_reference,
            )
            self._save(hold)
            self.record_admin(
                AdminEvent.LEGAL_HOLD_PLACED,
                placed_by,
                hold_id=hold.hold_id,
                reason=reason,
                case_reference=case_reference,
                scope=sorted(
                    name
                    for name, value in (
                        ("serials", scope.serials),
                        ("pattern_id", scope.pattern_id),
                        ("agency_id", scope.agency),
                        ("linkage_ids", scope.linkage_ids),
                        ("from", scope.not_before),
                        ("to", scope.before),
                    )
                    if value
                ),
            )
            return hold

    def lift_hold(self, hold_id: str, lifted_by: str) -> LegalHold:
        with self._lock:
            now = self._clock.now()
            hold = self._holds.get(hold_id)
            if hold is None or not hold.in_force(now):
                raise NotFoundError(
                    "not-found", f"no legal hold {hold_id!r} in force", "RK-RET-002"
                )
            lifted = hold.lift(now, lifted_by)
            self._save(lifted)
            self.record_admin(AdminEvent.LEGAL_HOLD_LIFTED, lifted_by, hold_id=hold_id)
            self.purge_due()
            return lifted

    def _save(self, hold: LegalHold) -> None:
        self._holds[hold.hold_id] = hold
        self._db.execute(
            "INSERT OR REPLACE INTO holds (hold_id, record) VALUES (?, ?)",
            (hold.hold_id, hold_record(hold)),
        )

    def purge_due(self) -> tuple[int, ...]:
        """Purge every entry past its retention that no hold in force covers."""
        with self._lock:
            now = self._clock.now()
            # an entry made after this instant cannot be due (a year has ≥ 365 days)
            cutoff = now - timedelta(days=365 * self.retention_years)
            rows = self._db.execute(
                "SELECT record FROM entries WHERE record IS NOT NULL AND at < ? ORDER BY serial",
                (_sortable(cutoff),),
            ).fetchall()
            plan = due_for_purge(
                [_entry(text) for (text,) in rows],
                self.retention_years,
                list(self._holds.values()),
                now,
            )
            if plan:
                self._db.executemany(
                    "UPDATE entries SET record = NULL, purged_at = ? WHERE serial = ?",
                    [(now.isoformat(), serial) for serial in plan],
                )
            return plan

    # -- disclosure applications (RK-PORT-004) -----------------------------------------
    def save_application(self, record: dict[str, Any]) -> None:
        """Keep an application's state (its released entries are not stored)."""
        kept = {k: v for k, v in record.items() if k != "entries"}
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO applications (application_id, record) VALUES (?, ?)",
                (kept["application_id"], json.dumps(kept, ensure_ascii=False, sort_keys=True)),
            )

    def applications(self) -> list[dict[str, Any]]:
        """Every application kept, in the order they were brought."""
        with self._lock:
            rows = self._db.execute("SELECT record FROM applications ORDER BY rowid").fetchall()
        return [json.loads(text) for (text,) in rows]

    def close(self) -> None:
        with self._lock:
            self._db.close()
