"""Access-log entries and their two views (seed items 22–26).

The hub keeps, for every query it handled — approved, refused, answered or
expired — an entry with fields ① to ⑥ of item 23 plus its outcome
(RK-LOG-001).  Fields ⑦ to ⑫ (operators, terminals, content, use) stay with
the agencies (item 24, RK-LOG-003).  The person sees a narrower projection
through My Portal (item 26); the third-party auditor a more detailed one
(item 23, RK-LOG-002).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = ["AccessLogEntry", "Outcome", "auditor_view", "person_view"]


class Outcome(enum.Enum):
    APPROVED = "approved"  # query approved and delivered for provision
    REFUSED = "refused"  # query refused by the pattern decision or a code check
    PROVIDED = "provided"  # the provider's answer was relayed to the requester
    EXPIRED = "expired"  # the deadline passed without an answer


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One hub-held access-log entry.

    ① ``serial`` ② ``at`` ③ ``pattern_id`` / ``legal_basis`` ④ ``requester``
    ⑤ ``provider`` ⑥ ``information_kind``; plus ``outcome``, ``reason``,
    ``linkage_id``, ``request_id`` and the person's ID code (hub-internal).
    """

    serial: int
    at: datetime
    pattern_id: str
    legal_basis: str | None
    requester: str
    requester_name: str
    provider: str
    provider_name: str
    information_kind: str
    outcome: Outcome
    reason: str | None
    detail: str | None
    linkage_id: str | None
    request_id: str
    person: bytes | None


def person_view(entry: AccessLogEntry) -> dict[str, Any]:
    """What My Portal shows the person (item 26): ①–⑥ and the outcome."""
    return {
        "serial": entry.serial,
        "at": entry.at.isoformat(),
        "pattern_id": entry.pattern_id,
        "legal_basis": entry.legal_basis,
        "requester": entry.requester_name,
        "provider": entry.provider_name,
        "information_kind": entry.information_kind,
        "outcome": entry.outcome.value,
    }


def auditor_view(entry: AccessLogEntry, person_ref: str | None) -> dict[str, Any]:
    """What the third-party auditor sees (item 27): more than the person's view.

    ``person_ref`` is the person's pseudonym for the auditor (the auditor's own
    link code, computed by the shell), never the ID code (item 10).
    """
    return {
        **person_view(entry),
        "requester_id": entry.requester,
        "provider_id": entry.provider,
        "reason": entry.reason,
        "detail": entry.detail,
        "linkage_id": entry.linkage_id,
        "request_id": entry.request_id,
        "person_ref": person_ref,
    }
