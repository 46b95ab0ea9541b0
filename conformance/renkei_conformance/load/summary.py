"""From Locust's CSV output to the bench result, and the verdict against a profile.

Pure functions over rows (no Locust import): the result is JSON-ready.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from ..spec import SpecError, _validated, spec_root

__all__ = [
    "LINKAGE",
    "floor_section",
    "headline",
    "load_floor_rule",
    "load_profile",
    "median_run",
    "summarise",
    "verdict",
]

LINKAGE = ("LINKAGE", "end-to-end")  # the pseudo-request the locustfile reports
PERCENTILES = {"p50_ms": "50%", "p95_ms": "95%", "p99_ms": "99%", "max_ms": "100%"}


def _num(value: str | None) -> float | None:
    if value in (None, "", "N/A"):
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _row_stats(row: dict[str, str]) -> dict[str, Any]:
    count = int(_num(row.get("Request Count")) or 0)
    failures = int(_num(row.get("Failure Count")) or 0)
    out: dict[str, Any] = {
        "count": count,
        "failures": failures,
        "per_s": round(_num(row.get("Requests/s")) or 0.0, 2),
        "mean_ms": round(_num(row.get("Average Response Time")) or 0.0, 1),
    }
    for key, col in PERCENTILES.items():
        out[key] = _num(row.get(col))
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def summarise(
    stats_rows: list[dict[str, str]], history_rows: list[dict[str, str]]
) -> dict[str, Any]:
    """Linkages, per-request figures, error rate and a per-second timeline."""
    requests: dict[str, Any] = {}
    linkage: dict[str, Any] = _row_stats({})
    for row in stats_rows:
        key = (row.get("Type", ""), row.get("Name", ""))
        if key == LINKAGE:
            linkage = _row_stats(row)
        elif row.get("Name") != "Aggregated":
            requests[f"{key[0]} {key[1]}".strip()] = _row_stats(row)
    total = sum(r["count"] for r in requests.values())
    failed = sum(r["failures"] for r in requests.values())
    refused = requests.get("POST /queries (refused)", {}).get("count", 0)
    allowed = requests.get("POST /queries (allowed)", {}).get("count", 0)
    return {
        "linkages": linkage,
        "queries": {"allowed": allowed, "refused": refused},
        "requests": requests,
        "requests_total": total,
        "requests_failed": failed,
        "error_rate": round(failed / total, 6) if total else None,
        "timeline": timeline(history_rows),
    }


def timeline(rows: list[dict[str, str]]) -> list[dict[str, Any]]:
    """One point per second: linkages/s and rolling linkage percentiles (Locust's
    current window), all requests/s and errors/s."""
    points: dict[int, dict[str, Any]] = {}
    for row in rows:
        ts = _num(row.get("Timestamp"))
        if ts is None:
            continue
        point = points.setdefault(int(ts), {"t": int(ts)})
        key = (row.get("Type", ""), row.get("Name", ""))
        if key == LINKAGE:
            point["linkages_per_s"] = _num(row.get("Requests/s")) or 0.0
            for k, col in PERCENTILES.items():
                point[k] = _num(row.get(col))
            point["linkages_total"] = int(_num(row.get("Total Request Count")) or 0)
        elif row.get("Name") == "Aggregated":
            point["requests_per_s"] = _num(row.get("Requests/s")) or 0.0
            point["failures_per_s"] = _num(row.get("Failures/s")) or 0.0
            point["users"] = int(_num(row.get("User Count")) or 0)
    if not points:
        return []
    start = min(points)
    out = []
    for t in sorted(points):
        p = points[t]
        p["t"] = t - start
        out.append(p)
    return out


def _profiles() -> dict[str, Any]:
    root = spec_root()
    data: dict[str, Any] = _validated(
        root / "benchmarks" / "national-profile.yaml",
        root / "schemas" / "national-profile.schema.json",
        "national profile",
    )
    return data


def load_floor_rule() -> dict[str, Any]:
    """The file's ``floor`` member: the least share of the floor's linkages/s a
    hub must sustain on the same machine and stack."""
    return dict(_profiles()["floor"])


def load_profile(profile_id: str | None = None) -> dict[str, Any]:
    """A profile of specs/benchmarks/national-profile.yaml (the default one if None)."""
    data = _profiles()
    wanted = profile_id or data["default"]
    for p in data["profiles"]:
        if p["id"] == wanted:
            return dict(p)
    known = ", ".join(p["id"] for p in data["profiles"])
    raise SpecError(f"no national profile {wanted!r} (known: {known})")


HEADLINE = ("count", "per_s", "p50_ms", "p95_ms", "p99_ms", "max_ms")


def headline(summary: dict[str, Any]) -> dict[str, Any]:
    """A run's linkage figures and error rate, for the per-repeat list."""
    out = {
        **{k: summary["linkages"][k] for k in HEADLINE},
        "error_rate": summary["error_rate"],
    }
    if "server_cpu_ms" in summary["linkages"]:
        out["server_cpu_ms"] = summary["linkages"]["server_cpu_ms"]
    return out


