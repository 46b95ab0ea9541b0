"""Known-bad variants of the reference, for the kit's self-validation.

# renkei: not-an-implementation

``renkei conformance selftest`` runs the kit against the reference (everything
must pass) and against each variant below.  A variant is the reference with
one small, deliberate violation of one requirement — the kinds of mistakes a
real implementation makes: a Number derived from the resident code, link codes
shared by agencies, a missing requester check, refusals left out of the log,
purging at 5 years, the payload kept at the hub, receipts that do not verify…
The kit must *kill* every variant: some test naming the violated requirement
must fail.  A variant that survives means a hole in the kit.

Variants are reached as in-process targets ``reference@<name>`` (see
``plugin.create_test_app``) and listed by the ``renkei.known_bad`` entry point.
Each patches one fresh ``Federation`` instance (never a module or class), so
the reference itself is untouched.  Nothing here is used by ``renkei serve``.

The traceability scan skips this file (the marker line above): naming a
requirement here violates it, it does not implement it.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from types import MethodType
from typing import Any, cast

from .core.codes import AgencyId, IdCode, LinkCode, ResidentCode, id_code_from_link_code
from .core.crypto import derive_key
from .core.errors import RenkeiError
from .core.instant import SECOND, Instant, instant_of
from .core.keys import KeyPurpose
from .core.numbering import NUMBER_SPACE
from .core.pattern_document import sign_pattern_document
from .services.federation import Agency, Federation, FourItems, Role
from .services.hub import AuditorEntry, ConsistencyProof, QueryIn, Receipt
from .services.hub.binding import BindingDecision
from .services.hub.linkages import request_key
from .services.numbering.table import CsprngDraw

__all__ = ["KNOWN_BAD", "KnownBad", "catalog", "federation_factory", "wrap_app"]

Patch = Callable[[Federation], None]
Rewrite = Callable[["Response", Federation], "Response"]
"""A change to one HTTP response of the variant's app (see ``wrap_app``)."""
Inspect = Callable[[dict[str, str]], None]
"""A look at one HTTP request's headers (lower-case names) before the app serves it."""


@dataclass
class Response:
    """One response as a variant's ``rewrite`` sees and changes it."""

    method: str
    path: str
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(frozen=True)
class KnownBad:
    """One deliberate violation: its name, the requirement it breaks, how."""

    name: str
    requirement: str
    description: str
    patch: Patch
    rewrite: Rewrite | None = None  # a change on the wire, after the federation answered
    inspect: Inspect | None = None  # a look at each request, before the federation serves it

    def as_json(self) -> dict[str, str]:
        return {
            "name": self.name,
            "requirement": self.requirement,
            "description": self.description,
        }


KNOWN_BAD: dict[str, KnownBad] = {}


def _variant(
    name: str,
    requirement: str,
    description: str,
    rewrite: Rewrite | None = None,
    inspect: Inspect | None = None,
) -> Callable[[Patch], Patch]:
    def register(patch: Patch) -> Patch:
        KNOWN_BAD[name] = KnownBad(name, requirement, description, patch, rewrite, inspect)
        return patch

    return register


def _override(obj: object, name: str, fn: Callable[..., Any]) -> None:
    """Replace one method of one instance; ``fn`` receives the original first."""
    original = getattr(obj, name)

    def method(self: object, *args: Any, **kwargs: Any) -> Any:
        return fn(original, *args, **kwargs)

    setattr(obj, name, MethodType(method, obj))


def catalog() -> list[dict[str, str]]:
    """The ``renkei.known_bad`` entry point: every variant's name and requirement."""
    return [v.as_json() for v in KNOWN_BAD.values()]


def federation_factory(
    name: str, built: list[Federation] | None = None
) -> Callable[[Any], Federation]:
    """A ``Federation`` factory that builds the named variant (fresh on each reset);
    the latest federation it built is ``built[0]``."""
    try:
        variant = KNOWN_BAD[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_BAD))
        raise ValueError(f"unknown known-bad variant {name!r} (known: {known})") from None

    def make(clock: Any) -> Federation:
        fed = Federation(clock)
        variant.patch(fed)
        if built is not None:
            built[:] = [fed]
        return fed

    return make


