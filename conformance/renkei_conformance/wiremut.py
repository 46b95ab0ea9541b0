"""The mutating proxy of the wire-level self-test (``selftest --wire``).

A *wire mutant* is one generic way of getting an operation of the OpenAPI
document wrong, applied to that operation's responses: drop a member, add one,
put another agency's value in, replay a stale value, change the status,
reorder or duplicate a list entry, lag a checkpoint (the previous response),
delay.  The proxy sits at the kit's own HTTP client as a transport wrapper
(``Target.wrap``): every request the kit sends and every response it reads
passes through it, whether the target is in process (ASGI) or over HTTPS
(``renkei serve``, agency nodes), so it is equivalent to a proxy in front of
the target and needs no socket of its own.

It works in two modes.  *Record* (the unmutated run): it passes every
response through unchanged and writes, per kit test, each response's
operation and the mutants that would change it (the enumeration's input).
*Mutate*: it applies one mutant to the responses of its operation within the
kit tests it names and writes a line each time the mutation changed a
response (so a mutant that never fired is told apart from a survivor).

The operators themselves (``mutate``) are pure functions of a JSON body.
"""

from __future__ import annotations

import copy
import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .openapi import WireContract

__all__ = [
    "BODY_OPERATORS",
    "OPERATORS",
    "Mutant",
    "WireProxy",
    "applicable",
    "member_paths",
    "mutate",
]

OPERATORS = ("drop", "add", "swap", "stale", "status", "reorder", "duplicate", "lag", "delay")
"""The generic mutation operators, in the order mutants are enumerated."""
BODY_OPERATORS = ("drop", "add", "swap", "stale", "reorder", "duplicate")
"""Operators that change one member path of a JSON body."""
ADDED_MEMBER = "renkei_wire_mutant"
"""The member the ``add`` operator puts in (no schema of the protocol declares it)."""
DELAY_SECONDS = 1.5
DELAYED_RESPONSES = 3
"""``delay`` holds back the first three responses of its operation in a test by 1.5 s."""
_DEPTH = 4


@dataclass(frozen=True)
class Mutant:
    """One wire mutant: ``operator`` at ``path`` of ``operation``'s responses,
    within the kit tests ``tests`` (pytest node ids)."""

    operation: str
    operator: str
    path: str = ""
    tests: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.operation}:{self.operator}" + (f":{self.path}" if self.path else "")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "operation": self.operation,
            "operator": self.operator,
            "path": self.path,
            "tests": list(self.tests),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Mutant:
        return cls(
            str(data["operation"]),
            str(data["operator"]),
            str(data.get("path", "")),
            tuple(str(t) for t in data.get("tests", ())),
        )


# -- paths into a JSON body ('' is the body, 'a/*/b' member b of each entry of a) ----
def member_paths(body: Any, prefix: str = "", depth: int = 0) -> Iterator[tuple[str, Any]]:
    """Every (path, value) of ``body``: objects' members by name, list entries as ``*``."""
    if depth > _DEPTH:
        return
    if isinstance(body, dict):
        for name, value in body.items():
            path = f"{prefix}/{name}" if prefix else str(name)
            yield path, value
            yield from member_paths(value, path, depth + 1)
    elif isinstance(body, list):
        path = f"{prefix}/*" if prefix else "*"
        for value in body:
            yield path, value
            yield from member_paths(value, path, depth + 1)


def _slots(body: Any, parts: list[str]) -> Iterator[tuple[Any, Any]]:
    """The (container, key) pairs a path names in ``body``."""
    head, rest = parts[0], parts[1:]
    keys: list[Any]
    if head == "*":
        keys = list(range(len(body))) if isinstance(body, list) else []
    else:
        keys = [head] if isinstance(body, dict) and head in body else []
    for key in keys:
        if rest:
            yield from _slots(body[key], rest)
        else:
            yield body, key


def _values(body: Any, path: str) -> list[Any]:
    if not path:
        return [body]
    return [c[k] for c, k in _slots(body, path.split("/"))]


