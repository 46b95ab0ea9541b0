"""The agency node's wire interface (profile ``agency-node``).

Two operations of specs/openapi/renkei.yaml, served by each node:

* ``GET /agency/access-logs`` — the agency's share of the log (⑦–⑫ with the
  hub's serial ①), paged by the node's serial, read-only, for the auditor
  (RK-AUD-001, RK-AGN-005);
* ``POST /agency/applications/{application_id}/grant`` — My Portal forwards a
  person's application for ⑪/⑫; the node releases what its policy allows
  (RK-PORT-004), idempotently per application.

Callers authenticate with a credential the node was configured to accept, or
over mutual TLS with the client certificate (RK-ARCH-003): the organisation it
certifies maps to a role (``identities``).  ``routers`` adds interfaces such as
the node's test-mode control interface (services/agency_control.py).
"""

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import PermissionDeniedError, UnauthenticatedError
from .agency_node import AgencyNode
from .pki import certified_identity
from .problems import install_body_guard, install_problem_handlers
from .tls import peer_certificate

__all__ = ["create_agency_app"]


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    linkage_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]],
        Field(min_length=1, max_length=1000),
    ]
    items: Annotated[list[str], Field(min_length=1)]
    channel: str | None = None


def create_agency_app(
    node: AgencyNode,
    credentials: dict[str, str],
    *,
    identities: Mapping[str, str] | None = None,
    routers: Iterable[APIRouter] = (),
) -> FastAPI:
    """``credentials``: accepted bearer credential → role (``auditor`` or ``hub``);
    ``identities``: organisation certified by a client certificate → role."""
    app = FastAPI(title=f"renkei agency node {node.agency_id}", docs_url=None, redoc_url=None)
    install_problem_handlers(app)
    install_body_guard(app)

    def role(*allowed: str) -> Any:
        async def check(
            request: Request, authorization: Annotated[str | None, Header()] = None
        ) -> str:
            pem = peer_certificate(request.scope)
            if pem is not None:  # mutual TLS: the certificate is the caller (RK-ARCH-003)
                certified = certified_identity(pem)  # another organisation: no role here
                who = (identities or {}).get(certified or "", "agency" if certified else None)
            else:
                token = (authorization or "").removeprefix("Bearer ").strip()
                who = credentials.get(token)
            if who is None:
                raise UnauthenticatedError(
                    "unauthenticated", "this node needs a credential it knows", "RK-ARCH-002"
                )
            if who not in allowed:
                raise PermissionDeniedError(
                    "forbidden-role", f"the {who} role may not use this interface", "RK-AUD-001"
                )
            return who

        return check

    @app.get("/agency/access-logs")
    async def access_logs(
        _: Annotated[str, Depends(role("auditor"))],
        after: Annotated[int, Query(ge=0, le=2**62)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        entries = node.auditor_entries(after, limit)
        page: dict[str, Any] = {"agency_id": node.agency_id, "entries": entries}
        if entries:
            page["next_after"] = entries[-1]["serial"]
        return page

    @app.post("/agency/applications/{application_id}/grant")
    async def grant(
        application_id: Annotated[str, Path(min_length=1, max_length=128)],
        body: GrantIn,
        _: Annotated[str, Depends(role("hub"))],
    ) -> dict[str, Any]:
        return node.grant(application_id, list(body.linkage_ids), set(body.items))

    for router in routers:
        app.include_router(router)
    return app
