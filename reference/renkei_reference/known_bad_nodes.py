"""Known-bad variants of the reference's agency node alone (target ``reference-node``).

# renkei: not-an-implementation

``renkei conformance selftest --target reference-node`` runs the kit's node-only
suite (the kit playing the hub) against the reference's node, where everything
must pass, and against each variant below, which the suite must kill.  Each
variant changes one fresh ``AgencyNode`` through its public seams (its façade
methods, its log store, its hub connection, its correspondence desk), never a
module or a class.  The traceability scan skips this file (the marker above).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .core.admin_log import AdminEvent
from .core.agency import Side
from .services.agency_node import AgencyNode, HubRefusal
from .services.federation_serve import CLERK

__all__ = ["NODE_KNOWN_BAD", "node_catalog", "node_patch"]

NodePatch = Callable[[AgencyNode], None]


@dataclass(frozen=True)
class NodeKnownBad:
    name: str
    requirement: str
    description: str
    patch: NodePatch

    def as_json(self) -> dict[str, str]:
        return {"name": self.name, "requirement": self.requirement, "description": self.description}


NODE_KNOWN_BAD: dict[str, NodeKnownBad] = {}


def _variant(name: str, requirement: str, description: str) -> Callable[[NodePatch], NodePatch]:
    def register(patch: NodePatch) -> NodePatch:
        NODE_KNOWN_BAD[name] = NodeKnownBad(name, requirement, description, patch)
        return patch

    return register


def _override(obj: object, name: str, fn: Callable[..., Any]) -> None:
    """Replace one method of one instance; ``fn`` receives the original first."""
    original = getattr(obj, name)
    setattr(obj, name, lambda *args, **kwargs: fn(original, *args, **kwargs))


def node_catalog() -> list[dict[str, str]]:
    """The ``renkei.known_bad`` entry point ``reference-node``."""
    return [v.as_json() for v in NODE_KNOWN_BAD.values()]


def node_patch(name: str) -> NodePatch:
    try:
        return NODE_KNOWN_BAD[name].patch
    except KeyError:
        known = ", ".join(sorted(NODE_KNOWN_BAD))
        raise ValueError(f"unknown known-bad node variant {name!r} (known: {known})") from None


@_variant(
    "node-sends-legacy-forms",
    "RK-AGN-007",
    "the node sends its records for binding as the business system holds them "
    "(和暦, YYYYMMDD, sex codes), without converting them",
)
def _legacy_forms(node: AgencyNode) -> None:
    def as_held(_original: Any, records: list[dict[str, str]]) -> list[dict[str, Any]]:
        wire = [
            {"record_ref": r["record_no"], **{k: v for k, v in r.items() if k != "record_no"}}
            for r in records
        ]
        return list(node.hub.call("POST", "/bindings", {"records": wire})["results"])

    _override(node.correspondence, "bind", as_held)


@_variant(
    "node-queries-for-anyone",
    "RK-AGN-001",
    "any account at any terminal may query: the node queries as its designated clerk",
)
def _open_queries(node: AgencyNode) -> None:
    _override(node, "query", lambda original, _s, _t, **kw: original(*CLERK, **kw))


@_variant(
    "node-query-unlogged",
    "RK-AGN-002",
    "the node keeps no requester entry (⑦ ⑨ ⑫) for its queries",
)
def _query_unlogged(node: AgencyNode) -> None:
    def append(original: Any, **values: Any) -> Any:
        return None if values.get("side") == Side.REQUESTER else original(**values)

    _override(node.log_store, "append", append)


@_variant(
    "node-never-answers",
    "RK-AGN-003",
    "the node never pulls its deliveries, so every linkage to it expires",
)
def _never_answers(node: AgencyNode) -> None:
    _override(node, "answer_deliveries", lambda _original, *_a: [])


@_variant(
    "node-hub-refusal-as-400",
    "RK-AGN-002",
    "a refusal by the hub reaches the node's caller as 400, not with the hub's status",
)
def _refusal_as_400(node: AgencyNode) -> None:
    def relay(original: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(*args, **kwargs)
        except HubRefusal as refusal:
            refusal.status_hint = 400
            raise

    _override(node, "query", relay)
    _override(node, "read_answer", relay)


@_variant(
    "node-query-names-the-record",
    "RK-BND-007",
    "the node's query names the person by its internal record number beside the link code",
)
def _names_the_record(node: AgencyNode) -> None:
    def call(original: Any, method: str, path: str, body: Any = None) -> Any:
        if path == "/queries" and isinstance(body, dict):
            body = {**body, "record_no": node.correspondence.record_of(body["link_code"])}
        return original(method, path, body)

    _override(node.hub, "call", call)


@_variant(
    "node-auditor-reads-unlogged",
    "RK-AGN-006",
    "the node's administrative log leaves out the auditor's reads of its logs",
)
def _reads_unlogged(node: AgencyNode) -> None:
    def record(original: Any, event: AdminEvent, actor: str, **details: Any) -> Any:
        return None if event is AdminEvent.AUDITOR_READ else original(event, actor, **details)

    _override(node.log_store, "record_admin", record)
