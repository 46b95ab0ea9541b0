"""A second stream of tests: some whole test files run in a pytest process of their own.

The suite ran with the machine's second core idle a third of the time (144 % of two
cores over 39 minutes on a slow 2-core machine): most tests are one Python process
waiting on one server.  The files named in ``OFFLOADED`` (long, self-contained: kit
runs in subprocesses, a wheel installed in a fresh virtualenv, a byte-change matrix)
run from the start of the session in a second pytest process, in a session of its
own, at a lower priority (``SECOND_NICE``); the session runs the other files meanwhile.  Each
offloaded test is then reported where the session reaches it (last), from the
second process's own reports — setup, call and teardown, passed, failed or skipped,
with their output and durations — so a run reads and fails as one run.  Nothing
about a test changes: the same fixtures (the second process has its own), the same
assertions.

A run of offloaded files alone (``pytest tests/test_wheel.py``) runs them in the
session itself.  ``RENKEI_OFFLOAD=0`` runs everything in the session.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from .background import lower_priority

__all__ = ["OFFLOADED", "Offload", "ReportWriter", "in_second_stream"]

OFFLOADED = frozenset(
    {
        "tests/test_kit_options.py",
        "tests/test_log_tamper.py",
        "tests/test_wheel.py",
        "tests/test_ci_templates.py",
        "tests/test_certifier.py",
        "tests/test_node_only.py",
        "tests/test_restart_capability.py",
        "tests/test_bundle.py",
        "tests/test_spec_site.py",
    }
)
"""The files run in the second stream (paths from the repository's root).  Not the
newcomer's walk (tests/test_newcomer.py): its full kit run over mutual TLS judges the
served reference's throughput against the national profile (CT-PERF-002), which two
streams and the checks left below 27.7 linkages/s on the slow machine."""

BOUND = 3600.0
"""Seconds the second process may take in all; then it is stopped."""
_REPORTS = "RENKEI_OFFLOAD_REPORTS"
"""In the second process: the file its reports are appended to, one JSON line each."""
_FINISHED = "finished"


def in_second_stream() -> bool:
    return _REPORTS in os.environ


# -- the second process ---------------------------------------------------------------
class ReportWriter:
    """The second process's plugin: each report appended to the reports file as one
    JSON line, and a line when all of a test's reports are written."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        data = self.config.hook.pytest_report_to_serializable(config=self.config, report=report)
        _append({"report": data})

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        _append({_FINISHED: nodeid})


def _append(line: dict[str, Any]) -> None:
    with open(os.environ[_REPORTS], "a", encoding="utf-8") as out:
        out.write(json.dumps(line) + "\n")


# -- the session ----------------------------------------------------------------------
SECOND_NICE = 10
"""The second process's priority, and its scheduling group's: below the session's and
the servers its tests start (each in a session and group of its own), above the
background checks' (19, tests/background.py).  The second stream takes the CPU the
first leaves; a test of the first that times a server (a kit run judging
throughput) gets the machine as it did with one stream."""


@dataclass
class Offload:
    root: Path
    files: frozenset[str] = OFFLOADED
    """The files run in the second process (paths from ``root``)."""
    items: set[str] = field(default_factory=set)
    """Node ids run by the second process."""
    _proc: subprocess.Popen[bytes] | None = None
    _reports: Path | None = None
    _output: Path | None = None
    _offset: int = 0
    _started: float = 0.0
    _got: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _done: set[str] = field(default_factory=set)

    def start(self, items: list[pytest.Item]) -> list[pytest.Item]:
        """Start the second process with the offloaded files' items; the items
        in the order the session reports them (the offloaded ones last)."""
        chosen = [i for i in items if self._offloaded(i)]
        if not chosen or len(chosen) == len(items) or os.environ.get("RENKEI_OFFLOAD") == "0":
            return items
        folder = Path(tempfile.mkdtemp(prefix="renkei-offload-"))
        self._reports, self._output = folder / "reports.jsonl", folder / "output.txt"
        self._reports.touch()
        args = folder / "args.txt"
        args.write_text("\n".join(i.nodeid for i in chosen) + "\n", encoding="utf-8")
        env = {**os.environ, _REPORTS: str(self._reports)}
        with self._output.open("wb") as out:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"@{args}"],
                cwd=self.root,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a scheduling group of its own
            )
        lower_priority(self._proc.pid, SECOND_NICE)
        self._started = time.monotonic()
        atexit.register(self._end)
        self.items = {i.nodeid for i in chosen}
        rest = [i for i in items if i.nodeid not in self.items]
        return rest + chosen

    def _offloaded(self, item: pytest.Item) -> bool:
        path = Path(str(item.path)).resolve()
        with contextlib.suppress(ValueError):
            return str(path.relative_to(self.root)) in self.files
        return False

    def replay(self, item: pytest.Item) -> None:
        """Report ``item`` as the second process ran it (waiting for it)."""
        ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        reports = self._wait(item.nodeid)
        for data in reports:
            report = item.config.hook.pytest_report_from_serializable(config=item.config, data=data)
            ihook.pytest_runtest_logreport(report=report)
        if not reports:  # the second process ended without running it
            ihook.pytest_runtest_logreport(report=self._lost(item))
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)

    def _wait(self, nodeid: str) -> list[dict[str, Any]]:
        assert self._proc is not None
        while nodeid not in self._done:
            self._read()
            if nodeid in self._done:
                break
            if self._proc.poll() is not None:
                self._read()
                break
            if time.monotonic() > self._started + BOUND:
                self._end()  # its tests not reported yet are reported lost
                break
            time.sleep(0.2)
        return self._got.pop(nodeid, [])

    def _read(self) -> None:
        assert self._reports is not None
        with self._reports.open("rb") as f:
            f.seek(self._offset)
            data = f.read()
        complete = data[: data.rfind(b"\n") + 1]
        self._offset += len(complete)
        for raw in complete.splitlines():
            line = json.loads(raw)
            if _FINISHED in line:
                self._done.add(line[_FINISHED])
            else:
                report = line["report"]
                if isinstance(report.get("longrepr"), list):  # a skip's (path, line, reason)
                    report["longrepr"] = tuple(report["longrepr"])  # JSON made it a list
                self._got.setdefault(report["nodeid"], []).append(report)

    def _lost(self, item: pytest.Item) -> pytest.TestReport:
        assert self._proc is not None
        assert self._output is not None
        tail = self._output.read_text("utf-8", "replace")[-6000:]
        return pytest.TestReport(
            item.nodeid,
            item.location,
            {},
            "failed",
            f"the second stream (tests/offload.py) ended (exit {self._proc.returncode}) "
            f"without running this test; its output's end:\n{tail}",
            "call",
        )

    def _end(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        if self._reports is not None and self._proc is not None and self._proc.poll() == 0:
            shutil.rmtree(self._reports.parent, ignore_errors=True)  # kept when it failed
