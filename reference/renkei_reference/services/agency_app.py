"""The agency node's wire interface (profile ``agency-node``).

Two operations of specs/openapi/renkei.yaml, served by each node:

* ``GET /agency/access-logs`` — the agency's share of the log (⑦–⑫ with the
  hub's serial ①), paged by the node's serial, read-only, for the auditor
  (RK-AUD-001, RK-AGN-005);
* ``POST /agency/applications/{application_id}/grant`` — My Portal forwards a
  person's application for ⑪/⑫; the node releases what its policy allows
  (RK-PORT-004), idempotently per application.

Callers authenticate with a credential the node was configured to accept (the
client certificate in production, RK-ARCH-003); each maps to a role.
"""

from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from ..core.errors import PermissionDeniedError, UnauthenticatedError
from .agency_node import AgencyNode
from .problems import install_body_guard, install_problem_handlers

__all__ = ["create_agency_app"]


class GrantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    linkage_ids: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=128)]],
        Field(min_length=1, max_length=1000),
    ]
    items: Annotated[list[str], Field(min_length=1)]
    channel: str | None = None


def create_agency_app(node: AgencyNode, credentials: dict[str, str]) -> FastAPI:
    """``credentials``: accepted bearer credential → role (``auditor`` or ``hub``)."""
    app = FastAPI(title=f"renkei agency node {node.agency_id}", docs_url=None, redoc_url=None)
    install_problem_handlers(app)
    install_body_guard(app)

    def role(*allowed: str) -> Any:
        async def check(authorization: Annotated[str | None, Header()] = None) -> str:
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

    return app
