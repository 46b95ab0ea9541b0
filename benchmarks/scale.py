"""Scale of the durable stores, measured at N persons and projected to 125 M (issue 7).

    python -m benchmarks.scale --sizes 1000000,10000000 [--json] [--out F.json] [--png F.png]
        [--components numbering,registry,registry-open,log,log-reopen] [--dir /tmp/scale] [--seed 1]
        [--numbering-cache-mib 64] [--reopen-max 3000000] [--registry-max N]

For every size and component a fresh subprocess builds the component from
nothing and reports what it measured, its peak RSS included (``ru_maxrss`` of
that process alone, so the figures do not mix):

``numbering``
    ``SqliteNumberingTable.issue_many`` of N resident codes, in ``--steps``
    transactions (the issue rate per step shows whether it degrades as the
    table grows); the file after a WAL checkpoint (bytes per entry), the pages
    of the Number B-tree and of the resident-code index (``dbstat``), the
    compacted size (``VACUUM INTO``), look-ups per second at N.
``registry``
    ``ResidentRegistry.import_residents`` of the synthetic population
    (``synthetic_population.population(N)``: latest and earlier 4 items, kana)
    into the registry's store (services/registry/store.py: residents and the
    blocking index in SQLite); load time, file bytes per resident, the
    blocking index's pages.  Its RSS is the generator's, not the registry's.
``registry-open``
    The registry restarted over that file in a fresh process, as the hub opens
    it: open time, RSS after the open and after ``LOOKUPS`` decisions on
    residents' own latest items (median and p99 latency, decisions/s) and
    look-ups by resident code — the registry's own memory.
``log``
    The hub's access log: ``SignedLog`` over ``SqliteLogStore`` (WAL,
    synchronous=FULL, group commit), N entries as the hub makes them
    (``AccessLogEntry`` → RFC 8785 leaf and stored record, alternately
    *approved* and *provided*, as a completed linkage logs), committed in
    bursts of ``BURST``; bytes per entry on disk, the append rate per step,
    a signed checkpoint, and inclusion / consistency proofs at size N (median
    of ``PROOFS`` random ones, generation and verification).
``log-reopen``
    A hub restart over that file: ``HubLogs`` (services/hub/logs.py) opened
    over the store as ``Hub.__init__`` opens it — the tree's upper levels read
    and checked, no entry read (issue 17) — then what the hub reads from it:
    ``PROOFS`` receipts (the entry read and checked, its inclusion proof),
    auditor pages of 100 held entries at random offsets, a person's entries
    through the store's person index (My Portal), and a stream of checked
    entries (what the start-time state checks of RK-LOG-010 read).  Restart
    time, store queries at start, RSS after the restart and after the reads,
    bytes per entry on disk by B-tree (the first open of a file planted before
    the record indexes builds them: ``index_build_seconds``).  With
    ``RENKEI_SCALE_PG=postgresql://…`` both log children run on PostgreSQL.

Then each figure is fitted against N (weighted least squares, so that every
point counts by its relative error): ``linear`` a + b·N and ``nlogn``
a + b·N·log₂N for times, sizes and memory; ``log`` a + b·log₂N for proof
times.  The model with the smaller residuals is chosen (both are reported),
and projected to 125 M persons and, for the log, to the 7-year volume of the
national profile (specs/benchmarks/national-profile.yaml: its linkages/s back
to a daily volume through the profile's own derivation, × working days ×
7 years × 2 entries a linkage).  ``--png`` draws the measured points and the
fitted curves (matplotlib, the ``[load]`` extra; skipped with a note when it
is not installed).
"""

from __future__ import annotations

import argparse
import gc
import itertools
import json
import math
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

__all__ = ["Fit", "fit", "main", "measure", "project", "seven_year_volume"]

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "specs" / "benchmarks" / "national-profile.yaml"
POPULATION = 125_000_000
RETENTION_YEARS = 7
WORKING_DAYS = 243  # Japan's FY2022 (national-profile.yaml, jp-fy2022)
ENTRIES_PER_LINKAGE = 2  # approved + provided (services/hub/)
COMPONENTS = ("numbering", "registry", "registry-open", "log", "log-reopen")
BURST = 1024  # log entries per group commit
PROOFS = 1000
LOOKUPS = 2000
DBSTAT_MAX = 3_000_000  # log-reopen: B-tree sizes (dbstat) only up to this many entries
AT = datetime(2026, 4, 1, tzinfo=UTC)

# ---------------------------------------------------------------------------
# children: one component, one process
# ---------------------------------------------------------------------------


