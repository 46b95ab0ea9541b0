"""The floor of ``renkei bench``: a bare two-hop relay on the reference's server stack.

What a hub cannot beat on this machine: the same server stack as ``renkei
serve`` (uvicorn with its h11 protocol, FastAPI/Starlette, pydantic request
bodies, one event loop; mutual TLS 1.3 with a client certificate required, or
plain HTTP when the target is plain) relaying the same payload with the same
request shapes — requester ``POST /queries`` → queued for the provider →
provider ``GET /deliveries`` → provider ``POST /answers`` (the answers of a pull in
one request) or ``POST /linkages/{id}/answer`` → requester ``GET /linkages/{id}``,
held with ``wait`` until the answer is in, collects it and ``DELETE
/linkages/{id}/answer`` acknowledges it — and none of the hub's
work: no patterns, no codes, no access log.  A query whose pattern is not the
load's allowed one is refused with 403 problem+json, so the same locustfile
drives both (``renkei bench`` swaps the hub URL in the setup file).

Run as ``python -m renkei_conformance.load.floor --setup FILE --port-file F
[--cert C --key K --ca CA]``; it binds a free loopback port and writes it to F.
:func:`floor_pki` makes a throw-away CA, server and client certificate
(ECDSA P-256, like ``renkei pki init``) for targets whose server key the kit
does not hold.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import os
import secrets
import socket
import ssl
import sys
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NamedTuple

from fastapi import FastAPI, Header, HTTPException, Query
from fastapi.responses import Response
from pydantic import BaseModel

from ..target import Target
from .process import server_process

__all__ = ["build_app", "floor_pki", "main", "served_floor"]

_DEADLINE = timedelta(hours=1)
_JSON = "application/json"


class QueryIn(BaseModel):
    """The query's shape (as the wire protocol's, without its checks)."""

    request_id: str
    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    link_code: str


class AnswerIn(BaseModel):
    payload: str


class AnswerItemIn(BaseModel):
    linkage_id: str
    payload: str


class AnswersIn(BaseModel):
    answers: list[AnswerItemIn]


def _render(body: Any) -> bytes:
    """A JSON body as ``JSONResponse`` renders it (the reference renders its own so)."""
    return json.dumps(
        body, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")


def _problem(status: int, title: str) -> Reply:
    body = {"type": "about:blank", "title": title, "status": status}
    return Reply(status, "application/problem+json", _render(body))


class Reply(NamedTuple):
    """A response of the relay: status, media type (None: no body), body."""

    status: int
    media: str | None
    body: bytes


class Relay:
    """The relay's state and operations: one queue per provider, answers held
    once; every body rendered to the bytes the response carries."""

    def __init__(self, allowed_pattern: str) -> None:
        self.allowed_pattern = allowed_pattern
        self.queues: dict[str, deque[dict[str, Any]]] = {}
        self.open: dict[str, dict[str, Any]] = {}  # linkage id → requester, provider, answer
        self.waiting: dict[str, asyncio.Event] = {}  # reads held for an answer
        self.serial = iter(range(1, 1 << 62))

    def query(self, requester: str, body: dict[str, str]) -> Reply:
        if body["pattern_id"] != self.allowed_pattern or body["requester"] != requester:
            return _problem(403, "the pattern does not allow this query")
        linkage_id = secrets.token_hex(16)
        deadline = (datetime.now(UTC) + _DEADLINE).isoformat()
        number = next(self.serial)
        self.open[linkage_id] = {
            "requester": requester,
            "provider": body["provider"],
            "answer": None,
        }
        self.queues.setdefault(body["provider"], deque()).append(
            {
                "linkage_id": linkage_id,
                "requester": requester,
                "pattern_id": body["pattern_id"],
                "information_kind": body["information_kind"],
                "link_code": body["link_code"],
                "deadline": deadline,
                "serial": number,
            }
        )
        accepted = {"linkage_id": linkage_id, "state": "pending", "deadline": deadline}
        return Reply(202, _JSON, _render({**accepted, "serial": number}))

    def deliveries(self, provider: str, limit: int) -> Reply:
        queue = self.queues.get(provider)
        out = [queue.popleft() for _ in range(min(limit, len(queue)))] if queue else []
        return Reply(200, _JSON, _render({"deliveries": out}))

    def _answer(self, provider: str, linkage_id: str, payload: str) -> bool:
        linkage = self.open.get(linkage_id)
        if linkage is None or linkage["provider"] != provider:
            return False
        linkage["answer"] = payload
        held = self.waiting.pop(linkage_id, None)
        if held is not None:
            held.set()
        return True

    def answer(self, provider: str, linkage_id: str, payload: str) -> Reply:
        if not self._answer(provider, linkage_id, payload):
            return _problem(404, "no open linkage")
        return Reply(202, _JSON, _render({"linkage_id": linkage_id, "state": "answered"}))

    def answers(self, provider: str, items: list[tuple[str, str]]) -> Reply:
        results = [
            {"linkage_id": lid, "state": "answered"}
            if self._answer(provider, lid, payload)
            else {"linkage_id": lid, "problem": {"status": 404}}
            for lid, payload in items
        ]
        return Reply(200, _JSON, _render({"results": results}))

    async def status(self, requester: str, linkage_id: str, wait: float) -> Reply:
        linkage = self.open.get(linkage_id)
        if linkage is None or linkage["requester"] != requester:
            return _problem(404, "no open linkage")
        if linkage["answer"] is None and wait > 0:  # held until answered (RK-FLOW-009)
            event = self.waiting.setdefault(linkage_id, asyncio.Event())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await event.wait()
        if linkage["answer"] is None:
            return Reply(200, _JSON, _render({"linkage_id": linkage_id, "state": "pending"}))
        handed = {"linkage_id": linkage_id, "state": "delivered"}  # until acknowledged
        return Reply(200, _JSON, _render({**handed, "answer": {"payload": linkage["answer"]}}))

    def acknowledge(self, requester: str, linkage_id: str) -> Reply:
        linkage = self.open.get(linkage_id)
        if linkage is None or linkage["requester"] != requester or not linkage["answer"]:
            return _problem(404, "no answer handed out")
        del self.open[linkage_id]  # acknowledged, then gone
        return Reply(204, None, b"")

    async def call(self, op: str, agency: str, args: list[Any]) -> Reply:
        """One operation by name (what a front's call names)."""
        if op == "status":
            return await self.status(agency, str(args[0]), float(args[1]))
        if op == "answers":
            return self.answers(agency, [(str(a), str(b)) for a, b in args[0]])
        if op == "query":
            return self.query(agency, dict(args[0]))
        if op == "deliveries":
            return self.deliveries(agency, int(args[0]))
        if op == "answer":
            return self.answer(agency, str(args[0]), str(args[1]))
        return self.acknowledge(agency, str(args[0]))


Auth = Annotated[str | None, Header()]
"""The ``Authorization`` header (module level: FastAPI resolves annotations here)."""

Call = Callable[[str, str, list[Any]], Awaitable[tuple[int, str | None, bytes]]]


def build_app(tokens: dict[str, str], call: Call) -> FastAPI:
    """The relay's wire: bearer token → agency, then one operation (``call``: the
    relay in this process, or the relay core of ``--workers N``)."""
    agency_of = {token: agency for agency, token in tokens.items()}
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)

    def who(authorization: str | None) -> str:
        scheme, _, token = (authorization or "").partition(" ")
        agency = agency_of.get(token) if scheme.lower() == "bearer" else None
        if agency is None:
            raise HTTPException(401, "unknown credential")
        return agency

    def respond(reply: tuple[int, str | None, bytes]) -> Response:
        status, media, body = reply
        return Response(body or None, status, media_type=media)

    @app.post("/hub/queries", status_code=202)
    async def query(body: QueryIn, authorization: Auth = None) -> Response:
        return respond(await call("query", who(authorization), [body.model_dump()]))

    @app.get("/hub/deliveries")
    async def deliveries(
        authorization: Auth = None, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
    ) -> Response:
        return respond(await call("deliveries", who(authorization), [limit]))

    @app.post("/hub/linkages/{linkage_id}/answer", status_code=202)
    async def answer(linkage_id: str, body: AnswerIn, authorization: Auth = None) -> Response:
        return respond(await call("answer", who(authorization), [linkage_id, body.payload]))

    @app.post("/hub/answers")
    async def answers(body: AnswersIn, authorization: Auth = None) -> Response:
        items = [[item.linkage_id, item.payload] for item in body.answers]
        return respond(await call("answers", who(authorization), [items]))

    @app.get("/hub/linkages/{linkage_id}")
    async def status(
        linkage_id: str, authorization: Auth = None, wait: Annotated[float, Query(ge=0, le=20)] = 0
    ) -> Response:
        return respond(await call("status", who(authorization), [linkage_id, wait]))

    @app.delete("/hub/linkages/{linkage_id}/answer", status_code=204)
    async def acknowledge(linkage_id: str, authorization: Auth = None) -> Response:
        return respond(await call("acknowledge", who(authorization), [linkage_id]))

    return app


