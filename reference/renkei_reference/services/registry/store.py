"""The resident registry's store: residents, earlier items and the blocking index in SQLite.

The registry (住基ネット simulator, services.registry.registry) keeps nothing per
resident in Python memory: its residents (latest 4 items, kana reading, status),
their earlier 4 items, the code changes and the uses of the currency service are
rows of this file (``registry.sqlite3``, or an in-memory database), and the
matcher's blocking index is the table ``blocking`` — for each resident, the five
folded keys of his latest items and of each earlier state
(``core.binding_match.blocking_keys``) as 64-bit ``block_hash`` integers, one
B-tree keyed by (key, person).  A binding decision asks it through
``StoreIndex`` (the core's ``BlockingIndex``): one indexed query for the ten keys
of a record, then the rows of the few candidates.  A restart opens the file and
reads nothing.  Every change is one SQLite transaction (WAL, ``synchronous=FULL``).
The hub's store never holds the 4 items (RK-ARCH-004).

An older file holding only the registry's former journal (table ``ops``: one
JSON operation a row) is replayed once into these tables by the registry.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from ...core.binding_match import (
    Items,
    Policy,
    block_hash,
    blocking_keys,
    fold_items,
    key_items,
)
from ...core.binding_normalise import kana_reading

__all__ = ["RegistryStore", "ResidentRow", "StoreIndex"]

# (person, code, name, address, birth_date, sex, name_kana, removed_reason, removed_on)
ResidentRow = tuple[int, str, str, str, str, str, str | None, str | None, str | None]
# (name, address, birth_date, sex, name_kana)
StateRow = tuple[str, str, str, str, str | None]

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS resident (
        person INTEGER PRIMARY KEY, code TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL, address TEXT NOT NULL, birth_date TEXT NOT NULL, sex TEXT NOT NULL,
        name_kana TEXT, removed_reason TEXT, removed_on TEXT)""",
    """CREATE TABLE IF NOT EXISTS earlier (
        seq INTEGER PRIMARY KEY, person INTEGER NOT NULL,
        name TEXT NOT NULL, address TEXT NOT NULL, birth_date TEXT NOT NULL, sex TEXT NOT NULL,
        name_kana TEXT)""",
    "CREATE INDEX IF NOT EXISTS earlier_person ON earlier (person)",
    """CREATE TABLE IF NOT EXISTS blocking (
        key INTEGER NOT NULL, person INTEGER NOT NULL, PRIMARY KEY (key, person)) WITHOUT ROWID""",
    "CREATE TABLE IF NOT EXISTS code_change (seq INTEGER PRIMARY KEY, old TEXT, new TEXT)",
    """CREATE TABLE IF NOT EXISTS currency_use (
        seq INTEGER PRIMARY KEY, at TEXT, agency TEXT, resident_code TEXT, status TEXT)""",
)
_RESIDENT = (
    "SELECT person, code, name, address, birth_date, sex, name_kana, removed_reason, removed_on"
    " FROM resident"
)
_STATE = "SELECT name, address, birth_date, sex, name_kana FROM earlier"
_BULK = 20_000  # rows a statement when importing


def block_hashes(items: Items, *, earlier: bool) -> list[int]:
    """The five blocking keys of ``items`` (folded), hashed for the store."""
    return [block_hash(k)[earlier] for k in blocking_keys(fold_items(items))]