def _rss_mb() -> float:
    """Current resident set of this process (Linux /proc), in MB."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return round(pages * resource.getpagesize() / 2**20, 1)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def _files(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]


def _remove(path: Path) -> None:
    for f in _files(path):
        f.unlink(missing_ok=True)


def _pages(path: Path, names: Sequence[str]) -> dict[str, int]:
    """Pages of each named B-tree (``dbstat``; -1 when SQLite lacks it)."""
    db = sqlite3.connect(path)
    try:
        return {
            n: db.execute("SELECT count(*) FROM dbstat WHERE name = ?", (n,)).fetchone()[0]
            for n in names
        }
    except sqlite3.OperationalError:
        return dict.fromkeys(names, -1)
    finally:
        db.close()


def _steps(size: int, steps: int) -> list[int]:
    """Batch sizes adding up to ``size``."""
    steps = max(1, min(steps, size))
    return [size * (i + 1) // steps - size * i // steps for i in range(steps)]


_BODIES = 10**10
_MASK34 = (1 << 34) - 1  # 2³⁴ > 10¹⁰


def _mix(x: int) -> int:
    """A bijection of [0, 2³⁴): odd multiplications and xor-shifts (each invertible)."""
    x = (x * 0x2545F4914F6CDD1D) & _MASK34
    x ^= x >> 17
    x = (x * 0x9E3779B97F4A7C15) & _MASK34
    x ^= x >> 15
    x = (x * 0xBF58476D1CE4E5B9) & _MASK34
    return x ^ (x >> 16)


def _body(i: int) -> int:
    """The i-th of a pseudo-random order of all 10-digit bodies (cycle-walking ``_mix``).

    Distinct for distinct i < 10¹⁰ and scattered like random codes: an affine
    order (i·a mod 10¹⁰) would insert ascending runs into a few places of the
    resident-code index, leaving its pages half full (≈ 1.8× the pages).
    """
    x = _mix(i)
    while x >= _BODIES:
        x = _mix(x)
    return x


def _resident_codes(start: int, count: int) -> list[Any]:
    """Distinct resident codes in a random-looking order (``_body``), without storing them."""
    from renkei_reference.core.check_digit import resident_code_check_digit
    from renkei_reference.core.identifiers import ResidentCode

    out = []
    for i in range(start, start + count):
        body = f"{_body(i):010d}"
        out.append(ResidentCode(body + str(resident_code_check_digit(body))))
    return out


def child_numbering(size: int, folder: Path, cache_mib: int, steps: int) -> dict[str, Any]:
    from renkei_reference.core.identifiers import ResidentCode
    from renkei_reference.services.numbering.table import CsprngDraw, SqliteNumberingTable

    path = folder / f"numbering-{size}.db"
    _remove(path)
    table = SqliteNumberingTable(path, cache_mib=cache_mib)
    draw = CsprngDraw()
    baseline = _rss_mb()
    progress: list[dict[str, Any]] = []
    issued = 0
    issue_s = 0.0
    try:
        for count in _steps(size, steps):
            residents = _resident_codes(issued, count)  # input preparation, not timed
            start = time.perf_counter()
            table.issue_many(residents, draw, AT)
            seconds = time.perf_counter() - start
            issued += count
            issue_s += seconds
            progress.append({"entries": issued, "batch": count, "per_s": round(count / seconds)})
        table.checkpoint()
        file_bytes = table.bytes_used()
        sample = random.Random(4).sample(range(size), min(LOOKUPS, size))
        probes = [ResidentCode(r.value) for i in sample for r in _resident_codes(i, 1)]
        start = time.perf_counter()
        for resident in probes:
            table.lookup(resident)
        lookup_per_s = len(probes) / (time.perf_counter() - start)
        count = table.count()
    finally:
        table.close()
    pages = _pages(path, ("number", "number_current"))
    compact = folder / f"numbering-{size}-compact.db"
    compact.unlink(missing_ok=True)
    db = sqlite3.connect(path)
    try:
        page_size = db.execute("PRAGMA page_size").fetchone()[0]
        db.execute("VACUUM INTO ?", (str(compact),))
    finally:
        db.close()
    compact_bytes = compact.stat().st_size
    compact.unlink()
    _remove(path)
    return {
        "entries": count,
        "cache_mib": cache_mib,
        "seconds": round(issue_s, 3),
        "issue_per_s": round(size / issue_s),
        "issue_per_s_last_step": progress[-1]["per_s"],
        "progress": progress,
        "file_bytes": file_bytes,
        "bytes_per_entry": round(file_bytes / size, 2),
        "compact_bytes": compact_bytes,
        "bytes_per_entry_compact": round(compact_bytes / size, 2),
        "page_size": page_size,
        "number_pages": pages["number"],
        "resident_index_pages": pages["number_current"],
        "number_bytes_per_entry": round(pages["number"] * page_size / size, 2),
        "resident_index_bytes_per_entry": round(pages["number_current"] * page_size / size, 2),
        "lookup_per_s": round(lookup_per_s),
        "rss_baseline_mb": baseline,
    }


def child_registry(size: int, folder: Path, seed: int) -> dict[str, Any]:
    """Generate ``population(size)`` and bulk-load it into a registry store file."""
    from renkei_reference.services.registry.registry import FourItems, ResidentRegistry
    from renkei_reference.services.registry.store import RegistryStore
    from renkei_reference.services.synthetic_population import population

    path = folder / f"registry-{size}.db"
    _remove(path)
    baseline = _rss_mb()
    gc.disable()  # millions of small objects: generational GC would rescan them
    start = time.perf_counter()
    pop = population(size, seed=seed)
    codes = _resident_codes(0, len(pop.latest))
    generate_s = time.perf_counter() - start
    gc.freeze()
    rss_data = _rss_mb()
    registry = ResidentRegistry(RegistryStore(path))
    start = time.perf_counter()
    registry.import_residents(
        (
            codes[row],
            FourItems(*items, name_kana=pop.kana[row]),
            [FourItems(*state) for state in pop.history.get(row, ())],
            None,
        )
        for row, items in enumerate(pop.latest)
    )
    load_s = time.perf_counter() - start
    rss_loaded = _rss_mb()
    registry.close()
    earlier = sum(len(s) for s in pop.history.values())
    file_bytes = sum(f.stat().st_size for f in _files(path) if f.exists())
    gc.unfreeze()
    gc.enable()
    return {
        "residents": len(pop.latest),
        "earlier_states": earlier,
        "generate_seconds": round(generate_s, 2),
        "load_seconds": round(load_s, 2),
        "seconds": round(load_s, 2),
        "file_bytes": file_bytes,
        "bytes_per_resident": round(file_bytes / size, 1),
        "blocking_index_bytes_per_resident": round(
            _pages(path, ("blocking",))["blocking"] * 4096 / size, 1
        ),
        "rss_baseline_mb": baseline,
        "rss_after_data_mb": rss_data,
        "rss_after_load_mb": rss_loaded,
    }


def child_registry_open(size: int, folder: Path) -> dict[str, Any]:
    """The registry as the hub runs it, restarted over the file ``registry`` built:
    open, then decisions on residents' own latest items and look-ups by code."""
    from renkei_reference.core.codes import ResidentCode
    from renkei_reference.services.registry.registry import FourItems, ResidentRegistry
    from renkei_reference.services.registry.store import RegistryStore

    path = folder / f"registry-{size}.db"
    baseline = _rss_mb()
    start = time.perf_counter()
    registry = ResidentRegistry(RegistryStore(path))
    open_s = time.perf_counter() - start
    rss_open = _rss_mb()
    store = registry.store
    count = store.count()
    rows = [store.person(p) for p in random.Random(5).sample(range(1, count + 1), LOOKUPS)]
    probes = [FourItems(*r[2:7]) for r in rows if r is not None]  # type: ignore[arg-type]
    codes = [ResidentCode(r[1]) for r in rows if r is not None and r[1].isdigit()]
    times: list[float] = []
    bound = 0
    for items in probes:
        t0 = time.perf_counter()
        bound += registry.decide(items)[1] is not None
        times.append(time.perf_counter() - t0)
    lookups: list[float] = []
    for code in codes:
        t0 = time.perf_counter()
        registry.latest(code)
        lookups.append(time.perf_counter() - t0)
    rss_after = _rss_mb()
    registry.close()
    times.sort()
    lookups.sort()
    return {
        "residents": count,
        "open_seconds": round(open_s, 4),
        "probes": len(probes),
        "probes_bound": bound,
        "decide_per_s": round(len(times) / sum(times)),
        "decide_us_median": round(1e6 * statistics.median(times), 1),
        "decide_us_p99": round(1e6 * times[int(0.99 * (len(times) - 1))], 1),
        "latest_lookups": len(lookups),
        "latest_us_median": round(1e6 * statistics.median(lookups), 1),
        "rss_baseline_mb": baseline,
        "rss_after_open_mb": rss_open,
        "rss_after_decisions_mb": rss_after,
        "registry_mb": round(rss_after - baseline, 1),
    }


