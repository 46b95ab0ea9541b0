"""`renkei spec render --html DIR`: the catalog as a bilingual static site for the
regulator, checked in a real browser (issue 15, item 7).

The site is rendered into a temporary folder by the command a user runs and opened
from disk with Playwright driving Debian's Chromium (/usr/bin/chromium; nothing is
downloaded).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urljoin

import pytest

from renkei_conformance.site import CSP, SEED_CLAUSES
from renkei_conformance.spec import load_catalog, load_glossary

from .conftest import run_renkei

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOT = Path("/tmp/renkei-spec-site.png")
REQUIREMENT = "RK-LOG-002"  # has a decision, kit tests and glossary terms


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = run_renkei("spec", "render", "--html", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_the_site_has_a_page_per_requirement_an_index_and_the_glossary(site: Path) -> None:
    catalog = load_catalog()
    assert (site / "index.html").is_file()
    assert (site / "glossary.html").is_file()
    assert sorted(p.stem for p in (site / "req").glob("*.html")) == sorted(r.id for r in catalog)


def test_no_javascript_no_external_resources_and_a_strict_csp_on_every_page(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert "<script" not in text.lower(), page
        assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", text), page
        assert f'http-equiv="Content-Security-Policy" content="{CSP}"'.replace("'", "&#x27;") in (
            text
        ), page
    assert "default-src 'none'" in CSP
    assert "script-src 'none'" in CSP
    assert "unsafe-inline" not in CSP


def test_the_seed_table_of_the_site_agrees_with_every_requirements_clauses() -> None:
    for r in load_catalog():
        expected = {SEED_CLAUSES[i].rstrip("①②③") for i in r.seed_items if i <= 30}
        assert expected == set(r.clauses), r.id


def _launch(pw: Any) -> Any:
    return pw.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
        ],
    )


@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium (apt-get install)")
def test_in_a_browser_a_requirement_shows_both_languages_and_the_matrix_links_resolve(
    site: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    req = load_catalog()[REQUIREMENT]
    index_url = (site / "index.html").as_uri()
    refused: list[str] = []
    with sync_playwright() as pw:
        browser = _launch(pw)
        try:
            page = browser.new_page()
            page.on(
                "console",
                lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
            )
            page.goto(index_url)
            # The inline stylesheet is allowed by its hash: tables get their borders.
            border = page.eval_on_selector("#matrix td", "e => getComputedStyle(e).borderTopStyle")
            assert border == "solid"
            # The matrix: a row per seed item, requirement and kit test.
            for item in range(1, 34):
                assert page.locator(f"#item-{item}").count() == 1, item
            assert page.locator("#matrix a[href*='#CT-']").count() > 0
            hrefs = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
            targets = {urldefrag(h) for h in hrefs}
            assert all(u.startswith("file://") for u, _ in targets), "a link leaves the site"
            for url, fragment in sorted(targets):
                page.goto(url)
                if fragment:
                    assert page.locator(f"[id='{fragment}']").count() == 1, f"{url}#{fragment}"
                else:
                    assert page.title(), url

            # A requirement page: English and Japanese side by side.
            page.goto(index_url)
            page.click(f"#matrix a[href='req/{REQUIREMENT}.html']")
            assert page.url == urljoin(index_url, f"req/{REQUIREMENT}.html")
            english = page.locator("[lang='en']").all_inner_texts()
            japanese = page.locator("[lang='ja']").all_inner_texts()
            assert any(req.title in t for t in english)
            assert any(req.title_ja in t for t in japanese)
            assert any(" ".join(req.text_en.split())[:60] in t for t in english)
            assert any(req.text_ja.strip()[:40] in t for t in japanese)
            assert any(req.rationale_ja.strip()[:40] in t for t in japanese)
            # Side by side: the Japanese column starts level with the English one.
            en_box = page.locator("section.pair > div").nth(2).bounding_box()
            ja_box = page.locator("section.pair > div").nth(3).bounding_box()
            assert en_box is not None
            assert ja_box is not None
            assert ja_box["x"] > en_box["x"] + en_box["width"] / 2
            assert abs(ja_box["y"] - en_box["y"]) < 2
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.screenshot(path=str(tmp_path / "requirement.png"), full_page=True)

            page.click("text=Glossary ／ 用語集")
            for term in load_glossary():
                assert page.locator(f"[id='{term.id}']").inner_text().startswith(term.ja)
        finally:
            browser.close()
    assert not refused, refused
