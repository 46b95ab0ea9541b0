"""What the kit ran with: its version, Python, and the version of every dependency.

Every report and results bundle carries this (issue 19), so that a run can be repeated
with the same kit, and a change of behaviour traced to an upstream release.  The
dependencies are the installed ``renkei`` distribution's requirements, followed through
their own requirements (markers evaluated, extras left out), with the installed versions.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from . import SUITE_VERSION

__all__ = ["DISTRIBUTION", "kit_code_digest", "kit_environment"]

DISTRIBUTION = "renkei"


def _requirements(dist: metadata.Distribution) -> list[str]:
    names = []
    for text in dist.requires or []:
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            continue
        try:
            applies = requirement.marker is None or requirement.marker.evaluate({"extra": ""})
        except UndefinedEnvironmentName:
            applies = False
        if applies:
            names.append(requirement.name)
    return names


def _dependencies(root: str) -> dict[str, str]:
    """Installed version of every distribution ``root`` needs, transitively."""
    found: dict[str, str] = {}
    try:
        todo = _requirements(metadata.distribution(root))
    except metadata.PackageNotFoundError:
        return found
    while todo:
        name = todo.pop()
        key = canonicalize_name(name)
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            found[key] = "not installed"
            continue
        found[key] = dist.version
        todo.extend(_requirements(dist))
    return dict(sorted(found.items()))


def kit_environment() -> dict[str, object]:
    """The kit's version, the interpreter and the versions of the kit's dependencies."""
    return {
        "kit_version": SUITE_VERSION,
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(terse=True),
        "dependencies": _dependencies(DISTRIBUTION),
    }


def kit_code_digest() -> str:
    """SHA-256 over the kit's own code as installed: every ``.py`` file of the
    renkei_conformance package, by path relative to it and content, in path order.

    A results bundle records it, and ``verify-bundle`` compares it with its own: a run
    made by a modified kit does not verify as a pass (issue 15)."""
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        digest.update(rel.encode() + b"\0" + path.read_bytes() + b"\0")
    return "sha256:" + digest.hexdigest()