def _entries(start: int, count: int, salt: random.Random) -> list[Any]:
    """Access-log entries as the hub makes them: a linkage approved, then provided."""
    from renkei_reference.core.access_log import AccessLogEntry, Outcome

    check = _check()
    out = []
    for serial in range(start + 1, start + count + 1):
        linkage = (serial + 1) // 2
        person, entry_salt = salt.randbytes(32), salt.randbytes(16)
        requester, provider = f"city-{linkage % 1741:04d}.tax", f"pension-{linkage % 47:02d}"
        out.append(
            AccessLogEntry(
                serial=serial,
                at=AT + timedelta(milliseconds=serial),
                pattern_id=f"P-{linkage % 120:04d}",
                legal_basis=f"番号法 別表第二 項番{linkage % 120}",
                requester=requester,
                requester_name=f"{requester} 税務課",
                provider=provider,
                provider_name=f"{provider} 年金事務所",
                information_kind="income",
                outcome=Outcome.APPROVED if serial % 2 else Outcome.PROVIDED,
                reason=None,
                detail=None,
                linkage_id=f"{salt.getrandbits(128):032x}",
                request_id=f"rq-{linkage:012d}",
                person=person,
                salt=entry_salt,
                pattern_version=1,
                person_digest=check.digest(entry_salt, person),  # RK-LOG-010
            )
        )
    return out


