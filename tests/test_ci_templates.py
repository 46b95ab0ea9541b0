"""The reusable GitHub Action (action.yml) and the GitLab CI template, run against
``renkei serve`` (issue 15, item 6).

Neither GitHub nor GitLab is at hand, so each template runs as its runner would run
it: the action's composite steps in order, ``${{ … }}`` expressions substituted,
each ``run:`` under ``bash --noprofile --norc -eo pipefail`` with ``RUNNER_TEMP``
and ``GITHUB_OUTPUT``, steps after a failure skipped unless ``if: always()``,
``uses:`` steps (setup-python, upload-artifact) left to GitHub; the GitLab job's
``script`` and then its ``after_script`` with its variables in the environment.
The kit comes from this checkout's wheel, installed offline.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from renkei_conformance.bundle import load_public_key, verify

from .conftest import ROOT, offline_pip_env, run_renkei

ACTION = ROOT / "action.yml"
GITLAB = ROOT / "conformance" / "examples" / "gitlab-ci.yml"
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
# the transport test (mutual TLS identities) and one wire test: enough to see the
# template drive a mutual-TLS target end to end without the whole suite's time
SUBSET = "-k test_mutual_tls_binds_identity_to_the_client_certificate"


@dataclass
class ActionRun:
    context: dict[str, Any]
    steps: list[tuple[str, str]] = field(default_factory=list)  # (name, ok|failed|skipped|uses)
    log: str = ""

    @property
    def failed(self) -> bool:
        return any(state == "failed" for _, state in self.steps)


def _lookup(path: str, context: dict[str, Any]) -> str:
    node: Any = context
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise AssertionError(f"the action uses an expression this runner lacks: {path}")
        node = node[part]
    return str(node)


def _substitute(text: str, context: dict[str, Any]) -> str:
    def one(match: re.Match[str]) -> str:
        for operand in match.group(1).split("||"):
            value = _lookup(operand.strip(), context)
            if value:
                return value
        return ""

    return EXPRESSION.sub(one, text)


def run_action(
    inputs: dict[str, str],
    workspace: Path,
    runner_temp: Path,
    env: dict[str, str],
    start_at: str | None = None,
) -> ActionRun:
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    declared = action["inputs"]
    assert set(inputs) <= set(declared), set(inputs) - set(declared)
    missing = [k for k, v in declared.items() if v.get("required") and k not in inputs]
    assert not missing, missing
    values = {k: str(v.get("default", "")) for k, v in declared.items()} | inputs
    run = ActionRun({"inputs": values, "github": {"action_path": str(ROOT)}, "steps": {}})
    started = start_at is None
    for n, step in enumerate(action["runs"]["steps"]):
        name = step.get("name") or step.get("uses", "")
        started = started or name == start_at
        if not started:
            continue
        condition = step.get("if")
        assert condition in (None, "always()"), condition
        if run.failed and condition != "always()":
            run.steps.append((name, "skipped"))
            continue
        if "uses" in step:
            run.steps.append((name, "uses"))
            continue
        assert step.get("shell") == "bash", name
        output = runner_temp / f"github-output-{n}"
        output.write_text("")
        script = runner_temp / f"step-{n}.sh"
        script.write_text(_substitute(step["run"], run.context), encoding="utf-8")
        step_env = {k: _substitute(str(v), run.context) for k, v in step.get("env", {}).items()}
        proc = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=workspace,
            env={
                **env,
                "RUNNER_TEMP": str(runner_temp),
                "GITHUB_OUTPUT": str(output),
                "GITHUB_WORKSPACE": str(workspace),
                **step_env,
            },
            capture_output=True,
            text=True,
            timeout=1200,
            check=False,
        )
        run.log += f"\n--- {name} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}"
        if "id" in step:
            outputs = dict(
                line.split("=", 1) for line in output.read_text().splitlines() if "=" in line
            )
            run.context["steps"][step["id"]] = {"outputs": outputs}
        run.steps.append((name, "ok" if proc.returncode == 0 else "failed"))
    return run


def _start_command(target: str = "renkei-target.json") -> str:
    """The 'vendor's implementation': ``renkei serve`` from this checkout, mutual TLS."""
    return shlex.join(
        [
            "env",
            f"PYTHONPATH={os.environ.get('PYTHONPATH', '')}",
            sys.executable,
            "-m",
            "renkei_conformance",
            "serve",
            "--port", "0", "--agency-nodes", "0",
            "--state-dir", "implementation-state",
            "--target-file", target,
        ]
    )  # fmt: skip


def _signing_key(folder: Path) -> Path:
    key = folder / "vendor.pem"
    made = run_renkei("conformance", "keygen", "--out", str(key))
    assert made.returncode == 0, made.stderr
    return key


