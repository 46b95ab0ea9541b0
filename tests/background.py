"""Checks that run in a subprocess, started as soon as the session knows it needs them.

CrossHair's symbolic checks of the core (tests/test_contracts.py) take minutes of one
core each and need nothing from the tests around them.  When they are collected,
``start`` runs them one at a time on a background thread, at the lowest CPU
priority (``nice`` 19, in a session and scheduling group of their own), while the
other tests run; each test then takes its check's result (``result``), waiting
for it if it is not done.  A check never started (a test run on its own) runs when
its test asks.  Nothing about a check changes: the same
command, the same budget, the same assertions on its output.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Background", "Job", "lower_priority"]


@dataclass(frozen=True)
class Job:
    argv: tuple[str, ...]
    cwd: Path
    env: dict[str, str]
    timeout: float
    nice: int = 19
    """Its priority in the background: 19 for a check that only computes (CrossHair);
    0 for a kit run that judges the target's throughput against the wall clock
    (CT-PERF-001/002), which the lowest priority starved while the tests ran."""


def lower_priority(pid: int, nice: int = 19) -> None:
    """``nice`` for a process started in a session of its own, and for its session's
    scheduling group.

    With the kernel's autogroups (``/proc/sys/kernel/sched_autogroup_enabled``) a
    process's nice value only ranks it within its session's group, and the groups
    share the CPU equally: a niced check in the test session's group still took half
    the machine from a test's server in a session of its own.  Its own group niced
    leaves every other group the CPU first.  Set at once after the start, before the
    process (a Python program) has started anything of its own."""
    with contextlib.suppress(OSError):  # no autogroups (or not allowed): nice alone then
        Path(f"/proc/{pid}/autogroup").write_text(f"{nice}\n")
    with contextlib.suppress(OSError):
        os.setpriority(os.PRIO_PROCESS, pid, nice)


_RUNNING: set[int] = set()
"""Sessions of background checks still running: ended with the test run (``_end``),
since a session of their own no longer receives the terminal's Ctrl-C."""


def _end() -> None:
    for pgid in list(_RUNNING):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pgid, signal.SIGKILL)


atexit.register(_end)


def _run(job: Job, *, background: bool) -> subprocess.CompletedProcess[str]:
    if not background:
        return subprocess.run(
            list(job.argv),
            cwd=job.cwd,
            env=job.env,
            capture_output=True,
            text=True,
            timeout=job.timeout,
            check=False,
        )
    with subprocess.Popen(
        list(job.argv),
        cwd=job.cwd,
        env=job.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    ) as proc:
        _RUNNING.add(proc.pid)
        lower_priority(proc.pid, job.nice)
        try:
            out, err = proc.communicate(timeout=job.timeout)
        except subprocess.TimeoutExpired:
            _end_session(proc)
            raise
        finally:
            _RUNNING.discard(proc.pid)
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _end_session(proc: subprocess.Popen[str]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()


@dataclass
class Background:
    jobs: dict[str, Job] = field(default_factory=dict)
    _done: dict[str, subprocess.CompletedProcess[str] | BaseException] = field(default_factory=dict)
    _started: set[str] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def define(self, name: str, job: Job) -> None:
        self.jobs[name] = job

    def start(self, names: Sequence[str]) -> None:
        """Run ``names`` one after the other on a daemon thread."""
        todo = [n for n in names if n in self.jobs and n not in self._started]
        self._started.update(todo)
        if todo:
            threading.Thread(target=self._work, args=(todo,), daemon=True).start()

    def _work(self, names: list[str]) -> None:
        for name in names:
            try:
                done: subprocess.CompletedProcess[str] | BaseException = _run(
                    self.jobs[name], background=True
                )
            except BaseException as exc:  # a timeout: the test reports it
                done = exc
            with self._lock:
                self._done[name] = done
                self._lock.notify_all()

    def result(self, name: str) -> subprocess.CompletedProcess[str]:
        """The finished check (run now, in the foreground, if it was never started)."""
        with self._lock:
            if name not in self._started:
                self._started.add(name)
                self._done[name] = _run(self.jobs[name], background=False)
            while name not in self._done:
                self._lock.wait()
            done = self._done[name]
        if isinstance(done, BaseException):
            raise done
        return done
