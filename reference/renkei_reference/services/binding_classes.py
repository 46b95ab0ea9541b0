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
"""

from __future__ import annotations

import argparse
import collections
import json
import time
from typing import Any

from ..core.binding_match import Policy, RegistryIndex, decide_many
from ..core.binding_normalise import fold_address, fold_name
from .synthetic_country import Country, country

__all__ = ["NEUTRAL", "classes", "main", "table"]

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
    for i, outcome in zip(sent, outcomes, strict=True):
        bound[i] = outcome.person
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
        "records": len(c.records),
        "registry": len(c.latest),
        "removed": len(c.removed),
        "classes": {k: _figures(v) for k, v in sorted(rows.items())},
        "alone": {k: _figures(v) for k, v in sorted(alone.items())},
        "agencies": {k: _figures(v) for k, v in sorted(agencies.items())},
        "cpu_us_per_record": round(1e6 * cpu_per_record, 1),
        "generate_seconds": round(generated, 1),
        "seconds": round(time.perf_counter() - began, 1),
    }


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
    args = parser.parse_args(argv)
    result = classes(args.size, args.seed)
    print(json.dumps(result, ensure_ascii=False) if args.json else table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
