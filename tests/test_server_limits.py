"""Every server ``renkei serve`` starts is bounded under load (issue 16, item 4):
half-sent requests are closed within the configured read timeouts, a silent
TCP connection within the handshake timeout, connections past the limit are
refused at once, memory taken by many connections is given back, and SIGTERM
stops the federation within seconds even with half-open requests.

The servers run in a subprocess with short limits; the test's own waits are
generous bounds around them (the issue's), never measurements of speed.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from .conftest import RENKEI, run_renkei, tls_client

HEAD_S, BODY_S, HANDSHAKE_S = 2, 2, 3
LIMIT = 600


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    target: Path
    log: Path

    def url(self, party: str = "control") -> str:
        data = json.loads(self.target.read_text())
        if party == "node":
            return str(next(iter(data["agency_nodes"].values()))["url"])
        return str(data["parties"][party])

    def address(self, party: str = "control") -> tuple[str, int]:
        host, port = self.url(party).split("//")[1].split("/")[0].rsplit(":", 1)
        return host, int(port)

    def context(self) -> ssl.SSLContext:
        tls = json.loads(self.target.read_text())["tls"]
        ctx = ssl.create_default_context(cafile=tls["ca"])
        ctx.load_cert_chain(tls["operator"]["cert"], tls["operator"]["key"])
        return ctx

    def rss(self) -> int:
        return int(psutil.Process(self.proc.pid).memory_info().rss)

    def answers(self) -> bool:
        with tls_client(self.target) as client:
            return client.get(self.url() + "/health").status_code == 200


def _until(what: str, probe: Callable[[], Any], bound: float = 60.0) -> Any:
    limit = time.monotonic() + bound
    while not (got := probe()):
        if time.monotonic() > limit:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)
    return got


def _start(folder: Path, *limits: str) -> Served:
    target, log = folder / "target.json", folder / "serve.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [*RENKEI, "serve", "--port", "0", "--target-file", str(target),
             "--agency-nodes", "1", *limits],
            cwd=folder, stdout=sink, stderr=subprocess.STDOUT,
        )  # fmt: skip
    served = Served(proc, target, log)
    _until("the target file", lambda: target.exists() or proc.poll() is not None)
    assert proc.poll() is None, log.read_text()
    return served


def _stop(served: Served) -> None:
    if served.proc.poll() is None:
        served.proc.kill()
        served.proc.wait(10)


@pytest.fixture(scope="module")
def bounded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    served = _start(
        tmp_path_factory.mktemp("limits"),
        "--header-timeout", str(HEAD_S), "--body-timeout", str(BODY_S),
        "--handshake-timeout", str(HANDSHAKE_S), "--max-connections", str(LIMIT),
        "--backlog", "2048",  # the kernel's queue is no limit here: the server's is
    )  # fmt: skip
    try:
        yield served
    finally:
        _stop(served)


async def _half_sent(
    address: tuple[str, int], context: ssl.SSLContext, data: bytes, gate: asyncio.Semaphore
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    async with gate:  # a few handshakes at a time: the machine is small
        reader, writer = await asyncio.open_connection(*address, ssl=context)
    writer.write(data)
    await writer.drain()
    return reader, writer


async def _closed_by_server(reader: asyncio.StreamReader) -> bool:
    try:
        return await reader.read(65536) == b""
    except (ConnectionError, ssl.SSLError):
        return True


HALF_HEAD = b"GET /control/hea"
HALF_BODY = (
    b"POST /control/residents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b'Content-Length: 1000\r\n\r\n{"residents": ['
)


def test_three_hundred_half_sent_requests_are_closed_within_the_read_timeouts(
    bounded: Served,
) -> None:
    async def scenario() -> list[bool]:
        gate = asyncio.Semaphore(20)
        ctx = bounded.context()
        opened = await asyncio.gather(
            *(_half_sent(bounded.address(), ctx, HALF_HEAD, gate) for _ in range(200)),
            *(_half_sent(bounded.address(), ctx, HALF_BODY, gate) for _ in range(80)),
            *(_half_sent(bounded.address("node"), ctx, HALF_HEAD, gate) for _ in range(20)),
        )
        # each is closed by the server within its timeout (bounded generously here)
        closed = asyncio.gather(*(_closed_by_server(r) for r, _ in opened))
        result = await asyncio.wait_for(closed, HANDSHAKE_S + HEAD_S + BODY_S + 30)
        for _, writer in opened:
            writer.close()
        return list(result)

    assert asyncio.run(scenario()) == [True] * 300
    assert bounded.answers()  # and the server serves the next request


def test_a_silent_tcp_connection_is_closed_after_the_handshake_timeout(bounded: Served) -> None:
    with socket.create_connection(bounded.address(), timeout=HANDSHAKE_S + 30) as raw:
        assert raw.recv(1) == b""  # closed by the server, no TLS handshake ever began


def test_connections_past_the_limit_are_refused_at_once_and_memory_is_given_back(
    bounded: Served,
) -> None:
    _until("the server at rest", bounded.answers)
    start = bounded.rss()
    # LIMIT unauthenticated connections that begin no handshake: each admitted
    # one holds a TLS connection's buffers until the handshake timeout
    raws = [socket.create_connection(bounded.address(), timeout=30) for _ in range(LIMIT)]
    try:
        time.sleep(0.5)
        peak = bounded.rss()
        with socket.create_connection(bounded.address(), timeout=HANDSHAKE_S) as past:
            assert past.recv(1) == b""  # refused: closed long before the handshake timeout
        with (
            pytest.raises((ssl.SSLError, ConnectionError)),
            socket.create_connection(bounded.address(), timeout=HANDSHAKE_S) as sock,
        ):
            bounded.context().wrap_socket(sock, server_hostname="127.0.0.1")  # no TLS either
    finally:
        for raw in raws:
            raw.close()
    assert _until("the hub serving again", bounded.answers)
    # the memory taken by the connections comes back (loosely: most of it)
    _until("RSS near its start", lambda: bounded.rss() - start < max((peak - start) / 3, 8e6), 30)


def test_every_closed_connection_gives_its_place_back(bounded: Served) -> None:
    """Connections closed by either side — TLS ones the server cut off at the
    read timeout, ones a client closed, ones that never began TLS — leave
    their places free: with all but a few places taken, a request is served."""

    async def cut_off() -> list[bool]:
        gate = asyncio.Semaphore(20)
        opened = await asyncio.gather(
            *(_half_sent(bounded.address(), bounded.context(), HALF_HEAD, gate) for _ in range(40))
        )
        closed = asyncio.gather(*(_closed_by_server(r) for r, _ in opened))
        result = await asyncio.wait_for(closed, HANDSHAKE_S + HEAD_S + 30)
        for _, writer in opened:
            writer.close()
        return list(result)

    assert asyncio.run(cut_off()) == [True] * 40
    for _ in range(20):
        assert bounded.answers()
    for _ in range(2):
        raws = [socket.create_connection(bounded.address()) for _ in range(LIMIT - 8)]
        try:
            assert bounded.answers()  # a place is left: none was kept by a closed connection
        finally:
            for raw in raws:
                raw.close()
        _until("the places given back", bounded.answers)


def test_sigterm_stops_serve_within_seconds_with_half_open_requests(tmp_path: Path) -> None:
    served = _start(tmp_path)  # the default limits
    try:

        async def hold_and_stop() -> int | None:
            gate = asyncio.Semaphore(5)
            ctx = served.context()
            opened = await asyncio.gather(
                _half_sent(served.address(), ctx, HALF_HEAD, gate),
                _half_sent(served.address(), ctx, HALF_BODY, gate),
                _half_sent(served.address("node"), ctx, HALF_BODY, gate),
            )
            raw = socket.create_connection(served.address())  # a handshake pending
            served.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(served.proc.wait, 10)  # the bound
            raw.close()
            for _, writer in opened:
                writer.close()
            return code

        assert asyncio.run(hold_and_stop()) == 0
        out = served.log.read_text()
        assert "renkei serve: stopped" in out
        assert "Traceback" not in out  # the half-open requests ended, none was cancelled
    finally:
        _stop(served)


@pytest.mark.parametrize("flag", ["--header-timeout", "--max-connections", "--shutdown-timeout"])
def test_a_limit_that_is_not_positive_is_a_usage_error(tmp_path: Path, flag: str) -> None:
    result = run_renkei("serve", "--port", "0", flag, "0", cwd=tmp_path, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == "renkei serve: every limit must be > 0"
    assert not (tmp_path / "renkei-target.json").exists()
