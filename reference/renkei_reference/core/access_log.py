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
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .canonical_json import canonical

__all__ = [
    "LEAF_VERSION",
    "SHARED_FIELDS",
    "AccessLogEntry",
    "Outcome",
    "auditor_view",
    "entry_from_record",
    "entry_record",
    "leaf_and_record",
    "leaf_bytes",
    "person_view",
]


LEAF_VERSION = 2
"""The leaf layout ``leaf_bytes`` writes (``leaf_version`` member of the leaf).

Version 1 (before the stored log was made tamper-evident end to end, issue 16)
held ①–⑥, the outcome, the reason, the ids and the salt, but not the agencies'
names, the refusal detail or anything of the person, so a change of those in
the stored record went unnoticed.  Version 2 holds every member of the stored
record except the person's ID code, for which it holds ``person_digest``
(RK-LOG-010).  Entries logged before keep their version-1 leaf (their hash is
in the tree); they are recognised by the absence of ``leaf_version`` in their
stored record."""


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

    ``person_digest`` binds the person into the leaf without revealing it
    (RK-LOG-010, core.log_integrity ``person_digest``): a keyed digest of the
    salt and the resident code behind ``person``, None when there is no person.
    ``leaf_version`` is the layout of the entry's leaf (``LEAF_VERSION``).
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
    salt: bytes = b""
    pattern_version: int | None = None  # the pattern document in force (RK-PAT-003)
    withheld: bool = False  # withheld from the person's view (RK-LOG-007)
    person_digest: bytes | None = None  # the person, bound into the leaf (RK-LOG-010)
    leaf_version: int = LEAF_VERSION


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
        "pattern_version": entry.pattern_version,
        "withheld": entry.withheld,
    }


def leaf_bytes(entry: AccessLogEntry) -> bytes:
    """The Merkle leaf of an entry (RK-LOG-004): RFC 8785 canonical JSON.

    Version 2 (``LEAF_VERSION``) holds every member of the stored record
    (``entry_record``) but the person's ID code — never the person (RK-LOG-008)
    — and, in its place, ``person_digest``: a keyed digest of the salt and the
    person's resident code that reveals nothing without the hub's key and
    differs from entry to entry (RK-LOG-010).  So a change of any stored member,
    the person included, changes the leaf hash.  The random ``salt``
    (RK-RET-003) makes a leaf hash reveal nothing by guessing and keeps it
    verifiable after the entry's content is purged.  Members are strings,
    integers, booleans or null, for which sorted keys, no white space and UTF-8
    are exactly RFC 8785.  A version-1 entry (logged before) gets its
    version-1 leaf back.
    """
    body: dict[str, Any] = {
        "serial": entry.serial,
        "at": entry.at.isoformat(),
        "pattern_id": entry.pattern_id,
        "legal_basis": entry.legal_basis,
        "requester": entry.requester,
        "provider": entry.provider,
        "information_kind": entry.information_kind,
        "outcome": entry.outcome.value,
        "reason": entry.reason,
        "pattern_version": entry.pattern_version,
        "withheld": entry.withheld,
        "linkage_id": entry.linkage_id,
        "request_id": entry.request_id,
        "salt": entry.salt.hex(),
    }
    if entry.leaf_version >= 2:
        body["leaf_version"] = entry.leaf_version
        body["requester_name"] = entry.requester_name
        body["provider_name"] = entry.provider_name
        body["detail"] = entry.detail
        body["person_digest"] = _hex(entry.person_digest)
    return canonical(body).encode()


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


def entry_record(entry: AccessLogEntry) -> str:
    """The stored form of an entry (the durable log store's ``entry`` column).

    Every field, the person's ID code and the salt included, so that
    ``entry_from_record`` gives back an equal entry and the same leaf.  Unlike
    ``leaf_bytes`` this is not hashed and is deleted when the entry is purged.
    The record is canonical (sorted keys, no white space): the one text
    ``entry_record`` gives for its entry, which is how a stored record is
    checked byte for byte (core.log_integrity).  A version-1 entry's record has
    neither ``leaf_version`` nor ``person_digest``, as it was written.
    """
    body: dict[str, Any] = {
        "serial": entry.serial,
        "at": entry.at.isoformat(),
        "pattern_id": entry.pattern_id,
        "legal_basis": entry.legal_basis,
        "requester": entry.requester,
        "requester_name": entry.requester_name,
        "provider": entry.provider,
        "provider_name": entry.provider_name,
        "information_kind": entry.information_kind,
        "outcome": entry.outcome.value,
        "reason": entry.reason,
        "detail": entry.detail,
        "linkage_id": entry.linkage_id,
        "request_id": entry.request_id,
        "person": _hex(entry.person),
        "salt": entry.salt.hex(),
        "pattern_version": entry.pattern_version,
        "withheld": entry.withheld,
    }
    if entry.leaf_version >= 2:
        body["leaf_version"] = entry.leaf_version
        body["person_digest"] = _hex(entry.person_digest)
    return canonical(body)


def leaf_and_record(entry: AccessLogEntry) -> tuple[bytes, str]:
    """``(leaf_bytes(entry), entry_record(entry))``, with one encoding where it can:
    a version-2 leaf is the record without its ``person`` member, both being
    canonical JSON of the same members in sorted order — so the leaf is the
    record's text with ``,"person":<value>`` cut out (a ``"`` inside a string is
    always escaped, so that text occurs only as the member itself)."""
    record = entry_record(entry)
    if entry.leaf_version < 2:
        return leaf_bytes(entry), record
    member = ',"person":' + ("null" if entry.person is None else f'"{entry.person.hex()}"')
    return record.replace(member, "", 1).encode(), record


SHARED_FIELDS = (
    "pattern_id",
    "legal_basis",
    "requester",
    "requester_name",
    "provider",
    "provider_name",
    "information_kind",
    "reason",
)
"""Text fields with few distinct values (patterns, agencies, kinds, reasons)."""


def entry_from_record(record: str, shared: dict[str, str] | None = None) -> AccessLogEntry:
    """The entry ``entry_record`` stored.  :raises ValueError: a malformed record.

    Args:
        record: the stored form.
        shared: when given, the ``SHARED_FIELDS`` of every entry read with the
            same dict are one string object per distinct value (a restarted
            hub holds millions of entries naming a few hundred agencies and
            patterns: about half the memory of an entry).
    """
    try:
        d = json.loads(record)
        if shared is not None:
            for name in SHARED_FIELDS:
                value = d[name]
                if value is not None:
                    d[name] = shared.setdefault(value, value)
        return AccessLogEntry(
            serial=int(d["serial"]),
            at=datetime.fromisoformat(d["at"]),
            pattern_id=d["pattern_id"],
            legal_basis=d["legal_basis"],
            requester=d["requester"],
            requester_name=d["requester_name"],
            provider=d["provider"],
            provider_name=d["provider_name"],
            information_kind=d["information_kind"],
            outcome=Outcome(d["outcome"]),
            reason=d["reason"],
            detail=d["detail"],
            linkage_id=d["linkage_id"],
            request_id=d["request_id"],
            person=_unhex(d["person"]),
            salt=bytes.fromhex(d["salt"]),
            pattern_version=d["pattern_version"],
            withheld=bool(d["withheld"]),
            person_digest=_unhex(d["person_digest"]) if "leaf_version" in d else None,
            leaf_version=int(d.get("leaf_version", 1)),
        )
    except (KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not an access-log record: {exc}") from exc


def _unhex(value: str | None) -> bytes | None:
    return bytes.fromhex(value) if value is not None else None
