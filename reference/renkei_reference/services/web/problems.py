"""RFC 9457 problem+json responses for every error (RK-WIRE-001).

One place turns domain errors, validation errors and HTTP errors into
``application/problem+json`` with a stable ``type`` URI
``urn:renkei:problem:<slug>`` and, where one applies, the requirement ID.
Nothing reaches a client as a traceback: an unexpected exception becomes a
500 ``internal-error`` whose detail names no internals.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, is_dataclass
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ...core.errors import RenkeiError

__all__ = [
    "BODY_REFUSAL",
    "MAX_BODY_BYTES",
    "PROBLEM_MEDIA_TYPE",
    "CommitWaiter",
    "claim_body_refusal",
    "install_body_guard",
    "install_commit_barrier",
    "install_problem_handlers",
    "problem_body",
    "problem_document",
    "problem_response",
]

PROBLEM_MEDIA_TYPE = "application/problem+json"
MAX_BODY_BYTES = 4 * 1024 * 1024  # the spec asks for at least 2 MiB
_log = logging.getLogger("renkei.reference")

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden-role", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem_body(
    status: int,
    slug: str,
    title: str,
    detail: str,
    requirement: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An RFC 9457 problem document of the renkei registry (specs/problems.yaml)."""
    body: dict[str, Any] = {
        "type": f"urn:renkei:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if requirement:
        body["requirement"] = requirement
    body.update(extra)
    return body


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    requirement: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body = problem_body(status, slug, title, detail, requirement, **extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def problem_document(exc: RenkeiError, part: str = "body") -> dict[str, Any]:
    """The problem document of a domain error, as its response would carry it (or an
    item's own outcome in a batch).  Every validation-error lists its failures
    (RK-WIRE-001): a check of the implementation's own names ``part`` of the request
    (its body, or its query when it has none)."""
    extra = {k: _wire(v) for k, v in exc.extensions.items()}
    if exc.problem == "validation-error" and "errors" not in extra:
        extra["errors"] = [{"loc": [part], "msg": exc.detail}]
    return problem_body(
        exc.status_hint, exc.problem, _title(exc.problem), exc.detail, exc.requirement, **extra
    )


def _wire(value: object) -> object:
    """An extension member as JSON: a typed result (a dataclass instance, such as a
    refusal's receipt) is written as its fields, which are wire-shaped."""
    if is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def _request_part(request: Request) -> str:
    """The part of a request a failure found past the schema is in: the body of a
    request that carries one, else its query."""
    return "body" if request.method in ("POST", "PUT", "PATCH") else "query"


def _title(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RenkeiError)
    async def _domain(request: Request, exc: RenkeiError) -> JSONResponse:
        body = problem_document(exc, _request_part(request))
        return JSONResponse(body, status_code=exc.status_hint, media_type=PROBLEM_MEDIA_TYPE)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        detail = f"{'.'.join(first['loc'][1:]) or 'body'}: {first['msg']}"
        return problem_response(
            422,
            "validation-error",
            "Request does not match the wire schema",
            detail,
            "RK-WIRE-001",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("bad-request", "Bad request"))
        resp = problem_response(exc.status_code, slug, title, str(exc.detail), "RK-WIRE-001")
        if exc.status_code == 405:
            resp.headers["Allow"] = allowed_methods(request)
        return resp

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500,
            "internal-error",
            "Internal error",
            "the implementation failed unexpectedly; the server log has the details",
        )


def allowed_methods(request: Request) -> str:
    """RFC 9110 §15.5.6: a 405 names every method the target resource accepts —
    each method some route of the app matches fully at this path."""
    routes = request.app.router.routes
    return ", ".join(
        method
        for method in _METHODS
        if any(r.matches({**request.scope, "method": method})[0] is Match.FULL for r in routes)
    )


BODY_REFUSAL = "renkei_body_refusal"
"""The scope's key of a 415 the body guard holds until the caller is authenticated."""


def claim_body_refusal(scope: Scope) -> Response | None:
    """The 415 the body guard holds for this request, if any, taken: the caller was
    authenticated (RK-ARCH-002) and the route answers it now, or hands the request on
    to another server that judges it itself.  Once taken, reading the body is not
    refused."""
    held: list[Response] | None = scope.get(BODY_REFUSAL)
    if not held:
        return None
    return held.pop()


class _BodyGuard:
    """Refuse request bodies that are not JSON (415) or too large (413) before
    any handler runs (RK-WIRE-001).  Pure ASGI, so it costs one dict look-up
    on requests without a body.

    With ``after_authentication`` a body of another media type is refused only
    once the caller is authenticated (RK-ARCH-002): the 415 is held in the scope
    (``BODY_REFUSAL``) for the route to answer after its authentication
    (web.auth_first.AuthFirstRoute), and reading the body while it is held is
    refused with it.  A body too large is refused at once either way: its size is
    the transport's bound, as a request head's is."""

    def __init__(self, app: ASGIApp, after_authentication: bool = False) -> None:
        self.app = app
        self.after_authentication = after_authentication

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        refusal: Response | None = None
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            refusal = problem_response(
                413,
                "payload-too-large",
                "Payload too large",
                f"request bodies are limited to {MAX_BODY_BYTES} bytes",
                "RK-WIRE-001",
            )
        elif (
            (length not in (None, b"0") or b"transfer-encoding" in headers)
            and media not in (b"application/json", b"")
            and not media.endswith(b"+json")
            # My Portal's and the auditor's web pages (not the wire protocol) post HTML forms.
            and not (
                media == b"application/x-www-form-urlencoded"
                and str(scope.get("path", "")).startswith(("/portal/ui/", "/auditor/ui/"))
            )
        ):
            refusal = problem_response(
                415,
                "unsupported-media-type",
                "Unsupported media type",
                f"request bodies are application/json, not {media.decode('latin-1')!r}",
                "RK-WIRE-001",
            )
        if refusal is not None and refusal.status_code == 415 and self.after_authentication:
            held = [refusal]
            scope[BODY_REFUSAL] = held
            receive = _refused_when_read(held, receive, media)
        elif refusal is not None:
            await refusal(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > MAX_BODY_BYTES:
                raise _TooLarge
            return message

        try:
            await self.app(scope, limited, send)
        except _TooLarge:
            await problem_response(
                413,
                "payload-too-large",
                "Payload too large",
                f"request bodies are limited to {MAX_BODY_BYTES} bytes",
                "RK-WIRE-001",
            )(scope, receive, send)


def _refused_when_read(held: list[Response], receive: Receive, media: bytes) -> Receive:
    """``receive`` that refuses the body (415) while the guard holds its refusal."""

    async def judged() -> Message:
        if held:
            held.clear()
            raise HTTPException(
                415, f"request bodies are application/json, not {media.decode('latin-1')!r}"
            )
        return await receive()

    return judged


class _TooLarge(Exception):
    pass


def install_body_guard(app: FastAPI, *, after_authentication: bool = False) -> None:
    """The body guard (``_BodyGuard``); ``after_authentication`` where every route
    authenticates its caller first (RK-ARCH-002, web.auth_first)."""
    app.add_middleware(_BodyGuard, after_authentication=after_authentication)


ACKNOWLEDGES_NOTHING = "renkei_acknowledges_nothing"
"""Set in a request's state by an operation whose response acknowledges no step of
the hub (a poll of a linkage with no answer for the caller, the requester's
acknowledgement of an answer): it is sent without waiting for the commit."""


def acknowledges_nothing(request: Request) -> None:
    """Mark ``request``'s response as acknowledging nothing (see ``_CommitBarrier``)."""
    setattr(request.state, ACKNOWLEDGES_NOTHING, True)


class CommitWaiter:
    """Waits until the log changes made so far are committed: the store's barrier,
    awaited on the event loop.  The store hands every request of a batch the same
    future: it is wrapped once, so a commit wakes the event loop once, not once
    per waiting response."""

    def __init__(self, barrier: Callable[[], Future[None]]) -> None:
        self.barrier = barrier
        self._wrapped: list[tuple[Future[None], asyncio.Future[None]]] = []

    def _awaitable(self, future: Future[None]) -> asyncio.Future[None]:
        for known, wrapped in self._wrapped:
            if known is future:
                return wrapped
        wrapped = asyncio.wrap_future(future)
        self._wrapped = [*(p for p in self._wrapped if not p[0].done())][-3:]
        self._wrapped.append((future, wrapped))
        return wrapped

    async def wait(self) -> None:
        """Return once committed.

        :raises RenkeiError: the store could not write (``log-store-unavailable``).
        """
        future = self.barrier()
        if not future.done():
            await asyncio.shield(self._awaitable(future))
        future.result()


class _CommitBarrier:
    """Hold every response until the log changes made so far are committed.

    The hub changes its logs in memory and queues them for the durable store's
    group commit (services.log_store); this guard awaits the store's barrier
    before the first byte of a response goes out, so no receipt, checkpoint or
    answer is acknowledged before its log entry is on disk, while concurrent
    requests share one commit.  A response that acknowledges nothing
    (``acknowledges_nothing``) is sent at once.  If the store cannot write, the response is
    replaced by 503 ``log-store-unavailable`` (RK-LOG-001).  Pure ASGI.
    """

    def __init__(self, app: ASGIApp, barrier: Callable[[], Future[None]]) -> None:
        self.app = app
        self.commit = CommitWaiter(barrier)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        held: list[Message] = []
        replaced = False

        async def guarded(message: Message) -> None:
            nonlocal replaced
            if replaced:
                return
            if message["type"] == "http.response.start":
                held.append(message)
                return
            if held:
                start = held.pop()
                if scope.get("state", {}).get(ACKNOWLEDGES_NOTHING):
                    await send(start)  # nothing in it needs to survive a crash
                    await send(message)
                    return
                try:
                    await self.commit.wait()
                except RenkeiError as exc:
                    replaced = True
                    await problem_response(
                        exc.status_hint,
                        exc.problem,
                        _title(exc.problem),
                        exc.detail,
                        exc.requirement,
                    )(scope, receive, send)
                    return
                await send(start)
            await send(message)

        await self.app(scope, receive, guarded)


def install_commit_barrier(app: FastAPI, barrier: Callable[[], Future[None]]) -> None:
    """Answer only after the log is committed (group commit; see ``_CommitBarrier``)."""
    app.add_middleware(_CommitBarrier, barrier=barrier)
