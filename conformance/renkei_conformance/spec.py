"""The normative specification, loaded and checked (specs/).

``spec_root()`` finds the specification shipped inside the wheel
(``renkei_conformance/_specs``) or, in a checkout, the repository's ``specs/``;
``RENKEI_SPECS`` overrides both.  Every file is validated against its JSON
Schema on load; a malformed file raises ``SpecError`` with the file and the
first violation.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "Avoid",
    "Catalog",
    "GlossaryTerm",
    "Requirement",
    "SpecError",
    "load_binding_vectors",
    "load_catalog",
    "load_glossary",
    "load_problems",
    "load_user_file",
    "load_vectors",
    "spec_root",
]

REQUIREMENT_ID = re.compile(r"^RK-[A-Z]+-[0-9]{3}$")


class SpecError(Exception):
    """A specification file is missing or does not validate."""


def spec_root() -> Path:
    override = os.environ.get("RENKEI_SPECS")
    if override:
        root = Path(override)
        if not (root / "requirements.yaml").is_file():
            raise SpecError(f"RENKEI_SPECS={override}: no requirements.yaml there")
        return root
    here = Path(__file__).resolve().parent
    for candidate in (here / "_specs", here.parent.parent / "specs"):
        if (candidate / "requirements.yaml").is_file():
            return candidate
    raise SpecError("cannot find the renkei specification (specs/); set RENKEI_SPECS")


def guide_root() -> Path:
    """The folder holding VENDOR-GUIDE.md and examples/: ``_guide`` in the wheel,
    ``conformance/`` in a checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_guide", here.parent):
        if (candidate / "VENDOR-GUIDE.md").is_file():
            return candidate
    raise SpecError("cannot find the vendor guide (VENDOR-GUIDE.md) beside the kit")


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise SpecError(f"{path}{where}: not valid YAML: {problem}") from exc


def _validated(path: Path, schema: Path, label: str = "") -> Any:
    """Read ``path`` and check it against ``schema``; one-line ``SpecError``s."""
    prefix = f"{label} " if label else ""
    try:
        data = _read(path)
    except SpecError as exc:
        raise SpecError(f"{prefix}{exc}") from exc
    try:
        jsonschema.validate(data, _read(schema))
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise SpecError(f"{prefix}{path}: {where}: {exc.message}") from exc
    return data


def load_user_file(path: Path, schema_name: str, what: str) -> Any:
    """A file the user hands the kit (target, capabilities, xfails), checked
    against its schema in specs/schemas."""
    return _validated(path, spec_root() / "schemas" / schema_name, what)


@dataclass(frozen=True, slots=True)
class Requirement:
    id: str
    title: str  # English; title_ja and rationale_ja carry the Japanese
    title_ja: str
    level: str
    profiles: tuple[str, ...]
    seed_items: tuple[int, ...]
    clauses: tuple[str, ...]
    text_en: str
    text_ja: str
    rationale: str
    rationale_ja: str
    decision_en: str | None
    decision_ja: str | None
    verification: str

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "title": self.title,
            "title_ja": self.title_ja,
            "level": self.level,
            "profiles": list(self.profiles),
            "seed_items": list(self.seed_items),
            "clauses": list(self.clauses),
            "text": {"en": self.text_en, "ja": self.text_ja},
            "rationale": self.rationale,
            "rationale_ja": self.rationale_ja,
            "verification": self.verification,
        }
        if self.decision_en:
            out["decision"] = {"en": self.decision_en, "ja": self.decision_ja}
        return out


@dataclass(frozen=True)
class Catalog:
    version: str
    title: str
    profiles: dict[str, dict[str, str]]
    requirements: dict[str, Requirement]

    def __iter__(self) -> Iterator[Requirement]:
        return iter(self.requirements.values())

    def __getitem__(self, rid: str) -> Requirement:
        return self.requirements[rid]

    def seed_items(self, rids: list[str] | tuple[str, ...]) -> list[int]:
        return sorted(
            {i for r in rids if r in self.requirements for i in self.requirements[r].seed_items}
        )


