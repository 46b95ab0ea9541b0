"""The hub, as the node reaches it: through the wire protocol only (RK-BND-007).

``HubConnection`` wraps any ``httpx.Client`` pointed at a hub — HTTPS with the
agency's client certificate in production, the in-process transport in tests;
a refusal comes back as ``HubRefusal`` with the hub's problem.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from ...core.errors import RenkeiError

__all__ = ["HubConnection", "HubRefusal"]


class HubRefusal(RenkeiError):
    """The hub refused a request; its problem type, status and detail are kept."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        slug = str(body.get("type", "urn:renkei:problem:unknown")).rsplit(":", 1)[-1]
        super().__init__(
            slug,
            str(body.get("detail", "")),
            str(body.get("requirement") or "RK-WIRE-001"),
            {k: v for k, v in body.items() if k in ("serial", "receipt")},
        )
        self.http_status = status
        # the node answers its own caller with the hub's status (a linkage the hub does
        # not know is 404 there too); a status that is not an error becomes 502
        self.status_hint = status if 400 <= status < 600 else 502


class HubConnection:
    """The hub's wire protocol as the node uses it (RK-BND-007: link codes only)."""

    def __init__(self, client: httpx.Client, hub_url: str, token: str | None = None) -> None:
        self._lock = threading.Lock()
        self._client = client
        self._base = hub_url.rstrip("/")
        self._headers = {"authorization": f"Bearer {token}"} if token else {}

    @property
    def hub_url(self) -> str:
        return self._base

    def repoint(self, client: httpx.Client, hub_url: str, token: str | None = None) -> httpx.Client:
        """Reach another hub from now on (test mode: the kit's simulated hub,
        ``PUT /control/agency-node/hub``); returns the client used until now."""
        with self._lock:
            old, self._client = self._client, client
            self._base = hub_url.rstrip("/")
            self._headers = {"authorization": f"Bearer {token}"} if token else {}
        return old

    def call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        with self._lock:
            client, base, headers = self._client, self._base, self._headers
        resp = client.request(method, base + path, json=body, headers=headers)
        data = resp.json() if resp.content else {}
        if resp.status_code >= 400:
            raise HubRefusal(resp.status_code, data if isinstance(data, dict) else {})
        return dict(data)
