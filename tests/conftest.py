"""Shared fixtures of the repository's own tests."""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from renkei_conformance.load.process import server_process
from renkei_conformance.target import TargetError

from .background import Background
from .offload import Offload, ReportWriter, in_second_stream
from .postgres import BINARIES, Backend, PostgresCluster, pg_bin

# Check every contract, the per-query ones too (icontract.SLOW); set before the
# reference is imported by any test module.
os.environ["ICONTRACT_SLOW"] = "1"

ROOT = Path(__file__).resolve().parent.parent
BACKGROUND = Background()  # long subprocess checks, run beside the tests (tests/background.py)
OFFLOAD = Offload(ROOT)  # whole test files run in a second pytest process (tests/offload.py)


_BACKGROUND_TESTS = {
    "test_reference_passes_and_every_known_bad_variant_is_killed": "selftest:hub",
    "test_each_kill_is_by_a_test_naming_the_violated_requirement": "selftest:hub",
    "test_kit_passes_against_the_reference_in_process": "kit:in-process",
}
"""Tests whose one long command runs in the background (tests/test_selftest.py,
tests/test_walking_skeleton.py)."""


def _kit_run_first(commands: list[str]) -> list[str]:
    """The background commands in the order they run.  When both run, the kill
    matrix takes the kit's whole in-process run against the reference from the
    walking skeleton's report (``selftest --reference-report``) instead of running
    it again: that run is a fifth of the matrix's CPU."""
    if not {"kit:in-process", "selftest:hub"} <= set(commands):
        return commands
    from .test_walking_skeleton import IN_PROCESS_REPORT

    job = BACKGROUND.jobs["selftest:hub"]
    BACKGROUND.define(
        "selftest:hub",
        replace(job, argv=(*job.argv, "--reference-report", str(IN_PROCESS_REPORT))),
    )
    return ["kit:in-process", *(c for c in commands if c != "kit:in-process")]


@pytest.hookimpl(trylast=True)  # after -k and -m have deselected
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Start the collected background checks now, in the order of their tests: the
    CrossHair checks on one thread, the kit's long runs on another.  The tests that
    take their results run last: the checks, at the lowest priority, use what CPU
    the other tests leave, and a test waiting for its check early in the run left
    the machine's second core to the check alone."""
    names, commands, waiting = [], [], []
    for item in items:
        name = getattr(item, "originalname", None)
        if name == "test_crosshair_finds_no_counterexample":
            names.append(f"crosshair:{item.callspec.params['module']}")  # type: ignore[attr-defined]
            waiting.append(item)
        elif name in _BACKGROUND_TESTS:
            if _BACKGROUND_TESTS[name] not in commands:
                commands.append(_BACKGROUND_TESTS[name])
            waiting.append(item)
    BACKGROUND.start(names)
    BACKGROUND.start(_kit_run_first(commands))
    last = waiting if len(waiting) < len(items) else []  # alone, they keep their order
    held = set(last)
    rest = [i for i in items if i not in held]
    if not in_second_stream():  # the offloaded files' tests after the rest
        rest = OFFLOAD.start(rest)
    items[:] = rest + last


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> bool | None:
    """An offloaded test is reported as the second stream ran it (tests/offload.py)."""
    if item.nodeid in OFFLOAD.items:
        OFFLOAD.replay(item)
        return True
    return None


def pytest_configure(config: pytest.Config) -> None:
    if in_second_stream():  # its reports go to the session (tests/offload.py)
        config.pluginmanager.register(ReportWriter(config), "renkei-offload-reports")


RENKEI = [sys.executable, "-m", "renkei_conformance"]


def run_renkei(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the ``renkei`` command as a user would, capturing its output."""
    return subprocess.run(
        [*RENKEI, *args],
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def tls_client(target: Path, identity: str | None = "operator", **kw: Any) -> httpx.Client:
    """An httpx client for a target file written by ``renkei serve``: trusts
    its CA and presents the client certificate ``identity`` (``"operator"``, an
    agency id, or None for no certificate)."""
    tls = json.loads(target.read_text())["tls"]
    ctx = ssl.create_default_context(cafile=tls["ca"])
    if identity == "operator":
        ctx.load_cert_chain(tls["operator"]["cert"], tls["operator"]["key"])
    elif identity is not None:
        pair = tls["client_certificates"][identity]
        ctx.load_cert_chain(pair["cert"], pair["key"])
    return httpx.Client(verify=ctx, timeout=10, **kw)


def _serve(folder: Path, *extra: str) -> Iterator[Path]:
    """``renkei serve`` on a free loopback port in ``folder``; yields its target file."""
    target = folder / "target.json"
    command = [*RENKEI, "serve", "--port", "0", "--target-file", str(target), *extra]
    try:
        with server_process(
            command, log=folder / "serve.log", what="renkei serve", timeout_s=30,
            ready=target.exists, cwd=folder,
        ) as server:  # fmt: skip
            data = json.loads(target.read_text())
            url = data["parties"]["control"] + "/health"
            client = tls_client(target) if "tls" in data else httpx.Client(timeout=1)
            with client:

                def healthy() -> bool:
                    try:
                        client.get(url).raise_for_status()
                    except httpx.HTTPError:
                        return False
                    return True

                server.wait_until(healthy, "did not answer on its control interface")
            yield target
    except TargetError as e:
        pytest.fail(str(e))


@pytest.fixture(scope="session")
def served_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``renkei serve`` (HTTPS, mutual TLS 1.3) on a free loopback port; yields
    its target file (the PKI is in ``renkei-state/pki`` next to it)."""
    yield from _serve(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="session")
def served_reference_plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``renkei serve --plain-http`` (test mode's bearer stand-in); yields its target file."""
    yield from _serve(tmp_path_factory.mktemp("serve-plain"), "--plain-http")


@pytest.fixture(scope="session")
def renkei_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout (offline: no build isolation), once per session."""
    dist = tmp_path_factory.mktemp("dist")
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    return next(dist.glob("renkei-*.whl"))


@pytest.fixture(scope="session")
def kit_wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Wheels of every distribution the kit requires, repacked from this environment,
    for ``pip install --no-index --find-links`` (tests/wheelhouse.py)."""
    from .wheelhouse import wheelhouse

    house = tmp_path_factory.mktemp("wheelhouse")
    wheelhouse("renkei", house)
    return house


def offline_pip_env(house: Path) -> dict[str, str]:
    """The environment of a machine whose pip finds packages only in ``house``, with
    this checkout's PYTHONPATH and any virtualenv left out."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONPATH", "VIRTUAL_ENV", "RENKEI_SPECS", "PYTHONHOME")
        and not k.startswith("PIP_")
    }
    env.update(
        PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '/usr/bin:/bin')}",
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(house),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_CACHE_DIR="1",
    )
    return env


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """A throw-away PostgreSQL server for the session (tests/postgres.py)."""
    bin_dir = pg_bin()
    if bin_dir is None:
        pytest.skip(f"PostgreSQL is not installed (no {BINARIES}/initdb; .ci/run installs it)")
    cluster = PostgresCluster(bin_dir)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Each store kind in turn: the embedded SQLite file and a PostgreSQL database."""
    cluster = request.getfixturevalue("postgres_cluster") if request.param == "postgresql" else None
    return Backend(request.param, tmp_path, cluster)
