"""An agency node's test-mode interfaces: discovery, and control for the kit.

A vendor's agency node is driven black-box through these (specs/openapi,
tag ``control``; RK-CTL-001 test mode only, RK-CTL-007 the operator alone):

* ``GET /control/agency-node/fixtures`` — the synthetic residents the node's
  business system knows, their record numbers and kinds, and one designated
  staff member and terminal, so the kit can build a world around the node;
* ``POST /control/agency-node/bind`` — a staff member binds the node's records
  at the hub (RK-BND-007);
* ``POST /control/agency-node/queries`` and ``GET …/linkages/{id}`` — a staff
  member at a terminal queries and reads the answer, as the business terminal
  would (RK-AGN-001 decides; RK-AGN-002 attributes);
* ``GET /control/agency-node/applications`` and ``POST …/applications/{id}/decision``
  — the persons' ⑪/⑫ applications waiting, and a staff member's grant or
  refusal at a terminal, as the agency's business terminal would (RK-PORT-004);
* ``PUT /control/agency-node/fault`` — the fault switch: ``down``, ``slow``,
  ``garbage`` or ``none`` (issue 5);
* ``PUT /control/agency-node/hub`` — point the node at another hub, the kit's
  simulated one for node-only certification (RK-CTL-008); ``connect`` (given by
  whoever runs the node) makes the client that reaches it.

Handlers are plain ``def``: they call the hub over the wire, and FastAPI runs
them on its thread pool, off the event loop that may be serving the hub.
"""

import base64
import ssl
from collections.abc import Callable
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, BackgroundTasks, Depends, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ...core.agency import CorrespondenceTable
from ...core.errors import CallerError
from ..app import CATALOG_VERSION, INTERFACE_VERSION
from ..web.auth_first import AuthFirstRoute, authenticates
from ..web.tls import require_operator
from . import AgencyNode, Fault

__all__ = ["agency_control_router", "agency_discovery_router"]

