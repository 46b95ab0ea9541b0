"""The kit reads specs/openapi/renkei.yaml as a closed document (RK-WIRE-002, issue 14)."""

from __future__ import annotations

from typing import Any

import pytest

from renkei_conformance.openapi import load_contract

CODE = "A" * 60
DELIVERY = {
    "linkage_id": "lk-1",
    "requester": "kit.pension",
    "pattern_id": "KIT-P-001",
    "information_kind": "local-tax",
    "link_code": CODE,
    "deadline": "2030-01-01T00:00:00Z",
    "serial": 3,
}
JSON = "application/json"
PROBLEM = "application/problem+json"


def _check(
    status: int, body: Any, *, media: str = JSON, headers: tuple[str, ...] = ()
) -> list[str]:
    return load_contract().check(
        "GET", "/hub/deliveries", status, media, body, headers=("content-type", *headers)
    )


def test_a_declared_response_passes() -> None:
    assert _check(200, {"deliveries": [DELIVERY]}, headers=("date", "server")) == []


@pytest.mark.parametrize(
    "extra", [{"requester_link_code": "B" * 60}, {"debug": None}, {"x": {"nested": 1}}]
)
def test_an_undeclared_member_anywhere_is_a_departure(extra: dict[str, Any]) -> None:
    found = _check(200, {"deliveries": [{**DELIVERY, **extra}]})
    assert len(found) == 1
    assert f"member {next(iter(extra))!r} is not declared" in found[0]
    assert _check(200, {"deliveries": [], **extra})


def test_an_undeclared_header_is_a_departure() -> None:
    found = _check(200, {"deliveries": []}, headers=("x-renkei-trace",))
    assert found
    assert "'x-renkei-trace'" in found[0]


def test_the_default_response_stands_for_its_listed_statuses_only() -> None:
    problem = {
        "type": "urn:renkei:problem:bad-request",
        "title": "t",
        "status": 400,
        "detail": "",
        "requirement": "RK-WIRE-001",
    }
    assert _check(400, problem, media=PROBLEM) == []
    assert "status not documented" in _check(418, {**problem, "status": 418}, media=PROBLEM)[0]


def test_503_is_declared_where_the_hub_s_log_store_is_reached_and_nowhere_else() -> None:
    """Issue 17: every operation that reaches the hub's log store declares 503
    `log-store-unavailable` (a one-process hub whose store cannot write answers it on
    any of them); an agency node's own log interface does not, nor does a 5xx other
    than 500 and 503 anywhere."""
    problem = {
        "type": "urn:renkei:problem:log-store-unavailable",
        "title": "Log store unavailable",
        "status": 503,
        "detail": "the hub's core cannot be reached",
        "requirement": "RK-LOG-001",
    }
    contract = load_contract()
    for method, path in (
        ("GET", "/hub/deliveries"),
        ("GET", "/hub/linkages/lk-1"),
        ("GET", "/control/health"),
        ("GET", "/auditor/access-logs"),
        ("POST", "/auditor/legal-holds"),
        ("POST", "/numbering/numbers"),
        ("GET", "/.well-known/renkei"),
        ("POST", "/control/agency-node/queries"),
    ):
        assert contract.check(method, path, 503, PROBLEM, problem) == [], path
    for method, path in (("GET", "/agency/access-logs"), ("PUT", "/control/agency-node/fault")):
        found = contract.check(method, path, 503, PROBLEM, problem)
        assert found, path
        assert "status not documented" in found[0], path
    gateway = {**problem, "type": "urn:renkei:problem:internal-error", "status": 502}
    assert "status not documented" in _check(502, gateway, media=PROBLEM)[0]


def test_a_problem_carries_an_extension_member_only_on_its_problem_types() -> None:
    problem = {
        "type": "urn:renkei:problem:bad-request",
        "title": "t",
        "status": 400,
        "detail": "",
        "requirement": "RK-WIRE-001",
    }
    assert "'years' is not declared for problem type 'bad-request'" in "".join(
        _check(400, {**problem, "years": 5}, media=PROBLEM)
    )
    assert "'colour' is not declared" in "".join(
        _check(400, {**problem, "colour": 1}, media=PROBLEM)
    )
