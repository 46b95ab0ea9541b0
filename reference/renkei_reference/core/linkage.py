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
from datetime import datetime
from json.encoder import encode_basestring_ascii as _json_string

import icontract

from .codes import IdCode
from .contract_levels import HOT
from .errors import StateError
from .instant import MAX_INSTANT, MIN_INSTANT, SECOND, Instant, instant_of, iso_of, iso_text

__all__ = [
    "TRANSITIONS",
    "Event",
    "Linkage",
    "LinkageState",
    "advance",
    "collection_end",
    "deadline_after",
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


MAX_ANSWER_SECONDS = 10 * 366 * 86_400
"""A bound on any answer period (patterns allow far less), so deadlines stay in range."""


def _in_range(at: int) -> bool:
    return MIN_INSTANT <= at <= MAX_INSTANT


@icontract.require(lambda seconds: 1 <= seconds <= MAX_ANSWER_SECONDS, enabled=HOT)
@icontract.require(
    lambda requested, seconds: _in_range(requested) and _in_range(requested + seconds * SECOND),
    "the deadline is a representable instant",
    enabled=HOT,
)
@icontract.ensure(lambda requested, result: result > requested, enabled=HOT)
@icontract.ensure(
    lambda requested, seconds, result: result - requested == seconds * SECOND, enabled=HOT
)
def deadline_after(requested: Instant, seconds: int) -> Instant:
    """The deadline of a linkage approved at ``requested`` whose pattern allows
    ``seconds`` to answer (RK-FLOW-004)."""
    return Instant(requested + seconds * SECOND)


@icontract.require(lambda requested, deadline: requested < deadline, enabled=HOT)
@icontract.require(
    lambda deadline, answered: answered is None or answered < deadline,
    "an answer comes before the deadline (RK-FLOW-004)",
    enabled=HOT,
)
@icontract.ensure(
    lambda deadline, answered, result: answered is not None or result == deadline, enabled=HOT
)
@icontract.ensure(
    lambda requested, deadline, answered, result: (
        answered is None or (result - answered == deadline - requested and result > answered)
    ),
    "one answer period counted from the answer (RK-FLOW-007)",
    enabled=HOT,
)
def collection_end(requested: Instant, deadline: Instant, answered: Instant | None) -> Instant:
    """When EXPIRE becomes due: the deadline, or once answered, the end of the
    collection period — one answer period counted from the answer (RK-FLOW-007)."""
    if answered is not None:
        return Instant(answered + (deadline - requested))
    return deadline


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
    requested_at: Instant
    deadline: Instant
    state: LinkageState = LinkageState.PENDING
    serial: int = 0  # ① of the hub's entry that approved it (RK-LOG-005)
    answered_at: Instant | None = None

    @property
    def expires_at(self) -> Instant:
        """When EXPIRE becomes due (``collection_end``, RK-FLOW-004/007)."""
        return collection_end(self.requested_at, self.deadline, self.answered_at)

    @property
    def final(self) -> bool:
        return self.state in FINAL


def _text(at: Instant) -> str:
    """An instant for a message: ISO 8601, or microseconds when out of ``datetime``'s range."""
    return iso_of(at) if _in_range(at) else f"{at} µs after the epoch"


def _consistent(linkage: Linkage) -> bool:
    """The times of a linkage as ``deadline_after`` and ``advance`` make them."""
    answered = linkage.answered_at
    return linkage.requested_at < linkage.deadline and (
        answered is None or answered < linkage.deadline
    )


def _still_consistent(result: Linkage) -> bool:
    return _consistent(result)


@icontract.require(_consistent, "the linkage's times are consistent", enabled=HOT)
@icontract.ensure(lambda linkage, event, result: (linkage.state, event) in TRANSITIONS, enabled=HOT)
@icontract.ensure(
    lambda event, result: result.state is not LinkageState.EXPIRED or event is Event.EXPIRE,
    enabled=HOT,
)
@icontract.ensure(
    lambda linkage, event, at: event is not Event.ANSWER or at < linkage.deadline,
    "an answer is accepted only before the deadline (RK-FLOW-004)",
    enabled=HOT,
)
@icontract.ensure(
    lambda linkage, event, at: (
        event is not Event.EXPIRE
        or at >= collection_end(linkage.requested_at, linkage.deadline, linkage.answered_at)
    ),
    "a linkage expires only once its time is due (RK-FLOW-004, RK-FLOW-007)",
    enabled=HOT,
)
@icontract.ensure(_still_consistent, enabled=HOT)
def advance(linkage: Linkage, event: Event, at: Instant) -> Linkage:
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
            f"linkage {linkage.linkage_id} passed its deadline {_text(linkage.deadline)}",
            "RK-FLOW-004",
        )
    if event is Event.EXPIRE and at < linkage.expires_at:
        raise StateError(
            "linkage-state-conflict",
            f"linkage {linkage.linkage_id} cannot expire before {_text(linkage.expires_at)}",
            "RK-FLOW-007" if linkage.state is LinkageState.ANSWERED else "RK-FLOW-004",
        )
    if event is Event.ANSWER:
        return replace(linkage, state=nxt, answered_at=at)
    return replace(linkage, state=nxt)


def linkage_record(linkage: Linkage) -> str:
    """The stored form of a linkage in flight (the hub's durable store): JSON, the
    ID code in hex, times in ISO 8601 — never a link code or a payload.

    The text ``json.dumps(…, sort_keys=True)`` writes for these members, put
    together directly (it is written at every step of a linkage): strings through
    the encoder ``json.dumps`` itself uses."""
    answered = linkage.answered_at
    return (
        f'{{"answered_at": {"null" if answered is None else _json_string(iso_text(answered))}, '
        f'"deadline": "{iso_text(linkage.deadline)}", '
        f'"information_kind": {_json_string(linkage.information_kind)}, '
        f'"linkage_id": {_json_string(linkage.linkage_id)}, '
        f'"pattern_id": {_json_string(linkage.pattern_id)}, '
        f'"person": "{linkage.person.hex()}", '
        f'"provider": {_json_string(linkage.provider)}, '
        f'"request_id": {_json_string(linkage.request_id)}, '
        f'"requested_at": "{iso_text(linkage.requested_at)}", '
        f'"requester": {_json_string(linkage.requester)}, '
        f'"serial": {int(linkage.serial)}, '
        f'"state": {_json_string(linkage.state.value)}}}'
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
        requested_at=_instant(d["requested_at"]),
        deadline=_instant(d["deadline"]),
        state=LinkageState(d["state"]),
        serial=d["serial"],
        answered_at=_instant(d["answered_at"]) if d["answered_at"] else None,
    )


def _instant(text: str) -> Instant:
    return instant_of(datetime.fromisoformat(text))
