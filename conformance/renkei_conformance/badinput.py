"""Bad input generated from the interface document (RK-WIRE-001, RK-WIRE-002).

For every operation of specs/openapi/renkei.yaml the kit derives requests that
the schema forbids — the body missing each required member, each member of the
wrong type, an undeclared member, an array or a bare string for an object, a
body that is not JSON, a wrong media type — and odd but possibly valid values
(empty, very long, NUL, astral-plane characters, path parameters that try to
escape their segment).  The oracle is the spec's: no request content may cause
a 5xx status, and every error is ``application/problem+json`` with a
``urn:renkei:problem:`` type.  Requests the schema forbids must get a 4xx.

The generator is deterministic (no randomness): a failure reproduces exactly,
and a vendor can key an expected-failure entry on its case.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from .openapi import Operation, WireContract

__all__ = ["BadRequest", "bad_requests", "merged_schema", "sample"]

ODD_STRINGS = {
    "empty": "",
    "long": "x" * 10_000,
    "nul": "a\x00b",
    "astral": "𠮷野家🍣",
    "markup": "<script>alert(1)</script>'\";--",
}
ODD_SEGMENTS = {
    "dot-dot": "..",
    "encoded-slash": quote("a/b", safe=""),
    "encoded-nul": "%00",
    "long": "9" * 4_000,
    "astral": quote("𠮷", safe=""),
    "sql": quote("1' OR '1'='1", safe=""),
}
WRONG_TYPE: dict[str, Any] = {
    "string": 12345,
    "integer": "12",
    "number": "1.5",
    "boolean": "yes",
    "array": {"not": "an array"},
    "object": ["not", "an", "object"],
}


@dataclass(frozen=True)
class BadRequest:
    """One request; ``must_refuse``: the schema forbids it, so 4xx is required."""

    case: str
    method: str
    path: str
    json_body: Any = None
    content: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, Any] | None = None
    must_refuse: bool = True
    broken: tuple[str, ...] = ()
    """Where the request breaks its schema (``("body", member)``, ``("query",
    name)``, ``("body",)``): a ``validation-error`` for it lists a failure there
    (RK-WIRE-001), or at a place that encloses it."""


def _schema(contract: WireContract, node: Any) -> dict[str, Any]:
    resolved, _ = contract.resolve(node if isinstance(node, dict) else {})
    out = dict(resolved)
    for key in ("allOf",):  # merge simple compositions for sampling
        for part in out.pop(key, []) or []:
            sub = _schema(contract, part)
            out.setdefault("properties", {}).update(sub.get("properties", {}))
            out["required"] = sorted({*out.get("required", []), *sub.get("required", [])})
            out.setdefault("type", sub.get("type"))
    return out


def merged_schema(contract: WireContract, node: Any) -> dict[str, Any]:
    """The schema ``node`` with its ``$ref`` followed and its ``allOf`` merged."""
    return _schema(contract, node)


def _type(schema: dict[str, Any]) -> str | None:
    t = schema.get("type")
    if isinstance(t, list):
        t = next((x for x in t if x != "null"), None)
    if t is None and "properties" in schema:
        return "object"
    return t if isinstance(t, str) else None


def sample(contract: WireContract, node: Any, depth: int = 0) -> Any:
    """A plausible value for a schema: its example, const, first enum, or by type."""
    schema = _schema(contract, node)
    for key in ("const",):
        if key in schema:
            return schema[key]
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if schema.get("enum"):
        return schema["enum"][0]
    for key in ("oneOf", "anyOf"):
        if schema.get(key):
            return sample(contract, schema[key][0], depth + 1)
    t = _type(schema)
    if depth > 6:
        return None
    if t == "object":
        props = schema.get("properties", {})
        return {k: sample(contract, props[k], depth + 1) for k in schema.get("required", props)}
    if t == "array":
        return [sample(contract, schema.get("items", {}), depth + 1)]
    if t == "integer":
        return int(schema.get("minimum", 1))
    if t == "number":
        return float(schema.get("minimum", 1))
    if t == "boolean":
        return True
    return "x" * int(schema.get("minLength", 1))


def _body_example(contract: WireContract, media: dict[str, Any]) -> Any:
    for example in (media.get("examples") or {}).values():
        resolved, _ = contract.resolve(example)
        if "value" in resolved:
            return resolved["value"]
    if "example" in media:
        return media["example"]
    return sample(contract, media.get("schema", {}))


def _path(op: Operation, contract: WireContract, override: dict[str, str] | None = None) -> str:
    path = op.template
    params = [p for p in op.spec.get("parameters", []) if isinstance(p, dict)]
    for raw in params:
        p, _ = contract.resolve(raw)
        if p.get("in") != "path":
            continue
        value = (override or {}).get(p["name"])
        if value is None:
            value = quote(str(sample(contract, p.get("schema", {}))), safe="")
        path = path.replace("{" + p["name"] + "}", value)
    return path


def bad_requests(contract: WireContract, op: Operation) -> Iterator[BadRequest]:
    """Every bad request the kit derives for one operation."""
    m = op.method
    base = _path(op, contract)
    body_spec = (op.spec.get("requestBody") or {}).get("content", {}).get("application/json")
    if body_spec is not None:
        schema = _schema(contract, body_spec.get("schema", {}))
        example = _body_example(contract, body_spec)
        yield BadRequest("not-json", m, base, content=b'{"unterminated": ', broken=("body",),
                         headers={"content-type": "application/json"})  # fmt: skip
        yield BadRequest("text-plain", m, base, content=b"hello",
                         headers={"content-type": "text/plain"})  # fmt: skip
        whole = ("body",)
        yield BadRequest("array-for-object", m, base, json_body=[example], broken=whole)
        yield BadRequest("string-for-object", m, base, json_body="object expected", broken=whole)
        yield BadRequest("null-body", m, base, content=b"null", broken=whole,
                         headers={"content-type": "application/json"})  # fmt: skip
        if _type(schema) == "object" and isinstance(example, dict):
            yield BadRequest(
                "undeclared-member",
                m,
                base,
                json_body={**example, "x-zz": 1},
                broken=("body", "x-zz"),
            )
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                body = {k: v for k, v in example.items() if k != name}
                yield BadRequest(f"missing-{name}", m, base, json_body=body, broken=("body", name))
            for name, prop in props.items():
                t = _type(_schema(contract, prop))
                if t in WRONG_TYPE:
                    yield BadRequest(
                        f"wrong-type-{name}",
                        m,
                        base,
                        json_body={**example, name: WRONG_TYPE[t]},
                        broken=("body", name),
                    )
                if t == "string":
                    for label, odd in ODD_STRINGS.items():
                        yield BadRequest(
                            f"odd-{label}-{name}",
                            m,
                            base,
                            json_body={**example, name: odd},
                            must_refuse=False,
                        )
                if t == "array" and isinstance(example.get(name), list):
                    yield BadRequest(
                        f"huge-array-{name}",
                        m,
                        base,
                        json_body={**example, name: (example[name] or ["x"]) * 20_000},
                        must_refuse=False,
                    )
                    for label, odd in ODD_STRINGS.items():
                        yield BadRequest(
                            f"odd-{label}-item-{name}",
                            m,
                            base,
                            json_body={**example, name: [odd]},
                            must_refuse=False,
                        )
    for raw in op.spec.get("parameters", []):
        p, _ = contract.resolve(raw)
        where, name = p.get("in"), str(p.get("name"))
        if where == "path":
            for label, odd in ODD_SEGMENTS.items():
                yield BadRequest(
                    f"path-{label}-{name}",
                    m,
                    _path(op, contract, {name: odd}),
                    json_body=_body_example(contract, body_spec) if body_spec else None,
                    must_refuse=False,
                )
        elif where == "query":
            t = _type(_schema(contract, p.get("schema", {})))
            values: dict[str, Any] = {"empty": "", "long": "9" * 5_000, "astral": "𠮷"}
            if t in ("integer", "number"):
                values |= {"negative": -1, "huge": 10**30, "not-a-number": "abc"}
            for label, value in values.items():
                yield BadRequest(
                    f"query-{label}-{name}",
                    m,
                    base,
                    params={name: value},
                    must_refuse=label == "not-a-number",
                    broken=("query", name) if label == "not-a-number" else (),
                )


def describe(req: BadRequest) -> str:
    body = (
        req.content.decode(errors="replace")
        if req.content is not None
        else json.dumps(req.json_body, ensure_ascii=False)
    )
    return f"{req.case}: {req.method} {req.path[:120]} {body[:160]}"