def mutate(operator: str, body: Any, path: str, *, previous: Any = None, other: Any = None) -> Any:
    """``body`` mutated by ``operator`` at ``path`` (a copy), or ``None`` when the
    operator changes nothing there.  ``previous`` is the same party's previous
    body of the operation (``stale``, ``lag``), ``other`` the last body of the
    operation sent to another party (``swap``)."""
    if operator == "lag":
        return copy.deepcopy(previous) if previous is not None and previous != body else None
    if operator not in BODY_OPERATORS:
        return None
    out = copy.deepcopy(body)
    changed = False
    if operator == "add":
        targets = [out] if not path else [c[k] for c, k in _slots(out, path.split("/"))]
        for obj in targets:
            if isinstance(obj, dict) and ADDED_MEMBER not in obj:
                obj[ADDED_MEMBER] = "x"
                changed = True
        return out if changed else None
    if not path:
        return None
    parts = path.split("/")
    source = previous if operator == "stale" else other
    if operator in ("stale", "swap"):
        donors = _values(source, path) if source is not None else []
        if not donors:
            return None
        for i, (container, key) in enumerate(list(_slots(out, parts))):
            donor = donors[min(i, len(donors) - 1)]
            if container[key] != donor:
                container[key] = copy.deepcopy(donor)
                changed = True
        return out if changed else None
    for container, key in list(_slots(out, parts)):
        value = container[key]
        if operator == "drop" and isinstance(container, dict):
            del container[key]
            changed = True
        elif operator == "reorder" and isinstance(value, list) and len(value) > 1:
            reordered = list(reversed(value))
            if reordered != value:
                container[key] = reordered
                changed = True
        elif operator == "duplicate" and isinstance(value, list) and value:
            container[key] = [value[0], *value]
            changed = True
    return out if changed else None


def applicable(
    body: Any, *, previous: Any = None, other: Any = None, checkpointed: bool = False
) -> dict[str, list[str]]:
    """The body operators that would change ``body`` and the paths where they would."""
    kinds: dict[str, set[str]] = {}
    for path, value in member_paths(body):
        kind = kinds.setdefault(path, set())
        if isinstance(value, dict):
            kind.add("object")
        if isinstance(value, list) and value:
            kind.add("list")
            if len(value) > 1 and list(reversed(value)) != value:
                kind.add("reorderable")
    out: dict[str, list[str]] = {op: [] for op in BODY_OPERATORS}
    if isinstance(body, dict):
        out["add"].append("")
    for path, kind in kinds.items():
        if "object" in kind and path.endswith("*"):
            out["add"].append(path)
        if "reorderable" in kind:
            out["reorder"].append(path)
        if "list" in kind:
            out["duplicate"].append(path)
        if path.endswith("*"):
            continue
        out["drop"].append(path)
        mine = _values(body, path)
        for operator, donor in (("stale", previous), ("swap", other)):
            donors = _values(donor, path) if donor is not None else []
            if donors and donors != mine[: len(donors)]:
                out[operator].append(path)
    if checkpointed and previous is not None and previous != body:
        out["lag"] = [""]
    return {op: sorted(p) for op, p in out.items() if p}


def _checkpointed(body: Any) -> bool:
    """A body that carries a checkpoint (a tree size or root of a signed log)."""
    names = {p.rsplit("/", 1)[-1] for p, _ in member_paths(body)}
    return any("checkpoint" in n or n in ("tree_size", "root_hash", "size") for n in names)


