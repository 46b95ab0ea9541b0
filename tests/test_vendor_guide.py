"""The vendor guide and its examples stay true to the kit (issue 6, packaging)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
import yaml

from renkei_conformance.spec import load_user_file

from .conftest import ROOT, run_renkei

GUIDE = ROOT / "conformance" / "VENDOR-GUIDE.md"
EXAMPLES = ROOT / "conformance" / "examples"


@pytest.mark.parametrize(
    ("name", "schema"),
    [
        ("capabilities.yaml", "capabilities.schema.json"),
        ("xfails.yaml", "xfails.schema.json"),
        ("target.json", "target.schema.json"),
    ],
)
def test_examples_match_their_schemas(name: str, schema: str) -> None:
    load_user_file(EXAMPLES / name, schema, name)


def test_example_manifest_names_published_tests() -> None:
    published = {
        t["test_id"]
        for t in json.loads((ROOT / "specs" / "conformance-tests.json").read_text())["tests"]
    }
    manifest = yaml.safe_load((EXAMPLES / "xfails.yaml").read_text())
    assert set(manifest) <= published


def test_ci_example_runs_the_kit_signs_and_verifies() -> None:
    workflow = yaml.safe_load((EXAMPLES / "github-actions.yml").read_text())
    steps = [s.get("run", "") for s in workflow["jobs"]["conformance"]["steps"]]
    script = "\n".join(steps)
    assert "renkei conformance run --target" in script
    assert "--bundle" in script
    assert "--signing-key" in script
    assert "renkei conformance verify-bundle" in script


def test_guide_lists_every_control_operation() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    document = yaml.safe_load((ROOT / "specs" / "openapi" / "renkei.yaml").read_text())
    for path, item in document["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and "control" in op.get("tags", []):
                assert f"`{method.upper()} {path}`" in guide, (method, path)
                assert op["operationId"] in guide, op["operationId"]


def test_every_kit_command_in_the_guide_exists() -> None:
    guide = GUIDE.read_text(encoding="utf-8")
    commands = set(re.findall(r"(?m)(?:^|`|/)renkei conformance ([a-z-]+)", guide))
    assert {"run", "keygen", "verify-bundle", "selftest"} <= commands
    for sub in sorted(commands):
        proc = run_renkei("conformance", sub, "--help")
        assert proc.returncode == 0, (sub, proc.stderr)
    options = set(re.findall(r"(--renkei-[a-z-]+)", guide))
    assert options
    helptext = subprocess.run(
        [sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for option in options:
        assert option in helptext, option
