"""The hub's typed results in their wire form: the HTTP edge's half of the hub.

The hub's parts return frozen dataclasses named from the domain; ``services.app``
turns them into the JSON bodies specs/openapi/renkei.yaml describes, here, and
nowhere else.  Each function names the OpenAPI schema it writes; the schemas
are closed, so every key written here is one the schema lists.
"""

from __future__ import annotations

import base64
from dataclasses import asdict
from typing import Any

from ..core.access_log import auditor_view
from ..core.admin_log import admin_leaf_bytes, admin_view
from ..core.instant import iso_of
from .hub import (
    AdminPage,
    AuditorEntry,
    BindingDecision,
    ConsentRecord,
    ConsistencyProof,
    CurrencyResult,
    Delivery,
    LegalHoldView,
    Rebinding,
    Receipt,
    SignedCheckpoint,
    hold_document,
)

__all__ = [
    "admin_page",
    "auditor_entry",
    "binding_result",
    "checkpoint",
    "consent",
    "consistency_proof",
    "currency_result",
    "delivery",
    "legal_hold",
    "rebinding_result",
    "receipt",
]


def binding_result(d: BindingDecision) -> dict[str, Any]:
    """OpenAPI ``BindingResult``."""
    return {
        "record_ref": d.record_ref,
        "decision": d.decision,
        "link_code": d.link_code,
        "reasons": list(d.reasons),
    }


def rebinding_result(r: Rebinding) -> dict[str, Any]:
    """OpenAPI ``RebindingResult``."""
    return {"link_code": r.link_code, "new_link_code": r.new_link_code, "problem": r.problem}


def currency_result(r: CurrencyResult) -> dict[str, Any]:
    """OpenAPI ``CurrencyResult``: the latest 4 items only when told, unknown ones left out."""
    out: dict[str, Any] = {"record_ref": r.record_ref, "status": r.status}
    if r.four_items is not None:
        out["four_items"] = {k: v for k, v in asdict(r.four_items).items() if v is not None}
    return out


def consent(c: ConsentRecord) -> dict[str, Any]:
    """OpenAPI ``Consent``: never the ID code it is tied to; absent items left out."""
    out = {k: v for k, v in asdict(c).items() if k not in ("person", "withdrawn_at")}
    out["pattern_ids"] = list(c.pattern_ids)
    return {k: v for k, v in out.items() if v is not None}


def receipt(r: Receipt) -> dict[str, Any]:
    """OpenAPI ``Receipt`` (member by member: on every query and relayed answer,
    where ``dataclasses.asdict``'s deep copy cost more than the rest of the view)."""
    return {
        "linkage_id": r.linkage_id,
        "serial": r.serial,
        "leaf_index": r.leaf_index,
        "leaf": r.leaf,
        "leaf_hash": r.leaf_hash,
        "tree_size": r.tree_size,
        "inclusion_proof": list(r.inclusion_proof),
        "checkpoint": r.checkpoint,
    }


def checkpoint(c: SignedCheckpoint) -> dict[str, Any]:
    """OpenAPI ``Checkpoint``."""
    return asdict(c)


def consistency_proof(p: ConsistencyProof) -> dict[str, Any]:
    """OpenAPI ``ConsistencyProof``."""
    return {"first": p.first, "second": p.second, "proof": list(p.proof)}


def admin_page(page: AdminPage) -> dict[str, Any]:
    """OpenAPI ``AdminLogPage``: each entry with its leaf, and the signed checkpoint."""
    return {
        "entries": [
            {**admin_view(e), "leaf": base64.b64encode(admin_leaf_bytes(e)).decode()}
            for e in page.entries
        ],
        "checkpoint": checkpoint(page.checkpoint),
    }


def delivery(d: Delivery) -> dict[str, Any]:
    """OpenAPI ``Delivery`` (member by member, as ``receipt``)."""
    return {
        "linkage_id": d.linkage_id,
        "requester": d.requester,
        "pattern_id": d.pattern_id,
        "information_kind": d.information_kind,
        "link_code": d.link_code,
        "deadline": iso_of(d.deadline),
        "serial": d.serial,
    }


def legal_hold(v: LegalHoldView) -> dict[str, Any]:
    """OpenAPI ``LegalHold``."""
    return hold_document(v)


def auditor_entry(e: AuditorEntry) -> dict[str, Any]:
    """OpenAPI ``AuditorLogEntry``: the entry with the person as the auditor's pseudonym."""
    return auditor_view(e.entry, e.person_ref)