def _resident(person: bytes) -> Any:
    """The resident code behind a synthetic person: one for all (the hub
    decrypts the ID code, ≈ 16 µs an entry, which these figures leave out)."""
    from renkei_reference.core.codes import ResidentCode

    return ResidentCode("10000000014")


def _check() -> Any:
    """The stored-row checks of ``Hub.__init__`` (services.store.log_integrity)."""
    from renkei_reference.services.store.log_integrity import StoredLogCheck

    return StoredLogCheck(_signer(), _resident)


def _signer() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


PG_ENV = "RENKEI_SCALE_PG"
"""``RENKEI_SCALE_PG=postgresql://…``: the ``log`` and ``log-reopen`` children use
``PostgresLogStore`` on that database (emptied by ``log``) instead of a SQLite file."""


def _pg_dsn() -> str | None:
    import os

    return os.environ.get(PG_ENV) or None


def _open_log_store(path: Path, *, fresh: bool = False) -> Any:
    """The log store of the ``log`` children: SQLite at ``path``, or PostgreSQL."""
    dsn = _pg_dsn()
    if dsn is None:
        from renkei_reference.services.store.log_store import SqliteLogStore

        if fresh:
            _remove(path)
        return SqliteLogStore(path)
    from renkei_reference.services.store.pg_store import PostgresLogStore, erase

    if fresh:
        erase(dsn)
    return PostgresLogStore(dsn)


def _pg_sizes(dsn: str, names: Sequence[str]) -> dict[str, int]:
    """Bytes of each named table (with its TOAST) or index, and of the whole database."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        out = {
            n: conn.execute("SELECT pg_total_relation_size(%s)", (n,)).fetchone()[0]  # type: ignore[index]
            for n in names
        }
        out["database"] = conn.execute("SELECT pg_database_size(current_database())").fetchone()[0]  # type: ignore[index]
    return out


def _count_reads(store: Any, into: list[str]) -> None:
    """Count the store's read queries (its ``_select`` and ``_stream``) into ``into``."""
    for name in ("_select", "_stream"):
        original = getattr(store, name, None)
        if original is None:
            continue

        def counted(sql: str, *args: Any, _original: Any = original) -> Any:
            into.append(sql)
            return _original(sql, *args)

        setattr(store, name, counted)


def child_log(size: int, folder: Path, steps: int) -> dict[str, Any]:
    from renkei_reference.core.access_log import entry_record, leaf_bytes
    from renkei_reference.core.merkle import leaf_hash, verify_consistency, verify_inclusion
    from renkei_reference.services.store.signed_log import SignedLog

    path = folder / f"log-{size}.db"
    store = _open_log_store(path, fresh=True)
    log = SignedLog("access", "renkei.reference/hub/access-log", _signer(), store)
    baseline = _rss_mb()
    rng = random.Random(6)
    pick = random.Random(7)
    indexes = [pick.randrange(size) for _ in range(PROOFS)]
    olds = [pick.randint(1, size) for _ in range(PROOFS)]
    wanted = set(indexes)
    leaves: dict[int, bytes] = {}  # the leaf hashes the inclusion proofs are checked for
    progress: list[dict[str, Any]] = []
    appended = 0
    append_s = 0.0
    try:
        for count in _steps(size, steps):
            entries = _entries(appended, count, rng)  # input preparation, not timed
            start = time.perf_counter()
            for n, entry in enumerate(entries, 1):
                leaf = leaf_bytes(entry)
                log.append(entry.serial, leaf, entry_record(entry))
                if entry.serial - 1 in wanted:
                    leaves[entry.serial - 1] = leaf_hash(leaf)
                if n % BURST == 0:
                    store.flush()  # a burst of requests acknowledged by one commit
            store.flush()
            seconds = time.perf_counter() - start
            appended += count
            append_s += seconds
            progress.append({"entries": appended, "batch": count, "per_s": round(count / seconds)})
            del entries
        rss_tree = _rss_mb()
        start = time.perf_counter()
        log.checkpoint()
        checkpoint_s = time.perf_counter() - start
        tree = log.tree
        root = tree.root(size)
        timings: dict[str, list[float]] = {k: [] for k in ("incl", "incl_v", "cons", "cons_v")}
        for index, old in zip(indexes, olds, strict=True):
            t0 = time.perf_counter()
            proof = tree.inclusion_proof(index, size)
            t1 = time.perf_counter()
            verify_inclusion(leaves[index], index, size, proof, root)
            t2 = time.perf_counter()
            consistency = tree.consistency_proof(old, size)
            t3 = time.perf_counter()
            verify_consistency(old, size, consistency, tree.root(old), root)
            t4 = time.perf_counter()
            for key, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
                value_us = value * 1e6
                timings[key].append(value_us)
        batches = store.batches
    finally:
        store.close()
    dsn = _pg_dsn()
    if dsn is not None:
        sizes = _pg_sizes(dsn, ("leaves", "nodes"))
        file_bytes, page_size = sizes["database"], 1
        pages = {"leaves": sizes["leaves"], "nodes": sizes["nodes"]}
    else:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
        finally:
            db.close()
        file_bytes = sum(f.stat().st_size for f in _files(path) if f.exists())
        pages = _pages(path, ("leaves", "nodes"))
    median = {k: round(statistics.median(v), 1) for k, v in timings.items()}
    return {
        "entries": size,
        "seconds": round(append_s, 3),
        "append_per_s": round(size / append_s),
        "append_per_s_last_step": progress[-1]["per_s"],
        "progress": progress,
        "commits": batches,
        "file_bytes": file_bytes,
        "bytes_per_entry": round(file_bytes / size, 2),
        "page_size": page_size,
        "leaves_bytes_per_entry": round(pages["leaves"] * page_size / size, 2),
        "nodes_bytes_per_entry": round(pages["nodes"] * page_size / size, 2),
        "checkpoint_ms": round(checkpoint_s * 1e3, 2),
        "inclusion_proof_us": median["incl"],
        "inclusion_verify_us": median["incl_v"],
        "consistency_proof_us": median["cons"],
        "consistency_verify_us": median["cons_v"],
        "rss_baseline_mb": baseline,
        "rss_after_append_mb": rss_tree,
        "path": str(path),
    }


