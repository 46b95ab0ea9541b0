"""The locked dependency sets agree with pyproject.toml's ranges (issue 19).

The README's commands install ``requirements.lock`` / ``requirements-dev.lock``
(``.ci/lock.py``); pyproject.toml keeps the library's ranges.  These tests fail when
one is changed without the other, and, in CI, when the virtualenv holds anything but
the locked set.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.version import Version

from .conftest import ROOT


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("renkei_ci_lock", ROOT / ".ci" / "lock.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LOCK = _lock_module()
PYPROJECT: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
LOCKS = {
    LOCK.MAIN_LOCK: (),
    LOCK.DEV_LOCK: LOCK.TEST_EXTRAS,
}


def _requirements(extras: tuple[str, ...]) -> list[Requirement]:
    project = PYPROJECT["project"]
    texts = [*PYPROJECT["build-system"]["requires"], *project["dependencies"], *LOCK.EDITABLE_BUILD]
    for extra in extras:
        texts += project["optional-dependencies"][extra]
    return [Requirement(t) for t in texts]


def _pinned(lock: Path) -> dict[str, list[tuple[Version, str | None]]]:
    pinned: dict[str, list[tuple[Version, str | None]]] = {}
    for name, version, marker in LOCK.pins(lock):
        pinned.setdefault(name, []).append((Version(version), marker))
    return pinned


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: p.name)
def test_the_lock_was_made_from_pyproject_as_it_is(lock: Path) -> None:
    """A change of pyproject.toml's requirements without `python3 .ci/lock.py` fails here."""
    assert LOCK.recorded_digest(lock) == LOCK.inputs_digest(PYPROJECT, LOCKS[lock]), (
        f"{lock.name} was made from other requirements than pyproject.toml's: "
        "run `python3 .ci/lock.py`"
    )


@pytest.mark.parametrize("lock", list(LOCKS), ids=lambda p: p.name)
def test_every_requirement_is_pinned_within_its_range_with_hashes(lock: Path) -> None:
    pinned = _pinned(lock)
    for requirement in _requirements(LOCKS[lock]):
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = LOCK.canonical(requirement.name)
        assert name in pinned, f"{requirement} is not in {lock.name}"
        for version, _marker in pinned[name]:
            assert requirement.specifier.contains(version, prereleases=True), (
                f"{lock.name} pins {name} {version} outside {requirement}"
            )
    text = lock.read_text(encoding="utf-8")
    blocks = [b for b in text.split("\n") if b and not b.startswith((" ", "#"))]
    assert len(blocks) == len(LOCK.pins(lock)), "a line of the lock is not a pin"
    for block in text.split("\n")[4:]:
        if block and not block.startswith(" "):
            assert block.endswith("\\"), f"a pin without hashes: {block}"


def test_the_main_set_is_the_test_sets_subset_at_the_same_versions() -> None:
    main, dev = _pinned(LOCK.MAIN_LOCK), _pinned(LOCK.DEV_LOCK)
    for name, versions in main.items():
        assert name in dev, f"{name} is locked for the main job but not for the tests"
        assert {v for v, _ in versions} <= {v for v, _ in dev[name]}, name


def test_every_excluded_release_says_why_and_how_to_see_it_again() -> None:
    """Each `!=` in pyproject.toml names a release [tool.renkei.excluded-releases] explains."""
    explained = PYPROJECT["tool"]["renkei"]["excluded-releases"]
    excluded = set()
    for requirement in _requirements(tuple(PYPROJECT["project"]["optional-dependencies"])):
        for spec in requirement.specifier:
            if spec.operator == "!=":
                excluded.add(f"{LOCK.canonical(requirement.name)}=={spec.version}")
    assert excluded == set(explained), (excluded, set(explained))
    for release, entry in explained.items():
        assert entry["why"].strip(), release
        assert entry["reproduce"].strip(), release
        name, version = release.split("==")
        for pinned, _marker in _pinned(LOCK.DEV_LOCK).get(name, []):
            assert str(pinned) != version, f"the lock pins the excluded {release}"


@pytest.mark.skipif(
    not os.environ.get("RENKEI_LOCKED_ENV"),
    reason="RENKEI_LOCKED_ENV names the lock this virtualenv was installed from (.ci/run sets it)",
)
def test_the_virtualenv_holds_exactly_the_locked_set() -> None:
    lock = ROOT / os.environ["RENKEI_LOCKED_ENV"]
    assert LOCK.check_installed(lock) == 0


def test_a_lock_marker_for_this_interpreter_is_well_formed() -> None:
    """The universal lock's markers parse, and this interpreter gets one version of each."""
    for name, versions in _pinned(LOCK.DEV_LOCK).items():
        chosen = [v for v, m in versions if m is None or Marker(m).evaluate()]
        assert len(chosen) <= 1, (name, chosen, sys.version)
