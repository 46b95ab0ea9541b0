"""A web session (My Portal's pages, the auditor's dashboard) belongs to the
client certificate of the connection that signed it in: over ``renkei serve``
its cookie presented with another federation certificate is no session."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .conftest import RENKEI, tls_client
from .test_server_limits import _until

PORTAL_CONTEXT = b"renkei/portal-challenge/v1\x00"


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``renkei serve`` with one agency node: the demo world and its auditor."""
    folder = tmp_path_factory.mktemp("sessions")
    target = folder / "target.json"
    with (folder / "serve.log").open("wb") as sink:
        proc = subprocess.Popen(
            [*RENKEI, "serve", "--port", "0", "--target-file", str(target),
             "--agency-nodes", "1"],
            cwd=folder, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        _until("the target file", lambda: target.exists() or proc.poll() is not None)
        assert proc.poll() is None
        yield target
    finally:
        proc.kill()
        proc.wait(10)


def _cookie(resp: httpx.Response, name: str) -> str:
    value = resp.cookies.get(name)
    assert value, resp.headers
    return value


@pytest.mark.requirement("RK-ARCH-003")
def test_a_dashboard_session_works_only_over_the_certificate_that_signed_it_in(
    demo: Path,
) -> None:
    auditor = json.loads(demo.read_text())["parties"]["auditor"]
    ui = auditor + "/ui"
    with tls_client(demo, "demo.auditor") as own, tls_client(demo, "demo.city") as other:
        signed = own.post(ui + "/login/certificate")
        assert signed.status_code == 303
        assert signed.headers["location"] == "/auditor/ui/dashboard"
        cookie = {"cookie": f"renkei_auditor={_cookie(signed, 'renkei_auditor')}"}
        own.cookies.clear()
        assert own.get(ui + "/dashboard", headers=cookie).status_code == 200
        elsewhere = other.get(ui + "/dashboard", headers=cookie)
        assert elsewhere.status_code == 303  # back to the sign-in page: no session here
        assert elsewhere.headers["location"] == "/auditor/ui/"
        assert own.get(ui + "/dashboard", headers=cookie).status_code == 200  # still its own


@pytest.mark.requirement("RK-ARCH-003", "RK-PORT-001")
def test_a_my_portal_session_works_only_over_the_certificate_that_signed_it_in(
    demo: Path,
) -> None:
    data = json.loads(demo.read_text())
    ui = data["parties"]["portal"] + "/ui"
    with tls_client(demo) as operator:
        residents = operator.get(
            next(iter(data["agency_nodes"].values()))["url"] + "/control/agency-node/fixtures"
        ).json()["residents"]
        card = operator.post(
            data["parties"]["control"] + "/cards",
            json={"resident_code": residents[0]["resident_code"]},
        ).json()
    key = serialization.load_pem_private_key(card["private_key"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    with tls_client(demo, "demo.city") as own, tls_client(demo, "demo.auditor") as other:
        page = own.get(ui + "/")
        challenge_id = re.search(r'name="challenge_id" value="([^"]+)"', page.text)
        nonce = re.search(r'<code id="nonce">([^<]+)</code>', page.text)
        assert challenge_id
        assert nonce
        signature = key.sign(PORTAL_CONTEXT + base64.b64decode(nonce.group(1)))
        signed = own.post(
            ui + "/login",
            data={
                "challenge_id": challenge_id.group(1),
                "certificate": card["certificate"],
                "signature": base64.b64encode(signature).decode(),
            },
        )
        assert signed.status_code == 303, signed.text
        assert signed.headers["location"] == "/portal/ui/logs"
        cookie = {"cookie": f"renkei_portal={_cookie(signed, 'renkei_portal')}"}
        own.cookies.clear()
        assert own.get(ui + "/logs", headers=cookie).status_code == 200
        elsewhere = other.get(ui + "/logs", headers=cookie)
        assert elsewhere.status_code == 303
        assert elsewhere.headers["location"] == "/portal/ui/"
        assert own.get(ui + "/logs", headers=cookie).status_code == 200
