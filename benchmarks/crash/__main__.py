"""``python -m benchmarks.crash``: the crash, disk-full and SIGTERM runs against
``renkei serve``, each on a fresh state directory, with the figures as JSON.

Exit 0 when every "Done when" check of issue 16 holds, 1 when one fails, 2 when the
harness could not run."""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .crash import CrashOptions, run_crash
from .diskfull import run_disk_full
from .federation import Federation, ServeFailed, free_port_block
from .sigterm import run_sigterm

PARTS = ("crash", "disk-full", "sigterm")


def verdict(report: dict[str, Any]) -> dict[str, bool]:
    """The "Done when" checks of issue 16, each true when it holds."""
    out: dict[str, bool] = {}
    crash = report.get("crash")
    if crash:
        out["0 receipts lost"] = crash["receipts"]["lost"] == 0
        out["0 answers lost"] = crash["answers"]["lost"] == 0
        out["0 answers delivered twice"] = crash["answers"]["delivered_twice"] == 0
        out["0 orphaned linkages"] = crash["orphaned_linkages"]["all"] == 0
        out["0 replayed request ids accepted"] = crash["replays"]["accepted"] == 0
        out["all proofs consistent"] = bool(crash["proofs"]["consistent"])
    full = report.get("disk_full")
    if full:
        out["disk full: 0 answers lost"] = full["answers_lost"] == 0
        out["disk full: new work refused with 503"] = bool(full["new_work_refused_503"])
    term = report.get("sigterm")
    if term:
        out["half-sent requests closed within the timeout"] = bool(
            term["all_closed_within_timeout"]
        )
        out["SIGTERM with half-open requests stops in < 10 s"] = bool(term["stopped_in_time"])
    return out


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    rng = random.Random(args.seed)
    report: dict[str, Any] = {"started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    parts = args.only or list(PARTS)
    for part in parts:
        folder = work / part
        folder.mkdir(parents=True, exist_ok=True)
        fed = Federation(folder / "state", folder / "serve.log", free_port_block(4, rng),
                         poll_interval=args.poll_interval)  # fmt: skip
        print(f"[{part}] renkei serve on 127.0.0.1:{fed.port}, log {fed.log_path}", file=sys.stderr)
        try:
            if part == "crash":
                opts = CrashOptions(linkages=args.linkages, kills=args.kills,
                                    direct_share=args.direct_share, seed=args.seed,
                                    max_seconds=args.max_seconds)  # fmt: skip
                report["crash"] = run_crash(fed, opts)
            elif part == "disk-full":
                report["disk_full"] = run_disk_full(fed, answers=args.disk_full_answers)
            else:
                report["sigterm"] = run_sigterm(fed, extended=True)
        finally:
            fed.close()
    report["done_when"] = verdict(report)
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.crash", description=__doc__)
    p.add_argument("--linkages", type=int, default=1000, help="approved linkages (default 1000)")
    p.add_argument("--kills", type=int, default=5, help="kill -9 and restarts (default 5)")
    p.add_argument("--direct-share", type=float, default=0.25,
                   help="share of linkages asked with the requester's certificate rather than "
                        "through its node (default 0.25)")  # fmt: skip
    p.add_argument("--disk-full-answers", type=int, default=10,
                   help="answers in transit when the store fills (default 10)")  # fmt: skip
    p.add_argument("--poll-interval", type=float, default=0.2,
                   help="the nodes' --poll-interval (default 0.2)")  # fmt: skip
    p.add_argument("--max-seconds", type=float, default=1800.0,
                   help="stop asking after this long; judge what was done")  # fmt: skip
    p.add_argument("--only", action="append", choices=PARTS, help="run only this part (repeatable)")
    p.add_argument("--seed", type=int, default=16)
    p.add_argument("--json", type=Path, help="write the figures here")
    p.add_argument("--keep", type=Path, help="keep state directories and logs in this folder")
    args = p.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="renkei-crash-"))
    try:
        report = run(args, work)
    except ServeFailed as exc:
        print(f"benchmarks.crash: {exc}", file=sys.stderr)
        return 2
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    text = json.dumps(report, indent=2, ensure_ascii=False, default=str)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    print(text)
    for check, ok in report["done_when"].items():
        print(f"{'PASS' if ok else 'FAIL'}  {check}", file=sys.stderr)
    return 0 if all(report["done_when"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
