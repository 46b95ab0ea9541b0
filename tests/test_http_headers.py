"""What every response of the reference's web servers carries, beyond its body:
a 405 names the methods the path accepts (RFC 9110 §15.5.6) on the hub's
application and on each agency node alike."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import tls_client


@pytest.mark.requirement("RK-WIRE-001")
def test_a_405_names_the_accepted_methods_on_the_hub_and_on_an_agency_node(
    served_reference: Path,
) -> None:
    data = json.loads(served_reference.read_text())
    node = next(iter(data["agency_nodes"].values()))["url"]
    with tls_client(served_reference, "demo.auditor") as client:
        for url, allowed in (
            (data["parties"]["hub"] + "/queries", "POST"),
            (data["parties"]["auditor"] + "/access-logs", "GET"),
            (node + "/agency/access-logs", "GET"),
            (node + "/agency/legal-holds", "POST"),
            (node + "/agency/legal-holds/h-1", "DELETE"),
        ):
            resp = client.request("PATCH", url)
            assert resp.status_code == 405, (url, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert resp.headers["allow"] == allowed, url
