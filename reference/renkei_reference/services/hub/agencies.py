"""The organisations registered at the hub and their roles (RK-ARCH-002, RK-BND-004, RK-LNK-006)."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass

from ...core.codes import AgencyId
from ..store.log_store import SealedRecords

__all__ = ["AUDITOR_UNIT", "Agency", "AgencyBook", "Role"]

AUDITOR_UNIT = AgencyId("renkei.auditor")
"""The link-code unit of the auditor's pseudonyms (``person_ref``, RK-AUD-001)."""


class Role(enum.StrEnum):
    """What a registered organisation may do at the hub."""

    AGENCY = "agency"
    MUNICIPALITY = "municipality"  # also serves persons at the counter (RK-PORT-005)
    AUDITOR = "auditor"  # the third-party body (item 27)
    PRIVATE_BODY = "private-body"  # binds and links only with consent (RK-BND-004)
    PORTAL = "portal"  # My Portal, reading for the person (item 23); never registered


@dataclass(frozen=True, slots=True)
class Agency:
    """A registered organisation; ``unit`` is its link-code unit (RK-LNK-006): the
    agency itself by default, or a sector subsystem shared by several (item 12)."""

    agency_id: str
    name: str
    role: Role = Role.AGENCY
    link_code_unit: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "role", Role(self.role))
        AgencyId(self.agency_id)
        AgencyId(self.link_code_unit or self.agency_id)

    @property
    def unit(self) -> AgencyId:
        return AgencyId(self.link_code_unit or self.agency_id)


AGENCY = "agency"


class AgencyBook:
    """The registered organisations, by id, kept in the durable store (space
    ``agency``) so that a restarted hub still knows who may call it."""

    def __init__(self, records: SealedRecords) -> None:
        self._records = records
        self.by_id: dict[str, Agency] = {
            k: Agency(**json.loads(v)) for k, v in records.items(AGENCY)
        }

    def register(self, agency: Agency) -> None:
        self.by_id[agency.agency_id] = agency
        self._records.put(AGENCY, agency.agency_id, json.dumps(asdict(agency)))

    def name(self, agency_id: str) -> str:
        """The registered name, or the id of an organisation not registered."""
        agency = self.by_id.get(agency_id)
        return agency.name if agency else agency_id
