"""The numbering authority's conversion table at scale (seed item 8; 125 million persons).

Measured in one run, on a file in tmp:

(a) ``issue_many`` of N = 1,000,000 Numbers (CSPRNG draws, check digits, the
    never-issued-again rule, one transaction) against the floor: a raw SQLite
    ``executemany`` of the very rows the table stored, in the same order, into
    an equivalent bare table (same columns, same partial unique index, same
    pragmas).  ``ratio = raw_time / issue_time`` on CPU time, the median of three
    alternating rounds; issue 3 target ≥ 0.5.
(b) bytes per entry at N (file size after a WAL checkpoint / N), also after
    ``VACUUM INTO`` (the compacted form), projected to 125,000,000 entries.
(c) issue rate: Numbers per second of (a), of a further bulk batch on top of
    the N-entry table, and of single ``issue`` calls (one fsync'd transaction
    each); the 125 M projection from the bulk rate is a lower bound on time,
    since beyond the page cache the random Number B-tree turns into disk reads.

Resident codes are random distinct codes, as real ones are; their validation
(``ResidentCode`` construction) is input preparation and is reported apart.
No assertion on time: ratios and rates go to ``extra_info`` and are printed.
``RENKEI_NUMBERING_BENCH_N`` overrides N (e.g. 10,000,000 for a scaling check).
"""

from __future__ import annotations

import gc
import os
import random
import sqlite3
import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from benchmarks.pairing import estimate

from renkei_reference.core.check_digit import resident_code_check_digit
from renkei_reference.core.identifiers import ResidentCode
from renkei_reference.services.numbering.table import CsprngDraw, SqliteNumberingTable

N = int(os.environ.get("RENKEI_NUMBERING_BENCH_N", "1000000"))
POPULATION = 125_000_000
AT = datetime(2026, 4, 1, tzinfo=UTC)
CACHE_MIB = 64
BULK_ROUNDS = 3

_BARE = """
CREATE TABLE number (
    number        INTEGER PRIMARY KEY,
    resident_code INTEGER NOT NULL,
    issued_at     INTEGER NOT NULL,
    revoked_at    INTEGER
);
CREATE UNIQUE INDEX number_current ON number(resident_code) WHERE revoked_at IS NULL
"""