def floor_pki(folder: Path) -> dict[str, Path]:
    """A throw-away CA, a loopback server certificate and one client certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)
    folder.mkdir(parents=True, exist_ok=True)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(name("renkei bench floor CA"))
        .issuer_name(name("renkei bench floor CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    paths = {"ca": folder / "ca.pem"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    leaves: dict[str, tuple[list[x509.GeneralName], x509.ObjectIdentifier]] = {
        "server": (
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.IPv4Address("127.0.0.1"))],
            ExtendedKeyUsageOID.SERVER_AUTH,
        ),
        "cert": (
            [x509.UniformResourceIdentifier("urn:renkei:conformance-operator")],
            ExtendedKeyUsageOID.CLIENT_AUTH,
        ),
    }
    for leaf, (san, usage) in leaves.items():
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(name(f"renkei bench floor {leaf}"))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName(san), critical=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        paths[leaf] = folder / f"{leaf}.pem"
        paths[f"{leaf}_key"] = folder / f"{leaf}-key.pem"
        paths[leaf].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths[f"{leaf}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        paths[f"{leaf}_key"].chmod(0o600)
    return paths


def _server_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    """As the reference's: TLS 1.3 only, a client certificate of the CA required."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(cert, key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=ca)
    return ctx


def _protocol() -> type:
    """uvicorn's h11 protocol reading the verified peer certificate per connection,
    as the reference's ``renkei serve`` does (its cost belongs to the stack)."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class PeerCertH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            ssl_object = transport.get_extra_info("ssl_object")
            if ssl_object is not None:
                der = ssl_object.getpeercert(binary_form=True)
                self.peer_pem = ssl.DER_cert_to_PEM_cert(der) if der else ""

    return PeerCertH11Protocol


@contextmanager
def served_floor(
    target: Target,
    setup_file: Path,
    workdir: Path,
    *,
    workers: int = 1,
    pids: list[int] | None = None,
) -> Iterator[Path]:
    """Serve the floor beside ``target`` (``workers`` fronts and a relay core when
    more than one) and yield its setup file: the target's setup with the floor's
    hub URL (and certificates, when the floor has its own)."""
    setup = json.loads(setup_file.read_text(encoding="utf-8"))
    workdir.mkdir(parents=True, exist_ok=True)
    tls_args: list[str] = []
    scheme = "http"
    if target.tls is not None:
        scheme = "https"
        server = target.tls.ca.parent / "server.pem"
        server_key = target.tls.ca.parent / "server-key.pem"
        if server.is_file() and server_key.is_file():
            # the target's own PKI (renkei serve's state): the very same certificates
            paths = {"server": server, "server_key": server_key, "ca": target.tls.ca}
        else:
            paths = floor_pki(workdir / "pki")
            setup["tls"] = {
                "ca": paths["ca"].read_text("ascii"),
                "cert": paths["cert"].read_text("ascii"),
                "key": paths["cert_key"].read_text("ascii"),
            }
        tls_args = [
            *("--cert", str(paths["server"]), "--key", str(paths["server_key"])),
            *("--ca", str(paths["ca"])),
        ]
    port_file = workdir / "port"
    port_file.unlink(missing_ok=True)
    floor_setup = workdir / "setup.json"
    floor_setup.write_text(json.dumps(setup), encoding="utf-8")
    os.chmod(floor_setup, 0o600)  # holds the agencies' bearer tokens
    command = [
        *(sys.executable, "-m", __name__, "--setup", str(floor_setup)),
        *("--port-file", str(port_file), *tls_args, "--workers", str(workers)),
    ]
    with server_process(
        command,
        log=workdir / "floor.log",
        what="the floor relay",
        timeout_s=30,
        ready=port_file.is_file,
    ) as relay:
        if pids is not None:
            pids.append(relay.proc.pid)
        setup["parties"] = {
            **setup["parties"],
            "hub": f"{scheme}://127.0.0.1:{port_file.read_text('ascii')}/hub",
        }
        floor_setup.write_text(json.dumps(setup), encoding="utf-8")
        yield floor_setup


def _transport(args: argparse.Namespace) -> dict[str, Any]:
    """uvicorn's TLS settings: plain HTTP (uvicorn's defaults, as renkei serve's) or
    mutual TLS 1.3."""
    if args.cert and args.key and args.ca:
        context = _server_context(args.cert, args.key, args.ca)
        return {"http": _protocol(), "ssl_context_factory": lambda _config, _default: context}
    return {}


def _front(args: argparse.Namespace, tokens: dict[str, str]) -> int:
    """A front of ``--workers N``: the wire on the inherited socket, calls to the core."""
    import ctypes

    import uvicorn

    from .relay_calls import RemoteRelay

    ctypes.CDLL(None).prctl(1, 15, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGTERM: end with the core
    app = build_app(tokens, RemoteRelay(Path(args.calls)))
    config = uvicorn.Config(app, log_level="warning", access_log=False, **_transport(args))
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=args.fd)])
    return 0


def _core(args: argparse.Namespace, relay: Relay, sock: socket.socket) -> int:
    """The relay core of ``--workers N``: the queues, and N fronts on ``sock``."""
    import signal
    import subprocess
    import tempfile

    from .relay_calls import serve_calls

    folder = Path(tempfile.mkdtemp(prefix="renkei-floor-"))
    calls = folder / "calls.sock"

    async def run() -> None:
        server = await serve_calls(calls, relay.call)
        sock.listen(128)
        command = [
            *(sys.executable, "-m", "renkei_conformance.load.floor", "--front"),
            *("--fd", str(sock.fileno())),
            *("--calls", str(calls), "--setup", str(args.setup)),
            *("--port-file", str(args.port_file)),
        ]
        if args.cert:
            command += ["--cert", str(args.cert), "--key", str(args.key), "--ca", str(args.ca)]
        fronts = [subprocess.Popen(command, pass_fds=(sock.fileno(),)) for _ in range(args.workers)]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        _publish(args.port_file, sock)
        try:
            await stop.wait()
        finally:
            for front in fronts:
                front.terminate()
            for front in fronts:
                await asyncio.to_thread(front.wait)
            server.close()

    try:
        asyncio.run(run())
    finally:
        calls.unlink(missing_ok=True)
        folder.rmdir()
    return 0


def _publish(port_file: Path, sock: socket.socket) -> None:
    tmp = port_file.with_suffix(".tmp")
    tmp.write_text(str(sock.getsockname()[1]), encoding="ascii")
    tmp.replace(port_file)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m renkei_conformance.load.floor")
    parser.add_argument("--setup", type=Path, required=True, help="the bench setup file")
    parser.add_argument("--port-file", type=Path, required=True, help="write the port here")
    parser.add_argument("--cert", type=Path, help="server certificate (mutual TLS 1.3)")
    parser.add_argument("--key", type=Path, help="server key")
    parser.add_argument("--ca", type=Path, help="CA the client certificates chain to")
    parser.add_argument(
        "--workers", type=int, default=1, help="front processes and one relay core (default 1)"
    )
    parser.add_argument("--front", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--calls", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if bool(args.cert) != bool(args.key) or bool(args.cert) != bool(args.ca):
        print("floor: --cert, --key and --ca go together", file=sys.stderr)
        return 2
    setup = json.loads(args.setup.read_text(encoding="utf-8"))
    tokens = dict(setup["tokens"])
    if args.front:
        return _front(args, tokens)
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as renkei serve
    sock.bind(("127.0.0.1", 0))
    relay = Relay(str(setup["allowed_pattern"]))
    if args.workers > 1:
        return _core(args, relay, sock)

    async def here(op: str, agency: str, call_args: list[Any]) -> Reply:
        return await relay.call(op, agency, call_args)

    app = build_app(tokens, here)
    config = uvicorn.Config(app, log_level="warning", access_log=False, **_transport(args))
    _publish(args.port_file, sock)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
