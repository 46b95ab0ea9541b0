"""Shared fixtures of the repository's own tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

# Check every contract, the per-query ones too (icontract.SLOW); set before the
# reference is imported by any test module.
os.environ["ICONTRACT_SLOW"] = "1"

ROOT = Path(__file__).resolve().parent.parent
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


@pytest.fixture(scope="session")
def served_reference(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``renkei serve`` on a free loopback port; yields its target file."""
    folder = tmp_path_factory.mktemp("serve")
    target = folder / "target.json"
    log = folder / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [*RENKEI, "serve", "--port", "0", "--target-file", str(target)],
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        deadline = time.monotonic() + 30
        while not target.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"renkei serve did not start: {log.read_text()}")
            time.sleep(0.05)
        url = json.loads(target.read_text())["parties"]["control"] + "/health"
        import httpx

        while True:
            try:
                httpx.get(url, timeout=1).raise_for_status()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail("renkei serve did not answer on its control interface")
                time.sleep(0.05)
        yield target
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