# -- the proxy ------------------------------------------------------------------------
@dataclass
class WireProxy:
    """The mutating proxy: record mode when ``mutant`` is None, else mutate mode."""

    contract: WireContract
    parties: dict[str, str]
    agency_nodes: dict[str, str]
    out: Path
    mutant: Mutant | None = None
    current: str | None = None
    """The kit test running now (pytest node id): ``begin``, ``end``."""
    _seen: dict[str, dict[str, set[str]]] = field(default_factory=dict)
    _history: dict[tuple[str, str], Any] = field(default_factory=dict)
    _last_other: dict[str, tuple[str, Any]] = field(default_factory=dict)
    _delayed: dict[str, int] = field(default_factory=dict)

    def begin(self, test: str) -> None:
        """A kit test starts: what the proxy remembers (previous responses, other
        parties' responses, delays) starts afresh, so that a mutant applied to this
        test alone changes what the recording says it changes."""
        self.current = test
        self._seen, self._history, self._last_other, self._delayed = {}, {}, {}, {}

    def end(self) -> None:
        """Write what the test's responses would let each operator change (record
        mode): one line per operation the test called."""
        if self.mutant is None and self._seen:
            with self.out.open("a", encoding="utf-8") as fh:
                for op, ops in self._seen.items():
                    line = {
                        "test": self.current,
                        "op": op,
                        "applicable": {k: sorted(v) for k, v in ops.items()},
                    }
                    fh.write(json.dumps(line) + "\n")
        self.current, self._seen = None, {}

    def wrap(self, inner: httpx.BaseTransport) -> httpx.BaseTransport:
        return _Transport(inner, self)

    def operation(self, request: httpx.Request) -> tuple[str | None, str]:
        """The OpenAPI operation a request is (and the request's protocol path)."""
        url = str(request.url.copy_with(query=None, fragment=None))
        path = request.url.path
        bases = [(f"/{p}", b) for p, b in self.parties.items()]
        bases += [("", b) for b in self.agency_nodes.values()]
        for prefix, party_base in sorted(bases, key=lambda pb: -len(pb[1])):
            base = party_base.rstrip("/")
            if url == base or url.startswith(base + "/"):
                path = prefix + url[len(base) :]
                break
        op = self.contract.find(request.method, path)
        return (op.operation_id if op else None), path

    def _statuses(self, operation: str) -> list[int]:
        op = next((o for o in self.contract.operations if o.operation_id == operation), None)
        if op is None:
            return []
        out: set[int] = set()
        for key, spec in (op.spec.get("responses") or {}).items():
            if key.isdigit():
                out.add(int(key))
            else:
                resolved, _ = self.contract.resolve(spec)
                out.update(int(s) for s in resolved.get("x-renkei-statuses") or ())
        return sorted(out)

    def other_status(self, operation: str, status: int) -> int:
        """The status ``status`` is changed to: another status the operation
        declares, of the same class where there is one, else the nearest."""
        declared = [s for s in self._statuses(operation) if s != status]
        same = [s for s in declared if s // 100 == status // 100]
        pool = same or declared or [status + 1]
        return min(pool, key=lambda s: (abs(s - status), s))

    def handle(self, request: httpx.Request, response: httpx.Response) -> httpx.Response:
        operation, _ = self.operation(request)
        if operation is None or self.current is None:
            return response
        who = request.headers.get("authorization", "") + "|" + request.url.host
        who += "|" + str(request.url.port)
        who = hashlib.sha256(who.encode()).hexdigest()[:12]
        ctype = response.headers.get("content-type", "")
        body: Any = None
        if "json" in ctype and response.content:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
        previous = self._history.get((operation, who))
        last = self._last_other.get(operation)
        other = last[1] if last is not None and last[0] != who else None
        if body is not None:
            self._history[(operation, who)] = body
            self._last_other[operation] = (who, body)
        if self.mutant is None:
            self._record(operation, body, previous, other)
            return response
        m = self.mutant
        if m.operation != operation or self.current not in m.tests:
            return response
        return self._apply(m, request, response, body=body, previous=previous, other=other)

    def _record(self, operation: str, body: Any, previous: Any, other: Any) -> None:
        seen = self._seen.setdefault(operation, {"status": {""}, "delay": {""}})
        if body is not None:
            found = applicable(
                body, previous=previous, other=other, checkpointed=_checkpointed(body)
            )
            for operator, paths in found.items():
                seen.setdefault(operator, set()).update(paths)

    def _apply(
        self,
        m: Mutant,
        request: httpx.Request,
        response: httpx.Response,
        *,
        body: Any,
        previous: Any,
        other: Any,
    ) -> httpx.Response:
        status, content = response.status_code, response.content
        if m.operator == "delay":
            count = self._delayed.get(str(self.current), 0)
            if count >= DELAYED_RESPONSES:
                return response
            self._delayed[str(self.current)] = count + 1
            time.sleep(DELAY_SECONDS)
        elif m.operator == "status":
            status = self.other_status(m.operation, status)
        else:
            if body is None:
                return response
            mutated = mutate(m.operator, body, m.path, previous=previous, other=other)
            if mutated is None:
                return response
            content = json.dumps(mutated, ensure_ascii=False).encode("utf-8")
        with self.out.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": self.current, "fired": m.id}) + "\n")
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-length", "content-encoding", "transfer-encoding")
        ]
        return httpx.Response(status, headers=headers, content=content, request=request)


class _Transport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, proxy: WireProxy) -> None:
        self._inner = inner
        self._proxy = proxy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        response.read()
        response.close()
        return self._proxy.handle(request, response)

    def close(self) -> None:
        self._inner.close()
