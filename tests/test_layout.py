"""The services stay carved: no class in reference/renkei_reference/services/ over 400 lines.

The service shell is made of parts that each own their state (issue 16); a
class that grows past ``MAX_CLASS_LINES`` is a part that should be carved
along its own seams.  The span of a class runs from its first decorator (or
its ``class`` line) to its last line, nested classes counted in their owner.
"""

from __future__ import annotations

import ast
from pathlib import Path
from textwrap import dedent

from .conftest import ROOT

SERVICES = ROOT / "reference" / "renkei_reference" / "services"
MAX_CLASS_LINES = 400


def class_spans(source: str) -> list[tuple[str, int]]:
    """Every class in ``source`` (nested ones too) with the lines it spans."""
    spans = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ClassDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            assert node.end_lineno is not None
            spans.append((node.name, node.end_lineno - first + 1))
    return spans


def oversized(root: Path, *, base: Path = ROOT, limit: int = MAX_CLASS_LINES) -> list[str]:
    """``file: class: lines`` (file relative to ``base``) for every class under ``root``
    spanning more than ``limit`` lines."""
    found = []
    for path in sorted(root.rglob("*.py")):
        for name, lines in class_spans(path.read_text("utf-8")):
            if lines > limit:
                found.append(f"{path.relative_to(base).as_posix()}: {name}: {lines} lines")
    return found


def _class_of(lines: int, *, decorated: bool = False) -> str:
    """The source of a class spanning exactly ``lines`` lines."""
    head = ["@dataclass", "class Big:"] if decorated else ["class Big:"]
    body = [f"    x{i} = {i}" for i in range(lines - len(head))]
    return "\n".join(["import os", "", *head, *body, "", "y = 1", ""])


def test_no_service_class_spans_more_than_400_lines() -> None:
    assert SERVICES.is_dir()
    assert list(SERVICES.rglob("*.py")), "no service module found"
    too_big = oversized(SERVICES)
    assert not too_big, "carve these classes along their seams:\n" + "\n".join(too_big)


def test_the_span_counts_decorators_and_the_last_line() -> None:
    assert class_spans(_class_of(400)) == [("Big", 400)]
    assert class_spans(_class_of(401, decorated=True)) == [("Big", 401)]
    nested = dedent(
        """\
        class Outer:
            class Inner:
                a = 1
                b = 2
            c = 3
        """
    )
    assert sorted(class_spans(nested)) == [("Inner", 3), ("Outer", 5)]


def test_an_oversized_class_is_named_with_its_file_and_size(tmp_path: Path) -> None:
    root = tmp_path / "services" / "part"
    root.mkdir(parents=True)
    (root / "fine.py").write_text(_class_of(400), "utf-8")
    (root / "big.py").write_text(_class_of(401), "utf-8")
    found = oversized(tmp_path / "services", base=tmp_path)
    assert found == ["services/part/big.py: Big: 401 lines"]
