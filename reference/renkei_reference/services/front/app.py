"""A front's application: the linkage flow's operations as calls to the core,
every other request passed on to the core's own HTTP server.

The wire is the in-process application's (services/app.py): the same routes,
wire models and limits, so a request is refused for the same reason with the
same problem document whichever process reads it.  Two details keep it so:

* The core authenticates (it holds the agencies).  A request the front finds
  malformed, or whose body is not JSON by its content type (415), is first
  checked with the core (``whoami``): an unauthenticated or forbidden caller gets
  its 401/403, as in process, where authentication is resolved before the body is
  judged (RK-ARCH-002, web.auth_first).  A passed-on request is judged by the core
  alone.
* A passed-on request carries what the front's TLS layer verified — the client
  certificate and the scheme — in ``x-renkei-front-*`` headers, which the front
  strips from what the client sent and the core reads only on its Unix socket
  (``from_front``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any

import httpx
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..app import answer_pairs, answer_results
from ..web import models as m
from ..web.long_poll import MAX_WAIT_SECONDS
from ..web.problems import claim_body_refusal, install_body_guard, install_problem_handlers
from ..web.tls import TLS_EXTENSION, peer_certificate, tls_extension
from .client import RemoteDesk, unavailable
from .desk import credentials, render
from .frames import JSON, Reply

__all__ = ["FRONT_PEER", "FRONT_PROTO", "create_front_app", "from_front"]

FRONT_PEER = b"x-renkei-front-peer"
"""The verified client certificate (base64 of its PEM) of a passed-on request."""
FRONT_PROTO = b"x-renkei-front-proto"
"""``https`` or ``http``: how the client reached the front."""
_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
    }
)
_OWN = frozenset({b"server", b"date"})
"""Headers the front's server writes itself."""


def _response(reply: Reply) -> Response:
    return Response(reply.body or None, reply.status, media_type=reply.media_type)


def _authenticated_by_the_core(remote: RemoteDesk) -> type[APIRoute]:
    """The front's routes of the linkage flow: a body the guard refuses (415) is
    refused only once the core has authenticated the caller (RK-ARCH-002)."""

    class FlowRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handler = super().get_route_handler()

            async def authenticated_first(request: Request) -> Response:
                refusal = claim_body_refusal(request.scope)
                if refusal is None:
                    return await handler(request)
                reply = await remote.call("whoami", credentials(request), [])
                return _response(reply) if reply.status >= 400 else refusal

            return authenticated_first

    return FlowRoute


