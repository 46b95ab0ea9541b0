"""The checks the kit runs on every response whatever the test
(renkei_conformance.coherence and the problem registry check of openapi.py):
each one refuses the response a generic wire mutant makes of a good one and
accepts the good one."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from renkei_conformance.coherence import NOT_JSON, Coherence, failure_listed
from renkei_conformance.openapi import load_contract, registry_departures
from renkei_conformance.tlog import leaf_hash, merkle_root


def _op(operation_id: str) -> Any:
    return next(o for o in load_contract().operations if o.operation_id == operation_id)


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _receipt(index: int = 0, linkage_id: str = "L1") -> dict[str, Any]:
    leaves = [json.dumps({"serial": n + 1}).encode() for n in range(4)]
    hashes = [leaf_hash(leaf) for leaf in leaves]
    root = merkle_root(hashes)
    proof = {0: [hashes[1], merkle_root(hashes[2:])], 2: [hashes[3], merkle_root(hashes[:2])]}
    return {
        "linkage_id": linkage_id,
        "serial": index + 1,
        "leaf_index": index,
        "leaf": b64(leaves[index]),
        "leaf_hash": b64(hashes[index]),
        "tree_size": 4,
        "inclusion_proof": [b64(h) for h in proof[index]],
        "checkpoint": f"renkei.test/hub\n4\n{b64(root)}\n\n— renkei.test/hub AAAA\n",
    }


def test_a_good_receipt_passes_and_a_mutated_one_does_not() -> None:
    check = Coherence()
    op = _op("getLinkage")
    good = {"linkage_id": "L1", "state": "pending", "receipt": _receipt()}
    assert check.departures(op, "/hub/linkages/L1", good) == []
    swapped = {**good, "receipt": {**_receipt(), "inclusion_proof": _receipt(2)["inclusion_proof"]}}
    reordered = {
        **good,
        "receipt": {**_receipt(), "inclusion_proof": _receipt()["inclusion_proof"][::-1]},
    }
    stale = {**good, "receipt": _receipt(linkage_id="L0")}
    for bad in (swapped, reordered, stale):
        found = check.departures(op, "/hub/linkages/L1", bad)
        assert [rid for rid, _ in found] == ["RK-LOG-004"], found


def test_a_response_is_about_what_was_asked() -> None:
    check = Coherence()
    linkage = {"linkage_id": "L2", "state": "pending"}
    assert check.departures(_op("getLinkage"), "/hub/linkages/L2", linkage) == []
    assert check.departures(_op("getLinkage"), "/hub/linkages/L1", linkage)
    number = _op("issueNumber")
    assert (
        check.departures(
            number, "/numbering/numbers", {"resident_code": "A"}, {"resident_code": "A"}
        )
        == []
    )
    assert check.departures(
        number, "/numbering/numbers", {"resident_code": "B"}, {"resident_code": "A"}
    )
    # a time may come back normalised
    clock = _op("setClock")
    assert (
        check.departures(
            clock,
            "/control/clock",
            {"now": "2030-01-01T00:00:00.1+00:00"},
            {"now": "2030-01-01T00:00:00Z"},
        )
        == []
    )


@pytest.mark.parametrize(
    ("results", "fine"),
    [
        ([{"link_code": "a"}, {"link_code": "b"}], True),
        ([{"link_code": "b"}, {"link_code": "a"}], False),
        ([{"link_code": "a"}, {"link_code": "a"}, {"link_code": "b"}], False),
        ([{"link_code": "a"}], False),
    ],
)
def test_results_answer_the_requests_items_one_each_in_order(
    results: list[dict[str, str]], fine: bool
) -> None:
    found = Coherence().departures(
        _op("rebindLinkCodes"), "/hub/rebindings", {"results": results}, {"link_codes": ["a", "b"]}
    )
    assert (found == []) is fine, found


@pytest.mark.parametrize(
    ("serials", "fine"), [([1, 2, 5], True), ([2, 1, 5], False), ([1, 1, 2], False)]
)
def test_oldest_first_listings_are_ordered_and_list_an_entry_once(
    serials: list[int], fine: bool
) -> None:
    body = {"entries": [{"serial": s, "event": "x"} for s in serials]}
    found = Coherence().departures(_op("listAdminLogs"), "/auditor/admin-logs", body)
    assert (found == []) is fine, found


def test_a_problem_agrees_with_its_registry_entry() -> None:
    good = {
        "type": "urn:renkei:problem:forbidden-role",
        "title": "Role not permitted",
        "status": 403,
        "detail": "no",
        "requirement": "RK-ARCH-002",
    }
    assert registry_departures(403, good) == []
    assert registry_departures(404, {**good, "status": 404})  # another status than its type's
    assert registry_departures(403, {**good, "status": 401})  # member and HTTP status differ
    assert registry_departures(403, {**good, "type": "urn:renkei:problem:no-such-type"})
    assert registry_departures(403, {k: v for k, v in good.items() if k != "requirement"})
    assert registry_departures(403, {**good, "requirement": "RK-AUD-001"}) == []  # also
    assert registry_departures(403, {**good, "requirement": "RK-LNK-002"})  # not admitted


def test_a_validation_error_lists_its_failures_once_each_where_the_request_breaks() -> None:
    check = Coherence()
    op = _op("submitQuery")
    problem = {
        "type": "urn:renkei:problem:validation-error",
        "title": "Request validation failed",
        "status": 422,
        "detail": "no",
        "requirement": "RK-WIRE-001",
        "errors": [{"loc": ["body", "surprise"], "msg": "unknown member"}],
    }
    sent = {"request_id": "r1", "surprise": True}
    assert check.departures(op, "/hub/queries", problem, sent) == []
    missing = {k: v for k, v in problem.items() if k != "errors"}
    twice = {**problem, "errors": problem["errors"] * 2}
    not_json = {**problem, "errors": [{"loc": ["body", "body", "3"], "msg": "x"}]}
    assert check.departures(op, "/hub/queries", missing, sent)
    assert check.departures(op, "/hub/queries", twice, sent)
    assert check.departures(op, "/hub/queries", not_json, NOT_JSON)
    assert (
        check.departures(
            op,
            "/hub/queries",
            {**not_json, "errors": [{"loc": ["body", "3"], "msg": "x"}]},
            NOT_JSON,
        )
        == []
    )
    assert failure_listed(problem, ("body", "surprise")) == []
    assert failure_listed(problem, ("body",)) == []  # an enclosing place is listed too
    assert failure_listed(problem, ("query", "limit"))


def test_a_linkage_is_delivered_once_until_a_reset() -> None:
    check = Coherence()
    pull, reset = _op("pullDeliveries"), _op("resetState")
    body = {"deliveries": [{"linkage_id": "L1"}]}
    assert not [
        d for rid, d in check.departures(pull, "/hub/deliveries", body) if rid == "RK-FLOW-001"
    ]
    again = check.departures(pull, "/hub/deliveries", body)
    assert [rid for rid, _ in again] == ["RK-FLOW-001"], again
    check.departures(reset, "/control/reset", None)
    assert not [
        d for rid, d in check.departures(pull, "/hub/deliveries", body) if rid == "RK-FLOW-001"
    ]


def test_a_member_left_to_its_default_comes_back_as_the_default() -> None:
    check = Coherence()
    op = _op("createSession")
    sent = {"challenge_id": "c", "certificate": "AA==", "signature": "AA=="}
    good = {"session_token": "t", "expires_at": "2026-04-01T09:15:00Z", "channel": "internet"}
    assert check.departures(op, "/portal/sessions", good, sent) == []
    assert check.departures(op, "/portal/sessions", {**good, "channel": "counter"}, sent)
    assert (
        check.departures(
            op, "/portal/sessions", {**good, "channel": "counter"}, {**sent, "channel": "counter"}
        )
        == []
    )


def _flow(found: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The departures of a linkage from its query (not the schema's, not a repeat)."""
    return [
        (rid, d)
        for rid, d in found
        if rid in ("RK-FLOW-001", "RK-FLOW-004") and "delivered again" not in d
    ]


