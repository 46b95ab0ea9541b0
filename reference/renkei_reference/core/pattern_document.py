"""Signed, versioned pattern documents: where the legal pattern table comes from (seed item 17).

Item 17 (第１．５．（１）) has law or cabinet order fix the linkage patterns
beforehand; items 18 and 21 have the hub approve every query against them
(``patterns.decide``).  RK-PAT-003 makes the table loadable *only* from a
pattern document: JSON with a version number and the patterns, accompanied by
a detached Ed25519 signature (RFC 8032) over the document's exact bytes that
verifies under the hub's trust anchor.  No canonicalisation: the bytes that
were signed are the bytes that are parsed.  Schema:
``specs/schemas/pattern-document.schema.json``; vectors:
``specs/vectors/pattern-documents.json``.

Document (format ``renkei-patterns/1``)::

    {"format": "renkei-patterns/1", "version": 7,
     "issued_at": "2026-03-31T15:00:00Z", "issuer": "デジタル庁",
     "patterns": [{"pattern_id": ..., "legal_basis": ..., "purpose": ...,
                   "requesters": [...], "providers": [...], "information_kinds": [...],
                   "valid_from": ... | null, "valid_until": ... | null,
                   "answer_within_seconds": 3600,       # optional (RK-FLOW-004)
                   "withheld_from_person": false,       # optional (RK-LOG-007)
                   "sector": "..."}]}                   # optional (seed item 12)

Opening a document (``open_pattern_document``) checks, in this order, and
reports the first failure:

1. the signature — 64 bytes that verify over the exact bytes under the trust
   anchor; otherwise reason ``invalid-pattern-signature``.  Nothing is parsed
   before this, so only the holder of the signing key reaches the parser;
2. the content (RK-PAT-004) — strict UTF-8 JSON (no BOM, no duplicate member
   names, no NaN/Infinity), the known format, no unknown members, every
   required member with the right type, non-empty designations without
   duplicates, RFC 3339 times with ``valid_until`` after ``valid_from``, unique
   pattern IDs; otherwise ``invalid-pattern-document``;
3. the version — greater than the version in force; otherwise
   ``stale-pattern-document``.

Every refusal is :class:`~.errors.CallerError` with the problem type RK-PAT-003
names, ``invalid-pattern`` (HTTP 422), the specific reason above in the
extension member ``reason``, and a ``detail`` that names the first problem
with a JSON Pointer (RFC 6901), e.g. ``/patterns/2/valid_until: ...`` (or
says "the document" when the whole document is at fault).  Local
misuse (a ``str`` instead of ``bytes``, a key of another type) is ``TypeError``.

Times follow an RFC 3339 profile: ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)``
with upper-case ``T`` and ``Z`` (RFC 3339 §5.6 lets a specification require
them), at most microsecond precision and no leap second (``:60``); they are
converted to UTC.

The optional members ``withheld_from_person`` (RK-LOG-007) and ``sector``
(seed item 12) become the ``LinkagePattern`` fields of the same names: the
flag can come from the signed document only, never from a query.

Ed25519 signing is deterministic, so it lives in the pure core; keys are
passed in by the shell.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import icontract
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import CallerError
from .patterns import LinkagePattern

__all__ = [
    "DEFAULT_ANSWER_WITHIN_SECONDS",
    "FORMAT",
    "MAX_ANSWER_WITHIN_SECONDS",
    "MAX_TEXT_LENGTH",
    "MAX_VERSION",
    "PROBLEM",
    "REASON_CONTENT",
    "REASON_SIGNATURE",
    "REASON_STALE",
    "SIGNATURE_BYTES",
    "PatternDocument",
    "encode_pattern_document",
    "open_pattern_document",
    "parse_pattern_document",
    "sign_pattern_document",
]

FORMAT = "renkei-patterns/1"
"""The only document format this module reads (member ``format``)."""

PROBLEM = "invalid-pattern"
"""Problem type of every refusal (RK-PAT-003, specs/problems.yaml)."""

REASON_SIGNATURE = "invalid-pattern-signature"
"""Extension ``reason``: the signature is missing, malformed or does not verify."""

REASON_CONTENT = "invalid-pattern-document"
"""Extension ``reason``: the signed bytes are not a valid pattern document (RK-PAT-004)."""

REASON_STALE = "stale-pattern-document"
"""Extension ``reason``: the version is not greater than the version in force."""

SIGNATURE_BYTES = 64
"""Length of an Ed25519 signature (RFC 8032 §5.1.6)."""

MAX_VERSION = 2**53 - 1
"""Largest version: integers beyond this are not exact in every JSON parser (RFC 7493 §2.2)."""

DEFAULT_ANSWER_WITHIN_SECONDS = 3600
"""``answer_within_seconds`` when a pattern omits it (as ``LinkagePattern``)."""

MAX_ANSWER_WITHIN_SECONDS = 31_536_000
"""At most one year (365 days), as the control interface."""

MAX_TEXT_LENGTH = 256
"""Longest text member (characters), as the control interface."""

_DOCUMENT_REQUIRED = ("format", "version", "issued_at", "issuer", "patterns")
_PATTERN_REQUIRED = (
    "pattern_id",
    "legal_basis",
    "purpose",
    "requesters",
    "providers",
    "information_kinds",
    "valid_from",
    "valid_until",
)
_PATTERN_OPTIONAL = ("answer_within_seconds", "withheld_from_person", "sector")
_AGENCY_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")  # used with fullmatch
_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,6}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)  # used with fullmatch; [0-9], not \d, which matches non-ASCII digits


def _refusal(reason: str, detail: str) -> CallerError:
    return CallerError("invalid-pattern", detail, "RK-PAT-003", {"reason": reason})


def _bad(detail: str) -> CallerError:
    return _refusal(REASON_CONTENT, detail)


def _token(key: str) -> str:
    """One JSON Pointer reference token (RFC 6901 §3)."""
    return key.replace("~", "~0").replace("/", "~1")


def _shown(key: str) -> str:
    text = ascii(key)
    return text if len(text) <= 40 else text[:37] + "..."


# -- value rules (shared by the parser and PatternDocument) -----------------


def _check_text(value: object, pointer: str) -> str:
    """A text member: 1..256 characters, not blank, no control characters or surrogates."""
    if not isinstance(value, str):
        raise _bad(f"{pointer}: must be a string")
    if not 1 <= len(value) <= MAX_TEXT_LENGTH:
        raise _bad(f"{pointer}: must be 1 to {MAX_TEXT_LENGTH} characters")
    if value.strip() == "":
        raise _bad(f"{pointer}: must not be blank")
    for ch in value:
        code = ord(ch)
        if code < 0x20 or 0x7F <= code <= 0x9F:
            raise _bad(f"{pointer}: must not contain control characters")
        if 0xD800 <= code <= 0xDFFF:
            raise _bad(f"{pointer}: must not contain unpaired surrogates (RFC 7493 §2.1)")
    return value


def _check_agency_id(value: object, pointer: str) -> str:
    if not isinstance(value, str) or not _AGENCY_ID.fullmatch(value):
        raise _bad(f"{pointer}: an agency id is 1-63 characters of a-z, 0-9, '.', '_' or '-'")
    return value


def _check_moment(value: object, pointer: str) -> datetime:
    """An aware datetime that converts to UTC (the encoder writes UTC)."""
    if not isinstance(value, datetime):
        raise _bad(f"{pointer}: must be a datetime")
    if value.utcoffset() is None:
        raise _bad(f"{pointer}: must carry a UTC offset")
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise _bad(f"{pointer}: is outside the years 0001 to 9999 in UTC") from exc


def _check_version(value: object, pointer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{pointer}: must be an integer")
    if not 1 <= value <= MAX_VERSION:
        raise _bad(f"{pointer}: must be from 1 to 2^53 - 1")
    return value


def _check_answer_within(value: object, pointer: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _bad(f"{pointer}: must be an integer number of seconds")
    if not 1 <= value <= MAX_ANSWER_WITHIN_SECONDS:
        raise _bad(f"{pointer}: must be from 1 to {MAX_ANSWER_WITHIN_SECONDS} seconds")
    return value


def _check_period(valid_from: datetime | None, valid_until: datetime | None, at: str) -> None:
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        raise _bad(f"{at}/valid_until: must be after valid_from (the period is half-open)")


def _check_pattern(pattern: object, pointer: str) -> LinkagePattern:
    """A LinkagePattern whose members all meet the document's rules (RK-PAT-004)."""
    if not isinstance(pattern, LinkagePattern):
        raise _bad(f"{pointer}: must be a LinkagePattern")
    _check_text(pattern.pattern_id, f"{pointer}/pattern_id")
    _check_text(pattern.legal_basis, f"{pointer}/legal_basis")
    _check_text(pattern.purpose, f"{pointer}/purpose")
    for name in ("requesters", "providers", "information_kinds"):
        members = getattr(pattern, name)
        if not isinstance(members, frozenset) or not members:
            raise _bad(f"{pointer}/{name}: must be a non-empty frozenset")
        check = _check_text if name == "information_kinds" else _check_agency_id
        for member in sorted(members, key=str):
            check(member, f"{pointer}/{name}")
    for name in ("valid_from", "valid_until"):
        bound = getattr(pattern, name)
        if bound is not None:
            _check_moment(bound, f"{pointer}/{name}")
    _check_period(pattern.valid_from, pattern.valid_until, pointer)
    _check_answer_within(pattern.answer_within_seconds, f"{pointer}/answer_within_seconds")
    if not isinstance(pattern.withheld_from_person, bool):
        raise _bad(f"{pointer}/withheld_from_person: must be true or false")
    if pattern.sector is not None:
        _check_text(pattern.sector, f"{pointer}/sector")
    return pattern


