"""Wire models (pydantic v2) of the request bodies: the edge of the shell.

Each model mirrors a schema of specs/openapi/renkei.yaml; unknown fields are
refused (``extra="forbid"``), so a typo is a 422 ``validation-error``, not a
silently ignored field.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    Strict,
    StringConstraints,
    ValidationError,
    model_validator,
)

__all__ = [
    "AgenciesIn",
    "AgencyIn",
    "AgencyLogEntriesIn",
    "AgencyLogEntryIn",
    "AgencyNodeIn",
    "AnomalyQuery",
    "AnswerIn",
    "BindingRecordIn",
    "BindingsIn",
    "ClockAdvanceIn",
    "ClockSetIn",
    "ConsentIn",
    "CorporateIn",
    "CurrencyIn",
    "IdCodesIn",
    "IssueNumberIn",
    "KeyRotationIn",
    "LegalHoldIn",
    "PatternAnchorIn",
    "PatternIn",
    "PatternsIn",
    "QueryIn",
    "RebindIn",
    "RecordProblem",
    "ReissueIn",
    "ResidentCodeChangeIn",
    "ResidentIn",
    "ResidentsIn",
    "RetentionIn",
    "binding_record",
]

Digits11 = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=256)]
Ident = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Sex = Literal["male", "female", "other"]
Date = Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
MAX_PAYLOAD_CHARS = 1_400_000  # base64 of 1 MiB


def _rfc3339_text(value: object) -> object:
    """RK-WIRE-002: a timestamp is an RFC 3339 string, never a number."""
    if not isinstance(value, str):
        raise ValueError("an RFC 3339 date-time string with an explicit offset is required")
    return value


# RK-WIRE-002: the wire's types, without lax coercions ("12" is not an integer,
# "yes" not a boolean, 12345 not a date-time).
Int = Annotated[int, Strict()]
Bool = Annotated[bool, Strict()]
Seconds = Annotated[float, Strict()]
Timestamp = Annotated[AwareDatetime, BeforeValidator(_rfc3339_text)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IssueNumberIn(_Strict):
    resident_code: Digits11


class ReissueIn(_Strict):
    reason: Literal["person-request", "suspected-leak"]


class ResidentCodeChangeIn(_Strict):
    old_resident_code: Digits11
    new_resident_code: Digits11


class CorporateIn(_Strict):
    base12: Annotated[str, StringConstraints(pattern=r"^[0-9]{12}$")]


def _iso_date_or_blank(value: str) -> str:
    """RK-BND-003: a binding record's date of birth is ``YYYY-MM-DD`` (a real
    date) or blank (missing); 和暦 or ``YYYYMMDD`` are the agency node's to convert."""
    text = value.strip()
    if text and not (len(text) == 10 and text[4] == text[7] == "-" and text.isascii()):
        raise ValueError("the date of birth is written YYYY-MM-DD (or left blank)")
    if text:
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            raise ValueError("the date of birth is no date of the calendar") from None
    return text


def _sex_or_blank(value: str) -> str:
    """RK-BND-003: ``male``, ``female``, ``other`` or blank (missing); codes such
    as 1/2 or 男/女 are the agency node's to convert."""
    text = value.strip()
    if text not in ("", "male", "female", "other"):
        raise ValueError("the sex is male, female or other (or left blank)")
    return text


Item = Annotated[str, StringConstraints(max_length=256)]


class BindingRecordIn(_Strict):
    """One record of a binding request (OpenAPI ``BindingRecord``).  Every item
    may be absent or blank — a missing item is a review reason of the matcher
    (RK-BND-003), not an error of the request."""

    record_ref: Text
    name: Item = ""
    name_kana: Item | None = None
    address: Item = ""
    birth_date: Annotated[str, AfterValidator(_iso_date_or_blank)] = ""
    sex: Annotated[str, AfterValidator(_sex_or_blank)] = ""
    consent_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_is_absent(cls, data: object) -> object:
        if isinstance(data, dict):
            return {k: v for k, v in data.items() if v is not None or k == "record_ref"}
        return data


