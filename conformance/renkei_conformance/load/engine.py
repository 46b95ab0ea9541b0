"""Running Locust: one process, or one master and N workers (distributed mode).

Locust patches the standard library with gevent at import, so it only ever
runs in subprocesses (``python -m locust``) on the shipped locustfile; the
kit reads its CSV output afterwards.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import LOCUSTFILE

__all__ = ["EngineError", "Run", "locust_available", "run_locust", "worker_command"]


class EngineError(Exception):
    """Locust is missing or did not produce results (exit 2)."""


@dataclass(frozen=True)
class Run:
    csv_prefix: Path
    workers: int
    duration_s: float
    version: str


def locust_available() -> str | None:
    """Locust's version, or None when the ``[load]`` extra is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("locust")
    except PackageNotFoundError:
        return None


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def _env(setup_file: Path) -> dict[str, str]:
    return {**os.environ, "RENKEI_BENCH_SETUP": str(setup_file.resolve())}


def worker_command(master_host: str, master_port: int) -> list[str]:
    """The Locust worker command line (also what remote workers run)."""
    return [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--worker",
        "--master-host",
        master_host,
        "--master-port",
        str(master_port),
        "--loglevel",
        "WARNING",
    ]


def run_locust(
    setup_file: Path,
    out_dir: Path,
    *,
    users: int,
    duration_s: float,
    workers: int = 0,
    remote_workers: int = 0,
    master_bind_host: str = "127.0.0.1",
    master_port: int = 0,
) -> Run:
    """Run the load; ``workers`` local worker processes plus ``remote_workers``
    started by hand elsewhere (``renkei bench --worker``) make distributed mode."""
    version = locust_available()
    if version is None:
        raise EngineError(
            "Locust is not installed: install the load extra (pip install 'renkei[load]')"
        )
    prefix = out_dir / "locust"
    cmd = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{max(1, round(duration_s))}s",
        "--stop-timeout",
        "5",
        "--csv",
        str(prefix),
        "--csv-full-history",
        "--only-summary",
        "--loglevel",
        "WARNING",
        "--exit-code-on-error",
        "0",
    ]
    distributed = workers + remote_workers > 0
    procs: list[subprocess.Popen[bytes]] = []
    log = open(out_dir / "locust.log", "wb")  # noqa: SIM115
    try:
        if distributed:
            port = master_port or _free_port(master_bind_host)
            cmd += [
                "--master",
                "--master-bind-host",
                master_bind_host,
                "--master-bind-port",
                str(port),
                "--expect-workers",
                str(workers + remote_workers),
                "--expect-workers-max-wait",
                "600" if remote_workers else "60",
            ]
            if remote_workers:
                print(
                    f"renkei bench: waiting for {remote_workers} remote worker(s): run\n"
                    f"  RENKEI_BENCH_SETUP=<copy of {setup_file}> renkei bench --worker "
                    f"--master-host <this host> --master-port {port} --setup <copy>",
                    flush=True,
                )
        env = _env(setup_file)
        started = time.monotonic()
        master = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(master)
        if distributed:
            time.sleep(1.0)
            for _ in range(workers):
                procs.append(
                    subprocess.Popen(
                        worker_command("127.0.0.1", port),
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
        try:
            master.wait(timeout=duration_s + 700)
        except subprocess.TimeoutExpired as exc:
            raise EngineError("Locust did not finish in time") from exc
        elapsed = time.monotonic() - started
        for p in procs[1:]:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        log.close()
    if not (out_dir / "locust_stats.csv").is_file():
        tail = (out_dir / "locust.log").read_text(errors="replace")[-1500:]
        raise EngineError(f"Locust produced no results:\n{tail}")
    return Run(prefix, workers + remote_workers, elapsed, version)
