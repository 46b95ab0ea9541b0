"""The kit's HTML report shows each requirement's Japanese title and rationale beside
the English (issue 15, item 7: regulators read both)."""

from __future__ import annotations

import html
from pathlib import Path

from renkei_conformance.report import write_html
from renkei_conformance.spec import load_catalog


def test_the_html_report_shows_japanese_titles_and_rationales_beside_the_english(
    tmp_path: Path,
) -> None:
    catalog = load_catalog()
    req = catalog["RK-LOG-002"]
    report = {
        "target": {"name": "example", "kind": "http", "transport": "https"},
        "suite_version": "0",
        "spec_version": catalog.version,
        "duration_s": 1.0,
        "summary": {"passed": 1},
        "results": [
            {
                "test_id": "CT-LOG-001",
                "requirements": [req.id],
                "outcome": "passed",
                "message": "",
            }
        ],
    }
    out = tmp_path / "report.html"
    write_html(report, out)
    text = out.read_text(encoding="utf-8")
    row = text[text.index(f"<code>{req.id}</code>") :]
    row = row[: row.index("</tr>")]
    for value in (req.title, req.title_ja, req.rationale, req.rationale_ja):
        assert html.escape(value) in row, value[:40]