def create_front_app(remote: RemoteDesk, core_http: Path) -> FastAPI:
    """The front's application over the core's call socket and HTTP socket."""
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.router.route_class = _authenticated_by_the_core(remote)
    install_problem_handlers(app)
    install_body_guard(app, after_authentication=True)
    validation = app.exception_handlers[RequestValidationError]

    async def malformed(request: Request, exc: Exception) -> Response:
        # authentication comes first, as in process (RK-ARCH-002/003)
        reply = await remote.call("whoami", credentials(request), [])
        if reply.status >= 400:
            return _response(reply)
        refused = validation(request, exc)
        return refused if isinstance(refused, Response) else await refused

    app.add_exception_handler(RequestValidationError, malformed)
    hub = "/hub"

    @app.post(f"{hub}/queries", status_code=202)
    async def query(body: m.QueryIn, request: Request) -> Response:
        return _response(await remote.call("query", credentials(request), [body.model_dump()]))

    @app.get(f"{hub}/linkages/{{linkage_id}}")
    async def linkage_status(
        linkage_id: str,
        request: Request,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> Response:
        return _response(await remote.call("read", credentials(request), [linkage_id, wait]))

    @app.delete(f"{hub}/linkages/{{linkage_id}}/answer", status_code=204)
    async def acknowledge_answer(linkage_id: str, request: Request) -> Response:
        return _response(await remote.call("acknowledge", credentials(request), [linkage_id]))

    @app.get(f"{hub}/deliveries")
    async def deliveries(
        request: Request, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
    ) -> Response:
        return _response(await remote.call("deliveries", credentials(request), [limit]))

    @app.post(f"{hub}/answers")
    async def answers(body: m.AnswersIn, request: Request) -> Response:
        given = [m.answer_item(item, position) for position, item in enumerate(body.answers)]
        reply = await remote.call("answers", credentials(request), [answer_pairs(given)])
        if reply.status >= 400 or reply.kind != JSON:
            return _response(reply)
        decided: list[dict[str, Any] | None] = json.loads(reply.body)
        results = answer_results(given, decided)
        return Response(render({"results": results}), media_type="application/json")

    @app.post(f"{hub}/linkages/{{linkage_id}}/answer", status_code=202)
    async def answer(linkage_id: str, body: m.AnswerIn, request: Request) -> Response:
        reply = await remote.call("answer", credentials(request), [linkage_id, body.payload])
        return _response(reply)

    proxy = CoreProxy(core_http)
    app.state.proxy = proxy

    async def passed_on(rest: str, request: Request) -> Response:
        claim_body_refusal(request.scope)  # the core authenticates, then judges the body
        return await proxy.forward(request)

    app.router.add_api_route(
        "/{rest:path}",
        passed_on,
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        route_class_override=APIRoute,  # the core judges what it is passed, not the front
    )

    return app


_FRONTS_OWN = frozenset({b"date", b"server"})
"""Headers of a passed-on response that the front's server writes itself."""


def _as_sent(raw_path: bytes, query: bytes) -> str:
    """The request target as the client sent it, in a form the HTTP client passes on
    unchanged (it would resolve dot segments and drop a fragment): ``.`` and ``..``
    segments and ``#`` percent-encoded, which the core's server decodes back, so the
    core routes and reads the very path and query one process would (RK-WIRE-002)."""
    segments = [b"%2E" * len(s) if s in (b".", b"..") else s for s in raw_path.split(b"/")]
    target = b"/".join(segments).replace(b"#", b"%23").decode("latin-1")
    return target + ("?" + query.replace(b"#", b"%23").decode("latin-1") if query else "")


class CoreProxy:
    """Passes a request on to the core's HTTP server over its Unix socket."""

    def __init__(self, core_http: Path) -> None:
        self.client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(core_http)),
            base_url="http://core",
            timeout=httpx.Timeout(None),  # the core's own limits bound what it does
        )

    async def forward(self, request: Request) -> Response:
        headers = [
            (k, v)
            for k, v in request.scope["headers"]
            if k not in _HOP and not k.startswith(b"x-renkei-front-")
        ]
        pem = peer_certificate(request.scope)
        if pem:
            headers.append((FRONT_PEER, base64.b64encode(pem.encode("ascii"))))
        headers.append((FRONT_PROTO, request.url.scheme.encode("ascii")))
        url = _as_sent(
            request.scope.get("raw_path") or request.url.path.encode(),
            request.scope.get("query_string", b""),
        )
        try:
            got = await self.client.request(
                request.method, url, headers=headers, content=await request.body()
            )
        except httpx.HTTPError as exc:
            return _response(unavailable(f"the hub's core cannot be reached: {exc}"))
        out = Response(got.content, got.status_code)
        out.raw_headers = [
            (k, v) for k, v in got.headers.raw if k.lower() not in _HOP | _FRONTS_OWN
        ] + [(b"content-length", str(len(got.content)).encode())]
        return out

    async def close(self) -> None:
        await self.client.aclose()


def from_front(app: ASGIApp) -> ASGIApp:
    """The core's HTTP server on its Unix socket: a passed-on request gets the TLS
    details its front verified, as if it had come over that connection."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            peer = next((v for k, v in headers if k == FRONT_PEER), None)
            proto = next((v for k, v in headers if k == FRONT_PROTO), b"http")
            scope = {
                **scope,
                "headers": [(k, v) for k, v in headers if not k.startswith(b"x-renkei-front-")],
                "scheme": proto.decode("ascii"),
            }
            if peer is not None:
                extension = tls_extension(base64.b64decode(peer).decode("ascii"), "TLSv1.3")
                scope["extensions"] = {**(scope.get("extensions") or {}), TLS_EXTENSION: extension}
        await app(scope, receive, send)

    return wrapped