class BindingsIn(_Strict):
    """A binding request: a list of records, each read on its own (``binding_record``)
    so that one malformed record never fails the batch (RK-BND-003)."""

    records: Annotated[list[JsonValue], Field(min_length=1, max_length=10_000)]


_Item = TypeVar("_Item", bound="_Strict")


@dataclass(frozen=True, slots=True)
class RecordProblem:
    """An item of a batch that does not match its schema: its own problem in the
    results, in its place (``malformed-binding-record``, RK-BND-003;
    ``malformed-answer``, RK-FLOW-010); the other items are decided."""

    ref: str | None  # the item's own reference (record_ref, linkage_id), if readable
    detail: str
    errors: tuple[tuple[tuple[str | int, ...], str], ...]  # (loc, msg), as validation-error


def _batch_item(
    model: type[_Item],
    value: JsonValue,
    batch: str,
    position: int,
    *,
    ref_name: str,
    what: str,
    requirement: str,
) -> _Item | RecordProblem:
    """Item ``position`` of the list ``batch`` of a request: the item, or its own problem."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        ref = value.get(ref_name) if isinstance(value, dict) else None
        errors = tuple((("body", batch, position, *e["loc"]), e["msg"]) for e in exc.errors())
        fields = ", ".join(sorted({str(e["loc"][0]) if e["loc"] else what for e in exc.errors()}))
        return RecordProblem(
            ref if isinstance(ref, str) and 0 < len(ref) <= 256 else None,
            f"the {what} does not match {model.__name__.removesuffix('In')} ({fields}); "
            f"the other {what}s of the request are decided ({requirement})",
            errors,
        )


def binding_record(value: JsonValue, position: int = 0) -> BindingRecordIn | RecordProblem:
    """Read record ``position`` of a binding request: the record, or its own problem
    (RK-BND-003)."""
    return _batch_item(
        BindingRecordIn,
        value,
        "records",
        position,
        ref_name="record_ref",
        what="record",
        requirement="RK-BND-003",
    )


class AnswerItemIn(_Strict):
    """One answer of ``POST /hub/answers`` (RK-FLOW-010)."""

    linkage_id: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    payload: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$", max_length=MAX_PAYLOAD_CHARS)
    ]


class AnswersIn(_Strict):
    """Several answers in one request, each read on its own (``answer_item``) so
    that one malformed answer never fails the others (RK-FLOW-010)."""

    answers: Annotated[list[JsonValue], Field(min_length=1, max_length=1_000)]


def answer_item(value: JsonValue, position: int = 0) -> AnswerItemIn | RecordProblem:
    """Read answer ``position`` of ``POST /hub/answers``: the answer, or its own problem."""
    return _batch_item(
        AnswerItemIn,
        value,
        "answers",
        position,
        ref_name="linkage_id",
        what="answer",
        requirement="RK-FLOW-010",
    )


class FourItemsIn(_Strict):
    name: Text
    name_kana: Text | None = None
    address: Text
    birth_date: Date
    sex: Sex


class CurrencyRecordIn(_Strict):
    """One record for the currency service (RK-BND-006): the agency's link code
    and the 4 items it holds."""

    record_ref: Text
    link_code: Annotated[str, StringConstraints(min_length=1, max_length=256)]
    four_items: FourItemsIn


class CurrencyIn(_Strict):
    records: Annotated[list[CurrencyRecordIn], Field(min_length=1, max_length=1000)]


class ConsentIn(_Strict):
    """A private body's consent record (RK-BND-004; OpenAPI ``ConsentRequest``)."""

    record_ref: Text
    purpose: Text
    pattern_ids: list[Text] | None = None
    obtained_at: Timestamp
    method: Literal["written", "electronic", "in-person"]
    evidence_sha256: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43}=$")] | None = (
        None
    )


