#!/usr/bin/env python3
"""The locked dependency sets of the README's two commands (issue 19).

``requirements.lock`` holds what the main job installs (the kit and the reference:
``[project] dependencies``) and ``requirements-dev.lock`` what the test command installs
(those plus the ``dev``, ``load`` and ``postgresql`` extras), each with the build backend, so that
``pip install --no-build-isolation -e .`` fetches nothing unpinned.  Both are universal
(every platform and Python the project supports) and hash-pinned, written by uv
(``uv pip compile``), read by plain pip (``pip install --require-hashes -r``).

The library's own requirements in pyproject.toml stay ranges: a library must not pin its
users.  Each lock starts with a digest of the pyproject.toml fields it was made from;
tests/test_lock.py fails when they disagree.

    python3 .ci/lock.py                 re-lock after a change of pyproject.toml
                                        (keeps every pin that still fits)
    python3 .ci/lock.py --upgrade       re-lock at the newest allowed versions
    python3 .ci/lock.py --check-installed LOCK
                                        exit 1 unless this interpreter's environment holds
                                        exactly the packages LOCK pins (used by .ci/run)

Needs uv (``pip install uv``) for locking only; the checks need nothing but Python.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN_LOCK = ROOT / "requirements.lock"
DEV_LOCK = ROOT / "requirements-dev.lock"
TEST_EXTRAS = ("dev", "load", "postgresql")
"""The extras the README's test command installs (README.md, tests/test_readme.py)."""
LOCK_PYTHON = "3.11"
"""The lowest Python the project supports; a universal lock covers it and every later one."""
EDITABLE_BUILD = ("editables>=0.5",)
DIGEST_LINE = "# pyproject-digest: "
# Installed by venv itself, or the project being installed: never in a lock.
NOT_LOCKED = frozenset({"pip", "setuptools", "renkei"})


def lock_inputs(pyproject: dict[str, object], extras: tuple[str, ...]) -> dict[str, object]:
    """The pyproject.toml fields a lock is made from."""
    project = pyproject["project"]
    build = pyproject["build-system"]
    assert isinstance(project, dict)
    assert isinstance(build, dict)
    optional = project.get("optional-dependencies", {})
    return {
        "requires-python": project["requires-python"],
        "build-system": sorted(build["requires"]),
        "dependencies": sorted(project["dependencies"]),
        "extras": {name: sorted(optional[name]) for name in extras},
    }


def inputs_digest(pyproject: dict[str, object], extras: tuple[str, ...]) -> str:
    text = json.dumps(lock_inputs(pyproject, extras), sort_keys=True, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def read_pyproject() -> dict[str, object]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def recorded_digest(lock: Path) -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(DIGEST_LINE):
            return line[len(DIGEST_LINE) :].strip()
    return None


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(lock: Path) -> list[tuple[str, str, str | None]]:
    """``(name, version, marker)`` of every pin of a lock, names canonical."""
    found = []
    for line in lock.read_text(encoding="utf-8").splitlines():
        m = _PIN.match(line)
        if m:
            found.append((canonical(m.group(1)), m.group(2), m.group(3)))
    return found


def _uv() -> list[str]:
    exe = shutil.which("uv")
    if exe:
        return [exe]
    try:
        import uv  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        sys.exit("lock: uv is needed to lock: pip install uv")
    return [sys.executable, "-m", "uv"]


def _compile(out: Path, extras: tuple[str, ...], upgrade: bool, constraint: Path | None) -> None:
    pyproject = read_pyproject()
    build = pyproject["build-system"]
    assert isinstance(build, dict)
    with tempfile.TemporaryDirectory() as tmp:
        build_in = Path(tmp) / "build-system.in"
        # hatchling asks for `editables` to build an editable install (its
        # get_requires_for_build_editable); pip --no-build-isolation installs nothing itself.
        build_in.write_text("\n".join([*build["requires"], *EDITABLE_BUILD]) + "\n")
        body = Path(tmp) / "lock.txt"
        if out.exists() and not upgrade:
            shutil.copy(out, body)  # uv keeps the pins of an existing output that still fit
        cmd = [
            *_uv(),
            "pip",
            "compile",
            "--quiet",
            "--universal",
            "--generate-hashes",
            "--python-version",
            LOCK_PYTHON,
            "--no-header",
            "--no-annotate",
            "pyproject.toml",
            str(build_in),
            "-o",
            str(body),
        ]
        cmd += [f"--extra={e}" for e in extras]
        if upgrade:
            cmd.append("--upgrade")
        if constraint is not None:
            cmd += ["--constraint", str(constraint)]
        subprocess.run(cmd, cwd=ROOT, check=True)
        extras_text = f" with the extras {', '.join(extras)}" if extras else ""
        header = (
            f"# The locked set of {out.name}: pyproject.toml's requirements{extras_text} and\n"
            "# the build backend, universal, hash-pinned.  Made by `python3 .ci/lock.py`;\n"
            "# installed with `pip install --require-hashes -r`.  Do not edit by hand.\n"
            f"{DIGEST_LINE}{inputs_digest(pyproject, extras)}\n"
        )
        out.write_text(header + body.read_text(encoding="utf-8"), encoding="utf-8")


def lock(upgrade: bool) -> None:
    _compile(DEV_LOCK, TEST_EXTRAS, upgrade, None)
    # The main job's set is the test set's subset: the same version of every package.
    _compile(MAIN_LOCK, (), upgrade, DEV_LOCK)
    for path in (MAIN_LOCK, DEV_LOCK):
        print(f"{path.name}: {len(pins(path))} pins")


def check_installed(lock_path: Path) -> int:
    """0 when the running environment holds exactly the lock's packages, at its versions."""
    locked: dict[str, set[str]] = {}
    for name, version, _marker in pins(lock_path):
        locked.setdefault(name, set()).add(version)
    installed = {
        canonical(d.metadata["Name"]): d.version
        for d in metadata.distributions()
        if d.metadata["Name"]
    }
    problems = [
        f"{name} {version} is installed, the lock pins {sorted(locked[name])}"
        for name, version in sorted(installed.items())
        if name in locked and version not in locked[name]
    ]
    problems += [
        f"{name} {version} is installed but not in {lock_path.name}"
        for name, version in sorted(installed.items())
        if name not in locked and name not in NOT_LOCKED
    ]
    # A universal lock may pin packages for other platforms: only missing ones that this
    # platform needs are caught by pip itself (--require-hashes installs all it needs).
    for p in problems:
        print(f"lock: {p}", file=sys.stderr)
    if not problems:
        print(f"lock: the environment holds exactly {lock_path.name}'s set")
    return 1 if problems else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="newest allowed versions")
    parser.add_argument("--check-installed", type=Path, metavar="LOCK")
    args = parser.parse_args()
    if args.check_installed:
        return check_installed(args.check_installed)
    lock(args.upgrade)
    return 0


if __name__ == "__main__":
    sys.exit(main())
