"""The hub (情報連携基盤): approval, code conversion, relay and its access log.

The hub holds keys, ID codes, the pattern table, open linkages and its log —
never a Number (RK-NUM-009), never a stored link code (RK-LNK-003), never a
payload beyond transit (RK-FLOW-002), never the 4 items (RK-ARCH-004).

Code conversion (items 7, 9, 18): link code(A) → ID code → link code(B), all
under the key versions the ``KeyStore`` currently accepts.  The hub always
answers with codes of the current versions; codes of an older version are
accepted until its transition window ends (RK-KEY-002), and ``rebind``
translates them for an agency.  A person whose resident code changed keeps the
ID code of the first resident code through an alias (RK-IDC-003), so no
agency has to re-bind.

Logs (RK-LOG-004, RK-LOG-006): the access log and the administrative log are
each a ``SignedLog`` (services.signed_log) over one ``LogStore``
(services.log_store).  The hub changes them in memory and queues every change
in order; the durable store group-commits them and the web layer answers only
after the commit.  While the store cannot write, queries and bindings are
refused with 503 ``log-store-unavailable`` before anything changes.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ..core.access_log import (
    AccessLogEntry,
    Outcome,
    auditor_view,
    entry_record,
    leaf_bytes,
)
from ..core.admin_log import (
    AdminEvent,
    AdminLogEntry,
    Detail,
    admin_leaf_bytes,
    admin_view,
)
from ..core.codes import (
    AgencyId,
    IdCode,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
    resident_code_of,
)
from ..core.errors import (
    CallerError,
    ConflictError,
    GoneError,
    NotFoundError,
    PermissionDeniedError,
    RenkeiError,
)
from ..core.keys import KeyPurpose, KeyRing
from ..core.linkage import Event, Linkage, LinkageState, advance
from ..core.merkle import leaf_hash
from ..core.pattern_document import (
    FORMAT,
    PatternDocument,
    encode_pattern_document,
    open_pattern_document,
    sign_pattern_document,
)
from ..core.patterns import LinkagePattern, Query, decide
from ..core.retention import (
    SALT_SIZE,
    HoldScope,
    LegalHold,
    LogClass,
    PurgedEntry,
    RetentionPolicy,
    StoredEntry,
    hold_from_record,
    hold_record,
    purge,
    purge_plan,
    retained_until,
    serial_ranges,
)
from .clock import Clock
from .consents import ConsentBook
from .keystore import KeyStore
from .log_integrity import StoredLogCheck, TamperReports, check_anchored
from .log_store import LeafRow, LogStore, MemoryLogStore
from .registry import FourItems, ResidentRegistry
from .signed_log import SignedLog, b64

__all__ = ["AUDITOR_UNIT", "Agency", "Hub", "resume_access_log"]

AUDITOR_UNIT = AgencyId("renkei.auditor")
ID, LINK = KeyPurpose.ID_CODE, KeyPurpose.LINK_CODE


@dataclass(frozen=True, slots=True)
class Agency:
    """A registered agency; ``unit`` is its link-code unit (RK-LNK-006): the
    agency itself by default, or a sector subsystem shared by several (item 12)."""

    agency_id: str
    name: str
    role: str  # agency | municipality | auditor | private-body (RK-BND-004)
    link_code_unit: str | None = None

    @property
    def unit(self) -> AgencyId:
        return AgencyId(self.link_code_unit or self.agency_id)


@dataclass
class _HubStores:
    linkages: dict[str, Linkage] = field(default_factory=dict)
    in_transit: dict[str, str] = field(default_factory=dict)  # linkage_id -> payload (b64)
    requests: dict[tuple[str, str], str] = field(default_factory=dict)
    access_log: list[StoredEntry] = field(default_factory=list)
    retention: RetentionPolicy = field(default_factory=RetentionPolicy)
    holds: dict[str, LegalHold] = field(default_factory=dict)
    purges: list[dict[str, Any]] = field(default_factory=list)
    aliases: dict[bytes, bytes] = field(default_factory=dict)  # ID code -> canonical ID code
    # linkage_id -> provider of linkages expired unanswered, so that a late answer
    # is told so (409 answer-after-deadline, RK-FLOW-004); the latest EXPIRED_KEPT
    expired: dict[str, str] = field(default_factory=dict)


EXPIRED_KEPT = 100_000


def _decision(
    record_ref: str, decision: str, reasons: list[str], link: str | None = None
) -> dict[str, Any]:
    return {"record_ref": record_ref, "decision": decision, "link_code": link, "reasons": reasons}


_b64 = b64


def admin_origin(origin: str) -> str:
    """The administrative log's origin line, beside the access log's (RK-LOG-006)."""
    return origin.removesuffix("/access-log") + "/admin-log"


def _years(record: str) -> dict[LogClass, int]:
    return {LogClass(k): int(v) for k, v in json.loads(record).items()}


def resume_access_log(
    rows: Iterable[LeafRow], check: StoredLogCheck
) -> tuple[list[StoredEntry], dict[str, list[int]]]:
    """The access log's entries and the serials of each linkage, from the stored
    rows as they stream by, each checked (a hub restart; RK-LOG-010; the rows
    themselves are not kept, and the entries share one string per agency,
    pattern and kind)."""
    entries: list[StoredEntry] = []
    serials: dict[str, list[int]] = {}  # linkage_id -> serials (an index)
    for e in check.access_entries(rows):
        entries.append(e)
        if isinstance(e, AccessLogEntry) and e.linkage_id is not None:
            serials.setdefault(e.linkage_id, []).append(e.serial)
    return entries, serials


class Hub:
    """情報連携基盤: approval, code conversion, relay and the hub's logs."""

    def __init__(
        self,
        registry: ResidentRegistry,
        keys: KeyStore,
        clock: Clock,
        *,
        log_signer: Ed25519PrivateKey | None = None,
        origin: str = "renkei.reference/hub/access-log",
        log_store: LogStore | None = None,
    ) -> None:
        self._lock = threading.RLock()
        self._registry = registry
        self._keys = keys
        self._clock = clock
        self.agencies: dict[str, Agency] = {}
        self.patterns: dict[str, LinkagePattern] = {}
        self._s = _HubStores()
        # private bodies' consents (RK-BND-004), kept in the durable state store
        self.consents = ConsentBook(
            lambda c: self._store.put_state(f"consent:{c.consent_id}", c.to_json())
        )
        # The tamper-evident logs (RK-LOG-004, RK-LOG-006), resumed from the store:
        # one leaf per access-log entry; one per administrative event.
        self._store: LogStore = log_store or MemoryLogStore()
        signer = log_signer or Ed25519PrivateKey.generate()
        self.origin = origin
        self._access = SignedLog("access", origin, signer, self._store)
        self._admin = SignedLog("admin", admin_origin(origin), signer, self._store)
        # every stored row is checked as it is read back (RK-LOG-010); the
        # administrative log first: its purge entries vouch for purged rows
        self._check = StoredLogCheck(
            signer, lambda raw: resident_code_of(self._keys.cipher(ID, raw[0]), IdCode(raw))
        )
        self._admin_log = self._check.admin_entries(self._admin.rows())
        # linkage_id -> serials (an index)
        self._s.access_log, self._serials = resume_access_log(self._access.rows(), self._check)
        logs = (self._access, self._admin)
        check_anchored(((g.name, g.size, g.anchored) for g in logs), self._s.access_log)
        self._access.on_tamper = self._admin.on_tamper = TamperReports(
            self._record, self._clock.now
        )
        self._restore_settings()
        self._unpurged_from = 0  # index of the oldest entry not yet purged
        # (index of that entry, retention policy, earliest time anything is due)
        self._purge_not_before: tuple[int, RetentionPolicy, datetime] | None = None
        self._next_expiry: datetime | None = None  # no open linkage expires before this
        # Pattern documents (RK-PAT-003): signed by the issuer whose key is the trust
        # anchor.  In test mode the hub holds a control-plane issuer key so that the
        # control interface may load a plain list as a document it signs itself.
        self._issuer = Ed25519PrivateKey.generate()
        self.pattern_anchor: Ed25519PublicKey = self._issuer.public_key()
        self.pattern_version: int | None = None
        self._documents: list[dict[str, Any]] = []  # every document loaded, for the auditor

    # -- durability and the administrative log (RK-LOG-006) ------------------
    def _restore_settings(self) -> None:
        """Legal holds and retention periods outlive a restart, so that a
        restarted hub never purges what a hold protects (RK-RET-002)."""
        for key, value in self._store.state().items():
            if key.startswith("hold:"):
                hold = hold_from_record(value)
                self._s.holds[hold.hold_id] = hold
            elif key.startswith("consent:"):  # a withdrawal outlives a restart (RK-BND-004)
                self.consents.restore(value)
            elif key == "retention":
                self._s.retention = RetentionPolicy(
                    **{c.value.replace("-", "_"): y for c, y in _years(value).items()}
                )

    def _save_hold(self, hold: LegalHold) -> None:
        self._store.put_state(f"hold:{hold.hold_id}", hold_record(hold))

    def log_barrier(self) -> Any:
        """A future that completes once every log change made so far is committed
        (the web layer awaits it before answering: group commit)."""
        return self._store.barrier()

    def _refuse_if_store_failing(self) -> None:
        """No new linkage or binding while the log store cannot write (RK-LOG-001)."""
        refusal = self._store.refusal()
        if refusal is not None:
            raise refusal

    def _record(self, event: AdminEvent, actor: str, at: datetime, **details: Detail) -> None:
        """Append to the administrative log (RK-LOG-006)."""
        entry = AdminLogEntry(len(self._admin_log) + 1, at, event, actor, details)
        leaf = admin_leaf_bytes(entry)
        self._admin.append(entry.serial, leaf, leaf.decode())
        self._admin_log.append(entry)

    # -- configuration -----------------------------------------------------
    def register_agency(self, agency: Agency) -> None:
        AgencyId(agency.agency_id)
        _ = agency.unit
        with self._lock:
            self.agencies[agency.agency_id] = agency
            self._record(
                AdminEvent.AGENCY_REGISTERED,
                "control",
                self._clock.now(),
                agency_id=agency.agency_id,
                role=agency.role,
                link_code_unit=agency.unit.value,
            )

    def load_pattern_document(self, data: bytes, signature: bytes) -> PatternDocument:
        """Item 17 / RK-PAT-003: the only way patterns enter the hub.  A refusal
        (422 ``invalid-pattern``) leaves the table in force unchanged."""
        with self._lock:
            doc = open_pattern_document(data, signature, self.pattern_anchor, self.pattern_version)
            self.patterns = doc.table()
            self.pattern_version = doc.version
            self._record(
                AdminEvent.PATTERN_DOCUMENT_LOADED,
                "control",
                self._clock.now(),
                version=doc.version,
                issuer=doc.issuer,
                patterns=len(doc.patterns),
                document_sha256=hashlib.sha256(data).hexdigest(),
            )
            self._documents.append(
                {
                    "version": doc.version,
                    "issuer": doc.issuer,
                    "issued_at": doc.issued_at.isoformat(),
                    "loaded_at": self._clock.now().isoformat(),
                    "document": base64.b64encode(data).decode(),
                    "signature": base64.b64encode(signature).decode(),
                }
            )
            return doc

    def load_patterns(self, patterns: Iterable[LinkagePattern]) -> int:
        """Test mode: a plain list becomes the next document, signed by the hub's
        control-plane issuer — so it loads only while that key is the anchor."""
        table = list(patterns)
        with self._lock:
            doc = PatternDocument(
                format=FORMAT,
                version=(self.pattern_version or 0) + 1,
                issued_at=self._clock.now(),
                issuer="renkei control interface (test mode)",
                patterns=tuple(table),
            )
            data = encode_pattern_document(doc)
            self.load_pattern_document(data, sign_pattern_document(data, self._issuer))
        return len(table)

    def set_pattern_anchor(self, public_key: Ed25519PublicKey) -> None:
        """Test mode: the kit names its own issuer key as the trust anchor."""
        with self._lock:
            self.pattern_anchor = public_key

    # -- codes (items 4, 5, 7, 9, 11) ----------------------------------------
    def _ring(self, purpose: KeyPurpose) -> KeyRing:
        return self._keys.ring(purpose)

    def _id_code(self, resident: ResidentCode) -> IdCode:
        """The canonical ID code of a resident under the current key (RK-IDC-001/003)."""
        code = id_code_of(self._keys.cipher(ID, self._ring(ID).current), resident)
        canonical = self._s.aliases.get(code.raw)
        return IdCode(canonical) if canonical is not None else code

    def _current(self, id_code: IdCode, at: datetime) -> IdCode:
        """An ID code of an accepted older version, re-made under the current one."""
        ring = self._ring(ID)
        if id_code.key_version == ring.current:
            return id_code
        ring.require(id_code.key_version, at, "RK-IDC-002")
        resident = resident_code_of(self._keys.cipher(ID, id_code.key_version), id_code)
        return self._id_code(resident)

    def _link_out(self, id_code: IdCode, unit: AgencyId) -> LinkCode:
        return link_code_for(self._keys.cipher(LINK, self._ring(LINK).current), id_code, unit)

    def _link_in(self, text: str, unit: AgencyId, at: datetime) -> IdCode:
        """Link code → current canonical ID code, or a specific refusal."""
        link = LinkCode.parse(text)
        self._ring(LINK).require(link.key_version, at, "RK-LNK-005")
        id_code = id_code_from_link_code(self._keys.cipher(LINK, link.key_version), link, unit)
        return self._current(id_code, at)

    def disclose_id_code(self, resident: ResidentCode) -> IdCode:
        """Test mode only (RK-CTL-003): the ID code of a synthetic person."""
        with self._lock:
            return self._id_code(resident)

    def resident_code_changed(self, old: ResidentCode, new: ResidentCode) -> None:
        """Item 8 / RK-IDC-003: the new resident code's ID code aliases the first one."""
        with self._lock:
            canonical = self._id_code(old)
            fresh = id_code_of(self._keys.cipher(ID, self._ring(ID).current), new)
            if fresh.raw != canonical.raw:
                self._s.aliases[fresh.raw] = canonical.raw

    def rotate(self, purpose: KeyPurpose, transition: timedelta) -> KeyRing:
        """Item 11 / RK-KEY-002: a new key version; stored ID codes are re-made."""
        now = self._clock.now()
        with self._lock:
            began = self._ring(purpose).versions[-1].activated_at
            if now < began:  # the clock was set back: versions follow time forward
                raise CallerError(
                    "validation-error",
                    f"the clock ({now.isoformat()}) is before the current {purpose.value} key "
                    f"version began ({began.isoformat()}): a rotation cannot precede it",
                    "RK-KEY-002",
                )
            old_ring = self._ring(ID)
            ring = self._keys.rotate(purpose, now, transition)
            self._record(
                AdminEvent.KEY_ROTATED,
                "control",
                now,
                purpose=purpose.value,
                version=ring.current,
                transition_seconds=int(transition.total_seconds()),
            )
            if purpose is ID:
                self._rekey_stored_id_codes(old_ring.current, now)
            return ring

    def _rekey_stored_id_codes(self, old_version: int, at: datetime) -> None:
        old = self._keys.cipher(ID, old_version)
        new = self._keys.cipher(ID, self._ring(ID).current)

        def remake(raw: bytes) -> bytes:
            if raw[0] != old_version:
                return raw
            return id_code_of(new, resident_code_of(old, IdCode(raw))).raw

        s = self._s
        s.aliases = {remake(k): remake(v) for k, v in s.aliases.items()}
        s.linkages = {
            k: replace(v, person=IdCode(remake(v.person.raw))) for k, v in s.linkages.items()
        }
        rewritten: list[tuple[int, str]] = []
        for i, e in enumerate(s.access_log):
            if isinstance(e, AccessLogEntry) and e.person and e.person[0] == old_version:
                s.access_log[i] = rekeyed = replace(e, person=remake(e.person))
                rewritten.append((e.serial, entry_record(rekeyed)))
        if rewritten:
            self._store.rewrite("access", rewritten)
        for k, h in s.holds.items():
            if h.scope.person and h.scope.person[0] == old_version:
                s.holds[k] = moved = replace(
                    h, scope=replace(h.scope, person=remake(h.scope.person))
                )
                self._save_hold(moved)
        self.consents.rekey(remake)

    def rebind(self, agency: Agency, link_codes: list[str]) -> list[dict[str, Any]]:
        """RK-KEY-002: translate an agency's link codes of accepted older versions
        into current ones, without 4-item matching.  Logged as a binding request
        (RK-LOG-006): agency, time, count and outcomes — never a link code."""
        self._refuse_if_store_failing()
        now = self._clock.now()
        out: list[dict[str, Any]] = []
        with self._lock:
            for text in link_codes:
                try:
                    id_code = self._link_in(text, agency.unit, now)
                except RenkeiError as exc:
                    out.append(
                        {
                            "link_code": text,
                            "new_link_code": None,
                            "problem": f"urn:renkei:problem:{exc.problem}",
                        }
                    )
                    continue
                out.append(
                    {
                        "link_code": text,
                        "new_link_code": self._link_out(id_code, agency.unit).text(),
                        "problem": None,
                    }
                )
            rebound = sum(r["problem"] is None for r in out)
            self._record(
                AdminEvent.BINDING_REQUEST, agency.agency_id, now, records=len(out),
                rebinding=True, rebound=rebound, refused=len(out) - rebound,
            )  # fmt: skip
        return out

    # -- binding (items 13-15, 20) ------------------------------------------
    def bind_all(
        self,
        agency: Agency,
        records: Iterable[tuple[str, FourItems]],
        consent_ids: list[str | None] | None = None,
    ) -> list[dict[str, Any]]:
        """A binding request (RK-BND-001): each record decided, the request logged
        with its agency, time, count and decisions — never the 4 items (RK-LOG-006).
        A private body's goes through ``_bind_private`` (RK-BND-004)."""
        self._refuse_if_store_failing()
        if agency.role == "private-body":
            results = self._bind_private(agency, list(records), consent_ids or [])
        else:
            results = [self.bind(agency, ref, items) for ref, items in records]
        counts = {
            d: sum(r["decision"] == d for r in results) for d in ("bound", "review", "rejected")
        }
        with self._lock:
            self._record(
                AdminEvent.BINDING_REQUEST,
                agency.agency_id,
                self._clock.now(),
                records=len(results),
                **counts,
            )
        return results

    def bind(self, agency: Agency, record_ref: str, items: FourItems) -> dict[str, Any]:
        """Bind one record (RK-BND-001..003, RK-BND-005) with the core matcher
        (``core.binding_match``, folded policy): all four folded items of exactly
        one resident's latest items, nobody else fitting or one slip away; a
        record bound only through the folding carries the notice ``variant-form``."""
        if items.has_placeholder():
            return _decision(record_ref, "review", ["unrepresentable-character"])
        outcome, resident = self._registry.decide(items)
        if resident is not None:
            with self._lock:
                link = self._link_out(self._id_code(ResidentCode(resident)), agency.unit)
            return _decision(record_ref, "bound", list(outcome.reasons), link.text())
        return _decision(record_ref, outcome.decision, list(outcome.reasons))

    def _bind_private(
        self, agency: Agency, records: list[tuple[str, FourItems]], consent_ids: list[str | None]
    ) -> list[dict[str, Any]]:
        """RK-BND-004: every record names an active consent of the caller (else the
        request is refused 403); a record binds only when its 4 items are exactly
        the latest ones of exactly one resident (no folding, no earlier items) and
        the answer is only ``bound`` or ``rejected``, with no reason naming an item."""
        padded = consent_ids + [None] * (len(records) - len(consent_ids))
        for cid in padded:
            self.consents.usable(agency.agency_id, cid)
        exact: list[str | None] = []  # the resident whose latest items these exactly are
        for _, items in records:
            resident = None if items.has_placeholder() else self._registry.decide(items)[1]
            fits = resident is not None and self._registry.is_latest(resident, items)
            exact.append(resident if fits else None)
        with self._lock:
            results: list[dict[str, Any]] = []
            for (ref, _), cid, resident in zip(records, padded, exact, strict=True):
                if resident is None:
                    results.append(_decision(ref, "rejected", []))
                    continue
                id_code = self._id_code(ResidentCode(resident))
                self.consents.refuse_if_withdrawn(agency.agency_id, id_code.raw)
                # one consent is one person's: never reused for another (RK-BND-004)
                self.consents.require_person(str(cid), id_code.raw)
                self.consents.tie(str(cid), id_code.raw)
                results.append(
                    _decision(ref, "bound", [], self._link_out(id_code, agency.unit).text())
                )
            return results

    def record_consent(self, agency: Agency, body: dict[str, Any]) -> dict[str, Any]:
        """A private body records a person's consent (RK-BND-004); logged."""
        with self._lock:
            now = self._clock.now()
            consent = self.consents.record(agency.agency_id, body, now.isoformat())
            self._record(
                AdminEvent.CONSENT_RECORDED,
                agency.agency_id,
                now,
                consent_id=consent.consent_id,
                method=consent.method,
            )
            return consent.view()

    def withdraw_consent(self, agency: Agency, consent_id: str) -> None:
        """The person withdrew consent; the private body records it (RK-BND-004)."""
        with self._lock:
            now = self._clock.now()
            if self.consents.withdraw(agency.agency_id, consent_id, now.isoformat()):
                self._record(
                    AdminEvent.CONSENT_WITHDRAWN, agency.agency_id, now, consent_id=consent_id
                )

    def latest_four_items(
        self, agency: Agency, records: list[tuple[str, str, FourItems]]
    ) -> list[dict[str, Any]]:
        """The currency service (４情報の最新化, RK-BND-006), through the hub: the
        agency names each person by its own link code (any link code not valid for
        it refuses the request: a person not bound to the agency) and sends the 4
        items it holds; the registry answers the latest 4 items only when those are
        exactly one recorded state of that person.  No ID code, Number or resident
        code leaves the hub; every use is logged (registry and administrative log)."""
        self._refuse_if_store_failing()
        with self._lock:
            now = self._clock.now()
            codes = [
                resident_code_of(self._keys.cipher(ID, i.key_version), i).value
                for i in (self._link_in(link, agency.unit, now) for _, link, _ in records)
            ]
        results: list[dict[str, Any]] = []
        for (ref, _, items), code in zip(records, codes, strict=True):
            status, latest = self._registry.currency(
                code, items, agency=agency.agency_id, at=now.isoformat()
            )
            result: dict[str, Any] = {"record_ref": ref, "status": status}
            if latest is not None:
                result["four_items"] = {k: v for k, v in asdict(latest).items() if v is not None}
            results.append(result)
        counts = {
            s: sum(r["status"] == s for r in results) for s in ("current", "updated", "no-data")
        }
        with self._lock:
            self._record(
                AdminEvent.FOUR_ITEMS_CURRENCY,
                agency.agency_id,
                now,
                records=len(results),
                **counts,
            )
        return results

    # -- the linkage flow (items 18, 20-22, 28) ------------------------------
    def _log(
        self,
        *,
        at: datetime,
        outcome: Outcome,
        requester: str,
        provider: str,
        pattern_id: str,
        information_kind: str,
        request_id: str,
        reason: str | None = None,
        detail: str | None = None,
        linkage_id: str | None = None,
        person: bytes | None = None,
    ) -> AccessLogEntry:
        pattern = self.patterns.get(pattern_id)
        salt = secrets.token_bytes(SALT_SIZE)
        entry = AccessLogEntry(
            serial=len(self._s.access_log) + 1,
            at=at,
            pattern_id=pattern_id,
            legal_basis=pattern.legal_basis if pattern else None,
            requester=requester,
            requester_name=self._name(requester),
            provider=provider,
            provider_name=self._name(provider),
            information_kind=information_kind,
            outcome=outcome,
            reason=reason,
            detail=detail,
            linkage_id=linkage_id,
            request_id=request_id,
            person=person,
            salt=salt,
            pattern_version=self.pattern_version,
            withheld=pattern.withheld_from_person if pattern else False,
            person_digest=self._check.digest(salt, person),  # RK-LOG-010
        )
        self._access.append(entry.serial, leaf_bytes(entry), entry_record(entry))
        self._s.access_log.append(entry)
        if linkage_id is not None:
            self._serials.setdefault(linkage_id, []).append(entry.serial)
        return entry

    def _log_linkage(
        self, linkage: Linkage, at: datetime, outcome: Outcome, reason: str | None = None
    ) -> AccessLogEntry:
        return self._log(
            at=at,
            outcome=outcome,
            requester=linkage.requester,
            provider=linkage.provider,
            pattern_id=linkage.pattern_id,
            information_kind=linkage.information_kind,
            request_id=linkage.request_id,
            linkage_id=linkage.linkage_id,
            person=linkage.person.raw,
            reason=reason,
        )

    def _name(self, agency_id: str) -> str:
        agency = self.agencies.get(agency_id)
        return agency.name if agency else agency_id

    def expire_due(self) -> None:
        """Expire linkages past their time and purge entries past their retention.

        Runs on every request, so it scans the open linkages only once the
        earliest time any of them could expire has come (``_next_expiry`` is a
        lower bound: answering only moves a linkage's time later)."""
        now = self._clock.now()
        with self._lock:
            if self._next_expiry is not None and now >= self._next_expiry:
                for linkage in list(self._s.linkages.values()):
                    if now >= linkage.expires_at:
                        self._expire(linkage, now)
                self._next_expiry = min(
                    (x.expires_at for x in self._s.linkages.values()), default=None
                )
            self._purge_due(now)

    # -- retention (item 25; RK-RET-001..003) --------------------------------
    def _purge_due(self, now: datetime) -> None:
        """Purge every entry whose retention ended and that no hold covers.  The
        leaf hashes stay in the tree, so receipts and proofs keep verifying."""
        s, log = self._s, self._s.access_log
        while self._unpurged_from < len(log) and isinstance(log[self._unpurged_from], PurgedEntry):
            self._unpurged_from += 1
        if self._unpurged_from == len(log):
            return
        # Nothing can be due before the oldest unpurged entry's end under the
        # shortest retention; that time is computed once per (entry, policy), so
        # the check on every request is a comparison.
        due = self._purge_not_before
        if due is None or due[0] != self._unpurged_from or due[1] is not s.retention:
            oldest = log[self._unpurged_from]
            assert isinstance(oldest, AccessLogEntry)
            shortest = min(s.retention.years_for(c) for c in LogClass)
            due = (self._unpurged_from, s.retention, retained_until(oldest.at, shortest))
            self._purge_not_before = due
        if now < due[2]:
            return
        plan = purge_plan(log, s.retention, list(s.holds.values()), now)
        if plan:
            s.access_log = list(purge(log, plan, now))
            ranges = [list(r) for r in serial_ranges(plan)]
            log_class = LogClass.HUB_ACCESS_LOG.value
            s.purges.append({"at": now.isoformat(), "log_class": log_class, "ranges": ranges})
            self._record(
                AdminEvent.PURGE,
                "hub",
                now,
                log_class=log_class,
                entries=len(plan),
                ranges=ranges,
            )
            # after its administrative entry, which vouches for it at a restart (RK-LOG-010)
            self._store.purge("access", plan, now.isoformat())

    def set_retention(self, log_class: LogClass, years: int) -> RetentionPolicy:
        """RK-RET-001: per class, never below the legal minimum of 7 years."""
        with self._lock:
            now = self._clock.now()
            self._s.retention = self._s.retention.with_years(log_class, years)
            self._store.put_state("retention", json.dumps(self._s.retention.as_dict()))
            self._record(
                AdminEvent.RETENTION_CHANGED, "control", now, log_class=log_class.value, years=years
            )
            self._purge_due(now)
            return self._s.retention

    def place_hold(
        self, auditor: Agency, reason: str, case_reference: str | None, scope: dict[str, Any]
    ) -> dict[str, Any]:
        """RK-RET-002: the auditor stops purging of what the scope covers."""
        now = self._clock.now()
        with self._lock:
            person = None
            if scope.get("person_ref"):
                person = self._link_in(scope["person_ref"], AUDITOR_UNIT, now).raw
            serials = scope.get("serials")
            try:
                hold_scope = HoldScope(
                    serials=(serials["first"], serials["last"]) if serials else None,
                    pattern_id=scope.get("pattern_id"),
                    agency=scope.get("agency_id"),
                    linkage_ids=frozenset(scope["linkage_ids"])
                    if scope.get("linkage_ids")
                    else None,
                    person=person,
                    not_before=scope.get("from"),
                    before=scope.get("to"),
                )
            except ValueError as exc:
                raise CallerError("validation-error", str(exc), "RK-RET-002") from exc
            hold = LegalHold(
                hold_id=secrets.token_hex(8),
                scope=hold_scope,
                reason=reason,
                placed_by=auditor.agency_id,
                placed_at=now,
                case_reference=case_reference,
            )
            self._s.holds[hold.hold_id] = hold
            self._save_hold(hold)
            self._record(
                AdminEvent.LEGAL_HOLD_PLACED,
                auditor.agency_id,
                now,
                hold_id=hold.hold_id,
                reason=reason,
                case_reference=case_reference,
                scope=sorted(k for k, v in scope.items() if v),
            )
            return self._hold_view(hold, scope.get("person_ref"))

    def lift_hold(self, auditor: Agency, hold_id: str) -> None:
        now = self._clock.now()
        with self._lock:
            hold = self._s.holds.get(hold_id)
            if hold is None or not hold.in_force(now):
                raise NotFoundError(
                    "not-found", f"no legal hold {hold_id!r} in force", "RK-RET-002"
                )
            self._s.holds[hold_id] = lifted = hold.lift(now, auditor.agency_id)
            self._save_hold(lifted)
            self._record(AdminEvent.LEGAL_HOLD_LIFTED, auditor.agency_id, now, hold_id=hold_id)
            self._purge_due(now)

    def _hold_view(self, hold: LegalHold, person_ref: str | None) -> dict[str, Any]:
        sc = hold.scope
        scope: dict[str, Any] = {
            "linkage_ids": sorted(sc.linkage_ids) if sc.linkage_ids else None,
            "agency_id": sc.agency,
            "person_ref": person_ref,
            "pattern_id": sc.pattern_id,
            "serials": {"first": sc.serials[0], "last": sc.serials[1]} if sc.serials else None,
            "from": sc.not_before.isoformat() if sc.not_before else None,
            "to": sc.before.isoformat() if sc.before else None,
        }
        view = {
            "hold_id": hold.hold_id,
            "reason": hold.reason,
            "placed_by": hold.placed_by,
            "placed_at": hold.placed_at.isoformat(),
            "scope": {k: v for k, v in scope.items() if v is not None},
        }
        if hold.case_reference:
            view["case_reference"] = hold.case_reference
        return view

    def _expire(self, linkage: Linkage, now: datetime) -> None:
        """Deadline passed (RK-FLOW-004), or an answer was not collected in time
        (RK-FLOW-007): the linkage ends, any answer in transit is erased."""
        advance(linkage, Event.EXPIRE, now)
        del self._s.linkages[linkage.linkage_id]
        collected_late = self._s.in_transit.pop(linkage.linkage_id, None) is not None
        reason = "not-collected" if collected_late else "deadline-passed"
        if not collected_late:
            self._s.expired[linkage.linkage_id] = linkage.provider
            if len(self._s.expired) > EXPIRED_KEPT:
                del self._s.expired[next(iter(self._s.expired))]
        self._log_linkage(linkage, now, Outcome.EXPIRED, reason)

    def query(self, caller: Agency, body: dict[str, Any]) -> Linkage:
        """Step ② of item 21: approve (RK-PAT-001), then link(A) → ID (RK-FLOW-001).
        Refused with 503 before any change while the log store cannot write."""
        self._refuse_if_store_failing()
        self.expire_due()
        now = self._clock.now()
        requester = AgencyId(body["requester"]).value
        provider = AgencyId(body["provider"]).value
        pattern_id, kind, request_id = (
            body["pattern_id"],
            body["information_kind"],
            body["request_id"],
        )
        with self._lock:
            key = (caller.agency_id, request_id)
            if key in self._s.requests:
                raise ConflictError(
                    "duplicate-request-id",
                    f"request_id {request_id!r} was already used by this requester",
                    "RK-FLOW-003",
                )
            self._s.requests[key] = ""
            log: dict[str, Any] = {
                "requester": caller.agency_id,
                "provider": provider,
                "pattern_id": pattern_id,
                "information_kind": kind,
                "request_id": request_id,
            }
            decision = decide(
                self.patterns, Query(caller.agency_id, requester, provider, pattern_id, kind, now)
            )
            if not decision.approved or decision.pattern is None:
                reason = decision.reason.value if decision.reason else "refused"
                entry = self._log(
                    at=now, outcome=Outcome.REFUSED, reason=reason, detail=decision.detail, **log
                )
                raise PermissionDeniedError(
                    reason, decision.detail, "RK-PAT-002", self._refusal_extensions(entry)
                )
            try:
                id_code = self._link_in(body["link_code"], caller.unit, now)
                if caller.role == "private-body":  # RK-BND-004: consent withdrawn
                    self.consents.refuse_if_withdrawn(caller.agency_id, id_code.raw)
            except RenkeiError as exc:
                entry = self._log(
                    at=now, outcome=Outcome.REFUSED, reason=exc.problem, detail=exc.detail, **log
                )
                exc.extensions.update(self._refusal_extensions(entry))
                raise
            linkage_id = secrets.token_hex(16)
            entry = self._log(
                at=now,
                outcome=Outcome.APPROVED,
                linkage_id=linkage_id,
                person=id_code.raw,
                detail=decision.detail,
                **log,
            )
            linkage = Linkage(
                linkage_id=linkage_id,
                request_id=request_id,
                requester=caller.agency_id,
                provider=provider,
                pattern_id=pattern_id,
                information_kind=kind,
                person=id_code,
                requested_at=now,
                deadline=now + timedelta(seconds=decision.pattern.answer_within_seconds),
                serial=entry.serial,
            )
            self._s.linkages[linkage.linkage_id] = linkage
            self._s.requests[key] = linkage.linkage_id
            if self._next_expiry is None or linkage.deadline < self._next_expiry:
                self._next_expiry = linkage.deadline
            return linkage

    def _refusal_extensions(self, entry: AccessLogEntry) -> dict[str, object]:
        """RFC 9457 extension members of a refusal: its serial and receipt (RK-LOG-004/005)."""
        return {"serial": entry.serial, "receipt": self.receipt_for(entry.serial)}

    def deliveries(self, provider: Agency, limit: int = 1000) -> list[dict[str, Any]]:
        """Pull delivery (RK-FLOW-005): each pending linkage once, oldest first, at
        most ``limit``; link code(B) made now."""
        self.expire_due()
        now = self._clock.now()
        out: list[dict[str, Any]] = []
        with self._lock:
            for lid, linkage in list(self._s.linkages.items()):
                if len(out) >= limit:
                    break
                if linkage.provider != provider.agency_id or (
                    linkage.state is not LinkageState.PENDING
                ):
                    continue
                self._s.linkages[lid] = advance(linkage, Event.PULL, now)
                out.append(
                    {
                        "linkage_id": lid,
                        "requester": linkage.requester,
                        "pattern_id": linkage.pattern_id,
                        "information_kind": linkage.information_kind,
                        "link_code": self._link_out(linkage.person, provider.unit).text(),
                        "deadline": linkage.deadline.isoformat(),
                        "serial": linkage.serial,
                    }
                )
        return out

    def _open_linkage(self, linkage_id: str, party: str, role: str) -> Linkage:
        linkage = self._s.linkages.get(linkage_id)
        owner = (
            None
            if linkage is None
            else (linkage.provider if role == "provider" else linkage.requester)
        )
        if linkage is None or owner != party:
            raise NotFoundError(
                "unknown-linkage",
                f"no open linkage {linkage_id!r} for which you are the {role}",
                "RK-FLOW-003",
            )
        return linkage

    def answer(self, provider: Agency, linkage_id: str, payload: str) -> Linkage:
        """Step ③ of item 22: the answer is held in transit only."""
        self.expire_due()
        now = self._clock.now()
        with self._lock:
            if self._s.expired.get(linkage_id) == provider.agency_id:
                raise ConflictError(
                    "answer-after-deadline",
                    f"linkage {linkage_id!r} expired at its deadline; the answer is discarded",
                    "RK-FLOW-004",
                )
            linkage = self._open_linkage(linkage_id, provider.agency_id, "provider")
            try:
                nxt = advance(linkage, Event.ANSWER, now)
            except RenkeiError as exc:
                if exc.problem == "answer-after-deadline":
                    self._expire(linkage, now)
                raise
            self._s.linkages[linkage_id] = nxt
            self._s.in_transit[linkage_id] = payload
            return nxt

    def status(
        self, requester: Agency, linkage_id: str
    ) -> tuple[Linkage, str | None, dict[str, Any] | None]:
        """The requester's view; an answer is relayed once, then erased (RK-FLOW-002),
        with the receipt of the ``provided`` entry (RK-LOG-004)."""
        self.expire_due()
        now = self._clock.now()
        with self._lock:
            linkage = self._open_linkage(linkage_id, requester.agency_id, "requester")
            if linkage.state is not LinkageState.ANSWERED:
                return linkage, None, None
            payload = self._s.in_transit.pop(linkage_id)
            closed = advance(linkage, Event.RELAY, now)
            del self._s.linkages[linkage_id]
            entry = self._log_linkage(linkage, now, Outcome.PROVIDED)
            return closed, payload, self.receipt_for(entry.serial)

    # -- the tamper-evident log (RK-LOG-004, RK-LOG-009) -----------------------
    def receipt_for(self, serial: int) -> dict[str, Any]:
        """Serial, leaf, leaf hash, inclusion proof and the checkpoint it proves against."""
        with self._lock:
            entry = self._s.access_log[serial - 1]
            if isinstance(entry, PurgedEntry):
                raise GoneError(
                    "entry-purged",
                    f"entry {serial} was purged when its retention ended",
                    "RK-RET-003",
                )
            size, note = self._access.checkpoint()
            leaf = leaf_bytes(entry)
            proof = self._access.tree.inclusion_proof(serial - 1, size)
            return {
                "linkage_id": entry.linkage_id,
                "serial": serial,
                "leaf_index": serial - 1,
                "leaf": base64.b64encode(leaf).decode(),
                "leaf_hash": _b64(leaf_hash(leaf)),
                "tree_size": size,
                "inclusion_proof": [_b64(h) for h in proof],
                "checkpoint": note,
            }

    def linkage_receipt(
        self, agency: Agency, linkage_id: str, serial: int | None
    ) -> dict[str, Any]:
        """A receipt for an entry of a linkage the caller took part in (RK-LOG-009)."""
        with self._lock:
            serials = self._serials.get(linkage_id, [])
            kept = [
                e for n in serials if isinstance(e := self._s.access_log[n - 1], AccessLogEntry)
            ]
            first = kept[0] if kept else None
            if first is None or agency.agency_id not in (first.requester, first.provider):
                raise NotFoundError(
                    "unknown-linkage",
                    f"no linkage {linkage_id!r} in which you took part",
                    "RK-LOG-009",
                )
            if serial is None:
                serial = serials[-1]
            elif serial not in serials:
                raise NotFoundError(
                    "not-found",
                    f"entry {serial} does not belong to linkage {linkage_id!r}",
                    "RK-LOG-009",
                )
            return self.receipt_for(serial)

    def latest_checkpoint(self) -> dict[str, Any]:
        with self._lock:
            return self._access.latest()

    def consistency(self, first: int, second: int) -> dict[str, Any]:
        """RFC 9162 §2.1.4 proof between two sizes; out of range → tree-size-out-of-range."""
        with self._lock:
            proof = self._access.tree.consistency_proof(first, second)
        return {"first": first, "second": second, "proof": [_b64(h) for h in proof]}

    # -- logs ----------------------------------------------------------------
    def auditor_entries(self, auditor: Agency, after: int, limit: int) -> list[dict[str, Any]]:
        """The auditor's view of the access log (item 27): up to ``limit`` entries
        still held with serial > ``after``, purged serials skipped however many
        there are (RK-RET-003); the read is logged (RK-LOG-006)."""
        with self._lock:
            log = self._s.access_log
            out: list[dict[str, Any]] = []
            for serial in range(after + 1, len(log) + 1):
                if len(out) == limit:
                    break
                e = log[serial - 1]
                if isinstance(e, AccessLogEntry):
                    out.append(auditor_view(e, self._person_ref(e.person)))
            self._record_read(auditor, "access", after, limit, len(out))
            return out

    def audit_snapshot(
        self, auditor: Agency, analysis: str, shares: int, unavailable: int
    ) -> tuple[list[dict[str, Any]], list[int]]:
        """Every entry still held, in the auditor's view, and the purged serials:
        what the auditor's analyses merge (RK-AUD-002, RK-AUD-003).  The read is
        one administrative-log entry naming the analysis (RK-LOG-006)."""
        with self._lock:
            log = self._s.access_log
            held = [
                auditor_view(e, self._person_ref(e.person))
                for e in log
                if isinstance(e, AccessLogEntry)
            ]
            purged = [e.serial for e in log if isinstance(e, PurgedEntry)]
            self._record(
                AdminEvent.AUDITOR_READ,
                auditor.agency_id,
                self._clock.now(),
                log="analysis",
                analysis=analysis,
                entries=len(held),
                agency_shares=shares,
                agency_shares_unavailable=unavailable,
            )
            return held, purged

    def log_auditor_session(self, auditor: Agency, action: str, channel: str) -> None:
        """RK-LOG-006: the auditor's dashboard sign-in and sign-out."""
        with self._lock:
            self._record(
                AdminEvent.AUDITOR_SESSION,
                auditor.agency_id,
                self._clock.now(),
                action=action,
                channel=channel,
            )

    def legal_holds(self) -> list[dict[str, Any]]:
        """The legal holds in force, newest first (the auditor's dashboard)."""
        now = self._clock.now()
        with self._lock:
            holds = [h for h in self._s.holds.values() if h.in_force(now)]
            return [
                self._hold_view(h, None)
                for h in sorted(holds, key=lambda h: h.placed_at, reverse=True)
            ]

    def log_admin_event(self, kind: str, details: dict[str, Detail]) -> None:
        """RK-LOG-006: My Portal logs each disclosure it makes in the hub's
        administrative log (never the person: the details name the channel and,
        for counter service, the counter and its staff)."""
        if kind != "my-portal-disclosure":
            raise ValueError(f"unknown administrative event from a service: {kind!r}")
        own = {k: v for k, v in details.items() if k not in ("event", "actor", "at")}
        with self._lock:
            self._record(AdminEvent.PORTAL_DISCLOSURE, "my-portal", self._clock.now(), **own)

    def _record_read(self, auditor: Agency, log: str, after: int, limit: int, n: int) -> None:
        self._record(
            AdminEvent.AUDITOR_READ,
            auditor.agency_id,
            self._clock.now(),
            log=log,
            after=after,
            limit=limit,
            entries=n,
        )

    def admin_entries(self, auditor: Agency, after: int, limit: int) -> dict[str, Any]:
        """The administrative log for the auditor (RK-LOG-006): entries with their
        leaves and the signed checkpoint of the log as it was read; the read itself
        is then logged, as the next entry."""
        with self._lock:
            entries = self._admin_log[after : after + limit]
            page = {
                "entries": [
                    {**admin_view(e), "leaf": base64.b64encode(admin_leaf_bytes(e)).decode()}
                    for e in entries
                ],
                "checkpoint": self._admin.latest(),
            }
            self._record_read(auditor, "admin", after, limit, len(entries))
            return page

    def admin_consistency(self, first: int, second: int) -> dict[str, Any]:
        """RFC 9162 proof between two sizes of the administrative log (RK-LOG-006)."""
        with self._lock:
            proof = self._admin.tree.consistency_proof(first, second)
        return {"first": first, "second": second, "proof": [_b64(h) for h in proof]}

    def person_entries(self, unit: AgencyId, link_code: str) -> list[AccessLogEntry]:
        """The hub-held entries about the person behind ``link_code`` (My Portal).

        RK-PORT-003: the caller names the person only by its own link code for
        the person (the portal's unit); the hub converts it to the ID code and
        returns only entries whose person is that ID code — refused queries carry
        no person and never match.  RK-LOG-007: entries flagged withheld by the
        signed pattern are never returned for the person's view.
        """
        now = self._clock.now()
        with self._lock:
            person = self._link_in(link_code, unit, now).raw
            return [
                e
                for e in self._s.access_log
                if isinstance(e, AccessLogEntry) and e.person == person and not e.withheld
            ]

    def _person_ref(self, person: bytes | None) -> str | None:
        """The auditor's pseudonym: the person's link code for the auditor unit."""
        return None if person is None else self._link_out(IdCode(person), AUDITOR_UNIT).text()

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Everything the hub stores (RK-CTL-006); key versions, never keys."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        with self._lock:
            s = self._s
            return {
                "hub.agencies": [asdict(a) for a in self.agencies.values()],
                "hub.patterns": [
                    {
                        **asdict(p),
                        "requesters": sorted(p.requesters),
                        "providers": sorted(p.providers),
                        "information_kinds": sorted(p.information_kinds),
                        "valid_from": iso(p.valid_from),
                        "valid_until": iso(p.valid_until),
                    }
                    for p in self.patterns.values()
                ],
                "hub.pattern_documents": list(self._documents),
                "hub.expired_linkages": [
                    {"linkage_id": lid, "provider": provider} for lid, provider in s.expired.items()
                ],
                "hub.linkages": [
                    {
                        "linkage_id": x.linkage_id,
                        "request_id": x.request_id,
                        "requester": x.requester,
                        "provider": x.provider,
                        "pattern_id": x.pattern_id,
                        "information_kind": x.information_kind,
                        "person": x.person.hex(),
                        "requested_at": iso(x.requested_at),
                        "deadline": iso(x.deadline),
                        "state": x.state.value,
                    }
                    for x in s.linkages.values()
                ],
                "hub.in_transit": [
                    {"linkage_id": k, "payload": v} for k, v in s.in_transit.items()
                ],
                "hub.requests": [
                    {"requester": r, "request_id": q, "linkage_id": lid}
                    for (r, q), lid in s.requests.items()
                ],
                "hub.aliases": [
                    {"id_code": k.hex(), "canonical": v.hex()} for k, v in s.aliases.items()
                ],
                "hub.log_tree": [
                    {
                        "log": log.name,
                        "size": log.size,
                        "root": _b64(log.tree.root()),
                        "note": "node hashes derived from the log's leaves",
                    }
                    for log in (self._access, self._admin)
                    if log.size
                ],
                "hub.admin_log": [admin_view(e) for e in self._admin_log],
                "hub.access_log": [
                    {
                        **asdict(e),
                        "at": iso(e.at),
                        "outcome": e.outcome.value,
                        "person": e.person.hex() if e.person else None,
                        "salt": e.salt.hex(),
                        "person_digest": e.person_digest.hex() if e.person_digest else None,
                    }
                    if isinstance(e, AccessLogEntry)
                    else {
                        "serial": e.serial,
                        "leaf_hash": e.leaf_hash.hex(),
                        "purged_at": iso(e.purged_at),
                    }
                    for e in s.access_log
                ],
                "hub.legal_holds": [
                    {**self._hold_view(h, None), "lifted_at": iso(h.lifted_at)}
                    for h in s.holds.values()
                ],
                "hub.purges": list(s.purges),
                "hub.consents": self.consents.dump(),
            }
