"""The pattern decision (seed items 17, 18, 21) against the kit's own oracle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_conformance.oracle import expected_decision
from renkei_reference.core.patterns import LinkagePattern, Query, decide

AGENCIES = ("a", "b", "c")
KINDS = ("k1", "k2", "k3")
IDS = ("P1", "P2", "P3")
T0 = datetime(2030, 1, 1, tzinfo=UTC)
times = st.one_of(st.none(), st.integers(-5, 5).map(lambda d: T0 + timedelta(days=d)))


@st.composite
def patterns(draw: st.DrawFn) -> LinkagePattern:
    start, end = draw(times), draw(times)
    if start is not None and end is not None and end <= start:
        end = None
    subset = st.frozensets(st.sampled_from(AGENCIES), min_size=1)
    return LinkagePattern(
        pattern_id=draw(st.sampled_from(IDS)),
        legal_basis="別表",
        purpose="test",
        requesters=draw(subset),
        providers=draw(subset),
        information_kinds=draw(st.frozensets(st.sampled_from(KINDS), min_size=1)),
        valid_from=start,
        valid_until=end,
    )


def _iso(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat()


@pytest.mark.requirement("RK-PAT-001", "RK-PAT-002")
@given(
    st.lists(patterns(), max_size=4),
    st.sampled_from(AGENCIES),
    st.sampled_from(AGENCIES),
    st.sampled_from(AGENCIES),
    st.sampled_from((*IDS, "P9")),
    st.sampled_from(KINDS),
    st.integers(-6, 6),
)
def test_decide_agrees_with_the_spec_decision_table(
    table: list[LinkagePattern],
    auth: str,
    requester: str,
    provider: str,
    pattern_id: str,
    kind: str,
    day: int,
) -> None:
    by_id = {p.pattern_id: p for p in table}
    at = T0 + timedelta(days=day)
    decision = decide(by_id, Query(auth, requester, provider, pattern_id, kind, at))
    want = expected_decision(
        [
            {
                "pattern_id": p.pattern_id,
                "requesters": p.requesters,
                "providers": p.providers,
                "information_kinds": p.information_kinds,
                "valid_from": _iso(p.valid_from),
                "valid_until": _iso(p.valid_until),
            }
            for p in by_id.values()
        ],
        {
            "authenticated_requester": auth,
            "requester": requester,
            "provider": provider,
            "pattern_id": pattern_id,
            "information_kind": kind,
            "at": at.isoformat(),
        },
    )
    assert decision.approved == (want is None)
    assert (decision.reason.value if decision.reason else None) == want
