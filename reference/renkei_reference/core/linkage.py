"""One linkage as a sans-I/O state machine (seed items 18, 20–22, 28).

Theory of operation (h11 is the model).  A linkage is created by an approved
query (item 21 ②) in state ``PENDING``: the hub has converted link code(A) →
ID code and keeps only the ID code, never a link code (item 9, RK-LNK-003).
The provider pulls it (``DELIVERED``; the hub recomputes link code(B) at that
moment), answers before the deadline (``ANSWERED``; the answer is held in
transit only, RK-FLOW-002), and the hub relays the answer to the requester
once (``CLOSED``).  A linkage that reaches its deadline unanswered is
``EXPIRED`` (item 28).  Refused queries never create a linkage; they are logged
(RK-LOG-001).

Transitions are data: ``TRANSITIONS`` maps (state, event) to the next state.
Any other pair is a ``StateError`` naming both.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import icontract

from .codes import IdCode
from .contract_levels import HOT
from .errors import StateError

__all__ = [
    "TRANSITIONS",
    "Event",
    "Linkage",
    "LinkageState",
    "advance",
    "linkage_from_record",
    "linkage_record",
]


class LinkageState(enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"
    ANSWERED = "answered"
    CLOSED = "closed"
    EXPIRED = "expired"


class Event(enum.Enum):
    PULL = "pull"
    ANSWER = "answer"
    RELAY = "relay"
    EXPIRE = "expire"


S, E = LinkageState, Event
TRANSITIONS: dict[tuple[LinkageState, Event], LinkageState] = {
    (S.PENDING, E.PULL): S.DELIVERED,
    (S.PENDING, E.ANSWER): S.ANSWERED,
    (S.DELIVERED, E.ANSWER): S.ANSWERED,
    (S.PENDING, E.EXPIRE): S.EXPIRED,
    (S.DELIVERED, E.EXPIRE): S.EXPIRED,
    (S.ANSWERED, E.RELAY): S.CLOSED,
    (S.ANSWERED, E.EXPIRE): S.EXPIRED,
}
"""Rule: the only legal moves.  CLOSED and EXPIRED are final."""

FINAL = frozenset({S.CLOSED, S.EXPIRED})


@dataclass(frozen=True, slots=True)
class Linkage:
    """The hub's record of one approved linkage (no link codes, no payload)."""

    linkage_id: str
    request_id: str
    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    person: IdCode
    requested_at: datetime
    deadline: datetime
    state: LinkageState = LinkageState.PENDING
    serial: int = 0  # ① of the hub's entry that approved it (RK-LOG-005)
    answered_at: datetime | None = None

    @property
    def answer_period(self) -> timedelta:
        return self.deadline - self.requested_at

    @property
    def expires_at(self) -> datetime:
        """When EXPIRE becomes due: the deadline, or once answered, the end of the
        collection period — one answer period counted from the answer (RK-FLOW-007)."""
        if self.answered_at is not None:
            return self.answered_at + self.answer_period
        return self.deadline

    @property
    def final(self) -> bool:
        return self.state in FINAL


@icontract.require(
    lambda linkage, at: all(
        t.tzinfo is not None
        for t in (at, linkage.deadline, linkage.requested_at, linkage.answered_at or at)
    ),
    "times are timezone-aware (UTC)",
    enabled=HOT,
)
@icontract.ensure(lambda linkage, event, result: (linkage.state, event) in TRANSITIONS, enabled=HOT)
@icontract.ensure(
    lambda event, result: result.state is not LinkageState.EXPIRED or event is Event.EXPIRE,
    enabled=HOT,
)
def advance(linkage: Linkage, event: Event, at: datetime) -> Linkage:
    """Apply ``event`` at time ``at``.

    An ``ANSWER`` at or after the deadline is refused (``answer-after-deadline``,
    RK-FLOW-004); the shell then expires the linkage.

    :raises StateError: the event is not allowed in the current state, or an
        answer comes at or after the deadline (RK-FLOW-003, RK-FLOW-004).
    """
    nxt = TRANSITIONS.get((linkage.state, event))
    if nxt is None:
        raise StateError(
            "linkage-state-conflict",
            f"linkage {linkage.linkage_id} is {linkage.state.value}; {event.value} is not allowed",
            "RK-FLOW-003",
        )
    if event is Event.ANSWER and at >= linkage.deadline:
        raise StateError(
            "answer-after-deadline",
            f"linkage {linkage.linkage_id} passed its deadline {linkage.deadline.isoformat()}",
            "RK-FLOW-004",
        )
    if event is Event.EXPIRE and at < linkage.expires_at:
        raise StateError(
            "linkage-state-conflict",
            f"linkage {linkage.linkage_id} cannot expire before {linkage.expires_at.isoformat()}",
            "RK-FLOW-007" if linkage.state is LinkageState.ANSWERED else "RK-FLOW-004",
        )
    if event is Event.ANSWER:
        return replace(linkage, state=nxt, answered_at=at)
    return replace(linkage, state=nxt)


def linkage_record(linkage: Linkage) -> str:
    """The stored form of a linkage in flight (the hub's durable store): JSON, the
    ID code in hex, times in ISO 8601 — never a link code or a payload."""
    return json.dumps(
        {
            "linkage_id": linkage.linkage_id,
            "request_id": linkage.request_id,
            "requester": linkage.requester,
            "provider": linkage.provider,
            "pattern_id": linkage.pattern_id,
            "information_kind": linkage.information_kind,
            "person": linkage.person.hex(),
            "requested_at": linkage.requested_at.isoformat(),
            "deadline": linkage.deadline.isoformat(),
            "state": linkage.state.value,
            "serial": linkage.serial,
            "answered_at": linkage.answered_at.isoformat() if linkage.answered_at else None,
        },
        sort_keys=True,
    )


def linkage_from_record(text: str) -> Linkage:
    """The linkage ``linkage_record`` stored."""
    d = json.loads(text)
    return Linkage(
        linkage_id=d["linkage_id"],
        request_id=d["request_id"],
        requester=d["requester"],
        provider=d["provider"],
        pattern_id=d["pattern_id"],
        information_kind=d["information_kind"],
        person=IdCode(bytes.fromhex(d["person"])),
        requested_at=datetime.fromisoformat(d["requested_at"]),
        deadline=datetime.fromisoformat(d["deadline"]),
        state=LinkageState(d["state"]),
        serial=d["serial"],
        answered_at=datetime.fromisoformat(d["answered_at"]) if d["answered_at"] else None,
    )
