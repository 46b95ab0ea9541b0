"""Unauthorized patterns are refused (seed items 17, 18, 21).

The kit judges each answer with its own model of the spec's decision table
(``renkei_conformance.oracle``), written from the spec, not from any
implementation.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from renkei_conformance.oracle import expected_decision
from renkei_conformance.world import PATTERNS, World

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
