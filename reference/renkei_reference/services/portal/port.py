"""What My Portal needs of the hub, as a port (RK-PORT-002, RK-PORT-003, RK-LOG-006).

My Portal is its own party (item 26: it faces the internet); it reaches the hub
only through ``HubPort``, four calls it could equally make over the wire:

* ``bind_person`` — the portal's link code for the person whose card-certified
  4 items an exact, unique binding names (RK-BND-002), as a binding request of
  the portal's own: logged in the administrative log and refused with 503
  while the hub's store cannot write, like any agency's (RK-BND-001, RK-LOG-001);
* ``person_entries`` — the hub-held entries about the person behind that link
  code, fetched for each read, never kept (RK-PORT-002/003);
* ``agency_name`` — a registered organisation's name, for display;
* ``log_disclosure`` — each disclosure the portal makes, in the hub's
  administrative log (RK-LOG-006).

``InProcessHubPort`` is the reference's adapter over the ``Hub`` object of the
same process.
"""

from __future__ import annotations

from typing import Protocol

from ...core.access_log import AccessLogEntry
from ...core.admin_log import Detail
from ..hub import Agency, Hub, Role
from ..registry.registry import FourItems

__all__ = ["PORTAL_AGENCY", "HubPort", "InProcessHubPort"]

PORTAL_AGENCY = Agency("renkei.portal", "マイポータル", Role.PORTAL)
"""My Portal is a link-code unit of its own (RK-PORT-003 decision)."""


class HubPort(Protocol):
    def bind_person(self, items: FourItems) -> str | None: ...

    def person_entries(self, link_code: str) -> list[AccessLogEntry]: ...

    def agency_name(self, agency_id: str) -> str: ...

    def log_disclosure(self, details: dict[str, Detail]) -> None: ...


class InProcessHubPort:
    """``HubPort`` over the hub of this process."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub

    def bind_person(self, items: FourItems) -> str | None:
        (bound,) = self._hub.bind_all(PORTAL_AGENCY, [("portal-login", items)])
        return bound.link_code if bound.decision == "bound" else None

    def person_entries(self, link_code: str) -> list[AccessLogEntry]:
        return self._hub.person_entries(PORTAL_AGENCY.unit, link_code)

    def agency_name(self, agency_id: str) -> str:
        agency = self._hub.agencies.get(agency_id)
        return agency.name if agency is not None else agency_id

    def log_disclosure(self, details: dict[str, Detail]) -> None:
        self._hub.log_admin_event("my-portal-disclosure", details)
