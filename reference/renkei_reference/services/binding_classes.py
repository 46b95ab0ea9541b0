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

``engine="splink"`` scores Splink on the same country instead (``--compare-splink``:
in its own process, so its peak RSS is its own): ``binding_bench.splink_candidates``
on the folded name and address, the date, the sex and the folded kana reading (the
registry's, and the record's when given), a record bound when exactly one registry
row scores ≥ 0.99 — and, as the hub, never to a resident removed from the registry
(RK-BND-009), so that the comparison is of the matching, not of the status rule.

Run: ``renkei binding classes --size N [--seed S] [--json] [--compare-splink]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import subprocess
import sys
import time
from typing import Any

from ..core.binding_match import Policy, RegistryIndex, decide_many
from ..core.binding_normalise import fold_address, fold_kana, fold_name, kana_reading
from .synthetic_country import Country, country

__all__ = ["NEUTRAL", "classes", "classes_in_child", "main", "table"]

#: Classes that every agency's records carry in large shares and that the node or the
#: kana fold absorb: a class counts as *alone* when no other feature but these is present.
NEUTRAL = frozenset({"kana", "kana-large", "legacy-date", "legacy-sex", "twin", "near-namesake"})


def _unique(c: Country, index: RegistryIndex, row: int) -> bool:
    name, address, born, sex = c.latest[row]
    latest, earlier = index.fits((fold_name(name), fold_address(address), born, sex))
    return set(latest) | set(earlier) == {row}


def _splink_bound(c: Country, sent: list[int]) -> list[int | None]:
    """Splink's decision per sent record: the registry row it binds, or None."""
    from .binding_bench import splink_candidates

    registry: dict[str, list[Any]] = {
        "unique_id": list(range(len(c.latest))),
        "name": [fold_name(r[0]) for r in c.latest],
        "address": [fold_address(r[1]) for r in c.latest],
        "birth_date": [r[2] for r in c.latest],
        "sex": [r[3] for r in c.latest],
        "kana": [fold_kana(k) if k else None for k in c.kana],
    }
    agency: dict[str, list[Any]] = {
        "unique_id": list(range(len(sent))),
        "name": [fold_name(c.records[i][0]) for i in sent],
        "address": [fold_address(c.records[i][1]) for i in sent],
        "birth_date": [c.records[i][2] for i in sent],
        "sex": [c.records[i][3] for i in sent],
        "kana": [kana_reading(c.readings[i]) for i in sent],
    }
    candidates = splink_candidates(registry, agency)
    return [
        next(iter(rows)) if len(rows) == 1 and next(iter(rows)) not in c.removed else None
        for rows in (candidates.get(j, set()) for j in range(len(sent)))
    ]


def classes(size: int, seed: int = 1, engine: str = "renkei") -> dict[str, Any]:
    """Generate, bind (``engine``: the hub's matcher, or Splink) and score (see the
    module docstring)."""
    began = time.perf_counter()
    c = country(size, seed)
    generated = time.perf_counter() - began
    index = RegistryIndex(c.latest, c.history, Policy.FOLDED, c.kana, frozenset(c.removed))
    sent = [i for i, problem in enumerate(c.problem) if not problem]
    cpu, wall = time.process_time(), time.perf_counter()
    if engine == "splink":
        persons = _splink_bound(c, sent)
    else:
        outcomes = decide_many(index, [c.records[i] for i in sent], [c.readings[i] for i in sent])
        persons = [outcome.person for outcome in outcomes]
    cpu_per_record = (time.process_time() - cpu) / max(len(sent), 1)
    matching = time.perf_counter() - wall
    bound: list[int | None] = [None] * len(c.records)
    for i, person in zip(sent, persons, strict=True):
        bound[i] = person
    unique: dict[int, bool] = {}
    rows: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    agencies: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    alone: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for i, features in enumerate(c.features):
        truth = c.truth[i]
        clerk = c.clerk[i]
        if clerk and truth not in unique:
            unique[truth] = _unique(c, index, truth)
        clerk = clerk and unique.get(truth, False)
        got = bound[i]
        counts = collections.Counter(records=1, clerk=int(clerk), problem=int(c.problem[i]))
        if got is not None:
            counts["bound"] += 1
            if got != truth:
                counts["wrong"] += 1
            elif clerk:
                counts["correct"] += 1
            else:
                counts["contradicting"] += 1
        for name in (*features, "all"):
            rows[name].update(counts)
        notation = [f for f in features if f not in NEUTRAL]
        if len(notation) == 1:  # the class alone, beside what every agency does anyway
            alone[notation[0]].update(counts)
        agencies[c.agency[i]].update(counts)
    return {
        "engine": engine,
        "records": len(c.records),
        "registry": len(c.latest),
        "removed": len(c.removed),
        "classes": {k: _figures(v) for k, v in sorted(rows.items())},
        "alone": {k: _figures(v) for k, v in sorted(alone.items())},
        "agencies": {k: _figures(v) for k, v in sorted(agencies.items())},
        "cpu_us_per_record": round(1e6 * cpu_per_record, 1),
        "matching_seconds": round(matching, 1),
        "generate_seconds": round(generated, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def classes_in_child(size: int, seed: int, engine: str) -> dict[str, Any]:
    """``classes`` in a fresh process, so its peak RSS is its own."""
    done = subprocess.run(
        [sys.executable, "-m", "renkei_reference.services.binding_classes", "--json",
         "--size", str(size), "--seed", str(seed), "--engine", engine],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"engine": engine, "error": done.stderr.strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def _figures(counts: collections.Counter[str]) -> dict[str, Any]:
    out: dict[str, Any] = {k: counts[k] for k in
                           ("records", "clerk", "bound", "correct", "wrong", "contradicting",
                            "problem")}  # fmt: skip
    out["recall"] = round(counts["correct"] / counts["clerk"], 5) if counts["clerk"] else None
    out["precision"] = round(counts["correct"] / counts["bound"], 5) if counts["bound"] else None
    return out


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
    parser.add_argument("--engine", choices=("renkei", "splink"), default="renkei")
    parser.add_argument("--compare-splink", action="store_true")
    args = parser.parse_args(argv)
    result = classes(args.size, args.seed, args.engine)
    splink = classes_in_child(args.size, args.seed, "splink") if args.compare_splink else None
    if args.json:
        print(json.dumps(result | ({"splink": splink} if splink else {}), ensure_ascii=False))
        return 1 if splink and "error" in splink else 0
    print(table(result))
    if splink:
        failed = "error" in splink
        print(f"\nSplink: {splink['error']}" if failed else "\nSplink:\n" + table(splink))
    return 1 if splink and "error" in splink else 0


if __name__ == "__main__":
    raise SystemExit(main())
