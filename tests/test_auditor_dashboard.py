"""The auditor's dashboard over HTTP: sign-in by key, findings, charts, holds (RK-AUD-004).

Served pages only (no browser; tests/test_auditor_browser.py drives Chromium).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_conformance.target import InProcessTransport
from renkei_reference.services.app import create_app
from renkei_reference.services.auditor.app import CONTEXT

AUDITOR = "d.auditor"


def make_world(c: httpx.Client) -> dict[str, Any]:
    """Two agencies and an auditor; queries by day and by night, one outside the
    designation; the pension's share records only its first query."""
    from renkei_reference.core.check_digit import resident_code_check_digit

    codes = [f"{n:010d}" for n in (3_000_000_001, 3_000_000_002)]
    codes = [x + str(resident_code_check_digit(x)) for x in codes]
    people = [
        {"resident_code": code, "name": name, "address": f"東京都港区芝公園{i}丁目",
         "birth_date": f"197{i}-05-0{i}", "sex": "female" if i % 2 else "male"}
        for i, (code, name) in enumerate(zip(codes, ["石井 和子", "岡田 修"], strict=True), 1)
    ]  # fmt: skip
    c.post("/control/reset").raise_for_status()
    c.put("/control/clock", json={"now": "2026-04-01T01:00:00+00:00"}).raise_for_status()
    c.post("/control/residents", json={"residents": people}).raise_for_status()
    agencies = [
        {"agency_id": "d.pension", "name": "日本年金機構", "role": "agency"},
        {"agency_id": "d.city", "name": "港区", "role": "agency"},
        {"agency_id": AUDITOR, "name": "個人情報保護委員会", "role": "auditor"},
    ]
    tokens = c.post("/control/agencies", json={"agencies": agencies}).json()["credentials"]
    pattern = {
        "pattern_id": "P-0001",
        "legal_basis": "番号法 別表第二 項番1",
        "purpose": "年金給付",
        "requesters": ["d.pension"],
        "providers": ["d.city"],
        "information_kinds": ["resident-tax"],
    }
    c.put("/control/patterns", json={"patterns": [pattern]}).raise_for_status()
    auth = {"Authorization": f"Bearer {tokens['d.pension']}"}
    records = [{"record_ref": p["resident_code"], **p} for p in people]
    for r in records:
        del r["resident_code"]
    bound = c.post("/hub/bindings", json={"records": records}, headers=auth).json()
    links = [r["link_code"] for r in bound["results"]]
    serials = []
    for n, (link, pattern_id, hour) in enumerate(
        [(links[0], "P-0001", 1), (links[1], "P-0001", 2), (links[1], "P-0009", 3),
         (links[0], "P-0001", 16)]  # 16:00 UTC is 01:00 in Japan
    ):  # fmt: skip
        c.put("/control/clock", json={"now": f"2026-04-01T{hour:02d}:00:00+00:00"})
        q = {"request_id": f"d-{n}", "requester": "d.pension", "provider": "d.city",
             "pattern_id": pattern_id, "information_kind": "resident-tax",
             "link_code": link}  # fmt: skip
        reply = c.post("/hub/queries", json=q, headers=auth)
        serials.append(reply.json()["serial"])
    first = c.get(
        "/auditor/access-logs", headers={"Authorization": f"Bearer {tokens[AUDITOR]}"}
    ).json()["entries"][0]
    c.post(
        "/control/agency-log-entries",
        json={"agency_id": "d.pension", "entries": [{
            "hub_serial": first["serial"], "linkage_id": first["linkage_id"],
            "side": "requester", "at": first["at"], "requester": "d.pension",
            "provider": "d.city", "pattern_id": "P-0001", "information_kind": "resident-tax",
            "outcome": "approved", "operator": "年金給付課 担当A", "terminal": "nenkin-017",
            "use": "年金額の決定"}]},
    ).raise_for_status()  # fmt: skip
    key = c.post("/control/auditor-keys", json={"agency_id": AUDITOR}).json()
    return {"tokens": tokens, "serials": serials, "key": key}


