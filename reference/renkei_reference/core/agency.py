"""The agency node's rules (中間サーバー; seed items 15, 19, 23–24, 28–29), pure.

What each agency runs in front of its business systems:

* the **correspondence table** between its internal record numbers and the
  link codes the hub issued to it (対応表, item 15; RK-BND-007), with the
  duplicate check of RK-BND-008 — a link code already bound to another record
  is not entered, and both records go to the review list;
* **designated staff and terminals** (item 19; RK-AGN-001): every linkage
  action is allowed only to an individual account designated for it, working at
  an allow-listed terminal; every refusal is itself recorded;
* the agency's **share of the access log** (items 23–24; RK-LOG-003,
  RK-AGN-002): fields ⑦–⑫ — operator, terminal, content provided, use — with
  the hub's serial ① and the agency's own record of ②, ④, ⑤, ⑥ for the
  auditor's cross-check.  The hub never receives these fields.

Everything here is immutable data and pure functions; the service
(``services.agency_node``) holds the state and does the I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime

import icontract

from .errors import PermissionDeniedError

__all__ = [
    "Action",
    "AgencyLogEntry",
    "Binding",
    "CorrespondenceTable",
    "Designation",
    "ReviewItem",
    "Side",
    "StaffMember",
    "authorize",
    "require",
]


class Action(enum.Enum):
    """Linkage work that needs a designation (RK-AGN-001)."""

    QUERY = "query"  # make a query (照会)
    ANSWER = "answer"  # answer a delivery (回答)
    READ_ANSWER = "read-answer"  # read an answer received
    READ_TABLE = "read-table"  # read the correspondence table
    CHANGE_TABLE = "change-table"  # bind records, change the table
    DECIDE_DISCLOSURE = "decide-disclosure"  # grant or refuse a person's ⑪/⑫ application


class Side(enum.Enum):
    REQUESTER = "requester"
    PROVIDER = "provider"


@dataclass(frozen=True, slots=True)
class StaffMember:
    """An individual account (個人ごとのアカウント), never a shared one (RK-AGN-001)."""

    staff_id: str
    name: str
    department: str
    actions: frozenset[Action]
    active: bool = True


@dataclass(frozen=True, slots=True)
class Designation:
    """Who may do linkage work, and from which terminals (事前に指定)."""

    staff: Mapping[str, StaffMember] = field(default_factory=dict)
    terminals: frozenset[str] = frozenset()


@icontract.ensure(lambda result: result is None or isinstance(result, str))
def authorize(designation: Designation, staff_id: str, terminal: str, action: Action) -> str | None:
    """RK-AGN-001: ``None`` when allowed, else the reason of the refusal.

    Refused: an unknown or inactive account, a terminal not on the allow-list,
    or an action the account is not designated for.
    """
    member = designation.staff.get(staff_id)
    if member is None or not member.active:
        return "staff-not-designated"
    if terminal not in designation.terminals:
        return "terminal-not-designated"
    if action not in member.actions:
        return "action-not-designated"
    return None


def require(designation: Designation, staff_id: str, terminal: str, action: Action) -> StaffMember:
    """``authorize`` as a guard: the member, or 403 with the reason (RK-AGN-001)."""
    reason = authorize(designation, staff_id, terminal, action)
    if reason is not None:
        raise PermissionDeniedError(
            reason,
            f"{action.value} needs a designated staff member at a designated terminal",
            "RK-AGN-001",
        )
    return designation.staff[staff_id]


@dataclass(frozen=True, slots=True)
class Binding:
    record_no: str
    link_code: str
    bound_at: datetime


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A record set aside for a person to look at, with the reason."""

    record_no: str
    reason: str
    other_record_no: str | None = None


