"""Unauthorized patterns are refused (seed items 17, 18, 21).

The kit judges each answer with its own model of the spec's decision table
(``renkei_conformance.oracle``), written from the spec, not from any
implementation.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, seed, settings
from hypothesis import strategies as st

from renkei_conformance.oracle import expected_decision
from renkei_conformance.world import PATTERNS, World, current_challenge

REQUESTERS = ("kit.pension", "kit.insurer", "kit.city-a")
KINDS = ("local-tax", "income", "resident-record")
PATTERN_IDS = ("KIT-P-001", "KIT-P-002", "KIT-P-999")


@pytest.mark.conformance(
    "CT-PAT-001", requirements=["RK-PAT-001", "RK-PAT-002", "RK-LOG-001"], profiles=["hub"]
)
def test_every_query_is_decided_by_the_pattern_table(world: World) -> None:
    """Exhaustively over a small table: each (requester, provider, pattern,
    information kind) is approved exactly when the decision table approves it,
    and every refusal carries the reason the table gives (403 problem)."""
    person = world.persons[0]
    now = world.wire.control("GET", "/health").expect(200)["now"]
    mismatches = []
    for requester, provider, pattern_id, kind in itertools.product(
        REQUESTERS, ("kit.city-a", "kit.pension"), PATTERN_IDS, KINDS
    ):
        want = expected_decision(
            PATTERNS,
            {
                "authenticated_requester": requester,
                "requester": requester,
                "provider": provider,
                "pattern_id": pattern_id,
                "information_kind": kind,
                "at": now,
            },
        )
        got = world.query(
            requester, person, provider=provider, pattern_id=pattern_id, information_kind=kind
        )
        if want is None and got.status != 202:
            mismatches.append(
                f"{requester}→{provider} {pattern_id}/{kind}: expected approval, "
                f"got {got.status} {got.problem}"
            )
        elif want is not None and (got.status != 403 or got.problem != want):
            mismatches.append(
                f"{requester}→{provider} {pattern_id}/{kind}: expected 403 {want}, "
                f"got {got.status} {got.problem}"
            )
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.conformance("CT-PAT-002", requirements=["RK-PAT-002", "RK-ARCH-002"], profiles=["hub"])
def test_requester_named_in_the_body_must_be_the_authenticated_one(world: World) -> None:
    """An agency that names another agency as requester is refused with
    ``identity-mismatch``: the requester is who authenticated."""
    person = world.persons[0]
    link = world.link("kit.insurer", person)
    reply = world.query("kit.insurer", link_code=link, claimed_requester="kit.pension")
    reply.expect_problem("identity-mismatch", 403)


@pytest.mark.conformance(
    "CT-PAT-003", requirements=["RK-PAT-001", "RK-PAT-002", "RK-CTL-002"], profiles=["hub"]
)
def test_patterns_outside_their_validity_are_refused(world: World) -> None:
    """A pattern not yet in force, or no longer in force, approves nothing."""
    clock = world.wire.control("PUT", "/clock", {"now": "2030-04-01T00:00:00+00:00"}).expect(200)
    assert clock["now"].startswith("2030-04-01")
    dated = [
        dict(
            PATTERNS[0],
            valid_from="2030-04-01T00:00:00+00:00",
            valid_until="2031-04-01T00:00:00+00:00",
        )
    ]
    world.wire.control("PUT", "/patterns", {"patterns": dated}).expect(200)
    person = world.persons[0]
    world.query("kit.pension", person).expect(202)
    world.wire.control("PUT", "/clock", {"now": "2031-04-01T00:00:00+00:00"}).expect(200)
    world.query("kit.pension", person).expect_problem("outside-validity", 403)
    world.wire.control("PUT", "/clock", {"now": "2030-03-31T23:59:59+00:00"}).expect(200)
    world.query("kit.pension", person).expect_problem("outside-validity", 403)
    world.wire.control("PUT", "/clock", {"now": datetime.now(UTC).isoformat()}).expect(200)


@pytest.mark.conformance("CT-PAT-004", requirements=["RK-PAT-005", "RK-WIRE-002"], profiles=["hub"])
def test_a_query_must_name_its_provider(world: World) -> None:
    """A query without a provider is refused with 422 ``validation-error``;
    the hub never picks a provider for the requester."""
    body = {
        "request_id": "no-provider",
        "requester": "kit.pension",
        "pattern_id": "KIT-P-001",
        "information_kind": "local-tax",
        "link_code": world.link("kit.pension", world.persons[0]),
    }
    world.call("kit.pension", "POST", "hub", "/queries", body).expect_problem(
        "validation-error", 422
    )


_AGENTS = ("kit.pension", "kit.insurer", "kit.city-a")
_ALL_KINDS = ("local-tax", "income", "resident-record", "pension-record")
_HOURS = st.one_of(st.none(), st.integers(min_value=1, max_value=72))


@st.composite
def _pattern_tables(draw: st.DrawFn) -> list[dict[str, Any]]:
    table = []
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        start, end = draw(_HOURS), draw(_HOURS)
        if start is not None:
            start *= draw(st.sampled_from((-1, 1)))
        if end is not None:
            end *= draw(st.sampled_from((-1, 1)))
            if start is not None and end <= start:
                end = start + 2 if start + 2 != 0 else 1  # a period ends after it begins
        table.append(
            {
                "pattern_id": f"KIT-H-{i:03d}",
                "legal_basis": f"番号法 別表第二 項番（生成）{i}",
                "purpose": "生成された事務（試験）",
                "requesters": sorted(draw(st.sets(st.sampled_from(_AGENTS), min_size=1))),
                "providers": sorted(draw(st.sets(st.sampled_from(_AGENTS), min_size=1))),
                "information_kinds": sorted(draw(st.sets(st.sampled_from(_ALL_KINDS), min_size=1))),
                # hours from now (None: open), never 0, so the clock's flow cannot matter
                "_from": start,
                "_until": end,
            }
        )
    return table


_QUERIES = st.lists(
    st.tuples(
        st.sampled_from(_AGENTS),  # authenticated requester
        st.sampled_from((None, *_AGENTS)),  # claimed requester (None: the same)
        st.sampled_from(_AGENTS),  # provider
        st.integers(min_value=0, max_value=9),  # pattern index (beyond the table: unknown)
        st.sampled_from(_ALL_KINDS),
    ),
    min_size=1,
    max_size=8,
)


@pytest.mark.conformance(
    "CT-PAT-008", requirements=["RK-PAT-001", "RK-PAT-002", "RK-PAT-005"], profiles=["hub"]
)
def test_generated_pattern_tables_decide_as_the_decision_table(world: World) -> None:
    """Over generated pattern tables of up to 8 patterns (random designations,
    information kinds and validity periods) and generated queries (including
    claimed identities and unknown patterns), every answer is the decision the
    kit's own model of the spec's decision table gives.  Generation is
    derandomized in the kit's fixed world and drawn from the challenge seed in a
    seeded one, so a run reproduces exactly with its seed."""
    challenge = current_challenge()

    @settings(max_examples=20, deadline=None, derandomize=challenge.seed is None, database=None)
    @given(table=_pattern_tables(), queries=_QUERIES)
    def check(table: list[dict[str, Any]], queries: list[tuple[Any, ...]]) -> None:
        now = datetime.fromisoformat(world.wire.control("GET", "/health").expect(200)["now"])

        def at(hours: int | None) -> str | None:
            return None if hours is None else (now + timedelta(hours=hours)).isoformat()

        patterns = [
            {
                **{k: v for k, v in p.items() if not k.startswith("_")},
                "valid_from": at(p["_from"]),
                "valid_until": at(p["_until"]),
            }
            for p in table
        ]
        world.wire.control("PUT", "/patterns", {"patterns": patterns}).expect(200)
        wrong = []
        for caller, claimed, provider, index, kind in queries:
            pattern_id = f"KIT-H-{index:03d}"
            want = expected_decision(
                patterns,
                {
                    "authenticated_requester": caller,
                    "requester": claimed or caller,
                    "provider": provider,
                    "pattern_id": pattern_id,
                    "information_kind": kind,
                    "at": now.isoformat(),
                },
            )
            got = world.query(
                caller,
                world.persons[index],
                provider=provider,
                pattern_id=pattern_id,
                information_kind=kind,
                claimed_requester=claimed,
            )
            if (want is None and got.status != 202) or (
                want is not None and (got.status != 403 or got.problem != want)
            ):
                wrong.append(
                    f"{caller} as {claimed or caller}→{provider} {pattern_id}/{kind}: "
                    f"expected {want or 'approval'}, got {got.status} {got.problem}"
                )
        assert not wrong, f"table {patterns}:\n  " + "\n  ".join(wrong)

    if challenge.seed is not None:
        check = seed(challenge.rng("pattern-tables", 0).getrandbits(64))(check)
    check()
