"""getLinkageReceipt's callers (RK-LOG-009): the linkage's requester and provider, and the
auditor (item 27) — for anyone else the linkage does not exist (404 ``unknown-linkage``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_conformance.target import InProcessTransport
from renkei_reference.services.app import create_app
from renkei_reference.services.federation import Agency, Federation

from .test_log_store import AUDITOR, A, B, _federation, _populate, _query

pytestmark = pytest.mark.requirement("RK-LOG-009")


def test_the_auditor_and_the_parties_get_a_linkage_receipt_and_nobody_else(
    tmp_path: Path,
) -> None:
    boxes: list[Federation] = []

    def factory(clock: Any) -> Federation:
        boxes.append(_federation(tmp_path / "logs.sqlite3", Ed25519PrivateKey.generate(), clock))
        return boxes[-1]

    app = create_app(test_mode=True, federation_factory=factory)
    fed = boxes[-1]
    links = _populate(fed)
    linkage = _query(fed, links["r0"], "q-receipt")
    stranger = Agency("c", "C庁", "agency")
    tokens = {a.agency_id: fed.register(a) for a in (A, B, AUDITOR, stranger)}
    url = f"/hub/linkages/{linkage.linkage_id}/receipt"
    with httpx.Client(transport=InProcessTransport(app), base_url="http://hub.test") as client:

        def get(agency_id: str) -> httpx.Response:
            return client.get(url, headers={"Authorization": f"Bearer {tokens[agency_id]}"})

        receipts = {a: get(a) for a in ("a", "b", "auditor")}
        assert {a: r.status_code for a, r in receipts.items()} == dict.fromkeys(receipts, 200)
        assert {r.json()["serial"] for r in receipts.values()} == {linkage.serial}
        refused = get("c")
        assert refused.status_code == 404
        assert refused.json()["type"] == "urn:renkei:problem:unknown-linkage"
    fed.close()