def wrap_app(name: str, app: Any, built: list[Federation]) -> Any:
    """``app`` with the variant's ``inspect`` shown every HTTP request and its
    ``rewrite`` applied to every HTTP response (an ASGI wrapper that buffers each
    response), or ``app`` itself."""
    rewrite, inspect = KNOWN_BAD[name].rewrite, KNOWN_BAD[name].inspect
    if rewrite is None and inspect is None:
        return app

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        if inspect is not None:
            inspect({k.decode("latin-1").lower(): v.decode("latin-1")
                     for k, v in scope.get("headers", [])})  # fmt: skip
        if rewrite is None:
            await app(scope, receive, send)
            return
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def capture(message: Any) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
                return
            chunks.append(message.get("body", b""))
            if message.get("more_body"):
                return
            out = rewrite(
                Response(
                    scope["method"],
                    scope["path"],
                    start["status"],
                    [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"],
                    b"".join(chunks),
                ),
                built[0],
            )
            headers = [*out.headers, (b"content-length", str(len(out.body)).encode())]
            await send({"type": "http.response.start", "status": out.status, "headers": headers})
            await send({"type": "http.response.body", "body": out.body})

        await app(scope, receive, capture)

    return wrapped


# -- numbering authority ---------------------------------------------------------
@_variant(
    "number-from-resident-code",
    "RK-NUM-002",
    "Numbers are the resident code's leading digits plus a check digit, not random draws",
)
def _number_from_resident_code(fed: Federation) -> None:
    authority = fed.numbering

    def issue(_original: Any, resident: ResidentCode) -> Any:
        derived = int(resident.value[:10]) % NUMBER_SPACE
        fallback = CsprngDraw()
        draws = iter([derived])
        return authority._table.issue(
            resident, lambda: next(draws, None) or fallback(), fed.clock.now()
        )

    _override(authority, "issue", issue)


_FIXED_NUMBER_KEY = b"renkei known-bad: a key kept across resets"


@_variant(
    "numbers-keyed-from-the-resident-code",
    "RK-NUM-001",
    "Numbers are HMAC-SHA256(fixed key, resident code) mod 10^11: uniform and unordered, "
    "passing every statistic inside one deployment, but the same after a reset",
)
def _numbers_keyed(fed: Federation) -> None:
    import hashlib
    import hmac

    authority = fed.numbering

    def issue(_original: Any, resident: ResidentCode) -> Any:
        mac = hmac.new(_FIXED_NUMBER_KEY, resident.value.encode(), hashlib.sha256).digest()
        draws = iter([int.from_bytes(mac[:8], "big") % NUMBER_SPACE])
        fallback = CsprngDraw()
        return authority._table.issue(
            resident, lambda: next(draws, None) or fallback(), fed.clock.now()
        )

    _override(authority, "issue", issue)


@_variant(
    "number-digit-copied-from-the-resident-code",
    "RK-NUM-002",
    "Numbers are random draws except that their 6th digit is the resident code's 9th",
)
def _number_digit_copied(fed: Federation) -> None:
    authority = fed.numbering

    def issue(_original: Any, resident: ResidentCode) -> Any:
        draw = CsprngDraw()

        def leaky() -> int:
            digits = list(f"{draw():011d}")
            digits[5] = resident.value[8]
            return int("".join(digits))

        return authority._table.issue(resident, leaky, fed.clock.now())

    _override(authority, "issue", issue)


@_variant(
    "reissue-steps-from-the-old-number",
    "RK-NUM-007",
    "a re-issued Number is the old one's body plus one (with its new check digit)",
)
def _reissue_steps(fed: Federation) -> None:
    from .core.numbering import ReissueReason

    authority = fed.numbering

    def reissue(_original: Any, resident: ResidentCode, reason: ReissueReason) -> Any:
        old = authority._table.lookup(resident).number
        fallback = CsprngDraw()
        draws = iter([(int(old.value[:11]) + 1) % NUMBER_SPACE])
        new = authority._table.reissue(
            resident, lambda: next(draws, None) or fallback(), fed.clock.now(), reason
        )
        return old, new

    _override(authority, "reissue", reissue)


@_variant(
    "second-number-for-one-resident",
    "RK-NUM-005",
    "a second issue for a resident code quietly re-issues instead of refusing",
)
def _second_number(fed: Federation) -> None:
    from .core.numbering import ReissueReason

    authority = fed.numbering

    def issue(original: Any, resident: ResidentCode) -> Any:
        if authority.has_number(resident):
            return authority.reissue(resident, next(iter(ReissueReason)))[1]
        return original(resident)

    _override(authority, "issue", issue)


@_variant(
    "reissue-keeps-the-old-number",
    "RK-NUM-007",
    "re-issuing answers with the old Number and revokes nothing",
)
def _reissue_keeps(fed: Federation) -> None:
    authority = fed.numbering

    def reissue(_original: Any, resident: ResidentCode, reason: Any) -> Any:
        old = authority.lookup(resident).number
        return old, old

    _override(authority, "reissue", reissue)


@_variant(
    "numbering-open-to-every-agency",
    "RK-NUM-010",
    "every agency is treated as a municipality, so any agency may issue Numbers",
)
def _numbering_open(fed: Federation) -> None:
    def authenticate(original: Any, token: str | None) -> Agency:
        agency: Agency = original(token)
        return replace(agency, role=Role.MUNICIPALITY) if agency.role is Role.AGENCY else agency

    _override(fed, "authenticate", authenticate)


@_variant(
    "number-does-not-follow-code-change",
    "RK-NUM-008",
    "a change of resident code issues a new Number instead of carrying the old one over",
)
def _number_code_change(fed: Federation) -> None:
    authority = fed.numbering

    def change(_original: Any, old: ResidentCode, new: ResidentCode) -> Any:
        return authority._table.issue(new, CsprngDraw(), fed.clock.now())

    _override(authority, "change_resident_code", change)


# -- ID codes and link codes -------------------------------------------------------
@_variant(
    "id-code-lost-on-code-change",
    "RK-IDC-003",
    "the hub ignores a change of resident code, so the person's link codes change",
)
def _id_code_lost(fed: Federation) -> None:
    _override(fed.hub, "resident_code_changed", lambda _original, old, new: None)


@_variant(
    "shared-link-codes",
    "RK-LNK-001",
    "one link-code unit for every agency: all agencies get the same link code",
)
def _shared_link_codes(fed: Federation) -> None:
    shared = AgencyId("renkei.shared")
    _map_units(fed, lambda unit: shared)


def _map_units(fed: Federation, unit_of: Callable[[AgencyId], AgencyId]) -> None:
    """Make and read every link code under ``unit_of(unit)`` instead of the unit."""
    hub = fed.hub
    codes = hub.codes
    _override(codes, "link_out", lambda original, id_code, unit: original(id_code, unit_of(unit)))
    _override(codes, "link_in", lambda original, text, unit, at: original(text, unit_of(unit), at))


def _other_unit_accepts(
    fed: Federation, original: Callable[..., IdCode], text: str, unit: AgencyId, at: datetime
) -> IdCode | None:
    """The ID code behind ``text`` when it authenticates for another agency's unit."""
    for agency in list(fed.hub.agencies.values()):
        if agency.unit == unit:
            continue
        try:
            return original(text, agency.unit, at)
        except RenkeiError:
            continue
    return None


@_variant(
    "cross-agency-link-codes-accepted",
    "RK-LNK-002",
    "a link code of another agency is accepted by trying every agency's unit",
)
def _cross_agency(fed: Federation) -> None:
    def link_in(original: Any, text: str, unit: AgencyId, at: datetime) -> IdCode:
        try:
            code: IdCode = original(text, unit, at)
            return code
        except RenkeiError:
            other = _other_unit_accepts(fed, original, text, unit, at)
            if other is None:
                raise
            return other

    _override(fed.hub.codes, "link_in", link_in)


@_variant(
    "link-unit-from-a-truncated-agency-id",
    "RK-LNK-001",
    "the link-code unit is the agency id's first 10 characters: agencies whose ids share "
    "a prefix share link codes",
)
def _truncated_unit(fed: Federation) -> None:
    _map_units(fed, lambda unit: AgencyId(unit.value[:10]))


@_variant(
    "foreign-link-code-refused-distinctly",
    "RK-LNK-002",
    "another agency's link code is refused, but with a detail that says it exists elsewhere",
)
def _foreign_refused_distinctly(fed: Federation) -> None:
    from .core.errors import CallerError

    def link_in(original: Any, text: str, unit: AgencyId, at: datetime) -> IdCode:
        try:
            code: IdCode = original(text, unit, at)
            return code
        except RenkeiError:
            if _other_unit_accepts(fed, original, text, unit, at) is None:
                raise
            raise CallerError(
                "link-code-not-valid-for-agency",
                "the link code was issued to another agency",
                "RK-LNK-002",
            ) from None

    _override(fed.hub.codes, "link_in", link_in)


@_variant(
    "link-codes-retained",
    "RK-LNK-003",
    "the hub caches every link code it makes (and shows it in its stored state)",
)
def _link_codes_retained(fed: Federation) -> None:
    hub = fed.hub
    cache: list[str] = []

    def link_out(original: Any, id_code: IdCode, unit: AgencyId) -> LinkCode:
        link: LinkCode = original(id_code, unit)
        cache.append(link.text())
        return link

    def dump(original: Any) -> dict[str, Any]:
        return {**original(), "hub.link_code_cache": [{"link_code": c} for c in cache]}

    _override(hub.codes, "link_out", link_out)
    _override(hub, "dump", dump)


@_variant(
    "retired-link-key-accepted",
    "RK-LNK-005",
    "link codes of a retired key version are still accepted after the transition window",
)
def _retired_key(fed: Federation) -> None:
    hub = fed.hub

    def link_in(_original: Any, text: str, unit: AgencyId, at: datetime) -> IdCode:
        conversion = hub.codes.conversion()  # its link ring never consulted
        link = LinkCode.parse(text)
        cipher = conversion.cipher(KeyPurpose.LINK_CODE, link.key_version)
        return conversion.current(id_code_from_link_code(cipher, link, unit), instant_of(at))

    _override(hub.codes, "link_in", link_in)


@_variant(
    "sector-unit-ignored",
    "RK-LNK-006",
    "agencies of one sector subsystem each get their own link codes",
)
def _sector_ignored(fed: Federation) -> None:
    _override(
        fed.hub,
        "register_agency",
        lambda original, agency, **kw: original(replace(agency, link_code_unit=None), **kw),
    )


@_variant(
    "number-accepted-as-link-code",
    "RK-NUM-003",
    "the hub looks a 12-digit Number up at the numbering authority instead of refusing it",
)
def _number_as_link(fed: Federation) -> None:
    hub = fed.hub

    def link_in(original: Any, text: str, unit: AgencyId, at: datetime) -> IdCode:
        if len(text) == 12 and text.isdigit():
            for row in fed.numbering._table.dump():
                if row["number"] == text:
                    return hub.codes.id_code(ResidentCode(row["resident_code"]))
        code: IdCode = original(text, unit, at)
        return code

    _override(hub.codes, "link_in", link_in)


@_variant(
    "key-rotation-reissues-numbers",
    "RK-NUM-009",
    "rotating the hub's ID-code key re-issues every Number (the hub reaches the table)",
)
def _rotation_reissues(fed: Federation) -> None:
    from .core.numbering import ReissueReason

    def rotate(original: Any, purpose: KeyPurpose, transition: timedelta) -> Any:
        ring = original(purpose, transition)
        for row in fed.numbering._table.dump():
            if row.get("revoked_at") is None:
                fed.numbering.reissue(ResidentCode(row["resident_code"]), next(iter(ReissueReason)))
        return ring

    _override(fed.hub, "rotate", rotate)


# -- patterns and authorisation --------------------------------------------------
@_variant(
    "requester-not-checked",
    "RK-PAT-002",
    "the hub believes the requester named in the body, not the authenticated caller",
)
def _requester_not_checked(fed: Federation) -> None:
    hub = fed.hub

    def query(original: Any, caller: Agency, body: QueryIn) -> Any:
        return original(hub.agencies.get(body.requester, caller), body)

    _override(hub, "query", query)


@_variant(
    "pattern-validity-ignored",
    "RK-PAT-001",
    "patterns approve queries before they come into force and after they lapse",
)
def _validity_ignored(fed: Federation) -> None:
    desk = fed.hub.pattern_desk

    def load(original: Any, data: bytes, signature: bytes, now: datetime) -> Any:
        doc = original(data, signature, now)
        desk.table = {
            k: replace(p, valid_from=None, valid_until=None) for k, p in desk.table.items()
        }
        return doc

    _override(desk, "load_document", load)


@_variant(
    "information-kind-not-checked",
    "RK-PAT-001",
    "a pattern approves any information kind, not only those it covers",
)
def _kind_not_checked(fed: Federation) -> None:
    hub = fed.hub

    def query(original: Any, caller: Agency, body: QueryIn) -> Any:
        pattern = hub.patterns.get(body.pattern_id)
        if pattern is not None and body.information_kind not in pattern.information_kinds:
            body = replace(body, information_kind=sorted(pattern.information_kinds)[0])
        return original(caller, body)

    _override(hub, "query", query)


@_variant(
    "unsigned-pattern-documents-accepted",
    "RK-PAT-003",
    "pattern documents load whatever their signature",
)
def _unsigned_documents(fed: Federation) -> None:
    desk = fed.hub.pattern_desk

    def load(original: Any, data: bytes, signature: bytes, now: datetime) -> Any:
        anchor = desk.anchor
        desk.anchor = desk.control_issuer.public_key()
        try:
            return original(data, sign_pattern_document(data, desk.control_issuer), now)
        finally:
            desk.anchor = anchor

    _override(desk, "load_document", load)


@_variant(
    "unknown-credential-accepted",
    "RK-ARCH-002",
    "a request with a missing or unknown credential is served as the first agency",
)
def _unknown_credential(fed: Federation) -> None:
    def authenticate(original: Any, token: str | None) -> Agency:
        try:
            agency: Agency = original(token)
            return agency
        except RenkeiError:
            agencies = [a for a in fed.hub.agencies.values() if a.role == "agency"]
            if not agencies:
                raise
            return agencies[0]

    _override(fed, "authenticate", authenticate)


# -- the linkage flow ------------------------------------------------------------
@_variant(
    "payload-kept-after-relay",
    "RK-FLOW-002",
    "the hub archives every answer it relays",
)
def _payload_kept(fed: Federation) -> None:
    hub = fed.hub
    archive: list[dict[str, str]] = []

    def hand_out(original: Any, requester: Agency, linkage_id: str) -> Any:
        linkage, payload, serial = original(requester, linkage_id)
        if payload is not None:
            archive.append({"linkage_id": linkage_id, "payload": payload})
        return linkage, payload, serial

    def dump(original: Any) -> dict[str, Any]:
        return {**original(), "hub.answer_archive": list(archive)}

    _override(hub, "hand_out", hand_out)  # the requester's read (Hub.status reads through it)
    _override(hub, "dump", dump)


@_variant(
    "answer-erased-at-first-read",
    "RK-FLOW-002",
    "the hub erases an answer as soon as it hands it out, before the requester "
    "acknowledges it: a response lost in a crash loses the answer",
)
def _erased_at_first_read(fed: Federation) -> None:
    hub = fed.hub

    def hand_out(original: Any, requester: Agency, linkage_id: str) -> Any:
        linkage, payload, serial = original(requester, linkage_id)
        if payload is not None:
            hub.acknowledge(requester, linkage_id)
        return linkage, payload, serial

    _override(hub, "hand_out", hand_out)


@_variant(
    "acknowledgement-ignored",
    "RK-FLOW-002",
    "the hub answers 204 to the requester's acknowledgement but keeps handing the "
    "answer out until the collection period ends",
)
def _acknowledgement_ignored(fed: Federation) -> None:
    hub = fed.hub

    def acknowledge(original: Any, requester: Agency, linkage_id: str) -> None:
        relay = hub.linkages.relays.get(linkage_id)
        if relay is None or relay.linkage.requester != requester.agency_id:
            original(requester, linkage_id)  # the refusals stay as they were

    _override(hub, "acknowledge", acknowledge)


@_variant(
    "any-agency-may-answer",
    "RK-FLOW-003",
    "an open linkage can be answered or read by any agency, not only its parties",
)
def _any_agency(fed: Federation) -> None:
    desk = fed.hub.linkages

    def open_linkage(original: Any, linkage_id: str, party: str, role: str) -> Any:
        linkage = desk.linkages.get(linkage_id)
        if linkage is not None:
            party = linkage.provider if role == "provider" else linkage.requester
        return original(linkage_id, party, role)

    _override(desk, "open_linkage", open_linkage)


@_variant(
    "replayed-request-id-accepted",
    "RK-FLOW-003",
    "a requester may reuse a request ID; the replay opens a second linkage",
)
def _replay(fed: Federation) -> None:
    hub = fed.hub

    def query(original: Any, caller: Agency, body: QueryIn) -> Any:
        key = request_key(caller.agency_id, body.request_id)
        hub.linkages.requests.pop(key, None)
        return original(caller, body)

    _override(hub, "query", query)


@_variant(
    "late-answer-accepted",
    "RK-FLOW-004",
    "an answer after the pattern's deadline is accepted and relayed",
)
def _late_answer(fed: Federation) -> None:
    desk = fed.hub.linkages

    def answer(original: Any, provider: Agency, linkage_id: str, payload: str, now: datetime
               ) -> Any:  # fmt: skip
        linkage = desk.linkages.get(linkage_id)
        at = instant_of(now)
        if linkage is not None and at >= linkage.deadline:
            desk.linkages[linkage_id] = replace(linkage, deadline=Instant(at + SECOND))
        return original(provider, linkage_id, payload, now)

    _override(desk, "expire_due", lambda _original, now: None)
    _override(desk, "answer", answer)


@_variant(
    "internal-error-on-unknown-linkage",
    "RK-WIRE-001",
    "an unknown linkage ID crashes the handler (500) instead of a 404 problem",
)
def _crash_unknown(fed: Federation) -> None:
    desk = fed.hub.linkages

    def open_linkage(original: Any, linkage_id: str, party: str, role: str) -> Any:
        if linkage_id not in desk.linkages:
            raise KeyError(linkage_id)  # escapes as an unhandled error: a 500
        return original(linkage_id, party, role)

    _override(desk, "open_linkage", open_linkage)


@_variant(
    "cursor-overflow-500",
    "RK-WIRE-001",
    "a huge paging cursor reaches SQLite as is and overflows (500) instead of a 4xx or empty page",
)
def _cursor_overflow(fed: Federation) -> None:
    import sqlite3
    from contextlib import closing

    def entries(original: Any, *args: Any) -> Any:
        after, limit = args[-2:]  # (auditor, after, limit)
        with closing(sqlite3.connect(":memory:")) as db:  # as a SQLite-backed log would
            db.execute("SELECT ?, ?", (after, limit)).fetchone()
        return original(*args)

    _override(fed.hub, "auditor_entries", entries)


# -- binding ----------------------------------------------------------------------
@_variant(
    "binds-on-three-items",
    "RK-BND-002",
    "a record matching one resident on three of the four items is bound to them",
)
def _three_items(fed: Federation) -> None:
    hub, registry = fed.hub, fed.registry

    def bind(original: Any, agency: Agency, record_ref: str, items: FourItems) -> Any:
        decided: BindingDecision = original(agency, record_ref, items)
        if decided.decision == "bound":
            return decided
        key = items.key()
        three = [
            code
            for code, latest in registry.residents()
            if sum(a == b for a, b in zip(latest.key(), key, strict=True)) == 3
        ]
        if len(three) != 1:
            return decided
        link = hub.codes.link_out(hub.codes.id_code(ResidentCode(three[0])), agency.unit)
        return BindingDecision(record_ref, "bound", (), link.text())

    _override(hub.binding, "bind", bind)


@_variant(
    "binds-on-the-strict-form-only",
    "RK-BND-005",
    "the published folding is not applied: a record in variant kanji or another address "
    "notation goes to review instead of binding",
)
def _strict_form_only(fed: Federation) -> None:
    def bind(original: Any, agency: Agency, record_ref: str, items: FourItems) -> Any:
        decided: BindingDecision = original(agency, record_ref, items)
        if decided.decision == "bound" and "variant-form" in decided.reasons:
            return BindingDecision(record_ref, "review", ("variant-form",))
        return decided

    _override(fed.hub.binding, "bind", bind)


@_variant(
    "bound-without-the-variant-notice",
    "RK-BND-005",
    "a record bound only through folding is returned without the notice variant-form",
)
def _no_variant_notice(fed: Federation) -> None:
    def bind(original: Any, agency: Agency, record_ref: str, items: FourItems) -> Any:
        decided: BindingDecision = original(agency, record_ref, items)
        return replace(decided, reasons=()) if decided.decision == "bound" else decided

    _override(fed.hub.binding, "bind", bind)


@_variant(
    "removed-residents-bind",
    "RK-BND-009",
    "the registry ignores removals (除票): a deceased or emigrated resident binds as a living one",
)
def _removed_bind(fed: Federation) -> None:
    _override(fed.registry, "_set_status", lambda original, code, removal: original(code, None))


# -- My Portal ---------------------------------------------------------------------
@_variant(
    "portal-shows-others-entries",
    "RK-PORT-003",
    "My Portal shows every approved entry, not only those about the logged-in person",
)
def _portal_others(fed: Federation) -> None:

    hub = fed.hub

    def person_entries(original: Any, unit: AgencyId, link_code: str) -> Any:
        original(unit, link_code)  # the person is still authenticated
        return [e for e in hub.logs.held() if e.person]

    _override(hub, "person_entries", person_entries)


@_variant(
    "portal-shows-withheld-entries",
    "RK-LOG-007",
    "My Portal shows the person entries the signed pattern withholds from them",
)
def _portal_withheld(fed: Federation) -> None:

    hub = fed.hub

    def person_entries(original: Any, unit: AgencyId, link_code: str) -> Any:
        person = hub.codes.link_in(link_code, unit, fed.clock.now()).raw
        return [e for e in hub.logs.held() if e.person == person]

    _override(hub, "person_entries", person_entries)


# -- access log, tamper evidence and retention --------------------------------------
def _filter_auditor_view(fed: Federation, outcome: str) -> None:
    def entries(original: Any, *args: Any) -> list[AuditorEntry]:
        return [e for e in original(*args) if e.entry.outcome.value != outcome]

    _override(fed.hub, "auditor_entries", entries)


@_variant("refusals-not-logged", "RK-LOG-001", "refused queries are missing from the log")
def _refusals_not_logged(fed: Federation) -> None:
    _filter_auditor_view(fed, "refused")


@_variant("expiries-not-logged", "RK-LOG-001", "expired linkages are missing from the log")
def _expiries_not_logged(fed: Federation) -> None:
    _filter_auditor_view(fed, "expired")


@_variant(
    "log-without-legal-basis",
    "RK-LOG-002",
    "log entries leave out the pattern's legal basis (field ③)",
)
def _no_legal_basis(fed: Federation) -> None:
    def entries(original: Any, *args: Any) -> list[AuditorEntry]:
        return [replace(e, entry=replace(e.entry, legal_basis=None)) for e in original(*args)]

    _override(fed.hub, "auditor_entries", entries)


@_variant(
    "receipts-do-not-verify",
    "RK-LOG-004",
    "the inclusion proof in each receipt has one hash altered",
)
def _bad_receipts(fed: Federation) -> None:
    import base64

    def receipt(original: Any, serial: int) -> Receipt:
        out: Receipt = original(serial)
        proof = list(out.inclusion_proof)
        if not proof:
            return replace(out, leaf_hash=base64.b64encode(secrets.token_bytes(32)).decode())
        raw = bytearray(base64.b64decode(proof[0]))
        raw[0] ^= 1
        proof[0] = base64.b64encode(bytes(raw)).decode()
        return replace(out, inclusion_proof=tuple(proof))

    _override(fed.hub, "receipt_for", receipt)


@_variant(
    "log-history-rewritten",
    "RK-LOG-009",
    "consistency proofs between checkpoints do not verify (the history was rewritten)",
)
def _history_rewritten(fed: Federation) -> None:
    def consistency(original: Any, first: int, second: int) -> ConsistencyProof:
        out: ConsistencyProof = original(first, second)
        return replace(out, proof=tuple(reversed(out.proof))[:-1] if out.proof else ())

    _override(fed.hub, "consistency", consistency)


@_variant("purge-at-5-years", "RK-RET-001", "entries are purged 5 years after they were made")
def _purge_at_5(fed: Federation) -> None:
    _override(
        fed.hub.retention,
        "purge_due",
        lambda original, now: original(now + timedelta(days=2 * 366)),
    )


@_variant("legal-hold-ignored", "RK-RET-002", "purging goes ahead under a legal hold")
def _hold_ignored(fed: Federation) -> None:
    desk = fed.hub.retention

    def purge_due(original: Any, now: datetime) -> None:
        holds = desk.holds
        desk.holds = {}
        try:
            original(now)
        finally:
            desk.holds = holds

    _override(desk, "purge_due", purge_due)


@_variant(
    "private-body-binds-without-consent",
    "RK-BND-004",
    "a private body's binding record naming no recorded consent is bound all the same",
)
def _private_without_consent(fed: Federation) -> None:
    consents = fed.hub.consents

    def usable(original: Any, private_body: str, consent_id: str | None) -> Any:
        return original(private_body, consent_id) if consent_id else None

    def tie(original: Any, consent_id: str, person: bytes) -> None:
        if consent_id != "None":  # the record named no consent: nothing to tie
            original(consent_id, person)

    _override(consents, "usable", usable)
    _override(consents, "require_person", tie)
    _override(consents, "tie", tie)


@_variant(
    "currency-service-answers-any-items",
    "RK-BND-006",
    "the currency service returns the latest 4 items whatever 4 items the agency sent",
)
def _currency_oracle(fed: Federation) -> None:
    registry = fed.registry

    def currency(original: Any, code: str, items: FourItems, **kw: str) -> Any:
        status, latest = original(code, items, **kw)
        if status == "no-data":
            return "updated", registry.latest(ResidentCode(code))
        return status, latest

    _override(registry, "currency", currency)


# -- the third-party body (item 27) ------------------------------------------------
@_variant(
    "discrepancies-never-reported",
    "RK-AUD-002",
    "the merge by serial finds nothing: /auditor/discrepancies is always empty",
)
def _discrepancies_never_reported(fed: Federation) -> None:
    _override(fed.auditor, "discrepancies", lambda original, auditor: [])


@_variant(
    "unreadable-agency-log-taken-as-empty",
    "RK-AUD-002",
    "a node that does not answer is merged as an empty share, not reported as unavailable",
)
def _unreadable_as_empty(fed: Federation) -> None:
    def shares(original: Any) -> Any:
        got = original()
        return replace(got, entries={**got.entries, **{a: [] for a in got.unavailable}},
                       unavailable=[])  # fmt: skip

    _override(fed.auditor, "shares", shares)


@_variant(
    "off-hours-not-flagged",
    "RK-AUD-003",
    "the anomaly report leaves out queries outside the operating hours",
)
def _off_hours_not_flagged(fed: Federation) -> None:
    def anomalies(original: Any, auditor: Any, rules: Any) -> Any:
        return [f for f in original(auditor, rules) if f.rule != "outside-operating-hours"]

    _override(fed.auditor, "anomalies", anomalies)


# -- leaks and the closed wire (issue 14) -------------------------------------------
def _latest_id_code(fed: Federation) -> str:
    """The ID code of the person of the hub's latest linkage, hex (as disclosed)."""
    linkages = list(fed.hub.linkages.linkages.values())
    return linkages[-1].person.hex() if linkages else ""


def _requester_code_in_deliveries(resp: Response, fed: Federation) -> Response:
    """Each delivery of a ``/hub/deliveries`` response gets the requester's link code."""
    if resp.path.endswith("/hub/deliveries") and resp.status == 200:
        hub, page = fed.hub, json.loads(resp.body)
        for d in page["deliveries"]:
            linkage = hub.linkages.linkages[d["linkage_id"]]
            unit = hub.agencies[linkage.requester].unit
            d["requester_link_code"] = hub.codes.link_out(linkage.person, unit).text()
        resp.body = json.dumps(page).encode()
    return resp


@_variant(
    "delivery-carries-requester-link-code",
    "RK-FLOW-001",
    "each delivery also carries the requester's link code for the person",
    _requester_code_in_deliveries,
)
def _delivery_requester_code(fed: Federation) -> None:
    return None


def _id_code_header(resp: Response, fed: Federation) -> Response:
    if resp.path.endswith("/hub/queries") and resp.status == 202:
        resp.headers.append((b"x-renkei-trace", _latest_id_code(fed).encode()))
    return resp


@_variant(
    "id-code-in-response-header",
    "RK-IDC-001",
    "an accepted query's response carries the person's ID code in an X-Renkei-Trace header",
    _id_code_header,
)
def _id_code_in_header(fed: Federation) -> None:
    return None


def _edit_query_problem(
    resp: Response, status: int, edit: Callable[[dict[str, Any]], bool]
) -> Response:
    """Rewrite the problem of a ``/hub/queries`` response of ``status`` when ``edit``
    changed it (it returns whether it did)."""
    if resp.path.endswith("/hub/queries") and resp.status == status:
        problem = json.loads(resp.body)
        if edit(problem):
            resp.status = problem["status"]
            resp.body = json.dumps(problem).encode()
    return resp


def _id_code_detail(resp: Response, fed: Federation) -> Response:
    def edit(problem: dict[str, Any]) -> bool:
        if not _latest_id_code(fed):
            return False
        problem["detail"] = f"{problem['detail']} (last person resolved: {_latest_id_code(fed)})"
        return True

    return _edit_query_problem(resp, 403, edit)


@_variant(
    "id-code-in-problem-detail",
    "RK-IDC-001",
    "a refused query's problem detail names the ID code of the last person the hub resolved",
    _id_code_detail,
)
def _id_code_in_detail(fed: Federation) -> None:
    return None


def _validation_418(resp: Response, fed: Federation) -> Response:
    def edit(problem: dict[str, Any]) -> bool:
        if problem.get("type") != "urn:renkei:problem:validation-error":
            return False
        problem["status"] = 418
        return True

    return _edit_query_problem(resp, 422, edit)


@_variant(
    "validation-error-answers-418",
    "RK-WIRE-002",
    "a query the schema refuses is answered 418, a status its operation does not declare",
    _validation_418,
)
def _validation_answers_418(fed: Federation) -> None:
    return None


def _batch_results(resp: Response, edit: Callable[[list[Any]], Response | None]) -> Response:
    """Rewrite a 200 ``/hub/answers`` response through ``edit`` of its results (None: as is)."""
    if resp.path.endswith("/hub/answers") and resp.status == 200:
        return edit(json.loads(resp.body)["results"]) or resp
    return resp


def _refuse_batch_with_a_malformed_answer(resp: Response, fed: Federation) -> Response:
    def edit(results: list[Any]) -> Response | None:
        if not any((r.get("problem") or {}).get("status") == 422 for r in results):
            return None
        resp.status = 422
        resp.headers = [(k, v) for k, v in resp.headers if k.lower() != b"content-type"]
        resp.headers.append((b"content-type", b"application/problem+json"))
        resp.body = json.dumps({
            "type": "urn:renkei:problem:validation-error", "title": "Validation error",
            "status": 422, "detail": "answers: an answer does not match AnswerItem",
            "requirement": "RK-WIRE-001",
        }).encode()  # fmt: skip
        return resp

    return _batch_results(resp, edit)


@_variant(
    "answer-batch-refused-whole",
    "RK-FLOW-010",
    "a batch of answers holding one malformed answer is refused whole (422) instead of "
    "that answer getting malformed-answer in its place",
    _refuse_batch_with_a_malformed_answer,
)
def _answer_batch_refused_whole(fed: Federation) -> None:
    return None


def _accepted_first(resp: Response, fed: Federation) -> Response:
    def edit(results: list[Any]) -> Response | None:
        ordered = sorted(results, key=lambda r: "problem" in r)  # stable: accepted first
        resp.body = json.dumps({"results": ordered}).encode()
        return resp

    return _batch_results(resp, edit)


@_variant(
    "answer-batch-results-reordered",
    "RK-FLOW-010",
    "the results of a batch of answers list the accepted answers first, then the "
    "refused ones, not one result per answer in the order of the request",
    _accepted_first,
)
def _answer_batch_results_reordered(fed: Federation) -> None:
    return None


def _key_detail(resp: Response, fed: Federation) -> Response:
    def edit(problem: dict[str, Any]) -> bool:
        if problem.get("type") != "urn:renkei:problem:link-code-not-valid-for-agency":
            return False
        root = cast(Any, fed.keys)._secrets[(KeyPurpose.LINK_CODE, 1)]
        key = derive_key(root, KeyPurpose.LINK_CODE.value, 1)
        problem["detail"] = f"{problem['detail']} (tried key {key.hex()})"
        return True

    return _edit_query_problem(resp, 422, edit)


@_variant(
    "link-code-key-in-problem-detail",
    "RK-KEY-001",
    "a refused link code's problem detail shows the link-code key it was tried with",
    _key_detail,
)
def _link_code_key_in_detail(fed: Federation) -> None:
    return None


# -- throughput -------------------------------------------------------------------
def _rehash_the_log(response: Response, fed: Federation) -> Response:
    """Before a query's answer leaves, rehash every leaf of the access log (a check
    against every logged request, as an edge might make it): the cost of a query
    grows with the log."""
    import hashlib

    if response.method == "POST" and response.path.endswith("/hub/queries"):
        digest = b""
        for serial in range(fed.hub.latest_checkpoint().tree_size):
            for _ in range(3):
                digest = hashlib.sha256(digest + serial.to_bytes(8, "big")).digest()
    return response


@_variant(
    "linkage-cost-grows-with-the-log",
    "RK-PERF-002",
    "every query over the wire rehashes every leaf of the access log before it is "
    "answered: fast on the empty log of a short test, slower with every entry",
    rewrite=_rehash_the_log,
)
def _cost_grows_with_the_log(fed: Federation) -> None:
    """The federation itself is the reference's; the response rewrite does the work."""


from . import known_bad_worlds as _worlds  # noqa: E402 — registers issue 14's world variants

assert _worlds