def _check_outputs(out: Path, key: Path) -> None:
    """The reports and a bundle that verifies under the vendor's key, of a run over
    mutual TLS."""
    for name in ("report.json", "junit.xml", "report.html", "results.json", "implementation.log"):
        assert (out / name).is_file(), name
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert "mutual" in json.dumps(report["target"]), report["target"]
    assert report["summary"]["passed"] >= 1
    assert not report["summary"]["failed"]
    check = verify(
        json.loads((out / "results.json").read_text()), load_public_key(Path(f"{key}.pub"))
    )
    assert check.valid, check.problems
    assert 'name="CT-TLS-001' in (out / "junit.xml").read_text(encoding="utf-8")
    assert "signature: valid" in (out / "verify-bundle.txt").read_text(encoding="utf-8")


def _nothing_left_running(pid_file: Path, workspace: Path, log: str) -> None:
    """The stop step ran: no process is left in the workspace, no pid file behind."""
    assert not pid_file.exists(), log[-3000:]
    running = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cwd").resolve() == workspace.resolve():
                running.append(proc.name)
        except OSError:
            continue
    assert not running, running


@pytest.mark.slow
def test_the_github_action_runs_the_kit_against_an_implementation_over_mutual_tls(
    tmp_path: Path, renkei_wheel: Path, kit_wheelhouse: Path
) -> None:
    workspace, runner_temp = tmp_path / "workspace", tmp_path / "runner-temp"
    workspace.mkdir()
    runner_temp.mkdir()
    key = _signing_key(tmp_path)
    env = offline_pip_env(kit_wheelhouse)
    run = run_action(
        {
            "start": _start_command(),
            "kit": str(renkei_wheel),
            "args": SUBSET,
            "signing-key": key.read_text(encoding="utf-8"),
        },
        workspace,
        runner_temp,
        env,
    )
    assert not run.failed, run.log[-5000:]
    assert [s for s, state in run.steps if state == "uses"] == [
        "actions/setup-python@v5",
        "actions/upload-artifact@v4",
    ]
    assert run.context["steps"]["kit"]["outputs"]["exit-code"] == "0"
    _check_outputs(workspace / "renkei-conformance", key)
    _nothing_left_running(runner_temp / "renkei-implementation.pid", workspace, run.log)
    assert not (runner_temp / "renkei-signing-key.pem").exists()  # the secret is not kept
    # An implementation that exits before it is ready fails the job, and the stop
    # step still runs (the kit installed above is reused).
    broken = run_action(
        {"start": "echo cannot start; exit 3", "kit": str(renkei_wheel)},
        workspace,
        runner_temp,
        env,
        start_at="Start the implementation under test",
    )
    assert broken.steps[0] == ("Start the implementation under test", "failed"), broken.log
    assert ("Run the kit, sign and check the bundle", "skipped") in broken.steps
    assert ("Stop the implementation", "ok") in broken.steps
    assert "exited before writing renkei-target.json" in broken.log
    assert "cannot start" in broken.log


@pytest.mark.slow
def test_the_gitlab_template_runs_the_kit_against_an_implementation_over_mutual_tls(
    tmp_path: Path, renkei_wheel: Path, kit_wheelhouse: Path
) -> None:
    job = yaml.safe_load(GITLAB.read_text(encoding="utf-8"))[".renkei-conformance"]
    workspace, temp = tmp_path / "project", tmp_path / "tmp"
    workspace.mkdir()
    temp.mkdir()
    key = _signing_key(tmp_path)
    env = {
        **offline_pip_env(kit_wheelhouse),
        **{k: str(v) for k, v in job["variables"].items()},
        "TMPDIR": str(temp),
        "RENKEI_START": _start_command(),
        "RENKEI_KIT": str(renkei_wheel),
        "RENKEI_ARGS": SUBSET,
        "RENKEI_SIGNING_KEY": str(key),  # a CI/CD file variable holds the key's path
    }
    outcomes = []
    log = ""
    for part in ("script", "after_script"):
        proc = subprocess.run(
            ["bash", "-c", "\n".join(job[part])],
            cwd=workspace, env=env, capture_output=True, text=True, timeout=1200, check=False,
        )  # fmt: skip
        outcomes.append(proc.returncode)
        log += f"\n--- {part} (exit {proc.returncode})\n{proc.stdout}{proc.stderr}"
    assert outcomes == [0, 0], log[-5000:]
    for path in job["artifacts"]["paths"]:
        assert (workspace / path).is_dir(), path
    assert (workspace / job["artifacts"]["reports"]["junit"]).is_file()
    _check_outputs(workspace / "renkei-conformance", key)
    _nothing_left_running(temp / "renkei-implementation.pid", workspace, log)
    assert not (temp / "renkei-signing-key.pem").exists()


def test_init_writes_the_gitlab_template_and_the_action_is_at_the_root(tmp_path: Path) -> None:
    made = run_renkei("conformance", "init", str(tmp_path / "setup"))
    assert made.returncode == 0, made.stderr
    assert (tmp_path / "setup" / "gitlab-ci.yml").read_text() == GITLAB.read_text()
    action = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    assert action["inputs"]["start"]["required"] is True
    assert "upload-artifact" in json.dumps(action["runs"]["steps"])