@dataclass(frozen=True, slots=True)
class CorrespondenceTable:
    """対応表: internal record number ↔ link code, held at the agency only (RK-BND-007).

    Invariant: a link code is bound to at most one record, and a record to at
    most one link code.
    """

    by_record: Mapping[str, Binding] = field(default_factory=dict)
    by_link: Mapping[str, str] = field(default_factory=dict)  # link code → record_no
    review: tuple[ReviewItem, ...] = ()

    def link_code_of(self, record_no: str) -> str | None:
        binding = self.by_record.get(record_no)
        return binding.link_code if binding else None

    def record_of(self, link_code: str) -> str | None:
        return self.by_link.get(link_code)

    def consistent(self) -> bool:
        """The invariant: ``by_link`` is exactly the inverse of ``by_record``."""
        inverse = {b.link_code: r for r, b in self.by_record.items()}
        return inverse == dict(self.by_link) and len(inverse) == len(self.by_record)

    @icontract.require(lambda self: self.consistent(), "the table is consistent")
    @icontract.ensure(
        lambda result: result.consistent(),
        "one link code per record and one record per link code",
    )
    def bind(self, record_no: str, link_code: str, at: datetime) -> CorrespondenceTable:
        """Enter a binding the hub returned — unless it collides (RK-BND-008).

        * the same link code already bound to another record: not entered; both
          records go to the review list (``link-code-bound-to-another-record``);
        * the record already bound to another link code: not entered
          (``record-bound-to-another-link-code``);
        * the same pair again: no change.
        """
        holder = self.by_link.get(link_code)
        if holder == record_no:
            return self
        if holder is not None:
            items = (
                ReviewItem(record_no, "link-code-bound-to-another-record", holder),
                ReviewItem(holder, "link-code-bound-to-another-record", record_no),
            )
            return replace(self, review=self.review + items)
        if record_no in self.by_record:
            item = ReviewItem(record_no, "record-bound-to-another-link-code")
            return replace(self, review=(*self.review, item))
        return replace(
            self,
            by_record={**self.by_record, record_no: Binding(record_no, link_code, at)},
            by_link={**self.by_link, link_code: record_no},
        )

    def with_review(self, record_no: str, reason: str) -> CorrespondenceTable:
        return replace(self, review=(*self.review, ReviewItem(record_no, reason)))


@dataclass(frozen=True, slots=True)
class AgencyLogEntry:
    """The agency's share of one access-log entry (items 23–24; RK-LOG-003, RK-AGN-002).

    ① ``hub_serial`` — the hub's serial, for the auditor's merge (RK-AUD-002);
    ② ``at``; ④ ``requester``; ⑤ ``provider``; ⑥ ``information_kind`` — the
    agency's own record, for cross-checking; ⑦/⑧ ``operator`` (staff id and
    department); ⑨/⑩ ``terminal``; ⑪ ``content`` (provider: a description of
    what was provided, never the payload); ⑫ ``use`` (requester: what the
    information is used for).  ``serial`` is the node's own sequence.
    """

    serial: int
    hub_serial: int | None
    linkage_id: str | None
    request_id: str | None
    side: Side
    at: datetime
    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    operator: str
    terminal: str
    outcome: str
    content: str | None = None
    use: str | None = None
    reason: str | None = None

    @property
    def person(self) -> bytes | None:
        """The agency's log names no person the hub could resolve; a legal hold
        on an agency node is scoped by serials, agency, pattern, linkage or time."""
        return None

    def auditor_view(self) -> dict[str, object]:
        """What the auditor reads (RK-AUD-001); no link code, no payload."""
        return {
            "serial": self.serial,
            "hub_serial": self.hub_serial,
            "linkage_id": self.linkage_id,
            "request_id": self.request_id,
            "side": self.side.value,
            "at": self.at.isoformat(),
            "requester": self.requester,
            "provider": self.provider,
            "pattern_id": self.pattern_id,
            "information_kind": self.information_kind,
            "operator": self.operator,
            "terminal": self.terminal,
            "outcome": self.outcome,
            "content": self.content,
            "use": self.use,
            "reason": self.reason,
        }
