"""The pattern table in force and the signed documents it came from (item 17, RK-PAT-003)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ...core.admin_log import AdminEvent
from ...core.pattern_document import (
    FORMAT,
    PatternDocument,
    encode_pattern_document,
    open_pattern_document,
    sign_pattern_document,
)
from ...core.patterns import LinkagePattern
from ..store.log_store import SealedRecords
from .logs import HubLogs

__all__ = ["LoadedDocument", "PatternDesk"]

PATTERN = "pattern"


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A pattern document as the hub loaded it (RK-PAT-003), as stored: the signed
    bytes and signature (base64), when it was issued and loaded, and the trust
    anchor that verified it (raw Ed25519, base64; whether it was the control key)."""

    version: int
    issuer: str
    issued_at: str
    loaded_at: str
    document: str
    signature: str
    anchor: str
    anchor_is_control: bool


class PatternDesk:
    """Patterns enter only as a document signed by the trust anchor's issuer.

    In test mode the hub holds a control-plane issuer key, so that the control
    interface may load a plain list as a document it signs itself
    (``load_list``) while that key is the anchor.

    Every document loaded is kept in the durable store (space ``pattern``) with
    the anchor that verified it; at start the latest is verified again against
    that anchor and is the table in force, so a restart neither loses the table
    nor accepts a lower version (RK-PAT-003).  The control-plane key is made
    anew at each start: an anchor that was the previous control key becomes
    the new one.
    """

    def __init__(self, logs: HubLogs, records: SealedRecords) -> None:
        self._logs = logs
        self._records = records
        self.table: dict[str, LinkagePattern] = {}
        self.version: int | None = None
        self.control_issuer = Ed25519PrivateKey.generate()
        self.anchor: Ed25519PublicKey = self.control_issuer.public_key()
        self._anchor_is_control = True
        self._documents: list[LoadedDocument] = []  # every document loaded, for the auditor
        for _, value in records.items(PATTERN):
            self._documents.append(LoadedDocument(**json.loads(value)))
        if self._documents:
            self._resume(self._documents[-1])

    def _resume(self, latest: LoadedDocument) -> None:
        anchor = Ed25519PublicKey.from_public_bytes(base64.b64decode(latest.anchor))
        data, signature = base64.b64decode(latest.document), base64.b64decode(latest.signature)
        doc = open_pattern_document(data, signature, anchor, None)
        self.table, self.version = doc.table(), doc.version
        if not latest.anchor_is_control:
            self.anchor, self._anchor_is_control = anchor, False

    def latest_document(self) -> LoadedDocument | None:
        """The record of the document in force (None before any was loaded)."""
        return self._documents[-1] if self._documents else None

    def set_anchor(self, public_key: Ed25519PublicKey) -> None:
        """Test mode: the kit names its own issuer key as the trust anchor."""
        self.anchor = public_key
        self._anchor_is_control = False

    def _raw_anchor(self) -> str:
        raw = self.anchor.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return base64.b64encode(raw).decode()

    def load_document(self, data: bytes, signature: bytes, now: datetime) -> PatternDocument:
        """A refusal (422 ``invalid-pattern``) leaves the table in force unchanged."""
        doc = open_pattern_document(data, signature, self.anchor, self.version)
        self.table = doc.table()
        self.version = doc.version
        self._logs.record(
            AdminEvent.PATTERN_DOCUMENT_LOADED,
            "control",
            now,
            version=doc.version,
            issuer=doc.issuer,
            patterns=len(doc.patterns),
            document_sha256=hashlib.sha256(data).hexdigest(),
        )
        record = LoadedDocument(
            version=doc.version,
            issuer=doc.issuer,
            issued_at=doc.issued_at.isoformat(),
            loaded_at=now.isoformat(),
            document=base64.b64encode(data).decode(),
            signature=base64.b64encode(signature).decode(),
            anchor=self._raw_anchor(),
            anchor_is_control=self._anchor_is_control,
        )
        self._documents.append(record)
        self._records.put(PATTERN, f"{doc.version:012d}", json.dumps(asdict(record)))
        return doc

    def load_list(self, patterns: Iterable[LinkagePattern], now: datetime) -> int:
        """Test mode: a plain list becomes the next document, signed by the
        control-plane issuer — so it loads only while that key is the anchor."""
        table = list(patterns)
        doc = PatternDocument(
            format=FORMAT,
            version=(self.version or 0) + 1,
            issued_at=now,
            issuer="renkei control interface (test mode)",
            patterns=tuple(table),
        )
        data = encode_pattern_document(doc)
        self.load_document(data, sign_pattern_document(data, self.control_issuer), now)
        return len(table)

    def dump(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """The table in force and every document loaded (RK-CTL-006): part of the
        state export, a JSON document written out whole, not a typed value."""

        def iso(t: datetime | None) -> str | None:
            return t.isoformat() if t else None

        table = [
            {
                **asdict(p),
                "requesters": sorted(p.requesters),
                "providers": sorted(p.providers),
                "information_kinds": sorted(p.information_kinds),
                "valid_from": iso(p.valid_from),
                "valid_until": iso(p.valid_until),
            }
            for p in self.table.values()
        ]
        keep = ("version", "issuer", "issued_at", "loaded_at", "document", "signature")
        return table, [{k: v for k, v in asdict(d).items() if k in keep} for d in self._documents]
