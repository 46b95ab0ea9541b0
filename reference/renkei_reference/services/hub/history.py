"""A history of completed linkages, made by the hub's own flow (test mode only).

``POST /control/history`` (``plantLinkageHistory``, RK-CTL-001, RK-PERF-002): the
kit gives the hub a large log in seconds, where the wire would take minutes, so
that it can compare the cost of a linkage on an empty log with its cost after
the history.  Each planted linkage runs the protocol's code — approval and code
conversion of the query, delivery with link code(B), the answer, its relay and
the requester's acknowledgement — so it leaves in the log and in every other store exactly what the
same linkage made over the wire leaves; only the HTTP edge is skipped.  Work goes
in batches, as a provider pulling its deliveries would, one commit barrier a batch.
"""

from __future__ import annotations

import base64
import secrets

from ...core.errors import CallerError
from . import Hub
from .linkages import QueryIn

__all__ = ["plant_history"]

BATCH = 500
PAYLOAD = base64.b64encode(b"renkei history " * 8).decode()


def plant_history(
    hub: Hub,
    *,
    requester: str,
    provider: str,
    pattern_id: str,
    information_kind: str,
    link_codes: list[str],
    linkages: int,
) -> dict[str, int]:
    """Run ``linkages`` completed linkages from ``requester`` to ``provider``, about
    the persons of ``link_codes`` in turn; return how many."""
    asker, answerer = hub.agencies.get(requester), hub.agencies.get(provider)
    if asker is None or answerer is None:
        raise CallerError(
            "validation-error", "requester and provider are registered agencies", "RK-CTL-001"
        )
    if hub.deliveries(answerer, limit=1):
        raise CallerError(
            "validation-error",
            f"{provider} has deliveries pending: the history would take them",
            "RK-CTL-001",
        )
    tag = secrets.token_hex(8)
    for start in range(0, linkages, BATCH):
        made = []
        for i in range(start, min(start + BATCH, linkages)):
            query = QueryIn(
                requester=requester,
                provider=provider,
                pattern_id=pattern_id,
                information_kind=information_kind,
                request_id=f"history-{tag}-{i}",
                link_code=link_codes[i % len(link_codes)],
            )
            made.append(hub.query(asker, query).linkage_id)
        for delivery in hub.deliveries(answerer, limit=len(made)):
            hub.answer(answerer, delivery.linkage_id, PAYLOAD)
        for linkage_id in made:
            if hub.status(asker, linkage_id)[1] is not None:
                hub.acknowledge(asker, linkage_id)  # the requester has it (RK-FLOW-002)
        hub.log_barrier().result()
    return {"planted": linkages}
