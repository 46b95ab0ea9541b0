"""The HTML report: verdict, outcomes, the requirement traceability matrix and the
review items for the regulator (specs/review/checklist.yaml)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from .spec import load_catalog

__all__ = ["figures_text", "write_html"]

_COLOURS = {
    "passed": "#1a7f37",
    "failed": "#cf222e",
    "error": "#cf222e",
    "xpassed": "#cf222e",
    "warning": "#9a6700",
    "xfailed": "#6e7781",
    "not_applicable": "#6e7781",
    "review": "#0969da",
}


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _restart(target: dict[str, Any]) -> str:
    """The target's restart capability, as the report states it (CT-DUR-…)."""
    restart = target.get("restart")
    if isinstance(restart, dict):
        return "declared: " + " ".join(str(p) for p in restart.get("command", []))
    return str(restart or "not declared: the restart tests (CT-DUR-…) are not applicable")


def figures_text(value: Any) -> str:
    """A measurement on one line: ``key value`` pairs, nested ones flattened."""
    if not isinstance(value, dict):
        return str(value)
    return ", ".join(f"{k} {figures_text(v)}" for k, v in value.items() if v is not None)


def _measurements(measured: dict[str, Any]) -> str:
    """The figures the run measured (CT-PERF-…: linkages/s and latency per log size)."""
    if not measured:
        return ""
    rows = "".join(
        f"<tr><td><code>{_esc(test_id)}</code></td><td>{_esc(what)}</td>"
        f"<td>{_esc(figures_text(value))}</td></tr>"
        for test_id, figures in sorted(measured.items())
        for what, value in figures.items()
    )
    return (
        f"<h2>Measured</h2><table><tr><th>Test</th><th>What</th><th>Figures</th></tr>{rows}</table>"
    )


def _outside(row: dict[str, Any] | None) -> str:
    """What verifies a requirement whose verification is not this kit's (contract,
    property, review): the repository's tests, stated beside the run's results."""
    if row is None:
        return ""
    tests = row.get("repository_tests") or []
    listed = "".join(f"<li><code>{_esc(t)}</code></li>" for t in tests) or "<li>none</li>"
    return (
        f'<details><summary style="color:{_COLOURS["review"]}">verified by '
        f"{_esc(row['verification'])} outside this run: {len(tests)} test(s)</summary>"
        f"<ul>{listed}</ul></details>"
    )


def write_html(report: dict[str, Any], path: Path) -> None:
    catalog = load_catalog()
    by_req: dict[str, list[dict[str, Any]]] = {}
    for r in report["results"]:
        for rid in r["requirements"]:
            by_req.setdefault(rid, []).append(r)
    s = report["summary"]
    verdict = "FAIL" if s.get("failed") or s.get("errors") or s.get("xpassed") else "PASS"
    if not (report.get("completeness") or {}).get("complete", True):
        verdict += " — partial run: not every test of the declared profiles ran (no certification)"
    outside = {row["requirement"]: row for row in report.get("outside_the_kit") or []}
    rows = []
    for req in catalog:
        results = by_req.get(req.id, [])
        cells = (
            " ".join(
                f'<span style="color:{_COLOURS.get(r["outcome"], "#000")}" '
                f'title="{_esc(r["message"])}">'
                f"{_esc(r['test_id'])}: {_esc(r['outcome'])}</span>"
                for r in results
            )
            or '<span style="color:#6e7781">not exercised by this run</span>'
        ) + _outside(outside.get(req.id))
        rows.append(
            f"<tr><td><code>{_esc(req.id)}</code></td><td>{_esc(req.level)}</td>"
            f"<td>{_esc(', '.join(map(str, req.seed_items)))}</td>"
            f"<td>{_esc(req.title)}<br><span lang='ja'>{_esc(req.title_ja)}</span>"
            f"<br><small lang='ja'>{_esc(req.text_ja)}</small>"
            f"<details><summary>Rationale / 理由</summary><p>{_esc(req.rationale)}</p>"
            f"<p lang='ja'>{_esc(req.rationale_ja)}</p></details></td>"
            f"<td>{cells}</td></tr>"
        )
    failures = [r for r in report["results"] if r["outcome"] in ("failed", "error", "xpassed")]
    fail_html = (
        "".join(
            f"<li><code>{_esc(r['test_id'])}</code> ({_esc(', '.join(r['requirements']))}): "
            f"<pre>{_esc(r['message'])}</pre>"
            + (
                f"<p>reproduce: <code>{_esc(r['reproduce'])}</code></p>"
                if r.get("reproduce")
                else ""
            )
            + "</li>"
            for r in failures
        )
        or "<li>none</li>"
    )
    causes_html = "".join(
        f"<li><code>{_esc(c['requirement'])}</code>: {len(c['tests'])} test(s) "
        f"({_esc(', '.join(c['tests'][:8]))}{' …' if len(c['tests']) > 8 else ''}), "
        f"first at <code>{_esc(c['request'])}</code>: {_esc(c['message'])}</li>"
        for c in report.get("root_causes") or []
    )
    review_html = "".join(
        f"<tr><td><code>{_esc(i['id'])}</code></td><td><code>{_esc(i['requirement'])}</code></td>"
        f"<td>{_esc(', '.join(map(str, i['seed_items'])))}</td><td>{_esc(i['check'])}</td>"
        f"<td>{_esc(i['en'])}<br><small lang='ja'>{_esc(i['ja'])}</small>"
        + (f"<br><small>evidence: {_esc(i['evidence'])}</small>" if i.get("evidence") else "")
        + f'</td><td style="color:{_COLOURS["review"]}">review</td></tr>'
        for i in report.get("review", [])
    )
    summary = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in s.items() if v)
    env = report.get("kit_environment") or {}
    deps = env.get("dependencies") or {}
    dep_text = ", ".join(f"{name} {version}" for name, version in deps.items())
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>renkei conformance report — {_esc(report["target"]["name"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #d0d7de;padding:4px 8px;vertical-align:top}}</style></head><body>
<h1>renkei conformance report</h1>
<p>Target <b>{_esc(report["target"]["name"])}</b>
({_esc(report["target"].get("transport", report["target"]["kind"]))}),
suite {_esc(report["suite_version"])}, spec {_esc(report["spec_version"])},
{_esc(report["duration_s"])} s.</p>
<p>Restart capability: {_esc(_restart(report["target"]))}</p>
<details><summary>Kit environment: Python {_esc(env.get("python", "?"))},
{len(deps)} dependencies</summary><p>{_esc(dep_text)}</p></details>
<h2>Verdict: {verdict}</h2><p>{_esc(summary)}</p>
{_measurements(report.get("measurements") or {})}
{f"<h2>Root causes</h2><ul>{causes_html}</ul>" if causes_html else ""}
<h2>Failures</h2><ul>{fail_html}</ul>
<h2>Traceability matrix</h2>
<table><tr><th>Requirement</th><th>Level</th><th>Seed items</th><th>Text</th><th>Tests</th></tr>
{"".join(rows)}</table>
<h2>Review items for the regulator</h2>
<p>Requirements verified by review (specs/review/checklist.yaml): not judged by this run,
neither passed nor failed; automated items have kit tests whose results above are evidence.</p>
<table><tr><th>Item</th><th>Requirement</th><th>Seed items</th><th>Check</th><th>Text</th>
<th>Status</th></tr>
{review_html}</table></body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