def _fresh(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _residents(count: int, seed: int) -> list[ResidentCode]:
    bodies = random.Random(seed).sample(range(10**10), count)
    return [ResidentCode(f"{b:010d}" + str(resident_code_check_digit(f"{b:010d}"))) for b in bodies]


def _raw_insert(path: Path, rows: list[tuple[int, int, int]]) -> tuple[float, float]:
    """The floor: one executemany of ``rows`` into the bare table, one transaction;
    its CPU and wall seconds."""
    _fresh(path)
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute(f"PRAGMA cache_size = {-1024 * CACHE_MIB}")
        for statement in _BARE.split(";"):
            db.execute(statement)
        cpu, wall = time.process_time(), time.perf_counter()
        db.execute("BEGIN IMMEDIATE")
        db.executemany(
            "INSERT INTO number (number, resident_code, issued_at) VALUES (?, ?, ?)", rows
        )
        db.execute("COMMIT")
        return time.process_time() - cpu, time.perf_counter() - wall
    finally:
        db.close()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Shared across the module: the loaded table and its measurements."""
    folder = tmp_path_factory.mktemp("numbering-bench")
    shared: dict[str, Any] = {"folder": folder, "path": folder / "numbering.db"}
    yield shared
    table = shared.get("table")
    if table is not None:
        table.close()


def _codes(state: dict[str, Any]) -> list[str]:
    """The loaded resident codes, in order (one dump, cached)."""
    if "codes" not in state:
        state["codes"] = [r["resident_code"] for r in _load(state).dump()]
    codes: list[str] = state["codes"]
    return codes


def _load(state: dict[str, Any]) -> SqliteNumberingTable:
    """The N-entry table, built untimed when (a) did not run."""
    if "table" not in state:
        _fresh(state["path"])
        made = SqliteNumberingTable(state["path"], cache_mib=CACHE_MIB)
        made.issue_many(_residents(N, seed=1), CsprngDraw(), AT)
        state["table"] = made
    table: SqliteNumberingTable = state["table"]
    return table


def test_bulk_issue_against_raw_sqlite_insert(benchmark: Any, state: dict[str, Any]) -> None:
    """(a) issue_many of N Numbers vs a raw insert of the same rows; ratio raw/issue.

    ``BULK_ROUNDS`` rounds, each an issue into a fresh table then the raw insert of
    the rows it stored; the ratio is the median of the rounds' ratios on CPU time
    (benchmarks/pairing.py), the wall-clock ratio beside it.
    """
    start = time.perf_counter()
    residents = _residents(N, seed=1)
    prepare_s = time.perf_counter() - start
    path: Path = state["path"]
    holder: dict[str, SqliteNumberingTable] = {}
    issue_times: list[tuple[float, float]] = []

    def setup() -> tuple[tuple[Any, ...], dict[str, Any]]:
        if "table" in holder:
            holder.pop("table").close()
        _fresh(path)
        gc.collect()  # every round starts from the same heap: only the residents live
        holder["table"] = SqliteNumberingTable(path, cache_mib=CACHE_MIB)
        return (), {}

    def issue() -> int:
        cpu, wall = time.process_time(), time.perf_counter()
        issued = holder["table"].issue_many(residents, CsprngDraw(), AT)
        issue_times.append((time.process_time() - cpu, time.perf_counter() - wall))
        return issued

    stamp = int(AT.timestamp())
    raw_times: list[tuple[float, float]] = []
    for i in range(BULK_ROUNDS):
        if i == 0:  # the first round under pytest-benchmark, for its table
            issued = benchmark.pedantic(issue, setup=setup, rounds=1, iterations=1)
        else:
            setup()
            issued = issue()
        table = holder["table"]
        assert issued == N == table.count()
        # The floor: the very rows the table stored, in input (issue) order.
        stored = {int(r["resident_code"]): int(r["number"]) for r in table.dump()}
        rows = [(stored[int(r.value)], int(r.value), stamp) for r in residents]
        del stored
        gc.collect()
        raw_times.append(_raw_insert(state["folder"] / "bare.db", rows))
        del rows
    state["table"] = holder["table"]
    per_round = [raw[0] / own[0] for raw, own in zip(raw_times, issue_times, strict=True)]
    cpu = estimate(per_round)
    wall = estimate([raw[1] / own[1] for raw, own in zip(raw_times, issue_times, strict=True)])
    issue_s = statistics.median(t[1] for t in issue_times)
    raw_s = statistics.median(t[1] for t in raw_times)
    state.update(issue_s=issue_s, raw_s=raw_s)
    benchmark.extra_info.update(
        {
            "entries": N,
            "issue_s": round(issue_s, 3),
            "raw_insert_s": round(raw_s, 3),
            **cpu.info(),
            "ratio_clock": "cpu",
            "ratio_per_round": [round(r, 4) for r in per_round],
            **wall.info("ratio_wall"),
            "issue_per_s": round(N / issue_s),
            "resident_code_validation_s": round(prepare_s, 3),
        }
    )
    print(
        f"\n(a) issue_many {N:,}: {issue_s:.2f} s; raw insert of the same rows {raw_s:.2f} s "
        f"(wall, medians of {BULK_ROUNDS}); ratio raw/issue {cpu.ratio:.2f} on CPU time "
        f"[{cpu.low:.2f}, {cpu.high:.2f}], {wall.ratio:.2f} on wall time (target ≥ 0.5); "
        f"validating the {N:,} resident codes beforehand took {prepare_s:.2f} s"
    )


def test_bytes_per_entry(benchmark: Any, state: dict[str, Any]) -> None:
    """(b) bytes per entry at N, after a checkpoint and compacted, projected to 125 M."""
    table = _load(state)
    path: Path = state["path"]
    compact = state["folder"] / "compact.db"
    compact.unlink(missing_ok=True)

    def measure() -> int:
        table.checkpoint()
        return path.stat().st_size

    size = benchmark.pedantic(measure, rounds=1, iterations=1)
    assert size == table.bytes_used()
    db = sqlite3.connect(path)
    try:
        db.execute("VACUUM INTO ?", (str(compact),))
        index_pages = db.execute(
            "SELECT count(*) FROM dbstat WHERE name = 'number_current'"
        ).fetchone()[0]
        table_pages = db.execute("SELECT count(*) FROM dbstat WHERE name = 'number'").fetchone()[0]
    except sqlite3.OperationalError:  # dbstat not compiled in
        index_pages = table_pages = -1
    finally:
        db.close()
    compact_size = compact.stat().st_size
    per_entry = size / N
    per_entry_compact = compact_size / N
    benchmark.extra_info.update(
        {
            "entries": N,
            "file_bytes": size,
            "bytes_per_entry": round(per_entry, 2),
            "bytes_per_entry_compacted": round(per_entry_compact, 2),
            "number_table_pages": table_pages,
            "resident_index_pages": index_pages,
            "projected_bytes_125M": round(per_entry * POPULATION),
            "projected_bytes_125M_compacted": round(per_entry_compact * POPULATION),
        }
    )
    print(
        f"\n(b) {N:,} entries: {size / 2**20:.1f} MiB, {per_entry:.1f} B/entry "
        f"({per_entry_compact:.1f} B/entry after VACUUM); pages: table {table_pages}, "
        f"resident index {index_pages}; projected to {POPULATION:,}: "
        f"{per_entry * POPULATION / 1e9:.2f} GB ({per_entry_compact * POPULATION / 1e9:.2f} GB "
        f"compacted)"
    )


def test_issue_rate(benchmark: Any, state: dict[str, Any]) -> None:
    """(c) Numbers per second: bulk on top of the N-entry table, and projected to 125 M."""
    table = _load(state)
    loaded = set(_codes(state))
    batch = [r for r in _residents(N // 10, seed=2) if r.value not in loaded]

    issued = benchmark.pedantic(
        lambda: table.issue_many(batch, CsprngDraw(), AT), rounds=1, iterations=1
    )
    batch_s = benchmark.stats.stats.min
    rate = issued / batch_s
    first_rate = N / state["issue_s"] if "issue_s" in state else None
    benchmark.extra_info.update(
        {
            "batch": issued,
            "table_size_before": N,
            "issue_per_s_at_size": round(rate),
            "issue_per_s_first_load": round(first_rate) if first_rate else None,
            "projected_hours_125M_lower_bound": round(POPULATION / rate / 3600, 2),
        }
    )
    print(
        f"\n(c) bulk issue rate on a {N:,}-entry table: {rate:,.0f} Numbers/s"
        + (f" (first load: {first_rate:,.0f}/s)" if first_rate else "")
        + f"; 125 M at this rate: {POPULATION / rate / 60:.0f} min (lower bound)"
    )


def test_single_issue_transactions(benchmark: Any, tmp_path: Path) -> None:
    """(c) one Number per call: one fsync'd WAL transaction each."""
    table = SqliteNumberingTable(tmp_path / "single.db")
    residents = iter(_residents(5000, seed=3))
    draw = CsprngDraw()
    try:
        benchmark.pedantic(lambda: table.issue(next(residents), draw, AT), rounds=200, iterations=1)
    finally:
        table.close()
    per_s = 1 / benchmark.stats.stats.median
    benchmark.extra_info.update({"issue_per_s_single": round(per_s)})
    print(f"\n(c) single issue, one transaction each: {per_s:,.0f}/s (median)")


def test_lookup(benchmark: Any, state: dict[str, Any]) -> None:
    """Look-up of a current Number on the N-entry table (RK-NUM-007)."""
    table = _load(state)
    residents = [ResidentCode(c) for c in random.Random(4).sample(_codes(state), 2000)]
    cycle = iter(residents * 50)
    benchmark.pedantic(lambda: table.lookup(next(cycle)), rounds=20, iterations=2000)
    per_s = 1 / benchmark.stats.stats.min
    benchmark.extra_info.update({"lookup_per_s": round(per_s)})
    print(f"\nlookup on {N:,} entries: {per_s:,.0f}/s")
