"""The agency node's wire interface (profile ``agency-node``).

Operations of specs/openapi/renkei.yaml (tag ``agency-node``), served by each node:

* ``GET /agency/access-logs`` — the agency's share of the log (⑦–⑫ with the
  hub's serial ①), paged by the node's serial, read-only, for the auditor
  (RK-AUD-001, RK-AGN-005);
* ``GET /agency/denials`` — the attempts its designation refused (RK-AGN-001),
  for the auditor (RK-AUD-001) and its rule ``outside-designation`` (RK-AUD-003);
* ``GET /agency/admin-logs`` — the node's administrative log: legal holds placed
  and lifted, the auditor's reads (RK-AGN-006), each attributed to the caller;
* ``POST /agency/legal-holds``, ``DELETE /agency/legal-holds/{hold_id}`` — the
  auditor's legal holds on the node's log (RK-RET-002, RK-AGN-005);
* ``POST /agency/applications``, ``GET /agency/applications/{application_id}`` —
  My Portal brings a person's separate application for ⑪/⑫ (item 26) and later
  fetches its state; the agency's designated staff grant or refuse it at their
  terminal (``AgencyNode.decide``; in test mode ``/control/agency-node/
  applications/{id}/decision``), and only then are ⑪/⑫ released (RK-PORT-004).

Callers authenticate with a credential the node was configured to accept, or
over mutual TLS with the client certificate (RK-ARCH-003): the organisation it
certifies maps to a role (``identities``).  ``routers`` adds interfaces such as
the node's test-mode control interface (services/agency_node/control.py).
"""

from collections.abc import Iterable, Mapping
from datetime import UTC
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from ...core.admin_log import AdminEvent
from ...core.errors import CallerError, PermissionDeniedError, UnauthenticatedError
from ...core.retention import HoldScope, LegalHold
from ..web.auth_first import AuthFirstRoute, authenticates
from ..web.models import LegalHoldIn
from ..web.pki import certified_identity
from ..web.problems import install_body_guard, install_problem_handlers
from ..web.tls import peer_certificate
from . import AgencyNode

__all__ = ["create_agency_app"]


class ApplicationIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    application_id: Annotated[str, Field(min_length=1, max_length=128)]
    linkage_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]],
        Field(min_length=1, max_length=1000),
    ]
    items: Annotated[list[Literal["content", "use"]], Field(min_length=1, max_length=2)]
    channel: Literal["portal", "counter"] = "portal"


