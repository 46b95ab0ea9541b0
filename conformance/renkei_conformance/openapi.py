"""The wire protocol document (specs/openapi/renkei.yaml), made executable.

``WireContract.check(method, url_path, status, content_type, body)`` returns
the ways a response departs from the document: an undocumented status, a
wrong media type, or a body that does not validate against the response
schema (JSON Schema 2020-12, ``$ref`` into ``components``).  The kit runs it
on every response it receives (RK-WIRE-001, RK-WIRE-002).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from .spec import SpecError, spec_root

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

    def check(self, method: str, path: str, status: int, content_type: str, body: Any) -> list[str]:
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
        content = spec.get("content") or {}
        if not content:
            return []
        media = content_type.split(";", maxsplit=1)[0].strip()
        if media not in content:
            return [f"{where}: media type {media!r} not among {sorted(content)}"]
        if "schema" not in content[media]:
            return []
        pointer += "/content/" + media.replace("~", "~0").replace("/", "~1") + "/schema"
        validator = self._validators.get(pointer)
        if validator is None:
            validator = jsonschema.Draft202012Validator(
                {"$ref": "urn:renkei:openapi#" + pointer}, registry=self._registry
            )
            self._validators[pointer] = validator
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        return [
            f"{where}: {'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"[:500]
            for e in errors[:5]
        ]


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