Short = Annotated[str, Field(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StaffIn(_Strict):
    staff_id: Short
    terminal: Short


class StaffQueryIn(StaffIn):
    record_no: Short
    provider: Short
    pattern_id: Short
    information_kind: Short
    use: Annotated[str, Field(max_length=2000)]


class DecisionIn(StaffIn):
    decision: Literal["grant", "refuse"]


class FaultIn(_Strict):
    fault: Fault


_HUB_URL = r"^https?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$"


class HubIn(_Strict):
    url: Annotated[str, Field(max_length=2048, pattern=_HUB_URL)]
    ca_certificate: Annotated[
        str | None, Field(max_length=65536, pattern=r"^-----BEGIN CERTIFICATE-----")
    ] = None
    credential: Annotated[str | None, Field(min_length=1, max_length=512, pattern=r"^[!-~]+$")] = (
        None
    )


Connect = Callable[[str, str | None, str | None], httpx.Client]
"""``(url, CA PEM, credential)`` → the client that reaches that hub as this node:
over mutual TLS with the node's own certificate for ``https://`` (RK-CTL-008)."""


def agency_discovery_router(node: AgencyNode, *, test_mode: bool, version: str) -> APIRouter:
    """RK-WIRE-005: the node announces the agency-node profile."""
    r = APIRouter()

    @r.get("/.well-known/renkei")
    async def discovery() -> dict[str, Any]:
        return {
            "implementation": f"renkei reference agency node {node.agency_id} {version}",
            "profiles": ["agency-node"],
            "catalog_version": CATALOG_VERSION,
            "interface_version": INTERFACE_VERSION,
            "test_mode": test_mode,
            "options": {"delivery": "pull"},
        }

    return r


def agency_control_router(
    node: AgencyNode, fixtures: dict[str, Any], *, connect: Connect | None = None
) -> APIRouter:
    """The node's control interface (test mode; RK-CTL-001, RK-CTL-007); with
    ``connect``, it can be pointed at another hub (RK-CTL-008)."""

    @authenticates  # RK-ARCH-002: the operator's certificate before the body is judged
    async def operator_only(request: Request) -> None:
        require_operator(request.scope)

    r = APIRouter(
        prefix="/control/agency-node",
        tags=["control"],
        dependencies=[Depends(operator_only)],
        route_class=AuthFirstRoute,
    )

    @r.get("/fixtures")
    async def get_fixtures() -> dict[str, Any]:
        return {"agency_id": node.agency_id, **fixtures, "fault": node.fault.value}

    @r.post("/bind")
    def bind(body: StaffIn) -> dict[str, Any]:
        # A kit's world follows a reset of the hub, whose keys changed: the
        # table is started afresh, as the enrolment of a new node would be.
        node.table = CorrespondenceTable()
        records = [
            {"record_no": rec["record_no"], **rec["four_items"]} for rec in fixtures["records"]
        ]
        node.bind(body.staff_id, body.terminal, records)
        # What the table holds now, not what the hub decided: a link code the hub
        # bound to a second record is not entered, and both records are on the
        # review list (RK-BND-008).
        review = sorted({str(r["record_no"]) for r in node.records_for_review()})
        return {"bound": len(node.table.by_record), "review": len(review), "review_records": review}

    @r.post("/queries", status_code=202)
    def query(body: StaffQueryIn) -> dict[str, Any]:
        linkage_id = node.query(
            body.staff_id,
            body.terminal,
            record_no=body.record_no,
            provider=body.provider,
            pattern_id=body.pattern_id,
            information_kind=body.information_kind,
            use=body.use,
        )
        return {"linkage_id": linkage_id}

    @r.get("/linkages/{linkage_id}")
    def read(
        linkage_id: Annotated[str, Path(min_length=1, max_length=128)],
        staff_id: Annotated[str, Query(min_length=1, max_length=128)],
        terminal: Annotated[str, Query(min_length=1, max_length=128)],
        after: BackgroundTasks,
    ) -> dict[str, Any]:
        payload = node.read_answer(staff_id, terminal, linkage_id)
        if payload is not None:  # acknowledged to the hub once this response is sent
            after.add_task(node.acknowledge_answer, linkage_id)
        return {
            "linkage_id": linkage_id,
            "answer": None if payload is None else {"payload": base64.b64encode(payload).decode()},
        }

    @r.get("/applications")
    async def pending() -> dict[str, Any]:
        """The persons' applications waiting for a decision, as the staff's queue shows them."""
        return {"applications": node.applications("submitted")}

    @r.post("/applications/{application_id}/decision")
    async def decide(
        application_id: Annotated[str, Path(min_length=1, max_length=128)], body: DecisionIn
    ) -> dict[str, Any]:
        """Designated staff at a terminal grant or refuse (RK-AGN-001, RK-PORT-004)."""
        return node.decide(
            body.staff_id, body.terminal, application_id, grant=body.decision == "grant"
        )

    @r.put("/hub")
    def point_at_hub(body: HubIn) -> dict[str, Any]:
        """RK-CTL-008: every request of the node's linkage work goes to ``url`` from now on."""
        if connect is None:
            raise CallerError(
                "validation-error", "this node cannot be pointed at another hub", "RK-CTL-008"
            )
        https = body.url.startswith("https://")
        if https != (body.ca_certificate is not None) or (https and body.credential):
            raise CallerError(
                "validation-error",
                "an https:// hub needs ca_certificate (and no credential); an http:// hub none",
                "RK-CTL-008",
            )
        try:
            client = connect(body.url, body.ca_certificate, body.credential)
        except (ssl.SSLError, ValueError, TypeError) as exc:  # not a usable PEM
            raise CallerError(
                "validation-error", f"the hub's CA certificate is unusable: {exc}", "RK-CTL-008"
            ) from exc
        node.hub.repoint(client, body.url, body.credential).close()
        return {"hub_url": node.hub.hub_url}

    @r.put("/fault")
    async def set_fault(body: FaultIn) -> dict[str, Any]:
        node.fault = body.fault
        return {"fault": node.fault.value, "held": len(node.held())}

    return r
