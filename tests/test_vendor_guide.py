"""The vendor guide and its examples stay true to the kit (issue 6, packaging)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

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


def _tls_paths(node: object) -> list[str]:
    if isinstance(node, dict):
        return [
            p
            for k, v in node.items()
            for p in ([v] if k in ("ca", "cert", "key") and isinstance(v, str) else _tls_paths(v))
        ]
    return []


def test_init_writes_a_setup_whose_certificates_pki_init_makes(tmp_path: Path) -> None:
    """`renkei conformance init` writes the guide's examples; the target file names exactly
    the files `renkei pki init` writes; a second init refuses to overwrite (issue 15)."""
    setup = tmp_path / "setup"
    made = run_renkei("conformance", "init", str(setup), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in setup.iterdir()) == sorted(
        ["target.json", "capabilities.yaml", "xfails.yaml", "github-actions.yml", "gitlab-ci.yml"]
    )
    for name, schema in (
        ("capabilities.yaml", "capabilities.schema.json"),
        ("xfails.yaml", "xfails.schema.json"),
        ("target.json", "target.schema.json"),
    ):
        load_user_file(setup / name, schema, name)
    assert run_renkei("pki", "init", str(setup / "pki"), cwd=tmp_path).returncode == 0
    target = json.loads((setup / "target.json").read_text(encoding="utf-8"))
    named = _tls_paths(target["tls"])
    assert len(named) > 10
    missing = [p for p in named if not (setup / p).is_file()]
    assert not missing, missing
    again = run_renkei("conformance", "init", str(setup), cwd=tmp_path)
    assert again.returncode == 2
    assert "refusing to overwrite" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_guide_is_printed_by_the_kit() -> None:
    shown = run_renkei("conformance", "guide")
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == GUIDE.read_text(encoding="utf-8")