class RegistryStore:
    """One SQLite connection over the registry's tables; callers serialise use."""

    def __init__(self, path: Path | str = ":memory:", *, cache_mib: int = 64) -> None:
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if str(path) != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(f"PRAGMA cache_size={-1024 * int(cache_mib)}")
        for statement in _SCHEMA:
            self._db.execute(statement)

    # -- transactions ------------------------------------------------------------
    def begin(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def commit(self) -> None:
        self._db.execute("COMMIT")

    def rollback(self) -> None:
        self._db.execute("ROLLBACK")

    def close(self) -> None:
        self._db.close()

    # -- reads -------------------------------------------------------------------
    def resident(self, code: str) -> ResidentRow | None:
        row: ResidentRow | None = self._db.execute(
            _RESIDENT + " WHERE code = ?", (code,)
        ).fetchone()
        return row

    def person(self, person: int) -> ResidentRow | None:
        row: ResidentRow | None = self._db.execute(
            _RESIDENT + " WHERE person = ?", (person,)
        ).fetchone()
        return row

    def states(self, person: int) -> list[StateRow]:
        """A resident's earlier states, oldest first."""
        return self._db.execute(_STATE + " WHERE person = ? ORDER BY seq", (person,)).fetchall()

    def candidates(self, keys: Sequence[int]) -> list[tuple[int, int]]:
        """(key, person) for every stored blocking key among ``keys``."""
        marks = ",".join("?" * len(keys))
        return self._db.execute(
            f"SELECT key, person FROM blocking WHERE key IN ({marks})", tuple(keys)
        ).fetchall()

    def residents(self) -> Iterator[ResidentRow]:
        """Every resident, by resident code (streamed)."""
        return iter(self._db.execute(_RESIDENT + " ORDER BY code"))

    def earlier_items(self) -> Iterator[tuple[str, StateRow]]:
        """Every earlier state with its resident's code, by code then age (streamed)."""
        rows = self._db.execute(
            "SELECT r.code, e.name, e.address, e.birth_date, e.sex, e.name_kana"
            " FROM earlier e JOIN resident r USING (person) ORDER BY r.code, e.seq"
        )
        return ((row[0], row[1:]) for row in rows)

    def code_changes(self) -> list[tuple[str, str]]:
        return self._db.execute("SELECT old, new FROM code_change ORDER BY seq").fetchall()

    def currency_uses(self) -> list[tuple[str, str, str, str]]:
        return self._db.execute(
            "SELECT at, agency, resident_code, status FROM currency_use ORDER BY seq"
        ).fetchall()

    def count(self) -> int:
        (n,) = self._db.execute("SELECT count(*) FROM resident").fetchone()
        return int(n)

    # -- writes (inside begin/commit) ----------------------------------------------
    def insert(self, code: str, state: StateRow) -> int:
        """A new resident (current); his row number, which never changes."""
        cur = self._db.execute(
            "INSERT INTO resident (code, name, address, birth_date, sex, name_kana)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (code, *state),
        )
        person = int(cur.lastrowid or 0)
        self._add_keys(person, state[:4], earlier=False)
        return person

    def replace_latest(self, person: int, old: StateRow, new: StateRow, *, keep: bool) -> None:
        """The resident's latest items become ``new``; ``old`` (his latest until now)
        becomes an earlier state when ``keep``."""
        self._db.executemany(
            "DELETE FROM blocking WHERE key = ? AND person = ?",
            [(k, person) for k in block_hashes(old[:4], earlier=False)],
        )
        if keep:
            self._db.execute(
                "INSERT INTO earlier (person, name, address, birth_date, sex, name_kana)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (person, *old),
            )
            self._add_keys(person, old[:4], earlier=True)
        self._db.execute(
            "UPDATE resident SET name = ?, address = ?, birth_date = ?, sex = ?, name_kana = ?"
            " WHERE person = ?",
            (*new, person),
        )
        self._add_keys(person, new[:4], earlier=False)

    def set_status(self, person: int, reason: str | None, removed_on: str | None) -> None:
        self._db.execute(
            "UPDATE resident SET removed_reason = ?, removed_on = ? WHERE person = ?",
            (reason, removed_on, person),
        )

    def recode(self, old: str, new: str) -> None:
        self._db.execute("UPDATE resident SET code = ? WHERE code = ?", (new, old))
        self._db.execute("INSERT INTO code_change (old, new) VALUES (?, ?)", (old, new))

    def log_use(self, at: str, agency: str, code: str, status: str) -> None:
        self._db.execute(
            "INSERT INTO currency_use (at, agency, resident_code, status) VALUES (?, ?, ?, ?)",
            (at, agency, code, status),
        )

    def _add_keys(self, person: int, items: Sequence[str], *, earlier: bool) -> None:
        four: Items = (items[0], items[1], items[2], items[3])
        self._db.executemany(
            "INSERT OR IGNORE INTO blocking (key, person) VALUES (?, ?)",
            [(k, person) for k in block_hashes(four, earlier=earlier)],
        )

    def import_residents(
        self, rows: Iterable[tuple[str, StateRow, Sequence[StateRow], tuple[str, str] | None]]
    ) -> int:
        """Bulk load of new residents — (code, latest, earlier states, removal) —
        in one transaction: rows appended, blocking keys gathered in a temporary
        table and inserted in key order (a B-tree built by appending, not by
        random inserts).  Row numbers follow the input's order."""
        (top,) = self._db.execute("SELECT coalesce(max(person), 0) FROM resident").fetchone()
        person = int(top)
        self.begin()
        try:
            self._db.execute("CREATE TEMP TABLE IF NOT EXISTS staging (key INT, person INT)")
            people: list[tuple[Any, ...]] = []
            states: list[tuple[Any, ...]] = []
            keys: list[tuple[int, int]] = []
            for code, latest, earlier, removal in rows:
                person += 1
                people.append((person, code, *latest, *(removal or (None, None))))
                keys.extend((k, person) for k in block_hashes(_four(latest), earlier=False))
                for state in earlier:
                    states.append((person, *state))
                    keys.extend((k, person) for k in block_hashes(_four(state), earlier=True))
                if len(people) >= _BULK:
                    self._bulk(people, states, keys)
            self._bulk(people, states, keys)
            self._db.execute(
                "INSERT OR IGNORE INTO blocking SELECT key, person FROM staging"
                " ORDER BY key, person"
            )
            self._db.execute("DROP TABLE staging")
        except BaseException:
            self.rollback()
            raise
        self.commit()
        return person - int(top)

    def _bulk(
        self, people: list[tuple[Any, ...]], states: list[tuple[Any, ...]], keys: list[Any]
    ) -> None:
        self._db.executemany(
            "INSERT INTO resident (person, code, name, address, birth_date, sex, name_kana,"
            " removed_reason, removed_on) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            people,
        )
        self._db.executemany(
            "INSERT INTO earlier (person, name, address, birth_date, sex, name_kana)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            states,
        )
        self._db.executemany("INSERT INTO staging VALUES (?, ?)", keys)
        people.clear()
        states.clear()
        keys.clear()

    # -- the former journal -----------------------------------------------------------
    def legacy_ops(self) -> list[dict[str, Any]]:
        """The operations of a former journal (table ``ops``), in order; [] when none."""
        found = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'ops'"
        ).fetchone()
        if not found:
            return []
        return [json.loads(op) for (op,) in self._db.execute("SELECT op FROM ops ORDER BY seq")]

    def drop_legacy_ops(self) -> None:
        self._db.execute("DROP TABLE IF EXISTS ops")


