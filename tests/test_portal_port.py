"""My Portal reaches the hub through its port (issue 16 item 1; RK-PORT-003, RK-LOG-006).

The portal's login binding is a binding request like any agency's: logged in
the hub's administrative log (never the 4 items) and refused with 503 while
the hub's store cannot write; each disclosure is logged too.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_reference.core.admin_log import AdminEvent
from renkei_reference.core.errors import UnavailableError
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.portal.port import PORTAL_AGENCY, InProcessHubPort
from renkei_reference.services.registry.registry import FourItems

from .test_log_store import ITEMS, T0, FullDisk, _federation, _populate

pytestmark = pytest.mark.requirement("RK-PORT-003", "RK-LOG-006", "RK-LOG-001")


def test_the_portal_login_binding_is_logged_and_refused_while_the_store_fails(
    tmp_path: Path,
) -> None:
    fed = _federation(tmp_path / "logs.sqlite3", Ed25519PrivateKey.generate(),
                      ControllableClock(T0), FullDisk)  # fmt: skip
    _populate(fed)
    port = InProcessHubPort(fed.hub)
    link = port.bind_person(ITEMS[0])
    assert link is not None
    assert port.bind_person(FourItems("誰でもない", "どこにもない", "1900-01-01", "male")) is None
    requests = [e for e in fed.hub.logs.admin_entries if e.actor == PORTAL_AGENCY.agency_id]
    assert [e.event for e in requests] == [AdminEvent.BINDING_REQUEST] * 2
    assert [e.details.get("bound") for e in requests] == [1, 0]
    assert all(ITEMS[0].name not in str(e.details) for e in requests), "never the 4 items"
    assert [e.outcome for e in port.person_entries(link)] == []

    store = fed.log_store
    assert isinstance(store, FullDisk)
    store.full = True
    port.log_disclosure({"channel": "web", "action": "access-logs"})  # queued; commit fails
    with pytest.raises(UnavailableError):
        fed.hub.log_barrier().result(10)
    with pytest.raises(UnavailableError, match="log-store-unavailable"):
        port.bind_person(ITEMS[1])
    store.full = False
    deadline = time.monotonic() + 10
    while store.refusal() is not None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert port.bind_person(ITEMS[1]) is not None
    disclosures = [e for e in fed.hub.logs.admin_entries
                   if e.event is AdminEvent.PORTAL_DISCLOSURE]  # fmt: skip
    assert len(disclosures) == 1
    fed.close()
