"""The headers of every HTML page of the web applications (My Portal, the
auditor's dashboard): a strict Content-Security-Policy — nothing fetched but
the page's own images, forms posted to its own origin only, no script at all,
the page's one inline style sheet allowed by a fresh nonce, never framed — and
no MIME sniffing, no referrer —, the binding of a web session to the client
certificate of the connection that made it (:class:`CertificateBinding`), and
instants shown as a person in Japan reads them (:func:`time_html`)."""

from __future__ import annotations

import hashlib
import html
import secrets
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from starlette.responses import HTMLResponse
from starlette.types import Scope

from ...core.display import jst_text
from .tls import peer_certificate

__all__ = ["CertificateBinding", "page_headers", "secure_page", "time_html"]


def page_headers(nonce: str) -> dict[str, str]:
    """Security headers of an HTML page whose ``<style>`` carries ``nonce``."""
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; style-src 'nonce-{nonce}'; img-src 'self' data:; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
        ),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Content-Language": "ja",
        "Cache-Control": "no-store",
    }


def secure_page(render: Callable[[str], str], status: int = 200) -> HTMLResponse:
    """The page ``render(nonce)`` with :func:`page_headers` for a fresh nonce."""
    nonce = secrets.token_urlsafe(16)
    return HTMLResponse(render(nonce), status_code=status, headers=page_headers(nonce))


class CertificateBinding:
    """Web sessions bound to the client certificate of the connection that
    signed them in: a session cookie presented over a connection with another
    certificate (another organisation's, or none) is no session.  In process
    and over plain HTTP there is no certificate, and nothing to tell apart."""

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds  # a session's lifetime: its binding goes after it
        self._bound: dict[str, tuple[str | None, float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _certificate(scope: Scope) -> str | None:
        pem = peer_certificate(scope)
        return hashlib.sha256(pem.encode()).hexdigest() if pem else None

    def bind(self, token: str, scope: Scope) -> None:
        now = time.monotonic()
        with self._lock:
            for old in [t for t, (_, until) in self._bound.items() if until < now]:
                del self._bound[old]
            self._bound[token] = (self._certificate(scope), now + self._seconds)

    def holds(self, token: str | None, scope: Scope) -> bool:
        """``token`` was signed in over a connection with this one's certificate."""
        with self._lock:
            found = self._bound.get(token or "")
        return found is not None and secrets.compare_digest(
            found[0] or "", self._certificate(scope) or ""
        )

    def drop(self, token: str | None) -> None:
        with self._lock:
            self._bound.pop(token or "", None)


def time_html(value: datetime | str | None) -> str:
    """An instant for a person: ``2026年12月6日 13時27分`` (JST, RK-PORT-006),
    the exact UTC instant kept in the ``<time>`` element for machines."""
    if value is None or value == "":
        return ""
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    exact = at.astimezone(UTC).isoformat()
    return f'<time datetime="{html.escape(exact)}">{html.escape(jst_text(at))}</time>'