@dataclass(frozen=True, slots=True)
class PatternDocument:
    """A pattern document as opened (RK-PAT-003): version, issuer and the patterns.

    Attributes:
        format: always :data:`FORMAT`.
        version: 1 ≤ version ≤ 2^53 − 1; every access-log entry records the
            version it was decided under (RK-PAT-003).
        issued_at: when the issuer issued the document (aware; informative).
        issuer: who issued it, e.g. the ministry that signs (free text).
        patterns: the legal table (別表) in document order, unique pattern IDs
            (RK-PAT-004), each with its withheld flag (RK-LOG-007) and sector.

    :raises CallerError: ``invalid-pattern`` (reason ``invalid-pattern-document``)
        when a member breaks the document's rules.
    """

    format: str
    version: int
    issued_at: datetime
    issuer: str
    patterns: tuple[LinkagePattern, ...]

    def __post_init__(self) -> None:
        if self.format != FORMAT:
            raise _bad(f"/format: unknown format; this hub reads {FORMAT!r}")
        _check_version(self.version, "/version")
        _check_moment(self.issued_at, "/issued_at")
        _check_text(self.issuer, "/issuer")
        if not isinstance(self.patterns, tuple):
            raise _bad("/patterns: must be a tuple of LinkagePattern")
        seen: dict[str, int] = {}
        for index, pattern in enumerate(self.patterns):
            _check_pattern(pattern, f"/patterns/{index}")
            if pattern.pattern_id in seen:
                earlier = seen[pattern.pattern_id]
                raise _bad(f"/patterns/{index}/pattern_id: duplicate of /patterns/{earlier}")
            seen[pattern.pattern_id] = index

    def table(self) -> dict[str, LinkagePattern]:
        """The pattern table for ``patterns.decide``: pattern ID → pattern (a new dict)."""
        return {p.pattern_id: p for p in self.patterns}


