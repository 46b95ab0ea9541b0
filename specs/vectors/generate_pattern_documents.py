#!/usr/bin/env python3
"""Generate ``pattern-documents.json``: vectors for signed, versioned pattern documents.

RK-PAT-003 (seed item 17): the hub loads its legal pattern table only from a
pattern document — JSON with a version and the patterns — accompanied by a
detached Ed25519 signature (RFC 8032) over the document's exact bytes that
verifies under the configured trust anchor; a bad signature, a version not
greater than the one in force or an invalid pattern (RK-PAT-004) is refused
with 422 ``invalid-pattern``.  Document schema:
``specs/schemas/pattern-document.schema.json``; file schema:
``specs/schemas/pattern-document-vectors.schema.json``.

The script is independent of ``renkei_reference``: it uses the standard library
and ``cryptography`` only, and before writing it re-checks every vector with
its own minimal opener (signature, then content, then version) written from the
schema and the catalog text.  Output is deterministic: the keys are fixed
(seeds from SHA-256 of fixed labels) and Ed25519 signing is deterministic.

Usage::

    python specs/vectors/generate_pattern_documents.py            # (re)write the file
    python specs/vectors/generate_pattern_documents.py --check    # exit 1 if the file differs
"""

# ruff: noqa: E501 -- comments, notes and header lines are kept one string per JSON line.
from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import vector_files
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

HERE = Path(__file__).resolve().parent
FILE_NAME = "pattern-documents.json"
SCHEMA_REF = "../schemas/pattern-document-vectors.schema.json"
GENERATOR = "specs/vectors/generate_pattern_documents.py"

Json = dict[str, Any]

FORMAT = "renkei-patterns/1"
SIGNATURE = "invalid-pattern-signature"
CONTENT = "invalid-pattern-document"
STALE = "stale-pattern-document"
ED25519_ORDER = 2**252 + 27742317777372353535851937790883648493  # L, RFC 8032 §5.1

# ---------------------------------------------------------------------------
# Keys (test keys only: their seeds are published here)
# ---------------------------------------------------------------------------

ANCHOR_SEED = hashlib.sha256(b"renkei pattern-document vectors: trust anchor").digest()
OTHER_SEED = hashlib.sha256(b"renkei pattern-document vectors: another key").digest()
ANCHOR = Ed25519PrivateKey.from_private_bytes(ANCHOR_SEED)
OTHER = Ed25519PrivateKey.from_private_bytes(OTHER_SEED)


def _public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


# ---------------------------------------------------------------------------
# An independent minimal opener (signature → content → version)
# ---------------------------------------------------------------------------

_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?(?:(Z)|([+-])([0-9]{2}):([0-9]{2}))"
)
_AGENCY = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
_DOC_KEYS = {"format", "version", "issued_at", "issuer", "patterns"}
_PATTERN_KEYS = {
    "pattern_id",
    "legal_basis",
    "purpose",
    "requesters",
    "providers",
    "information_kinds",
    "valid_from",
    "valid_until",
}
_PATTERN_OPTIONAL = {"answer_within_seconds", "withheld_from_person", "sector"}


