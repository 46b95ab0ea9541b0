"""Legal linkage patterns and the approval of every query (seed items 17, 18, 21).

情報連携のパターン: law or cabinet order fixes beforehand the purpose, the
requesting and providing agencies, and the kinds of personal information
(item 17).  The hub approves every query against that table, each time, before
any code conversion (item 18, RK-PAT-001).  ``decide`` is a pure function of
the table and the query; every refusal names its reason (RK-PAT-002).

Decision order (the spec's decision table, specs/vectors/pattern-decisions.json):

1. identity-mismatch — the authenticated requester ≠ the requester in the query;
2. unknown-pattern — no pattern with that ID in the table;
3. requester-not-designated;
4. provider-not-designated;
5. information-kind-not-covered;
6. outside-validity — the query time is outside [valid_from, valid_until).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import icontract

from .contract_levels import HOT

__all__ = ["Decision", "LinkagePattern", "PatternTable", "Query", "RefusalReason", "decide"]


class RefusalReason(enum.Enum):
    """Why a query was refused; values are the wire problem types."""

    IDENTITY_MISMATCH = "identity-mismatch"
    UNKNOWN_PATTERN = "unknown-pattern"
    REQUESTER_NOT_DESIGNATED = "requester-not-designated"
    PROVIDER_NOT_DESIGNATED = "provider-not-designated"
    INFORMATION_KIND_NOT_COVERED = "information-kind-not-covered"
    OUTSIDE_VALIDITY = "outside-validity"


@dataclass(frozen=True, slots=True)
class LinkagePattern:
    """One row of the legal table (別表), as loaded from a pattern document.

    Attributes:
        pattern_id: stable identifier, e.g. ``"P-0001"``.
        legal_basis: law, article or 別表 row, e.g. ``"番号法 別表第二 項番1"``.
        purpose: 情報連携を行う目的.
        requesters: agencies designated as requester (照会元).
        providers: agencies designated as provider (照会先).
        information_kinds: 情報連携対象個人情報の種類.
        valid_from / valid_until: half-open validity period (UTC); ``None`` is open.
        answer_within_seconds: the provider's deadline (一定期間内に回答, item 28).
    """

    pattern_id: str
    legal_basis: str
    purpose: str
    requesters: frozenset[str]
    providers: frozenset[str]
    information_kinds: frozenset[str]
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    answer_within_seconds: int = 3600
    withheld_from_person: bool = False  # RK-LOG-007; only from the signed document
    sector: str | None = None  # seed item 12 / RK-LNK-007; informative

    def __post_init__(self) -> None:
        if not self.pattern_id or not self.legal_basis:
            raise ValueError("a pattern needs an id and a legal basis")
        if not (self.requesters and self.providers and self.information_kinds):
            raise ValueError("a pattern designates requesters, providers and information kinds")
        if (
            self.valid_from is not None
            and self.valid_until is not None
            and self.valid_until <= self.valid_from
        ):
            raise ValueError("valid_until must be after valid_from")
        if self.answer_within_seconds <= 0:
            raise ValueError("answer_within_seconds must be positive")


PatternTable = Mapping[str, LinkagePattern]


@dataclass(frozen=True, slots=True)
class Query:
    """A requester's query as the hub sees it after authentication (item 20 ①)."""

    authenticated_requester: str
    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    at: datetime


@dataclass(frozen=True, slots=True)
class Decision:
    """Approval or refusal with its reason (RK-PAT-002)."""

    approved: bool
    reason: RefusalReason | None
    detail: str
    pattern: LinkagePattern | None = None

    requirement = "RK-PAT-001"


def _refuse(reason: RefusalReason, detail: str, pattern: LinkagePattern | None = None) -> Decision:
    return Decision(False, reason, detail, pattern)


@icontract.ensure(lambda result: result.approved == (result.reason is None), enabled=HOT)
@icontract.ensure(
    lambda query, result: (
        not result.approved
        or (
            result.pattern is not None
            and query.requester in result.pattern.requesters
            and query.provider in result.pattern.providers
            and query.information_kind in result.pattern.information_kinds
            and query.authenticated_requester == query.requester
        )
    ),
    "an approval is always covered by the pattern it names",
    enabled=HOT,
)
def decide(table: PatternTable, query: Query) -> Decision:
    """Approve or refuse one query against the pattern table (RK-PAT-001, RK-PAT-002)."""
    if query.authenticated_requester != query.requester:
        return _refuse(
            RefusalReason.IDENTITY_MISMATCH,
            f"authenticated as {query.authenticated_requester!r} but the query names "
            f"{query.requester!r} as requester",
        )
    pattern = table.get(query.pattern_id)
    if pattern is None:
        return _refuse(
            RefusalReason.UNKNOWN_PATTERN,
            f"pattern {query.pattern_id!r} is not in the legal pattern table",
        )
    if query.requester not in pattern.requesters:
        return _refuse(
            RefusalReason.REQUESTER_NOT_DESIGNATED,
            f"{query.requester!r} is not a designated requester of {pattern.pattern_id}",
            pattern,
        )
    if query.provider not in pattern.providers:
        return _refuse(
            RefusalReason.PROVIDER_NOT_DESIGNATED,
            f"{query.provider!r} is not a designated provider of {pattern.pattern_id}",
            pattern,
        )
    if query.information_kind not in pattern.information_kinds:
        return _refuse(
            RefusalReason.INFORMATION_KIND_NOT_COVERED,
            f"information kind {query.information_kind!r} is not covered by {pattern.pattern_id}",
            pattern,
        )
    if (pattern.valid_from is not None and query.at < pattern.valid_from) or (
        pattern.valid_until is not None and query.at >= pattern.valid_until
    ):
        return _refuse(
            RefusalReason.OUTSIDE_VALIDITY,
            f"{pattern.pattern_id} is not in force at {query.at.isoformat()}",
            pattern,
        )
    return Decision(True, None, f"approved under {pattern.pattern_id}", pattern)
