"""The linkage state machine (seed items 21, 22, 28)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.codes import IdCode
from renkei_reference.core.errors import StateError
from renkei_reference.core.linkage import TRANSITIONS, Event, Linkage, LinkageState, advance

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def _linkage(state: LinkageState = LinkageState.PENDING) -> Linkage:
    return Linkage(
        "l1", "r1", "a", "b", "P", "k", IdCode(bytes(28)), T0, T0 + timedelta(seconds=60), state
    )


@pytest.mark.requirement("RK-FLOW-003")
@pytest.mark.parametrize(("state", "event"), list(itertools.product(LinkageState, Event)))
def test_only_listed_transitions_are_allowed(state: LinkageState, event: Event) -> None:
    at = T0 + timedelta(seconds=120 if event is Event.EXPIRE else 1)
    if (state, event) in TRANSITIONS:
        assert advance(_linkage(state), event, at).state is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(StateError):
            advance(_linkage(state), event, at)


@pytest.mark.requirement("RK-FLOW-004")
@given(st.integers(0, 600))
def test_answers_are_accepted_exactly_before_the_deadline(offset: int) -> None:
    at = T0 + timedelta(seconds=offset)
    if offset < 60:
        assert advance(_linkage(), Event.ANSWER, at).state is LinkageState.ANSWERED
        with pytest.raises(StateError):
            advance(_linkage(), Event.EXPIRE, at)
    else:
        with pytest.raises(StateError) as err:
            advance(_linkage(), Event.ANSWER, at)
        assert err.value.problem == "answer-after-deadline"
        assert advance(_linkage(), Event.EXPIRE, at).state is LinkageState.EXPIRED
