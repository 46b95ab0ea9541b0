"""Precision and recall of the hub's binding per case class (issue 18 item 6).

``classes(size, seed)`` generates a country (services/synthetic_country.py: notation
per municipality and per agency, removed residents, kana, legacy formats), binds
every agency record as the hub does (RK-BND-002, RK-BND-005, RK-BND-009; the
folded policy, with the records' kana readings and the registry's) and reports,
per case class (a record counts in each class it belongs to) and per agency:

* ``clerk`` — records a careful clerk binds (the person current and unique, the
  record contradicting none of the person's items);
* ``bound`` — records the hub binds; ``correct`` — bound to the clerk's person;
* ``wrong`` — bound to another person; ``contradicting`` — bound to the record's
  person although the record contradicts a given item or the person is removed;
* ``recall`` = correct / clerk, ``precision`` = correct / bound.

Run: ``renkei binding classes --size N [--seed S] [--json]``.

Out of core (issue 17; ``--out-of-core DIR [--workers K] [--cache-mib M] [--reuse]``):
one process generates the country and writes the registry into the registry's own
store (``registry.RegistryStore``: residents with kana and removal, earlier items,
the blocking index) and the records into a second SQLite file; then K fresh
processes each stream a slice of the records through the same matcher over the
store (``StoreIndex``), 10,000 at a time, and keep counters only (nothing per
resident or per record); the counters are added up into the same figures as
``classes`` gives in memory.
"""

from __future__ import annotations

import argparse
import collections
import gc
import itertools
import json
import resource
import shlex
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
from .synthetic_country import Country, country

__all__ = ["NEUTRAL", "classes", "classes_out_of_core", "main", "merge", "table"]

CHUNK = 10_000  # records a matcher call in the out-of-core run
REMOVED_ON = "2026-01-01"  # the generator draws no removal date; the matcher reads only the reason

#: Classes that every agency's records carry in large shares and that the node or the
#: kana fold absorb: a class counts as *alone* when no other feature but these is present.
NEUTRAL = frozenset({"kana", "kana-large", "legacy-date", "legacy-sex", "twin", "near-namesake"})


def _unique(c: Country, index: RegistryIndex, row: int) -> bool:
    name, address, born, sex = c.latest[row]
    latest, earlier = index.fits((fold_name(name), fold_address(address), born, sex))
    return set(latest) | set(earlier) == {row}


def classes(size: int, seed: int = 1) -> dict[str, Any]:
    """Generate, bind and score (see the module docstring)."""
    began = time.perf_counter()
    c = country(size, seed)
    generated = time.perf_counter() - began
    index = RegistryIndex(c.latest, c.history, Policy.FOLDED, c.kana, frozenset(c.removed))
    sent = [i for i, problem in enumerate(c.problem) if not problem]
    cpu = time.process_time()
    outcomes = decide_many(index, [c.records[i] for i in sent], [c.readings[i] for i in sent])
    cpu_per_record = (time.process_time() - cpu) / max(len(sent), 1)
    bound: list[int | None] = [None] * len(c.records)
    reasons: collections.Counter[str] = collections.Counter()
    for i, outcome in zip(sent, outcomes, strict=True):
        bound[i] = outcome.person
        if outcome.person is None:
            reasons[outcome.reasons[0]] += 1
    unique: dict[int, bool] = {}
    tally = _Tally()
    for i, features in enumerate(c.features):
        truth = c.truth[i]
        clerk = c.clerk[i]
        if clerk and truth not in unique:
            unique[truth] = _unique(c, index, truth)
        clerk = clerk and unique.get(truth, False)
        tally.add(features, c.agency[i], truth, clerk, c.problem[i], bound[i])
    return {
        "records": len(c.records),
        "registry": len(c.latest),
        "removed": len(c.removed),
        **tally.figures(),
        "review_reasons": dict(reasons.most_common()),
        "cpu_us_per_record": round(1e6 * cpu_per_record, 1),
        "generate_seconds": round(generated, 1),
        "seconds": round(time.perf_counter() - began, 1),
    }


