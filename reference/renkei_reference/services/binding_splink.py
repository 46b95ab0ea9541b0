"""Splink on the synthetic country, per case class (issue 18 item 6).

``splink_classes(size, seed)`` generates the country of ``binding_classes`` (the same
seed gives the same registry and records), links every record the agency node sends
with Splink (``binding_bench.splink_candidates``: DuckDB, the folded name and address,
the date, the sex and the folded kana reading — the registry's, and the record's when
given) and scores it exactly as ``binding_classes.classes`` scores the hub (``score``:
per case class, per class alone, per agency).  A record binds when exactly one
registry row scores a match probability ≥ 0.99, and — as at the hub (RK-BND-009) —
never to a resident removed from the registry, so that the comparison is one of
matching, not of the status rule.

Run: ``renkei binding bench --country --size N [--json] [--compare-splink]`` (each
engine in its own process, so that its peak RSS is its own), or
``python -m renkei_reference.services.binding_splink --size N [--json]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import resource
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..core.binding_match import Policy, RegistryIndex
from ..core.binding_normalise import fold_address, fold_kana, fold_name, kana_reading
from .binding_classes import NEUTRAL, _figures, _unique, table
from .synthetic_country import Country, country

__all__ = ["country_in_child", "main", "score", "splink_bound", "splink_classes"]


def score(c: Country, index: RegistryIndex, bound: Sequence[int | None]) -> dict[str, Any]:
    """The figures of ``binding_classes.classes`` for the decisions ``bound`` (the
    registry row each record was bound to, or None): per class, class alone and agency."""
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
        counts = collections.Counter(records=1, clerk=int(clerk), problem=int(c.problem[i]))
        got = bound[i]
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
        if len(notation) == 1:
            alone[notation[0]].update(counts)
        agencies[c.agency[i]].update(counts)
    return {
        "classes": {k: _figures(v) for k, v in sorted(rows.items())},
        "alone": {k: _figures(v) for k, v in sorted(alone.items())},
        "agencies": {k: _figures(v) for k, v in sorted(agencies.items())},
    }


def splink_bound(c: Country) -> list[int | None]:
    """Splink's decision on each record of the country: the registry row it binds, or
    None (a record the node cannot send, several rows, a removed resident, no row)."""
    from .binding_bench import splink_candidates

    sent = [i for i, problem in enumerate(c.problem) if not problem]
    registry: dict[str, list[Any]] = {
        "unique_id": list(range(len(c.latest))),
        "name": [fold_name(r[0]) for r in c.latest],
        "address": [fold_address(r[1]) for r in c.latest],
        "birth_date": [r[2] for r in c.latest],
        "sex": [r[3] for r in c.latest],
        "kana": [fold_kana(k) if k else None for k in c.kana],
    }
    agency: dict[str, list[Any]] = {
        "unique_id": sent,
        "name": [fold_name(c.records[i][0]) for i in sent],
        "address": [fold_address(c.records[i][1]) for i in sent],
        "birth_date": [c.records[i][2] for i in sent],
        "sex": [c.records[i][3] for i in sent],
        "kana": [kana_reading(c.readings[i]) for i in sent],
    }
    candidates = splink_candidates(registry, agency)
    bound: list[int | None] = [None] * len(c.records)
    for i in sent:
        rows = candidates.get(i, set())
        if len(rows) == 1 and (row := next(iter(rows))) not in c.removed:
            bound[i] = row
    return bound


def splink_classes(size: int, seed: int = 1) -> dict[str, Any]:
    """Generate the country, link it with Splink and score it (the module docstring)."""
    began = time.perf_counter()
    c = country(size, seed)
    generated = time.perf_counter() - began
    cpu, wall = time.process_time(), time.perf_counter()
    bound = splink_bound(c)
    cpu_per_record = (time.process_time() - cpu) / max(len(c.records), 1)
    matching = time.perf_counter() - wall
    index = RegistryIndex(c.latest, c.history, Policy.FOLDED, c.kana, frozenset(c.removed))
    return {
        "engine": "splink",
        "records": len(c.records),
        "registry": len(c.latest),
        "removed": len(c.removed),
        **score(c, index, bound),
        "cpu_us_per_record": round(1e6 * cpu_per_record, 1),
        "matching_seconds": round(matching, 1),
        "generate_seconds": round(generated, 1),
        "seconds": round(time.perf_counter() - began, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def country_in_child(size: int, seed: int, engine: str) -> dict[str, Any]:
    """The per-class figures of ``engine`` (``renkei``: ``binding_classes.classes``;
    ``splink``: ``splink_classes``) in a fresh process, with its own peak RSS."""
    module = "binding_classes" if engine == "renkei" else "binding_splink"
    done = subprocess.run(
        [sys.executable, "-c",
         "import json, resource, sys\n"
         f"from renkei_reference.services.{module} import main\n"
         "code = main(sys.argv[1:])\n"
         "print(json.dumps({'peak_rss_mb': round(resource.getrusage("
         "resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))\n"
         "sys.exit(code)",
         "--json", "--size", str(size), "--seed", str(seed)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        return {"engine": engine, "error": done.stderr.strip().splitlines()[-1:]}
    figures, rss = done.stdout.strip().splitlines()[-2:]
    result: dict[str, Any] = json.loads(figures) | json.loads(rss)
    result["engine"] = engine
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m renkei_reference.services.binding_splink")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = splink_classes(args.size, args.seed)
    print(json.dumps(result, ensure_ascii=False) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
