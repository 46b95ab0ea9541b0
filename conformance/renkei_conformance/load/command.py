"""``renkei bench``: the command line of the load run.

    renkei bench --target reference|URL|FILE [--duration S] [--rate R] [--persons N]
                 [--agencies K] [--users U] [--workers N] [--json] [--html FILE]
    renkei bench --worker --master-host HOST [--master-port P] --setup FILE

Exit codes: 0 the verdict passes, 1 it fails, 2 usage, target or engine error.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

__all__ = ["register"]


def _server_cpu(pids: list[int] | None) -> float | None:
    """CPU seconds the leg's server (and its children) used so far, when this run
    started it (None for a target reached by URL or file)."""
    if not pids:
        return None
    from .process import tree_cpu_seconds

    return tree_cpu_seconds(pids[0])


def _add_server_cpu(summary: dict[str, Any], before: float | None, after: float | None) -> None:
    """The server's CPU time per completed linkage over the leg (``server_cpu_ms``): less
    moved by a shared machine's load than linkages per second."""
    count = summary["linkages"]["count"]
    if before is None or after is None or not count:
        return
    summary["linkages"]["server_cpu_ms"] = round((after - before) * 1000 / count, 3)


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> dict[str, Callable[[argparse.Namespace], int]]:
    bench = sub.add_parser(
        "bench",
        help="drive linkage load against a target (Locust; needs the [load] extra)",
        description="Drive a mix of allowed and refused linkage queries, providers "
        "pulling and answering and requesters collecting, against a target; report "
        "sustained linkages/s, p50/p95/p99 latency and the error rate, and judge them "
        "against a national profile (specs/benchmarks/national-profile.yaml).",
    )
    bench.add_argument("--target", help="'reference' (served on loopback), a URL or a target file")
    bench.add_argument("--duration", type=float, default=30.0, help="seconds of load (default 30)")
    bench.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="offered queries/s in total (0: as fast as possible)",
    )
    bench.add_argument(
        "--persons", type=int, default=1000, help="synthetic residents (default 1000)"
    )
    bench.add_argument(
        "--bind",
        type=int,
        default=5000,
        help="persons each requester binds, a window of the registry (default 5000)",
    )
    bench.add_argument(
        "--agencies", type=int, default=4, help="agencies, half requesters half providers"
    )
    bench.add_argument("--users", type=int, default=20, help="concurrent requester users")
    bench.add_argument(
        "--provider-users",
        type=int,
        default=0,
        help="concurrent provider users pulling and answering (default 0: one per provider "
        "agency, at most 8); too few make the linkage latency the providers' pull cadence",
    )
    bench.add_argument(
        "--refused-share", type=float, default=0.1, help="share of refused queries (default 0.1)"
    )
    bench.add_argument(
        "--payload-bytes", type=int, default=1024, help="answer size (default 1 KiB)"
    )
    bench.add_argument("--profile", help="national profile id (default: the file's default)")
    bench.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also measure the floor, a bare two-hop relay on the same server stack, back "
        "to back with the target, and report target/floor ratios (default: on for "
        "--target reference)",
    )
    bench.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="measure the target (and the floor) this many times, alternating, on the same "
        "setup; the figures are the median run's, the spread is reported (default 1)",
    )
    bench.add_argument("--workers", type=int, default=0, help="local Locust workers (distributed)")
    bench.add_argument(
        "--hub-workers",
        type=int,
        default=1,
        metavar="N",
        help="processes of the hub and of the floor alike: `--target reference` is served "
        "with `renkei serve --workers N` and the floor with N fronts and one relay core "
        "(default 1)",
    )
    bench.add_argument(
        "--hub-store",
        default="",
        metavar="sqlite:PATH|postgresql://…",
        help="`--target reference` only: the hub's store (`renkei serve --store`; default its "
        "state folder's SQLite file)",
    )
    bench.add_argument(
        "--expect-remote-workers",
        type=int,
        default=0,
        help="workers started on other machines with `renkei bench --worker`",
    )
    bench.add_argument(
        "--master-bind-host", default="127.0.0.1", help="master address for remote workers"
    )
    bench.add_argument("--master-port", type=int, default=0, help="master port (0: a free one)")
    bench.add_argument("--out", type=Path, help="keep the setup file and Locust CSVs here")
    bench.add_argument("--json", action="store_true", help="print the result as JSON")
    bench.add_argument("--json-out", type=Path, help="also write the JSON result here")
    bench.add_argument("--html", type=Path, help="write the HTML report (with the PNG) here")
    bench.add_argument("--png", type=Path, help="write the over-time picture here")
    bench.add_argument("--worker", action="store_true", help="run as a worker of a remote master")
    bench.add_argument("--master-host", help="(worker) the master's address")
    bench.add_argument("--setup", type=Path, help="(worker) the master's setup file, copied here")
    return {"bench": _bench}


