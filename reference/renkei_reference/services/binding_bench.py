"""The binding benchmark (issue 8): renkei's matcher, and Splink on the same data.

``bench(size, …)`` makes a registry of ``size`` residents and an agency
extract of ``size`` records (``synthetic_population``), binds every record
and scores the decisions against the ground truth:

* ``wrong_binds`` — bound to someone else (or bound although the person is
  not in the registry).  Must be 0 (RK-BND-002).
* ``bindable`` — records that are *truly unambiguous*: a registered resident's
  latest 4 items up to representation only (width, spacing, variant kanji,
  address notation; ``synthetic_population.BENIGN``), and no other resident
  shares those items under folding, latest or earlier.
* ``bound_bindable`` / ``recall`` — of those, how many were bound (to the
  right person).
* ``review`` with ``review_reasons``, ``rejected``; ``seconds`` (index +
  decisions, data generation excluded), ``generate_seconds`` and
  ``peak_rss_mb`` of the process.

Out of core (``bench_out_of_core``, ``renkei binding bench --out-of-core DIR``):
one process generates the data and writes the registry into the registry's
store (``registry.RegistryStore``: residents, earlier items and the blocking
index in SQLite, as the hub's registry keeps them) and the extract into a
second SQLite file; then ``workers`` fresh processes each stream a slice of
the extract through the same matcher over the store (``StoreIndex``) and
score it as they go, holding no registry and no extract in memory; their
figures are added up.  Its ``peak_rss_mb`` is the largest binding process's
(``prepare_peak_rss_mb`` the generator's).

Splink (``--compare-splink``; ``pip install 'renkei[compare]'``) runs in its own
process on the same seed: DuckDB backend, the same folded name and address
(``binding_normalise``) as input, blocking on birth date and sex and on name
and address, Levenshtein comparisons for name and address and exact ones for
birth date and sex, u by random sampling, m by EM; a record binds when
exactly one registry row scores a match probability ≥ 0.99.
"""

from __future__ import annotations

import argparse
import collections
import gc
import itertools
import json
import resource
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..core.binding_match import Items, Policy, RegistryIndex, decide_many, fold_items
from ..core.binding_normalise import fold_address, fold_name
from .registry.store import RegistryStore, StoreIndex
from .synthetic_population import BENIGN, Extract, Population, extract, population

__all__ = ["bench", "bench_out_of_core", "bindable", "main", "score", "splink_candidates"]

CHUNK = 10_000  # extract records a matcher call in the out-of-core run

SPLINK_THRESHOLD = 0.99


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def bindable(pop: Population, ex: Extract, index: RegistryIndex) -> list[bool]:
    """Ground truth: which records are truly unambiguous (see the module docstring)."""
    benign = frozenset(BENIGN)
    unique: dict[int, bool] = {}
    out: list[bool] = []
    for row, kind in zip(ex.truth, ex.noise, strict=True):
        if row < 0 or kind not in benign:
            out.append(False)
            continue
        if row not in unique:
            name, address, born, sex = pop.latest[row]
            latest, earlier = index.fits((fold_name(name), fold_address(address), born, sex))
            unique[row] = set(latest) | set(earlier) == {row}
        out.append(unique[row])
    return out


def score(
    ex: Extract,
    truly: list[bool],
    bound_to: list[int | None],
    reasons: list[tuple[str, ...]] | None = None,
) -> dict[str, Any]:
    """Figures of one engine's decisions against the ground truth."""
    bound = wrong = hit = 0
    wrong_by_noise: collections.Counter[str] = collections.Counter()
    for row, kind, ok, got in zip(ex.truth, ex.noise, truly, bound_to, strict=True):
        if got is None:
            continue
        bound += 1
        if got != row:
            wrong += 1
            wrong_by_noise[kind] += 1
        elif ok:
            hit += 1
    n_bindable = sum(truly)
    figures: dict[str, Any] = {
        "records": len(ex.records),
        "wrong_binds": wrong,
        "bound": bound,
        "bindable": n_bindable,
        "bound_bindable": hit,
        "recall": round(hit / n_bindable, 5) if n_bindable else 1.0,
        "wrong_binds_by_noise": dict(wrong_by_noise),
        "noisy_share": round(sum(1 for k in ex.noise if k != "clean") / len(ex.noise), 4),
    }
    if reasons is not None:
        review = [r for r, b in zip(reasons, bound_to, strict=True) if b is None]
        first = collections.Counter(r[0] for r in review)
        figures["review"] = sum(n for k, n in first.items() if k != "no-match")
        figures["rejected"] = first.get("no-match", 0)
        figures["review_reasons"] = dict(first.most_common())
    return figures


