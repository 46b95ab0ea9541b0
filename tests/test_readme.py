"""The README's two commands are the ones CI and users run."""

from __future__ import annotations

from .conftest import ROOT

MAIN = (
    "python3 -m venv .venv && .venv/bin/pip install -q --require-hashes -r requirements.lock && "
    ".venv/bin/pip install -q --no-deps --no-build-isolation -e . && "
    ".venv/bin/renkei conformance run --target reference"
)
TESTS = (
    "python3 -m venv .venv && "
    ".venv/bin/pip install -q --require-hashes -r requirements-dev.lock && "
    ".venv/bin/pip install -q --no-deps --no-build-isolation -e . && "
    ".venv/bin/python -m pytest"
)


def test_readme_holds_exactly_the_two_commands_and_ci_runs_the_second() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = [b for b in readme.split("```")[1::2] if "venv" in b]
    commands = [
        line.strip()
        for b in blocks
        for line in b.splitlines()
        if line.strip() and not line.strip().startswith("#") and line.strip() != "sh"
    ]
    assert commands == [MAIN, TESTS]
    assert TESTS in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
