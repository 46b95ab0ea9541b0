"""The newcomer's path, word for word (issue 15): the guide's first run, from the wheel alone.

In an empty folder holding only the kit's wheel, the lines of the guide's first-run
block (``renkei conformance guide``, marked ``<!-- first-run -->``) run as one
shell script, exactly as printed: a fresh virtualenv with only the wheel,
``renkei conformance init``, ``renkei serve`` over mutual TLS, the kit against it
with a signed bundle, ``verify-bundle --require-pass``.  That run is the test suite's
full kit run over HTTPS and mutual TLS: its report is checked as the in-process one
is (tests/test_walking_skeleton.py).  The commands come from the
guide's text, and the guide the installed kit prints must hold the same ones, so
guide and test cannot drift.  pip finds the kit's
dependencies in a wheelhouse repacked from this environment (``PIP_NO_INDEX``,
``PIP_FIND_LINKS``): the machine stays offline, the commands unchanged.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import offline_pip_env
from .test_walking_skeleton import AGENCY_NODE, NEEDS_MTLS, check_report

WARNED = re.compile(r"(?i)\bwarning\b|\b\d+ warnings\b|warnings summary|\w+Warning\b")
"""A warning in any form: pip's and the kit's ``warning:`` lines, pytest's summary and
count, a Python warning class (a count of zero, ``'warnings': 0``, is none)."""
FIRST_RUN = re.compile(r"<!-- first-run -->\n```sh\n(.*?)\n```", re.S)
LEFT_BEHIND = {
    # what the guide's commands write, and nothing else
    ".venv",
    "renkei-0.1.0-py3-none-any.whl",
    "setup",
    "renkei-state",
    "renkei-state.witness",  # each log's latest checkpoint, apart from the store (RK-LOG-011)
    "renkei-target.json",
    "vendor.pem",
    "vendor.pem.pub",
    "report.json",
    "junit.xml",
    "report.html",
    "results.json",
}


def first_run_commands(guide: str) -> list[str]:
    """The first-run block's commands, continuation lines joined, as printed."""
    found = FIRST_RUN.search(guide)
    assert found, "the guide has no <!-- first-run --> sh block"
    commands: list[str] = []
    pending = ""
    for line in found.group(1).splitlines():
        pending += line + "\n"
        if not line.rstrip().endswith("\\"):
            commands.append(pending.rstrip("\n"))
            pending = ""
    assert not pending
    return commands


def _script(commands: list[str], clock: Path) -> str:
    """The commands as one shell script, each preceded by a timestamp written
    outside the folder (bash's $EPOCHREALTIME)."""
    lines = ["set -e"]
    for n, command in enumerate(commands):
        lines += [f"echo {n} $EPOCHREALTIME >> {clock}", command]
    lines.append(f"echo {len(commands)} $EPOCHREALTIME >> {clock}")
    return "\n".join(lines) + "\n"


def _gone(pgid: int, bound: float = 30.0) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False


def test_the_guide_names_the_wheel_this_checkout_builds(renkei_wheel: Path) -> None:
    guide = (Path(__file__).parent.parent / "conformance" / "VENDOR-GUIDE.md").read_text()
    assert renkei_wheel.name in first_run_commands(guide)[0]
    assert renkei_wheel.name in LEFT_BEHIND


@pytest.mark.slow
def test_a_newcomer_follows_the_guide_word_for_word(
    tmp_path: Path, renkei_wheel: Path, kit_wheelhouse: Path
) -> None:
    folder = tmp_path / "vendor"
    folder.mkdir()
    shutil.copy(renkei_wheel, folder / renkei_wheel.name)
    env = offline_pip_env(kit_wheelhouse)
    # The commands, from the guide's text (compared below with what the installed kit prints).
    source = Path(__file__).parent.parent / "conformance" / "VENDOR-GUIDE.md"
    commands = first_run_commands(source.read_text(encoding="utf-8"))
    clock = tmp_path / "clock"
    script = tmp_path / "first-run.sh"
    script.write_text(_script(commands, clock), encoding="utf-8")
    # Output to files, not pipes: `renkei serve &` inherits them, and a pipe held open by a
    # server the script left running (a step failed before `kill %1`) kept the test
    # waiting for its end until the timeout.
    printed, complained = tmp_path / "stdout", tmp_path / "stderr"
    with printed.open("w") as stdout, complained.open("w") as stderr:
        proc = subprocess.Popen(
            ["bash", str(script)],
            cwd=folder,
            env=env,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
    timed_out = False
    try:
        proc.wait(timeout=1500)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        failed = proc.poll() != 0
        if proc.poll() is None or failed:  # the script's own processes end with it
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        stopped = _gone(proc.pid)
        if not stopped:
            os.killpg(proc.pid, signal.SIGKILL)
    out, err = printed.read_text(), complained.read_text()
    stamps = [float(line.split()[1]) for line in clock.read_text().splitlines()]
    print("\nnewcomer path, step by step:")
    for n, command in enumerate(commands[: len(stamps) - 1]):
        print(f"  {stamps[n + 1] - stamps[n]:7.1f} s  {command.splitlines()[0][:100]}")
    print(f"  {time.time() - stamps[0]:7.1f} s  in all")
    assert not timed_out, f"step {len(stamps) - 1} did not end:\n" + out[-4000:] + err[-4000:]
    assert proc.returncode == 0, out[-4000:] + err[-4000:]
    assert len(stamps) == len(commands) + 1
    assert stopped, "renkei serve did not stop when the guide's last line stopped it"
    # The installed guide is the guide these commands came from.
    shown = subprocess.run(
        [str(folder / ".venv" / "bin" / "renkei"), "conformance", "guide"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert first_run_commands(shown.stdout) == commands
    assert "verdict:   PASS" in out
    assert "mode:      self-asserted" in out
    assert "(https, mutual TLS)" in out  # the kit went over mutual TLS
    # The full kit against `renkei serve` over HTTPS, mutual TLS 1.3 with the target
    # file's client certificates (issues 5 and 6): every test passes or does not apply,
    # the mutual-TLS tests (RK-ARCH-003) and the served agency nodes' tests pass.
    data = json.loads((folder / "report.json").read_text(encoding="utf-8"))
    assert data["target"]["kind"] == "http"
    assert data["target"]["parties"]["hub"].startswith("https://127.0.0.1:")
    assert data["target"]["tls"]["operator"] is True
    check_report(data)
    for test_id in sorted(NEEDS_MTLS | AGENCY_NODE):
        assert [r["outcome"] for r in data["results"] if r["test_id"] == test_id] == ["passed"]
    assert not WARNED.findall(out + err), WARNED.findall(out + err)
    assert "Traceback" not in err
    assert {p.name for p in folder.iterdir()} == LEFT_BEHIND
    for name in ("report.json", "junit.xml", "report.html", "results.json"):
        assert (folder / name).stat().st_size > 0, name
