"""Which durable store a hub runs on: ``renkei serve --store`` (issue 17).

``sqlite:PATH`` — the embedded default, one SQLite file (``SqliteLogStore``);
``postgresql://…`` (or ``postgres://…``) — a PostgreSQL database
(``PostgresLogStore``, psycopg 3: the ``postgresql`` extra).  Both keep the same
rows with the same checks on read (RK-LOG-010) and commit a hub step in one
transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .log_store import LogStore, SqliteLogStore
from .witness import CheckpointWitness

__all__ = ["StoreSpec", "parse_store"]

_PG = ("postgresql://", "postgres://")


@dataclass(frozen=True, slots=True)
class StoreSpec:
    """A parsed ``--store`` value: a SQLite file (``path``) or a PostgreSQL URL (``dsn``)."""

    path: Path | None = None
    dsn: str | None = None

    def open(self, witness: CheckpointWitness | None = None) -> LogStore:
        """The store, its tables created if missing; ``witness`` keeps its
        checkpoints apart from it (RK-LOG-011)."""
        if self.dsn is not None:
            from .pg_store import PostgresLogStore

            return PostgresLogStore(self.dsn, witness=witness)
        assert self.path is not None
        return SqliteLogStore(self.path, witness=witness)

    def erase(self) -> None:
        """Remove everything the store keeps (a test-mode reset starts afresh)."""
        if self.dsn is not None:
            from .pg_store import erase

            erase(self.dsn)
            return
        assert self.path is not None
        for path in (self.path, *self.path.parent.glob(self.path.name + "-*")):
            path.unlink(missing_ok=True)

    def describe(self) -> str:
        """The store for messages, without a password the URL may carry."""
        if self.dsn is None:
            return f"sqlite:{self.path}"
        from psycopg.conninfo import conninfo_to_dict

        parts = conninfo_to_dict(self.dsn)
        return "postgresql: " + " ".join(
            f"{k}={v}" for k, v in sorted(parts.items()) if k != "password" and v is not None
        )


def parse_store(value: str, default: Path) -> StoreSpec:
    """``sqlite:PATH``, ``postgresql://…`` or empty (SQLite at ``default``).

    :raises ValueError: any other form, naming the two accepted ones.
    """
    if not value:
        return StoreSpec(path=default)
    if value.startswith(_PG):
        return StoreSpec(dsn=value)
    if value.startswith("sqlite:") and value != "sqlite:":
        return StoreSpec(path=Path(value.removeprefix("sqlite:")))
    raise ValueError(f"--store {value!r}: expected sqlite:PATH or postgresql://…")
