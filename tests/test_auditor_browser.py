"""The auditor's dashboard in a real browser: Playwright driving Debian's Chromium (items 23, 27).

The reference runs on a loopback port (uvicorn in a thread).  The third-party
body's signer is simulated: the test reads the challenge the page shows, signs
it with the auditor's key in Python and puts the agency id and the signature
into the form.  The key never enters the page.  The browser never downloads
anything: it is /usr/bin/chromium (``apt-get install chromium``).  A screenshot
of the dashboard is kept (/tmp/renkei-auditor-dashboard.png and the test's
tmp_path).
"""

from __future__ import annotations

import base64
from pathlib import Path

import httpx
import pytest

from renkei_reference.services.auditor.app import CONTEXT

from .test_auditor_dashboard import AUDITOR, make_world, signer
from .test_portal_browser import CHROMIUM, glossary_variants, launch, served  # noqa: F401

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"
)
SCREENSHOT = Path("/tmp/renkei-auditor-dashboard.png")


@pytest.mark.requirement("RK-AUD-004", "RK-RET-002")
def test_the_auditor_signs_in_sees_findings_and_charts_and_places_and_lifts_a_hold(
    served: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    with httpx.Client(base_url=served, timeout=10) as c:
        world = make_world(c)
    key = signer(world)
    with sync_playwright() as pw:
        browser = launch(pw)
        try:
            page = browser.new_page(locale="ja-JP")
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            blocked: list[str] = []  # what the page's Content-Security-Policy refused
            page.on("console", lambda m: blocked.append(m.text) if "Policy" in m.text else None)
            page.goto(f"{served}/auditor/ui/")
            assert page.locator("html").get_attribute("lang") == "ja"
            heading = page.locator("h1").inner_text()
            assert heading.index("ログイン") < heading.index("Sign in"), heading
            assert page.locator("input[type=password]").count() == 0
            assert not glossary_variants(page), glossary_variants(page)
            nonce = page.locator("#nonce").inner_text().strip()
            signature = key.sign(CONTEXT + base64.b64decode(nonce))
            page.fill("#agency_id", AUDITOR)
            page.fill("#signature", base64.b64encode(signature).decode())
            page.click("#login-button")
            page.wait_for_url("**/auditor/ui/dashboard")
            body = page.locator("body").inner_text()
            assert body.index("監査画面") < body.index("Audit dashboard")
            kinds = {
                page.locator("tr.finding").nth(i).get_attribute("data-kind")
                for i in range(page.locator("tr.finding").count())
            }
            assert {"requester-entry-missing", "outside-operating-hours"} <= kinds, kinds
            assert "同一人物への反復照会" in body or "業務時間外の利用" in body
            # each finding's detail reads in Japanese first, its English second
            detail = page.locator("tr.finding td:nth-child(3)").first
            assert detail.locator("[lang=ja]").inner_text().endswith("件）"), detail.inner_text()
            assert detail.locator("[lang=en]").count() == 1
            for chart in (
                "#chart-hourly",
                "#chart-requester",
                "#chart-operator",
                "#chart-terminal",
            ):
                svg = page.locator(f"{chart} svg")
                assert svg.count() == 1, chart
                box = svg.bounding_box()
                assert box is not None, chart
                assert box["width"] > 100, chart
                assert page.locator(f"{chart} rect").count() >= 1, chart
            assert page.locator("tr.entry").count() >= len(world["serials"])
            # place a hold on the pension's entries, see it listed, lift it
            page.fill("#hold-reason", "不正アクセスの疑いに関する調査（試験）")
            page.fill("#hold-case", "2026-監-0042")
            page.fill("#hold-agency", "d.pension")
            page.click("#place-hold-button")
            page.wait_for_url("**/auditor/ui/dashboard")
            assert page.locator("tr.hold").count() == 1
            assert "不正アクセスの疑いに関する調査（試験）" in page.locator("#holds").inner_text()
            # what the auditor sees uses the glossary's terms: 保全措置, 情報連携基盤,
            # 識別子 for identifiers other than the ＩＤコード (issue 15)
            body = page.locator("body").inner_text()
            for term in ("保全措置", "情報連携基盤の記録", "機関の識別子"):
                assert term in body, term
            assert not glossary_variants(page), glossary_variants(page)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.screenshot(path=str(tmp_path / "auditor.png"), full_page=True)
            page.locator("tr.hold button.lift").click()
            page.wait_for_url("**/auditor/ui/dashboard")
            assert page.locator("tr.hold").count() == 0
            foreign = [u for u in requests if not u.startswith(served)]
            assert not foreign, f"the dashboard fetched from the network: {foreign}"
            # the nonce'd style sheet applies under the strict CSP; nothing was refused
            assert page.eval_on_selector("h1", "e => getComputedStyle(e).borderBottomStyle") == (
                "solid"
            )
            assert not blocked, blocked
        finally:
            browser.close()
    assert SCREENSHOT.stat().st_size > 1000
    with httpx.Client(base_url=served, timeout=10) as c:
        auth = {"Authorization": f"Bearer {world['tokens'][AUDITOR]}"}
        events = [e["event"] for e in c.get("/auditor/admin-logs", headers=auth).json()["entries"]]
    assert events.count("legal-hold-placed") == 1
    assert events.count("legal-hold-lifted") == 1
    assert "auditor-session" in events