def _fail(message: str) -> int:
    print(f"renkei bench: {message}", file=sys.stderr)
    return 2


def _bench(args: argparse.Namespace) -> int:
    from .engine import locust_available, worker_command

    if locust_available() is None:
        return _fail("Locust is not installed: install the load extra (pip install 'renkei[load]')")
    if args.worker:
        if not args.master_host or args.setup is None or not args.setup.is_file():
            return _fail("--worker needs --master-host and --setup FILE (the master's setup)")
        import subprocess

        env = {**os.environ, "RENKEI_BENCH_SETUP": str(args.setup.resolve())}
        return subprocess.call(worker_command(args.master_host, args.master_port or 5557), env=env)
    if not args.target:
        return _fail("--target is required (reference, a URL or a target file)")
    for name in ("duration", "persons", "agencies", "users", "bind", "repeat"):
        if getattr(args, name) <= 0:
            return _fail(f"--{name} must be positive")
    if args.agencies < 2:
        return _fail("--agencies must be at least 2 (a requester and a provider)")
    if not 0 <= args.refused_share <= 1 or min(args.rate, args.workers, args.provider_users) < 0:
        return _fail("--refused-share is in [0, 1]; --rate, --workers, --provider-users are >= 0")
    try:
        result = run(args)
    except _Errors as exc:
        return _fail(str(exc))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    if args.json:
        json.dump(result, sys.stdout, indent=2, ensure_ascii=False)
        print()
    else:
        from .summary import render_text

        print(render_text(result))
    return 0 if result["verdict"]["pass"] else 1


class _Errors(Exception):
    pass


def _summary(leg_dir: Path, leg: str) -> dict[str, Any]:
    from .summary import read_rows, summarise

    summary = summarise(
        read_rows(leg_dir / "locust_stats.csv"), read_rows(leg_dir / "locust_stats_history.csv")
    )
    if not summary["requests_total"]:
        # nothing reached the server: an engine or connection problem, not a verdict
        tail = (leg_dir / "locust.log").read_text(errors="replace").strip()[-1200:]
        raise _Errors(f"the load on the {leg} made no request at all; Locust's log ends:\n{tail}")
    if not summary["linkages"]["count"]:
        # e.g. a local worker starved of CPU missed its heartbeats and the master
        # stopped its users: no figure to report, rather than a misleading 0/s
        raise _Errors(
            f"the load on the {leg} completed no linkage ({summary['requests_total']} "
            f"requests); see {leg_dir / 'locust.log'} (with --out), or run with fewer "
            "--workers on a busy machine"
        )
    return summary


