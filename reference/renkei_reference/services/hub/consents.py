"""Private bodies' consent records at the hub (民間の情報保有機関の本人同意; RK-BND-004).

Seed item 20 (第１．５．（４）①, なお書き): a private body links only with the
person's consent and 4 items obtained from the person.  Who records what:

* the **person** gives consent to the private body, in writing, electronically
  (signed with the card key) or in person;
* the **private body** keeps the evidence (the signed form or the signature)
  and records the consent at the hub (``recordConsent``): its own record
  reference, the purpose, the patterns covered, when and how consent was
  obtained and the SHA-256 digest of the evidence — no personal data;
* the **hub** cannot verify the consent itself; it keeps the record, ties it to
  the person's ID code when a binding names it and refuses, from its
  withdrawal on, every binding and query of that private body for that person.

The hub holds this book under its own lock; the book does no I/O.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from ...core.errors import NotFoundError, PermissionDeniedError

__all__ = ["ConsentBook", "ConsentIn", "ConsentRecord"]


@dataclass(frozen=True, slots=True)
class ConsentIn:
    """A consent as the HTTP edge validated it (OpenAPI ``ConsentRequest``)."""

    record_ref: str
    purpose: str
    pattern_ids: tuple[str, ...]
    obtained_at: str  # ISO 8601, as the private body sent it
    method: str  # written | electronic | in-person
    evidence_sha256: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One consent as the private body recorded it (OpenAPI ``Consent``)."""

    consent_id: str
    private_body: str
    record_ref: str
    purpose: str
    pattern_ids: tuple[str, ...]
    obtained_at: str
    method: str  # written | electronic | in-person
    evidence_sha256: str | None
    recorded_at: str
    state: str = "active"  # active | withdrawn
    withdrawn_at: str | None = None
    person: bytes | None = None  # the ID code, once a binding named the consent

    def to_json(self) -> str:
        """The durable form (the hub's state store): everything, the ID code in hex."""
        data = asdict(self)
        data["person"] = self.person.hex() if self.person else None
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ConsentRecord:
        data = json.loads(text)
        data["pattern_ids"] = tuple(data["pattern_ids"])
        data["person"] = bytes.fromhex(data["person"]) if data["person"] else None
        return cls(**data)


class ConsentBook:
    """The consents of every private body, by consent id (RK-BND-004)."""

    def __init__(self, save: Callable[[ConsentRecord], None] = lambda _: None) -> None:
        self._by_id: dict[str, ConsentRecord] = {}
        self._save = save  # durability: a restarted hub keeps every withdrawal

    def _put(self, consent: ConsentRecord) -> None:
        self._by_id[consent.consent_id] = consent
        self._save(consent)

    def restore(self, text: str) -> None:
        """A consent from the durable store, at start-up (no save)."""
        consent = ConsentRecord.from_json(text)
        self._by_id[consent.consent_id] = consent

    def record(self, private_body: str, body: ConsentIn, now: str) -> ConsentRecord:
        consent = ConsentRecord(
            consent_id=f"cs-{secrets.token_hex(10)}",
            private_body=private_body,
            record_ref=body.record_ref,
            purpose=body.purpose,
            pattern_ids=body.pattern_ids,
            obtained_at=body.obtained_at,
            method=body.method,
            evidence_sha256=body.evidence_sha256,
            recorded_at=now,
        )
        self._put(consent)
        return consent

    def _own(self, private_body: str, consent_id: str | None) -> ConsentRecord | None:
        consent = self._by_id.get(consent_id or "")
        return consent if consent is not None and consent.private_body == private_body else None

    def usable(self, private_body: str, consent_id: str | None) -> ConsentRecord:
        """The consent a binding record names, active and the caller's own.

        :raises PermissionDeniedError: ``consent-required`` when the record names
            none, or one unknown or of another body (not told apart);
            ``consent-withdrawn`` when it was withdrawn.
        """
        consent = self._own(private_body, consent_id)
        if consent is None:
            raise PermissionDeniedError(
                "consent-required",
                "a private body binds only with a consent it recorded at the hub (consent_id)",
                "RK-BND-004",
            )
        if consent.state == "withdrawn":
            raise PermissionDeniedError(
                "consent-withdrawn", f"consent {consent.consent_id} was withdrawn", "RK-BND-004"
            )
        return consent

    def require_person(self, consent_id: str, person: bytes) -> None:
        """A consent is one person's: naming it for another is ``consent-required``."""
        tied = self._by_id[consent_id].person
        if tied is not None and tied != person:
            raise PermissionDeniedError(
                "consent-required",
                f"consent {consent_id} was given by another person",
                "RK-BND-004",
            )

    def tie(self, consent_id: str, person: bytes) -> None:
        """A binding under ``consent_id`` bound the person with this ID code."""
        self._put(replace(self._by_id[consent_id], person=person))

    def refuse_if_withdrawn(self, private_body: str, person: bytes) -> None:
        """RK-BND-004: after withdrawal, no binding or query of that body for that person."""
        for c in self._by_id.values():
            if c.private_body == private_body and c.person == person and c.state == "withdrawn":
                raise PermissionDeniedError(
                    "consent-withdrawn",
                    f"the person withdrew consent {c.consent_id} from {private_body}",
                    "RK-BND-004",
                )

    def withdraw(self, private_body: str, consent_id: str, now: str) -> bool:
        """Withdraw; False when it was withdrawn before (a no-op).

        :raises NotFoundError: ``not-found`` for a consent that is not the caller's.
        """
        consent = self._own(private_body, consent_id)
        if consent is None:
            raise NotFoundError("not-found", f"no consent {consent_id!r}", "RK-BND-004")
        if consent.state == "withdrawn":
            return False
        self._put(replace(consent, state="withdrawn", withdrawn_at=now))
        return True

    def rekey(self, remake: Callable[[bytes], bytes]) -> None:
        """The ID-code key rotated (RK-KEY-002): re-make the stored ID codes."""
        for c in list(self._by_id.values()):
            if c.person:
                self._put(replace(c, person=remake(c.person)))

    def dump(self) -> list[dict[str, Any]]:
        """The state export (RK-CTL-006): a JSON document, not a typed value — it
        is only written out whole (``/control/state``)."""
        out = []
        for c in self._by_id.values():
            given = {k: v for k, v in asdict(c).items() if k not in ("person", "withdrawn_at")}
            given["pattern_ids"] = list(c.pattern_ids)
            out.append(
                {
                    **{k: v for k, v in given.items() if v is not None},
                    "withdrawn_at": c.withdrawn_at,
                    "person": c.person.hex() if c.person else None,
                }
            )
        return out
