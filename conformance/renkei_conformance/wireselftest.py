"""The wire-level self-test: ``renkei conformance selftest --wire``.

Where the known-bad catalog holds violations someone thought of, this one
generates them: every operation of the OpenAPI document × every generic
mutation operator of renkei_conformance.wiremut (drop a member, add one, swap
a value between two parties' responses, replay a stale value, change the
status, reorder or duplicate a list entry, lag a checkpoint, delay), applied by
a mutating proxy at the kit's HTTP client, so any target works: in process,
``renkei serve`` or an agency node over HTTPS.

1. *Recording run*: the whole kit against the target through the proxy in
   record mode.  It must pass (the proxy changes nothing: no false kills), and
   it yields, per kit test, each response's operation and the mutants that
   would change it.
2. *Enumeration*: for each operation × operator the kit exercises, up to
   ``per_pair`` member paths (drawn with ``seed``), each applied within the
   fastest kit test(s) whose responses it changes (``tests_per_mutant``).
   ``sample`` keeps a CI-sized random subset.  An operation no passing kit
   test calls gets no mutant and is listed as *unexercised* (the agency-node
   operations, for a target without agency nodes).
3. *Mutant runs*: those tests again, the proxy applying the mutant to every
   response of its operation within them.  **Killed**: a kit test failed.
   A mutant that never fired is *not applied* (the run did not reproduce the
   recording) and is left out of the score.  Each batch of mutants runs in one
   worker process (pytest once per mutant), ``jobs`` workers at a time.

Survivors the reviewed file ``wire_equivalents.yaml`` explains are
*equivalent* (not a violation of the protocol, with the reason); any other
survivor is a gap of the kit.  The score is killed ÷ (killed + survived).
"""

from __future__ import annotations

import fnmatch
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .openapi import load_contract
from .selftest import SUITE, SelftestError, _pytest, _results, suite_args
from .wiremut import OPERATORS, Mutant

__all__ = ["EQUIVALENTS", "WireKill", "enumerate_mutants", "run_wire_selftest"]

EQUIVALENTS = Path(__file__).resolve().parent / "wire_equivalents.yaml"


@dataclass
class WireKill:
    mutant: Mutant
    outcome: str  # killed | survived | equivalent | not-applied | unexercised
    killed_by: list[str] = field(default_factory=list)
    note: str = ""
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        return {
            **self.mutant.as_json(),
            "outcome": self.outcome,
            "killed_by": self.killed_by,
            "note": self.note,
            "seconds": round(self.seconds, 2),
        }


def load_equivalents(path: Path = EQUIVALENTS) -> list[dict[str, str]]:
    """The reviewed equivalent mutants: ``operation``, ``operator``, ``path``
    (shell patterns, ``*`` when absent) and the ``reason`` each is no violation."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    entries = list((data or {}).get("equivalent", []))
    for e in entries:
        if not str(e.get("reason", "")).strip():
            raise SelftestError(f"{path.name}: an entry without a reason: {e!r}")
    return entries


def load_gaps(path: Path = EQUIVALENTS) -> list[dict[str, str]]:
    """The survivors known to be gaps of the kit (``gaps``), with what closing each
    needs; they stay survivors and count against the score."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None
    return list((data or {}).get("gaps", []))


def equivalent_reason(m: Mutant, entries: Sequence[dict[str, str]]) -> str | None:
    for e in entries:
        if (
            fnmatch.fnmatchcase(m.operation, str(e.get("operation", "*")))
            and fnmatch.fnmatchcase(m.operator, str(e.get("operator", "*")))
            and fnmatch.fnmatchcase(m.path, str(e.get("path", "*")))
        ):
            return str(e["reason"]).strip()
    return None


def enumerate_mutants(
    records: Sequence[dict[str, Any]],
    durations: dict[str, float],
    *,
    seed: int = 0,
    per_pair: int = 1,
    tests_per_mutant: int = 1,
    operators: Sequence[str] = OPERATORS,
) -> tuple[list[Mutant], list[str]]:
    """The mutants of a recording (``records``: the proxy's lines) and the
    operations of the OpenAPI document no passing kit test exercises.
    ``durations`` holds the kit tests that passed, by node id."""
    where: dict[tuple[str, str], dict[str, set[str]]] = {}
    exercised: set[str] = set()
    for r in records:
        test = r.get("test")
        if test not in durations:
            continue
        exercised.add(r["op"])
        for operator, paths in r["applicable"].items():
            for path in paths:
                where.setdefault((r["op"], operator), {}).setdefault(path, set()).add(test)
    mutants: list[Mutant] = []
    unexercised: list[str] = []
    for op in load_contract().operations:
        name = op.operation_id
        if name not in exercised:
            unexercised.append(name)
            continue
        for operator in operators:
            by_path = where.get((name, operator), {})
            paths = sorted(by_path)
            rng = random.Random(f"{seed}:{name}:{operator}")
            chosen = sorted(rng.sample(paths, min(per_pair, len(paths))))
            for path in chosen:
                tests = sorted(by_path[path], key=lambda t: (durations[t], t))
                # the fastest test, and others drawn at random among the rest
                picked = tests[:1] + rng.sample(tests[1:], min(tests_per_mutant, len(tests)) - 1)
                mutants.append(Mutant(name, operator, path, tuple(picked)))
    return mutants, unexercised