# -- parsing ----------------------------------------------------------------


class _DuplicateMemberError(ValueError):
    pass


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateMemberError(key)
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _load_json(data: bytes) -> object:
    """Strict JSON (RFC 8259 / I-JSON, RFC 7493): UTF-8, one value, no duplicate names."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _bad(f"the document is not UTF-8 (byte {exc.start})") from exc
    if text.startswith("\ufeff"):
        raise _bad("the document starts with a byte order mark (RFC 8259 §8.1)")
    try:
        return json.loads(
            text, object_pairs_hook=_object_without_duplicates, parse_constant=_no_constant
        )
    except _DuplicateMemberError as exc:
        raise _bad(f"duplicate member {_shown(str(exc))} in a JSON object") from exc
    except RecursionError as exc:
        raise _bad("the document nests too deeply") from exc
    except ValueError as exc:  # JSONDecodeError, NaN/Infinity, over-long integers
        raise _bad(f"the document is not JSON: {str(exc)[:120]}") from exc


def _members(
    value: object, pointer: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(
            f"{pointer}: must be a JSON object" if pointer else "the document must be a JSON object"
        )
    for key in value:
        if key not in required and key not in optional:
            raise _bad(f"{pointer}/{_token(key)}: unknown member {_shown(key)}")
    for key in required:
        if key not in value:
            raise _bad(f"{pointer}/{key}: required member is missing")
    return value


def _parse_time(value: object, pointer: str) -> datetime:
    """RFC 3339 date-time (renkei profile, see the module docstring), as UTC."""
    if not isinstance(value, str):
        raise _bad(f"{pointer}: must be an RFC 3339 date-time string")
    match = _TIME.fullmatch(value)
    if match is None:
        raise _bad(f"{pointer}: must be an RFC 3339 date-time, e.g. 2026-04-01T00:00:00Z")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zulu, sign, off_hour, off_minute = match.groups()[6:]
    if second == 60:
        raise _bad(f"{pointer}: leap seconds (:60) are not accepted")
    try:
        if zulu:
            zone = UTC
        else:
            if int(off_hour) > 23 or int(off_minute) > 59:
                raise ValueError("offset out of range")
            offset = timedelta(hours=int(off_hour), minutes=int(off_minute))
            zone = timezone(-offset if sign == "-" else offset)
        micro = int((fraction or "0").ljust(6, "0"))
        moment = datetime(year, month, day, hour, minute, second, micro, tzinfo=zone)
        return moment.astimezone(UTC)
    except (ValueError, OverflowError) as exc:
        raise _bad(f"{pointer}: is not a valid date and time") from exc


def _parse_list(value: object, pointer: str, agency_ids: bool) -> frozenset[str]:
    if not isinstance(value, list):
        raise _bad(f"{pointer}: must be an array")
    if not value:
        raise _bad(f"{pointer}: must not be empty (RK-PAT-004)")
    first: dict[str, int] = {}
    for index, item in enumerate(value):
        at = f"{pointer}/{index}"
        if agency_ids:
            _check_agency_id(item, at)
        else:
            _check_text(item, at)
        if item in first:
            raise _bad(f"{at}: duplicate of {pointer}/{first[item]}")
        first[item] = index
    return frozenset(first)


def _parse_pattern(value: object, at: str) -> LinkagePattern:
    obj = _members(value, at, _PATTERN_REQUIRED, _PATTERN_OPTIONAL)
    pattern_id = _check_text(obj["pattern_id"], f"{at}/pattern_id")
    legal_basis = _check_text(obj["legal_basis"], f"{at}/legal_basis")
    purpose = _check_text(obj["purpose"], f"{at}/purpose")
    requesters = _parse_list(obj["requesters"], f"{at}/requesters", agency_ids=True)
    providers = _parse_list(obj["providers"], f"{at}/providers", agency_ids=True)
    kinds = _parse_list(obj["information_kinds"], f"{at}/information_kinds", agency_ids=False)
    bounds: list[datetime | None] = []
    for name in ("valid_from", "valid_until"):
        raw = obj[name]
        bounds.append(None if raw is None else _parse_time(raw, f"{at}/{name}"))
    valid_from, valid_until = bounds
    _check_period(valid_from, valid_until, at)
    answer_within = _check_answer_within(
        obj.get("answer_within_seconds", DEFAULT_ANSWER_WITHIN_SECONDS),
        f"{at}/answer_within_seconds",
    )
    withheld = obj.get("withheld_from_person", False)
    if not isinstance(withheld, bool):
        raise _bad(f"{at}/withheld_from_person: must be true or false")
    sector = obj.get("sector")
    if "sector" in obj:
        sector = _check_text(sector, f"{at}/sector")
    try:
        pattern = LinkagePattern(
            pattern_id=pattern_id,
            legal_basis=legal_basis,
            purpose=purpose,
            requesters=requesters,
            providers=providers,
            information_kinds=kinds,
            valid_from=valid_from,
            valid_until=valid_until,
            answer_within_seconds=answer_within,
            withheld_from_person=withheld,
            sector=sector,
        )
    except ValueError as exc:  # pragma: no cover - every rule is checked above
        raise _bad(f"{at}: {exc}") from exc
    return pattern


@icontract.ensure(lambda result: result.version >= 1)
@icontract.ensure(
    lambda result: len({p.pattern_id for p in result.patterns}) == len(result.patterns),
    "pattern IDs are unique",
)
def parse_pattern_document(data: bytes) -> PatternDocument:
    """Parse and validate a pattern document (RK-PAT-003, RK-PAT-004; seed item 17).

    This does not check a signature: the hub calls :func:`open_pattern_document`.
    The checks and their order are in the module docstring; the first problem
    found is reported.

    Args:
        data: the document's exact bytes (UTF-8 JSON).

    Returns:
        The document; times in UTC, omitted optional members at their defaults.

    :raises CallerError: ``invalid-pattern`` with reason ``invalid-pattern-document``.
    :raises TypeError: ``data`` is not ``bytes``.
    """
    if not isinstance(data, bytes):
        raise TypeError("data must be bytes: the signature covers the exact bytes")
    top = _load_json(data)
    if not isinstance(top, dict):
        raise _bad("the document must be a JSON object")
    if "format" not in top:
        raise _bad("/format: required member is missing")
    if top["format"] != FORMAT:
        shown = _shown(top["format"]) if isinstance(top["format"], str) else "a non-string"
        raise _bad(f"/format: unknown format {shown}; this hub reads {FORMAT!r}")
    obj = _members(top, "", _DOCUMENT_REQUIRED)
    version = _check_version(obj["version"], "/version")
    issued_at = _parse_time(obj["issued_at"], "/issued_at")
    issuer = _check_text(obj["issuer"], "/issuer")
    if not isinstance(obj["patterns"], list):
        raise _bad("/patterns: must be an array")
    patterns: list[LinkagePattern] = []
    first: dict[str, int] = {}
    for index, value in enumerate(obj["patterns"]):
        at = f"/patterns/{index}"
        pattern = _parse_pattern(value, at)
        if pattern.pattern_id in first:
            raise _bad(f"{at}/pattern_id: duplicate of /patterns/{first[pattern.pattern_id]}")
        first[pattern.pattern_id] = index
        patterns.append(pattern)
    return PatternDocument(
        format=FORMAT,
        version=version,
        issued_at=issued_at,
        issuer=issuer,
        patterns=tuple(patterns),
    )


# -- encoding, signing, opening --------------------------------------------


def _format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _encode_pattern(pattern: LinkagePattern) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pattern_id": pattern.pattern_id,
        "legal_basis": pattern.legal_basis,
        "purpose": pattern.purpose,
        "requesters": sorted(pattern.requesters),
        "providers": sorted(pattern.providers),
        "information_kinds": sorted(pattern.information_kinds),
        "valid_from": None if pattern.valid_from is None else _format_time(pattern.valid_from),
        "valid_until": None if pattern.valid_until is None else _format_time(pattern.valid_until),
        "answer_within_seconds": pattern.answer_within_seconds,
        "withheld_from_person": pattern.withheld_from_person,
    }
    if pattern.sector is not None:
        out["sector"] = pattern.sector
    return out


@icontract.ensure(
    lambda document, result: parse_pattern_document(result) == document,
    "the encoding parses back to the same document",
)
def encode_pattern_document(document: PatternDocument) -> bytes:
    """Write a document as UTF-8 JSON that :func:`parse_pattern_document` reads back.

    For issuers and tests: the output is deterministic (members in schema
    order, designations sorted, times in UTC with ``Z``, two-space indent, a
    final newline).  Hubs never re-encode: they keep the exact signed bytes.

    :raises TypeError: ``document`` is not a :class:`PatternDocument`.
    """
    if not isinstance(document, PatternDocument):
        raise TypeError("document must be a PatternDocument")
    body = {
        "format": document.format,
        "version": document.version,
        "issued_at": _format_time(document.issued_at),
        "issuer": document.issuer,
        "patterns": [_encode_pattern(p) for p in document.patterns],
    }
    return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


@icontract.ensure(lambda result: len(result) == SIGNATURE_BYTES)
def sign_pattern_document(data: bytes, private_key: Ed25519PrivateKey) -> bytes:
    """The issuer's step: a detached Ed25519 signature over the exact bytes (RK-PAT-003).

    The document is parsed first, so that no issuer signs what no hub accepts.
    Ed25519 is deterministic (RFC 8032 §5.1.6): the same bytes and key always
    give the same signature.

    Args:
        data: the document's exact bytes.
        private_key: the issuer's signing key (the hub's trust anchor is its public key).

    Returns:
        The 64-byte signature.

    :raises CallerError: ``invalid-pattern`` with reason ``invalid-pattern-document``.
    :raises TypeError: ``data`` is not ``bytes`` or the key is not an Ed25519 private key.
    """
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError("private_key must be an Ed25519PrivateKey")
    parse_pattern_document(data)
    return private_key.sign(data)


@icontract.ensure(
    lambda current_version, result: current_version is None or result.version > current_version,
    "versions increase",
)
def open_pattern_document(
    data: bytes,
    signature: bytes,
    trust_anchor: Ed25519PublicKey,
    current_version: int | None,
) -> PatternDocument:
    """Verify, parse and version-check a pattern document (RK-PAT-003; seed item 17).

    The hub's only way to a pattern table.  Checks in order: signature,
    content, version (module docstring); on any refusal the caller keeps the
    table in force unchanged and keeps the refused document out of it.

    Args:
        data: the document's exact bytes, as signed.
        signature: the detached 64-byte Ed25519 signature over ``data``.
        trust_anchor: the configured public key of the issuer.
        current_version: the version of the document in force, or ``None`` if none is.

    Returns:
        The document, whose ``version`` is greater than ``current_version``.

    :raises CallerError: ``invalid-pattern`` with reason ``invalid-pattern-signature``,
        ``invalid-pattern-document`` or ``stale-pattern-document``.
    :raises TypeError: ``data`` or ``signature`` is not ``bytes``, the trust anchor
        is not an Ed25519 public key, or ``current_version`` is not an integer or ``None``.
    """
    if not isinstance(data, bytes) or not isinstance(signature, bytes):
        raise TypeError("data and signature must be bytes")
    if not isinstance(trust_anchor, Ed25519PublicKey):
        raise TypeError("trust_anchor must be an Ed25519PublicKey")
    if current_version is not None and (
        isinstance(current_version, bool) or not isinstance(current_version, int)
    ):
        raise TypeError("current_version must be an integer or None")
    if len(signature) != SIGNATURE_BYTES:
        raise _refusal(REASON_SIGNATURE, f"an Ed25519 signature is {SIGNATURE_BYTES} bytes")
    try:
        trust_anchor.verify(signature, data)
    except InvalidSignature as exc:
        raise _refusal(
            REASON_SIGNATURE, "the signature does not verify under the trust anchor"
        ) from exc
    document = parse_pattern_document(data)
    if current_version is not None and document.version <= current_version:
        raise _refusal(
            REASON_STALE,
            f"/version: {document.version} is not greater than the version in force "
            f"({current_version})",
        )
    return document
