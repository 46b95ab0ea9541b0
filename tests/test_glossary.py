"""The catalog follows the glossary (specs/glossary.yaml): one Japanese and one
English term per concept, none of the variants it lists (issue 15, item 7).

The Japanese UI strings of My Portal and the auditor's dashboard are checked against
the same list, and must have no finding (the browser tests check what a person sees
in the rendered pages the same way: tests/test_portal_browser.py ``glossary_variants``).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from renkei_conformance.spec import GlossaryTerm, load_catalog, load_glossary

from .conftest import ROOT

SPECS = ROOT / "specs"
SERVICES = ROOT / "reference" / "renkei_reference" / "services"
JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")
CLAUSE = re.compile(r"第１．[１-８]．(?:（[１-７]）)?")
REQUIREMENT_ID = re.compile(r"RK-[A-Z]+-[0-9]{3}")


def _catalog_texts(lang: str) -> Iterator[tuple[str, str]]:
    """(where, text) for every text of the catalog in ``lang``."""
    data = yaml.safe_load((SPECS / "requirements.yaml").read_text(encoding="utf-8"))
    for p in data["profiles"]:
        yield f"profile {p['id']}", p[lang]
    for name, m in data["verification_methods"].items():
        yield f"verification method {name}", m[lang]
    for r in data["requirements"]:
        if lang == "ja":
            fields = {"title_ja": r["title_ja"], "text.ja": r["text"]["ja"]}
            fields["rationale_ja"] = r["rationale_ja"]
        else:
            fields = {"title": r["title"], "text.en": r["text"]["en"], "rationale": r["rationale"]}
        if "decision" in r:
            fields[f"decision.{lang}"] = r["decision"][lang]
        for field, text in fields.items():
            yield f"{r['id']} {field}", text


def _findings(texts: Iterator[tuple[str, str]], lang: str) -> list[str]:
    found = []
    for where, text in texts:
        flat = " ".join(text.split()) if lang == "en" else re.sub(r"\s", "", text)
        for term in load_glossary():
            for avoid in term.avoid:
                if avoid.lang != lang:
                    continue
                for m in avoid.pattern.finditer(flat):
                    context = flat[max(0, m.start() - 12) : m.end() + 12]
                    use = term.ja if lang == "ja" else term.en
                    found.append(
                        f"{where}: {m.group(0)!r} in …{context}… — use {use} ({avoid.why})"
                    )
    return found


def test_glossary_fixes_one_term_per_concept_and_its_patterns_work() -> None:
    terms = load_glossary()
    assert len({t.id for t in terms}) == len(terms)
    assert len({t.ja for t in terms}) == len(terms), "two concepts share a Japanese term"
    assert len({t.en for t in terms}) == len(terms), "two concepts share an English term"
    preferred = {"ja": [t.ja for t in terms], "en": [t.en for t in terms]}
    for t in terms:
        for avoid in t.avoid:
            assert avoid.pattern.search(avoid.example), (
                f"{t.id}: {avoid.pattern.pattern!r} misses its own example {avoid.example!r}"
            )
            for word in preferred[avoid.lang]:
                assert not avoid.pattern.search(word), (
                    f"{t.id}: {avoid.pattern.pattern!r} forbids the preferred term {word!r}"
                )


def _used(term: GlossaryTerm, texts: list[str]) -> bool:
    return any(term.ja in text for text in texts)


def test_the_catalog_uses_every_japanese_term_of_the_glossary() -> None:
    texts = [re.sub(r"\s", "", t) for _, t in _catalog_texts("ja")]
    unused = [t.ja for t in load_glossary() if not _used(t, texts)]
    assert not unused, f"glossary terms the catalog never uses: {unused}"


def test_the_japanese_of_the_catalog_follows_the_glossary() -> None:
    findings = _findings(_catalog_texts("ja"), "ja")
    assert not findings, "\n".join(findings)


def test_the_english_of_the_catalog_follows_the_glossary() -> None:
    findings = _findings(_catalog_texts("en"), "en")
    assert not findings, "\n".join(findings)


def test_every_requirement_has_a_japanese_title_and_rationale_citing_what_the_english_cites() -> (
    None
):
    for r in load_catalog():
        assert JAPANESE.search(r.title_ja), f"{r.id}: title_ja has no Japanese"
        assert JAPANESE.search(r.rationale_ja), f"{r.id}: rationale_ja has no Japanese"
        en = re.sub(r"\s", "", r.rationale)
        ja = re.sub(r"\s", "", r.rationale_ja)
        assert set(CLAUSE.findall(en)) == set(CLAUSE.findall(ja)), (
            f"{r.id}: the Japanese rationale cites other clauses than the English"
        )
        assert set(REQUIREMENT_ID.findall(en)) == set(REQUIREMENT_ID.findall(ja)), (
            f"{r.id}: the Japanese rationale cites other requirements than the English"
        )


def _ui_strings(path: Path) -> Iterator[str]:
    """The Japanese string constants of a UI module, docstrings left out."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in docstrings
            and JAPANESE.search(node.value)
        ):
            yield node.value


def _ui_findings() -> set[tuple[str, str, str]]:
    files = sorted((SERVICES / "portal").glob("*.py")) + sorted((SERVICES / "auditor").glob("*.py"))
    assert files, f"no My Portal / auditor UI modules under {SERVICES}"
    found = set()
    for path in files:
        for text in _ui_strings(path):
            for term in load_glossary():
                for avoid in term.avoid:
                    if avoid.lang == "ja":
                        where = path.relative_to(SERVICES).as_posix()
                        found |= {(where, term.id, m) for m in avoid.pattern.findall(text)}
    return found


def test_the_japanese_ui_of_my_portal_and_the_auditor_follows_the_glossary() -> None:
    found = sorted(_ui_findings())
    assert not found, f"glossary variants in the UI: {found}"


@pytest.mark.parametrize("variant", ["射影", "保全", "ID"])
def test_the_variants_named_in_the_issue_are_forbidden(variant: str) -> None:
    forbidden = [a for t in load_glossary() for a in t.avoid if a.lang == "ja"]
    assert any(a.pattern.search(f"本人向けの{variant}を示す") for a in forbidden), variant
