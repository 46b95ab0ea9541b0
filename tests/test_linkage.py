"""The linkage state machine (seed items 21, 22, 28)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.codes import IdCode
from renkei_reference.core.errors import StateError
from renkei_reference.core.instant import SECOND, Instant, instant_of, iso_of
from renkei_reference.core.linkage import (
    TRANSITIONS,
    Event,
    Linkage,
    LinkageState,
    advance,
    collection_end,
    deadline_after,
    linkage_from_record,
    linkage_record,
)

T0 = instant_of(datetime(2030, 1, 1, tzinfo=UTC))


def _later(seconds: int) -> Instant:
    return Instant(T0 + seconds * SECOND)


def _linkage(state: LinkageState = LinkageState.PENDING) -> Linkage:
    return Linkage("l1", "r1", "a", "b", "P", "k", IdCode(bytes(28)), T0, _later(60), state)


@pytest.mark.requirement("RK-FLOW-003")
@pytest.mark.parametrize(("state", "event"), list(itertools.product(LinkageState, Event)))
def test_only_listed_transitions_are_allowed(state: LinkageState, event: Event) -> None:
    at = _later(120 if event is Event.EXPIRE else 1)
    if (state, event) in TRANSITIONS:
        assert advance(_linkage(state), event, at).state is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(StateError):
            advance(_linkage(state), event, at)


@pytest.mark.requirement("RK-FLOW-004")
@given(st.integers(0, 600))
def test_answers_are_accepted_exactly_before_the_deadline(offset: int) -> None:
    at = _later(offset)
    if offset < 60:
        assert advance(_linkage(), Event.ANSWER, at).state is LinkageState.ANSWERED
        with pytest.raises(StateError):
            advance(_linkage(), Event.EXPIRE, at)
    else:
        with pytest.raises(StateError) as err:
            advance(_linkage(), Event.ANSWER, at)
        assert err.value.problem == "answer-after-deadline"
        assert advance(_linkage(), Event.EXPIRE, at).state is LinkageState.EXPIRED


@pytest.mark.requirement("RK-FLOW-004", "RK-FLOW-007")
@given(st.integers(1, 86_400), st.integers(0, 86_400), st.integers(0, 3 * 86_400))
def test_an_answered_linkage_expires_one_answer_period_after_its_answer(
    period: int, answered_after: int, probe: int
) -> None:
    """Unanswered: EXPIRE is due at the deadline; answered at t: at t + the period."""
    linkage = Linkage("l1", "r1", "a", "b", "P", "k", IdCode(bytes(28)), T0,
                      deadline_after(T0, period))  # fmt: skip
    assert linkage.deadline == _later(period)
    assert linkage.expires_at == collection_end(T0, linkage.deadline, None) == linkage.deadline
    at = _later(probe)
    assert advance_allowed(linkage, Event.EXPIRE, at) == (probe >= period)
    if answered_after >= period:
        assert not advance_allowed(linkage, Event.ANSWER, _later(answered_after))
        return
    answered = advance(linkage, Event.ANSWER, _later(answered_after))
    assert answered.expires_at == _later(answered_after + period)
    assert advance_allowed(answered, Event.EXPIRE, at) == (probe >= answered_after + period)


def advance_allowed(linkage: Linkage, event: Event, at: Instant) -> bool:
    try:
        advance(linkage, event, at)
    except StateError:
        return False
    return True


@pytest.mark.requirement("RK-FLOW-003")
@given(st.integers(0, 10**6), st.integers(1, 10**6), st.booleans())
def test_the_stored_record_keeps_times_as_utc_iso_text(
    offset_us: int, period: int, answered: bool
) -> None:
    start = Instant(T0 + offset_us)
    linkage = Linkage("l1", "r1", "a", "b", "P", "k", IdCode(bytes(28)), start,
                      deadline_after(start, period))  # fmt: skip
    if answered:
        linkage = advance(linkage, Event.ANSWER, start)
    record = linkage_record(linkage)
    assert linkage_from_record(record) == linkage
    stored = json.loads(record)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert stored["requested_at"] == (epoch + timedelta(microseconds=start)).isoformat()
    assert stored["deadline"] == (epoch + timedelta(seconds=period, microseconds=start)).isoformat()


@pytest.mark.requirement("RK-FLOW-003")
@given(
    st.lists(st.text(max_size=12), min_size=6, max_size=6),
    st.binary(min_size=28, max_size=28),
    st.integers(-(10**15), 10**15),
    st.integers(1, 10**8),
    st.integers(0, 2**40),
    st.sampled_from(LinkageState),
    st.one_of(st.none(), st.integers(0, 10**8)),
)
def test_the_stored_record_is_the_sorted_json_of_its_members(
    texts: list[str],
    person: bytes,
    start_us: int,
    period: int,
    serial: int,
    state: LinkageState,
    answered_after: int | None,
) -> None:
    """``linkage_record`` puts its text together directly: it is, byte for byte,
    what ``json.dumps(…, sort_keys=True)`` writes for the same members, whatever
    the strings hold (quotes, back-slashes, control and non-ASCII characters), and
    reads back as the same linkage."""
    start = Instant(T0 + start_us)
    answered = None if answered_after is None else Instant(start + answered_after)
    linkage = Linkage(texts[0], texts[1], texts[2], texts[3], texts[4], texts[5], IdCode(person),
                      start, deadline_after(start, period), state, serial, answered)  # fmt: skip
    expected = json.dumps(
        {
            "linkage_id": texts[0],
            "request_id": texts[1],
            "requester": texts[2],
            "provider": texts[3],
            "pattern_id": texts[4],
            "information_kind": texts[5],
            "person": person.hex(),
            "requested_at": iso_of(start),
            "deadline": iso_of(linkage.deadline),
            "state": state.value,
            "serial": serial,
            "answered_at": None if answered is None else iso_of(answered),
        },
        sort_keys=True,
    )
    assert linkage_record(linkage) == expected
    assert linkage_from_record(expected) == linkage
