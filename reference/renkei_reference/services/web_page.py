"""The headers of every HTML page of the web applications (My Portal, the
auditor's dashboard): a strict Content-Security-Policy — nothing fetched but
the page's own images, forms posted to its own origin only, no script at all,
the page's one inline style sheet allowed by a fresh nonce, never framed — and
no MIME sniffing, no referrer."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from starlette.responses import HTMLResponse

__all__ = ["page_headers", "secure_page"]


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
