"""The quality gates, inside the test command so that CI cannot skip them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, run_renkei

BIN = [sys.executable, "-m"]


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BIN, *cmd], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.parametrize(
    "cmd",
    [
        pytest.param(("ruff", "check", "."), id="ruff-lint"),
        pytest.param(("ruff", "format", "--check", "."), id="ruff-format"),
        pytest.param(("mypy",), id="mypy-strict"),
        pytest.param(("lint-imports",), id="import-linter"),
    ],
)
def test_gate(cmd: tuple[str, ...]) -> None:
    """ruff, mypy --strict and the architecture contracts (import-linter) pass."""
    if cmd[0] == "lint-imports":
        script = Path(sys.executable).parent / "lint-imports"
        result = subprocess.run(
            [str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600, check=False
        )
    else:
        result = _run(*cmd)
    assert result.returncode == 0, f"{' '.join(cmd)} failed:\n{result.stdout}\n{result.stderr}"


def test_rendered_catalog_and_test_registry_are_up_to_date() -> None:
    """specs/catalog.md and specs/conformance-tests.json match their sources."""
    result = run_renkei("spec", "render", "--check")
    assert result.returncode == 0, result.stderr
