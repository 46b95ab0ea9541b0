"""The agency node keeps its 4 items current through the hub (seed items 14, 20; RK-BND-006)."""

from __future__ import annotations

import pytest

from renkei_reference.core.errors import PermissionDeniedError

from .test_agency_node import (  # the in-process deployment of test_agency_node
    PERSONS,
    Deployment,
    _items,
    deployment,  # noqa: F401 (a fixture)
)


@pytest.mark.requirement("RK-BND-006")
def test_the_node_brings_bound_records_current_through_the_hub(
    deployment: Deployment,  # noqa: F811
) -> None:
    """After a move, the node asks the hub with its link code and the 4 items it
    holds and gets the latest ones; an unbound record is not sent."""
    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[2], "N-300")])
    moved = {**PERSONS[2], "address": "大阪府大阪市北区梅田1丁目1番1号"}
    d.hub.post("/control/residents", json={"residents": [moved]}).raise_for_status()
    got = d.pension.bring_current(
        "p-1", "t-01", [_items(PERSONS[2], "N-300"), _items(PERSONS[0], "N-999")]
    )
    assert got["N-300"]["status"] == "updated"
    assert got["N-300"]["four_items"]["address"] == moved["address"]
    assert got["N-999"] == {"status": "not-bound"}
    with pytest.raises(PermissionDeniedError):
        d.pension.bring_current("nobody", "t-01", [_items(PERSONS[2], "N-300")])