def run(args: argparse.Namespace) -> dict[str, Any]:
    import httpx

    from ..client import WireError
    from ..spec import SpecError
    from ..target import TargetError
    from .engine import EngineError, locust_available, run_locust
    from .floor import served_floor
    from .setup import LoadShape, scratch_dir, served_target, setup_world
    from .summary import floor_section, headline, load_floor_rule, load_profile, median_run, verdict

    shape = LoadShape(
        persons=args.persons,
        bound_per_requester=args.bind,
        agencies=args.agencies,
        rate=args.rate,
        requester_users=args.users,
        provider_users=args.provider_users or min(8, max(1, args.agencies - args.agencies // 2)),
        refused_share=args.refused_share,
        payload_bytes=args.payload_bytes,
    )
    out: Path = args.out or scratch_dir()
    out.mkdir(parents=True, exist_ok=True)
    with_floor = args.floor if args.floor is not None else args.target == "reference"
    setup_s: float | None = None
    pairs: list[dict[str, Any]] = []  # one per repeat: {"target": summary, "floor": summary}
    served: dict[str, list[int]] = {}  # the processes this run started, by leg
    try:
        profile = load_profile(args.profile)
        floor_rule = load_floor_rule() if with_floor else None
        with (
            served_target(
                args.target,
                out,
                workers=args.hub_workers,
                store=args.hub_store,
                pids=served.setdefault("target", []),
            ) as target,
            ExitStack() as stack,
        ):
            if not args.json:
                print(f"renkei bench: setting up {target.name} ({shape.persons} persons)…")
            say = (lambda _: None) if args.json else (lambda m: print(f"  {m}", flush=True))
            started = time.monotonic()
            setup_world(target, shape, out / "setup.json", say)
            setup_s = round(time.monotonic() - started, 1)
            floor_setup = (
                stack.enter_context(
                    served_floor(
                        target,
                        out / "setup.json",
                        out / "floor",
                        workers=args.hub_workers,
                        pids=served.setdefault("floor", []),
                    )
                )
                if with_floor
                else None
            )
            workers = 0
            for i in range(args.repeat):
                pair: dict[str, Any] = {}
                # alternate floor and target, back to back, so a busy machine hits both alike
                legs = [("floor", floor_setup)] if floor_setup else []
                for leg, setup_file in [*legs, ("target", out / "setup.json")]:
                    assert setup_file is not None
                    if not args.json:
                        print(
                            f"renkei bench: {args.duration:.0f} s of load on the {leg}"
                            f" ({i + 1}/{args.repeat}) with Locust…",
                            flush=True,
                        )
                    leg_dir = out / f"{leg}-{i + 1}"
                    leg_dir.mkdir(parents=True, exist_ok=True)
                    cpu_before = _server_cpu(served.get(leg))
                    ran = run_locust(
                        setup_file,
                        leg_dir,
                        users=shape.requester_users + shape.provider_users,
                        duration_s=args.duration,
                        workers=args.workers,
                        remote_workers=args.expect_remote_workers,
                        master_bind_host=args.master_bind_host,
                        master_port=args.master_port,
                    )
                    workers = ran.workers
                    pair[leg] = _summary(leg_dir, leg)
                    _add_server_cpu(pair[leg], cpu_before, _server_cpu(served.get(leg)))
                pairs.append(pair)
            described = target.describe()
    except (TargetError, SpecError, EngineError, WireError) as exc:
        raise _Errors(str(exc)) from exc
    except httpx.HTTPError as exc:
        raise _Errors(f"the target failed during setup: {type(exc).__name__}: {exc}") from exc
    chosen = median_run([p["target"] for p in pairs])
    summary = pairs[chosen]["target"]
    result: dict[str, Any] = {
        "format": "renkei-bench-result/1",
        "target": described,
        "shape": {**shape.__dict__},
        "engine": {"name": "locust", "version": locust_available() or "", "workers": workers},
        "processes": args.hub_workers,
        "duration_s": round(args.duration, 1),
        "setup_s": setup_s,
        **summary,
        "profile": profile,
        "repeats": [
            {leg: headline(p[leg]) for leg in ("target", "floor") if leg in p} for p in pairs
        ],
    }
    if floor_rule is not None:
        result["floor"] = floor_section(pairs, floor_rule)
    result["verdict"] = verdict(result, profile)
    if args.html or args.png:
        from .report import write_html, write_png

        png = write_png(result, args.png or out / "bench.png")
        if args.html:
            write_html(result, args.html, png)
    if args.out is None:
        shutil.rmtree(out, ignore_errors=True)
    return result