def _median_us(samples: Sequence[float]) -> float:
    return round(statistics.median(samples) * 1e6, 1)


def child_log_reopen(size: int, folder: Path) -> dict[str, Any]:
    """A hub restart over the ``log`` child's file: the hub's logs
    (services/hub/logs.py ``HubLogs``, as ``Hub.__init__`` opens them) over the
    store, then what the hub reads from them — receipts, the auditor's pages,
    a person's entries — each entry read from the store and checked."""
    from renkei_reference.core.access_log import AccessLogEntry
    from renkei_reference.services.hub.logs import HubLogs
    from renkei_reference.services.store import log_store as store_module

    path = folder / f"log-{size}.db"
    dsn = _pg_dsn()
    if dsn is None and not path.exists():
        raise FileNotFoundError(f"{path}: run the log component first")
    # a store written before the record indexes gets them at its first open (once)
    start = time.perf_counter()
    _open_log_store(path).close()
    index_s = time.perf_counter() - start
    baseline = _rss_mb()
    statements: list[str] = []
    start = time.perf_counter()
    store = _open_log_store(path)
    _count_reads(store, statements)
    try:
        logs = HubLogs(
            store,
            _signer(),
            "renkei.reference/hub/access-log",
            name=lambda agency: agency,
            resident_of=_resident,
            now=lambda: AT,
        )
        seconds = time.perf_counter() - start
        rss_start = _rss_mb()
        at_start = len(statements)
        assert logs.size == size
        pick = random.Random(8)
        receipt_s, proof_s = [], []
        for _ in range(PROOFS):
            serial = pick.randint(1, size)
            t0 = time.perf_counter()
            logs.receipt_for(serial)  # the entry read and checked, the inclusion proof
            t1 = time.perf_counter()
            logs.access.tree.inclusion_proof(serial - 1, size)
            proof_s.append(time.perf_counter() - t1)
            receipt_s.append(t1 - t0)
        pages_n, page_size_entries = 200, 100
        t0 = time.perf_counter()
        for _ in range(pages_n):
            after = pick.randrange(size - page_size_entries)
            page = list(itertools.islice(logs.held(after + 1), page_size_entries))
            assert len(page) == page_size_entries
        auditor_s = time.perf_counter() - t0
        persons = []
        for _ in range(200):
            e = logs.entry(pick.randint(1, size))
            assert isinstance(e, AccessLogEntry)
            assert e.person is not None
            persons.append(e.person)
        t0 = time.perf_counter()
        for person in persons:
            assert logs.person_entries(person)
        portal_s = time.perf_counter() - t0
        scan_n = min(size, 200_000)
        t0 = time.perf_counter()
        assert sum(1 for _ in itertools.islice(logs.entries(), scan_n)) == scan_n
        scan_s = time.perf_counter() - t0
        rss_end = _rss_mb()
        held = logs.access.held_bytes
    finally:
        store.close()
    names = ("leaves", "nodes", *(f"leaves_{f}" for f in store_module.INDEXED))
    if dsn is not None:
        sizes = _pg_sizes(dsn, names)
        file_bytes, page_size = sizes["database"], 1
        pages = {n: sizes[n] for n in names}
    else:
        db = sqlite3.connect(path)
        try:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
        finally:
            db.close()
        file_bytes = sum(f.stat().st_size for f in _files(path) if f.exists())
        # dbstat reads every page once a name: hours past a few GB
        pages = _pages(path, names) if size <= DBSTAT_MAX else dict.fromkeys(names, -1)
    return {
        "entries": size,
        "seconds": round(seconds, 3),
        "index_build_seconds": round(index_s, 2),
        "queries_at_start": at_start,
        "tree_held_bytes": held,
        "file_bytes": file_bytes,
        "bytes_per_entry": round(file_bytes / size, 2),
        "index_bytes_per_entry": {
            name: round(n * page_size / size, 2) for name, n in pages.items()
        },
        "rss_baseline_mb": baseline,
        "rss_after_start_mb": rss_start,
        "rss_after_reads_mb": rss_end,
        "inclusion_proof_us": _median_us(proof_s),
        "receipt_us": _median_us(receipt_s),
        "auditor_pages_per_s": round(pages_n / auditor_s, 1),
        "portal_queries_per_s": round(len(persons) / portal_s, 1),
        "stream_check_entries_per_s": round(scan_n / scan_s),
    }


