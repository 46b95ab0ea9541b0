"""The hub (情報連携基盤): approval, code conversion, relay and its logs.

The hub holds keys, ID codes, the pattern table, open linkages and its logs —
never a Number (RK-NUM-009), never a stored link code (RK-LNK-003), never a
payload beyond transit (RK-FLOW-002), never the 4 items (RK-ARCH-004).

It is made of parts, each owning its state, over one durable ``LogStore``:

* ``agencies`` — the registered organisations and their roles;
* ``codes`` — code conversion under the keys in force (``core.conversion``),
  the aliases of changed resident codes, key rotation;
* ``patterns`` — the signed pattern table in force (RK-PAT-003);
* ``logs`` — the access and administrative logs, receipts, checkpoints;
* ``linkages`` — the linkage desk: query, delivery, answer, relay, expiry,
  durable in the same transaction as the log (RK-FLOW-003/004);
* ``binding`` — binding, rebinding, consents, 4-item currency;
* ``retention`` — retention periods, purges and legal holds (RK-RET-001..003);
* ``views`` — the auditor's and the person's reads.

``Hub`` is the façade the HTTP edge, My Portal and the auditor's service call:
it takes the clock, serialises calls with one lock, refuses new work while the
store cannot write (RK-LOG-001) and wires the parts together.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import asdict
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ...core.access_log import AccessLogEntry
from ...core.admin_log import AdminEvent, Detail, admin_view
from ...core.codes import AgencyId, IdCode, ResidentCode, resident_code_of
from ...core.errors import UnavailableError
from ...core.keys import KeyPurpose, KeyRing
from ...core.linkage import Linkage
from ...core.pattern_document import PatternDocument
from ...core.patterns import LinkagePattern
from ...core.record_seal import record_key
from ...core.retention import LogClass, RetentionPolicy
from ..clock import Clock
from ..registry.registry import FourItems, ResidentRegistry
from ..store.keystore import KeyStore
from ..store.log_store import LogStore, MemoryLogStore, SealedRecords
from ..store.signed_log import SignedCheckpoint
from ..store.transit_vault import TransitVault
from .agencies import AUDITOR_UNIT, Agency, AgencyBook, Role
from .binding import BindingDecision, BindingDesk, CurrencyResult, Rebinding
from .codes import CodeDesk
from .consents import ConsentIn, ConsentRecord
from .linkages import Delivery, LinkageDesk, QueryIn
from .logs import (
    AdminPage,
    ConsistencyProof,
    HubLogs,
    Receipt,
    admin_origin,
)
from .patterns import PatternDesk
from .retention import HoldScopeIn, LegalHoldView, RetentionDesk, hold_document
from .startup import COUNTED, adopt_legacy_state, check_state_against_logs
from .views import AuditorEntry, LogViews

ID = KeyPurpose.ID_CODE

__all__ = [
    "AUDITOR_UNIT",
    "AdminPage",
    "Agency",
    "AuditorEntry",
    "BindingDecision",
    "ConsentIn",
    "ConsentRecord",
    "ConsistencyProof",
    "CurrencyResult",
    "Delivery",
    "HoldScopeIn",
    "Hub",
    "LegalHoldView",
    "QueryIn",
    "Rebinding",
    "Receipt",
    "Role",
    "SignedCheckpoint",
    "admin_origin",
    "hold_document",
]


class Hub:
    """情報連携基盤: the façade over the hub's parts (see the package docstring)."""

    def __init__(
        self,
        registry: ResidentRegistry,
        keys: KeyStore,
        clock: Clock,
        *,
        log_signer: Ed25519PrivateKey | None = None,
        origin: str = "renkei.reference/hub/access-log",
        log_store: LogStore | None = None,
        transit_vault: TransitVault | None = None,
        adopt_state: bool = False,
    ) -> None:
        self._lock = threading.RLock()

        @functools.lru_cache(maxsize=4096)
        def resident_of(raw: bytes) -> ResidentCode:
            """The resident code of an ID code (the person bound into each log leaf,
            RK-LOG-010); an approval and its ``provided`` entry name the same person,
            so the latest are kept, until a key rotation."""
            return resident_code_of(keys.cipher(ID, raw[0]), IdCode(raw))

        self._resident_of = resident_of
        self._vault = transit_vault
        self._clock = clock
        self._store: LogStore = log_store or MemoryLogStore()
        self.origin = origin
        signer = log_signer or Ed25519PrivateKey.generate()
        # the state beside the logs, sealed under a key of the log's custody (RK-LOG-010)
        self.records = SealedRecords(
            self._store, record_key(signer.private_bytes_raw()), counted=COUNTED
        )
        self.agency_book = AgencyBook(self.records)
        self.logs = HubLogs(
            self._store,
            signer,
            origin,
            name=self.agency_book.name,
            resident_of=self._resident_of,
            now=clock.now,
        )
        # the sealed digest of the state records carries the logs' sizes (RK-LOG-010)
        self.records.bind(lambda: (self.logs.access.size, self.logs.admin.size))
        self.logs.appended = self.records.changed
        records_from = adopt_legacy_state(self.records, self._store, self.logs, adopt=adopt_state)
        with contextlib.suppress(UnavailableError):  # what it adopted is read from the store
            self._store.barrier().result()
        self.codes = CodeDesk(keys, self.records, self.logs)
        self.pattern_desk = PatternDesk(self.logs, self.records)
        self.binding = BindingDesk(registry, self.codes, self.logs, self.records)
        self.linkages = LinkageDesk(
            self.logs,
            self.codes,
            self.pattern_desk,
            self.records,
            self.binding.consents.refuse_if_withdrawn,
            vault=transit_vault,
        )
        self.retention = RetentionDesk(self.logs, self.records)
        self.views = LogViews(self.logs, self.codes)
        check_state_against_logs(
            self.logs,
            self.linkages,
            self.retention,
            self.pattern_desk,
            (keys.ring(ID), keys.ring(KeyPurpose.LINK_CODE)),
            records=self.records,
            records_from=records_from,
            adopt=adopt_state,
        )
        self.expire_due()  # what became overdue while the hub was down ends now
        self.logs.report_reads = True  # from now on a changed entry read is reported

    def _step(self) -> contextlib.AbstractContextManager[None]:
        """One step of the hub: serialised with every other, and all the changes it
        makes — log entries and state records — committed in one transaction."""
        return _Step(self)

    def _settle(self) -> None:
        """After a step: what the store has committed is read from it again."""
        self.logs.settle()
        self.linkages.requests.settle()

    # -- what other parties read -------------------------------------------------
    @property
    def agencies(self) -> dict[str, Agency]:
        return self.agency_book.by_id

    @property
    def patterns(self) -> dict[str, LinkagePattern]:
        return self.pattern_desk.table

    @property
    def pattern_version(self) -> int | None:
        return self.pattern_desk.version

    @property
    def pattern_anchor(self) -> Ed25519PublicKey:
        return self.pattern_desk.anchor

    @property
    def consents(self) -> Any:
        return self.binding.consents

    # -- durability (RK-LOG-001) ---------------------------------------------------
    def log_barrier(self) -> Future[None]:
        """A future that completes once every log change made so far is committed
        (the web layer awaits it before answering: group commit)."""
        return self._store.barrier()

    def _refuse_if_store_failing(self) -> None:
        """No new work while the store cannot write (RK-LOG-001)."""
        refusal = self._store.refusal()
        if refusal is not None:
            raise refusal

    # -- configuration -------------------------------------------------------------
    def register_agency(self, agency: Agency, *, credential_digest: str | None = None) -> None:
        """Register ``agency`` (and the digest of its new test-mode credential,
        replacing any earlier one) with its administrative entry, in one step."""
        with self._step():
            self.agency_book.register(agency, credential_digest)
            self.logs.record(
                AdminEvent.AGENCY_REGISTERED,
                "control",
                self._clock.now(),
                agency_id=agency.agency_id,
                role=agency.role.value,
                link_code_unit=agency.unit.value,
            )

    def load_pattern_document(self, data: bytes, signature: bytes) -> PatternDocument:
        """Item 17 / RK-PAT-003: the only way patterns enter the hub."""
        with self._step():
            return self.pattern_desk.load_document(data, signature, self._clock.now())

    def load_patterns(self, patterns: Iterable[LinkagePattern]) -> int:
        """Test mode: a plain list, signed by the control-plane issuer."""
        with self._step():
            return self.pattern_desk.load_list(patterns, self._clock.now())

    def set_pattern_anchor(self, public_key: Ed25519PublicKey) -> None:
        with self._step():
            self.pattern_desk.set_anchor(public_key)

    # -- codes (items 4, 5, 7, 9, 11) ------------------------------------------------
    def disclose_id_code(self, resident: ResidentCode) -> IdCode:
        """Test mode only (RK-CTL-003): the ID code of a synthetic person."""
        with self._step():
            return self.codes.id_code(resident)

    def resident_code_changed(self, old: ResidentCode, new: ResidentCode) -> None:
        with self._step():
            self.codes.resident_code_changed(old, new)

    def rotate(self, purpose: KeyPurpose, transition: timedelta) -> KeyRing:
        """Item 11 / RK-KEY-002: a new key version; stored ID codes are re-made."""
        with self._step():
            ring, move = self.codes.rotate(purpose, self._clock.now(), transition)
            self._resident_of.cache_clear()
            if move is not None:
                self.linkages.rekey_persons(move)
                self.logs.rekey_persons(move)
                self.retention.rekey_persons(move)
                self.binding.consents.rekey(move)
            return ring

    # -- binding (items 13-15, 20) -------------------------------------------------
    def rebind(self, agency: Agency, link_codes: list[str]) -> list[Rebinding]:
        self._refuse_if_store_failing()
        with self._step():
            return self.binding.rebind(agency, link_codes, self._clock.now())

    def bind_all(
        self,
        agency: Agency,
        records: Iterable[tuple[str, FourItems]],
        consent_ids: list[str | None] | None = None,
    ) -> list[BindingDecision]:
        self._refuse_if_store_failing()
        with self._step():
            return self.binding.bind_all(agency, records, consent_ids or [], self._clock.now())

    def bind(self, agency: Agency, record_ref: str, items: FourItems) -> BindingDecision:
        with self._step():
            return self.binding.bind(agency, record_ref, items)

    def record_consent(self, agency: Agency, body: ConsentIn) -> ConsentRecord:
        with self._step():
            return self.binding.record_consent(agency, body, self._clock.now())

    def withdraw_consent(self, agency: Agency, consent_id: str) -> None:
        with self._step():
            self.binding.withdraw_consent(agency, consent_id, self._clock.now())

    def latest_four_items(
        self, agency: Agency, records: list[tuple[str, str, FourItems]]
    ) -> list[CurrencyResult]:
        self._refuse_if_store_failing()
        with self._step():
            return self.binding.latest_four_items(agency, records, self._clock.now())

    # -- the linkage flow (items 18, 20-22, 28) --------------------------------------
    def expire_due(self) -> None:
        """Expire linkages past their time and purge entries past their retention.

        Called before every step of the flow; a step (a transaction) is opened only
        when a linkage may be past its time or an entry past its retention."""
        now = self._clock.now()
        with self._lock:
            if self._vault is not None:  # keys of answers whose erasure is committed
                self._vault.step()
            if not (self.linkages.may_expire(now) or self.retention.may_purge(now)):
                return
            with self._step():
                self.linkages.expire_due(now)
                self.retention.purge_due(now)

    def query(self, caller: Agency, q: QueryIn) -> Linkage:
        """Step ② of item 21.  Refused with 503 before any change while the log
        store cannot write."""
        self._refuse_if_store_failing()
        self.expire_due()
        with self._step():
            return self.linkages.query(caller, q, self._clock.now())

    def deliveries(self, provider: Agency, limit: int = 1000) -> list[Delivery]:
        self.expire_due()
        with self._step():
            return self.linkages.deliveries(provider, limit, self._clock.now())

    def answer(self, provider: Agency, linkage_id: str, payload: str) -> Linkage:
        """Refused with 503 while the store cannot write: the provider answers again."""
        self._refuse_if_store_failing()
        self.expire_due()
        with self._step():
            return self.linkages.answer(provider, linkage_id, payload, self._clock.now())

    def hand_out(
        self, requester: Agency, linkage_id: str
    ) -> tuple[Linkage, str | None, int | None]:
        """The requester's read: the linkage, its answer when there is one and the
        serial of the ``provided`` entry whose receipt goes with it (``receipt_for``;
        several reads then share one signed checkpoint).  Refused with 503 while the
        store cannot write: the answer stays in transit."""
        self._refuse_if_store_failing()
        self.expire_due()
        with self._step():
            return self.linkages.status(requester, linkage_id, self._clock.now())

    def status(
        self, requester: Agency, linkage_id: str
    ) -> tuple[Linkage, str | None, Receipt | None]:
        """``hand_out`` with the receipt of the ``provided`` entry."""
        linkage, payload, serial = self.hand_out(requester, linkage_id)
        return linkage, payload, None if serial is None else self.receipt_for(serial)

    def acknowledge(self, requester: Agency, linkage_id: str) -> None:
        """The requester has its answer: the hub erases it (RK-FLOW-002)."""
        self._refuse_if_store_failing()
        self.expire_due()
        with self._step():
            self.records.revertible()  # may come back after a restore (RK-FLOW-002)
            self.linkages.acknowledge(requester, linkage_id)

    # -- retention (item 25; RK-RET-001..003) ----------------------------------------
    def set_retention(self, log_class: LogClass, years: int) -> RetentionPolicy:
        with self._step():
            return self.retention.set_retention(log_class, years, self._clock.now())

    def place_hold(
        self, auditor: Agency, reason: str, case_reference: str | None, scope: HoldScopeIn
    ) -> LegalHoldView:
        now = self._clock.now()
        with self._step():
            ref = scope.person_ref
            person = self.codes.link_in(ref, AUDITOR_UNIT, now).raw if ref else None
            hold = self.retention.place_hold(
                auditor.agency_id, reason, case_reference, scope, person=person, now=now
            )
            return LegalHoldView(hold, ref)

    def lift_hold(self, auditor: Agency, hold_id: str) -> None:
        with self._step():
            self.retention.lift_hold(auditor.agency_id, hold_id, self._clock.now())

    def legal_holds(self) -> list[LegalHoldView]:
        """The legal holds in force, newest first (the auditor's dashboard)."""
        with self._step():
            return [LegalHoldView(h, None) for h in self.retention.in_force(self._clock.now())]

    # -- the tamper-evident logs (RK-LOG-004, RK-LOG-006, RK-LOG-009) ----------------
    def receipt_for(self, serial: int) -> Receipt:
        with self._step():
            return self.logs.receipt_for(serial)

    def linkage_receipt(self, agency: Agency, linkage_id: str, serial: int | None) -> Receipt:
        with self._step():
            # the auditor reads any linkage's entries (item 27, RK-LOG-009)
            party = None if agency.role is Role.AUDITOR else agency.agency_id
            return self.logs.linkage_receipt(
                party, linkage_id, serial, self.linkages.known_serials(linkage_id)
            )

    def latest_checkpoint(self) -> SignedCheckpoint:
        with self._step():
            return self.logs.access.latest()

    def consistency(self, first: int, second: int) -> ConsistencyProof:
        with self._step():
            return self.logs.consistency(self.logs.access, first, second)

    def admin_consistency(self, first: int, second: int) -> ConsistencyProof:
        with self._step():
            return self.logs.consistency(self.logs.admin, first, second)

    # -- views -----------------------------------------------------------------------
    def auditor_entries(self, auditor: Agency, after: int, limit: int) -> list[AuditorEntry]:
        with self._step():
            return self.views.auditor_entries(auditor.agency_id, after, limit, self._clock.now())

    def audit_snapshot(
        self, auditor: Agency, analysis: str, shares: int, unavailable: int
    ) -> tuple[list[AuditorEntry], list[int]]:
        with self._step():
            return self.views.audit_snapshot(
                auditor.agency_id, analysis, shares, unavailable, self._clock.now()
            )

    def admin_entries(self, auditor: Agency, after: int, limit: int) -> AdminPage:
        with self._step():
            return self.views.admin_entries(auditor.agency_id, after, limit, self._clock.now())

    def log_auditor_session(self, auditor: Agency, action: str, channel: str) -> None:
        """RK-LOG-006: the auditor's dashboard sign-in and sign-out."""
        with self._step():
            self.logs.record(
                AdminEvent.AUDITOR_SESSION,
                auditor.agency_id,
                self._clock.now(),
                action=action,
                channel=channel,
            )

    def log_admin_event(self, kind: str, details: dict[str, Detail]) -> None:
        """RK-LOG-006: My Portal logs each disclosure it makes."""
        if kind != "my-portal-disclosure":
            raise ValueError(f"unknown administrative event from a service: {kind!r}")
        with self._step():
            self.views.portal_disclosure(details, self._clock.now())

    def person_entries(self, unit: AgencyId, link_code: str) -> list[AccessLogEntry]:
        with self._step():
            return self.views.person_entries(unit, link_code, self._clock.now())

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Everything the hub stores (RK-CTL-006); key versions, never keys.  The
        state export is a JSON document written out whole (``/control/state``),
        so it stays one rather than a typed value."""
        with self._step():
            table, documents = self.pattern_desk.dump()
            return {
                "hub.agencies": [
                    {**asdict(a), "role": a.role.value} for a in self.agencies.values()
                ],
                "hub.patterns": table,
                "hub.pattern_documents": documents,
                **self.linkages.dump(),
                "hub.aliases": self.codes.dump(),
                "hub.log_tree": self.logs.tree_dump(),
                "hub.admin_log": [admin_view(e) for e in self.logs.admin_entries],
                "hub.access_log": [_entry_dump(e) for e in self.logs.entries()],
                "hub.legal_holds": [
                    {**hold_document(LegalHoldView(h, None)), "lifted_at": _iso(h.lifted_at)}
                    for h in self.retention.holds.values()
                ],
                "hub.purges": [
                    {
                        "at": p.at.isoformat(),
                        "log_class": p.log_class.value,
                        "ranges": [list(r) for r in p.ranges],
                    }
                    for p in self.retention.purges
                ],
                "hub.consents": self.binding.consents.dump(),
            }


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def _entry_dump(e: Any) -> dict[str, Any]:
    if isinstance(e, AccessLogEntry):
        return {
            **asdict(e),
            "at": _iso(e.at),
            "outcome": e.outcome.value,
            "person": e.person.hex() if e.person else None,
            "salt": e.salt.hex(),
            "person_digest": e.person_digest.hex() if e.person_digest else None,
        }
    return {"serial": e.serial, "leaf_hash": e.leaf_hash.hex(), "purged_at": _iso(e.purged_at)}


class _Step:
    """``Hub._step``'s block (a class: it is entered several times a linkage): the
    hub's lock, the store's ``atomic`` block, the records' ``batch``; on leaving,
    the batch's digest and the atomic block's queue whatever happened, and what
    is committed is settled when nothing was raised."""

    __slots__ = ("_atomic", "_batch", "_hub")

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._atomic = hub._store.atomic()
        self._batch = hub.records.batch()

    def __enter__(self) -> None:
        self._hub._lock.acquire()
        try:
            self._atomic.__enter__()
            self._batch.__enter__()
        except BaseException:
            self._hub._lock.release()
            raise

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        try:
            try:
                self._batch.__exit__(kind, error, trace)
            finally:
                self._atomic.__exit__(kind, error, trace)
            if kind is None:
                self._hub._settle()
        finally:
            self._hub._lock.release()