class QueryIn(_Strict):
    request_id: RequestId
    requester: Text  # checked as an AgencyId by the hub: malformed-agency-id (RK-ARCH-002)
    provider: Text
    pattern_id: Text
    information_kind: Text
    link_code: Annotated[str, StringConstraints(min_length=1, max_length=256)]


class AnswerIn(_Strict):
    payload: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9+/]*={0,2}$", max_length=MAX_PAYLOAD_CHARS)
    ]


class ResidentIn(_Strict):
    resident_code: Digits11
    previous_resident_code: Digits11 | None = None
    name: Text
    name_kana: Text | None = None
    address: Text
    birth_date: Date
    sex: Sex
    # RK-BND-009: removed from the registry (除票), with the reason and the date
    status: Literal["current", "removed"] = "current"
    removed_reason: Literal["deceased", "emigrated", "moved-out", "struck-off", "other"] | None = (
        None
    )
    removed_on: Date | None = None

    @model_validator(mode="after")
    def _removal_complete(self) -> ResidentIn:
        removed = self.status == "removed"
        given = (self.removed_reason is not None, self.removed_on is not None)
        if given != (removed, removed):
            raise ValueError(
                "a removed resident has removed_reason and removed_on; a current one neither"
            )
        return self


class ResidentsIn(_Strict):
    residents: Annotated[list[ResidentIn], Field(max_length=2_000_000)]


class AgencyIn(_Strict):
    agency_id: Ident
    name: Text
    role: Literal["agency", "municipality", "auditor", "private-body"] = "agency"
    link_code_unit: Ident | None = None


class AgenciesIn(_Strict):
    agencies: Annotated[list[AgencyIn], Field(min_length=1)]


class PatternIn(_Strict):
    pattern_id: Text
    legal_basis: Text
    purpose: Text
    requesters: Annotated[list[Ident], Field(min_length=1)]
    providers: Annotated[list[Ident], Field(min_length=1)]
    information_kinds: Annotated[list[Text], Field(min_length=1)]
    valid_from: Timestamp | None = None
    valid_until: Timestamp | None = None
    answer_within_seconds: Annotated[Int, Field(gt=0, le=31_536_000)] = 3600
    withheld_from_person: Bool = False
    sector: Text | None = None


class PatternsIn(_Strict):
    """Either a plain list (test mode; the hub signs it as its next document) or
    a signed pattern document: its exact bytes and detached signature, base64."""

    patterns: list[PatternIn] | None = None
    document: Annotated[str, StringConstraints(max_length=MAX_PAYLOAD_CHARS)] | None = None
    signature: Annotated[str, StringConstraints(max_length=88)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> PatternsIn:
        plain = self.patterns is not None
        signed = self.document is not None and self.signature is not None
        if plain == signed or (not signed and (self.document or self.signature)):
            raise ValueError("give either patterns, or document and signature")
        return self


class PatternAnchorIn(_Strict):
    public_key: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ClockSetIn(_Strict):
    now: Timestamp


class ClockAdvanceIn(_Strict):
    seconds: Annotated[Seconds, Field(ge=0, le=20 * 366 * 86400)]


class KeyRotationIn(_Strict):
    purpose: Literal["id-code", "link-code"]
    transition_seconds: Annotated[Int, Field(ge=0, le=31_622_400)] = 2_592_000


class RebindIn(_Strict):
    link_codes: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=256)]],
        Field(min_length=1, max_length=10_000),
    ]


class SerialRangeIn(_Strict):
    first: Annotated[Int, Field(ge=1)]
    last: Annotated[Int, Field(ge=1)]


