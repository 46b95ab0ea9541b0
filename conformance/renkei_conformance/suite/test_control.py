"""The conformance control interface itself (test mode only)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

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
