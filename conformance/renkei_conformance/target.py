"""Targets: the implementation under test, reached only through the wire.

A target is one of:

* the name of an in-process target registered in the ``renkei.targets``
  entry-point group (``reference`` is the embedded reference); it is driven
  over the ASGI transport, no sockets.  ``NAME@VARIANT`` is a variant of it:
  the factory is called with the variant's name (the known-bad variants of
  ``renkei conformance selftest``);
* an ``http://`` or ``https://`` base URL, every party under ``<base>/<party>``;
* a target file (JSON, specs/schemas/target.schema.json) naming each party's
  base URL, as written by ``renkei serve``; its ``tls`` member gives the CA and
  the client certificates for mutual TLS 1.3 (RK-ARCH-003): the kit talks to
  the target with the conformance operator's certificate and, where a test is
  about identity, with each simulated agency's own certificate.  Its optional
  ``agency_nodes`` member names the agency nodes (profile ``agency-node``) by
  agency id with their base URLs; without it the agency-node tests are not
  applicable.  ``"role": "agency-node"`` declares a target that is one agency
  node alone (no ``parties``): the kit plays the hub (conformance/
  renkei_conformance/hubdouble.py) and points the node at it, through the node's
  control interface (``PUT /control/agency-node/hub``, RK-CTL-008) or the
  command of the target file's ``hub_hook``.  A registered in-process factory
  declares the same with its attributes ``role``, ``agency_id`` and
  ``node_credentials``.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import httpx

from .spec import SpecError, load_user_file

__all__ = [
    "PARTIES",
    "HubHook",
    "InProcessTransport",
    "Restart",
    "Target",
    "TargetError",
    "TlsMaterial",
    "command_line_tls",
    "resolve_target",
]

PARTIES = ("numbering", "registry", "hub", "portal", "auditor", "control")


class TargetError(Exception):
    """The target cannot be resolved or reached (a usage error: exit 2)."""


CertPair = tuple[Path, Path]  # (certificate PEM, private key PEM)


@dataclass(frozen=True)
class TlsMaterial:
    """Mutual-TLS material of a target file (RK-ARCH-003)."""

    ca: Path
    operator: CertPair | None
    agencies: dict[str, CertPair]
    faults: dict[str, CertPair]

    @classmethod
    def from_file(cls, data: dict[str, Any], base: Path) -> TlsMaterial:
        def path(text: str) -> Path:
            return (base / text).resolve()

        def pair(entry: dict[str, str]) -> CertPair:
            return path(entry["cert"]), path(entry["key"])

        if "ca" not in data:
            raise TargetError("the target file's tls member names no CA ('ca')")
        operator = data.get("operator")
        return cls(
            path(data["ca"]),
            pair(operator) if operator else None,
            {k: pair(v) for k, v in data.get("client_certificates", {}).items()},
            {k: pair(v) for k, v in data.get("fault_certificates", {}).items()},
        )

    def context(self, identity: CertPair | None) -> ssl.SSLContext:
        """A client context: TLS 1.3 only, the target's CA, ``identity`` if given."""
        ctx = ssl.create_default_context(cafile=str(self.ca))
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if identity is not None:
            try:
                ctx.load_cert_chain(str(identity[0]), str(identity[1]))
            except (OSError, ssl.SSLError) as exc:
                raise TargetError(f"cannot load client certificate {identity[0]}: {exc}") from exc
        return ctx

    def describe(self) -> dict[str, Any]:
        return {
            "ca": str(self.ca),
            "client_certificates": sorted(self.agencies),
            "operator": self.operator is not None,
        }


@dataclass(frozen=True)
class Restart:
    """The restart capability of a target file (``restart`` member): the command
    the kit runs to crash the implementation and bring it back on the same
    state, from ``cwd``, bounded with the wait for readiness by ``ready_timeout``."""

    command: tuple[str, ...]
    cwd: Path
    ready_timeout: float = 120.0
    description: str = ""

    @classmethod
    def from_file(cls, data: dict[str, Any], base: Path) -> Restart:
        return cls(
            tuple(str(part) for part in data["command"]),
            base.resolve(),
            float(data.get("ready_timeout_seconds", 120)),
            str(data.get("description", "")),
        )

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "command": list(self.command),
            "ready_timeout_seconds": self.ready_timeout,
        }
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class HubHook:
    """How the kit points an agency node under test at its simulated hub (RK-CTL-008):
    ``command`` (from the target file's folder, no shell) with ``{hub_url}``,
    ``{ca_file}`` and ``{credential}`` replaced, exiting 0 once the node reaches that
    hub; without a command, ``PUT /control/agency-node/hub`` on the node."""

    command: tuple[str, ...] = ()
    cwd: Path | None = None
    timeout: float = 120.0

    @classmethod
    def from_file(cls, data: dict[str, Any], base: Path) -> HubHook:
        return cls(
            tuple(str(part) for part in data["command"]),
            base.resolve(),
            float(data.get("timeout_seconds", 120)),
        )

    def describe(self) -> dict[str, Any]:
        if not self.command:
            return {"via": "PUT /control/agency-node/hub"}
        return {"via": "command", "command": list(self.command), "timeout_seconds": self.timeout}


