"""RFC 9457 problem+json responses for every error (RK-WIRE-001).

One place turns domain errors, validation errors and HTTP errors into
``application/problem+json`` with a stable ``type`` URI
``urn:renkei:problem:<slug>`` and, where one applies, the requirement ID.
Nothing reaches a client as a traceback: an unexpected exception becomes a
500 ``internal-error`` whose detail names no internals.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from ..core.errors import RenkeiError

__all__ = ["PROBLEM_MEDIA_TYPE", "install_problem_handlers", "problem_response"]

PROBLEM_MEDIA_TYPE = "application/problem+json"
_log = logging.getLogger("renkei.reference")

_HTTP_SLUGS = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden-role", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("payload-too-large", "Payload too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
}


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str,
    requirement: str | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:renkei:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if requirement:
        body["requirement"] = requirement
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE)


def _title(slug: str) -> str:
    return slug.replace("-", " ").capitalize()


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(RenkeiError)
    async def _domain(_: Request, exc: RenkeiError) -> JSONResponse:
        return problem_response(
            exc.status_hint, exc.problem, _title(exc.problem), exc.detail, exc.requirement
        )

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
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _HTTP_SLUGS.get(exc.status_code, ("bad-request", "Bad request"))
        return problem_response(exc.status_code, slug, title, str(exc.detail), "RK-WIRE-001")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500,
            "internal-error",
            "Internal error",
            "the implementation failed unexpectedly; the server log has the details",
        )