@pytest.mark.requirement("RK-FLOW-001", "RK-FLOW-004")
def test_a_delivery_and_a_read_are_the_query_that_made_the_linkage() -> None:
    """Whichever test pulls a delivery or reads a linkage the kit's query made, the
    delivery names that query's requester, pattern, kind, serial and deadline, and
    the read its deadline (in any offset); the wire mutants that survived elsewhere
    — another delivery's pattern, the previous linkage's deadline — are refused.
    A reset forgets the queries."""
    check = Coherence()
    sent = {
        "request_id": "r1",
        "requester": "kit.pension",
        "provider": "kit.city-a",
        "pattern_id": "KIT-P-001",
        "information_kind": "local-tax",
        "link_code": "x",
    }
    accepted = {
        "linkage_id": "L1",
        "state": "pending",
        "deadline": "2030-06-15T09:10:00Z",
        "serial": 7,
    }
    check.departures(_op("submitQuery"), "/hub/queries", accepted, sent)
    delivery = {
        "linkage_id": "L1",
        "requester": "kit.pension",
        "pattern_id": "KIT-P-001",
        "information_kind": "local-tax",
        "link_code": "y",
        "deadline": "2030-06-15T18:10:00+09:00",
        "serial": 7,
    }
    pull = _op("pullDeliveries")
    assert _flow(check.departures(pull, "/hub/deliveries", {"deliveries": [delivery]})) == []
    for key, value in (
        ("pattern_id", "KIT-W-001"),
        ("deadline", "2030-06-15T09:09:59Z"),
        ("requester", "kit.insurer"),
        ("information_kind", "income"),
        ("serial", 6),
    ):
        bad = {"deliveries": [{**delivery, key: value}]}
        found = _flow(check.departures(pull, "/hub/deliveries", bad))
        assert [rid for rid, _ in found] == ["RK-FLOW-001"], (key, found)
        assert f"deliveries/0/{key}" in found[0][1]
    read = _op("getLinkage")
    view = {"linkage_id": "L1", "state": "delivered", "deadline": "2030-06-15T09:10:00.000Z"}
    assert _flow(check.departures(read, "/hub/linkages/L1", view)) == []
    stale = {**view, "deadline": "2030-06-15T09:10:01Z"}
    assert [r for r, _ in _flow(check.departures(read, "/hub/linkages/L1", stale))] == [
        "RK-FLOW-004"
    ]
    check.departures(_op("resetState"), "/control/reset", {"reset": True})
    assert _flow(check.departures(read, "/hub/linkages/L1", stale)) == []