def signer(world: dict[str, Any]) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(world["key"]["private_key"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return key


def _login(c: httpx.Client, key: Ed25519PrivateKey, agency: str = AUDITOR) -> httpx.Response:
    page = c.get("/auditor/ui/").text
    assert 'type="password"' not in page  # RK-AUD-004: no password login
    cid = re.search(r'name="challenge_id" value="([^"]+)"', page)
    nonce = re.search(r'id="nonce">([^<]+)<', page)
    assert cid
    assert nonce
    signature = key.sign(CONTEXT + base64.b64decode(nonce.group(1)))
    form = {"challenge_id": cid.group(1), "agency_id": agency,
            "signature": base64.b64encode(signature).decode()}  # fmt: skip
    return c.post("/auditor/ui/login", data=form, follow_redirects=False)


def _admin_events(c: httpx.Client, token: str) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {token}"}
    return list(c.get("/auditor/admin-logs", headers=auth).json()["entries"])


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    app = create_app(test_mode=True)
    with httpx.Client(transport=InProcessTransport(app), base_url="http://testserver") as c:
        yield c


@pytest.mark.requirement("RK-AUD-004", "RK-LOG-006")
def test_sign_in_by_signed_challenge_only(client: httpx.Client) -> None:
    world = make_world(client)
    key = signer(world)
    assert client.get("/auditor/ui/dashboard", follow_redirects=False).status_code == 303
    wrong = _login(client, Ed25519PrivateKey.generate())
    assert wrong.status_code == 401
    assert "認証に失敗しました" in wrong.text
    # a key issued for an auditor does not sign anybody else in
    assert _login(client, key, agency="d.pension").status_code == 401
    ok = _login(client, key)
    assert ok.status_code == 303
    assert ok.headers["location"] == "/auditor/ui/dashboard"
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie.replace("Strict", "strict")
    events = _admin_events(client, world["tokens"][AUDITOR])
    assert [e["details"]["action"] for e in events if e["event"] == "auditor-session"] == [
        "sign-in"
    ]
    refused = client.post("/control/auditor-keys", json={"agency_id": "d.pension"})
    assert refused.status_code == 422  # only an auditor gets a dashboard key


@pytest.mark.requirement("RK-AUD-004", "RK-AUD-002", "RK-AUD-003")
def test_the_dashboard_shows_findings_charts_and_the_merged_log_in_japanese_first(
    client: httpx.Client,
) -> None:
    world = make_world(client)
    assert _login(client, signer(world)).status_code == 303
    page = client.get("/auditor/ui/dashboard")
    assert page.status_code == 200
    text = page.text
    assert "<script" not in text  # no JavaScript, nothing fetched (RK-AUD-004)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert text.index("監査画面") < text.index("Audit dashboard")
    kinds = set(re.findall(r'class="finding" data-kind="([a-z-]+)"', text))
    assert {"requester-entry-missing", "outside-operating-hours", "outside-designation"} <= kinds
    for chart in ("chart-hourly", "chart-requester", "chart-operator", "chart-terminal"):
        block = text.split(f'id="{chart}"', 1)[1].split("</div>", 1)[0]
        assert "<svg" in block, chart
        assert "<rect" in block, chart
    shown = {int(s) for s in re.findall(r'class="entry[^"]*" data-serial="(\d+)"', text)}
    audit = {"Authorization": f"Bearer {world['tokens'][AUDITOR]}"}
    held = client.get("/auditor/access-logs", headers=audit).json()["entries"]
    assert set(world["serials"]) < shown == {e["serial"] for e in held}  # expiries too
    assert "年金給付課 担当A @ nenkin-017" in text  # ⑦⑨ beside the hub's ①–⑥
    assert "年金額の決定" in text  # ⑫
    merged = text.split('id="merged"', 1)[1]  # times and kinds as a person in Japan reads them
    assert "2026年4月1日 10時00分" in merged  # 01:00 UTC
    assert "2026年4月2日 1時00分" in merged  # 16:00 UTC is the next day in Japan
    assert "住民税" in merged
    assert "承認" in merged  # the outcome too, by its Japanese name
    visible = re.sub(r"<[^>]+>", " ", merged)
    assert "resident-tax" not in visible
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", visible)  # no raw ISO instant
    events = _admin_events(client, world["tokens"][AUDITOR])
    reads = [e for e in events if e["details"].get("analysis") == "dashboard"]
    assert len(reads) == 1


@pytest.mark.requirement("RK-AUD-004", "RK-RET-002", "RK-LOG-006")
def test_holds_are_placed_and_lifted_with_the_session_csrf_token_only(client: httpx.Client) -> None:
    world = make_world(client)
    assert _login(client, signer(world)).status_code == 303
    page = client.get("/auditor/ui/dashboard").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    hold = {"reason": "不正アクセスの疑い", "case_reference": "2026-監-1", "agency_id": "d.pension"}
    forged = client.post("/auditor/ui/holds", data={**hold, "csrf": "x"}, follow_redirects=False)
    assert forged.status_code == 403
    assert client.post("/auditor/ui/holds", data=hold, follow_redirects=False).status_code == 403
    empty = client.post("/auditor/ui/holds", data={"reason": "r", "csrf": csrf.group(1)})
    assert empty.status_code == 422  # a hold without a scope is refused, not a traceback
    placed = client.post(
        "/auditor/ui/holds", data={**hold, "csrf": csrf.group(1)}, follow_redirects=False
    )
    assert placed.status_code == 303
    page = client.get("/auditor/ui/dashboard").text
    hold_ids = re.findall(r'class="hold" data-hold="([^"]+)"', page)
    assert len(hold_ids) == 1
    lift = f"/auditor/ui/holds/{hold_ids[0]}/lift"
    assert client.post(lift, data={"csrf": "x"}, follow_redirects=False).status_code == 403
    done = client.post(lift, data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert done.status_code == 303
    assert 'class="hold"' not in client.get("/auditor/ui/dashboard").text
    events = [e for e in _admin_events(client, world["tokens"][AUDITOR])
              if e["event"] in ("legal-hold-placed", "legal-hold-lifted")]  # fmt: skip
    assert [(e["event"], e["actor"]) for e in events] == [
        ("legal-hold-placed", AUDITOR),
        ("legal-hold-lifted", AUDITOR),
    ]
    out = client.post("/auditor/ui/logout", data={"csrf": csrf.group(1)}, follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/auditor/ui/dashboard", follow_redirects=False).status_code == 303


@pytest.mark.requirement("RK-AUD-004", "RK-ARCH-003")
def test_over_mutual_tls_the_auditors_certificate_signs_in_and_no_other(tmp_path: Any) -> None:
    """The verified client certificate of an auditor organisation is the proof of
    possession (the TLS 1.3 handshake signed a fresh transcript); an agency's is not."""
    from renkei_reference.services.web.pki import ensure_pki, issue_client
    from renkei_reference.services.web.tls import TLS_EXTENSION

    pki = ensure_pki(tmp_path / "pki", agencies=())
    pems = {name: issue_client(pki, name)[0].read_text() for name in (AUDITOR, "d.pension")}
    app = create_app(test_mode=True)
    presented: dict[str, str] = {}

    async def over_tls(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and presented:
            tls = {"client_cert_chain": [presented["pem"]], "tls_version": 0x0304}
            scope["extensions"] = {**(scope.get("extensions") or {}), TLS_EXTENSION: tls}
        await app(scope, receive, send)

    transport = InProcessTransport(over_tls)
    with httpx.Client(transport=transport, base_url="http://testserver") as c:
        make_world(c)
        assert "login-certificate" not in c.get("/auditor/ui/").text  # no TLS, no button
        presented["pem"] = pems["d.pension"]
        assert "login-certificate" in c.get("/auditor/ui/").text
        refused = c.post("/auditor/ui/login/certificate", follow_redirects=False)
        assert refused.status_code == 401
        presented["pem"] = pems[AUDITOR]
        ok = c.post("/auditor/ui/login/certificate", follow_redirects=False)
        assert ok.status_code == 303
        assert c.get("/auditor/ui/dashboard").status_code == 200


@pytest.mark.requirement("RK-AUD-004")
def test_over_https_the_dashboard_cookies_are_secure_httponly_and_strict() -> None:
    """Served over HTTPS, the session and pre-session cookies never travel in clear."""
    app = create_app(test_mode=True)
    for scheme, secure in (("https", True), ("http", False)):
        with httpx.Client(
            transport=InProcessTransport(app), base_url=f"{scheme}://testserver"
        ) as c:
            world = make_world(c)
            pre = c.get("/auditor/ui/").headers["set-cookie"]
            signed = _login(c, signer(world))
            assert signed.status_code == 303
            session = next(
                h for h in signed.headers.get_list("set-cookie") if h.startswith("renkei_auditor=")
            )
            for cookie in (pre, session):
                flags = {f.strip().lower() for f in cookie.split(";")[1:]}
                assert {"httponly", "samesite=strict"} <= flags, cookie
                assert ("secure" in flags) is secure, cookie
            assert c.get("/auditor/ui/dashboard").status_code == 200


@pytest.mark.requirement("RK-AUD-004")
def test_registered_auditor_keys_survive_a_restart_in_the_state_dir(tmp_path: Any) -> None:
    """A restarted federation still knows the third-party body's key (sessions do not
    survive: the auditor signs in again, with the same key)."""
    from renkei_reference.cli import _durable

    first = create_app(test_mode=True, federation_factory=_durable(tmp_path))
    with httpx.Client(transport=InProcessTransport(first), base_url="http://testserver") as c:
        world = make_world(c)
        assert _login(c, signer(world)).status_code == 303
    assert (tmp_path / "auditor-keys.json").stat().st_mode & 0o077 == 0
    again = create_app(test_mode=True, federation_factory=_durable(tmp_path))
    with httpx.Client(transport=InProcessTransport(again), base_url="http://testserver") as c:
        auditor = {"agency_id": AUDITOR, "name": "個人情報保護委員会", "role": "auditor"}
        c.post("/control/agencies", json={"agencies": [auditor]}).raise_for_status()
        assert c.get("/auditor/ui/dashboard", follow_redirects=False).status_code == 303
        assert _login(c, signer(world)).status_code == 303
        assert _login(c, Ed25519PrivateKey.generate()).status_code == 401
