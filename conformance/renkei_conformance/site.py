"""The catalog as a small bilingual static site (``renkei spec render --html DIR``).

For the regulator (issue 15, item 7): an index with the traceability matrix — seed
item → requirement → kit test → what the test asserts (its title in
specs/conformance-tests.json) — one page per requirement with English and Japanese
side by side, and the glossary (specs/glossary.yaml).  Plain HTML: no JavaScript, no
external resources; every page carries a Content-Security-Policy that allows only
its own inline stylesheet (by hash), so the site also works opened from disk.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from .spec import Catalog, GlossaryTerm, Requirement

__all__ = ["SEED_CLAUSES", "KitTest", "kit_tests_from_registry", "write_site"]

# Seed item → its clause in the draft, or its heading for items 31-33, which have none.
SEED_CLAUSES: dict[int, str] = {
    1: "第１．１．（１）",
    2: "第１．１．（２）",
    3: "第１．２．（１）",
    4: "第１．２．（２）",
    5: "第１．２．（３）",
    6: "第１．３．（１）",
    7: "第１．３．（２）",
    8: "第１．３．（３）",
    9: "第１．３．（４）",
    10: "第１．３．（５）",
    11: "第１．３．（６）",
    12: "第１．３．（７）",
    13: "第１．４．（１）",
    14: "第１．４．（２）",
    15: "第１．４．（３）",
    16: "第１．４．（４）",
    17: "第１．５．（１）",
    18: "第１．５．（２）",
    19: "第１．５．（３）",
    20: "第１．５．（４）①",
    21: "第１．５．（４）②",
    22: "第１．５．（４）③",
    23: "第１．６．（１）",
    24: "第１．６．（２）",
    25: "第１．６．（３）",
    26: "第１．６．（４）",
    27: "第１．６．（５）",
    28: "第１．７．（１）",
    29: "第１．７．（２）",
    30: "第１．８．",
    31: "個人認証とマイポータル・ＩＣカード等の活用",
    32: "法人に対する付番",
    33: "その他",
}

_CSS = """body{font-family:system-ui,"Noto Sans CJK JP",sans-serif;margin:1.5em auto;
max-width:72em;padding:0 1em;line-height:1.55;color:#1f2328}
a{color:#0550ae}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top;text-align:left}
th{background:#f6f8fa}th[id^=item-]{min-width:7em}
.pair{display:grid;grid-template-columns:1fr 1fr;gap:1.5em}
.pair>div{border-top:3px solid #d0d7de;padding-top:.3em}.pair h3{margin:.2em 0}
.meta{color:#57606a}code{font-size:.95em}nav{margin:.5em 0 1em}
.none{color:#cf222e}small{color:#57606a}.id{white-space:nowrap}"""
_CSS_HASH = base64.b64encode(hashlib.sha256(_CSS.encode()).digest()).decode()
CSP = (
    f"default-src 'none'; style-src 'sha256-{_CSS_HASH}'; img-src 'none'; "
    "script-src 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True, slots=True)
class KitTest:
    """A published kit test (specs/conformance-tests.json)."""

    test_id: str
    requirements: tuple[str, ...]
    title: str


def kit_tests_from_registry(text: str) -> tuple[KitTest, ...]:
    """The kit tests still in force, from the text of specs/conformance-tests.json."""
    rows = json.loads(text)["tests"]
    return tuple(
        KitTest(r["test_id"], tuple(r["requirements"]), r["title"])
        for r in rows
        if not r.get("retired")
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _rst(text: str) -> str:
    """Escaped text with the ``literal`` markup of test docstrings as <code>."""
    return re.sub(r"``(.+?)``", r"<code>\1</code>", _e(text))


def _page(title: str, body: str, *, up: str = "") -> str:
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(CSP)}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        f'<nav><a href="{up}index.html">Index ／ 索引</a> · '
        f'<a href="{up}glossary.html">Glossary ／ 用語集</a></nav>\n{body}\n</body>\n</html>\n'
    )


def _req_href(rid: str, up: str = "") -> str:
    return f"{up}req/{rid}.html"


def _item_label(item: int) -> str:
    where = SEED_CLAUSES[item]
    return f"項番{item}（{where}）" if item <= 30 else f"項番{item}「{where}」"


def _pair(heading_en: str, heading_ja: str, en: str, ja: str) -> str:
    return (
        '<section class="pair">'
        f'<div lang="en"><h3>{_e(heading_en)}</h3><p>{_e(" ".join(en.split()))}</p></div>'
        f'<div lang="ja"><h3>{_e(heading_ja)}</h3><p>{_e(ja.strip())}</p></div></section>'
    )


def _matrix_rows(catalog: Catalog, tests: tuple[KitTest, ...]) -> Iterable[str]:
    by_req = {r.id: [t for t in tests if r.id in t.requirements] for r in catalog}
    for item in range(1, 34):
        reqs = [r for r in catalog if item in r.seed_items]
        spans = [max(1, len(by_req[r.id])) for r in reqs]
        first_item = True
        for r, span in zip(reqs, spans, strict=True):
            kit: list[KitTest | None] = [*by_req[r.id]] or [None]
            for i, t in enumerate(kit):
                cells = []
                if first_item:
                    cells.append(
                        f'<th id="item-{item}" rowspan="{sum(spans)}" lang="ja">'
                        f"{_e(_item_label(item))}</th>"
                    )
                    first_item = False
                if i == 0:
                    cells.append(
                        f'<td rowspan="{span}"><a href="{_req_href(r.id)}">{_e(r.id)}</a> '
                        f"{_e(r.level)}<br>{_e(r.title)}<br>"
                        f'<span lang="ja">{_e(r.title_ja)}</span></td>'
                    )
                if t is None:
                    how = "review" if r.verification == "review" else r.verification
                    cells.append(f'<td colspan="2" class="meta">no kit test — {_e(how)}</td>')
                else:
                    cells.append(
                        f'<td class="id"><a href="{_req_href(r.id)}#{_e(t.test_id)}">'
                        f"{_e(t.test_id)}</a></td><td>{_rst(t.title)}</td>"
                    )
                yield "<tr>" + "".join(cells) + "</tr>"
        if not reqs:
            yield (
                f'<tr><th id="item-{item}" lang="ja">{_e(_item_label(item))}</th>'
                '<td colspan="3" class="none">no requirement</td></tr>'
            )


def _index(catalog: Catalog, tests: tuple[KitTest, ...]) -> str:
    reqs = list(catalog)
    profiles = "".join(
        f"<tr><td><code>{_e(pid)}</code></td><td>{_e(' '.join(p['en'].split()))}</td>"
        f'<td lang="ja">{_e(p["ja"].strip())}</td></tr>'
        for pid, p in catalog.profiles.items()
    )
    listing = "".join(
        f'<li><a href="{_req_href(r.id)}">{_e(r.id)}</a> {_e(r.level)} — {_e(r.title)} ／ '
        f'<span lang="ja">{_e(r.title_ja)}</span></li>'
        for r in reqs
    )
    body = (
        f"<h1>{_e(catalog.title)}</h1>"
        f'<p class="meta">Catalog version {_e(catalog.version)} · {len(reqs)} requirements · '
        f"{len(tests)} kit tests. Generated by <code>renkei spec render --html</code> from "
        "specs/requirements.yaml, specs/conformance-tests.json and specs/glossary.yaml.</p>"
        '<p lang="ja" class="meta">要件カタログ（specs/requirements.yaml）、適合性試験の一覧'
        "及び用語集から生成した。各要件の頁に英語及び日本語を並べて示す。</p>"
        "<h2>Profiles ／ プロファイル</h2><table><tr><th>profile</th><th>English</th>"
        f"<th>日本語</th></tr>{profiles}</table>"
        "<h2>Traceability matrix ／ 追跡表</h2>"
        "<p>Seed item (the 2011 draft 「主要な論点リスト（案）」) → requirement → kit test → "
        "what the test asserts.</p>"
        '<table id="matrix"><tr><th>Seed item ／ 項番</th><th>Requirement ／ 要件</th>'
        "<th>Kit test</th><th>What the test asserts</th></tr>"
        + "".join(_matrix_rows(catalog, tests))
        + f"</table><h2>Requirements ／ 要件</h2><ul>{listing}</ul>"
    )
    return _page(f"{catalog.title}", body)


def _requirement_page(
    r: Requirement, tests: tuple[KitTest, ...], others: list[str], prev: str, nxt: str
) -> str:
    kit = [t for t in tests if r.id in t.requirements]
    items = ", ".join(
        f'<a href="../index.html#item-{i}" lang="ja">{_e(_item_label(i))}</a>' for i in r.seed_items
    )
    kit_html = (
        "".join(
            f'<tr id="{_e(t.test_id)}"><td class="id"><code>{_e(t.test_id)}</code></td>'
            f"<td>{_rst(t.title)}</td></tr>"
            for t in kit
        )
        or f'<tr><td colspan="2" class="meta">none — verified by {_e(r.verification)}</td></tr>'
    )
    other_html = (
        f"<p>Also verified by the repository's tests: {', '.join(map(_e, others))}</p>"
        if others
        else ""
    )
    decision = (
        _pair("Decision", "決定", r.decision_en, r.decision_ja or "") if r.decision_en else ""
    )
    links = " · ".join(
        f'<a href="{_e(href)}.html">{label}</a>'
        for href, label in ((prev, "← previous"), (nxt, "next →"))
        if href
    )
    body = (
        f"<h1>{_e(r.id)}</h1>"
        f'<section class="pair"><div lang="en"><h2>{_e(r.title)}</h2></div>'
        f'<div lang="ja"><h2>{_e(r.title_ja)}</h2></div></section>'
        f'<p class="meta">{_e(r.level)} · profiles: {_e(", ".join(r.profiles))} · '
        f"seed items: {items} · verified by {_e(r.verification)}</p>"
        + _pair("Requirement", "要件", r.text_en, r.text_ja)
        + _pair("Rationale", "理由", r.rationale, r.rationale_ja)
        + decision
        + "<h2>Kit tests ／ 適合性試験</h2>"
        f"<table><tr><th>Test</th><th>What it asserts</th></tr>{kit_html}</table>"
        f"{other_html}<p>{links}</p>"
    )
    return _page(f"{r.id} — {r.title}", body, up="../")


def _glossary_page(terms: tuple[GlossaryTerm, ...]) -> str:
    rows = []
    for t in terms:
        avoid = "".join(
            f"<li><code>{_e(a.example)}</code> ({_e(a.lang)}): {_e(a.why)}</li>" for a in t.avoid
        )
        note = f"<br><small>{_e(t.note_en)}</small>" if t.note_en else ""
        note_ja = f'<br><small lang="ja">{_e(t.note_ja.strip())}</small>' if t.note_ja else ""
        rows.append(
            f'<tr id="{_e(t.id)}"><td lang="ja" class="id"><b>{_e(t.ja)}</b></td>'
            f'<td class="id"><b>{_e(t.en)}</b></td>'
            f'<td lang="ja">{_e(t.definition_ja)}{note_ja}</td><td>{_e(t.definition_en)}{note}</td>'
            f'<td lang="ja">{_e(t.seed or "—")}</td><td><ul>{avoid}</ul></td></tr>'
        )
    body = (
        "<h1>Glossary ／ 用語集</h1><p>One Japanese and one English term per concept; the "
        "catalog uses these and none of the variants listed (specs/glossary.yaml).</p>"
        '<p lang="ja">一の概念に一の日本語及び一の英語の用語を定める。要件カタログはこれらの'
        "用語を用い、右欄の用語は用いない。</p>"
        "<table><tr><th>日本語</th><th>English</th><th>定義</th><th>Definition</th>"
        f"<th>原案 (seed)</th><th>Not used (example: why)</th></tr>{''.join(rows)}</table>"
    )
    return _page("Glossary ／ 用語集", body)


def write_site(
    out: Path,
    catalog: Catalog,
    tests: tuple[KitTest, ...],
    glossary: tuple[GlossaryTerm, ...],
    repository_tests: dict[str, list[str]] | None = None,
) -> list[Path]:
    """Write the site into ``out``; return the files written."""
    pages: dict[Path, str] = {
        out / "index.html": _index(catalog, tests),
        out / "glossary.html": _glossary_page(glossary),
    }
    ids = [r.id for r in catalog]
    for i, r in enumerate(catalog):
        prev = ids[i - 1] if i > 0 else ""
        nxt = ids[i + 1] if i + 1 < len(ids) else ""
        others = (repository_tests or {}).get(r.id, [])
        pages[out / "req" / f"{r.id}.html"] = _requirement_page(r, tests, others, prev, nxt)
    (out / "req").mkdir(parents=True, exist_ok=True)
    for path, text in pages.items():
        path.write_text(text, encoding="utf-8")
    return list(pages)