class Refused(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> Json:
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise Refused("duplicate member")
    return dict(pairs)


def _constant(name: str) -> Any:
    raise Refused(name)


def _text(value: Any) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 256 or not value.strip():
        raise Refused("text")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise Refused("text characters")
    return value


def _time(value: Any) -> datetime:
    m = _TIME.fullmatch(value) if isinstance(value, str) else None
    if m is None:
        raise Refused("time syntax")
    y, mo, d, h, mi, s = (int(x) for x in m.groups()[:6])
    frac, z, sign, oh, om = m.groups()[6:]
    if s > 59 or h > 23 or mi > 59:
        raise Refused("time range")
    if z:
        tz = UTC
    else:
        if int(oh) > 23 or int(om) > 59:
            raise Refused("offset range")
        off = timedelta(hours=int(oh), minutes=int(om))
        tz = timezone(-off if sign == "-" else off)
    try:
        return datetime(y, mo, d, h, mi, s, int((frac or "0").ljust(6, "0")), tzinfo=tz).astimezone(
            UTC
        )
    except (ValueError, OverflowError) as exc:
        raise Refused("date") from exc


def _utc_text(moment: datetime) -> str:
    return moment.replace(tzinfo=None).isoformat() + "Z"


def _int(value: Any, low: int, high: int) -> int:
    if type(value) is not int or not low <= value <= high:
        raise Refused("integer")
    return value


def _list(value: Any, agency: bool) -> list[str]:
    if not isinstance(value, list) or not value or len(set(map(str, value))) != len(value):
        raise Refused("list")
    for item in value:
        if agency:
            if not isinstance(item, str) or not _AGENCY.fullmatch(item):
                raise Refused("agency id")
        else:
            _text(item)
    return sorted(value)


def _pattern(p: Any) -> Json:
    if not isinstance(p, dict) or not _PATTERN_KEYS <= set(p) <= _PATTERN_KEYS | _PATTERN_OPTIONAL:
        raise Refused("pattern members")
    out: Json = {
        "pattern_id": _text(p["pattern_id"]),
        "legal_basis": _text(p["legal_basis"]),
        "purpose": _text(p["purpose"]),
        "requesters": _list(p["requesters"], True),
        "providers": _list(p["providers"], True),
        "information_kinds": _list(p["information_kinds"], False),
    }
    bounds = [None if p[k] is None else _time(p[k]) for k in ("valid_from", "valid_until")]
    if bounds[0] is not None and bounds[1] is not None and not bounds[1] > bounds[0]:
        raise Refused("period")
    out["valid_from"], out["valid_until"] = (None if b is None else _utc_text(b) for b in bounds)
    out["answer_within_seconds"] = _int(p.get("answer_within_seconds", 3600), 1, 31_536_000)
    withheld = p.get("withheld_from_person", False)
    if not isinstance(withheld, bool):
        raise Refused("withheld")
    out["withheld_from_person"] = withheld
    if "sector" in p:
        out["sector"] = _text(p["sector"])
    return out


def open_document(
    data: bytes, signature: bytes, current: int | None
) -> tuple[str | None, Json | None]:
    """(reason, expected): reason None when the hub accepts; expected is the normalised document."""
    try:
        if len(signature) != 64:
            raise InvalidSignature
        ANCHOR.public_key().verify(signature, data)
    except InvalidSignature:
        return SIGNATURE, None
    try:
        text = data.decode("utf-8")
        if text.startswith("\ufeff"):
            raise Refused("BOM")
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT or set(doc) != _DOC_KEYS:
            raise Refused("document members")
        if not isinstance(doc["patterns"], list):
            raise Refused("patterns")
        expected: Json = {
            "format": FORMAT,
            "version": _int(doc["version"], 1, 2**53 - 1),
            "issued_at": _utc_text(_time(doc["issued_at"])),
            "issuer": _text(doc["issuer"]),
            "patterns": [_pattern(p) for p in doc["patterns"]],
        }
        ids = [p["pattern_id"] for p in expected["patterns"]]
        if len(ids) != len(set(ids)):
            raise Refused("duplicate pattern id")
    except (Refused, ValueError, RecursionError):
        return CONTENT, None
    if current is not None and expected["version"] <= current:
        return STALE, None
    return None, expected


# ---------------------------------------------------------------------------
# Documents
# ---------------------------------------------------------------------------

BASE: Json = {
    "format": FORMAT,
    "version": 2,
    "issued_at": "2026-03-31T15:00:00Z",
    "issuer": "デジタル庁（試験）",
    "patterns": [
        {
            "pattern_id": "P-0001",
            "legal_basis": "番号法 別表第二 項番（試験）1",
            "purpose": "年金給付の支給に関する事務（試験）",
            "requesters": ["kit.pension"],
            "providers": ["kit.city-a", "kit.city-b"],
            "information_kinds": ["local-tax", "resident-record"],
            "valid_from": "2026-04-01T00:00:00+09:00",
            "valid_until": None,
            "answer_within_seconds": 600,
        },
        {
            "pattern_id": "P-0002",
            "legal_basis": "番号法 別表第二 項番（試験）2",
            "purpose": "医療保険給付の支給に関する事務（試験）",
            "requesters": ["kit.insurer"],
            "providers": ["kit.city-a"],
            "information_kinds": ["income"],
            "valid_from": None,
            "valid_until": None,
        },
        {
            "pattern_id": "P-0003",
            "legal_basis": "番号法 別表第二 項番（試験）3",
            "purpose": "生活保護の決定及び実施に関する事務（試験）",
            "requesters": ["kit.welfare"],
            "providers": ["kit.city-b"],
            "information_kinds": ["income", "local-tax"],
            "valid_from": "2026-04-01T00:00:00Z",
            "valid_until": "2031-04-01T00:00:00Z",
            "answer_within_seconds": 3600,
            "withheld_from_person": True,
            "sector": "social-security.welfare",
        },
    ],
}


def base(**changes: Any) -> Json:
    doc = copy.deepcopy(BASE)
    doc.update(changes)
    return doc


def with_pattern(index: int = 0, drop: tuple[str, ...] = (), **changes: Any) -> Json:
    doc = base()
    pattern = doc["patterns"][index]
    for key in drop:
        del pattern[key]
    pattern.update(changes)
    return doc


def without(key: str) -> Json:
    doc = base()
    del doc[key]
    return doc


def dump(doc: Any, style: str = "pretty") -> bytes:
    if style == "pretty":
        return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")
    if style == "compact":
        return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if style == "ascii":
        return json.dumps(doc, ensure_ascii=True, indent=1).encode("ascii")
    if style == "crlf":
        return (
            (json.dumps(doc, ensure_ascii=False, indent="\t") + "\n")
            .replace("\n", "\r\n")
            .encode("utf-8")
        )
    raise AssertionError(style)


def replaced(data: bytes, old: str, new: str, count: int = 1) -> bytes:
    old_b, new_b = old.encode("utf-8"), new.encode("utf-8")
    assert data.count(old_b) >= count, old
    return data.replace(old_b, new_b, count)


def sign(data: bytes, key: Ed25519PrivateKey = ANCHOR) -> bytes:
    return key.sign(data)


def flip_bit(data: bytes, index: int, bit: int = 0) -> bytes:
    out = bytearray(data)
    out[index] ^= 1 << bit
    return bytes(out)


def malleable(signature: bytes) -> bytes:
    """R || S + L: verifies under a checker that skips RFC 8032 §5.1.7's S < L check."""
    s = int.from_bytes(signature[32:], "little") + ED25519_ORDER
    assert s < 2**256
    return signature[:32] + s.to_bytes(32, "little")


# ---------------------------------------------------------------------------
# Vectors
# ---------------------------------------------------------------------------

Row = tuple[str, list[str], bytes, bytes, int | None, str | None]


def valid_rows() -> list[Row]:
    pretty = dump(base())
    long_text = "項" * 256
    bounds = with_pattern(1, answer_within_seconds=1, legal_basis=long_text)
    bounds["patterns"][0]["answer_within_seconds"] = 31_536_000
    reordered = {k: base()[k] for k in ("patterns", "issuer", "issued_at", "version", "format")}
    reordered["patterns"] = [dict(reversed(list(p.items()))) for p in reordered["patterns"]]
    times = with_pattern(
        0, valid_from="2026-03-31T15:00:00.5-00:00", valid_until="2026-04-01T00:00:00.600001+09:00"
    )
    times["issued_at"] = "2026-03-31T23:59:59.123456+09:00"
    return [
        (
            "A signed document whose version (2) is greater than the version in force (1).",
            ["valid-document", "defaults", "withheld-flag"],
            pretty,
            sign(pretty),
            1,
            None,
        ),
        (
            "The first document: no version in force.",
            ["valid-document", "first-document"],
            pretty,
            sign(pretty),
            None,
            None,
        ),
        (
            "Version 1 as the first document.",
            ["first-document", "version-bounds"],
            dump(base(version=1)),
            sign(dump(base(version=1))),
            None,
            None,
        ),
        (
            "Versions need only increase, not by one: 2 → 10.",
            ["valid-document", "version-gap"],
            dump(base(version=10)),
            sign(dump(base(version=10))),
            2,
            None,
        ),
        (
            "The largest version, 2^53 − 1.",
            ["version-bounds"],
            dump(base(version=2**53 - 1)),
            sign(dump(base(version=2**53 - 1))),
            2**53 - 2,
            None,
        ),
        (
            "The same content serialised compactly: other bytes, another signature, the same document.",
            ["exact-bytes"],
            dump(base(), "compact"),
            sign(dump(base(), "compact")),
            1,
            None,
        ),
        (
            "The same content with every non-ASCII character as a \\u escape.",
            ["exact-bytes"],
            dump(base(), "ascii"),
            sign(dump(base(), "ascii")),
            1,
            None,
        ),
        (
            "The same content indented with tabs, with CRLF line ends (JSON whitespace).",
            ["exact-bytes"],
            dump(base(), "crlf"),
            sign(dump(base(), "crlf")),
            1,
            None,
        ),
        (
            "The same content with members in another order (member order is not significant).",
            ["exact-bytes"],
            dump(reordered),
            sign(dump(reordered)),
            1,
            None,
        ),
        (
            "An empty table: valid; every query is then refused (unknown-pattern).",
            ["empty-table"],
            dump(base(patterns=[])),
            sign(dump(base(patterns=[]))),
            1,
            None,
        ),
        (
            "Offsets -00:00 and +09:00 and fractions of 1 and 6 digits, converted to UTC.",
            ["time-offset"],
            dump(times),
            sign(dump(times)),
            1,
            None,
        ),
        (
            "answer_within_seconds at 1 and at 31536000 (one year); a legal basis of 256 characters.",
            ["value-bounds"],
            dump(bounds),
            sign(dump(bounds)),
            1,
            None,
        ),
    ]


def signature_rows() -> list[Row]:
    pretty = dump(base())
    sig = sign(pretty)
    v3 = dump(base(version=3))
    return [
        (
            "The version digit changed from 2 to 3 after signing.",
            ["tampered-document"],
            replaced(pretty, '"version": 2', '"version": 3'),
            sig,
            1,
            SIGNATURE,
        ),
        (
            "A provider changed after signing (kit.city-b → kit.city-c).",
            ["tampered-document"],
            replaced(pretty, "kit.city-b", "kit.city-c"),
            sig,
            1,
            SIGNATURE,
        ),
        (
            "withheld_from_person changed from true to false after signing.",
            ["tampered-document", "withheld-flag"],
            replaced(pretty, '"withheld_from_person": true', '"withheld_from_person": false'),
            sig,
            1,
            SIGNATURE,
        ),
        (
            "One bit of the first byte flipped ('{' → 'z').",
            ["tampered-document"],
            flip_bit(pretty, 0, 0),
            sig,
            1,
            SIGNATURE,
        ),
        (
            "A space appended: the same JSON value, but not the signed bytes.",
            ["tampered-document", "exact-bytes"],
            pretty + b" ",
            sig,
            1,
            SIGNATURE,
        ),
        (
            "The final newline removed: the same JSON value, but not the signed bytes.",
            ["tampered-document", "exact-bytes"],
            pretty[:-1],
            sig,
            1,
            SIGNATURE,
        ),
        (
            "The document re-serialised compactly after signing: the same JSON value, other bytes.",
            ["tampered-document", "exact-bytes"],
            dump(base(), "compact"),
            sig,
            1,
            SIGNATURE,
        ),
        (
            "The last bit of the signature flipped.",
            ["tampered-signature"],
            pretty,
            flip_bit(sig, 63, 7),
            1,
            SIGNATURE,
        ),
        (
            "The first bit of the signature flipped (R).",
            ["tampered-signature"],
            pretty,
            flip_bit(sig, 0, 0),
            1,
            SIGNATURE,
        ),
        (
            "S replaced by S + L: verifies only where the S < L check of RFC 8032 §5.1.7 is skipped.",
            ["tampered-signature", "signature-malleability"],
            pretty,
            malleable(sig),
            1,
            SIGNATURE,
        ),
        (
            "The signature of version 3 attached to version 2.",
            ["tampered-signature"],
            pretty,
            sign(v3),
            1,
            SIGNATURE,
        ),
        (
            "The signature truncated to 63 bytes.",
            ["malformed-signature"],
            pretty,
            sig[:63],
            1,
            SIGNATURE,
        ),
        (
            "The signature with a 65th byte.",
            ["malformed-signature"],
            pretty,
            sig + b"\x00",
            1,
            SIGNATURE,
        ),
        ("No signature: zero bytes.", ["malformed-signature"], pretty, b"", 1, SIGNATURE),
        ("64 zero bytes.", ["malformed-signature"], pretty, bytes(64), 1, SIGNATURE),
        (
            "Signed by a key that is not the trust anchor.",
            ["wrong-key"],
            pretty,
            sign(pretty, OTHER),
            1,
            SIGNATURE,
        ),
        (
            "Signed by another key, first document.",
            ["wrong-key", "first-document"],
            pretty,
            sign(pretty, OTHER),
            None,
            SIGNATURE,
        ),
        (
            "Signed by another key and stale: the signature is checked first.",
            ["wrong-key", "check-order"],
            pretty,
            sign(pretty, OTHER),
            5,
            SIGNATURE,
        ),
        (
            "Signed by another key and malformed: the signature is checked first.",
            ["wrong-key", "check-order"],
            b"{",
            sign(b"{", OTHER),
            1,
            SIGNATURE,
        ),
    ]


def stale_rows() -> list[Row]:
    pretty = dump(base())
    return [
        (
            "Version 2 when version 2 is in force (replay of the document in force).",
            ["stale-version"],
            pretty,
            sign(pretty),
            2,
            STALE,
        ),
        (
            "Version 2 when version 5 is in force (rollback to an older signed document).",
            ["stale-version"],
            pretty,
            sign(pretty),
            5,
            STALE,
        ),
        (
            "Version 1 when the largest version is in force.",
            ["stale-version", "version-bounds"],
            dump(base(version=1)),
            sign(dump(base(version=1))),
            2**53 - 1,
            STALE,
        ),
    ]


def _signed(comment: str, flags: list[str], data: bytes, current: int | None = 1) -> Row:
    return (comment, flags, data, sign(data), current, CONTENT)


def content_rows() -> list[Row]:
    pretty = dump(base())
    rows: list[Row] = []

    def add(comment: str, flags: list[str], doc: Any, current: int | None = 1) -> None:
        rows.append(_signed(comment, flags, doc if isinstance(doc, bytes) else dump(doc), current))

    # format
    add(
        "format 'renkei-patterns/2': a format this hub does not read.",
        ["unknown-format"],
        base(format="renkei-patterns/2"),
    )
    add("format in upper case.", ["unknown-format"], base(format="RENKEI-PATTERNS/1"))
    add("format as a number.", ["unknown-format", "wrong-type"], base(format=1))
    add("No format member.", ["unknown-format", "missing-field"], without("format"))
    # missing members
    for key in ("version", "issued_at", "issuer", "patterns"):
        add(f"No '{key}' member.", ["missing-field"], without(key))
    for key in (
        "pattern_id",
        "legal_basis",
        "purpose",
        "requesters",
        "providers",
        "information_kinds",
    ):
        add(
            f"A pattern without '{key}' (RK-PAT-004).",
            ["missing-field"],
            with_pattern(0, drop=(key,)),
        )
    add(
        "A pattern without 'valid_from': open bounds are written as null, not omitted.",
        ["missing-field"],
        with_pattern(1, drop=("valid_from",)),
    )
    add(
        "A pattern without 'valid_until'.",
        ["missing-field"],
        with_pattern(1, drop=("valid_until",)),
    )
    # empty or blank designations and texts
    for key in ("requesters", "providers", "information_kinds"):
        emptied = with_pattern(0)
        emptied["patterns"][0][key] = []
        add(f"'{key}' is empty (RK-PAT-004).", ["empty-designation"], emptied)
    add(
        "legal_basis is the empty string (RK-PAT-004).",
        ["empty-designation"],
        with_pattern(0, legal_basis=""),
    )
    add(
        "legal_basis is only whitespace (an ideographic space).",
        ["empty-designation"],
        with_pattern(0, legal_basis="\u3000"),
    )
    add("pattern_id is the empty string.", ["empty-designation"], with_pattern(0, pattern_id=""))
    add("issuer is only spaces.", ["empty-designation"], base(issuer="   "))
    # duplicates
    dup = base()
    dup["patterns"][1]["pattern_id"] = "P-0001"
    add("Two patterns with the pattern_id P-0001 (different content).", ["duplicate-id"], dup)
    same = base()
    same["patterns"].append(copy.deepcopy(same["patterns"][0]))
    add("The same pattern twice.", ["duplicate-id"], same)
    add(
        "Duplicate pattern IDs and a stale version: content is checked before the version.",
        ["duplicate-id", "check-order"],
        dup,
        5,
    )
    add(
        "A requester listed twice.",
        ["duplicate-item"],
        with_pattern(0, requesters=["kit.pension", "kit.pension"]),
    )
    add(
        "An information kind listed twice.",
        ["duplicate-item"],
        with_pattern(0, information_kinds=["local-tax", "local-tax"]),
    )
    add(
        "The member 'version' twice with different values (2 and 3).",
        ["duplicate-member"],
        replaced(pretty, '"version": 2,', '"version": 2,\n  "version": 3,'),
    )
    add(
        "The member 'version' twice with the same value.",
        ["duplicate-member"],
        replaced(pretty, '"version": 2,', '"version": 2,\n  "version": 2,'),
    )
    add(
        "A pattern with the member 'providers' twice.",
        ["duplicate-member"],
        replaced(pretty, '"providers": [', '"providers": ["kit.city-z"],\n      "providers": ['),
    )
    # unknown members
    add(
        "An unknown top-level member 'signature' (signatures are detached).",
        ["unknown-member"],
        base(signature="AAAA"),
    )
    add(
        "A misspelt optional member 'withheld'.", ["unknown-member"], with_pattern(0, withheld=True)
    )
    add(
        "A member 'valid_to' instead of 'valid_until'.",
        ["unknown-member"],
        with_pattern(1, drop=("valid_until",), valid_to=None),
    )
    # times
    add(
        "valid_until before valid_from (RK-PAT-004).",
        ["time-order"],
        with_pattern(2, valid_from="2031-04-01T00:00:00Z", valid_until="2026-04-01T00:00:00Z"),
    )
    add(
        "valid_until equal to valid_from: an empty period.",
        ["time-order"],
        with_pattern(2, valid_until="2026-04-01T00:00:00Z"),
    )
    add(
        "valid_until equal to valid_from written with another offset.",
        ["time-order", "time-offset"],
        with_pattern(2, valid_until="2026-04-01T09:00:00+09:00"),
    )
    add("A date without a time.", ["bad-time"], with_pattern(2, valid_from="2026-04-01"))
    add("A space instead of 'T'.", ["bad-time"], with_pattern(2, valid_from="2026-04-01 00:00:00Z"))
    add(
        "Lower-case 't' and 'z' (allowed by RFC 3339 §5.6, not by renkei's profile).",
        ["bad-time"],
        with_pattern(2, valid_from="2026-04-01t00:00:00z"),
    )
    add("No offset: a local time.", ["bad-time"], with_pattern(2, valid_from="2026-04-01T00:00:00"))
    add(
        "An offset without a colon.",
        ["bad-time"],
        with_pattern(2, valid_from="2026-04-01T00:00:00+0900"),
    )
    add(
        "A fraction of 7 digits (finer than a microsecond).",
        ["bad-time"],
        with_pattern(2, valid_from="2026-04-01T00:00:00.0000001Z"),
    )
    add(
        "February 30.", ["bad-time", "calendar"], with_pattern(2, valid_from="2026-02-30T00:00:00Z")
    )
    add(
        "February 29 of a common year.",
        ["bad-time", "calendar"],
        with_pattern(2, valid_from="2027-02-29T00:00:00Z"),
    )
    add(
        "A leap second (:60).",
        ["bad-time", "calendar"],
        with_pattern(2, valid_until="2031-03-31T23:59:60Z"),
    )
    add("Hour 24.", ["bad-time"], with_pattern(2, valid_from="2026-04-01T24:00:00Z"))
    add("Year 0000.", ["bad-time", "calendar"], with_pattern(2, valid_from="0000-01-01T00:00:00Z"))
    add(
        "0001-01-01T00:00:00+09:00 is before the year 1 in UTC.",
        ["bad-time", "calendar"],
        with_pattern(2, valid_from="0001-01-01T00:00:00+09:00"),
    )
    add(
        "Full-width digits in the year.",
        ["bad-time"],
        with_pattern(2, valid_from="２０２６-04-01T00:00:00Z"),
    )
    add(
        "A time as a number (seconds since the epoch).",
        ["bad-time", "wrong-type"],
        with_pattern(2, valid_from=1775001600),
    )
    add("issued_at is not a date-time.", ["bad-time"], base(issued_at="yesterday"))
    # types and ranges
    add("version as a string.", ["wrong-type"], base(version="2"))
    add("version 0.", ["version-bounds"], base(version=0), None)
    add("version −1.", ["version-bounds"], base(version=-1), None)
    add("version 2^53, beyond exact JSON integers.", ["version-bounds"], base(version=2**53), None)
    add("version true.", ["wrong-type"], base(version=True), None)
    add(
        "version 2.0: JSON Schema's 'integer' admits it; renkei requires an integer spelling.",
        ["integer-spelling"],
        replaced(pretty, '"version": 2,', '"version": 2.0,'),
    )
    add("version 2e0.", ["integer-spelling"], replaced(pretty, '"version": 2,', '"version": 2e0,'))
    add("answer_within_seconds 0.", ["value-bounds"], with_pattern(0, answer_within_seconds=0))
    add(
        "answer_within_seconds 31536001 (more than a year).",
        ["value-bounds"],
        with_pattern(0, answer_within_seconds=31_536_001),
    )
    add(
        "answer_within_seconds as a string.",
        ["wrong-type"],
        with_pattern(0, answer_within_seconds="600"),
    )
    add(
        "answer_within_seconds 600.0.",
        ["integer-spelling"],
        replaced(pretty, '"answer_within_seconds": 600', '"answer_within_seconds": 600.0'),
    )
    add(
        "withheld_from_person as the string 'true'.",
        ["wrong-type", "withheld-flag"],
        with_pattern(2, withheld_from_person="true"),
    )
    add(
        "withheld_from_person as 1.",
        ["wrong-type", "withheld-flag"],
        with_pattern(2, withheld_from_person=1),
    )
    add(
        "withheld_from_person null.",
        ["wrong-type", "withheld-flag"],
        with_pattern(2, withheld_from_person=None),
    )
    add("sector null (omit it instead).", ["wrong-type"], with_pattern(2, sector=None))
    add(
        "requesters as a string, not an array.",
        ["wrong-type"],
        with_pattern(0, requesters="kit.pension"),
    )
    add("patterns as an object.", ["wrong-type"], base(patterns={"P-0001": BASE["patterns"][0]}))
    add(
        "A pattern that is an array.",
        ["wrong-type"],
        base(patterns=[list(BASE["patterns"][0].items())]),
    )
    add(
        "A legal basis of 257 characters.",
        ["value-bounds"],
        with_pattern(0, legal_basis="項" * 257),
    )
    add(
        "A control character (BEL) in the purpose.",
        ["bad-text"],
        with_pattern(0, purpose="年金\u0007給付"),
    )
    add(
        "An escaped unpaired surrogate in the purpose (RFC 7493 §2.1).",
        ["bad-text"],
        replaced(pretty, "年金給付の支給", "年金\\ud800給付の支給"),
    )
    # agency ids
    add(
        "A requester in upper case.", ["bad-agency-id"], with_pattern(0, requesters=["Kit.Pension"])
    )
    add("A provider with a space.", ["bad-agency-id"], with_pattern(0, providers=["kit city-a"]))
    add(
        "A provider in full-width letters.",
        ["bad-agency-id"],
        with_pattern(0, providers=["ｋｉｔ.city-a"]),
    )
    add("A requester of 64 characters.", ["bad-agency-id"], with_pattern(0, requesters=["a" * 64]))
    # JSON
    add(
        "A trailing comma.",
        ["malformed-json"],
        replaced(pretty, '"kit.city-b"\n', '"kit.city-b",\n'),
    )
    add(
        "NaN as answer_within_seconds.",
        ["malformed-json"],
        replaced(pretty, '"answer_within_seconds": 600', '"answer_within_seconds": NaN'),
    )
    add("A top-level array.", ["malformed-json", "wrong-type"], dump([base()]))
    add("Text after the document.", ["malformed-json"], pretty + b"{}")
    add("Zero bytes.", ["malformed-json"], b"")
    add(
        "A UTF-8 byte order mark before the document.",
        ["malformed-json", "encoding"],
        b"\xef\xbb\xbf" + pretty,
    )
    add(
        "The document in UTF-16 (with BOM).",
        ["malformed-json", "encoding"],
        json.dumps(base(), ensure_ascii=False).encode("utf-16"),
    )
    add(
        "Shift_JIS bytes in a string: not UTF-8.",
        ["malformed-json", "encoding"],
        pretty.replace("デジタル庁".encode(), "デジタル庁".encode("shift_jis")),
    )
    add(
        "An overlong UTF-8 encoding of '/' (C0 AF) in the format.",
        ["malformed-json", "encoding"],
        pretty.replace(b"renkei-patterns/1", b"renkei-patterns\xc0\xaf1"),
    )
    return rows


NOTES: dict[str, Json] = {
    "valid-document": {
        "bugType": "BASIC",
        "description": "A document signed by the trust anchor whose version is greater than the one in force: the hub loads it.",
    },
    "first-document": {
        "bugType": "EDGE_CASE",
        "description": "No document is in force (currentVersion null): any version from 1 is new.",
    },
    "defaults": {
        "bugType": "BASIC",
        "description": "Optional members omitted: answer_within_seconds 3600, withheld_from_person false, no sector (see 'expected').",
    },
    "withheld-flag": {
        "bugType": "BASIC",
        "description": "The withheld flag of RK-LOG-007 comes only from the signed document; changing it breaks the signature; it is a boolean.",
    },
    "version-gap": {
        "bugType": "EDGE_CASE",
        "description": "Versions must increase, not increase by one: a hub must not require consecutive versions.",
    },
    "version-bounds": {
        "bugType": "EDGE_CASE",
        "description": "The version range 1 to 2^53 − 1 (RFC 7493 §2.2: integers beyond are not exact in every JSON parser).",
    },
    "exact-bytes": {
        "bugType": "EDGE_CASE",
        "description": "The signature covers the exact bytes, without canonicalisation: any serialisation of the content can be signed and is valid with its own signature, and no change of bytes, however meaningless to JSON, keeps a signature valid.",
    },
    "empty-table": {
        "bugType": "EDGE_CASE",
        "description": "A document without patterns is valid; under it every query is refused (unknown-pattern).",
    },
    "time-offset": {
        "bugType": "EDGE_CASE",
        "description": "Times with an offset other than Z and with fractions; the hub compares instants (expected values are in UTC).",
    },
    "value-bounds": {
        "bugType": "EDGE_CASE",
        "description": "The limits of the members: answer_within_seconds 1 to 31536000, text 1 to 256 characters.",
    },
    "tampered-document": {
        "bugType": "MODIFIED_CIPHERTEXT",
        "description": "The document bytes changed after signing: the signature must not verify.",
    },
    "tampered-signature": {
        "bugType": "MODIFIED_CIPHERTEXT",
        "description": "The signature changed, or taken from another document: it must not verify.",
    },
    "signature-malleability": {
        "bugType": "MODIFIED_CIPHERTEXT",
        "description": "The scalar S of the signature replaced by S + L (L the group order): RFC 8032 §5.1.7 rejects S ≥ L; a verifier that skips the check accepts it.",
    },
    "malformed-signature": {
        "bugType": "MALFORMED_INPUT",
        "description": "A signature that is not 64 bytes, or not a signature at all.",
    },
    "wrong-key": {
        "bugType": "AUTHORIZATION",
        "description": "A valid Ed25519 signature by a key other than the trust anchor (the other key is 'otherKey').",
    },
    "check-order": {
        "bugType": "EDGE_CASE",
        "description": "The document fails two checks; the reason is the first in the order signature, content, version (a refusal either way).",
    },
    "stale-version": {
        "bugType": "AUTHORIZATION",
        "description": "A correctly signed document whose version is not greater than the one in force: a replay or rollback, refused.",
    },
    "unknown-format": {
        "bugType": "MALFORMED_INPUT",
        "description": "The member 'format' is missing or is not 'renkei-patterns/1'.",
    },
    "missing-field": {
        "bugType": "MALFORMED_INPUT",
        "description": "A required member is missing (RK-PAT-004 requires a pattern ID, legal basis, purpose, requesters, providers, information kinds and both validity bounds, null when open).",
    },
    "empty-designation": {
        "bugType": "MALFORMED_INPUT",
        "description": "A designation list is empty, or a required text is empty or blank (RK-PAT-004).",
    },
    "duplicate-id": {
        "bugType": "MALFORMED_INPUT",
        "description": "Two patterns share a pattern_id: the table would be ambiguous (checked in code; JSON Schema cannot state it).",
    },
    "duplicate-item": {
        "bugType": "MALFORMED_INPUT",
        "description": "A designation lists the same item twice.",
    },
    "duplicate-member": {
        "bugType": "MALFORMED_INPUT",
        "description": "A JSON object has the same member name twice; parsers differ in which value they keep (RFC 8259 §4), so the signed meaning would be ambiguous (checked in code).",
    },
    "unknown-member": {
        "bugType": "MALFORMED_INPUT",
        "description": "A member the format does not define: refused rather than ignored, so that no signed statement is silently dropped.",
    },
    "time-order": {
        "bugType": "MALFORMED_INPUT",
        "description": "valid_until is not after valid_from: the period is empty or ends before it begins (RK-PAT-004; checked in code).",
    },
    "bad-time": {
        "bugType": "MALFORMED_INPUT",
        "description": "Not an RFC 3339 date-time of renkei's profile: YYYY-MM-DDTHH:MM:SS, optional fraction of 1 to 6 digits, Z or ±HH:MM, upper-case T and Z.",
    },
    "calendar": {
        "bugType": "EDGE_CASE",
        "description": "Matches the syntax but names no instant renkei accepts: a day the month lacks, a leap second, the year 0 or a time before 0001-01-01T00:00:00Z (checked in code).",
    },
    "wrong-type": {"bugType": "MALFORMED_INPUT", "description": "A member of the wrong JSON type."},
    "integer-spelling": {
        "bugType": "EDGE_CASE",
        "description": "An integer member written with a fraction or exponent (2.0, 2e0): JSON Schema's 'integer' admits it; renkei refuses it (checked in code).",
    },
    "bad-text": {
        "bugType": "MALFORMED_INPUT",
        "description": "Text with a control character or an unpaired surrogate (not Unicode text, RFC 7493 §2.1).",
    },
    "bad-agency-id": {
        "bugType": "MALFORMED_INPUT",
        "description": "A designated agency that is not an agency id (1 to 63 characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit).",
    },
    "malformed-json": {
        "bugType": "MALFORMED_INPUT",
        "description": "The bytes are not one strict JSON object (RFC 8259): syntax errors, NaN, trailing data, another top-level type, a byte order mark.",
    },
    "encoding": {
        "bugType": "MALFORMED_INPUT",
        "description": "The bytes are not UTF-8 without a byte order mark (RFC 8259 §8.1).",
    },
}

HEADER = [
    "A pattern document is JSON (specs/schemas/pattern-document.schema.json) with a detached Ed25519 signature (RFC 8032) over its exact bytes (RK-PAT-003).",
    "Each test: open 'document' (standard base64 of the exact bytes) with 'signature' (standard base64) under the trust anchor 'trustAnchor.publicKey' (raw 32-byte Ed25519 key, hex), with 'currentVersion' the version in force (null: none).",
    "'valid': the hub loads the document; 'expected' is its content with defaults filled in (answer_within_seconds 3600, withheld_from_person false), designations sorted, times in UTC ('Z', a 6-digit fraction only when not zero); 'sector' is absent when the pattern states none.",
    "'invalid': the hub refuses with 422 invalid-pattern and keeps the table in force. 'reason' names the first failed check in the order signature (invalid-pattern-signature), content (invalid-pattern-document), version (stale-pattern-document); it is what the reference reports, informative beyond the refusal itself.",
    "The private keys are published ('seed', RFC 8032 §5.1.5) for these vectors only: signing a valid 'document' with 'trustAnchor.seed' gives exactly 'signature' (Ed25519 is deterministic).",
]


def build() -> Json:
    groups = [valid_rows(), signature_rows(), stale_rows(), content_rows()]
    tests: list[Json] = []
    used: set[str] = set()
    for rows in groups:
        for comment, flags, data, signature, current, reason in rows:
            got_reason, expected = open_document(data, signature, current)
            if got_reason != reason:
                raise AssertionError(f"{comment}: declared {reason}, checked {got_reason}")
            used |= set(flags)
            tests.append(
                {
                    "tcId": len(tests) + 1,
                    "comment": comment,
                    "flags": flags,
                    "document": base64.b64encode(data).decode("ascii"),
                    "signature": base64.b64encode(signature).decode("ascii"),
                    "currentVersion": current,
                    "result": "valid" if reason is None else "invalid",
                    "reason": reason,
                    "expected": expected,
                }
            )
    if used != set(NOTES):
        raise AssertionError(f"flags and notes differ: {sorted(used ^ set(NOTES))}")
    for test in tests:
        if test["result"] == "valid":
            assert ANCHOR.sign(base64.b64decode(test["document"])) == base64.b64decode(
                test["signature"]
            )
    return {
        "$schema": SCHEMA_REF,
        "topic": "pattern-documents",
        "algorithm": "Ed25519 (RFC 8032) detached signature over the exact bytes of a renkei-patterns/1 JSON document; monotonic version",
        "status": "normative",
        "source": "renkei RK-PAT-003, RK-PAT-004, RK-LOG-007 (seed items 17, 18, 21); specs/schemas/pattern-document.schema.json",
        "generator": GENERATOR,
        "numberOfTests": len(tests),
        "header": HEADER,
        "notes": NOTES,
        "requirements": ["RK-PAT-003", "RK-PAT-004"],
        "trustAnchor": {"publicKey": _public_hex(ANCHOR), "seed": ANCHOR_SEED.hex()},
        "otherKey": {"publicKey": _public_hex(OTHER), "seed": OTHER_SEED.hex()},
        "tests": tests,
    }


def main(argv: list[str] | None = None) -> int:
    return vector_files.main({FILE_NAME: build}, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
