"""Writing and checking vector files: one piece for every ``generate*.py`` here.

Each generator builds its documents in memory; ``render`` fixes the bytes
(UTF-8, 2-space indent, a final newline) and ``main`` either writes them
beside the script or, with ``--check``, exits 1 naming every file on disk
that differs (the repository's tests run each generator with ``--check``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent

Json = dict[str, Any]


def render(build: Callable[[], Json]) -> bytes:
    """The exact bytes of a vector file."""
    return (json.dumps(build(), ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def main(files: Mapping[str, Callable[[], Json]], doc: str | None, argv: list[str] | None) -> int:
    """Write ``files`` (name → builder), or with ``--check`` report the stale ones."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="do not write; exit 1 if any file on disk differs"
    )
    parser.add_argument(
        "--out", type=Path, default=HERE, help="output directory (default: beside this script)"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, build in files.items():
        path = args.out / name
        content = render(build)
        if not args.check:
            path.write_bytes(content)
        elif not path.exists() or path.read_bytes() != content:
            stale.append(name)
    for name in stale:
        print(f"out of date: {name}", file=sys.stderr)
    return 1 if stale else 0
