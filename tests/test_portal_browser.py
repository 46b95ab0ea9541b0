"""My Portal in a real browser: Playwright driving Debian's Chromium (seed items 26, 31).

The reference runs on a loopback port (uvicorn in a thread).  The card reader
is simulated: the test reads the challenge the login page shows, signs it with
the test card's private key in Python (what the IC card does inside itself)
and puts the certificate and signature into the page's form, as a card-reader
helper would.  The key never enters the page.  The browser never downloads
anything: it is /usr/bin/chromium (``apt-get install chromium``).
"""

from __future__ import annotations

import base64
import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
)
SCREENSHOT = Path("/tmp/renkei-portal-browser.png")
CONTEXT = b"renkei/portal-challenge/v1\x00"


def launch(pw: Any) -> Any:
    """Debian's Chromium, never a downloaded browser, with no background network."""
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
    )


_JAPANESE_TEXT = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('[lang=en], script, style').forEach(e => e.remove());
  return copy.textContent;
}"""


def glossary_variants(page: Any) -> list[str]:
    """The variants specs/glossary.yaml avoids that a person sees in the page's Japanese
    (the English halves, ``lang="en"``, left out): the UI speaks the catalog's terms."""
    from renkei_conformance.spec import load_glossary

    text = str(page.evaluate(_JAPANESE_TEXT))
    return [
        f"{term.ja} ({term.id}): {found!r}"
        for term in load_glossary()
        for avoid in term.avoid
        if avoid.lang == "ja"
        for found in avoid.pattern.findall(text)
    ]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    import uvicorn

    from renkei_reference.services.app import create_app

    port = _free_port()
    config = uvicorn.Config(
        create_app(test_mode=True), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _resident(code: str, name: str, i: int) -> dict[str, str]:
    return {
        "resident_code": code,
        "name": name,
        "address": f"東京都千代田区霞が関{i}丁目",
        "birth_date": f"198{i}-04-01",
        "sex": "female" if i % 2 else "male",
    }


def _world(base: str) -> dict[str, Any]:
    """Two persons, A and B, with queries about each; A's card."""
    from renkei_reference.core.check_digit import resident_code_check_digit

    codes = [f"{n:010d}" for n in (2_000_000_001, 2_000_000_002)]
    codes = [c + str(resident_code_check_digit(c)) for c in codes]
    people = [_resident(codes[0], "青木 花子", 1), _resident(codes[1], "井上 次郎", 2)]
    with httpx.Client(base_url=base, timeout=10) as c:
        c.post("/control/reset").raise_for_status()
        c.post("/control/residents", json={"residents": people}).raise_for_status()
        agencies = [
            {"agency_id": "b.pension", "name": "日本年金機構", "role": "agency"},
            {"agency_id": "b.city", "name": "千代田区", "role": "agency"},
            {"agency_id": "b.auditor", "name": "個人情報保護委員会", "role": "auditor"},
        ]
        tokens = c.post("/control/agencies", json={"agencies": agencies}).json()["credentials"]
        pattern = {
            "pattern_id": "P-0001",
            "legal_basis": "番号法 別表第二 項番1",
            "purpose": "年金給付",
            "requesters": ["b.pension"],
            "providers": ["b.city"],
            "information_kinds": ["resident-tax"],
        }
        c.put("/control/patterns", json={"patterns": [pattern]}).raise_for_status()
        auth = {"Authorization": f"Bearer {tokens['b.pension']}"}
        records = [{"record_ref": p["resident_code"], **p} for p in people]
        for r in records:
            del r["resident_code"]
        bound = c.post("/hub/bindings", json={"records": records}, headers=auth).json()
        links = {r["record_ref"]: r["link_code"] for r in bound["results"]}
        linkage_of: dict[str, list[str]] = {}
        for n, code in enumerate([codes[0], codes[1], codes[1]]):
            q = {
                "request_id": f"b-{n}",
                "requester": "b.pension",
                "provider": "b.city",
                "pattern_id": "P-0001",
                "information_kind": "resident-tax",
                "link_code": links[code],
            }
            reply = c.post("/hub/queries", json=q, headers=auth)
            assert reply.status_code == 202, reply.text
            linkage_of.setdefault(code, []).append(reply.json()["linkage_id"])
        audit = {"Authorization": f"Bearer {tokens['b.auditor']}"}
        entries = c.get("/auditor/access-logs", headers=audit).json()["entries"]
        serials = {
            code: {e["serial"] for e in entries if e["linkage_id"] in lks}
            for code, lks in linkage_of.items()
        }
        card = c.post("/control/cards", json={"resident_code": codes[0]}).json()
    return {"card": card, "serials_a": serials[codes[0]], "serials_b": serials[codes[1]]}


@pytest.mark.requirement("RK-PORT-006", "RK-PORT-003", "RK-PORT-001")
def test_a_person_logs_in_with_the_card_and_sees_only_their_own_entries_in_japanese(
    served: str, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    world = _world(served)
    key = serialization.load_pem_private_key(world["card"]["private_key"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(locale="ja-JP")
            blocked: list[str] = []  # what the page's Content-Security-Policy refused
            page.on("console", lambda m: blocked.append(m.text) if "Policy" in m.text else None)
            page.goto(f"{served}/portal/ui/")
            assert page.locator("html").get_attribute("lang") == "ja"
            heading = page.locator("h1").inner_text()
            assert heading.index("ログイン") < heading.index("Sign in"), heading
            assert page.locator("input[type=password]").count() == 0  # RK-AUTH-003
            # the card is named by the glossary's term, ＩＣカード (RK-PORT-006)
            assert "ＩＣカードで本人確認をします" in page.locator("body").inner_text()
            assert not glossary_variants(page), glossary_variants(page)
            nonce = page.locator("#nonce").inner_text().strip()
            # The simulated card signs inside itself; only the signature leaves it.
            signature = key.sign(CONTEXT + base64.b64decode(nonce))
            page.fill("#certificate", world["card"]["certificate"])
            page.fill("#signature", base64.b64encode(signature).decode())
            page.click("#login-button")
            page.wait_for_url("**/portal/ui/logs")
            page.click("#apply-button")
            page.wait_for_selector("#entries")
            body = page.locator("body").inner_text()
            assert body.index("あなたのアクセスログ") < body.index(
                "Your access log (held by the hub)"
            )
            for label in ("① 管理用のシリアル番号", "④ 照会元情報保有機関の名称", "日本年金機構"):
                assert label in body, label
            # ② in Japan Standard Time to the minute, ⑥ by its Japanese name (RK-PORT-006)
            table = page.locator("#entries").inner_text()
            assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日 \d{1,2}時\d\d分", table), table
            assert "住民税" in table
            assert "resident-tax" not in table
            assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", table), table
            rows = page.locator("tr.entry")
            shown = {
                int(rows.nth(i).get_attribute("data-serial") or 0) for i in range(rows.count())
            }
            assert shown == world["serials_a"], (shown, world)
            assert not glossary_variants(page), glossary_variants(page)
            assert not shown & world["serials_b"], "another person's entries are shown"
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.screenshot(path=str(tmp_path / "portal.png"), full_page=True)
            # the nonce'd style sheet applies under the strict CSP; nothing was refused
            assert page.eval_on_selector("h1", "e => getComputedStyle(e).borderBottomStyle") == (
                "solid"
            )
            assert not blocked, blocked
            # A signature for another challenge does not open a session.
            page.goto(f"{served}/portal/ui/")
            page.fill("#certificate", world["card"]["certificate"])
            page.fill("#signature", base64.b64encode(signature).decode())
            page.click("#login-button")
            assert "カード認証に失敗しました" in page.locator("h1").inner_text()
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 1000
