"""What the reference's responses carry beyond their bodies: a 405 names the
methods the path accepts (RFC 9110 §15.5.6) on the hub's application and on
each agency node alike; the web applications' pages carry a strict
Content-Security-Policy and no-sniff and no-referrer headers."""

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


@pytest.mark.requirement("RK-PORT-006")
@pytest.mark.parametrize("path", ["/portal/ui/", "/auditor/ui/"])
def test_web_pages_carry_a_strict_content_security_policy(path: str) -> None:
    """My Portal's and the dashboard's pages: nothing fetched, no script at all,
    the one inline style sheet by a nonce that changes with
    every response, never framed; no MIME sniffing, no referrer."""
    import re
    import warnings

    from renkei_reference.services.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    client = TestClient(create_app(test_mode=True))
    nonces = []
    for _ in range(2):
        resp = client.get(path)
        assert resp.status_code == 200
        csp = {
            d.split()[0]: d.split()[1:] for d in resp.headers["content-security-policy"].split(";")
        }
        assert csp["default-src"] == ["'none'"]
        assert csp["frame-ancestors"] == ["'none'"]
        assert "script-src" not in csp  # default-src 'none': no script at all
        (nonce,) = re.findall(r"<style nonce=\"([^\"]+)\">", resp.text)
        assert csp["style-src"] == [f"'nonce-{nonce}'"]
        assert "<script" not in resp.text
        assert " style=" not in resp.text
        assert resp.headers["x-content-type-options"] == "nosniff"
        assert resp.headers["referrer-policy"] == "no-referrer"
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
