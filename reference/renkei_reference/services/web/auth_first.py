"""RK-ARCH-002: the caller is authenticated before anything else in the request is judged.

FastAPI reads and parses a route's body (a body that is not JSON: 422
``validation-error``) before it resolves the route's dependencies, where the
caller is authenticated; a router's or an inclusion's dependencies are resolved
there too, so none of them runs before the body is judged.  ``AuthFirstRoute``
runs the route's authentication first — every dependency marked with
``authenticates``, in the order FastAPI would resolve them — then refuses a body
the body guard found of another media type (415, ``install_body_guard``), and only
then lets FastAPI read the body and resolve the rest.  A marked dependency runs
once per request: FastAPI's own resolution gets the result already found.

(No ``from __future__ import annotations`` here: FastAPI reads the marked
dependencies' annotations as objects.)
"""

from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import fastapi.routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response

from .problems import claim_body_refusal

__all__ = ["AuthFirstRoute", "authenticates"]

T = TypeVar("T")
_MARK = "renkei_authenticates"
_FOUND = "renkei_authenticated"
"""The scope's key of the results of the marked dependencies run for a request."""


def authenticates(check: Callable[[Request], Awaitable[T]]) -> Callable[[Request], Awaitable[T]]:
    """Mark ``check`` (a dependency of the request alone that authenticates the
    caller, raising 401/403) as run before the body is read (``AuthFirstRoute``),
    once per request."""

    async def once(request: Request) -> T:
        found: dict[Any, Any] = request.scope.setdefault(_FOUND, {})
        if once in found:
            return found[once]  # type: ignore[no-any-return]
        result = await check(request)
        found[once] = result
        return result

    once.__name__ = getattr(check, "__name__", "authenticates")
    once.__qualname__ = getattr(check, "__qualname__", once.__name__)
    once.__doc__ = check.__doc__
    setattr(once, _MARK, True)
    return once


def _checks(dependant: Dependant) -> list[Callable[[Request], Awaitable[Any]]]:
    """The marked dependencies of ``dependant``, in the order FastAPI resolves them."""
    found: list[Callable[[Request], Awaitable[Any]]] = []
    for dep in dependant.dependencies:
        for check in [*_checks(dep), *([dep.call] if getattr(dep.call, _MARK, False) else [])]:
            if check is not None and check not in found:
                found.append(check)
    return found


def _as_included(route: APIRoute) -> Dependant:
    """The route's dependant as FastAPI builds its handler: an included route's
    handler is built with the inclusion's context, which adds the including
    router's dependencies (e.g. the control interface's operator check)."""
    context_var = getattr(fastapi.routing, "_effective_route_context_var", None)
    context = context_var.get() if context_var is not None else None
    if context is not None and getattr(context, "original_route", None) is route:
        dependant: Dependant = context.dependant
        return dependant
    return route.dependant


class AuthFirstRoute(APIRoute):
    """A route that authenticates its caller before it judges the body (RK-ARCH-002):
    401 ``unauthenticated`` / 403 ``forbidden-role`` come before 415
    ``unsupported-media-type`` and before a body that is not JSON (422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        checks = _checks(_as_included(self))
        handler = super().get_route_handler()

        async def authenticated_first(request: Request) -> Response:
            for check in checks:  # RK-ARCH-002: before anything else in the request
                await check(request)
            refusal = claim_body_refusal(request.scope)
            if refusal is not None:
                return refusal
            return await handler(request)

        return authenticated_first
