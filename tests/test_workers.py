"""``renkei serve --workers N``: N fronts on the hub's port, one core (issue 17).

What a user relies on: the hub behaves as one hub whichever front a request
reaches — every linkage answered once, every request id accepted once, one log
with one signer — on either store; a front that dies is replaced while the
others serve; nothing a client sends can pose as what a front verified; and
SIGTERM stops every process.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_conformance.client import Wire
from renkei_conformance.target import resolve_target
from renkei_conformance.world import World, population
from renkei_reference.core.merkle import verify_consistency
from renkei_reference.services.front.frames import (
    EMPTY,
    JSON,
    PROBLEM,
    FrameReader,
    Reply,
    frame,
    parse_reply,
    reply_frame,
)
from renkei_reference.services.front.workers import sweep_stale

from .conftest import tls_client
from .postgres import Backend

RENKEI = [sys.executable, "-m", "renkei_conformance"]


# -- frames ----------------------------------------------------------------------
@given(
    st.lists(st.tuples(st.integers(0, 2**32 - 1), st.binary(max_size=300)), max_size=20),
    st.lists(st.integers(1, 64), min_size=1, max_size=10),
)
def test_frames_come_out_whole_and_in_order_however_the_bytes_are_cut(
    frames: list[tuple[int, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(frame(call_id, payload) for call_id, payload in frames)
    reader, out, at, i = FrameReader(), [], 0, 0
    while at < len(stream):
        step = cuts[i % len(cuts)]
        out += reader.feed(stream[at : at + step])
        at, i = at + step, i + 1
    assert out == frames


@given(st.integers(100, 599), st.sampled_from([JSON, PROBLEM, EMPTY]), st.binary(max_size=200))
def test_a_reply_survives_its_frame(status: int, kind: int, body: bytes) -> None:
    ((call_id, payload),) = FrameReader().feed(reply_frame(7, Reply(status, kind, body)))
    assert call_id == 7
    assert parse_reply(payload) == Reply(status, kind, body)


def test_a_frame_declaring_too_much_is_refused_before_it_is_buffered() -> None:
    with pytest.raises(ValueError, match="declares"):
        FrameReader().feed((1 << 30).to_bytes(4, "big") + b"\0\0\0\1")


# -- the served hub ----------------------------------------------------------------
def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    return {int(p) for p in out.stdout.split()}


def _command_line(pid: int) -> str:
    """A process's command line; empty once it has ended (it may end between
    ``pgrep`` and the read: a front just killed)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError):
        return ""


def _fronts(pid: int) -> set[int]:
    return {p for p in _children(pid) if "services.front" in _command_line(p)}


def _until(what: str, ok: object, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not ok():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _serve(folder: Path, *extra: str) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    target = folder / "target.json"
    log = folder / "serve.log"
    command = [*RENKEI, "serve", "--port", "0", "--workers", "2", "--agency-nodes", "0"]
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*command, "--state-dir", str(folder / "state"), "--target-file", str(target), *extra],
            cwd=folder,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    try:
        _until("the target file", lambda: target.exists() or proc.poll() is not None, 60)
        assert proc.poll() is None, log.read_text()
        _until("both fronts", lambda: len(_fronts(proc.pid)) == 2)
        yield proc, target
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert "Traceback" not in log.read_text(), log.read_text()