def run_child(args: argparse.Namespace) -> dict[str, Any]:
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    size = args.size
    figures: dict[str, Any]
    if args.child == "numbering":
        figures = child_numbering(size, folder, args.numbering_cache_mib, args.steps)
    elif args.child == "registry":
        figures = child_registry(size, folder, args.seed)
    elif args.child == "registry-open":
        figures = child_registry_open(size, folder)
    elif args.child == "log":
        figures = child_log(size, folder, args.steps)
    else:
        figures = child_log_reopen(size, folder)
    figures["peak_rss_mb"] = _peak_rss_mb()
    figures["size"] = size
    return figures


def measure(
    component: str, size: int, folder: Path, *, seed: int = 1, cache_mib: int = 64, steps: int = 10
) -> dict[str, Any]:
    """Run one component at one size in a fresh process; its figures, or ``error``."""
    command = [
        sys.executable,
        "-m",
        "benchmarks.scale",
        "--child",
        component,
        "--size",
        str(size),
        "--dir",
        str(folder),
        "--seed",
        str(seed),
        "--numbering-cache-mib",
        str(cache_mib),
        "--steps",
        str(steps),
    ]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        return {"size": size, "error": done.stderr.strip().splitlines()[-3:]}
    figures: dict[str, Any] = json.loads(done.stdout)
    figures["wall_seconds"] = round(wall, 2)
    return figures


# ---------------------------------------------------------------------------
# fits and projections
# ---------------------------------------------------------------------------

MODELS: dict[str, Callable[[float], float]] = {
    "linear": lambda n: n,
    "nlogn": lambda n: n * math.log2(n),
    "log": math.log2,
    "constant": lambda n: 0.0,
}
FORMULAS = {
    "linear": "a + b·N",
    "nlogn": "a + b·N·log₂N",
    "log": "a + b·log₂N",
    "constant": "a",
}


@dataclass(frozen=True)
class Fit:
    """y ≈ a + b·x(N) for one model, fitted with weights 1/y² (relative errors)."""

    model: str
    a: float
    b: float
    residuals: tuple[float, ...]  # (fitted − measured) / measured, per point

    def __call__(self, n: float) -> float:
        return self.a + self.b * MODELS[self.model](n)

    @property
    def rms(self) -> float:
        return math.sqrt(sum(r * r for r in self.residuals) / len(self.residuals))

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "formula": FORMULAS[self.model],
            "a": self.a,
            "b": self.b,
            "residuals_pct": [round(100 * r, 2) for r in self.residuals],
            "rms_residual_pct": round(100 * self.rms, 2),
        }


def _fit_one(model: str, sizes: Sequence[float], values: Sequence[float]) -> Fit:
    xs = [MODELS[model](n) for n in sizes]
    if len(xs) == 1 and model == "constant":
        return Fit(model, values[0], 0.0, (0.0,))
    if len(xs) == 1:  # one point: through the origin
        b = values[0] / xs[0]
        return Fit(model, 0.0, b, (0.0,))
    w = [1 / (y * y) if y else 1.0 for y in values]
    sw = sum(w)
    mx = sum(wi * x for wi, x in zip(w, xs, strict=True)) / sw
    my = sum(wi * y for wi, y in zip(w, values, strict=True)) / sw
    sxx = sum(wi * (x - mx) ** 2 for wi, x in zip(w, xs, strict=True))
    sxy = sum(wi * (x - mx) * (y - my) for wi, x, y in zip(w, xs, values, strict=True))
    b = sxy / sxx if sxx else 0.0
    a = my - b * mx
    residuals = tuple(((a + b * x) - y) / y if y else 0.0 for x, y in zip(xs, values, strict=True))
    return Fit(model, a, b, residuals)