def median_run(summaries: list[dict[str, Any]]) -> int:
    """Index of the run with the median linkages/s (the lower median)."""
    order = sorted(range(len(summaries)), key=lambda i: summaries[i]["linkages"]["per_s"])
    return order[(len(order) - 1) // 2]


def _ratio(target: float | None, floor: float | None) -> float | None:
    if target is None or not floor:
        return None
    return round(target / floor, 3)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def floor_section(pairs: list[dict[str, Any]], rule: dict[str, Any]) -> dict[str, Any]:
    """The floor's figures (median run) and target/floor ratios: per back-to-back
    pair, then their median and spread.  Throughput ratio ≥ the rule is the goal;
    latency ratios are informative (how many times the floor's latency)."""
    floors = [p["floor"] for p in pairs]
    keys = {"linkages_per_s": "per_s", "p50_ms": "p50_ms", "p95_ms": "p95_ms", "p99_ms": "p99_ms"}
    per_pair = [
        {
            k: _ratio(p["target"]["linkages"][col], p["floor"]["linkages"][col])
            for k, col in keys.items()
        }
        for p in pairs
    ]
    ratios: dict[str, Any] = {}
    spread: dict[str, Any] = {}
    for k in keys:
        got = [v for r in per_pair if (v := r[k]) is not None]
        med = _median(got)
        ratios[k] = None if med is None else round(med, 3)
        spread[k] = [min(got), max(got)] if got else None
    chosen = floors[median_run(floors)]
    return {
        "server": "bare two-hop relay: uvicorn + FastAPI, same TLS, payload and request shapes",
        "linkages": chosen["linkages"],
        "error_rate": chosen["error_rate"],
        "target_over_floor": ratios,
        "ratio_spread": spread,
        "pair_ratios": per_pair,
        "min_linkages_ratio": rule["min_linkages_ratio"],
    }


def verdict(result: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Pass iff sustained linkages/s, p99 and the error rate all meet the profile
    (and, when the floor was measured, linkages/s reach its share of the floor)."""
    link = result["linkages"]
    rate = float(link.get("per_s") or 0.0)
    p99 = link.get("p99_ms")
    err = result.get("error_rate")
    link_fail = link["failures"] / link["count"] if link["count"] else 1.0
    error_rate = max(float(err if err is not None else 1.0), link_fail)
    checks = [
        {
            "what": "sustained linkages/s",
            "measured": rate,
            "required": f">= {profile['linkages_per_second']}",
            "pass": rate >= profile["linkages_per_second"],
        },
        {
            "what": "p99 end-to-end linkage latency (ms)",
            "measured": p99,
            "required": f"<= {profile['p99_ms']}",
            "pass": p99 is not None and p99 <= profile["p99_ms"],
        },
        {
            "what": "error rate",
            "measured": round(error_rate, 6),
            "required": f"<= {profile['max_error_rate']}",
            "pass": error_rate <= profile["max_error_rate"],
        },
    ]
    floor = result.get("floor")
    if floor is not None:
        share = floor["target_over_floor"]["linkages_per_s"]
        checks.append(
            {
                "what": "linkages/s over the floor's (same machine, same stack)",
                "measured": share,
                "required": f">= {floor['min_linkages_ratio']}",
                "pass": share is not None and share >= floor["min_linkages_ratio"],
            }
        )
    notes = []
    offered = result.get("shape", {}).get("rate") or 0
    if offered and offered < profile["linkages_per_second"]:
        notes.append(
            f"the offered rate ({offered}/s) is below the profile's "
            f"{profile['linkages_per_second']}/s: raise --rate (0 = as fast as possible)"
        )
    return {
        "profile": profile["id"],
        "pass": all(c["pass"] for c in checks),
        "checks": checks,
        "notes": notes,
    }


def _processes(result: dict[str, Any]) -> str:
    n = int(result.get("processes", 1))
    return f"; hub and floor on {n} processes each" if n > 1 else ""


def render_text(result: dict[str, Any]) -> str:
    link = result["linkages"]
    shape = result["shape"]
    lines = [
        f"renkei bench: {result['target']['name']} ({result['engine']['name']} "
        f"{result['engine']['version']}, {result['engine']['workers']} worker(s)"
        f"{_processes(result)})",
        f"  load: {shape['persons']} persons, {shape['agencies']} agencies, "
        f"{shape['requester_users']} requester + {shape['provider_users']} provider users, "
        f"offered {shape['rate'] or 'max'} queries/s, {shape['refused_share']:.0%} refused, "
        f"{result['duration_s']:.0f} s",
        f"  linkages: {link['count']} completed, {link['per_s']:.1f}/s sustained; "
        f"p50 {link['p50_ms']} ms, p95 {link['p95_ms']} ms, p99 {link['p99_ms']} ms",
        f"  queries: {result['queries']['allowed']} allowed, "
        f"{result['queries']['refused']} refused;"
        f" requests {result['requests_total']}, failed {result['requests_failed']}"
        f" (error rate {result['error_rate']})",
    ]
    for name, r in sorted(result["requests"].items()):
        lines.append(
            f"    {name:<36} {r['count']:>8} {r['per_s']:>8.1f}/s  p50 {r['p50_ms']} "
            f"p95 {r['p95_ms']} p99 {r['p99_ms']} ms  failed {r['failures']}"
        )
    floor = result.get("floor")
    if floor is not None:
        f, r = floor["linkages"], floor["target_over_floor"]
        lines.append(
            f"  floor (bare relay, same stack): {f['per_s']:.1f} linkages/s; p50 {f['p50_ms']} ms,"
            f" p95 {f['p95_ms']} ms, p99 {f['p99_ms']} ms (error rate {floor['error_rate']})"
        )
        lines.append(
            f"  target/floor: linkages/s {r['linkages_per_s']}, p50 {r['p50_ms']}, "
            f"p95 {r['p95_ms']}, p99 {r['p99_ms']} (median of {len(floor['pair_ratios'])} "
            f"back-to-back pair(s); linkages/s spread {floor['ratio_spread']['linkages_per_s']})"
        )
    if len(result.get("repeats", [])) > 1:
        for i, rep in enumerate(result["repeats"], 1):
            legs = "; ".join(
                f"{leg} {x['per_s']:.1f}/s p50 {x['p50_ms']} p95 {x['p95_ms']} p99 {x['p99_ms']}"
                + (f" cpu {x['server_cpu_ms']} ms" if "server_cpu_ms" in x else "")
                for leg, x in rep.items()
            )
            lines.append(f"    run {i}: {legs}")
    cpu = [
        (rep["target"]["server_cpu_ms"], rep["floor"]["server_cpu_ms"])
        for rep in result.get("repeats", [])
        if "server_cpu_ms" in rep.get("target", {}) and "server_cpu_ms" in rep.get("floor", {})
    ]
    if cpu:
        lines.append(
            "  server CPU a linkage (its processes, from /proc): target "
            + ", ".join(f"{t} ms" for t, _ in cpu)
            + "; floor "
            + ", ".join(f"{f} ms" for _, f in cpu)
            + "; floor/target "
            + ", ".join(f"{f / t:.3f}" for t, f in cpu if t)
        )
    if result.get("setup_s") is not None:
        lines.append(f"  setup: {result['setup_s']} s")
    v = result["verdict"]
    lines.append(f"  verdict against profile {v['profile']!r}: {'PASS' if v['pass'] else 'FAIL'}")
    for c in v["checks"]:
        lines.append(
            f"    [{'ok' if c['pass'] else 'FAIL'}] {c['what']}: {c['measured']} "
            f"(required {c['required']})"
        )
    lines += [f"    note: {n}" for n in v["notes"]]
    return "\n".join(lines)
