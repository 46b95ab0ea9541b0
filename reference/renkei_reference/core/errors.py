"""Errors of the reference core, grouped by whose fault they are (h11 style).

Every error carries the requirement ID it enforces and a stable problem type
slug; the service shell turns it into an RFC 9457 problem+json response
(requirement RK-WIRE-001).  ``CallerError`` is bad input from the party making
the call; ``StateError`` is a call that the current state forbids.
"""

from __future__ import annotations

__all__ = [
    "CallerError",
    "ConflictError",
    "GoneError",
    "NotFoundError",
    "PermissionDeniedError",
    "RenkeiError",
    "StateError",
    "UnauthenticatedError",
    "UnavailableError",
]


class RenkeiError(Exception):
    """Base of every domain error.

    Attributes:
        problem: stable slug of the problem type, e.g. ``"malformed-link-code"``.
        detail: a human-readable, specific explanation (never key material).
        requirement: the catalog requirement this refusal enforces, if any.
    """

    status_hint = 400

    def __init__(
        self,
        problem: str,
        detail: str,
        requirement: str | None = None,
        extensions: dict[str, object] | None = None,
    ) -> None:
        if type(self) is RenkeiError:
            raise TypeError("RenkeiError is abstract; raise a subclass")
        super().__init__(problem, detail, requirement)
        self.problem = problem
        self.detail = detail
        self.requirement = requirement
        self.extensions = dict(extensions or {})
        """Extension members of the problem (RFC 9457 §3.2), e.g. ``serial``."""

    def __str__(self) -> str:
        suffix = f" [{self.requirement}]" if self.requirement else ""
        return f"{self.problem}: {self.detail}{suffix}"


class CallerError(RenkeiError):
    """The caller sent something malformed or invalid (HTTP 422)."""

    status_hint = 422


class PermissionDeniedError(RenkeiError):
    """The caller is not allowed to do this (HTTP 403)."""

    status_hint = 403


class NotFoundError(RenkeiError):
    """The named thing does not exist, or not for this caller (HTTP 404)."""

    status_hint = 404


class ConflictError(RenkeiError):
    """The request conflicts with existing state (HTTP 409)."""

    status_hint = 409


class StateError(RenkeiError):
    """The call is not allowed in the current state of the object (HTTP 409)."""

    status_hint = 409


class UnauthenticatedError(RenkeiError):
    """The caller did not prove an identity (HTTP 401)."""

    status_hint = 401


class GoneError(RenkeiError):
    """The thing existed but is gone for good, e.g. a purged entry (HTTP 410)."""

    status_hint = 410


class UnavailableError(RenkeiError):
    """The service cannot do this now through no fault of the caller (HTTP 503),
    e.g. the hub's log store cannot write, so nothing that must be logged is done."""

    status_hint = 503