def run_renkei(pop: Population, ex: Extract, policy: Policy) -> dict[str, Any]:
    start = time.perf_counter()
    index = RegistryIndex(pop.latest, pop.history, policy)
    outcomes = decide_many(index, ex.records)
    seconds = time.perf_counter() - start
    truly = bindable(pop, ex, index)
    figures = score(ex, truly, [o.person for o in outcomes], [o.reasons for o in outcomes])
    figures["review_by_noise"] = dict(
        collections.Counter(
            f"{k}:{o.reasons[0]}"
            for k, o in zip(ex.noise, outcomes, strict=True)
            if o.person is None  # a bound record's reason is only the notice variant-form
        ).most_common()
    )
    figures["bound_with_notice"] = sum(
        1 for o in outcomes if o.person is not None and o.reasons == ("variant-form",)
    )
    figures["seconds"] = round(seconds, 2)
    return figures


def splink_candidates(
    registry: dict[str, list[Any]], agency: dict[str, list[Any]]
) -> dict[int, set[int]]:
    """Splink 5 with DuckDB: for each agency row (``unique_id``), the registry rows
    scoring a match probability ≥ ``SPLINK_THRESHOLD`` (see the module docstring).
    The tables hold ``unique_id``, ``name``, ``address``, ``birth_date`` and ``sex``
    and, when both hold it, ``kana`` (a folded reading or None), compared as name."""
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    db = DuckDBAPI()
    left = db.register(registry, dataset_display_name="registry")
    right = db.register(agency, dataset_display_name="agency")
    kana = [cl.LevenshteinAtThresholds("kana", [1])] if "kana" in registry else []
    settings = SettingsCreator(
        link_type="link_only",
        probability_two_random_records_match=1 / max(len(registry["unique_id"]), 1),
        comparisons=[
            cl.LevenshteinAtThresholds("name", [1, 2]),
            cl.LevenshteinAtThresholds("address", [1, 3]),
            cl.LevenshteinAtThresholds("birth_date", [1]),
            cl.ExactMatch("sex"),
            *kana,
        ],
        blocking_rules_to_generate_predictions=[
            block_on("birth_date", "sex"),
            block_on("name", "address"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker([left, right], settings, log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("birth_date", "sex")
    )
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("name", "address"))
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_THRESHOLD)
    pairs = predictions.as_duckdbpyrelation().select(
        "source_dataset_l, unique_id_l, source_dataset_r, unique_id_r"
    )
    candidates: dict[int, set[int]] = collections.defaultdict(set)
    for src_l, id_l, _src_r, id_r in pairs.fetchall():
        registry_id, agency_id = (id_l, id_r) if src_l == "registry" else (id_r, id_l)
        candidates[agency_id].add(registry_id)
    return candidates


def run_splink(pop: Population, ex: Extract) -> dict[str, Any]:
    """Splink 5 with DuckDB on the same data (see the module docstring)."""
    start = time.perf_counter()

    def table(rows: list[tuple[str, str, str, str]]) -> dict[str, list[Any]]:
        return {
            "unique_id": list(range(len(rows))),
            "name": [fold_name(r[0]) for r in rows],
            "address": [fold_address(r[1]) for r in rows],
            "birth_date": [r[2] for r in rows],
            "sex": [r[3] for r in rows],
        }

    candidates = splink_candidates(table(pop.latest), table(ex.records))
    bound_to: list[int | None] = [None] * len(ex.records)
    for agency_id, rows in candidates.items():
        if len(rows) == 1:
            bound_to[agency_id] = next(iter(rows))
    seconds = time.perf_counter() - start
    truly = bindable(pop, ex, RegistryIndex(pop.latest, pop.history, Policy.FOLDED))
    figures = score(ex, truly, bound_to)
    figures["review"] = sum(1 for rows in candidates.values() if len(rows) > 1)
    figures["seconds"] = round(seconds, 2)
    return figures


def bench(
    size: int, seed: int = 1, engine: str = "renkei", policy: Policy = Policy.FOLDED
) -> dict[str, Any]:
    """Generate the data (deterministic by ``seed``) and run one engine on it."""
    start = time.perf_counter()
    gc.disable()  # millions of small tuples: generational GC would rescan them (both engines)
    try:
        pop = population(size, seed=seed)
        ex = extract(pop, size, seed=seed + 1)
        gc.freeze()
        generate = time.perf_counter() - start
        rss_data = _peak_rss_mb()
        if engine == "splink":
            figures = run_splink(pop, ex)
            figures["engine"] = "splink"
        else:
            figures = run_renkei(pop, ex, policy)
            figures["engine"] = f"renkei ({policy.value})"
    finally:
        gc.unfreeze()
        gc.enable()
    figures["registry"] = len(pop.latest)
    figures["generate_seconds"] = round(generate, 2)
    figures["peak_rss_mb"] = _peak_rss_mb()
    figures["rss_after_data_mb"] = rss_data
    return figures


def bench_in_child(size: int, seed: int, engine: str, policy: Policy) -> dict[str, Any]:
    """Run one engine in a fresh process, so its peak RSS is its own."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "renkei_reference.services.binding_bench",
            "--size",
            str(size),
            "--seed",
            str(seed),
            "--engine",
            engine,
            "--policy",
            policy.value,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        return {"engine": engine, "error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


# -- out of core -----------------------------------------------------------------


def prepare(size: int, seed: int, folder: Path) -> dict[str, Any]:
    """Generate the data; write the registry store and the extract file (not timed as binding)."""
    start = time.perf_counter()
    gc.disable()
    pop = population(size, seed=seed)
    ex = extract(pop, size, seed=seed + 1)
    gc.freeze()
    generate = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("registry.sqlite3", "extract.sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    store = RegistryStore(folder / "registry.sqlite3")
    store.import_residents(  # registry row r is the store's person r + 1
        (str(row), (*items, pop.kana[row]), [(*s, None) for s in pop.history.get(row, ())], None)
        for row, items in enumerate(pop.latest)
    )
    store.close()
    imported = time.perf_counter() - start
    db = sqlite3.connect(folder / "extract.sqlite3")
    db.execute(
        "CREATE TABLE record (seq INTEGER PRIMARY KEY, name TEXT, address TEXT,"
        " birth_date TEXT, sex TEXT, truth INTEGER, noise TEXT)"
    )
    db.executemany(
        "INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            (i, *items, row, kind)
            for i, (items, row, kind) in enumerate(zip(ex.records, ex.truth, ex.noise, strict=True))
        ),
    )
    db.commit()
    db.close()
    return {
        "registry": len(pop.latest),
        "records": len(ex.records),
        "generate_seconds": round(generate, 2),
        "import_seconds": round(imported, 2),
        "registry_file_bytes": sum(
            f.stat().st_size for f in folder.glob("registry.sqlite3*") if f.is_file()
        ),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _records(folder: Path, start: int, stop: int) -> Iterator[tuple[Items, int, str]]:
    db = sqlite3.connect(folder / "extract.sqlite3")
    try:
        rows = db.execute(
            "SELECT name, address, birth_date, sex, truth, noise FROM record"
            " WHERE seq >= ? AND seq < ? ORDER BY seq",
            (start, stop),
        )
        for name, address, born, sex, truth, noise in rows:
            yield (name, address, born, sex), truth, noise
    finally:
        db.close()


def bind_slice(
    folder: Path, policy: Policy, start: int, stop: int, cache_mib: int = 64
) -> dict[str, Any]:
    """Bind records [start, stop) of the extract against the stored registry,
    scored as ``score`` does, with counters only (nothing kept per record)."""
    store = RegistryStore(folder / "registry.sqlite3", cache_mib=cache_mib)
    index = StoreIndex(store, policy)
    benign = frozenset(BENIGN)
    c: collections.Counter[str] = collections.Counter()
    wrong_by_noise: collections.Counter[str] = collections.Counter()
    reasons: collections.Counter[str] = collections.Counter()
    by_noise: collections.Counter[str] = collections.Counter()
    began, cpu = time.perf_counter(), time.process_time()
    truth_s = truth_cpu = 0.0
    records = _records(folder, start, stop)
    while chunk := [r for _, r in zip(range(CHUNK), records, strict=False)]:
        outcomes = decide_many(index, [items for items, _, _ in chunk])
        mark, mark_cpu = time.perf_counter(), time.process_time()
        for (_, row, kind), outcome in zip(chunk, outcomes, strict=True):
            c["records"] += 1
            ok = False
            if row >= 0 and kind in benign:  # ground truth, as ``bindable``
                latest, earlier = index.fits(fold_items(index.items(row + 1)))
                ok = set(latest) | set(earlier) == {row + 1}
            c["bindable"] += ok
            if outcome.person is None:
                reasons[outcome.reasons[0]] += 1
                by_noise[f"{kind}:{outcome.reasons[0]}"] += 1
                continue
            c["bound"] += 1
            c["bound_with_notice"] += outcome.reasons == ("variant-form",)
            if outcome.person - 1 != row:
                c["wrong_binds"] += 1
                wrong_by_noise[kind] += 1
            elif ok:
                c["bound_bindable"] += 1
        c["noisy"] += sum(1 for _, _, kind in chunk if kind != "clean")
        truth_s += time.perf_counter() - mark
        truth_cpu += time.process_time() - mark_cpu
    seconds = time.perf_counter() - began - truth_s
    cpu_seconds = time.process_time() - cpu - truth_cpu
    store.close()
    return {
        "counts": dict(c),
        "wrong_binds_by_noise": dict(wrong_by_noise),
        "review_reasons": dict(reasons),
        "review_by_noise": dict(by_noise),
        "seconds": round(seconds, 2),
        "cpu_seconds": round(cpu_seconds, 2),
        "truth_seconds": round(truth_s, 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(args: list[str]) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "renkei_reference.services.binding_bench", *args]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _collect(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate()
    if child.returncode != 0:
        return {"error": err.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out)
    return result


def bench_out_of_core(
    size: int,
    seed: int,
    policy: Policy,
    folder: Path,
    *,
    workers: int = 1,
    cache_mib: int = 64,
    reuse: bool = False,
) -> dict[str, Any]:
    """Prepare (one process) then bind in ``workers`` processes over one store
    (module docstring).  ``reuse``: bind the files an earlier run prepared."""
    ready = (
        reuse and (folder / "registry.sqlite3").exists() and (folder / "extract.sqlite3").exists()
    )
    prepared = (
        {"reused": True}
        if ready
        else _collect(_child(["--prepare", str(folder), "--size", str(size), "--seed", str(seed)]))
    )
    if "error" in prepared:
        return {"engine": "renkei (out of core)", **prepared}
    bounds = [size * i // workers for i in range(workers + 1)]
    began = time.perf_counter()
    children = [
        _child(
            [
                "--bind",
                str(folder),
                "--slice",
                f"{a}:{b}",
                "--policy",
                policy.value,
                "--cache-mib",
                str(cache_mib),
            ]
        )
        for a, b in itertools.pairwise(bounds)
    ]
    parts = [_collect(child) for child in children]
    wall = time.perf_counter() - began
    failed = [p for p in parts if "error" in p]
    if failed:
        return {"engine": "renkei (out of core)", **failed[0]}
    total: collections.Counter[str] = collections.Counter()
    merged: dict[str, collections.Counter[str]] = {
        k: collections.Counter()
        for k in ("wrong_binds_by_noise", "review_reasons", "review_by_noise")
    }
    for part in parts:
        total.update(part["counts"])
        for key, counter in merged.items():
            counter.update(part[key])
    first = merged["review_reasons"]
    hit, n_bindable = total["bound_bindable"], total["bindable"]
    return {
        "engine": f"renkei ({policy.value}, out of core)",
        "records": total["records"],
        "wrong_binds": total["wrong_binds"],
        "bound": total["bound"],
        "bindable": n_bindable,
        "bound_bindable": hit,
        "recall": round(hit / n_bindable, 5) if n_bindable else 1.0,
        "wrong_binds_by_noise": dict(merged["wrong_binds_by_noise"]),
        "noisy_share": round(total["noisy"] / max(total["records"], 1), 4),
        "review": sum(n for k, n in first.items() if k != "no-match"),
        "rejected": first.get("no-match", 0),
        "review_reasons": dict(first.most_common()),
        "review_by_noise": dict(merged["review_by_noise"].most_common()),
        "bound_with_notice": total["bound_with_notice"],
        "workers": workers,
        "cache_mib": cache_mib,
        "seconds": round(wall, 2),
        "seconds_matching": round(sum(p["seconds"] for p in parts), 2),
        "cpu_seconds_matching": round(sum(p["cpu_seconds"] for p in parts), 2),
        "cpu_us_per_record": round(
            1e6 * sum(p["cpu_seconds"] for p in parts) / max(total["records"], 1), 1
        ),
        "truth_seconds": round(sum(p["truth_seconds"] for p in parts), 2),
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
        "peak_rss_mb_per_worker": [p["peak_rss_mb"] for p in parts],
        "prepare": prepared,
        "registry": size,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m renkei_reference.services.binding_bench")
    parser.add_argument("--size", type=int, default=0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--engine", choices=("renkei", "splink"), default="renkei")
    parser.add_argument("--policy", choices=[p.value for p in Policy], default="folded")
    parser.add_argument("--prepare", type=Path, help="out of core: write the data here")
    parser.add_argument("--bind", type=Path, help="out of core: bind the data written here")
    parser.add_argument("--slice", default="0:0", help="out of core: records a:b")
    parser.add_argument("--cache-mib", type=int, default=64)
    args = parser.parse_args(argv)
    if args.prepare:
        print(json.dumps(prepare(args.size, args.seed, args.prepare)))
    elif args.bind:
        a, b = (int(x) for x in args.slice.split(":"))
        print(json.dumps(bind_slice(args.bind, Policy(args.policy), a, b, args.cache_mib)))
    else:
        print(json.dumps(bench(args.size, args.seed, args.engine, Policy(args.policy))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
