"""The conformance control interface itself (test mode only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from renkei_conformance.client import WireError
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
