"""The test-mode control interface answers odd but well-formed input with a
422 problem naming the rule it enforces, never a 500 (issue 16): instants
outside the clock's range, a key rotation after the clock was set back, a
card validity X.509 cannot carry."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from renkei_reference.core.check_digit import resident_code_check_digit
from renkei_reference.services.app import create_app

with warnings.catch_warnings():  # starlette's notice about httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BODY = "2000000001"
RESIDENT = BODY + str(resident_code_check_digit(BODY))


@pytest.fixture
def control() -> Iterator[TestClient]:
    with TestClient(create_app(test_mode=True), raise_server_exceptions=True) as client:
        person = {"resident_code": RESIDENT, "name": "試験 花子", "address": "東京都千代田区1",
                  "birth_date": "1980-01-01", "sex": "female"}  # fmt: skip
        client.post("/control/residents", json={"residents": [person]}).raise_for_status()
        yield client


def _refused(reply: Any, requirement: str) -> None:
    assert reply.status_code == 422, reply.text
    assert reply.headers["content-type"].startswith("application/problem+json")
    assert reply.json()["type"] == "urn:renkei:problem:validation-error"
    assert reply.json()["requirement"] == requirement


@pytest.mark.requirement("RK-CTL-002")
@pytest.mark.parametrize(
    "now", ["0001-01-01T00:00:00+09:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-09:00"]
)
def test_the_clock_refuses_instants_outside_its_range(control: TestClient, now: str) -> None:
    _refused(control.put("/control/clock", json={"now": now}), "RK-CTL-002")
    assert control.post("/control/cards", json={"resident_code": RESIDENT}).status_code == 201


@pytest.mark.requirement("RK-CTL-002")
def test_the_clock_is_not_advanced_past_its_range(control: TestClient) -> None:
    control.put("/control/clock", json={"now": "8999-06-01T00:00:00Z"}).raise_for_status()
    _refused(control.post("/control/clock/advance", json={"seconds": 366 * 86400}), "RK-CTL-002")


@pytest.mark.requirement("RK-KEY-002")
def test_a_rotation_after_the_clock_was_set_back_is_refused(control: TestClient) -> None:
    rotation = {"purpose": "id-code", "transition_seconds": 3600}
    control.put("/control/clock", json={"now": "2030-01-01T00:00:00Z"}).raise_for_status()
    assert control.post("/control/keys/rotate", json=rotation).status_code == 200
    control.put("/control/clock", json={"now": "2020-01-01T00:00:00Z"}).raise_for_status()
    _refused(control.post("/control/keys/rotate", json=rotation), "RK-KEY-002")
    control.put("/control/clock", json={"now": "2030-01-02T00:00:00Z"}).raise_for_status()
    assert control.post("/control/keys/rotate", json=rotation).json()["current_version"] == 3


@pytest.mark.requirement("RK-AUTH-001")
@pytest.mark.parametrize(
    "validity",
    [
        {"not_before": "1900-01-01T00:00:00Z", "not_after": "1940-01-01T00:00:00Z"},
        {"not_before": "1949-12-31T23:59:59Z"},
        {"not_before": "2031-01-01T00:00:00Z", "not_after": "2030-06-01T00:00:00Z"},
    ],
)
def test_a_card_validity_x509_cannot_carry_is_refused(
    control: TestClient, validity: dict[str, str]
) -> None:
    body = {"resident_code": RESIDENT, **validity}
    _refused(control.post("/control/cards", json=body), "RK-AUTH-001")


@pytest.mark.requirement("RK-WIRE-001")
def test_a_timestamp_without_a_utc_instant_is_refused(control: TestClient) -> None:
    body = {"resident_code": RESIDENT, "not_before": "0001-01-01T00:00:00+09:00"}
    _refused(control.post("/control/cards", json=body), "RK-WIRE-001")