def fit(
    sizes: Sequence[float], values: Sequence[float], models: Sequence[str] = ("linear", "nlogn")
) -> tuple[Fit, list[Fit]]:
    """The best of ``models`` (smallest RMS relative residual; the first on a tie) and all."""
    fits = [_fit_one(m, sizes, values) for m in models]
    # A later model must fit better by more than rounding to be chosen (ties: the first).
    return min(fits, key=lambda f: round(f.rms, 4)), fits


def seven_year_volume(profile_path: Path = PROFILE) -> dict[str, Any]:
    """Log entries in 7 years at the default national profile's rate (module docstring)."""
    doc = yaml.safe_load(profile_path.read_text(encoding="utf-8"))
    profile = next(p for p in doc["profiles"] if p["id"] == doc["default"])
    d = profile["derivation"]
    per_second = float(profile["linkages_per_second"])
    busy_mean = per_second / d["peak_factor"]
    per_day = busy_mean * d["busy_hours"] * 3600 / d["busy_share"]
    linkages = per_day * WORKING_DAYS * RETENTION_YEARS
    return {
        "profile": profile["id"],
        "linkages_per_second": per_second,
        "linkages_per_day": round(per_day),
        "working_days_per_year": WORKING_DAYS,
        "years": RETENTION_YEARS,
        "entries_per_linkage": ENTRIES_PER_LINKAGE,
        "entries": round(linkages * ENTRIES_PER_LINKAGE),
    }


# (component, figure, models, unit, what it is projected to)
FITTED: tuple[tuple[str, str, tuple[str, ...], str], ...] = (
    ("numbering", "seconds", ("linear", "nlogn"), "s"),
    ("numbering", "file_bytes", ("linear", "nlogn"), "B"),
    ("numbering", "peak_rss_mb", ("linear", "nlogn"), "MB"),
    ("registry", "seconds", ("linear", "nlogn"), "s"),
    ("registry", "file_bytes", ("linear", "nlogn"), "B"),
    ("registry-open", "peak_rss_mb", ("constant", "linear"), "MB"),  # a bounded cache
    ("registry-open", "decide_us_median", ("log", "linear"), "µs"),
    ("log", "seconds", ("linear", "nlogn"), "s"),
    ("log", "file_bytes", ("linear", "nlogn"), "B"),
    ("log", "rss_after_append_mb", ("linear", "nlogn"), "MB"),
    ("log", "peak_rss_mb", ("linear", "nlogn"), "MB"),
    ("log", "inclusion_proof_us", ("log", "linear"), "µs"),
    ("log", "consistency_proof_us", ("log", "linear"), "µs"),
    ("log-reopen", "seconds", ("constant", "linear"), "s"),  # reads no history
    ("log-reopen", "rss_after_start_mb", ("constant", "linear"), "MB"),
    ("log-reopen", "peak_rss_mb", ("constant", "linear"), "MB"),
    ("log-reopen", "inclusion_proof_us", ("log", "linear"), "µs"),
)


def project(results: dict[str, list[dict[str, Any]]], volume: int) -> list[dict[str, Any]]:
    """Fit every figure of ``FITTED`` that has measurements; project to 125 M (and volume)."""
    out: list[dict[str, Any]] = []
    for component, figure, models, unit in FITTED:
        points = [r for r in results.get(component, []) if figure in r and "error" not in r]
        if not points:
            continue
        sizes = [float(r["size"]) for r in points]
        values = [float(r[figure]) for r in points]
        best, fits = fit(sizes, values, models)
        targets = {"125M": POPULATION}
        if component.startswith("log"):
            targets["7y"] = volume
        out.append(
            {
                "component": component,
                "figure": figure,
                "unit": unit,
                "sizes": [int(n) for n in sizes],
                "measured": values,
                "fit": best.as_dict(),
                "fits": [f.as_dict() for f in fits],
                "projected": {k: best(n) for k, n in targets.items()},
                "per_item": {k: best(n) / n for k, n in targets.items()},
                "targets": targets,
            }
        )
    return out


# ---------------------------------------------------------------------------
# report
# ---------------------------------------------------------------------------


def _human(value: float, unit: str) -> str:
    if unit == "B":
        for scale, name in ((1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "kB")):
            if abs(value) >= scale:
                return f"{value / scale:,.2f} {name}"
        return f"{value:,.0f} B"
    if unit == "s" and value >= 3600:
        return f"{value:,.0f} s ({value / 3600:,.1f} h)"
    if unit == "MB" and value >= 1024:
        return f"{value:,.0f} MB ({value / 1024:,.1f} GB)"
    return f"{value:,.1f} {unit}"


