"""An offline wheelhouse of the kit's dependencies, repacked from this environment.

The newcomer test installs the kit's wheel into a fresh virtualenv with
``pip install --no-index --find-links``: every distribution the wheel requires
(transitively, extras left out) is packed back into a wheel from the files its
installed RECORD lists, so no index is ever asked.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

__all__ = ["dependencies", "repack", "wheelhouse"]

_SKIP = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def dependencies(root: str) -> list[metadata.Distribution]:
    """The installed distributions ``root`` requires, transitively (not ``root`` itself)."""
    seen: dict[str, metadata.Distribution] = {}
    todo = [root]
    while todo:
        dist = metadata.distribution(todo.pop())
        for text in dist.requires or ():
            req = Requirement(text)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            name = canonicalize_name(req.name)
            if name not in seen and name != canonicalize_name(root):
                seen[name] = metadata.distribution(req.name)
                todo.append(req.name)
    return list(seen.values())


def _digest(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def repack(dist: metadata.Distribution, out: Path) -> Path:
    """A wheel of the installed ``dist`` in ``out``: the files of its RECORD inside
    site-packages (scripts are made again by pip from entry_points.txt)."""
    info = next(f for f in dist.files or () if f.parent.name.endswith(".dist-info"))
    dist_info = info.parent.as_posix()
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [t.split("-") for t in re.findall(r"(?m)^Tag: (\S+)$", wheel_meta)] or [
        ["py3", "none", "any"]
    ]
    # the compressed tag set of every tag the WHEEL file names (py2.py3-none-any, …)
    tag = "-".join(".".join(dict.fromkeys(t[i] for t in tags)) for i in range(3))
    name = re.sub(r"[-_.]+", "_", dist.metadata["Name"])
    path = out / f"{name}-{dist.version}-{tag}.whl"
    records: list[str] = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for f in dist.files or ():
            posix = f.as_posix()
            if posix.startswith("..") or "__pycache__" in posix or f.name in _SKIP:
                continue
            source = Path(str(dist.locate_file(f)))
            if not source.is_file():
                continue
            data = source.read_bytes()
            zf.writestr(posix, data)
            records.append(f"{posix},{_digest(data)},{len(data)}")
        records.append(f"{dist_info}/RECORD,,")
        zf.writestr(f"{dist_info}/RECORD", "\n".join(records) + "\n")
    return path


def wheelhouse(root: str, out: Path) -> list[Path]:
    """Wheels of everything ``root`` needs, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    return [repack(d, out) for d in dependencies(root)]
