"""The ``renkei`` command as a user meets it: exit codes and one-line errors."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from .conftest import ROOT, run_renkei


def _one_clean_line(stderr: str) -> None:
    assert "Traceback" not in stderr
    assert len([line for line in stderr.splitlines() if line.strip()]) == 1, stderr


def test_unknown_target_is_a_usage_error() -> None:
    result = run_renkei("conformance", "run", "--target", "nonsense")
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "unknown target 'nonsense'" in result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("splink") is not None, reason="the [compare] extra is installed"
)
def test_compare_splink_without_splink_is_a_usage_error_before_any_work() -> None:
    result = run_renkei("binding", "bench", "--size", "1000000", "--compare-splink")
    assert result.returncode == 2
    assert "pip install -e '.[compare]'" in result.stderr
    assert result.stdout == ""  # refused before a million records were made


def test_unreachable_url_is_a_usage_error() -> None:
    result = run_renkei("conformance", "run", "--target", "http://127.0.0.1:9")
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "unreachable" in result.stderr


def test_malformed_target_file_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"renkei_target": 1, "parties": {"hub": "ftp://x"}}))
    result = run_renkei("conformance", "run", "--target", str(bad))
    assert result.returncode == 2
    _one_clean_line(result.stderr)
    assert "parties/hub" in result.stderr


@pytest.mark.parametrize("damage", ["yaml-syntax", "schema"])
def test_malformed_spec_file_is_a_usage_error(tmp_path: Path, damage: str) -> None:
    specs = tmp_path / "specs"
    shutil.copytree(ROOT / "specs", specs)
    catalog = specs / "requirements.yaml"
    text = catalog.read_text(encoding="utf-8")
    if damage == "yaml-syntax":
        catalog.write_text(text + "\n  - : : [unclosed\n", encoding="utf-8")
    else:
        catalog.write_text(text.replace("level: MUST", "level: MUSTN'T", 1), encoding="utf-8")
    for args in (("spec", "list"), ("conformance", "run", "--target", "reference")):
        result = run_renkei(*args, env={"RENKEI_SPECS": str(specs)})
        assert result.returncode == 2, result.stdout
        _one_clean_line(result.stderr)
        assert "requirements.yaml" in result.stderr


def test_spec_list_json_lists_every_requirement_with_its_trace() -> None:
    result = run_renkei("spec", "list", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert rows
    for row in rows:
        assert {"id", "level", "profiles", "seed_items"} <= row.keys()
        assert row["level"] in ("MUST", "SHOULD", "MAY")
        assert all(1 <= i <= 33 for i in row["seed_items"])
    assert {i for row in rows for i in row["seed_items"]} == set(range(1, 34))


@pytest.mark.requirement("RK-NUM-004", "RK-CORP-001")
@pytest.mark.parametrize(
    ("args", "code"),
    [
        (("983205673214",), 0),
        (("983205673215",), 1),
        (("7123456789012",), 0),
        (("4011001098993", "--kind", "corporate"), 0),
        (("8123456789012",), 1),
        (("12345",), 2),
        (("98320567321x",), 2),
        (("983205673214", "--kind", "corporate"), 2),
    ],
)
def test_number_check(args: tuple[str, ...], code: int) -> None:
    result = run_renkei("number", "check", *args)
    assert result.returncode == code, result.stderr
    if code:
        _one_clean_line(result.stderr)


def test_demo_tells_the_story_and_succeeds() -> None:
    result = run_renkei("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "demo: OK" in result.stdout
    assert "requester-not-designated" in result.stdout
    # it ends with the auditor's report over the demo's traffic (items 23, 27)
    report = result.stdout.split("[9/9] 監査", 1)[1]
    assert "provider-entry-missing: city has no provider entry" in report
    assert "outside-designation" in report