def draw(projections: Sequence[dict[str, Any]], png: Path) -> str | None:
    """The measured points and fitted curves, one panel a figure; None when drawn."""
    try:
        import matplotlib
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[load]'): no PNG drawn"
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = 4
    rows = max(1, math.ceil(len(projections) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, p in zip(axes.flat, projections, strict=False):
        model = p["fit"]
        f = Fit(model["model"], model["a"], model["b"], ())
        top = max(p["targets"].values())
        lo = min(p["sizes"])
        xs = [lo * (top / lo) ** (i / 200) for i in range(201)]
        ax.plot(xs, [f(x) for x in xs], "-", color="tab:blue", label=model["formula"])
        ax.plot(p["sizes"], p["measured"], "o", color="tab:red", label="measured")
        for name, n in p["targets"].items():
            ax.plot([n], [f(n)], "s", color="tab:green")
            ax.annotate(
                f"{name}: {_human(f(n), p['unit'])}",
                (n, f(n)),
                fontsize=7,
                xytext=(-4, 6),
                textcoords="offset points",
                ha="right",
            )
        ax.set_xscale("log")
        ax.set_yscale("log" if p["unit"] != "µs" else "linear")
        ax.set_title(f"{p['component']}: {p['figure']}", fontsize=9)
        ax.set_xlabel("N", fontsize=8)
        ax.set_ylabel(p["unit"], fontsize=8)
        ax.tick_params(labelsize=7)
        ax.legend(fontsize=7, loc="upper left")
    for ax in list(axes.flat)[len(projections) :]:
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return None


def _text(report: dict[str, Any]) -> str:
    lines: list[str] = []
    for component, rows in report["results"].items():
        lines.append(f"{component}:")
        for r in rows:
            if "error" in r:
                lines.append(f"  {r['size']:>12,}  error: {r['error']}")
                continue
            keep = {
                k: v
                for k, v in r.items()
                if not isinstance(v, list | dict) and k not in ("path", "size")
            }
            lines.append(f"  {r['size']:>12,}  " + ", ".join(f"{k}={v}" for k, v in keep.items()))
    lines.append("fits and projections:")
    for p in report["projections"]:
        f = p["fit"]
        projected = ", ".join(f"{k} {_human(v, p['unit'])}" for k, v in p["projected"].items())
        lines.append(
            f"  {p['component']}.{p['figure']}: {f['formula']}, a={f['a']:.4g} b={f['b']:.4g}, "
            f"residuals {f['residuals_pct']} %; {projected}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--sizes", default="1000000,10000000")
    parser.add_argument("--components", default=",".join(COMPONENTS))
    parser.add_argument("--dir", default="/tmp/renkei-scale", help="scratch files (deleted)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10, help="batches per build")
    parser.add_argument("--numbering-cache-mib", type=int, default=64)
    parser.add_argument("--reopen-max", type=int, default=3_000_000)
    parser.add_argument("--registry-max", type=int, default=10_000_000)
    parser.add_argument(
        "--keep", action="store_true", help="keep the log files (a later log-reopen run)"
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON report here")
    parser.add_argument(
        "--merge",
        type=Path,
        action="append",
        default=[],
        help="earlier --out reports whose measurements join this one's fit",
    )
    parser.add_argument("--png", type=Path)
    parser.add_argument("--child", choices=COMPONENTS, help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(run_child(args)))
        return 0
    try:
        sizes = sorted({int(s) for s in args.sizes.split(",") if s.strip()})
        components = [c.strip() for c in args.components.split(",") if c.strip()]
    except ValueError:
        parser.error("--sizes takes integers separated by commas")
    if not sizes or min(sizes) < 1000 or any(c not in COMPONENTS for c in components):
        parser.error(f"--sizes ≥ 1000; --components from {', '.join(COMPONENTS)}")
    folder = Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, list[dict[str, Any]]] = {c: [] for c in components}
    for earlier in args.merge:
        for component, rows in json.loads(earlier.read_text())["results"].items():
            results.setdefault(component, []).extend(rows)
    for size in sizes:
        for component in components:
            if (component == "log-reopen" and size > args.reopen_max) or (
                component.startswith("registry") and size > args.registry_max
            ):
                continue
            if component == "log-reopen" and not (folder / f"log-{size}.db").exists():
                continue
            if component == "registry-open" and not (folder / f"registry-{size}.db").exists():
                continue
            print(f"{component} at {size:,} …", file=sys.stderr, flush=True)
            figures = measure(
                component,
                size,
                folder,
                seed=args.seed,
                cache_mib=args.numbering_cache_mib,
                steps=args.steps,
            )
            figures.pop("path", None)
            results[component] = [r for r in results[component] if r.get("size") != size]
            results[component].append(figures)
        if not args.keep:
            _remove(folder / f"log-{size}.db")
            _remove(folder / f"registry-{size}.db")
    for rows in results.values():
        rows.sort(key=lambda r: int(r["size"]))
    volume = seven_year_volume()
    report: dict[str, Any] = {
        "sizes": sizes,
        "population": POPULATION,
        "log_volume_7y": volume,
        "results": results,
        "projections": project(results, volume["entries"]),
    }
    if args.png:
        note = draw(report["projections"], args.png)
        if note:
            report["png_note"] = note
            print(note, file=sys.stderr)
    if args.out:
        args.out.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(report, ensure_ascii=False) if args.json else _text(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