def create_agency_app(
    node: AgencyNode,
    credentials: dict[str, str],
    *,
    identities: Mapping[str, str] | None = None,
    routers: Iterable[APIRouter] = (),
) -> FastAPI:
    """``credentials``: accepted bearer credential → role (``auditor`` or ``portal``);
    ``identities``: organisation certified by a client certificate → role."""
    app = FastAPI(title=f"renkei agency node {node.agency_id}", docs_url=None, redoc_url=None)
    install_problem_handlers(app)
    # RK-ARCH-002: every route authenticates its caller before the body is judged
    app.router.route_class = AuthFirstRoute
    install_body_guard(app, after_authentication=True)

    def role(*allowed: str) -> Any:
        @authenticates  # RK-ARCH-002: 401/403 before 415 or a body that is not JSON
        async def check(request: Request) -> str:
            """The caller as the node's administrative log names it (RK-AGN-006):
            the organisation its certificate certifies, or the role of a bearer
            credential (which names no organisation)."""
            pem = peer_certificate(request.scope)
            name: str | None = None
            if pem is not None:  # mutual TLS: the certificate is the caller (RK-ARCH-003)
                name = certified_identity(pem)  # another organisation: no role here
                who = (identities or {}).get(name or "", "agency" if name else None)
            else:
                authorization = request.headers.get("authorization") or ""
                token = authorization.removeprefix("Bearer ").strip()
                who = credentials.get(token)
            if who is None:
                raise UnauthenticatedError(
                    "unauthenticated", "this node needs a credential it knows", "RK-ARCH-002"
                )
            if who not in allowed:
                raise PermissionDeniedError(
                    "forbidden-role", f"the {who} role may not use this interface", "RK-AUD-001"
                )
            return name or who

        return check

    Auditor = Annotated[str, Depends(role("auditor"))]
    After = Annotated[int, Query(ge=0, le=2**62)]
    Limit = Annotated[int, Query(ge=1, le=10_000)]

    def read(who: str, log: str, after: int, limit: int, n: int) -> None:
        """RK-AGN-006: every read of the node's logs by the auditor is logged."""
        node.log_store.record_admin(
            AdminEvent.AUDITOR_READ, who, log=log, after=after, limit=limit, entries=n
        )

    def paged(key: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        page: dict[str, Any] = {"agency_id": node.agency_id, key: rows}
        if rows:
            page["next_after"] = rows[-1]["serial"]
        return page

    @app.get("/agency/access-logs")
    async def access_logs(who: Auditor, after: After = 0, limit: Limit = 1000) -> dict[str, Any]:
        entries = node.auditor_entries(after, limit)
        read(who, "access", after, limit, len(entries))
        return paged("entries", entries)

    @app.get("/agency/denials")
    async def denials(who: Auditor, after: After = 0, limit: Limit = 1000) -> dict[str, Any]:
        """RK-AGN-001, RK-AUD-001: the attempts the designation refused."""
        rows = node.log_store.denials(after, limit)
        read(who, "denials", after, limit, len(rows))
        return paged("denials", rows)

    @app.get("/agency/admin-logs")
    async def admin_logs(who: Auditor, after: After = 0, limit: Limit = 1000) -> dict[str, Any]:
        """RK-AGN-006: holds and reads; the read itself is then logged, as the next entry."""
        rows = node.log_store.admin_page(after, limit)
        read(who, "admin", after, limit, len(rows))
        return paged("entries", rows)

    @app.post("/agency/legal-holds", status_code=201)
    async def place_hold(body: LegalHoldIn, who: Auditor) -> dict[str, Any]:
        """RK-RET-002 on the node's log (RK-AGN-005): no purge of what it covers."""
        scope = body.scope
        if scope.person_ref is not None:
            raise CallerError(
                "validation-error",
                "an agency node's log names no person the hub resolves: scope a hold on it "
                "by serials, agency, pattern, linkages or a period",
                "RK-AGN-005",
            )
        try:
            hold_scope = HoldScope(
                serials=(scope.serials.first, scope.serials.last) if scope.serials else None,
                pattern_id=scope.pattern_id,
                agency=scope.agency_id,
                linkage_ids=frozenset(scope.linkage_ids) if scope.linkage_ids else None,
                not_before=scope.from_.astimezone(UTC) if scope.from_ else None,
                before=scope.to.astimezone(UTC) if scope.to else None,
            )
        except ValueError as exc:
            raise CallerError("validation-error", str(exc), "RK-RET-002") from exc
        hold = node.log_store.place_hold(who, body.reason, hold_scope, body.case_reference)
        return _hold_view(hold, body.scope.model_dump(mode="json", by_alias=True))

    @app.delete("/agency/legal-holds/{hold_id}", status_code=204)
    async def lift_hold(
        hold_id: Annotated[str, Path(min_length=1, max_length=128)], who: Auditor
    ) -> Response:
        node.log_store.lift_hold(hold_id, who)
        return Response(status_code=204)

    Portal = Annotated[str, Depends(role("portal"))]

    @app.post("/agency/applications", status_code=202)
    async def apply(body: ApplicationIn, who: Portal) -> dict[str, Any]:
        """RK-PORT-004: a person's separate application, brought by My Portal; it
        waits for designated staff (``submitted``)."""
        return node.apply(
            body.application_id,
            list(body.linkage_ids),
            set(body.items),
            applicant=who,
            channel=body.channel,
        )

    @app.get("/agency/applications/{application_id}")
    async def application(
        application_id: Annotated[str, Path(min_length=1, max_length=128)], _: Portal
    ) -> dict[str, Any]:
        """The application's state, and the released ⑪/⑫ once granted."""
        return node.application(application_id)

    for router in routers:
        app.include_router(router)
    return app


def _hold_view(hold: LegalHold, scope: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI ``LegalHold``: the hold with the scope as the auditor gave it."""
    view: dict[str, Any] = {
        "hold_id": hold.hold_id,
        "reason": hold.reason,
        "scope": {k: v for k, v in scope.items() if v is not None},
        "placed_by": hold.placed_by,
        "placed_at": hold.placed_at.isoformat(),
    }
    if hold.case_reference is not None:
        view["case_reference"] = hold.case_reference
    return view
