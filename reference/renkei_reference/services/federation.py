"""The reference federation: every party of one deployment, wired together.

Each party lives in its own module and holds only what the spec lets it hold
(items 6, 8, 9, 24): ``numbering`` (the conversion table, no key),
``registry`` (residents and their 4 items), ``hub`` (keys, ID codes, patterns,
open linkages, its log).  This module only wires them and keeps the test-mode
credentials.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..core.codes import ResidentCode
from ..core.errors import PermissionDeniedError, UnauthenticatedError
from ..core.record_seal import record_key
from .auditor.auditor import AuditorService
from .clock import Clock, ControllableClock
from .hub import Agency, Hub, Role
from .numbering.authority import NumberingAuthority
from .numbering.table import NumberingTable
from .registry.registry import FourItems, Removal, ResidentRegistry
from .registry.store import RegistryStore
from .store.entry_keys import EntryKeys, index_tag_key
from .store.group_commit import GroupCommitStore
from .store.keystore import KeyStore, MemoryKeyStore
from .store.log_store import LogStore, MemoryLogStore, SealedRecords
from .store.transit_vault import TransitVault
from .web.pki import OPERATOR

__all__ = [
    "Agency",
    "Federation",
    "FourItems",
    "Hub",
    "NumberingAuthority",
    "Removal",
    "ResidentRegistry",
    "Role",
]


CONTROL, CLOCK_OFFSET = "control", "clock-offset"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Federation:
    """All parties of one reference deployment, wired together."""

    def __init__(
        self,
        clock: Clock,
        keys: KeyStore | None = None,
        numbering: NumberingTable | None = None,
        *,
        log_store: LogStore | None = None,
        log_signer: Ed25519PrivateKey | None = None,
        state_dir: Path | None = None,
        registry_store: RegistryStore | None = None,
        adopt_state: bool = False,
    ) -> None:
        self.clock = clock
        self.state_dir = state_dir  # where durable parties keep files (None: in memory)
        self.keys = keys or MemoryKeyStore(clock.now())
        self.registry = ResidentRegistry(registry_store)
        self.numbering = NumberingAuthority(clock, numbering)
        self.log_store: LogStore = log_store or MemoryLogStore()
        signer = log_signer or Ed25519PrivateKey.generate()
        self._records = SealedRecords(self.log_store, record_key(signer.private_bytes_raw()))
        if isinstance(clock, ControllableClock):  # before the hub expires what is due
            self.restore_clock(clock)
        self.transit_vault: TransitVault | None = None
        if state_dir is not None and isinstance(self.log_store, GroupCommitStore):
            # log entries sealed at rest, purged by their key (RK-RET-003)
            tag_key = index_tag_key(signer.private_bytes_raw())
            self.log_store.seal_entries(EntryKeys(state_dir, tag_key))
            # answers in transit sealed at rest, erased by their key (RK-FLOW-002)
            self.transit_vault = TransitVault(state_dir / "transit.keys", self.log_store.barrier)
            self.log_store.before_commit.append(self.transit_vault.sync)
        self.hub = Hub(
            self.registry,
            self.keys,
            clock,
            log_signer=signer,
            log_store=self.log_store,
            transit_vault=self.transit_vault,
            adopt_state=adopt_state,
        )
        self.auditor = AuditorService(self.hub, clock)  # the third-party body's analyses
        # SHA-256 of each test-mode credential -> agency_id: the hub's agency book
        # keeps them under its sealed state digest, so that a restarted hub knows
        # its callers and a replaced credential put back is refused (RK-LOG-010)
        self._credentials = self.hub.agency_book.credentials

    def register(self, agency: Agency) -> str:
        """Register an organisation; its new credential replaces any earlier one
        (in the step that logs the registration)."""
        token = secrets.token_urlsafe(24)
        self.hub.register_agency(agency, credential_digest=_digest(token))
        return token

    def restore_clock(self, clock: ControllableClock) -> None:
        """Test mode: the control clock's offset from the wall clock outlives a restart."""
        offset = dict(self._records.items(CONTROL)).get(CLOCK_OFFSET)
        if offset is not None:
            clock.set(datetime.now(UTC) + timedelta(seconds=float(offset)))

    def clock_moved(self, clock: ControllableClock) -> None:
        """Test mode: remember the control clock's offset (``restore_clock``)."""
        offset = (clock.now() - datetime.now(UTC)).total_seconds()
        self._records.put(CONTROL, CLOCK_OFFSET, repr(offset))

    def authenticate(self, token: str | None) -> Agency:
        agency_id = self._credentials.get(_digest(token or ""))
        if agency_id is None:
            raise UnauthenticatedError(
                "unauthenticated",
                "this interface needs an agency credential (the client certificate in production)",
                "RK-ARCH-002",
            )
        return self.hub.agencies[agency_id]

    def authenticate_certified(
        self, identity: str | None, token: str | None, *, bearer_stands_in: bool
    ) -> Agency:
        """The caller on a mutual-TLS connection (RK-ARCH-003).

        ``identity`` is what the verified client certificate certifies (an
        agency id, ``pki.OPERATOR`` or None).  An agency certificate *is* the
        caller; a bearer credential on the same connection must name the same
        organisation.  Only the conformance operator's certificate, and only in
        test mode (``bearer_stands_in``), lets the bearer credential stand in.
        """
        if identity == OPERATOR and bearer_stands_in:
            return self.authenticate(token)
        if identity is None or identity == OPERATOR:
            raise UnauthenticatedError(
                "unauthenticated",
                "the client certificate certifies no organisation of this federation",
                "RK-ARCH-003",
            )
        if token is not None:
            claimed = self.authenticate(token).agency_id
            if claimed != identity:
                raise PermissionDeniedError(
                    "certificate-identity-mismatch",
                    f"the client certificate certifies {identity!r} "
                    f"but the credential names {claimed!r}",
                    "RK-ARCH-003",
                )
        agency = self.hub.agencies.get(identity)
        if agency is None:
            raise UnauthenticatedError(
                "unauthenticated",
                f"the organisation certified by the client certificate ({identity!r}) "
                "is not registered",
                "RK-ARCH-003",
            )
        return agency

    def load_residents(
        self,
        rows: list[tuple[ResidentCode, FourItems, ResidentCode | None]],
        removals: dict[str, Removal] | None = None,
    ) -> int:
        """Register residents; a row with a previous code is a change of resident
        code (item 8), which the registry records, the numbering authority follows
        (RK-NUM-008) and the hub absorbs with an alias (RK-IDC-003).  A resident
        named in ``removals`` (by resident code) is removed (除票, RK-BND-009)."""
        removals = removals or {}
        plain: list[tuple[ResidentCode, FourItems]] = []  # loaded in one transaction
        for code, items, previous in rows:
            if previous is None:
                plain.append((code, items))
                continue
            if plain:  # the rows before a change of code, in their order
                self.registry.load(plain, removals)
                plain = []
            self.registry.change_code(previous, code, items, removals.get(code.value))
            if self.numbering.has_number(previous):
                self.numbering.change_resident_code(previous, code)
            self.hub.resident_code_changed(previous, code)
        if plain:
            self.registry.load(plain, removals)
        return len(rows)

    def close(self) -> None:
        """Commit what the log store has queued and close the durable stores."""
        self.log_store.close()
        if self.transit_vault is not None:
            self.transit_vault.close()
        self.registry.close()
        self.numbering.close()

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        return {
            **self.hub.dump(),
            **self.numbering.dump(),
            **self.registry.dump(),
            **self.auditor.dump(),
        }
