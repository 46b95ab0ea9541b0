"""The second stream of tests (tests/offload.py): offloaded files run in a pytest process
of their own, and the session reports their tests as that process ran them — a
failure with its assertion and output, a skip with its reason — and fails with them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CONFTEST = """
import pytest
from helpers.offload import Offload, ReportWriter, in_second_stream

OFFLOAD = Offload(ROOT, frozenset({"test_far.py"}))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    if not in_second_stream():
        items[:] = OFFLOAD.start(items)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem):
    if item.nodeid in OFFLOAD.items:
        OFFLOAD.replay(item)
        return True
    return None


def pytest_configure(config):
    if in_second_stream():
        config.pluginmanager.register(ReportWriter(config), "renkei-offload-reports")
"""

FAR = """
import os
import pytest

def test_far_passes():
    assert os.environ.get("RENKEI_OFFLOAD_REPORTS")  # run by the second process

def test_far_fails():
    print("said before failing")
    assert 1 + 1 == 3, "far away"

def test_far_skips():
    pytest.skip("not here")
"""

NEAR = """
import os

def test_near_runs_in_the_session():
    assert not os.environ.get("RENKEI_OFFLOAD_REPORTS")
"""


def _project(tmp_path: Path) -> Path:
    here = Path(__file__).parent
    helpers = tmp_path / "helpers"  # offload.py with what it imports, as a package
    helpers.mkdir()
    (helpers / "__init__.py").write_text("")
    for name in ("offload.py", "background.py"):
        (helpers / name).write_text((here / name).read_text())
    conftest = f"from pathlib import Path\nROOT = Path({str(tmp_path)!r})\n" + CONFTEST
    (tmp_path / "conftest.py").write_text(conftest)
    (tmp_path / "test_far.py").write_text(FAR)
    (tmp_path / "test_near.py").write_text(NEAR)
    return tmp_path


def _pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_offloaded_tests_are_reported_as_the_second_process_ran_them(tmp_path: Path) -> None:
    done = _pytest(_project(tmp_path), "-c", "/dev/null", "--rootdir", str(tmp_path))
    out = done.stdout
    assert done.returncode == 1, out
    assert "1 failed, 2 passed, 1 skipped" in out, out
    assert out.index("test_near.py .") < out.index("test_far.py .Fs"), out  # the session's first
    assert "AssertionError: far away" in out, out
    assert "said before failing" in out, out
    assert "not here" in out, out


def test_offloaded_files_run_alone_run_in_the_session(tmp_path: Path) -> None:
    done = _pytest(_project(tmp_path), "-c", "/dev/null", "--rootdir", str(tmp_path), "test_far.py")
    # no second process: the test that asks to be run by one fails
    assert "2 failed, 1 skipped" in done.stdout, done.stdout
