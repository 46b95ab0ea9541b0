"""Pictures of a bench run: latency percentiles, throughput and errors over time.

matplotlib (the ``[load]`` extra) draws one PNG with three panels; the HTML
report embeds it beside the figures and the verdict.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path
from typing import Any

__all__ = ["write_html", "write_png"]


def write_png(result: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = result["timeline"]
    t = [p["t"] for p in points]
    fig, (ax_lat, ax_tp, ax_err) = plt.subplots(3, 1, figsize=(9, 9), sharex=True)
    title = (
        f"renkei bench — {result['target']['name']}: {result['linkages']['per_s']:.1f} linkages/s, "
        f"p99 {result['linkages']['p99_ms']} ms, verdict "
        f"{'PASS' if result['verdict']['pass'] else 'FAIL'} ({result['verdict']['profile']})"
    )
    floor = result.get("floor")
    if floor is not None:
        ratio = floor["target_over_floor"]["linkages_per_s"]
        title += (
            f"\nfloor (bare relay, same stack): {floor['linkages']['per_s']:.1f} linkages/s, "
            f"p99 {floor['linkages']['p99_ms']} ms — target/floor {ratio}"
        )
    fig.suptitle(title, fontsize=10)
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        ax_lat.plot(t, [p.get(key) for p in points], label=label, marker=".")
    ax_lat.set_ylabel("linkage latency (ms)\nrolling window")
    ax_lat.legend(loc="upper left")
    ax_lat.grid(alpha=0.3)
    ax_tp.plot(t, [p.get("linkages_per_s", 0) for p in points], label="linkages/s", marker=".")
    ax_tp.plot(t, [p.get("requests_per_s", 0) for p in points], label="HTTP requests/s", alpha=0.6)
    target = result["profile"]["linkages_per_second"]
    ax_tp.axhline(target, color="red", linestyle="--", label=f"profile {target}/s")
    if floor is not None:
        ax_tp.axhline(
            floor["linkages"]["per_s"], color="grey", linestyle=":", label="floor linkages/s"
        )
    ax_tp.set_ylabel("throughput (/s)")
    ax_tp.legend(loc="upper left")
    ax_tp.grid(alpha=0.3)
    err = [
        100.0 * p.get("failures_per_s", 0) / p["requests_per_s"] if p.get("requests_per_s") else 0
        for p in points
    ]
    ax_err.plot(t, err, color="darkred", marker=".", label="errors")
    ax_err.axhline(
        100 * result["profile"]["max_error_rate"], color="red", linestyle="--", label="budget"
    )
    ax_err.set_ylabel("error rate (%)")
    ax_err.set_xlabel("time since start (s)")
    ax_err.legend(loc="upper left")
    ax_err.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_html(result: dict[str, Any], path: Path, png: Path) -> Path:
    e = html.escape
    picture = base64.b64encode(png.read_bytes()).decode()
    v = result["verdict"]
    checks = "".join(
        f"<tr><td>{e(c['what'])}</td><td>{e(str(c['measured']))}</td>"
        f"<td>{e(c['required'])}</td><td class={'ok' if c['pass'] else 'bad'}>"
        f"{'pass' if c['pass'] else 'FAIL'}</td></tr>"
        for c in v["checks"]
    )
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{r['count']}</td><td>{r['per_s']}</td><td>{r['p50_ms']}</td>"
        f"<td>{r['p95_ms']}</td><td>{r['p99_ms']}</td><td>{r['failures']}</td></tr>"
        for name, r in sorted(
            {"LINKAGE end-to-end": result["linkages"], **result["requests"]}.items()
        )
    )
    floor = result.get("floor")
    floor_html = ""
    if floor is not None:
        f, r = floor["linkages"], floor["target_over_floor"]
        t = result["linkages"]
        floor_html = (
            "<h2>Against the floor</h2><p>"
            + e(floor["server"])
            + "; measured back to back with the target.</p><table><tr><th></th>"
            "<th>linkages/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th></tr>"
            + "".join(
                f"<tr><td>{e(label)}</td><td>{x['per_s']}</td><td>{x['p50_ms']}</td>"
                f"<td>{x['p95_ms']}</td><td>{x['p99_ms']}</td></tr>"
                for label, x in (("target", t), ("floor", f))
            )
            + f"<tr><td>target/floor</td><td>{r['linkages_per_s']}</td><td>{r['p50_ms']}</td>"
            f"<td>{r['p95_ms']}</td><td>{r['p99_ms']}</td></tr></table>"
            f"<p>linkages/s ratio spread over {len(floor['pair_ratios'])} pair(s): "
            f"{e(str(floor['ratio_spread']['linkages_per_s']))}; required "
            f"&ge; {floor['min_linkages_ratio']}</p>"
        )
    doc = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>renkei bench</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:2px 8px;text-align:right}}
td:first-child{{text-align:left}}.ok{{color:green}}.bad{{color:#b00;font-weight:bold}}</style>
</head><body>
<h1>renkei bench: {e(result["target"]["name"])}</h1>
<p>Verdict against profile <b>{e(v["profile"])}</b>:
<b class={"ok" if v["pass"] else "bad"}>{"PASS" if v["pass"] else "FAIL"}</b></p>
<table><tr><th>check</th><th>measured</th><th>required</th><th></th></tr>{checks}</table>
{"".join(f"<p>note: {e(n)}</p>" for n in v["notes"])}
{floor_html}
<h2>Over time</h2><img alt="latency, throughput and errors over time"
 src="data:image/png;base64,{picture}">
<h2>Requests</h2>
<table><tr><th>name</th><th>count</th><th>/s</th><th>p50 ms</th><th>p95 ms</th>
<th>p99 ms</th><th>failed</th></tr>{rows}</table>
<h2>Run</h2><pre>{
        e(
            json.dumps(
                {k: result[k] for k in ("shape", "engine", "target")}, indent=2, ensure_ascii=False
            )
        )
    }</pre>
</body></html>
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path