class LegalHoldScopeIn(_Strict):
    linkage_ids: (
        Annotated[
            list[Annotated[str, StringConstraints(min_length=1, max_length=128)]],
            Field(min_length=1),
        ]
        | None
    ) = None
    agency_id: Ident | None = None
    person_ref: Annotated[str, StringConstraints(min_length=1, max_length=256)] | None = None
    pattern_id: Text | None = None
    serials: SerialRangeIn | None = None
    from_: Annotated[Timestamp | None, Field(alias="from")] = None
    to: Timestamp | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class LegalHoldIn(_Strict):
    reason: Text
    case_reference: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    scope: LegalHoldScopeIn


class RetentionIn(_Strict):
    log_class: Literal["hub-access-log", "agency-access-log", "portal-log"]
    years: Annotated[Int, Field(ge=1, le=100)]


class ResetIn(_Strict):
    """``POST /control/reset``'s optional body: the root secret of version 1 of
    every code key, base64 of 32 to 64 bytes (RK-IDC-002)."""

    root_secret: Annotated[
        str, StringConstraints(pattern=r"^[A-Za-z0-9+/]{43,86}={0,2}$", max_length=88)
    ]


class IdCodesIn(_Strict):
    resident_codes: Annotated[list[Digits11], Field(max_length=1_000_000)]


class AgencyLogEntryIn(_Strict):
    """One planted entry of an agency's share (``AgencyLogEntry`` without the
    node's serial, which the simulated node assigns)."""

    hub_serial: Annotated[Int, Field(ge=1)] | None = None
    linkage_id: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = None
    request_id: RequestId | None = None
    side: Literal["requester", "provider"]
    at: Timestamp | None = None
    requester: Ident | None = None
    provider: Ident | None = None
    pattern_id: Text | None = None
    information_kind: Text | None = None
    outcome: Literal["approved", "refused", "answered", "received"]
    reason: Text | None = None
    operator: Text
    terminal: Text
    content: Text | None = None
    use: Text | None = None


class HistoryIn(_Strict):
    """``plantLinkageHistory`` (RK-CTL-001, RK-PERF-002)."""

    requester: Text
    provider: Text
    pattern_id: Text
    information_kind: Text
    link_codes: Annotated[
        list[Annotated[str, StringConstraints(min_length=1, max_length=256)]],
        Field(min_length=1, max_length=1000),
    ]
    linkages: Annotated[int, Field(ge=1, le=100_000)]


class AgencyLogEntriesIn(_Strict):
    agency_id: Ident
    entries: Annotated[list[AgencyLogEntryIn], Field(min_length=1, max_length=10_000)]


class AgencyNodeIn(_Strict):
    agency_id: Ident
    url: Annotated[str, StringConstraints(pattern=r"^https?://[^\s]{1,500}$")]
    credential: Annotated[str, StringConstraints(min_length=1, max_length=512)] | None = None


class AnomalyQuery(_Strict):
    """``listAnomalies``' query: paging and the thresholds of RK-AUD-003 (each
    default is ``core.audit.AnomalyRules``'); hours are local (JST) hours."""

    after: Annotated[int, Field(ge=0)] = 0
    limit: Annotated[int, Field(ge=1, le=10_000)] = 1000
    period_seconds: Annotated[int, Field(ge=60, le=366 * 86_400)] = 86_400
    max_queries_per_requester: Annotated[int, Field(ge=0)] = 10_000
    max_queries_per_operator: Annotated[int, Field(ge=0)] = 200
    max_queries_per_terminal: Annotated[int, Field(ge=0)] = 500
    max_refusal_rate: Annotated[float, Field(ge=0, le=1)] = 0.2
    min_queries_for_rate: Annotated[int, Field(ge=1)] = 20
    operating_hours_start: Annotated[int, Field(ge=0, le=24)] = 8
    operating_hours_end: Annotated[int, Field(ge=0, le=24)] = 20
    max_requesters_per_person: Annotated[int, Field(ge=0)] = 5
    max_queries_per_person: Annotated[int, Field(ge=0)] = 10
    max_expired_per_provider: Annotated[int, Field(ge=0)] = 10
