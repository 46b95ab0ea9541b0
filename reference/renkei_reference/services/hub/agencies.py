"""The organisations registered at the hub and their roles (RK-ARCH-002, RK-BND-004, RK-LNK-006)."""

from __future__ import annotations

import enum
import json
from dataclasses import asdict, dataclass

from ...core.codes import AgencyId
from ..store.log_store import SealedRecords

__all__ = ["AUDITOR_UNIT", "CREDENTIAL", "Agency", "AgencyBook", "Role"]

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
CREDENTIAL = "credential"


class AgencyBook:
    """The registered organisations, by id, kept in the durable store (space
    ``agency``) so that a restarted hub still knows who may call it; and the
    SHA-256 digests of their test-mode bearer credentials (space ``credential``,
    digest → agency id), written in the step that registers the organisation.
    Both spaces are under the sealed digest of the state records
    (services.hub.startup, RK-LOG-010): a credential replaced by a
    re-registration and put back from an earlier copy changes the digest's sums,
    and the hub refuses to start rather than let the old credential work again."""

    def __init__(self, records: SealedRecords) -> None:
        self._records = records
        self.by_id: dict[str, Agency] = {
            k: Agency(**json.loads(v)) for k, v in records.items(AGENCY)
        }
        self.credentials: dict[str, str] = dict(records.items(CREDENTIAL))

    def register(self, agency: Agency, credential_digest: str | None = None) -> None:
        """Register ``agency``; a ``credential_digest`` replaces its earlier ones."""
        self.by_id[agency.agency_id] = agency
        self._records.put(AGENCY, agency.agency_id, json.dumps(asdict(agency)))
        if credential_digest is None:
            return
        for digest, aid in list(self.credentials.items()):
            if aid == agency.agency_id:
                del self.credentials[digest]
                self._records.put(CREDENTIAL, digest, None)
        self.credentials[credential_digest] = agency.agency_id
        self._records.put(CREDENTIAL, credential_digest, agency.agency_id)

    def name(self, agency_id: str) -> str:
        """The registered name, or the id of an organisation not registered."""
        agency = self.by_id.get(agency_id)
        return agency.name if agency else agency_id