class _Tally:
    """Counters per class, per class alone and per agency (``classes``'s figures)."""

    def __init__(self) -> None:
        self.rows: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.alone: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )
        self.agencies: dict[str, collections.Counter[str]] = collections.defaultdict(
            collections.Counter
        )

    def add(  # noqa: PLR0917 -- one record's outcome
        self,
        features: tuple[str, ...],
        agency: str,
        truth: int,
        clerk: bool,
        problem: bool,
        got: int | None,
    ) -> None:
        counts = collections.Counter(records=1, clerk=int(clerk), problem=int(problem))
        if got is not None:
            counts["bound"] += 1
            if got != truth:
                counts["wrong"] += 1
            elif clerk:
                counts["correct"] += 1
            else:
                counts["contradicting"] += 1
        for name in (*features, "all"):
            self.rows[name].update(counts)
        notation = [f for f in features if f not in NEUTRAL]
        if len(notation) == 1:  # the class alone, beside what every agency does anyway
            self.alone[notation[0]].update(counts)
        self.agencies[agency].update(counts)

    def counts(self) -> dict[str, dict[str, dict[str, int]]]:
        return {
            "classes": {k: dict(v) for k, v in self.rows.items()},
            "alone": {k: dict(v) for k, v in self.alone.items()},
            "agencies": {k: dict(v) for k, v in self.agencies.items()},
        }

    def merge(self, counts: dict[str, dict[str, dict[str, int]]]) -> None:
        for section, target in (
            ("classes", self.rows),
            ("alone", self.alone),
            ("agencies", self.agencies),
        ):
            for name, values in counts[section].items():
                target[name].update(values)

    def figures(self) -> dict[str, Any]:
        return {
            "classes": {k: _figures(v) for k, v in sorted(self.rows.items())},
            "alone": {k: _figures(v) for k, v in sorted(self.alone.items())},
            "agencies": {k: _figures(v) for k, v in sorted(self.agencies.items())},
        }


