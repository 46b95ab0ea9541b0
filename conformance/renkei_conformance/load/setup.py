"""Reaching the target and setting it up once for a load run.

The kit never imports the reference: ``--target reference`` starts
``renkei serve`` on a free loopback port in a subprocess (any other in-process
target: its registered ASGI factory under uvicorn) and drives it over HTTP like
any other target.  Setup goes only through the control interface
(RK-CTL-…): reset, synthetic residents, the load's agencies, a pattern table
with one allowed and one refused pattern, and each requester's bindings.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from ..client import Wire, WireError
from ..target import PARTIES, Target, TargetError, resolve_target
from ..world import population
from .process import server_process

__all__ = ["LoadShape", "served_target", "setup_world"]

ALLOWED_PATTERN = "LOAD-P-001"
REFUSED_PATTERN = "LOAD-X-001"
INFORMATION_KIND = "local-tax"
SETUP_TIMEOUT_S = 300.0  # per request: a batch of residents or bindings may take a while
_BATCH = 5_000  # bindings per request
_RESIDENTS_BATCH = 10_000  # residents per request (bodies are limited to 4 MiB)


@dataclass(frozen=True)
class LoadShape:
    """What the load looks like (all of it configurable from the command line)."""

    persons: int = 1_000
    bound_per_requester: int = 5_000  # persons each requester binds (a window of the registry)
    agencies: int = 4  # half requesters, half providers (at least one of each)
    rate: float = 50.0  # offered queries/s over all requester users (0: as fast as possible)
    requester_users: int = 20
    provider_users: int = 2
    refused_share: float = 0.1
    payload_bytes: int = 1_024
    poll_interval_s: float = 0.02
    linkage_timeout_s: float = 10.0

    def split(self) -> tuple[list[str], list[str]]:
        n_req = max(1, self.agencies // 2)
        n_prov = max(1, self.agencies - n_req)
        return (
            [f"load.req-{i:03d}" for i in range(1, n_req + 1)],
            [f"load.prov-{i:03d}" for i in range(1, n_prov + 1)],
        )


@contextmanager
def served_target(
    spec: str, workdir: Path, *, workers: int = 1, store: str = "", pids: list[int] | None = None
) -> Iterator[Target]:
    """Resolve ``spec``; an in-process name is served on loopback in a subprocess
    (``reference``: ``renkei serve`` with ``workers`` processes on its port)."""
    registered = {ep.name: ep for ep in entry_points(group="renkei.targets")}
    target_file = workdir / "target.json"
    if spec == "reference":
        command = [
            *("renkei_conformance", "serve", "--port", "0", "--state-dir", str(workdir / "state")),
            *("--target-file", str(target_file)),
            # the load drives the hub itself: no demo agency nodes polling beside it
            *("--agency-nodes", "0", "--workers", str(workers)),
            *(("--store", store) if store else ()),
        ]
    elif spec in registered:
        # any other in-process target: its ASGI factory served by uvicorn on loopback
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        parties = {p: f"{base}/{p}" for p in PARTIES}
        target_file.write_text(
            json.dumps({"renkei_target": 1, "name": f"{spec} (uvicorn)", "parties": parties}),
            encoding="utf-8",
        )
        command = [
            *("uvicorn", "--factory", registered[spec].value, "--host", "127.0.0.1"),
            *("--port", str(port), "--log-level", "warning", "--no-access-log"),
        ]
    elif "@" in spec and spec.partition("@")[0] in registered:
        raise TargetError(f"{spec!r}: variants of in-process targets are not load-tested")
    else:
        yield resolve_target(spec, timeout=SETUP_TIMEOUT_S)
        return
    with server_process(
        [sys.executable, "-m", *command],
        log=workdir / "serve.log",
        what=repr(spec),
        timeout_s=60,
        ready=target_file.is_file,
        env={**os.environ, "ICONTRACT_SLOW": ""},
    ) as server:
        if pids is not None:  # whose CPU the bench counts (with its children: the fronts)
            pids.append(server.proc.pid)
        target: Target | None = None

        def answers() -> bool:
            nonlocal target
            try:
                target = resolve_target(str(target_file), timeout=SETUP_TIMEOUT_S)
            except TargetError:
                return False
            return True

        server.wait_until(answers, "is served but does not answer")
        assert target is not None
        yield target


def setup_world(
    target: Target,
    shape: LoadShape,
    setup_file: Path,
    progress: Callable[[str], None] = lambda _: None,
) -> dict[str, Any]:
    """Set the target up through the control interface; write and return the setup."""
    wire = Wire(target, check_responses=False, record=False)
    try:
        requesters, providers = shape.split()
        bystander = "load.bystander"
        wire.control("POST", "/reset").expect(200, 204)
        persons = population(shape.persons)
        for i in range(0, len(persons), _RESIDENTS_BATCH):
            chunk = [p.resident() for p in persons[i : i + _RESIDENTS_BATCH]]
            wire.control("POST", "/residents", {"residents": chunk}).expect(200)
            if (i // _RESIDENTS_BATCH) % 10 == 9:
                progress(f"{i + len(chunk):,} residents loaded")
        agencies = [
            {"agency_id": a, "name": f"負荷試験機関 {a}", "role": "agency"}
            for a in [*requesters, *providers, bystander]
        ]
        tokens = dict(
            wire.control("POST", "/agencies", {"agencies": agencies}).expect(200)["credentials"]
        )
        patterns = [
            {
                "pattern_id": ALLOWED_PATTERN,
                "legal_basis": "番号法 別表第二 項番（負荷試験）1",
                "purpose": "負荷試験の事務（許可）",
                "requesters": requesters,
                "providers": providers,
                "information_kinds": [INFORMATION_KIND],
                "answer_within_seconds": 3600,
            },
            {
                # RK-PAT-002: the load's requesters are not designated → refused
                "pattern_id": REFUSED_PATTERN,
                "legal_basis": "番号法 別表第二 項番（負荷試験）2",
                "purpose": "負荷試験の事務（拒否）",
                "requesters": [bystander],
                "providers": providers,
                "information_kinds": [INFORMATION_KIND],
                "answer_within_seconds": 3600,
            },
        ]
        wire.control("PUT", "/patterns", {"patterns": patterns}).expect(200)
        links: dict[str, list[str]] = {}
        window = max(1, min(shape.bound_per_requester, len(persons)))
        for n, agency in enumerate(requesters):
            # each requester binds its own window of the registry, so a large
            # registry with many agencies costs persons + agencies × window bindings
            start = (n * window) % len(persons)
            wrap = max(0, start + window - len(persons))
            mine = persons[start : start + window] + persons[:wrap]
            codes: list[str] = []
            for i in range(0, len(mine), _BATCH):
                records = [
                    {"record_ref": p.resident_code, **p.four_items()} for p in mine[i : i + _BATCH]
                ]
                reply = wire.call(
                    "POST", "hub", "/bindings", json_body={"records": records}, token=tokens[agency]
                ).expect(200)
                for result in reply["results"]:
                    if result.get("decision") != "bound":
                        raise WireError(f"binding for the load was not bound: {result}")
                    codes.append(result["link_code"])
            links[agency] = codes
            if n % 10 == 9:
                progress(f"{n + 1} requesters bound {window:,} persons each")
    finally:
        wire.close()
    setup = {
        "format": "renkei-bench-setup/1",
        "parties": dict(target.parties),
        "tokens": tokens,
        "requesters": requesters,
        "providers": providers,
        "allowed_pattern": ALLOWED_PATTERN,
        "refused_pattern": REFUSED_PATTERN,
        "information_kind": INFORMATION_KIND,
        "links": links,
        "payload": base64.b64encode(os.urandom(shape.payload_bytes)).decode(),
        "rate": shape.rate,
        "requester_users": shape.requester_users,
        "provider_users": shape.provider_users,
        "refused_share": shape.refused_share,
        "poll_interval_s": shape.poll_interval_s,
        "linkage_timeout_s": shape.linkage_timeout_s,
        "persons": shape.persons,
        # RK-ARCH-003: over mutual TLS the load presents the operator's certificate
        # (test mode lets the agencies' bearer credentials stand in).  The PEM text
        # travels in the setup so workers on other machines need no other file.
        "tls": _tls_for_load(target),
    }
    setup_file.write_text(json.dumps(setup), encoding="utf-8")
    os.chmod(setup_file, 0o600)  # holds the agencies' bearer tokens
    return setup


def _tls_for_load(target: Target) -> dict[str, str] | None:
    if target.tls is None:
        return None
    if target.tls.operator is None:
        raise WireError(
            "the target file's tls member names no operator certificate; the load needs one "
            "to reach the hub over mutual TLS (specs/schemas/target.schema.json)"
        )
    cert, key = target.tls.operator
    return {
        "ca": target.tls.ca.read_text("ascii"),
        "cert": cert.read_text("ascii"),
        "key": key.read_text("ascii"),
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def scratch_dir() -> Path:
    return Path(tempfile.mkdtemp(prefix="renkei-bench-"))