@cache
def load_catalog(root: Path | None = None) -> Catalog:
    root = root or spec_root()
    data = _validated(root / "requirements.yaml", root / "schemas" / "requirements.schema.json")
    reqs: dict[str, Requirement] = {}
    for r in data["requirements"]:
        if r["id"] in reqs:
            raise SpecError(f"{root / 'requirements.yaml'}: duplicate requirement id {r['id']}")
        decision = r.get("decision") or {}
        reqs[r["id"]] = Requirement(
            id=r["id"],
            title=r["title"],
            title_ja=r["title_ja"],
            level=r["level"],
            profiles=tuple(r["profiles"]),
            seed_items=tuple(r["source"]["seed_items"]),
            clauses=tuple(r["source"].get("clauses", ())),
            text_en=r["text"]["en"],
            text_ja=r["text"]["ja"],
            rationale=r["rationale"],
            rationale_ja=r["rationale_ja"],
            decision_en=decision.get("en"),
            decision_ja=decision.get("ja"),
            verification=r.get("verification", "conformance"),
        )
    profiles = {p["id"]: {"en": p["en"], "ja": p["ja"]} for p in data["profiles"]}
    return Catalog(data["catalog_version"], data["title"], profiles, reqs)


@dataclass(frozen=True, slots=True)
class Avoid:
    """A variant that must not be used for a glossary term."""

    lang: str
    pattern: re.Pattern[str]
    example: str
    why: str


@dataclass(frozen=True, slots=True)
class GlossaryTerm:
    """One concept of specs/glossary.yaml: its one Japanese and one English term."""

    id: str
    ja: str
    en: str
    seed: str | None
    definition_en: str
    definition_ja: str
    note_en: str | None
    note_ja: str | None
    avoid: tuple[Avoid, ...]


@cache
def load_glossary(root: Path | None = None) -> tuple[GlossaryTerm, ...]:
    """specs/glossary.yaml, validated; every ``avoid`` pattern compiled."""
    root = root or spec_root()
    path = root / "glossary.yaml"
    data = _validated(path, root / "schemas" / "glossary.schema.json")
    terms = []
    for t in data["terms"]:
        avoid = []
        for a in t["avoid"]:
            try:
                pattern = re.compile(a["pattern"])
            except re.error as exc:
                raise SpecError(f"{path}: {t['id']}: bad pattern {a['pattern']!r}: {exc}") from exc
            avoid.append(Avoid(a["lang"], pattern, a["example"], " ".join(a["why"].split())))
        note = t.get("note") or {}
        terms.append(
            GlossaryTerm(
                id=t["id"],
                ja=t["ja"],
                en=t["en"],
                seed=t.get("seed"),
                definition_en=" ".join(t["definition"]["en"].split()),
                definition_ja=t["definition"]["ja"].strip(),
                note_en=" ".join(note["en"].split()) if note.get("en") else None,
                note_ja=note.get("ja"),
                avoid=tuple(avoid),
            )
        )
    return tuple(terms)


@cache
def load_problems(root: Path | None = None) -> dict[str, dict[str, Any]]:
    root = root or spec_root()
    data = _validated(root / "problems.yaml", root / "schemas" / "problems.schema.json")
    items = data["problems"] if isinstance(data, dict) else data
    return {p["slug"]: p for p in items}


def load_vectors(name: str, root: Path | None = None) -> dict[str, Any]:
    root = root or spec_root()
    data: dict[str, Any] = _validated(
        root / "vectors" / f"{name}.json", root / "schemas" / "vectors.schema.json"
    )
    return data


def load_binding_vectors(root: Path | None = None) -> dict[str, Any]:
    """``vectors/binding-decisions.json``, checked against its own schema."""
    root = root or spec_root()
    data: dict[str, Any] = _validated(
        root / "vectors" / "binding-decisions.json",
        root / "schemas" / "binding-vectors.schema.json",
    )
    return data
