"""Black-box harness of the adversary tests: `renkei serve` in a temp state folder.

It talks to the hub only over the wire (plain HTTP, bearer credentials, test mode)
and touches the state folder only as an operator or an attacker with disk access
would.  Every server it starts listens on 127.0.0.1 and is killed by its pid.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
PATTERN_ID = "P-0001"
REQUESTER = "pension.nenkin"
PROVIDER = "city.chiyoda"
AUDITOR = "auditor.ppc"
RESIDENTS = [
    {
        "resident_code": "12345678903",
        "name": "山田 太郎",
        "address": "東京都千代田区霞が関1-2-2",
        "birth_date": "1980-04-01",
        "sex": "male",
    }
]


class Hub:
    """One `renkei serve` federation (hub application only) on a state folder."""

    def __init__(self, state_dir: Path, *, preexec: Any = None) -> None:
        self.state_dir = state_dir
        self.target = state_dir.parent / f"{state_dir.name}-target.json"
        self.proc: subprocess.Popen[bytes] | None = None
        self.base: dict[str, str] = {}
        self.preexec = preexec
        self.client = httpx.Client(timeout=20)
        self.creds: dict[str, str] = {}

    # -- process ---------------------------------------------------------
    def serve_args(self) -> list[str]:
        """Further options of ``renkei serve`` (a subclass's)."""
        return []

    def start(self, *, expect_ready: bool = True, timeout: float = 40) -> bool:
        """Start the server; True once it serves, False when it exited first."""
        self.target.unlink(missing_ok=True)
        env = {
            **os.environ,
            "PYTHONPATH": f"{ROOT / 'reference'}{os.pathsep}{ROOT / 'conformance'}",
        }
        with (self.state_dir.parent / f"{self.state_dir.name}-serve.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "renkei_conformance",
                    "serve",
                    "--state-dir",
                    str(self.state_dir),
                    "--port",
                    "0",
                    "--host",
                    "127.0.0.1",
                    "--target-file",
                    str(self.target),
                    "--plain-http",
                    "--agency-nodes",
                    "0",
                    *self.serve_args(),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                preexec_fn=self.preexec,  # noqa: PLW1509 - only resource limits
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            if self.target.exists():
                try:
                    self.base = json.loads(self.target.read_text())["parties"]
                    if self.client.get(self.base["control"] + "/health").status_code == 200:
                        return True
                except (ValueError, KeyError, httpx.HTTPError):
                    pass
            time.sleep(0.2)
        if expect_ready:
            raise AssertionError("renkei serve did not become ready in time")
        return False

    def kill(self) -> None:
        """Power loss: SIGKILL, no shutdown."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> bool:
        self.kill()
        return self.start(expect_ready=False)

    def close(self) -> None:
        self.kill()
        self.client.close()

    def output(self) -> str:
        return (self.state_dir.parent / f"{self.state_dir.name}-serve.log").read_text(
            errors="replace"
        )

    # -- wire ------------------------------------------------------------
    def h(self, agency: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + self.creds[agency]}

    def ctl(self, method: str, path: str, body: Any = None) -> httpx.Response:
        return self.client.request(method, self.base["control"] + path, json=body)

    def hub(self, method: str, path: str, agency: str, body: Any = None) -> httpx.Response:
        return self.client.request(
            method, self.base["hub"] + path, json=body, headers=self.h(agency)
        )

    def auditor(self, path: str, params: Any = None) -> httpx.Response:
        return self.client.get(self.base["auditor"] + path, params=params, headers=self.h(AUDITOR))

    def build_world(self, *, answer_within: int = 3600) -> str:
        """Residents, agencies, one pattern, the clock fixed; returns the requester's link code."""
        assert self.ctl("POST", "/residents", {"residents": RESIDENTS}).status_code == 200
        r = self.ctl(
            "POST",
            "/agencies",
            {
                "agencies": [
                    {"agency_id": REQUESTER, "name": "年金", "role": "agency"},
                    {"agency_id": PROVIDER, "name": "千代田区", "role": "municipality"},
                    {"agency_id": AUDITOR, "name": "PPC", "role": "auditor"},
                ]
            },
        )
        assert r.status_code == 200, r.text
        self.creds = r.json()["credentials"]
        assert self.ctl("PUT", "/clock", {"now": "2026-04-01T09:00:00Z"}).status_code == 200
        r = self.ctl(
            "PUT",
            "/patterns",
            {
                "patterns": [
                    {
                        "pattern_id": PATTERN_ID,
                        "legal_basis": "番号法 別表第二 項番1",
                        "purpose": "年金給付の支給に関する事務",
                        "requesters": [REQUESTER],
                        "providers": [PROVIDER],
                        "information_kinds": ["resident-tax"],
                        "valid_from": "2026-01-01T00:00:00Z",
                        "answer_within_seconds": answer_within,
                    }
                ]
            },
        )
        assert r.status_code == 200, r.text
        r = self.hub(
            "POST",
            "/bindings",
            REQUESTER,
            {
                "records": [
                    {
                        "record_ref": "r1",
                        **{k: v for k, v in RESIDENTS[0].items() if k != "resident_code"},
                    }
                ]
            },
        )
        assert r.status_code == 200, r.text
        link_code: str = r.json()["results"][0]["link_code"]
        return link_code

    def query(self, link_code: str, request_id: str) -> httpx.Response:
        return self.hub(
            "POST",
            "/queries",
            REQUESTER,
            {
                "request_id": request_id,
                "requester": REQUESTER,
                "provider": PROVIDER,
                "pattern_id": PATTERN_ID,
                "information_kind": "resident-tax",
                "link_code": link_code,
            },
        )

    def approve(self, link_code: str, request_id: str) -> str:
        r = self.query(link_code, request_id)
        assert r.status_code == 202, r.text
        linkage_id: str = r.json()["linkage_id"]
        return linkage_id

    def deliver_and_answer(self, linkage_id: str, payload: str = "aGVsbG8=") -> httpx.Response:
        r = self.hub("GET", "/deliveries", PROVIDER)
        assert r.status_code == 200, r.text
        return self.hub("POST", f"/linkages/{linkage_id}/answer", PROVIDER, {"payload": payload})

    def checkpoint(self) -> dict[str, Any]:
        r = self.hub("GET", "/checkpoints/latest", AUDITOR)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def access_log(self) -> list[dict[str, Any]]:
        r = self.auditor("/access-logs", {"limit": 1000})
        assert r.status_code == 200, r.text
        body = r.json()
        entries: list[dict[str, Any]] = body.get("entries", body.get("items", []))
        return entries

    # -- disk ------------------------------------------------------------
    def db(self, name: str = "logs.sqlite3") -> sqlite3.Connection:
        return sqlite3.connect(self.state_dir / name, isolation_level=None)