def _nodelay_transport(verify: ssl.SSLContext | bool) -> httpx.HTTPTransport:
    # TCP_NODELAY: without it, a request written as headers then body waits
    # for the peer's delayed ACK (~40 ms per request on loopback).
    nodelay = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    return httpx.HTTPTransport(socket_options=nodelay, verify=verify)


@dataclass
class Target:
    """A resolved target: party base URLs and how to open an HTTP client."""

    name: str
    parties: dict[str, str]
    kind: str  # "in-process" | "http"
    _factory: Callable[[], httpx.Client] = field(repr=False)
    tls: TlsMaterial | None = None
    timeout: float = 10.0
    agency_nodes: dict[str, str] = field(default_factory=dict)  # agency id -> base URL
    restart: Restart | None = None  # the restart capability, when the target file declares it
    role: str = "federation"  # or "agency-node": one agency node alone, the kit plays the hub
    hub_hook: HubHook | None = None  # agency-node targets: how the kit points it at its hub
    node_credentials: dict[str, str] = field(default_factory=dict)
    """Bearer credentials the node accepts, by the kit party they stand for (``kit.auditor``,
    ``kit.pension``), where it is not reached over mutual TLS (in process)."""

    wrap: Callable[[httpx.BaseTransport], httpx.BaseTransport] | None = field(
        default=None, repr=False
    )
    """A transport wrapper every client of the target goes through (the mutating
    proxy of ``selftest --wire``, renkei_conformance.wiremut)."""

    @property
    def node_only(self) -> bool:
        """One agency node alone: the kit plays the hub (issue 15, item 3)."""
        return self.role == "agency-node"

    def client(self) -> httpx.Client:
        return self._wrapped(self._factory())

    def _wrapped(self, client: httpx.Client) -> httpx.Client:
        if self.wrap is not None:
            client._transport = self.wrap(client._transport)
        return client

    def client_with(self, identity: CertPair | None) -> httpx.Client:
        """A client presenting ``identity`` (or no certificate) over mutual TLS;
        only for targets with TLS material (RK-ARCH-003 tests)."""
        if self.tls is None:
            raise TargetError(f"target {self.name!r} has no mutual-TLS material")
        return self._wrapped(
            httpx.Client(
                timeout=self.timeout, transport=_nodelay_transport(self.tls.context(identity))
            )
        )

    @property
    def transport(self) -> str:
        """How the kit reaches the target: ``in process``, ``http``, ``https`` or
        ``https, mutual TLS`` (the scheme of its party URLs, not the target's kind)."""
        if self.kind == "in-process":
            return "in process"
        urls = self.parties.values() if self.parties else self.agency_nodes.values()
        schemes = {url.split(":", 1)[0] for url in urls}
        if schemes == {"https"}:
            return "https, mutual TLS" if self.tls is not None else "https"
        return "+".join(sorted(schemes)) or "http"

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "role": self.role,
            "transport": self.transport,
            "parties": dict(self.parties),
        }
        if self.hub_hook is not None:
            out["hub"] = {"played by": "the kit (hub double)", **self.hub_hook.describe()}
        if self.tls is not None:
            out["tls"] = self.tls.describe()
        if self.agency_nodes:
            out["agency_nodes"] = dict(self.agency_nodes)
        out["restart"] = (
            self.restart.describe()
            if self.restart is not None
            else "not declared: the restart tests (CT-DUR-…) are not applicable"
        )
        return out


def _registered() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group="renkei.targets")}


class InProcessTransport(httpx.BaseTransport):
    """Synchronous httpx transport onto an ASGI app, no sockets.

    httpx's own ``ASGITransport`` runs inside an event loop that lives in a
    background thread (an anyio blocking portal) for the client's lifetime.
    """

    def __init__(self, app: Any) -> None:
        from anyio.from_thread import start_blocking_portal

        self._inner = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        self._cm = start_blocking_portal()
        self._portal = self._cm.__enter__()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()

        async def send() -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            req = httpx.Request(request.method, request.url, headers=request.headers, content=body)
            resp = await self._inner.handle_async_request(req)
            content = b"".join([chunk async for chunk in resp.stream])  # type: ignore[union-attr]
            return resp.status_code, resp.headers.raw, content

        status, headers, content = self._portal.call(send)
        return httpx.Response(status, headers=headers, content=content, request=request)

    def close(self) -> None:
        self._cm.__exit__(None, None, None)


def _in_process(name: str, ep: Any, variant: str | None = None) -> Target:
    try:
        load = ep.load()
        factory: Callable[[], Any] = load if variant is None else (lambda: load(variant))
        if variant is not None:
            _check_variant(ep.name, variant)
    except TargetError:
        raise
    except Exception as exc:  # a broken plugin is a configuration error
        raise TargetError(f"in-process target {name!r} failed to load: {exc}") from exc

    base = f"http://{name.replace('@', '--')}"  # '@' would read as URL userinfo

    def open_client() -> httpx.Client:
        return httpx.Client(transport=InProcessTransport(factory()), base_url=base)

    if getattr(load, "role", "federation") == "agency-node":  # one agency node alone
        return Target(
            name,
            {},
            "in-process",
            open_client,
            agency_nodes={str(load.agency_id): base},
            role="agency-node",
            hub_hook=HubHook(),
            node_credentials=dict(getattr(load, "node_credentials", {})),
        )
    return Target(name, {p: f"{base}/{p}" for p in PARTIES}, "in-process", open_client)


