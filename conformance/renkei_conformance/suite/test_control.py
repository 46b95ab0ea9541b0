"""The conformance control interface itself (test mode only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from renkei_conformance.client import WireError
from renkei_conformance.plugin import KitSession
from renkei_conformance.world import World


@pytest.mark.conformance(
    "CT-CTL-001",
    requirements=["RK-CTL-004", "RK-CTL-005", "RK-CTL-006", "RK-CTL-002"],
    profiles=["hub"],
)
def test_reset_empties_every_store_revokes_credentials_and_restores_the_clock(
    world: World,
) -> None:
    """After activity, a reset leaves every hub store empty, old credentials
    are refused (401) and the clock is back at the wall clock."""
    world.query("kit.pension", world.persons[0]).expect(202)
    world.wire.control("POST", "/clock/advance", {"seconds": 86400 * 400}).expect(200)
    before = world.state()
    assert any(rows for name, rows in before.items() if name.startswith("hub.")), before.keys()
    world.wire.control("POST", "/reset").expect(200, 204)
    after = world.state()
    left = {name: len(rows) for name, rows in after.items() if rows}
    assert not left, f"stores not empty after reset: {left}"
    world.call("kit.pension", "GET", "hub", "/deliveries").expect_problem("unauthenticated", 401)
    now = datetime.fromisoformat(world.wire.control("GET", "/health").expect(200)["now"])
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=5)


@pytest.mark.conformance("CT-CTL-002", requirements=["RK-CTL-007"], profiles=["hub"])
def test_the_control_interface_refuses_an_agency_certificate(world: World) -> None:
    """Over mutual TLS the control interface answers only the conformance
    operator's certificate: an agency's certificate is refused with 403
    `control-operator-only` — a reset, a clock move, a state dump — and nothing
    changes (the agency's world is still there).  Not applicable in process or
    over plain HTTP."""
    wire = world.wire
    tls = wire.target.tls
    if tls is None or not wire.url("control", "").startswith("https://"):
        pytest.skip("not applicable: the target is not reached over mutual TLS")
    if "kit.city-a" not in tls.agencies:
        raise WireError("the target file's tls.client_certificates lacks kit.city-a")
    world.query("kit.pension", world.persons[0]).expect(202)
    before = world.state()
    agency = wire.presenting(tls.agencies["kit.city-a"])
    try:
        for method, path, body in (
            ("POST", "/reset", None),
            ("POST", "/clock/advance", {"seconds": 86400}),
            ("GET", "/state", None),
        ):
            reply = agency.control(method, path, body).expect_problem("control-operator-only", 403)
            if reply.body.get("requirement") != "RK-CTL-007":
                raise WireError(f"the refusal names no RK-CTL-007: {reply.text[:300]}")
    finally:
        agency.close()
    assert world.state() == before, "a refused control request changed the target's state"


def _not_a_5xx(reply: Any, what: str) -> None:
    assert reply.status < 500, f"{what}: HTTP {reply.status}: {reply.text[:300]}"
    if reply.status >= 400:
        assert reply.is_problem, f"{what}: a {reply.status} that is not problem+json"


@pytest.mark.conformance(
    "CT-CTL-003", requirements=["RK-CTL-002", "RK-WIRE-001"], profiles=["hub", "my-portal"]
)
def test_odd_but_well_formed_control_input_never_gets_a_5xx(
    world: World, renkei: KitSession
) -> None:
    """Instants at the edges of the calendar — year 1 east of Greenwich (no UTC
    instant), 9999-12-31 west of it — for the clock and for a card's validity,
    a validity before 1950 (X.509) or ending before it begins, and, when keys
    rotate, a rotation after the clock was set back before the current key
    version began: each is done or refused with a 4xx problem, never a 5xx."""
    person = world.persons[0]
    for now in ("0001-01-01T00:00:00+09:00", "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-09:00"):
        _not_a_5xx(world.wire.control("PUT", "/clock", {"now": now}), f"PUT /control/clock {now}")
        world.wire.control("PUT", "/clock", {"now": "2030-01-01T00:00:00Z"}).expect(200)
        card = {"resident_code": person.resident_code}
        _not_a_5xx(world.wire.control("POST", "/cards", card), f"a card issued at {now}")
    for validity in (
        {"not_before": "1900-01-01T00:00:00Z", "not_after": "1940-01-01T00:00:00Z"},
        {"not_before": "0001-01-01T00:00:00+09:00"},
        {"not_before": "2031-01-01T00:00:00Z", "not_after": "2030-06-01T00:00:00Z"},
    ):
        body = {"resident_code": person.resident_code, **validity}
        _not_a_5xx(world.wire.control("POST", "/cards", body), f"a card valid {validity}")
    if renkei.capabilities.get("options", {}).get("key_rotation"):
        rotation = {"purpose": "id-code", "transition_seconds": 3600}
        world.wire.control("POST", "/keys/rotate", rotation).expect(200)
        world.wire.control("PUT", "/clock", {"now": "2020-01-01T00:00:00Z"}).expect(200)
        _not_a_5xx(
            world.wire.control("POST", "/keys/rotate", rotation), "a rotation after a setback"
        )


@pytest.mark.conformance("CT-CTL-004", requirements=["RK-CTL-001", "RK-WIRE-002"], profiles=["hub"])
def test_test_mode_is_announced_by_every_party_and_cannot_be_switched_off(world: World) -> None:
    """Test mode is announced wherever the control interface answers: the
    discovery document of every origin the target names (agency nodes included)
    and the control interface's health say ``test_mode: true``.  It is fixed at
    start-up: asking any interface to leave it — a ``test_mode: false`` sent to
    each discovery document and to the health operation with every method that
    could write, and with a reset (which, naming undeclared members, is refused
    422) — changes nothing, every party still announces test mode and the
    control interface still answers.  (The other
    side, a production-mode party answering 404 ``control-disabled`` on every
    ``/control`` path, is not observable on a test-mode target.)"""
    wire = world.wire

    def announced() -> dict[str, object]:
        seen: dict[str, object] = {"control /health": wire.control("GET", "/health").expect(200)[
            "test_mode"
        ]}  # fmt: skip
        for origin in wire.origins():
            seen[origin] = wire.discovery(origin).expect(200)["test_mode"]
        return seen

    before = announced()
    assert all(v is True for v in before.values()), f"test mode not announced: {before}"
    off = {"test_mode": False, "mode": "production"}
    http = wire.http
    attempts = [
        (method, origin + "/.well-known/renkei")
        for origin in wire.origins()
        for method in ("PUT", "POST", "PATCH")
    ] + [(method, wire.url("control", "/health")) for method in ("PUT", "POST", "PATCH")]
    for method, url in attempts:
        reply = http.request(method, url, json=off)
        assert reply.status_code < 500, f"{method} {url}: HTTP {reply.status_code}"
    # a reset naming members the reset does not declare is refused (RK-WIRE-002),
    # answered like any response (its problem checked, errors and all, RK-WIRE-001)
    refused = wire.control("POST", "/reset", off)
    assert refused.status == 422, f"a reset with {off} → HTTP {refused.status}, not refused"
    after = announced()
    assert after == before, f"test mode changed through an interface: {before} → {after}"
    wire.control("GET", "/state").expect(200)
