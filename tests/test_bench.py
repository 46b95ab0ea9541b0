"""`renkei bench` (issue 7): the regression comparison, the national profiles,
the verdict, and a short real load run against the reference."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from benchmarks.compare import BASELINE, compare, main, ratios

from renkei_conformance.load.summary import load_profile, summarise, verdict

from .conftest import ROOT, run_renkei


def _report(**named: float | None) -> dict[str, Any]:
    return {
        "benchmarks": [
            {"fullname": name, "extra_info": {} if r is None else {"ratio": r}}
            for name, r in named.items()
        ]
    }


# -- the regression comparison ------------------------------------------------


def test_ratios_are_read_only_from_benchmarks_that_record_one() -> None:
    got = ratios(_report(a=0.8, b=None, c=1.2))
    assert got == {"a": 0.8, "c": 1.2}


def test_a_ratio_falling_by_more_than_20_percent_is_a_regression() -> None:
    rows = {
        r.name: r for r in compare({"a": 1.0, "b": 1.0, "c": 1.0}, {"a": 0.79, "b": 0.81, "c": 1.3})
    }
    assert rows["a"].status == "regressed"
    assert rows["a"].failed
    assert rows["b"].status == "ok"
    assert not rows["b"].failed
    assert rows["c"].status == "improved"
    assert not rows["c"].failed
    assert rows["a"].change == pytest.approx(-0.21)


def test_a_baseline_ratio_missing_from_the_run_fails_and_a_new_one_does_not() -> None:
    rows = {r.name: r for r in compare({"old": 0.5}, {"new": 0.5})}
    assert rows["old"].status == "missing"
    assert rows["old"].failed
    assert rows["new"].status == "new"
    assert not rows["new"].failed


def test_the_tolerance_is_configurable_and_checked() -> None:
    assert compare({"a": 1.0}, {"a": 0.85}, tolerance=0.1)[0].failed
    assert not compare({"a": 1.0}, {"a": 0.85}, tolerance=0.2)[0].failed
    with pytest.raises(ValueError, match="tolerance"):
        compare({"a": 1.0}, {"a": 1.0}, tolerance=1.5)


def test_the_command_passes_against_the_committed_baseline_and_fails_on_a_regression(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    baseline = json.loads(BASELINE.read_text(encoding="utf-8"))
    assert len(ratios(baseline)) >= 5, "the committed baseline records the paired ratios"
    assert main([str(BASELINE)]) == 0
    worse = json.loads(json.dumps(baseline))
    victim = next(b for b in worse["benchmarks"] if "ratio" in b["extra_info"])
    victim["extra_info"]["ratio"] *= 0.7
    run = tmp_path / "run.json"
    run.write_text(json.dumps(worse), encoding="utf-8")
    capsys.readouterr()
    assert main([str(run)]) == 1
    assert "regressed" in capsys.readouterr().out
    run.write_text("{}", encoding="utf-8")
    assert main([str(run)]) == 2


# -- the national profiles and the verdict -------------------------------------


def test_each_profile_follows_from_its_public_volume_and_peak_factor() -> None:
    data = yaml.safe_load(
        (ROOT / "specs" / "benchmarks" / "national-profile.yaml").read_text(encoding="utf-8")
    )
    assert load_profile()["id"] == data["default"]  # also validates against its schema
    for p in data["profiles"]:
        d = p["derivation"]
        if d["check"]:
            busy_mean = d["volume"] * d["busy_share"] / (d["days"] * d["busy_hours"] * 3600)
            assert p["linkages_per_second"] == pytest.approx(
                busy_mean * d["peak_factor"], rel=0.01
            ), p["id"]


def _result(per_s: float, p99: float, failures: int = 0) -> dict[str, Any]:
    stats = [
        {
            "Type": "LINKAGE",
            "Name": "end-to-end",
            "Request Count": "1000",
            "Failure Count": str(failures),
            "Requests/s": str(per_s),
            "50%": "20",
            "95%": "40",
            "99%": str(p99),
            "100%": str(p99 * 2),
            "Average Response Time": "25",
        },
        {
            "Type": "POST",
            "Name": "/queries (allowed)",
            "Request Count": "1000",
            "Failure Count": str(failures),
            "Requests/s": str(per_s),
        },
        {
            "Type": "POST",
            "Name": "/queries (refused)",
            "Request Count": "100",
            "Failure Count": "0",
            "Requests/s": "1",
        },
        {"Type": "", "Name": "Aggregated", "Request Count": "1100", "Failure Count": "0"},
    ]
    return {**summarise(stats, []), "shape": {"rate": 0}}


def test_the_verdict_needs_throughput_latency_and_errors_within_the_profile() -> None:
    profile = {"id": "t", "linkages_per_second": 100, "p99_ms": 500, "max_error_rate": 0.001}
    assert verdict(_result(120, 300), profile)["pass"]
    slow = verdict(_result(120, 700), profile)
    assert not slow["pass"]
    assert [c["pass"] for c in slow["checks"]] == [True, False, True]
    assert not verdict(_result(80, 300), profile)["pass"]
    assert not verdict(_result(120, 300, failures=5), profile)["pass"]


# -- a real, short load run ---------------------------------------------------


@pytest.mark.timeout(90)
@pytest.mark.skipif(
    importlib.util.find_spec("locust") is None or importlib.util.find_spec("matplotlib") is None,
    reason="the [load] extra (Locust, matplotlib) is not installed: pip install -e '.[dev,load]'",
)
def test_bench_against_the_reference_with_two_loopback_workers(tmp_path: Path) -> None:
    """Distributed mode (one master, two workers on loopback), a small population,
    a few seconds: the JSON carries the figures and they are plausible."""
    html = tmp_path / "bench.html"
    proc = run_renkei(
        "bench", "--target", "reference", "--duration", "4", "--persons", "60",
        "--agencies", "4", "--users", "4", "--workers", "2", "--profile", "jp-fy2022",
        "--json", "--html", str(html), "--png", str(tmp_path / "bench.png"),
        timeout=80,
    )  # fmt: skip
    assert proc.returncode in (0, 1), proc.stderr
    result = json.loads(proc.stdout)
    schema = json.loads((ROOT / "specs/schemas/bench-result.schema.json").read_text("utf-8"))
    jsonschema.validate(result, schema)
    assert result["engine"]["workers"] == 2
    # issue 7: the reference is loaded over HTTPS with mutual TLS, as it is served
    assert result["target"]["parties"]["hub"].startswith("https://")
    assert result["target"]["tls"]["operator"] is True
    link = result["linkages"]
    assert link["count"] > 20
    assert link["per_s"] > 5
    assert 0 < link["p50_ms"] <= link["p95_ms"] <= link["p99_ms"] <= link["max_ms"] < 10_000
    assert result["queries"]["allowed"] >= link["count"]
    assert result["queries"]["refused"] > 0
    assert result["error_rate"] == 0, result["requests"]
    assert result["timeline"]
    assert any(p.get("linkages_per_s") for p in result["timeline"])
    v = result["verdict"]
    assert v["profile"] == "jp-fy2022"
    assert proc.returncode == (0 if v["pass"] else 1)
    assert [c["what"] for c in v["checks"]] == [
        "sustained linkages/s", "p99 end-to-end linkage latency (ms)", "error rate"
    ]  # fmt: skip
    assert (tmp_path / "bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "data:image/png;base64," in html.read_text(encoding="utf-8")
