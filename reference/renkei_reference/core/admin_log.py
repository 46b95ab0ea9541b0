"""The hub's administrative log (管理ログ; seed items 19, 22; RK-LOG-006).

Theory of operation.  Besides the access log of linkages (core.access_log),
the hub records every act that changes what it approves or keeps, or that
reads the logs: binding requests, pattern-document loads, agency
registrations, key-management events, legal holds, purges, retention changes,
auditor reads and My Portal disclosures — and any stored log row or node the
hub finds changed while it runs (``log-tampered``, RK-LOG-010).

Integrity (RK-LOG-006 asks for the same protection as RK-LOG-004): the
administrative log is a *separate* RFC 9162 Merkle tree with its own
Ed25519-signed C2SP checkpoints, under its own origin line — not a second leaf
type in the access-log tree.  Two reasons: the access log's serials are the
gap-free ① of item 23 (RK-LOG-005), which interleaved administrative leaves
would break; and the person's receipts and proofs (RK-LOG-009) stay about
linkages only.  The origin line binds each checkpoint to its log, so one log
signing key (RK-KEY-001) can sign both without confusion.

An entry never holds the 4 items, a Number, a link code or an ID code
(RK-ARCH-004, RK-LOG-008): a binding request is recorded as the agency, the
time, the number of records and the count of each decision.  Details are
strings, integers, booleans, null or lists of those, so the leaf is RFC 8785
canonical JSON with sorted keys.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any, TypeAlias

import icontract

from .canonical_json import canonical

__all__ = [
    "AdminEvent",
    "AdminLogEntry",
    "Detail",
    "admin_entry_from_record",
    "admin_leaf_bytes",
    "admin_view",
]

Detail: TypeAlias = str | int | bool | list[Any] | None
"""A detail value: a JSON scalar or a list of them (purge ranges are lists of pairs)."""


class AdminEvent(enum.Enum):
    """What an administrative-log entry records (RK-LOG-006; OpenAPI ``AdminEvent``)."""

    BINDING_REQUEST = "binding-request"
    PATTERN_DOCUMENT_LOADED = "pattern-document-loaded"
    AGENCY_REGISTERED = "agency-registered"
    KEY_ROTATED = "key-rotated"  # a new key version generated and made current
    LEGAL_HOLD_PLACED = "legal-hold-placed"
    LEGAL_HOLD_LIFTED = "legal-hold-lifted"
    RETENTION_CHANGED = "retention-changed"
    PURGE = "purge"
    AUDITOR_READ = "auditor-read"
    AUDITOR_SESSION = "auditor-session"  # the dashboard: sign-in and sign-out
    PORTAL_DISCLOSURE = "portal-disclosure"
    FOUR_ITEMS_CURRENCY = "four-items-currency"  # a use of the currency service (RK-BND-006)
    CONSENT_RECORDED = "consent-recorded"  # a private body's consent record (RK-BND-004)
    CONSENT_WITHDRAWN = "consent-withdrawn"  # its withdrawal (RK-BND-004)
    DISCLOSURE_APPLICATION = "disclosure-application"  # a person's ⑪/⑫ application, at a node
    DISCLOSURE_DECISION = "disclosure-decision"  # its grant or refusal by designated staff
    LOG_TAMPERED = "log-tampered"  # a stored log row or node found changed (RK-LOG-010)


def _plain(value: object) -> bool:
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    return value is None or isinstance(value, str | int | bool)


@dataclass(frozen=True, slots=True)
class AdminLogEntry:
    """One administrative-log entry: serial (from 1, gap-free), time, event,
    the actor (an agency id, or ``hub`` for the hub's own acts) and details.

    :raises ValueError: on construction, for a serial below 1, an empty actor
        or a detail that is not a JSON scalar or a list of them.
    """

    serial: int
    at: datetime
    event: AdminEvent
    actor: str
    details: Mapping[str, Detail] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.serial < 1 or not self.actor:
            raise ValueError("an administrative entry has a serial from 1 and an actor")
        if not all(isinstance(k, str) and _plain(v) for k, v in self.details.items()):
            raise ValueError("administrative details are JSON scalars or lists of them")


def _body(entry: AdminLogEntry) -> dict[str, Any]:
    return {
        "serial": entry.serial,
        "at": entry.at.isoformat(),
        "event": entry.event.value,
        "actor": entry.actor,
        "details": dict(entry.details),
    }


@icontract.ensure(lambda entry, result: admin_entry_from_record(result.decode()) == entry)
def admin_leaf_bytes(entry: AdminLogEntry) -> bytes:
    """The Merkle leaf of an administrative entry (RK-LOG-006): canonical JSON.

    It is also the stored record: the administrative log holds nothing that a
    purge would have to remove, so leaf and record are one.
    """
    return canonical(_body(entry)).encode()


def admin_entry_from_record(record: str) -> AdminLogEntry:
    """The entry whose leaf is ``record``.  :raises ValueError: a malformed record."""
    try:
        d = json.loads(record)
        return AdminLogEntry(
            serial=int(d["serial"]),
            at=datetime.fromisoformat(d["at"]),
            event=AdminEvent(d["event"]),
            actor=d["actor"],
            details=MappingProxyType(dict(d["details"])),
        )
    except (KeyError, TypeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an administrative-log record: {exc}") from exc


def admin_view(entry: AdminLogEntry) -> dict[str, Any]:
    """The auditor's view of an entry (RK-LOG-006): the entry itself."""
    return _body(entry)
