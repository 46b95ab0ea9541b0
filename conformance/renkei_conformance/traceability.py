"""Traceability: requirement → tests that verify it → code that implements it.

Everything is read as text (``ast`` for tests, a regular expression for
code), so building the matrix imports neither the reference nor the tests.

* Kit tests: ``@pytest.mark.conformance("CT-…", requirements=[…])`` in
  ``renkei_conformance/suite``.
* Repository tests (contracts, properties, unit tests):
  ``@pytest.mark.requirement("RK-…", …)`` in ``tests/``.
* Implementation: every ``RK-AREA-NNN`` mentioned in the reference's source.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .spec import Catalog

__all__ = [
    "Matrix",
    "TestRef",
    "build_matrix",
    "outside_the_kit",
    "published_test_registry",
    "render_markdown",
    "without_kit_test",
]

_RID = re.compile(r"\bRK-[A-Z]+-[0-9]{3}\b")


@dataclass(frozen=True, slots=True)
class TestRef:
    test_id: str  # CT-… for kit tests, the pytest node path for repository tests
    requirements: tuple[str, ...]
    location: str
    title: str
    kind: str  # "conformance" | "repository"
    profiles: tuple[str, ...] = ()

    __test__ = False  # a record of a test, not a pytest test class


@dataclass
class Matrix:
    tests: list[TestRef] = field(default_factory=list)
    code: dict[str, list[str]] = field(default_factory=dict)

    def verified_by(self, rid: str) -> list[TestRef]:
        return [t for t in self.tests if rid in t.requirements]


def _mark_args(dec: ast.expr, name: str) -> ast.Call | None:
    # pytest.mark.<name>(...)
    if (
        isinstance(dec, ast.Call)
        and isinstance(dec.func, ast.Attribute)
        and dec.func.attr == name
        and isinstance(dec.func.value, ast.Attribute)
        and dec.func.value.attr == "mark"
    ):
        return dec
    return None


def _strings(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.List | ast.Tuple):
        return [s for e in node.elts for s in _strings(e)]
    return []


def _scan_tests(path: Path, root: Path, kind: str) -> Iterable[TestRef]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    module_reqs: list[str] = []
    for stmt in tree.body:  # pytestmark = pytest.mark.requirement(...)
        if isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "pytestmark" for t in stmt.targets
        ):
            values = stmt.value.elts if isinstance(stmt.value, ast.List) else [stmt.value]
            for v in values:
                call = _mark_args(v, "requirement")
                if call:
                    module_reqs += [s for a in call.args for s in _strings(a)]
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.ClassDef):
            continue
        if not node.name.startswith(("test", "Test")):
            continue
        # The title: the docstring's first paragraph, whole (issue 15: no title stops
        # mid-sentence).
        paragraph = (ast.get_docstring(node) or "").strip().split("\n\n")[0]
        doc = " ".join(paragraph.split())
        loc = f"{path.relative_to(root).as_posix()}:{node.lineno}"
        reqs = list(module_reqs)
        profiles: list[str] = []
        test_id = f"{path.relative_to(root).as_posix()}::{node.name}"
        for dec in node.decorator_list:
            if call := _mark_args(dec, "conformance"):
                ids = _strings(call.args[0]) if call.args else []
                test_id = ids[0] if ids else test_id
                for kw in call.keywords:
                    if kw.arg == "requirements":
                        reqs += _strings(kw.value)
                    elif kw.arg == "profiles":
                        profiles += _strings(kw.value)
            elif call := _mark_args(dec, "requirement"):
                reqs += [s for a in call.args for s in _strings(a)]
        if reqs:
            yield TestRef(test_id, tuple(dict.fromkeys(reqs)), loc, doc, kind, tuple(profiles))


NOT_AN_IMPLEMENTATION = "# renkei: not-an-implementation"
"""A source file carrying this line is left out of the implementation scan."""


def build_matrix(suite_dir: Path, tests_dir: Path | None, code_dir: Path | None) -> Matrix:
    matrix = Matrix()
    root = suite_dir.parent.parent
    for path in sorted(suite_dir.rglob("test_*.py")):
        matrix.tests += _scan_tests(path, root, "conformance")
    if tests_dir is not None and tests_dir.is_dir():
        for path in sorted(tests_dir.rglob("test_*.py")):
            matrix.tests += _scan_tests(path, tests_dir.parent, "repository")
    if code_dir is not None and code_dir.is_dir():
        for path in sorted(code_dir.rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if NOT_AN_IMPLEMENTATION in text:
                continue  # e.g. known-bad variants: they violate what they name
            for lineno, line in enumerate(text.splitlines(), 1):
                for rid in set(_RID.findall(line)):
                    where = f"{path.relative_to(code_dir.parent).as_posix()}:{lineno}"
                    matrix.code.setdefault(rid, []).append(where)
    return matrix


def published_test_registry(matrix: Matrix, previous: str | None = None) -> str:
    """The published list of kit test IDs (specs/conformance-tests.json).

    Append-only: an ID that was published and is gone from the suite stays in
    the list marked ``"retired": true``, so that it is never reused and
    expected-failure manifests naming it can be told why it no longer runs.
    """
    old = json.loads(previous).get("tests", []) if previous else []
    rows: dict[str, dict[str, object]] = {r["test_id"]: {**r, "retired": True} for r in old}
    retired = {r["test_id"] for r in old if r.get("retired")}
    for t in matrix.tests:
        if t.kind == "conformance" and t.test_id not in retired:  # a retired ID stays retired
            rows[t.test_id] = {
                "test_id": t.test_id,
                "requirements": list(t.requirements),
                # The profiles the test exercises: it applies to a target only when the
                # target declares every one of them; none means every target (issue 15).
                "profiles": list(t.profiles),
                "title": t.title,
            }
    ordered = [rows[k] for k in sorted(rows)]
    return json.dumps({"tests": ordered}, ensure_ascii=False, indent=2) + "\n"


def without_kit_test(catalog: Catalog, matrix: Matrix) -> list[str]:
    """The MUSTs verified by ``conformance`` that no kit test names: a vendor is
    never checked for them (issue 14, item 8).  Repository tests do not count:
    they exercise the reference, not the implementation under test."""
    return [
        r.id
        for r in catalog
        if r.level == "MUST"
        and r.verification == "conformance"
        and not any(t.kind == "conformance" for t in matrix.verified_by(r.id))
    ]


def outside_the_kit(catalog: Catalog, matrix: Matrix) -> str:
    """specs/verified-outside-the-kit.json: each requirement whose verification is not
    ``conformance`` (contract, property, review) with what verifies it — the
    repository tests (contract, property and CrossHair tests of tests/) and the kit
    tests that also name it — so a kit report states how every requirement is
    verified, not only those its run judged (issue 14, item 8)."""
    rows = []
    for r in catalog:
        if r.verification == "conformance":
            continue
        tests = matrix.verified_by(r.id)
        rows.append(
            {
                "requirement": r.id,
                "level": r.level,
                "verification": r.verification,
                "repository_tests": sorted({t.test_id for t in tests if t.kind == "repository"}),
                "kit_tests": sorted({t.test_id for t in tests if t.kind == "conformance"}),
            }
        )
    return json.dumps({"requirements": rows}, ensure_ascii=False, indent=2) + "\n"


def _md(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def render_markdown(catalog: Catalog, matrix: Matrix) -> str:
    """specs/catalog.md: the catalog for people, with the traceability matrix."""
    reqs = list(catalog)
    by_level = {lvl: sum(r.level == lvl for r in reqs) for lvl in ("MUST", "SHOULD", "MAY")}
    out = [
        f"# {catalog.title}",
        "",
        f"Catalog version {catalog.version}. Generated from `specs/requirements.yaml` by "
        "`renkei spec render`; do not edit by hand. Its terms follow `specs/glossary.yaml` "
        "(one Japanese and one English term per concept); `renkei spec render --html DIR` "
        "writes it as a bilingual site with the glossary.",
        "",
        f"{len(reqs)} requirements: {by_level['MUST']} MUST, {by_level['SHOULD']} SHOULD, "
        f"{by_level['MAY']} MAY.",
        "",
        "## Profiles",
        "",
        "| profile | requirements | description | 説明 |",
        "|---|---|---|---|",
    ]
    for pid, p in catalog.profiles.items():
        n = sum(pid in r.profiles for r in reqs)
        out.append(f"| `{pid}` | {n} | {_md(p['en'])} | {_md(p['ja'])} |")
    out += ["", "## Seed items", "", "| item | requirements |", "|---|---|"]
    for item in range(1, 34):
        ids = [r.id for r in reqs if item in r.seed_items]
        out.append(f"| {item} | {', '.join(ids) or '—'} |")
    out += [
        "",
        "## Traceability matrix",
        "",
        "| requirement | level | seed items | verified by | implemented in |",
        "|---|---|---|---|---|",
    ]
    for r in reqs:
        tests = (
            ", ".join(
                sorted(
                    {
                        t.test_id if t.kind == "conformance" else f"`{t.location}`"
                        for t in matrix.verified_by(r.id)
                    }
                )
            )
            or "**none yet**"
        )
        # files, not lines: the matrix should not churn with every edit of a module
        files = sorted({c.rsplit(":", 1)[0] for c in matrix.code.get(r.id, [])})
        code = ", ".join(f"`{f}`" for f in files[:4]) or "—"
        items = ", ".join(map(str, r.seed_items))
        out.append(f"| [{r.id}](#{r.id.lower()}) | {r.level} | {items} | {tests} | {code} |")
    out += ["", "## Requirements", ""]
    for r in reqs:
        out += [
            f"### {r.id}",
            "",
            f"**{_md(r.title)}** — **{_md(r.title_ja)}**",
            "",
            f"{r.level}; profiles: {', '.join(r.profiles)}; "
            f"seed items {', '.join(map(str, r.seed_items))}"
            + (f" ({', '.join(r.clauses)})" if r.clauses else "")
            + f"; verified by {r.verification}.",
            "",
            f"> {_md(r.text_en)}",
            ">",
            f"> {_md(r.text_ja)}",
            "",
            f"Rationale: {_md(r.rationale)}",
            "",
            f"理由: {_md(r.rationale_ja)}",
            "",
        ]
        if r.decision_en:
            out += [f"Decision: {_md(r.decision_en)}", "", f"決定: {_md(r.decision_ja or '')}", ""]
    return "\n".join(out)
