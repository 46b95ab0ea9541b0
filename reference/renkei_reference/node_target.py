"""The reference's agency node alone, as an in-process target (``reference-node``).

What a vendor who builds only an agency node (中間サーバー) brings to the kit: the
node and nothing else.  The kit plays the hub (its hub double) and points the node
at it through the node's test-mode control interface (``PUT
/control/agency-node/hub``, RK-CTL-008); the node then binds, queries and answers
there, over loopback HTTP with a bearer credential.

One node per variant is built on first use and kept for the process (the kit opens
several clients on one target); its delivery loop answers every 0.2 s (RK-AGN-003).
Its business system is an in-memory table of the demo residents' records, some of
their 4 items held in legacy forms (RK-AGN-007).  The auditor and an ordinary agency
reach its ``/agency`` interface with the bearer credentials of ``NODE_CREDENTIALS``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import httpx

from .core.agency import Action, Designation, StaffMember
from .services.agency_node import AgencyNode, Answer, DeliveryLoop, HubConnection
from .services.agency_node.app import create_agency_app
from .services.agency_node.control import agency_control_router, agency_discovery_router
from .services.clock import SystemClock
from .services.federation_serve import CLERK, SERVICE, NodeSpec, node_fixtures

__all__ = ["AGENCY_ID", "NODE_CREDENTIALS", "NodeParts", "build_node", "create_node_app"]

AGENCY_ID = "ref.node"
SPEC = NodeSpec(AGENCY_ID, "参照実装の中間サーバー（試験）", "memory", "local-tax", "REF")
NODE_CREDENTIALS = {"kit.auditor": "ref-node-auditor-credential", "kit.pension": "ref-node-agency"}
"""Bearer credentials the in-process node accepts, by the kit's party they stand for."""
NOWHERE = "http://127.0.0.1:9/hub"  # no hub until the kit points the node at one


class MemorySystem:
    """A business system in memory: each record's content of the one kind held."""

    def __init__(self, records: list[dict[str, Any]], kind: str) -> None:
        self._content = {
            r["record_no"]: f'{{"{kind}":{120_000 + 1_000 * n}}}' for n, r in enumerate(records)
        }
        self._kind = kind

    def fetch(self, record_no: str, information_kind: str) -> Answer | None:
        content = self._content.get(record_no)
        if content is None or information_kind != self._kind:
            return None
        return Answer(content.encode(), f"{information_kind} {record_no}")


class NodeParts:
    """The node, its app and its delivery loop (variants change the node before use)."""

    def __init__(self, patch: Callable[[AgencyNode], None] | None = None) -> None:
        fixtures = node_fixtures(SPEC)
        answer_only = StaffMember(
            SERVICE[0], "自動応答", "連携サーバー", frozenset({Action.ANSWER})
        )
        clerk = StaffMember(CLERK[0], "連携 担当", "情報連携課", frozenset(Action))
        designation = Designation(
            {m.staff_id: m for m in (answer_only, clerk)}, frozenset({SERVICE[1], CLERK[1]})
        )
        self.node = AgencyNode(
            AGENCY_ID,
            HubConnection(httpx.Client(timeout=10), NOWHERE),
            designation,
            MemorySystem(fixtures["records"], SPEC.kind),
            SystemClock(),
        )
        if patch is not None:
            patch(self.node)
        self.app = create_agency_app(
            self.node,
            {NODE_CREDENTIALS["kit.auditor"]: "auditor", NODE_CREDENTIALS["kit.pension"]: "agency"},
            routers=[
                agency_discovery_router(self.node, test_mode=True, version=_version()),
                agency_control_router(self.node, fixtures, connect=_connect),
            ],
        )
        self.loop = DeliveryLoop(self.node, *SERVICE, interval=0.2, max_backoff=0.5)
        self.loop.start()


def _version() -> str:
    from . import __version__

    return __version__


def _connect(url: str, ca_pem: str | None, credential: str | None) -> httpx.Client:
    """In process the node reaches the kit's hub over loopback HTTP (RK-CTL-008)."""
    if ca_pem is not None:
        import ssl

        return httpx.Client(verify=ssl.create_default_context(cadata=ca_pem), timeout=10)
    return httpx.Client(timeout=10)


_BUILT: dict[str | None, NodeParts] = {}
_LOCK = threading.Lock()


def build_node(variant: str | None = None) -> NodeParts:
    """The process's node of ``variant`` (``None``: the reference itself)."""
    with _LOCK:
        if variant not in _BUILT:
            patch = None
            if variant is not None:
                from .known_bad_nodes import node_patch

                patch = node_patch(variant)
            _BUILT[variant] = NodeParts(patch)
        return _BUILT[variant]


def create_node_app(variant: str | None = None) -> Any:
    """The ``renkei.targets`` entry point ``reference-node`` (``reference-node@<variant>``)."""
    return build_node(variant).app