@pytest.fixture
def workers(backend: Backend, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    place = backend.place()
    store = f"sqlite:{place}" if backend.kind == "sqlite" else place
    yield from _serve(tmp_path, "--plain-http", "--store", store)


@pytest.mark.requirement("RK-FLOW-002")
@pytest.mark.requirement("RK-FLOW-003")
def test_one_hub_whichever_front_a_request_reaches(
    workers: tuple[subprocess.Popen[bytes], Path],
) -> None:
    """Linkages complete across fronts; racing answers and racing request ids are
    each accepted once; the log is one tree (consistent checkpoints)."""
    _proc, target = workers
    wire = Wire(resolve_target(str(target)))
    try:
        world = World.create(wire, n_persons=20)
        persons = population(20)
        world.complete_linkages(persons[:10], base64.b64encode(b"answer").decode())
        first = world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)

        # 8 racing answers to one linkage, on 8 connections (both fronts): one wins
        linkage_id = world.query("kit.pension", persons[10]).expect(202)["linkage_id"]
        (delivery,) = world.deliveries("kit.city-a")
        assert delivery["linkage_id"] == linkage_id
        hub = json.loads(target.read_text())["parties"]["hub"]
        token = world.tokens["kit.city-a"]

        def answer(i: int) -> int:
            with httpx.Client(timeout=10, headers={"Authorization": f"Bearer {token}"}) as c:
                body = {"payload": base64.b64encode(f"answer {i}".encode()).decode()}
                return c.post(f"{hub}/linkages/{linkage_id}/answer", json=body).status_code

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(answer, range(8)))
        assert statuses.count(202) == 1, statuses

        # 8 racing queries with one request id: one accepted (RK-FLOW-003)
        link = world.link("kit.pension", persons[11])

        def query(_: int) -> int:
            return world.query("kit.pension", link_code=link, request_id="race-0001").status

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(query, range(8)))
        assert statuses.count(202) == 1, statuses

        last = world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)
        proof = world.call(
            "kit.auditor", "GET", "hub", "/checkpoints/consistency",
            params={"first": first["tree_size"], "second": last["tree_size"]},
        ).expect(200)["proof"]  # fmt: skip
        verify_consistency(
            first["tree_size"],
            last["tree_size"],
            [base64.b64decode(h) for h in proof],
            base64.b64decode(first["root_hash"]),
            base64.b64decode(last["root_hash"]),
        )
        assert last["verifier_key"] == first["verifier_key"], "one signer"
    finally:
        wire.close()


@pytest.mark.requirement("RK-ARCH-003")
@pytest.mark.requirement("RK-CTL-007")
def test_fronts_pass_on_only_what_they_verified_and_are_replaced_and_stopped(
    tmp_path: Path,
) -> None:
    """Over mutual TLS through the fronts: the headers a front uses to pass on the
    verified certificate are stripped from what a client sends (an agency's
    certificate with the operator's PEM in them is still an agency's: 403 at
    /control); a front killed is replaced while the other serves; SIGTERM stops
    the core and every front."""
    for proc, target in _serve(tmp_path):
        data = json.loads(target.read_text())
        health = data["parties"]["control"] + "/health"
        operator_pem = Path(data["tls"]["operator"]["cert"]).read_bytes()
        agency = next(iter(data["tls"]["client_certificates"]))
        forged = {
            "x-renkei-front-peer": base64.b64encode(operator_pem).decode(),
            "x-renkei-front-proto": "https",
        }
        with tls_client(target, agency) as client:
            got = client.get(health, headers=forged)
        assert got.status_code == 403, got.text
        assert got.json()["type"] == "urn:renkei:problem:control-operator-only"

        victim = min(_fronts(proc.pid))
        os.kill(victim, signal.SIGKILL)
        for _ in range(10):  # the other front serves meanwhile, on new connections
            with tls_client(target) as operator:
                assert operator.get(health).status_code == 200
        _until("a new front", lambda: len(_fronts(proc.pid) - {victim}) == 2)  # noqa: B023
        fronts = _fronts(proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
        for pid in fronts:
            _until(f"front {pid} to end", lambda pid=pid: not Path(f"/proc/{pid}").exists(), 5)


def test_a_core_removes_the_folders_of_cores_killed_before_it(tmp_path: Path) -> None:
    """A core killed with SIGKILL cannot remove its folder of sockets; the next core
    removes every such folder of this user whose core no longer runs, and no other."""
    ended = subprocess.Popen([sys.executable, "-c", "pass"])
    ended.wait()
    dead = tmp_path / f"renkei-core-{ended.pid}-x1"
    alive = tmp_path / f"renkei-core-{os.getpid()}-x2"
    unnamed = tmp_path / "renkei-core-x3"  # not named after its core: not known to be stale
    for folder in (dead, alive, unnamed):
        folder.mkdir()
        (folder / "calls").write_bytes(b"")
    (tmp_path / f"renkei-core-{ended.pid}-link").symlink_to(alive)
    assert sweep_stale(tmp_path) == [dead]
    assert not dead.exists()
    assert alive.is_dir()
    assert unnamed.is_dir()
    assert (alive / "calls").exists()
