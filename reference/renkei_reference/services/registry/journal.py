"""The resident registry's journal: its changes, kept so that a restart loses none.

The registry (住基ネット simulator, services.registry) keeps its residents in
memory for matching; every change it accepts — residents registered or updated,
resident-code changes — is appended here first, one SQLite transaction per
call (``synchronous=FULL``), and replayed in order at start.  It is the
registry's own file (``registry.sqlite3``): the hub's store never holds the
4 items (RK-ARCH-004).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

__all__ = ["MemoryJournal", "RegistryJournal", "SqliteRegistryJournal"]

Op = dict[str, Any]


class RegistryJournal(Protocol):
    def append(self, ops: Sequence[Op]) -> None: ...

    def replay(self) -> Iterator[Op]: ...

    def close(self) -> None: ...


class MemoryJournal:
    """Keeps nothing: an in-memory registry dies with its process."""

    def append(self, ops: Sequence[Op]) -> None:
        pass

    def replay(self) -> Iterator[Op]:
        return iter(())

    def close(self) -> None:
        pass


class SqliteRegistryJournal:
    """The durable journal: one row an operation, in order."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute(
            "CREATE TABLE IF NOT EXISTS ops (seq INTEGER PRIMARY KEY, op TEXT NOT NULL)"
        )

    def append(self, ops: Sequence[Op]) -> None:
        rows = [(json.dumps(op, ensure_ascii=False, sort_keys=True),) for op in ops]
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT INTO ops (op) VALUES (?)", rows)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def replay(self) -> Iterator[Op]:
        with self._lock:
            rows = self._conn.execute("SELECT op FROM ops ORDER BY seq").fetchall()
        return (json.loads(op) for (op,) in rows)

    def close(self) -> None:
        with self._lock:
            self._conn.close()
