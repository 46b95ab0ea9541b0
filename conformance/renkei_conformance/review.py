"""Verification by review, made executable where it can be (specs/review/checklist.yaml).

Requirements whose verification is ``review`` (RK-ARCH-005, RK-ARCH-006, …)
are checked by a reviewer of the regulator against a checklist whose items
trace to a requirement and its seed items.  Two things here:

* ``check_openapi`` applies the checklist's *automated* items of RK-ARCH-005
  (no search or aggregation interface; seed items 1, 2, 17) to an OpenAPI
  document: the published one (gate test) or the one a target serves
  (CT-ARCH-002).  A served document may lack the ``x-renkei-*`` extensions;
  the published document then says which requirements an operation of the
  same method and path serves, and an operation it does not know is exempt
  from nothing.
* ``review_items`` lists every checklist item for the reports (JSON, HTML,
  results bundle) with the status ``review``: for the regulator, apart from
  the tests' passed/failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .spec import _validated, spec_root

__all__ = ["Finding", "check_openapi", "load_checklist", "review_items"]

PERSON_ATTRIBUTES = frozenset(
    {"name", "name_kana", "address", "birth_date", "sex", "date_of_birth", "gender"}
)
"""The 4 items (４情報) and their usual aliases."""

PERSON_IDENTIFIERS = frozenset(
    {"resident_code", "number", "individual_number", "my_number", "id_code", "idcode"}
)
"""Identifiers the hub never takes as a parameter nor returns (link codes aside)."""

AGGREGATES = frozenset(
    {"count", "counts", "total", "totals", "sum", "statistics", "stats", "aggregate",
     "aggregates", "persons", "people", "residents"}
)  # fmt: skip
"""Property names of results gathered across persons."""

EXEMPT_FOUR_ITEMS = frozenset({"RK-BND-001", "RK-BND-006"})
EXEMPT_LINK_CODES = frozenset({"RK-BND-001", "RK-PAT-001", "RK-FLOW-001", "RK-KEY-002"})
_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True, slots=True)
class Finding:
    """A departure from an automated checklist item."""

    item: str  # RV-…
    operation: str  # "METHOD /path"
    detail: str

    def __str__(self) -> str:
        return f"{self.item} {self.operation}: {self.detail}"


def load_checklist() -> dict[str, Any]:
    """specs/review/checklist.yaml, validated against its schema."""
    root = spec_root()
    data: dict[str, Any] = _validated(
        root / "review" / "checklist.yaml", root / "schemas" / "review-checklist.schema.json"
    )
    return data


def review_items() -> list[dict[str, Any]]:
    """Every checklist item as a report's ``review`` entry (status ``review``)."""
    return [
        {
            "id": item["id"],
            "requirement": item["requirement"],
            "seed_items": list(item["seed_items"]),
            "check": item["check"],
            "status": "review",
            "en": " ".join(item["en"].split()),
            "ja": item["ja"].strip(),
            **({"rule": item["rule"]} if "rule" in item else {}),
            **({"evidence": " ".join(item["evidence"].split())} if "evidence" in item else {}),
        }
        for item in load_checklist()["items"]
    ]


# -- the OpenAPI checklist (RK-ARCH-005) -------------------------------------------
def _resolve(doc: dict[str, Any], node: Any) -> Any:
    seen = 0
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 32:
        ref: str = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {})
        node, seen = target, seen + 1
    return node