def _check_variant(base: str, variant: str) -> None:
    """A variant must be one the target's known-bad catalog lists."""
    catalogs = {ep.name: ep for ep in entry_points(group="renkei.known_bad")}
    if base not in catalogs:
        raise TargetError(f"in-process target {base!r} has no variants")
    names = sorted(v["name"] for v in catalogs[base].load()())
    if variant not in names:
        raise TargetError(
            f"in-process target {base!r} has no variant {variant!r} (known: {', '.join(names)})"
        )


def _http(
    name: str,
    parties: dict[str, str],
    timeout: float,
    tls: TlsMaterial | None = None,
    agency_nodes: dict[str, str] | None = None,
    *,
    restart: Restart | None = None,
    hub_hook: HubHook | None = None,
) -> Target:
    # The kit's own connections present the conformance operator's certificate
    # (test mode: the control interface's bearer credentials name the agency).
    verify: ssl.SSLContext | bool = tls.context(tls.operator) if tls is not None else True

    def open_client() -> httpx.Client:
        return httpx.Client(timeout=timeout, transport=_nodelay_transport(verify))

    target = Target(
        name, parties, "http", open_client, tls, timeout, dict(agency_nodes or {}), restart
    )
    if hub_hook is not None:  # one agency node alone: its discovery document answers
        target.role, target.hub_hook = "agency-node", hub_hook
        if len(target.agency_nodes) != 1:
            raise TargetError(f"agency-node target {name!r} must name exactly one agency node")
        probe: str | None = next(iter(target.agency_nodes.values()))
        url = str(probe) + "/.well-known/renkei"
    else:
        probe = parties.get("control") or parties.get("hub")
        if probe is None:
            raise TargetError(f"target {name!r} names neither a control nor a hub URL")
        url = probe.rstrip("/") + ("/health" if "control" in parties else "/")
    try:
        with open_client() as c:
            c.get(url)
    except httpx.HTTPError as exc:
        raise TargetError(f"target {name!r} is unreachable at {url}: {exc}") from exc
    return target


def command_line_tls(ca: Path | None, cert: Path | None, key: Path | None) -> TlsMaterial | None:
    """Mutual-TLS material given on the command line (``--ca``, ``--cert``, ``--key``):
    the CA of the target and the conformance operator's certificate and key, for an
    ``https://`` target without a target file (issue 15)."""
    if ca is None and cert is None and key is None:
        return None
    if ca is None or (cert is None) != (key is None):
        raise TargetError("--ca is needed with --cert and --key, which go together")
    for path in (ca, cert, key):
        if path is not None and not path.is_file():
            raise TargetError(f"no such file: {path}")
    operator = (cert.resolve(), key.resolve()) if cert is not None and key is not None else None
    return TlsMaterial(ca.resolve(), operator, {}, {})


def resolve_target(spec: str, *, timeout: float = 10.0, tls: TlsMaterial | None = None) -> Target:
    """Resolve a ``--target`` value; raise ``TargetError`` with one clear line.

    ``tls`` (from the command line) applies to an ``https://`` URL; a target file
    carries its own."""
    registered = _registered()
    if tls is not None and not spec.startswith("https://"):
        raise TargetError(
            "--ca/--cert/--key go with an https:// target; a target file names its "
            "certificates in its tls member"
        )
    if spec in registered:
        return _in_process(spec, registered[spec])
    base_name, _, variant = spec.partition("@")
    if variant and base_name in registered:
        return _in_process(spec, registered[base_name], variant)
    if spec.startswith(("http://", "https://")):
        base = spec.rstrip("/")
        return _http(base, {p: f"{base}/{p}" for p in PARTIES}, timeout, tls)
    path = Path(spec)
    if path.is_file():
        try:
            data = load_user_file(path, "target.schema.json", "target file")
        except SpecError as exc:
            raise TargetError(str(exc)) from exc
        tls = TlsMaterial.from_file(data["tls"], path.parent) if "tls" in data else None
        nodes = {k: str(v["url"]).rstrip("/") for k, v in data.get("agency_nodes", {}).items()}
        restart = Restart.from_file(data["restart"], path.parent) if "restart" in data else None
        hook = None
        if data.get("role") == "agency-node":
            hook = (
                HubHook.from_file(data["hub_hook"], path.parent)
                if "hub_hook" in data
                else HubHook()
            )
        return _http(
            data.get("name", str(path)),
            dict(data.get("parties", {})),
            timeout,
            tls,
            nodes,
            restart=restart,
            hub_hook=hook,
        )
    known = ", ".join(sorted(registered)) or "none installed"
    raise TargetError(
        f"unknown target {spec!r}: give a registered name ({known}), an http(s):// URL "
        "or a target file"
    )
