"""A server in a child process: start it, wait until it is ready, stop it.

One piece for every place that runs a server beside the caller (the bench's
embedded target and floor relay, the repository's ``renkei serve`` fixture):
the child's output goes to a log file, readiness is polled against a deadline,
and a child that exits or misses the deadline raises ``TargetError`` with the
tail of its log — never a silent hang.  On leaving the ``with`` block the
child is terminated, and killed if it has not stopped within ten seconds.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from ..target import TargetError

__all__ = ["ServerProcess", "server_process", "tree_cpu_seconds"]

LOG_TAIL_CHARS = 800


class ServerProcess:
    """A started child: ``wait_until`` polls a readiness check against the
    start deadline; ``fail`` raises with the log tail."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, what: str, deadline: float):
        self.proc, self.log, self.what, self.deadline = proc, log, what, deadline

    def fail(self, why: str) -> TargetError:
        tail = self.log.read_text(errors="replace")[-LOG_TAIL_CHARS:] if self.log.is_file() else ""
        return TargetError(f"{self.what} {why}: {tail}")

    def wait_until(self, ready: Callable[[], bool], why: str = "did not start") -> None:
        while not ready():
            if self.proc.poll() is not None or time.monotonic() > self.deadline:
                raise self.fail(why)
            time.sleep(0.05)


def tree_cpu_seconds(pid: int) -> float | None:
    """CPU seconds (user + system) a process and its living descendants have used so far,
    from ``/proc``; None where there is no ``/proc`` or the process is gone."""
    proc = Path("/proc")
    if not (proc / str(pid)).is_dir():
        return None
    parent: dict[int, int] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        parent[int(entry.name)] = int(fields[1])
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, grew = {pid}, True
    while grew:
        grew = False
        for child, up in parent.items():
            if up in tree and child not in tree:
                tree.add(child)
                grew = True
    return sum(used.get(p, 0.0) for p in tree)


@contextmanager
def server_process(
    command: Sequence[str],
    *,
    log: Path,
    what: str,
    timeout_s: float,
    ready: Callable[[], bool] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[ServerProcess]:
    """Run ``command`` with stdout and stderr in ``log``; when ``ready`` is
    given, wait for it first (within ``timeout_s``, which also bounds later
    ``wait_until`` calls)."""
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            list(command),
            stdout=sink,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
        )
    server = ServerProcess(proc, log, what, time.monotonic() + timeout_s)
    try:
        if ready is not None:
            server.wait_until(ready)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