def _property_names(doc: dict[str, Any], schema: Any, depth: int = 0) -> Iterator[str]:
    """Every property name a schema can carry, through $ref, combinators and arrays."""
    node = _resolve(doc, schema)
    if not isinstance(node, dict) or depth > 12:
        return
    for name, sub in (node.get("properties") or {}).items():
        yield name
        yield from _property_names(doc, sub, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            yield from _property_names(doc, sub, depth + 1)
    for key in ("items", "additionalProperties", "then", "else"):
        if isinstance(node.get(key), dict):
            yield from _property_names(doc, node[key], depth + 1)


def _is_aggregate_array(doc: dict[str, Any], schema: Any, depth: int = 0) -> Iterator[str]:
    """Property names of arrays or counters named like results across persons."""
    node = _resolve(doc, schema)
    if not isinstance(node, dict) or depth > 12:
        return
    for name, sub in (node.get("properties") or {}).items():
        if name.lower() in AGGREGATES:
            yield name
        yield from _is_aggregate_array(doc, sub, depth + 1)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key) or []:
            yield from _is_aggregate_array(doc, sub, depth + 1)
    if isinstance(node.get("items"), dict):
        yield from _is_aggregate_array(doc, node["items"], depth + 1)


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any], list[Any]]]:
    for path, item in (doc.get("paths") or {}).items():
        if not isinstance(item, dict):
            continue
        shared = list(item.get("parameters") or [])
        for method in _METHODS:
            if isinstance(item.get(method), dict):
                op = item[method]
                yield path, method, op, shared + list(op.get("parameters") or [])


def _is_hub(path: str, op: dict[str, Any]) -> bool:
    profile = op.get("x-renkei-profile")
    return profile == "hub" if profile is not None else "/hub/" in path or path.startswith("/hub")


def _requirements(
    path: str, method: str, op: dict[str, Any], published: dict[str, Any] | None
) -> set[str]:
    own = op.get("x-renkei-requirements")
    if own is not None or published is None:
        return set(own or ())
    ref = ((published.get("paths") or {}).get(path) or {}).get(method) or {}
    return set(ref.get("x-renkei-requirements") or ())


def _responses(op: dict[str, Any]) -> Iterator[Any]:
    for status, response in (op.get("responses") or {}).items():
        if str(status).startswith("2") and isinstance(response, dict):
            for media in (response.get("content") or {}).values():
                if isinstance(media, dict) and "schema" in media:
                    yield media["schema"]


def _request(op: dict[str, Any]) -> Iterator[Any]:
    for media in ((op.get("requestBody") or {}).get("content") or {}).values():
        if isinstance(media, dict) and "schema" in media:
            yield media["schema"]


def check_openapi(doc: dict[str, Any], published: dict[str, Any] | None = None) -> list[Finding]:
    """The automated items of RK-ARCH-005 applied to the hub operations of ``doc``.

    ``published``: the reference interface document, whose ``x-renkei-*``
    extensions stand in for those a served document lacks (matched by method
    and path).  Returns every departure; an empty list passes.
    """
    findings: list[Finding] = []
    for path, method, op, params in _operations(doc):
        if not _is_hub(path, op):
            continue
        where = f"{method.upper()} {path}"
        reqs = _requirements(path, method, op, published)
        for p in params:
            param = _resolve(doc, p)
            name = str(param.get("name", "")).lower().replace("-", "_")
            if name in PERSON_ATTRIBUTES | PERSON_IDENTIFIERS:
                findings.append(Finding("RV-ARCH-005-01", where, f"takes {name!r} as a parameter"))
        sent = {n for s in _request(op) for n in _property_names(doc, s)}
        returned = {n for s in _responses(op) for n in _property_names(doc, s)}
        items = sorted((sent | returned) & PERSON_ATTRIBUTES)
        if items and not reqs & EXEMPT_FOUR_ITEMS:
            findings.append(
                Finding(
                    "RV-ARCH-005-02",
                    where,
                    f"carries person attributes {items} outside binding and the currency service",
                )
            )
        ids = sorted((sent | returned) & PERSON_IDENTIFIERS)
        if ids:
            findings.append(Finding("RV-ARCH-005-03", where, f"carries person identifiers {ids}"))
        aggregates = sorted({n for s in _responses(op) for n in _is_aggregate_array(doc, s)})
        if aggregates:
            findings.append(
                Finding("RV-ARCH-005-04", where, f"returns results across persons {aggregates}")
            )
        if "link_code" in returned and not reqs & EXEMPT_LINK_CODES:
            findings.append(
                Finding("RV-ARCH-005-05", where, "returns link codes outside an approved linkage")
            )
        if not reqs:
            findings.append(
                Finding("RV-ARCH-005-06", where, "serves no requirement the review can trace")
            )
    return findings
