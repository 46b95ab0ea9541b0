"""The wire protocol document (specs/openapi/renkei.yaml), made executable.

``WireContract.check(method, url_path, status, content_type, body, headers)``
returns the ways a response departs from the document, read as a *closed*
document (``x-renkei-closed-responses``): a status the operation does not
declare (``default`` stands for the statuses its response lists in
``x-renkei-statuses``), a wrong media type, a body that does not validate
against the response schema (JSON Schema 2020-12, ``$ref`` into
``components``), a member no applicable schema declares (where a schema
declares ``properties`` and does not open itself with ``additionalProperties``,
``patternProperties``, ``unevaluatedProperties`` or ``x-renkei-open``; an extension member of a
problem only on the problem types its ``x-renkei-on-problems`` lists), a
problem whose type specs/problems.yaml does not list or whose ``status`` member
is not both the HTTP status and its type's status there, and a header neither a
transport header (``x-renkei-transport-headers``) nor declared by the
operation's response.  The kit runs it on every response it receives
(RK-WIRE-001, RK-WIRE-002).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .spec import SpecError, load_problems, spec_root

__all__ = ["Operation", "WireContract", "load_contract"]

_METHODS = ("get", "put", "post", "delete", "patch")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    pattern: re.Pattern[str]
    spec: dict[str, Any]

    @property
    def operation_id(self) -> str:
        return str(self.spec.get("operationId", f"{self.method} {self.template}"))


class WireContract:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource("urn:renkei:openapi", resource)
        self.operations: list[Operation] = []
        self._validators: dict[str, Any] = {}
        self._sub_validators: dict[int, Any] = {}
        # headers any response may carry (x-renkei-transport-headers)
        self.transport_headers = frozenset(
            str(n).lower() for n in document.get("x-renkei-transport-headers") or ()
        )
        for template, item in document.get("paths", {}).items():
            regex = "^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$"
            for method in _METHODS:
                if method in item:
                    self.operations.append(
                        Operation(method.upper(), template, re.compile(regex), item[method])
                    )
        # literal segments win over templated ones (/a/latest before /a/{id})
        self.operations.sort(key=lambda o: o.template.count("{"))

    def find(self, method: str, path: str) -> Operation | None:
        for op in self.operations:
            if op.method == method.upper() and op.pattern.match(path):
                return op
        return None

    def resolve(self, node: dict[str, Any], pointer: str = "") -> tuple[dict[str, Any], str]:
        """Follow ``$ref`` (local only); return the node and its JSON pointer."""
        while "$ref" in node:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise SpecError(f"openapi: only local $ref are supported, got {ref}")
            target: Any = self.document
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node, pointer = target, ref[1:]
        return node, pointer

    def check(
        self,
        method: str,
        path: str,
        status: int,
        content_type: str,
        body: Any,
        *,
        headers: Iterable[str] = (),
    ) -> list[str]:
        op = self.find(method, path)
        if op is None:
            return []  # a path outside the protocol (e.g. a party prefix the target chose)
        responses = op.spec.get("responses", {})
        where = f"{method} {op.template} → {status}"
        key = next(
            (k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None
        )
        if key is None:
            return [f"{where}: status not documented for {op.operation_id}"]
        esc = op.template.replace("~", "~0").replace("/", "~1")
        spec, pointer = self.resolve(
            responses[key], f"/paths/{esc}/{op.method.lower()}/responses/{key}"
        )
        out: list[str] = []
        listed = spec.get("x-renkei-statuses")
        if key == "default" and listed is not None and status not in listed:
            out.append(
                f"{where}: status not documented for {op.operation_id} "
                f"(its default response stands for {listed} only)"
            )
        declared = {h.lower() for h in spec.get("headers") or {}}
        out += [
            f"{where}: header {name!r} is neither a transport header nor declared "
            f"for {op.operation_id}"
            for name in sorted({h.lower() for h in headers} - self.transport_headers - declared)
        ]
        content = spec.get("content") or {}
        if not content:
            return out
        media = content_type.split(";", maxsplit=1)[0].strip()
        if media not in content:
            return [*out, f"{where}: media type {media!r} not among {sorted(content)}"]
        if "schema" not in content[media]:
            return out
        pointer += "/content/" + media.replace("~", "~0").replace("/", "~1") + "/schema"
        validator = self._validators.get(pointer)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                {"$ref": "urn:renkei:openapi#" + pointer}, registry=self._registry
            )
            self._validators[pointer] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        if errors:
            return out + [
                f"{where}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"[:500]
                for e in errors[:5]
            ]
        undeclared = self.undeclared(content[media]["schema"], body, "")
        if media == "application/problem+json" and isinstance(body, dict):
            undeclared += self.misplaced_extensions(body) + registry_departures(status, body)
        return out + [f"{where}: {u}"[:500] for u in undeclared[:5]]

    def check_request(self, method: str, path: str, body: Any) -> list[str]:
        """The ways a JSON request body departs from the operation's request schema,
        read as a closed document (what the kit's simulated hub refuses, RK-WIRE-002)."""
        op = self.find(method, path)
        if op is None:
            return [f"{method} {path}: no such operation"]
        content = (op.spec.get("requestBody") or {}).get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None:
            return [] if body is None else [f"{op.operation_id} takes no body"]
        where = op.operation_id
        errors = sorted(self.validator(schema).iter_errors(body), key=lambda e: list(e.path))
        out = [f"{where}: {'/'.join(map(str, e.path)) or '(body)'}: {e.message}"[:300]
               for e in errors[:5]]  # fmt: skip
        return out or [f"{where}: {u}"[:300] for u in self.undeclared(schema, body, "")[:5]]

    def validator(self, schema: dict[str, Any]) -> Any:
        """A JSON Schema 2020-12 validator of ``schema`` (a node of the document)."""
        key = id(schema)
        validator = self._sub_validators.get(key)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                _absolute_refs(schema), registry=self._registry
            )
            self._sub_validators[key] = validator
        return validator

    def misplaced_extensions(self, problem: dict[str, Any]) -> list[str]:
        """Extension members of a problem that its type may not carry
        (``x-renkei-on-problems`` of the ``Problem`` schema's members)."""
        members = self.document["components"]["schemas"]["Problem"].get("properties", {})
        slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
        return [
            f"(body): member {name!r} is not declared for problem type {slug!r}"
            for name in problem
            if slug not in members.get(name, {}).get("x-renkei-on-problems", [slug])
        ]

    # -- closed documents ------------------------------------------------------
    def undeclared(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        """Members of ``value`` that no schema applying to it declares, where
        those schemas declare ``properties`` and none opens itself."""
        if not isinstance(value, dict | list):
            return []  # a scalar has no members
        applying = self._applying(schema, value)
        out: list[str] = []
        if isinstance(value, dict):
            members: dict[str, list[dict[str, Any]]] = {}
            extra: list[dict[str, Any]] = []
            closed = False
            for s in applying:
                for name, sub in (s.get("properties") or {}).items():
                    members.setdefault(name, []).append(sub)
                more = s.get("additionalProperties")
                if isinstance(more, dict):
                    extra.append(more)
                closed = closed or "properties" in s
            opened = any(_opens(s) for s in applying)
            for name, member in value.items():
                subs = members.get(name) or extra
                for sub in subs:
                    out += self.undeclared(sub, member, f"{where}/{name}")
                if not subs and closed and not opened:
                    out.append(f"{where or '(body)'}: member {name!r} is not declared")
        elif isinstance(value, list):
            for s in applying:
                items = s.get("items")
                if isinstance(items, dict):
                    for i, item in enumerate(value):
                        out += self.undeclared(items, item, f"{where}/{i}")
        return out

    def _applying(self, schema: Any, value: Any, depth: int = 0) -> list[dict[str, Any]]:
        """The schema nodes that apply to ``value``: through ``$ref``, ``allOf``,
        the ``anyOf``/``oneOf`` alternatives it matches and ``if``/``then``/``else``."""
        if not isinstance(schema, dict) or depth > 20:
            return []
        out = [schema]
        if "$ref" in schema:
            target, _ = self.resolve({"$ref": schema["$ref"]})
            out += self._applying(target, value, depth + 1)
        for part in schema.get("allOf", ()):
            out += self._applying(part, value, depth + 1)
        for key in ("anyOf", "oneOf"):
            for part in schema.get(key, ()):
                if self._matches(part, value):
                    out += self._applying(part, value, depth + 1)
        if "if" in schema:
            branch = schema.get("then" if self._matches(schema["if"], value) else "else")
            out += self._applying(branch, value, depth + 1)
        return out

    def _matches(self, schema: dict[str, Any], value: Any) -> bool:
        props: dict[str, Any] = schema.get("properties") or {}
        if (
            props
            and set(schema) == {"properties"}
            and all(set(p) == {"const"} for p in props.values())
        ):
            # the common ``if`` of a discriminated object, decided without a validator
            return not isinstance(value, dict) or all(
                name not in value or value[name] == p["const"] for name, p in props.items()
            )
        return bool(self.validator(schema).is_valid(value))


def registry_departures(status: int, problem: dict[str, Any]) -> list[str]:
    """How a problem departs from its type's entry in specs/problems.yaml
    (RK-WIRE-001): a type the registry does not list, a ``status`` member other
    than the HTTP status and the status the registry gives the type, no
    ``requirement`` member where the registry names the requirement the type
    enforces, or one naming a requirement the entry does not admit (its default
    or ``also``)."""
    slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
    entry = load_problems().get(slug)
    if entry is None:
        return [f"(body): problem type {slug!r} is not registered in specs/problems.yaml"]
    out = []
    if problem.get("status") != status:
        out.append(
            f"(body): member 'status' is {problem.get('status')!r}, the HTTP status {status}"
        )
    if entry["status"] != status:
        out.append(f"(body): problem type {slug!r} has status {entry['status']} (problems.yaml)")
    if entry.get("requirement") and "requirement" not in problem:
        out.append(
            f"(body): no member 'requirement', yet problem type {slug!r} enforces "
            f"{entry['requirement']} (problems.yaml)"
        )
    admissible = [entry.get("requirement"), *entry.get("also", [])]
    named = problem.get("requirement")
    if entry.get("requirement") and named is not None and named not in admissible:
        out.append(
            f"(body): problem type {slug!r} names {named!r}, not a requirement it may "
            f"name ({', '.join(map(str, admissible))}, problems.yaml)"
        )
    return out


def _opens(schema: dict[str, Any]) -> bool:
    more = schema.get("additionalProperties", False)
    rest = schema.get("unevaluatedProperties", False)
    return (
        more is not False
        or rest is not False
        or "patternProperties" in schema
        or bool(schema.get("x-renkei-open"))
    )


def _absolute_refs(node: Any) -> Any:
    """A copy of ``node`` whose local ``$ref`` point into the registered document."""
    if isinstance(node, dict):
        return {
            k: (
                "urn:renkei:openapi" + v
                if k == "$ref" and str(v).startswith("#")
                else _absolute_refs(v)
            )
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_absolute_refs(v) for v in node]
    return node


@cache
def load_contract(root: Path | None = None) -> WireContract:
    path = (root or spec_root()) / "openapi" / "renkei.yaml"
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(f"{path}: {exc}") from exc
    if not isinstance(document, dict) or not str(document.get("openapi", "")).startswith("3.1"):
        raise SpecError(f"{path}: not an OpenAPI 3.1 document")
    return WireContract(document)
