"""The linkage flow's operations, as the hub's application answers them.

One home for what ``POST /hub/queries``, ``GET /hub/linkages/{id}``, ``DELETE
/hub/linkages/{id}/answer``, ``GET /hub/deliveries``, ``POST /hub/answers`` and
``POST /hub/linkages/{id}/answer`` do once the request is parsed: the
in-process application (services/app.py) calls ``HotDesk`` from its
handlers, and the core of ``renkei serve --workers N`` calls it for the calls
its fronts make (services/front/core.py).  Bodies are rendered here, to the
bytes a response carries (what FastAPI's ``JSONResponse`` would write), so a
front sends them as they come.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request

from ...core.errors import PermissionDeniedError, RenkeiError
from ...core.instant import iso_text
from ...core.linkage import LinkageState
from .. import hub_wire as wire
from ..federation import Agency, Federation
from ..hub import QueryIn
from ..web.long_poll import Signals
from ..web.pki import certified_identity
from ..web.problems import problem_document
from ..web.tls import peer_certificate

__all__ = [
    "AGENCY_ROLES",
    "CALLS",
    "OPEN_STATES",
    "Caller",
    "HotDesk",
    "check_role",
    "credentials",
    "identify",
    "render",
]

OPEN_STATES = frozenset({LinkageState.PENDING, LinkageState.DELIVERED})
"""States in which a read may be held for the answer (RK-FLOW-009)."""

AGENCY_ROLES = ("agency", "municipality", "private-body")
"""The roles that may use the linkage flow's operations (RK-ARCH-002)."""

CALLS = ("query", "read", "acknowledge", "deliveries", "answers", "answer", "whoami")
"""The operations a front hands to the core as calls (everything else it passes
on); ``whoami`` only authenticates, for a request the front found malformed."""


_RENDER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def render(body: Any) -> bytes:
    """A JSON body as ``starlette.responses.JSONResponse`` renders it (one encoder)."""
    return _RENDER.encode(body).encode("utf-8")


Caller = tuple[bool, str | None, str | None]
"""What the edge knows of a caller: over TLS?, what its verified client certificate
certifies, the bearer credential."""


def credentials(request: Request) -> Caller:
    """The caller's credentials as the request carries them (read from the request, not
    declared as a header parameter: FastAPI then has nothing to convert)."""
    auth = request.headers.get("authorization")
    token = auth[7:].strip() if auth and auth.lower().startswith("bearer ") else None
    pem = peer_certificate(request.scope)
    return (pem is not None, certified_identity(pem) if pem else None, token)


def identify(
    fed: Federation, tls: bool, identity: str | None, token: str | None, *, test_mode: bool
) -> Agency:
    """Who calls: over mutual TLS the organisation the verified client certificate
    certifies (``identity``, RK-ARCH-003); in process or over plain HTTP the
    test-mode bearer credential (RK-ARCH-002)."""
    if not tls:
        return fed.authenticate(token)
    return fed.authenticate_certified(identity, token, bearer_stands_in=test_mode)


def check_role(agency: Agency, allowed: Sequence[str]) -> Agency:
    """RK-ARCH-002: the caller's role may use this interface."""
    if agency.role not in allowed:
        raise PermissionDeniedError(
            "forbidden-role", f"the {agency.role} role may not use this interface", "RK-ARCH-002"
        )
    return agency


class HotDesk:
    """The linkage flow's operations over the current federation (a reset replaces
    it) and the reads held for an answer (one event loop)."""

    def __init__(self, fed: Callable[[], Federation], signals: Signals) -> None:
        self.fed = fed
        self.signals = signals

    async def query(self, agency: Agency, q: QueryIn) -> bytes:
        """``POST /hub/queries`` (RK-FLOW-001): the 202's body."""
        hub = self.fed().hub
        linkage = hub.query(agency, q)
        # one turn of the event loop first: the requests handled in this turn append
        # their entries, and their receipts share one signed checkpoint (the log signs
        # once per tree size, RK-LOG-004)
        await asyncio.sleep(0)
        return render(
            {
                "linkage_id": linkage.linkage_id,
                "state": linkage.state.value,
                "deadline": iso_text(linkage.deadline),
                "serial": linkage.serial,
                "receipt": wire.receipt(hub.receipt_for(linkage.serial)),
            }
        )

    async def read(self, agency: Agency, linkage_id: str, wait: float) -> tuple[bytes, bool]:
        """``GET /hub/linkages/{id}``: the body, and whether it hands out an answer
        (a read that hands out none acknowledges nothing: it need not wait for the
        commit)."""
        # an answer is handed out on every read until acknowledged (RK-FLOW-002)
        hub = self.fed().hub
        linkage, payload, serial = hub.hand_out(agency, linkage_id)
        if payload is None and wait > 0 and linkage.state in OPEN_STATES:
            # held until the answer is in or ``wait`` seconds pass (RK-FLOW-009)
            await self.signals.wait(linkage.linkage_id, wait)
            linkage, payload, serial = hub.hand_out(agency, linkage_id)
        receipt = None
        if serial is not None:
            # one turn of the event loop first, as for a query: the reads woken by
            # one batch of answers log their entries, then share one signed checkpoint
            await asyncio.sleep(0)
            receipt = hub.receipt_for(serial)
        out: dict[str, Any] = {
            "linkage_id": linkage.linkage_id,
            "state": linkage.state.value,
            "deadline": iso_text(linkage.deadline),
        }
        if payload is not None:
            out["answer"] = {"payload": payload}
        if receipt is not None:
            out["receipt"] = wire.receipt(receipt)
        return render(out), payload is not None

    def acknowledge(self, agency: Agency, linkage_id: str) -> None:
        """``DELETE /hub/linkages/{id}/answer`` (RK-FLOW-008): its 204 waits for the
        commit of the erasure, so an acknowledged answer does not come back after a crash."""
        self.fed().hub.acknowledge(agency, linkage_id)

    def deliveries(self, agency: Agency, limit: int) -> bytes:
        """``GET /hub/deliveries`` (RK-FLOW-005)."""
        found = self.fed().hub.deliveries(agency, limit)
        return render({"deliveries": [wire.delivery(d) for d in found]})

    def answers(
        self, agency: Agency, given: Sequence[tuple[str, str] | None]
    ) -> list[dict[str, Any] | None]:
        """``POST /hub/answers`` (RK-FLOW-010): each answer decided as ``POST
        /linkages/{id}/answer`` would decide it, each with its own outcome; None in
        the place of an item the edge found malformed (it has its own problem)."""
        results: list[dict[str, Any] | None] = []
        hub = self.fed().hub
        for item in given:
            if item is None:
                results.append(None)
                continue
            linkage_id, payload = item
            try:
                linkage = hub.answer(agency, linkage_id, payload)
            except RenkeiError as exc:
                results.append({"linkage_id": linkage_id, "problem": problem_document(exc)})
                continue
            self.signals.notify(linkage.linkage_id)
            results.append({"linkage_id": linkage.linkage_id, "state": linkage.state.value})
        return results

    def answer(self, agency: Agency, linkage_id: str, payload: str) -> bytes:
        """``POST /hub/linkages/{id}/answer`` (RK-FLOW-004)."""
        linkage = self.fed().hub.answer(agency, linkage_id, payload)
        self.signals.notify(linkage.linkage_id)  # a read held for it hands it out (RK-FLOW-009)
        return render({"linkage_id": linkage.linkage_id, "state": linkage.state.value})