def _read_lines(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def _mutant_args(m: Mutant, work: Path, index: int) -> list[str]:
    return [
        *(str(SUITE / t) for t in m.tests),
        "--renkei-wire-out",
        str(work / f"m{index}.jsonl"),
        "--renkei-wire-mutant",
        json.dumps(m.as_json()),
        "--renkei-report-json",
        str(work / f"m{index}.json"),
        "-x",
        "-q",
    ]


def _worker(batch: Path) -> int:
    """Run a batch of mutants in one process (``python -m
    renkei_conformance.wireselftest BATCH``): pytest once per mutant, the kit's
    modules and the target's imported once, which keeps a mutant to the cost of
    its tests."""
    import contextlib
    import io

    import pytest

    spec = json.loads(batch.read_text(encoding="utf-8"))
    work = Path(spec["work"])
    for index, data in spec["mutants"]:
        started = time.monotonic()
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            pytest.main([*_mutant_args(Mutant.from_json(data), work, index), *spec["args"]])
        tail = " | ".join(out.getvalue().strip().splitlines()[-3:])
        line = {"index": index, "seconds": time.monotonic() - started, "tail": tail[-500:]}
        with (work / f"done-{spec['worker']}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
    return 0


def _judge(m: Mutant, work: Path, index: int, done: dict[str, Any]) -> WireKill:
    ran = _results(work / f"m{index}.json")
    fired = [line for line in _read_lines(work / f"m{index}.jsonl") if "fired" in line]
    failed = [r for r in ran if r["outcome"] in ("failed", "error")]
    kill = WireKill(m, "survived", seconds=float(done.get("seconds", 0.0)))
    if not ran:
        kill.outcome, kill.note = "not-applied", f"the kit did not run: {done.get('tail', '')}"
    elif not fired:
        kill.outcome = "not-applied"
        kill.note = "the mutation never fired" + (" (and a test failed: flaky?)" if failed else "")
    elif failed:
        kill.outcome, kill.killed_by = "killed", sorted({r["test_id"] for r in failed})
        kill.note = str(failed[0].get("message", ""))[:300]
    else:
        kill.note = f"fired {len(fired)}×; {len(ran)} test(s) passed"
    return kill


def _run_batches(
    target_args: list[str],
    mutants: Sequence[Mutant],
    work: Path,
    workers: int,
    judged: Callable[[WireKill], None],
) -> list[WireKill]:
    """Run ``mutants`` in ``workers`` processes; judge each as it finishes."""
    procs = []
    for w in range(workers):
        share = [[i, m.as_json()] for i, m in enumerate(mutants) if i % workers == w]
        if not share:
            continue
        batch = work / f"batch-{w}.json"
        spec = {"work": str(work), "worker": w, "args": target_args, "mutants": share}
        batch.write_text(json.dumps(spec), encoding="utf-8")
        cmd = [sys.executable, "-m", "renkei_conformance.wireselftest", str(batch)]
        log = (work / f"worker-{w}.log").open("w", encoding="utf-8")
        procs.append((subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log))
    kills: dict[int, WireKill] = {}
    while True:
        running = any(p.poll() is None for p, _ in procs)
        for w in range(workers):
            for done in _read_lines(work / f"done-{w}.jsonl"):
                i = int(done["index"])
                if i not in kills:
                    kills[i] = _judge(mutants[i], work, i, done)
                    judged(kills[i])
        if not running:
            break
        time.sleep(1.0)
    for _, log in procs:
        log.close()
    for i, m in enumerate(mutants):
        if i not in kills:  # the worker died on it
            log_tail = (work / f"worker-{i % workers}.log").read_text(encoding="utf-8")[-300:]
            kills[i] = WireKill(m, "not-applied", note=f"the worker stopped: {log_tail}")
            judged(kills[i])
    return [kills[i] for i in range(len(mutants))]


def run_wire_selftest(
    target: str = "reference",
    *,
    seed: int = 0,
    sample: int | None = None,
    per_pair: int = 1,
    tests_per_mutant: int = 1,
    operators: Sequence[str] = OPERATORS,
    kit_files: Sequence[str] = (),
    extra_args: Sequence[str] = (),
    jobs: int | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Record, enumerate, run each mutant; the kill score with every survivor."""
    say = progress or (lambda _msg: None)
    unknown = sorted(set(operators) - set(OPERATORS))
    if unknown:
        raise SelftestError(
            f"unknown mutation operator: {', '.join(unknown)} (known: {', '.join(OPERATORS)})"
        )
    equivalents, gaps = load_equivalents(), load_gaps()
    target_args = [*suite_args(target), *extra_args]
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="renkei-wire-") as tmp:
        work = Path(tmp)
        say(f"recording run: the kit against {target} through the proxy …")
        rec, good_report = work / "record.jsonl", work / "good.json"
        selection = [str(SUITE / f) for f in kit_files] or [str(SUITE)]
        proc = _pytest([*selection, *target_args, "--renkei-wire-out", str(rec), "-q"], good_report)
        good = _results(good_report)
        if not good:
            raise SelftestError(
                f"the kit did not run against {target}: "
                + " | ".join((proc.stdout + proc.stderr).strip().splitlines()[-3:])
            )
        not_passing = [r["test_id"] for r in good if r["outcome"] in ("failed", "error")]
        durations = {
            r["nodeid"]: float(r.get("duration_s", 0.0)) for r in good if r["outcome"] == "passed"
        }
        records = _read_lines(rec)
        record_seconds = time.monotonic() - began
        mutants, unexercised = enumerate_mutants(
            records,
            durations,
            seed=seed,
            per_pair=per_pair,
            tests_per_mutant=tests_per_mutant,
            operators=operators,
        )
        generated = len(mutants)
        if sample is not None and sample < len(mutants):
            mutants = sorted(random.Random(seed).sample(mutants, sample), key=mutants.index)
        say(
            f"  {len(good)} tests ({len(not_passing)} not passing), {len(records)} responses, "
            f"{generated} mutants ({len(mutants)} to run), {record_seconds:.0f} s"
        )
        # an in-process target is a fresh implementation per client; any other is one
        # shared deployment, which two mutants at a time would reset under each other
        in_process = not target.startswith(("http://", "https://")) and not Path(target).is_file()
        workers = max(1, jobs or (os.cpu_count() or 1 if in_process else 1))

        def judged(kill: WireKill) -> None:
            if kill.outcome == "survived":
                reason = equivalent_reason(kill.mutant, equivalents)
                if reason is not None:
                    kill.outcome, kill.note = "equivalent", reason
                gap = equivalent_reason(kill.mutant, gaps) if reason is None else None
                if gap is not None:
                    kill.note = f"known gap: {gap} ({kill.note})"
            say(f"  {kill.outcome:<12} {kill.mutant.id}  {', '.join(kill.killed_by)}")

        kills = _run_batches(target_args, mutants, work, workers, judged)
    for name in unexercised if not kit_files else ():
        m = Mutant(name, "*")
        reason = equivalent_reason(m, equivalents)
        kills.append(
            WireKill(
                m,
                "equivalent" if reason else "unexercised",
                note=reason or "no passing kit test calls this operation",
            )
        )
    return summarize(
        target,
        kills=kills,
        not_passing=not_passing,
        generated=generated,
        seconds=time.monotonic() - began,
        seed=seed,
    )


def summarize(
    target: str,
    *,
    kills: Sequence[WireKill],
    not_passing: Sequence[str],
    generated: int,
    seconds: float,
    seed: int,
) -> dict[str, Any]:
    counts = {
        o: sum(k.outcome == o for k in kills)
        for o in ("killed", "survived", "unexercised", "equivalent", "not-applied")
    }
    scored = counts["killed"] + counts["survived"]
    return {
        "target": target,
        "clean": not not_passing,
        "not_passing_unmutated": list(not_passing),
        "seed": seed,
        "generated": generated,
        "run": len(kills) - counts["unexercised"],
        "counts": counts,
        "score": round(counts["killed"] / scored, 4) if scored else 1.0,
        "seconds": round(seconds, 1),
        "survivors": [k.as_json() for k in kills if k.outcome == "survived"],
        "unexercised": [k.mutant.operation for k in kills if k.outcome == "unexercised"],
        "equivalent": [k.as_json() for k in kills if k.outcome == "equivalent"],
        "mutants": [k.as_json() for k in kills],
    }


def render(result: dict[str, Any]) -> str:
    c = result["counts"]
    lines = [
        f"target {result['target']}: unmutated run "
        + (
            "clean"
            if result["clean"]
            else f"NOT CLEAN: {', '.join(result['not_passing_unmutated'])}"
        ),
        f"{result['run']} of {result['generated']} generated wire mutants run (seed "
        f"{result['seed']}) in {result['seconds']:.0f} s: {c['killed']} killed, "
        f"{c['survived']} survived, {c['equivalent']} equivalent, "
        f"{c['not-applied']} not applied",
        f"kill score {100 * result['score']:.1f} % (killed ÷ (killed + survived))",
    ]
    if result["unexercised"]:
        lines.append(
            "operations no passing kit test calls (no mutant; not applicable to this target "
            "or a gap): " + ", ".join(result["unexercised"])
        )
    for m in result["survivors"]:
        lines.append(f"  SURVIVED {m['id']} in {', '.join(m['tests']) or '-'}: {m['note']}")
    for m in result["equivalent"]:
        lines.append(f"  equivalent {m['id']}: {m['note'][:160]}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(_worker(Path(sys.argv[1])))