def _figures(counts: collections.Counter[str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: counts[k] for k in
                           ("records", "clerk", "bound", "correct", "wrong", "contradicting",
                            "problem")}  # fmt: skip
    out["recall"] = round(counts["correct"] / counts["clerk"], 5) if counts["clerk"] else None
    out["precision"] = round(counts["correct"] / counts["bound"], 5) if counts["bound"] else None
    return out


# -- out of core (issue 17) ---------------------------------------------------------


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def prepare(size: int, seed: int, folder: Path) -> dict[str, Any]:
    """Generate the country; write the registry store and the records file."""
    start = time.perf_counter()
    gc.disable()  # millions of small tuples: generational GC would rescan them
    c = country(size, seed)
    gc.freeze()
    generate = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("registry.sqlite3", "records.sqlite3"):
        for suffix in ("", "-wal", "-shm"):
            (folder / f"{name}{suffix}").unlink(missing_ok=True)
    start = time.perf_counter()
    store = RegistryStore(folder / "registry.sqlite3")
    store.import_residents(  # registry row r is the store's person r + 1
        (
            str(row),
            (*items, c.kana[row]),
            [(*s, None) for s in c.history.get(row, ())],
            (c.removed[row], REMOVED_ON) if row in c.removed else None,
        )
        for row, items in enumerate(c.latest)
    )
    store.close()
    imported = time.perf_counter() - start
    start = time.perf_counter()
    db = sqlite3.connect(folder / "records.sqlite3")
    db.execute(
        "CREATE TABLE record (seq INTEGER PRIMARY KEY, name TEXT, address TEXT,"
        " birth_date TEXT, sex TEXT, reading TEXT, truth INTEGER, clerk INTEGER,"
        " features TEXT, agency TEXT, problem INTEGER)"
    )
    db.executemany(
        "INSERT INTO record VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            (i, *c.records[i], c.readings[i], c.truth[i], c.clerk[i],
             ",".join(c.features[i]), c.agency[i], c.problem[i])
            for i in range(len(c.records))
        ),
    )  # fmt: skip
    db.commit()
    db.close()
    written = time.perf_counter() - start
    return {
        "registry": len(c.latest),
        "removed": len(c.removed),
        "records": len(c.records),
        "generate_seconds": round(generate, 2),
        "import_seconds": round(imported, 2),
        "records_write_seconds": round(written, 2),
        "registry_file_bytes": sum(
            f.stat().st_size for f in folder.glob("registry.sqlite3*") if f.is_file()
        ),
        "records_file_bytes": sum(
            f.stat().st_size for f in folder.glob("records.sqlite3*") if f.is_file()
        ),
        "cpu_seconds": round(time.process_time(), 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


_Record = tuple[Items, str | None, int, bool, tuple[str, ...], str, bool]


def _records(folder: Path, start: int, stop: int) -> Iterator[_Record]:
    db = sqlite3.connect(folder / "records.sqlite3")
    try:
        rows = db.execute(
            "SELECT name, address, birth_date, sex, reading, truth, clerk, features, agency,"
            " problem FROM record WHERE seq >= ? AND seq < ? ORDER BY seq",
            (start, stop),
        )
        for name, address, born, sex, reading, truth, clerk, features, agency, problem in rows:
            items: Items = (name, address, born, sex)
            yield (
                items,
                reading,
                truth,
                bool(clerk),
                tuple(features.split(",")),
                agency,
                bool(problem),
            )
    finally:
        db.close()


def bind_slice(
    folder: Path, start: int, stop: int, cache_mib: int = 64, progress: Path | None = None
) -> dict[str, Any]:
    """Bind records [start, stop) against the stored registry as ``classes`` does,
    counters only (nothing kept per record or per resident).  ``progress``: a file
    that holds the figures so far, rewritten after every chunk (for a long run)."""
    store = RegistryStore(folder / "registry.sqlite3", cache_mib=cache_mib)
    index = StoreIndex(store, Policy.FOLDED)
    tally = _Tally()
    reasons: collections.Counter[str] = collections.Counter()
    by_class: collections.Counter[str] = collections.Counter()
    began = time.perf_counter()
    cpu = 0.0
    records = _records(folder, start, stop)
    while chunk := [r for _, r in zip(range(CHUNK), records, strict=False)]:
        for items, reading, truth, told, features, agency, problem in chunk:
            got: int | None = None
            if not problem:
                mark = time.process_time()
                # one record a call: the ground truth below then reads what the decision
                # read (StoreIndex keeps one record's candidates), not the store again
                (outcome,) = decide_many(index, [items], [reading])
                cpu += time.process_time() - mark
                if outcome.person is None:
                    reasons[outcome.reasons[0]] += 1
                    for name in features:
                        by_class[f"{name}:{outcome.reasons[0]}"] += 1
                else:
                    got = outcome.person - 1
            clerk = False
            if told:  # and the person's folded items unique in the registry (``_unique``)
                latest, earlier = index.fits(fold_items(index.items(truth + 1)))
                clerk = set(latest) | set(earlier) == {truth + 1}
            tally.add(features, agency, truth, clerk, problem, got)
        if progress is not None:
            part = progress.with_suffix(".part")
            part.write_text(json.dumps(_part(tally, reasons, by_class, began, cpu)))
            part.replace(progress)
    store.close()
    return _part(tally, reasons, by_class, began, cpu)


def _part(
    tally: _Tally,
    reasons: collections.Counter[str],
    by_class: collections.Counter[str],
    began: float,
    cpu: float,
) -> dict[str, Any]:
    """One binding process's figures (so far)."""
    return {
        "counts": tally.counts(),
        "review_reasons": dict(reasons),
        "review_by_class": dict(by_class),
        "seconds": round(time.perf_counter() - began, 2),
        "cpu_seconds": round(cpu, 2),
        "cpu_seconds_all": round(time.process_time(), 2),
        "peak_rss_mb": _peak_rss_mb(),
    }


def _child(args: list[str], wrap: str = "") -> subprocess.Popen[str]:
    command = [
        *shlex.split(wrap),
        sys.executable,
        "-m",
        "renkei_reference.services.binding_classes",
        *args,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


#: What ``/usr/bin/time -v`` reports that the figures keep (its own words, our keys).
_TIME_V = {
    "Maximum resident set size (kbytes)": "max_rss_kb",
    "User time (seconds)": "user_seconds",
    "System time (seconds)": "system_seconds",
    "Elapsed (wall clock) time (h:mm:ss or m:ss)": "elapsed",
    "Percent of CPU this job got": "cpu_percent",
}


def _collect(child: subprocess.Popen[str]) -> dict[str, Any]:
    out, err = child.communicate()
    if child.returncode != 0:
        return {"error": err.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(out)
    report = {}
    for line in err.splitlines():
        label, _, value = line.strip().rpartition(": ")
        if label in _TIME_V:
            report[_TIME_V[label]] = value
    if report:
        result["time_v"] = report
    return result


def classes_out_of_core(
    size: int,
    seed: int,
    folder: Path,
    *,
    workers: int = 1,
    cache_mib: int = 64,
    reuse: bool = False,
    wrap: str = "",
) -> dict[str, Any]:
    """``classes`` with the registry in its store and the records split across
    ``workers`` processes (module docstring); ``reuse``: the files an earlier run wrote;
    ``wrap``: a command each process runs under (``/usr/bin/time -v``: its report is kept
    as ``time_v``)."""
    ready = reuse and all((folder / f).exists() for f in ("registry.sqlite3", "records.sqlite3"))
    prepared = (
        {"reused": True}
        if ready
        else _collect(
            _child(["--prepare", str(folder), "--size", str(size), "--seed", str(seed)], wrap)
        )
    )
    if "error" in prepared:
        return prepared
    bounds = [size * i // workers for i in range(workers + 1)]
    began = time.perf_counter()
    children = [
        _child(
            [
                "--bind",
                str(folder),
                "--slice",
                f"{a}:{b}",
                "--cache-mib",
                str(cache_mib),
                "--progress",
                str(folder / f"progress-{i}.json"),
            ],
            wrap,
        )
        for i, (a, b) in enumerate(itertools.pairwise(bounds))
    ]
    parts = [_collect(child) for child in children]
    wall = time.perf_counter() - began
    failed = [p for p in parts if "error" in p]
    if failed:
        return failed[0]
    return {
        **merge(parts),
        "registry": size,
        "workers": workers,
        "cache_mib": cache_mib,
        "seconds": round(wall, 2),
        "prepare": prepared,
    }


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of binding processes (``bind_slice``, or their progress files) added up."""
    tally = _Tally()
    reasons: collections.Counter[str] = collections.Counter()
    by_class: collections.Counter[str] = collections.Counter()
    for part in parts:
        tally.merge(part["counts"])
        reasons.update(part["review_reasons"])
        by_class.update(part["review_by_class"])
    figures = tally.figures()
    records = figures["classes"]["all"]["records"]
    cpu = sum(p["cpu_seconds"] for p in parts)
    return {
        "records": records,
        **figures,
        "review_reasons": dict(reasons.most_common()),
        "review_by_class": dict(sorted(by_class.items())),
        "cpu_seconds_matching": round(cpu, 2),
        "cpu_us_per_record": round(1e6 * cpu / max(records, 1), 1),
        "cpu_seconds_binding_processes": round(sum(p["cpu_seconds_all"] for p in parts), 2),
        "peak_rss_mb": max(p["peak_rss_mb"] for p in parts),
        "peak_rss_mb_per_worker": [p["peak_rss_mb"] for p in parts],
        "time_v_per_worker": [p.get("time_v") for p in parts],
    }


def table(result: dict[str, Any]) -> str:
    """The per-class and per-agency figures as a Markdown table."""
    lines = [
        "| class | records | clerk binds | bound | correct | wrong | contradicting | recall "
        "| precision |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    prefix = {"classes": "", "alone": "alone: ", "agencies": "agency: "}
    for section in ("classes", "alone", "agencies"):
        for name, f in result[section].items():
            recall = "—" if f["recall"] is None else f"{100 * f['recall']:.2f} %"
            precision = "—" if f["precision"] is None else f"{100 * f['precision']:.3f} %"
            label = prefix[section] + name
            lines.append(
                f"| {label} | {f['records']:,} | {f['clerk']:,} | {f['bound']:,} | "
                f"{f['correct']:,} | {f['wrong']} | {f['contradicting']} | {recall} | {precision} |"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="renkei binding classes")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--out-of-core", type=Path, help="the registry in its store, here")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--cache-mib", type=int, default=64)
    parser.add_argument("--reuse", action="store_true", help="bind the files written before")
    parser.add_argument("--wrap", default="", help="run each process under this command")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--bind", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--slice", default="0:0", help=argparse.SUPPRESS)
    parser.add_argument("--progress", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.prepare:
        print(json.dumps(prepare(args.size, args.seed, args.prepare)))
        return 0
    if args.bind:
        a, b = (int(x) for x in args.slice.split(":"))
        print(json.dumps(bind_slice(args.bind, a, b, args.cache_mib, args.progress)))
        return 0
    if args.out_of_core:
        result = classes_out_of_core(
            args.size, args.seed, args.out_of_core,
            workers=max(1, args.workers), cache_mib=args.cache_mib, reuse=args.reuse,
            wrap=args.wrap,
        )  # fmt: skip
        if "error" in result or args.json:
            print(json.dumps(result, ensure_ascii=False))
            return 1 if "error" in result else 0
        print(table(result))
        return 0
    result = classes(args.size, args.seed)
    print(json.dumps(result, ensure_ascii=False) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