def _four(state: StateRow) -> Items:
    return (state[0], state[1], state[2], state[3])


class StoreIndex:
    """The core's ``BlockingIndex`` over a ``RegistryStore``: what one decision
    reads, and nothing kept between records.

    ``fits`` asks the store once for all ten blocking keys of the record (latest
    and earlier, full and "all but one item") and keeps the answer for the
    ``three`` look-ups of the same record; the rows of its candidates are read
    once each.  Both are dropped when the next record comes (or on ``forget``),
    so the memory is bounded by one record's candidates.  A full-key hit is
    checked against the candidate's own folded items, so that a 64-bit
    collision can never bind; a three-item hit is not (a collision there can
    only add a candidate: a review, never a wrong bind)."""

    def __init__(self, store: RegistryStore, policy: Policy = Policy.FOLDED) -> None:
        self._store = store
        self._policy = policy
        self._folded: Items | None = None
        self._hits: dict[int, list[int]] = {}
        self._keys: tuple[list[int], list[int]] = ([], [])
        self._people: dict[int, ResidentRow] = {}
        self._states: dict[int, list[Items]] = {}

    @property
    def policy(self) -> Policy:
        return self._policy

    def forget(self) -> None:
        """Drop what was read (after a change of the registry)."""
        self._folded = None
        self._hits = {}
        self._people = {}
        self._states = {}

    def _lookup(self, folded: Items) -> None:
        if folded == self._folded:
            return
        self.forget()
        pairs = [block_hash(k) for k in blocking_keys(folded)]
        latest = [pair[0] for pair in pairs]
        earlier = [pair[1] for pair in pairs]
        hits: dict[int, list[int]] = {}
        for key, person in self._store.candidates(latest + earlier):
            hits.setdefault(key, []).append(person)
        self._folded, self._hits, self._keys = folded, hits, (latest, earlier)

    def _row(self, person: int) -> ResidentRow:
        row = self._people.get(person)
        if row is None:
            row = self._store.person(person)
            if row is None:
                raise LookupError(f"registry row {person} is gone")
            self._people[person] = row
        return row

    def fits(self, folded: Items) -> tuple[tuple[int, ...], tuple[int, ...]]:
        self._lookup(folded)
        key = key_items(folded)
        latest = tuple(
            p
            for p in sorted(self._hits.get(self._keys[0][0], ()))
            if key_items(fold_items(self.items(p))) == key
        )
        earlier = tuple(
            p
            for p in sorted(self._hits.get(self._keys[1][0], ()))
            if any(key_items(fold_items(s)) == key for s in self.earlier_states(p))
        )
        return latest, earlier

    def three(self, folded: Items, i: int, *, earlier: bool = False) -> tuple[int, ...]:
        self._lookup(folded)
        return tuple(sorted(self._hits.get(self._keys[1 if earlier else 0][i + 1], ())))

    def reading(self, person: int) -> str | None:
        return kana_reading(self._row(person)[6])

    def items(self, person: int) -> Items:
        row = self._row(person)
        return (row[2], row[3], row[4], row[5])

    def earlier_states(self, person: int) -> Sequence[Items]:
        states = self._states.get(person)
        if states is None:
            states = [_four(s) for s in self._store.states(person)]
            self._states[person] = states
        return states

    def is_removed(self, person: int) -> bool:
        return self._row(person)[7] is not None
