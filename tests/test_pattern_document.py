"""Signed, versioned pattern documents (RK-PAT-003, RK-PAT-004; seed items 17, 18, 21).

(a) the reference against the vectors (specs/vectors/pattern-documents.json),
    and the vectors against both schemas;
(b) properties (hypothesis): documents round-trip through encode, sign and
    open; any single-byte change of the document or the signature is refused;
    a version not greater than the one in force is refused;
(c) the refusals one by one: problem type, reason, detail and the check order.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from functools import cache
from typing import Any

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_conformance.spec import load_problems
from renkei_reference.core.errors import CallerError
from renkei_reference.core.pattern_document import (
    FORMAT,
    MAX_VERSION,
    PatternDocument,
    encode_pattern_document,
    open_pattern_document,
    parse_pattern_document,
    sign_pattern_document,
)
from renkei_reference.core.patterns import LinkagePattern, Query, decide

from .conftest import ROOT

VECTORS_PATH = ROOT / "specs" / "vectors" / "pattern-documents.json"
DOCUMENT_SCHEMA_PATH = ROOT / "specs" / "schemas" / "pattern-document.schema.json"
GENERATOR = ROOT / "specs" / "vectors" / "generate_pattern_documents.py"

# Rules JSON Schema cannot state; the reference checks them in code.
CODE_ONLY_FLAGS = {"duplicate-id", "duplicate-member", "time-order", "calendar", "integer-spelling"}


@cache
def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


@cache
def _document_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(DOCUMENT_SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


VECTORS: list[dict[str, Any]] = _vectors()["tests"]
ANCHOR_KEY = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(_vectors()["trustAnchor"]["seed"]))
ANCHOR = Ed25519PublicKey.from_public_bytes(bytes.fromhex(_vectors()["trustAnchor"]["publicKey"]))


def _ids(vectors: list[dict[str, Any]]) -> list[str]:
    return [f"tc{v['tcId']}-{v['flags'][0]}" for v in vectors]


def _utc(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def _as_expected(document: PatternDocument) -> dict[str, Any]:
    """The vectors' normal form of a document (see the vector file's header)."""
    patterns = []
    for p in document.patterns:
        row: dict[str, Any] = {
            "pattern_id": p.pattern_id,
            "legal_basis": p.legal_basis,
            "purpose": p.purpose,
            "requesters": sorted(p.requesters),
            "providers": sorted(p.providers),
            "information_kinds": sorted(p.information_kinds),
            "valid_from": _utc(p.valid_from),
            "valid_until": _utc(p.valid_until),
            "answer_within_seconds": p.answer_within_seconds,
            "withheld_from_person": p.withheld_from_person,
        }
        if p.sector is not None:
            row["sector"] = p.sector
        patterns.append(row)
    return {
        "format": document.format,
        "version": document.version,
        "issued_at": _utc(document.issued_at),
        "issuer": document.issuer,
        "patterns": patterns,
    }


def _refused(reason: str, call: Any) -> CallerError:
    with pytest.raises(CallerError) as info:
        call()
    error = info.value
    assert error.problem == "invalid-pattern"
    assert error.status_hint == 422
    assert error.requirement == "RK-PAT-003"
    assert error.extensions == {"reason": reason}, error.detail
    return error


# -- (a) vectors -------------------------------------------------------------


@pytest.mark.requirement("RK-PAT-003", "RK-PAT-004")
@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_pattern_document_vectors(vector: dict[str, Any]) -> None:
    data = base64.b64decode(vector["document"], validate=True)
    signature = base64.b64decode(vector["signature"], validate=True)
    current = vector["currentVersion"]
    if vector["result"] == "valid":
        document = open_pattern_document(data, signature, ANCHOR, current)
        assert _as_expected(document) == vector["expected"]
        assert parse_pattern_document(data) == document
        # Ed25519 is deterministic: the published seed signs to exactly the vector.
        assert sign_pattern_document(data, ANCHOR_KEY) == signature
    else:
        _refused(vector["reason"], lambda: open_pattern_document(data, signature, ANCHOR, current))


@pytest.mark.requirement("RK-PAT-003")
def test_vector_file_is_what_its_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(GENERATOR), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.requirement("RK-PAT-003")
def test_vector_file_covers_every_kind_of_refusal() -> None:
    vectors = _vectors()
    assert vectors["numberOfTests"] == len(VECTORS) >= 100
    assert [v["tcId"] for v in VECTORS] == list(range(1, len(VECTORS) + 1))
    reasons = {v["reason"] for v in VECTORS}
    assert reasons == {
        None,
        "invalid-pattern-signature",
        "invalid-pattern-document",
        "stale-pattern-document",
    }
    flags = {f for v in VECTORS for f in v["flags"]}
    for flag in ("tampered-document", "wrong-key", "stale-version", "duplicate-id"):
        assert flag in flags
    for flag in ("missing-field", "bad-time", "unknown-format"):
        assert flag in flags
    other = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(vectors["otherKey"]["seed"]))
    assert other.public_key().public_bytes_raw().hex() == vectors["otherKey"]["publicKey"]
    assert ANCHOR_KEY.public_key().public_bytes_raw() == ANCHOR.public_bytes_raw()


@pytest.mark.requirement("RK-PAT-004")
@pytest.mark.parametrize("vector", VECTORS, ids=_ids(VECTORS))
def test_document_schema_agrees_with_the_reference(vector: dict[str, Any]) -> None:
    """Valid documents (and their normal form) pass the schema; content the
    reference refuses fails it, unless only a code-checked rule is broken."""
    schema = _document_schema()
    data = base64.b64decode(vector["document"])
    if vector["result"] == "valid":
        jsonschema.validate(json.loads(data.decode("utf-8")), schema)
        jsonschema.validate(vector["expected"], schema)
        return
    if vector["reason"] != "invalid-pattern-document":
        return
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError:
        return  # not JSON text at all: nothing for a schema to judge
    accepted = jsonschema.Draft202012Validator(schema).is_valid(value)
    if accepted:
        assert set(vector["flags"]) & CODE_ONLY_FLAGS, "the schema accepts what the code refuses"


@pytest.mark.requirement("RK-PAT-003")
def test_invalid_pattern_is_the_registered_problem() -> None:
    problem = load_problems()["invalid-pattern"]
    assert problem["status"] == 422
    assert problem["requirement"] == "RK-PAT-003"


# -- (b) properties ----------------------------------------------------------

_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=12
).filter(lambda s: s.strip() != "")
_AGENCY = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,8}", fullmatch=True)
_ZONES = st.sampled_from(
    [UTC, timezone(timedelta(hours=9)), timezone(-timedelta(hours=3, minutes=30))]
)
_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_ZONES
)


@st.composite
def _patterns(draw: st.DrawFn, pattern_id: str) -> LinkagePattern:
    bounds = sorted(draw(st.lists(_MOMENTS, min_size=2, max_size=2)))
    valid_from = draw(st.one_of(st.none(), st.just(bounds[0])))
    valid_until = draw(st.one_of(st.none(), st.just(bounds[1])))
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        valid_until = None
    return LinkagePattern(
        pattern_id=pattern_id,
        legal_basis=draw(_TEXT),
        purpose=draw(_TEXT),
        requesters=frozenset(draw(st.lists(_AGENCY, min_size=1, max_size=3))),
        providers=frozenset(draw(st.lists(_AGENCY, min_size=1, max_size=3))),
        information_kinds=frozenset(draw(st.lists(_TEXT, min_size=1, max_size=3))),
        valid_from=valid_from,
        valid_until=valid_until,
        answer_within_seconds=draw(st.integers(1, 31_536_000)),
        withheld_from_person=draw(st.booleans()),
        sector=draw(st.none() | _TEXT),
    )


@st.composite
def _documents(draw: st.DrawFn) -> PatternDocument:
    ids = draw(st.lists(_TEXT, max_size=4, unique=True))
    patterns = tuple(draw(_patterns(pid)) for pid in ids)
    return PatternDocument(
        format=FORMAT,
        version=draw(st.integers(1, MAX_VERSION)),
        issued_at=draw(_MOMENTS),
        issuer=draw(_TEXT),
        patterns=patterns,
    )


@pytest.mark.requirement("RK-PAT-003", "RK-PAT-004")
@settings(max_examples=150, deadline=None)
@given(document=_documents())
def test_documents_round_trip_through_encode_sign_and_open(document: PatternDocument) -> None:
    data = encode_pattern_document(document)
    assert parse_pattern_document(data) == document
    signature = sign_pattern_document(data, ANCHOR_KEY)
    assert open_pattern_document(data, signature, ANCHOR, None) == document
    assert open_pattern_document(data, signature, ANCHOR, document.version - 1) == document
    jsonschema.validate(json.loads(data), _document_schema())


_SIGNED = (
    encode_pattern_document(parse_pattern_document(base64.b64decode(VECTORS[0]["document"])))
    if VECTORS
    else b""
)
_SIGNATURE = sign_pattern_document(_SIGNED, ANCHOR_KEY)


@pytest.mark.requirement("RK-PAT-003")
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_single_byte_change_of_the_document_is_refused(data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(_SIGNED) - 1))
    delta = data.draw(st.integers(1, 255))
    changed = bytearray(_SIGNED)
    changed[index] ^= delta
    _refused(
        "invalid-pattern-signature",
        lambda: open_pattern_document(bytes(changed), _SIGNATURE, ANCHOR, None),
    )


@pytest.mark.requirement("RK-PAT-003")
@settings(max_examples=200, deadline=None)
@given(index=st.integers(0, 63), delta=st.integers(1, 255))
def test_any_single_byte_change_of_the_signature_is_refused(index: int, delta: int) -> None:
    changed = bytearray(_SIGNATURE)
    changed[index] ^= delta
    _refused(
        "invalid-pattern-signature",
        lambda: open_pattern_document(_SIGNED, bytes(changed), ANCHOR, None),
    )


@pytest.mark.requirement("RK-PAT-003")
@settings(max_examples=100, deadline=None)
@given(version=st.integers(1, MAX_VERSION), in_force=st.integers(1, MAX_VERSION))
def test_a_version_not_greater_than_the_one_in_force_is_refused(
    version: int, in_force: int
) -> None:
    original = parse_pattern_document(_SIGNED)
    document = PatternDocument(
        FORMAT,
        version,
        original.issued_at,
        original.issuer,
        original.patterns,
    )
    data = encode_pattern_document(document)
    signature = sign_pattern_document(data, ANCHOR_KEY)
    if version <= in_force:
        error = _refused(
            "stale-pattern-document",
            lambda: open_pattern_document(data, signature, ANCHOR, in_force),
        )
        assert error.detail.startswith("/version: ")
    else:
        assert open_pattern_document(data, signature, ANCHOR, in_force).version == version


# -- (c) refusals one by one -------------------------------------------------


def _document(**changes: Any) -> bytes:
    base = json.loads(base64.b64decode(VECTORS[0]["document"]))
    base.update(changes)
    return json.dumps(base, ensure_ascii=False).encode("utf-8")


@pytest.mark.requirement("RK-PAT-004")
@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"[]", "the document must be a JSON object"),
        (_document(format="renkei-patterns/2"), "/format: unknown format"),
        (_document(version=0), "/version: must be from 1"),
        (_document(extra=1), "/extra: unknown member"),
        (_document(**{"a/b~": 1}), "/a~1b~0: unknown member"),
        (_document(patterns=[{}]), "/patterns/0/pattern_id: required member is missing"),
        (_document(issued_at="2026-04-01"), "/issued_at: must be an RFC 3339 date-time"),
    ],
)
def test_the_detail_names_the_first_problem_with_a_json_pointer(data: bytes, detail: str) -> None:
    error = _refused("invalid-pattern-document", lambda: parse_pattern_document(data))
    assert error.detail.startswith(detail), error.detail


@pytest.mark.requirement("RK-PAT-004")
def test_a_pattern_lacking_a_designation_or_ending_before_it_begins_is_refused() -> None:
    base = json.loads(base64.b64decode(VECTORS[0]["document"]))
    pattern = base["patterns"][2]
    for key in ("legal_basis", "requesters", "providers", "information_kinds"):
        broken = json.loads(json.dumps(base))
        broken["patterns"][2][key] = [] if key != "legal_basis" else ""
        error = _refused(
            "invalid-pattern-document",
            lambda b=broken: parse_pattern_document(json.dumps(b).encode()),
        )
        assert error.detail.startswith(f"/patterns/2/{key}"), error.detail
    broken = json.loads(json.dumps(base))
    broken["patterns"][2]["valid_until"] = pattern["valid_from"]
    error = _refused(
        "invalid-pattern-document", lambda: parse_pattern_document(json.dumps(broken).encode())
    )
    assert error.detail.startswith("/patterns/2/valid_until: must be after valid_from")


@pytest.mark.requirement("RK-PAT-003")
def test_checks_run_in_order_signature_content_version() -> None:
    other = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
    junk = b"not json"
    _refused(
        "invalid-pattern-signature",
        lambda: open_pattern_document(junk, other.sign(junk), ANCHOR, 10**6),
    )
    _refused(
        "invalid-pattern-document",
        lambda: open_pattern_document(junk, ANCHOR_KEY.sign(junk), ANCHOR, 10**6),
    )
    _refused(
        "stale-pattern-document",
        lambda: open_pattern_document(_SIGNED, _SIGNATURE, ANCHOR, 10**6),
    )


@pytest.mark.requirement("RK-PAT-003")
def test_the_issuer_cannot_sign_an_invalid_document() -> None:
    _refused(
        "invalid-pattern-document",
        lambda: sign_pattern_document(_document(version=-1), ANCHOR_KEY),
    )


def test_local_misuse_is_a_type_error() -> None:
    text = _SIGNED.decode("utf-8")
    with pytest.raises(TypeError):
        parse_pattern_document(text)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_pattern_document(_SIGNED, _SIGNATURE.hex(), ANCHOR, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_pattern_document(_SIGNED, _SIGNATURE, ANCHOR_KEY, None)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        open_pattern_document(_SIGNED, _SIGNATURE, ANCHOR, "1")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        sign_pattern_document(_SIGNED, ANCHOR)  # type: ignore[arg-type]


@pytest.mark.requirement("RK-PAT-004")
def test_a_document_checks_itself_on_construction() -> None:
    document = parse_pattern_document(_SIGNED)
    first = document.patterns[0]
    fields = (document.issued_at, document.issuer)
    with pytest.raises(CallerError, match="duplicate of /patterns/0"):
        PatternDocument(FORMAT, 1, *fields, (first, first))
    with pytest.raises(CallerError, match="withheld_from_person"):
        PatternDocument(FORMAT, 1, *fields, (replace(first, withheld_from_person=1),))  # type: ignore[arg-type]
    with pytest.raises(CallerError, match="sector"):
        PatternDocument(FORMAT, 1, *fields, (replace(first, sector=""),))
    with pytest.raises(CallerError, match="UTC offset"):
        PatternDocument(FORMAT, 1, datetime(2026, 4, 1), document.issuer, ())
    with pytest.raises(CallerError, match="unknown format"):
        PatternDocument("renkei-patterns/2", 1, *fields, ())


@pytest.mark.requirement("RK-PAT-003", "RK-PAT-004")
def test_the_opened_table_is_what_decide_approves_against() -> None:
    """The withheld flag and the sector are the patterns' own; decide sees the patterns."""
    document = open_pattern_document(_SIGNED, _SIGNATURE, ANCHOR, None)
    table = document.table()
    assert list(table) == ["P-0001", "P-0002", "P-0003"]
    assert [p.pattern_id for p in document.patterns if p.withheld_from_person] == ["P-0003"]
    assert {p.pattern_id: p.sector for p in document.patterns if p.sector} == {
        "P-0003": "social-security.welfare"
    }
    at = datetime(2026, 5, 1, tzinfo=UTC)
    query = Query("kit.welfare", "kit.welfare", "kit.city-b", "P-0003", "income", at)
    assert decide(table, query).approved
    early = Query(
        "kit.pension", "kit.pension", "kit.city-a", "P-0001", "local-tax", at.replace(month=3)
    )
    assert decide(table, early).reason is not None
    assert decide(table, early).reason.value == "outside-validity"  # type: ignore[union-attr]
