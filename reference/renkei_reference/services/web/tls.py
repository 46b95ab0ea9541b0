"""Mutual TLS 1.3 for ``renkei serve`` (RK-ARCH-003).

The TLS handshake runs in ``server_limits.ConnectionGate`` (with a deadline);
uvicorn (0.55) does not fill the ASGI ``tls`` scope extension, so
:class:`MutualTlsH11Protocol` does: on each connection it reads
the verified peer certificate from the transport's ``ssl_object`` and hands
every request of that connection the extension
``scope["extensions"]["tls"] = {"client_cert_chain": [PEM], "tls_version": …}``
(the shape of the ASGI TLS extension spec).  The app derives the caller from
it (services/app.py), never from a network address.

:func:`server_context` refuses anything below TLS 1.3 and any client without a
certificate chaining to the federation CA (expired or foreign certificates fail
the handshake).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ...core.errors import PermissionDeniedError
from .pki import OPERATOR, Pki, certified_identity
from .server_limits import BoundedH11Protocol

__all__ = [
    "TLS_EXTENSION",
    "MutualTlsH11Protocol",
    "peer_certificate",
    "require_operator",
    "server_context",
    "tls_extension",
]

TLS_EXTENSION = "tls"
_TLS_1_3 = 0x0304  # the ASGI TLS extension's tls_version for TLS 1.3


def server_context(pki: Pki) -> ssl.SSLContext:
    """Server side: TLS 1.3 only, client certificate required, federation CA only."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pki.server, pki.server_key)
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(cafile=pki.ca)
    return ctx


def tls_extension(pem: str | None, version: str | None) -> dict[str, Any]:
    """The ASGI TLS extension of a connection: its verified client certificate (PEM) and
    TLS version (a front of ``--workers N`` passes both on to the core)."""
    return {
        "client_cert_chain": [pem] if pem else [],
        "tls_version": _TLS_1_3 if version == "TLSv1.3" else None,
        "server_cert": None,
    }


def _with_tls(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope["extensions"] = {**(scope.get("extensions") or {}), TLS_EXTENSION: extension}
        await app(scope, receive, send)

    return wrapped


class MutualTlsH11Protocol(BoundedH11Protocol):
    """uvicorn's h11 protocol (with read deadlines) that exposes the verified
    client certificate."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is None:
            return
        der = ssl_object.getpeercert(binary_form=True)
        pem = ssl.DER_cert_to_PEM_cert(der) if der else None
        self.app = _with_tls(self.app, tls_extension(pem, ssl_object.version()))


def peer_certificate(scope: Scope) -> str | None:
    """The verified client certificate (PEM) of this request's connection, or
    None when the request did not arrive over TLS (in process, plain HTTP)."""
    tls = (scope.get("extensions") or {}).get(TLS_EXTENSION)
    if not tls:
        return None
    chain = tls.get("client_cert_chain") or []
    return str(chain[0]) if chain else ""


def require_operator(scope: Scope) -> None:
    """RK-CTL-007: over mutual TLS, only the conformance operator's certificate
    reaches the control interface; an agency's certificate is refused (403).
    In process and over plain HTTP (test mode's stand-in) nothing changes."""
    pem = peer_certificate(scope)
    if pem is None or certified_identity(pem) == OPERATOR:
        return
    raise PermissionDeniedError(
        "control-operator-only",
        "the control interface answers only the conformance operator's certificate",
        "RK-CTL-007",
    )


def served_over_https(request: Request) -> bool:
    """The request came over HTTPS (``renkei serve``): session cookies are then
    ``Secure`` too, so a browser never sends them over plain HTTP."""
    return request.url.scheme == "https"


def set_cookie(
    resp: Response, request: Request, name: str, value: str, *, max_age: int, path: str
) -> None:
    """A cookie of the web applications (My Portal, the auditor's dashboard):
    ``HttpOnly; SameSite=Strict``, and ``Secure`` when served over HTTPS."""
    resp.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="strict", path=path,
        secure=served_over_https(request),
    )  # fmt: skip


def delete_cookie(resp: Response, request: Request, name: str, *, path: str) -> None:
    """Remove a cookie set by ``set_cookie`` (same attributes)."""
    resp.delete_cookie(
        name, path=path, secure=served_over_https(request), httponly=True, samesite="strict"
    )
