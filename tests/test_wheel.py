"""A wheel built from the repository runs outside the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path: Path, renkei_wheel: Path) -> None:
    wheel = renkei_wheel
    site = tmp_path / "site"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "-q",
            "--target",
            str(site),
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stderr
    names = {p.name for p in site.iterdir()}
    assert "reference" not in names, names
    assert "conformance" not in names, names
    assert {"renkei_reference", "renkei_conformance"} <= names
    assert (site / "renkei_conformance" / "_specs" / "requirements.yaml").is_file()
    away = tmp_path / "elsewhere"
    away.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    env.pop("RENKEI_SPECS", None)

    def away_run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Python with only the installed wheel on its path, in an empty folder."""
        return subprocess.run(
            [sys.executable, *args],
            cwd=away,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    where = away_run(
        "-c",
        "import renkei_conformance, renkei_reference, renkei_conformance.spec as s;"
        "print(renkei_conformance.__file__); print(renkei_reference.__file__);"
        "print(s.spec_root())",
    )
    assert where.returncode == 0, where.stderr
    assert all(line.startswith(str(site)) for line in where.stdout.split()), where.stdout
    # installation is what is under test here: the 10,000-person tests add nothing
    run = away_run(
        "-m", "renkei_conformance", "conformance", "run", "--target", "reference", "-q",
        "-k", "not test_statistics", timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "verdict: PASS" in run.stdout
    # Nothing but the reports it was asked for stays behind, and nothing warns (issue 15).
    assert sorted(p.name for p in away.iterdir()) == [], sorted(p.name for p in away.iterdir())
    assert "warning" not in run.stderr.lower(), run.stderr[-2000:]
    # The guide and its examples travel in the wheel.
    assert (site / "renkei_conformance" / "_guide" / "VENDOR-GUIDE.md").is_file()
    init = away_run("-m", "renkei_conformance", "conformance", "init", "setup")
    assert init.returncode == 0, init.stderr
    assert (away / "setup" / "target.json").is_file()
