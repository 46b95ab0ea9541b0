"""A throw-away PostgreSQL cluster for the store tests, and the two stores as one fixture.

``PostgresCluster`` runs ``initdb`` into a fresh temporary folder and starts the
server with ``pg_ctl`` on a Unix socket in that folder (no TCP port, nothing
listens beyond this machine); each test gets a database of its own
(``database()``).  As root — where ``initdb`` refuses to run — the cluster is
made and run by the ``postgres`` user that Debian's package creates (else
``nobody``).  The binaries are Debian's (``/usr/lib/postgresql/<version>/bin``,
which ``.ci/run`` installs); without them the PostgreSQL variants are skipped,
saying so.

``Backend`` is one store kind as the tests see it: ``open`` makes the store at a
named place (a SQLite file in ``tmp_path``, or a database), ``rows``/``execute``
read and change its tables behind the hub's back, in either database's SQL
(``?`` placeholders).
"""

from __future__ import annotations

import contextlib
import functools
import glob
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

FULL = "database or disk is full"
BINARIES = "/usr/lib/postgresql/*/bin"


def pg_bin() -> Path | None:
    """The newest installed PostgreSQL's binaries folder, or None."""
    found = sorted(
        glob.glob(f"{BINARIES}/initdb"), key=lambda p: int(Path(p).parts[-3].split(".")[0])
    )
    return Path(found[-1]).parent if found else None


def pg_sql(sql: str) -> str:
    """A statement with ``?`` placeholders in psycopg's form (``%s``, a literal ``%%``)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PostgresCluster:
    """A PostgreSQL server of its own, on a Unix socket in a temporary folder."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="renkei-pg-"))
        self.data = self.folder / "data"
        self.user: str | None = None
        if os.geteuid() == 0:
            for name in ("postgres", "nobody"):
                with contextlib.suppress(KeyError):
                    entry = pwd.getpwnam(name)
                    os.chown(self.folder, entry.pw_uid, entry.pw_gid)
                    self.user = name
                    break
            else:
                raise RuntimeError("as root, initdb needs a user to run as: none found")
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "renkei", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self._count = 0
        self.start()

    def start(self) -> None:
        options = f"-c listen_addresses='' -k {self.folder} -c max_connections=200"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.folder / "server.log"), "-w",
            "-t", "60", "-o", options, "start",
        )  # fmt: skip

    def halt(self) -> None:
        """Stop the server, keeping its data (``start`` brings it back)."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://renkei@/{database}?host={self.folder}"

    def database(self) -> str:
        """A new empty database; its URL."""
        import psycopg

        self._count += 1
        name = f"t{self._count}"
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def stop(self) -> None:
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)


class Backend:
    """One store kind (``sqlite`` or ``postgresql``) for one test."""

    def __init__(self, kind: str, tmp_path: Path, cluster: PostgresCluster | None) -> None:
        self.kind = kind
        self._tmp = tmp_path
        self._cluster = cluster
        self._places: dict[str, str] = {}

    def place(self, name: str = "logs") -> str:
        """Where the store ``name`` lives: a file path, or a database URL."""
        if name not in self._places:
            if self._cluster is None:
                self._places[name] = str(self._tmp / f"{name}.sqlite3")
            else:
                self._places[name] = self._cluster.database()
        return self._places[name]

    def store_class(self, *, full_disk: bool = False) -> type:
        from renkei_reference.services.store.log_store import SqliteLogStore

        if self._cluster is None:
            return _sqlite_full_disk() if full_disk else SqliteLogStore
        from renkei_reference.services.store.pg_store import PostgresLogStore

        return _postgres_full_disk() if full_disk else PostgresLogStore

    def open(self, name: str = "logs", *, full_disk: bool = False, **kw: Any) -> Any:
        place: Any = self.place(name)
        if self._cluster is None:
            place = Path(place)
        return self.store_class(full_disk=full_disk)(place, **kw)

    def rows(
        self, sql: str, args: Sequence[object] = (), name: str = "logs"
    ) -> list[tuple[Any, ...]]:
        if self._cluster is None:
            with contextlib.closing(sqlite3.connect(self.place(name))) as db:
                return db.execute(sql, tuple(args)).fetchall()
        import psycopg

        with psycopg.connect(self.place(name), autocommit=True) as conn:
            cur = conn.execute(pg_sql(sql), tuple(args))  # type: ignore[arg-type]
            return (
                [
                    tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
                    for row in cur.fetchall()
                ]
                if cur.description
                else []
            )

    def stored_bytes(self, name: str = "logs") -> bytes:
        """The bytes of the store's files: the SQLite file and its journals; the
        PostgreSQL tables' files (heap and TOAST, after a checkpoint) — the
        server's WAL is not among them (pg_store's docstring)."""
        if self._cluster is None:
            path = Path(self.place(name))
            return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        import psycopg

        with psycopg.connect(self.place(name), autocommit=True) as conn:
            conn.execute("CHECKPOINT")
            files = conn.execute(
                "SELECT pg_relation_filepath(c.oid) FROM pg_class c"
                " WHERE c.relname IN ('leaves', 'nodes', 'state', 'records')"
                " OR c.oid IN (SELECT reltoastrelid FROM pg_class WHERE relname = 'leaves')"
            ).fetchall()
        data = self._cluster.data
        return b"".join(
            p.read_bytes() for (f,) in files if f is not None for p in sorted(data.glob(f + "*"))
        )

    def execute(self, sql: str, args: Sequence[object] = (), name: str = "logs") -> int:
        """Run one changing statement behind the store's back; the rows it changed."""
        if self._cluster is None:
            with contextlib.closing(sqlite3.connect(self.place(name))) as db:
                changed = db.execute(sql, tuple(args)).rowcount
                db.commit()
                return changed
        import psycopg

        with psycopg.connect(self.place(name), autocommit=True) as conn:
            return conn.execute(pg_sql(sql), tuple(args)).rowcount  # type: ignore[arg-type]


@functools.cache
def _sqlite_full_disk() -> type:
    from renkei_reference.services.store.log_store import SqliteLogStore

    class FullDisk(SqliteLogStore):
        """A SQLite store whose disk fills up on demand, as SQLite reports it."""

        full = False

        def _write(self, conn: Any, changes: Any) -> None:
            if self.full:
                raise sqlite3.OperationalError(FULL)
            super()._write(conn, changes)

    return FullDisk


@functools.cache
def _postgres_full_disk() -> type:
    import psycopg

    from renkei_reference.services.store.pg_store import PostgresLogStore

    class FullDisk(PostgresLogStore):
        """A PostgreSQL store whose disk fills up on demand, as the server reports it."""

        full = False

        def _write(self, conn: Any, changes: Any) -> None:
            if self.full:
                raise psycopg.errors.DiskFull("could not extend file: No space left on device")
            super()._write(conn, changes)

    return FullDisk
