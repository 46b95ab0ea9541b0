"""Every server of ``renkei serve`` is bounded under load.

uvicorn's own settings bound what they can (:meth:`ServerLimits.uvicorn_settings`):
the idle keep-alive time, the size of an incomplete request head (h11), the
listen backlog and the graceful-shutdown time after which requests still open
are cancelled (so SIGTERM stops the server within seconds even with
half-open requests).  What uvicorn has no setting for lives here:

* :class:`ConnectionGate` is the protocol factory given to uvicorn.  It sees
  each accepted TCP connection before any TLS: past ``max_connections`` open
  connections (handshakes pending included) it closes the new one at once;
  otherwise it runs the TLS handshake itself with a deadline
  (``loop.start_tls``, ``handshake_timeout``) and hands the connection to the
  HTTP protocol.  When many connections have closed it gives the freed heap
  back to the operating system (``malloc_trim`` where the C library has it).
* :class:`BoundedH11Protocol` is uvicorn's h11 protocol with read deadlines:
  a request head must arrive whole within ``header_timeout`` of the
  connection's start or of the previous response (a slow-loris that sends
  half a request line and stalls is cut off), and a body within
  ``body_timeout`` of its head.  A connection past its deadline is aborted.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = ["BoundedH11Protocol", "ConnectionGate", "ServerLimits"]


@dataclass(frozen=True)
class ServerLimits:
    """The bounds of one server (``renkei serve`` options, README)."""

    header_timeout: float = 10.0
    """Seconds for a whole request head, from the connection's start or the previous response."""
    body_timeout: float = 30.0
    """Seconds for a whole request body, from the end of its head."""
    handshake_timeout: float = 10.0
    """Seconds for the TLS handshake (and for a TLS close to complete)."""
    keep_alive: int = 5
    """Seconds an idle connection is kept between requests (uvicorn)."""
    max_connections: int = 1000
    """Open connections, TLS handshakes pending included; more are closed at once."""
    shutdown_timeout: int = 5
    """Seconds SIGTERM waits for open requests before cancelling them (uvicorn)."""
    max_head_bytes: int = 16 * 1024
    """Largest request head (request line and headers) in bytes (h11)."""
    backlog: int = 128
    """Connections the kernel queues before they are accepted."""

    def uvicorn_settings(self) -> dict[str, Any]:
        """The bounds uvicorn enforces itself (``uvicorn.Config`` keywords)."""
        return {
            "timeout_keep_alive": self.keep_alive,
            "timeout_graceful_shutdown": self.shutdown_timeout,
            "h11_max_incomplete_event_size": self.max_head_bytes,
            "backlog": self.backlog,
            # the interface is HTTP only: no WebSocket implementation runs; an upgrade
            # request is refused by BoundedH11Protocol (RK-WIRE-001)
            "ws": "none",
        }


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for each request's head and body, a
    bound on a request head's size however it arrives, and problem+json for a
    request that cannot be read (RK-WIRE-001)."""

    limits = ServerLimits()
    on_closed: Callable[[], None] | None = None
    _deadline: asyncio.TimerHandle | None = None
    _reading: Any = None  # the h11 state the deadline was armed for

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(h11.IDLE)

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE and self._head_too_large(data):
            self.send_400_response(
                f"the request head is larger than {self.limits.max_head_bytes} bytes"
            )
            return
        super().data_received(data)
        self._track()

    def _head_too_large(self, data: bytes) -> bool:
        """Whether the request head being read ends past ``max_head_bytes`` (h11 bounds
        only a head still incomplete, not one that arrived whole in one read)."""
        buffered = self.conn.trailing_data[0] + data if self.conn.trailing_data[0] else data
        end = buffered.find(b"\r\n\r\n", 0, self.limits.max_head_bytes + 4)
        return end < 0 and len(buffered) > self.limits.max_head_bytes

    def _should_upgrade(self) -> bool:
        """A WebSocket upgrade request is refused (``handle_websocket_upgrade``); any
        other upgrade is ignored, as uvicorn does, and the request served as HTTP."""
        return self._get_upgrade() == b"websocket" or super()._should_upgrade()

    def handle_websocket_upgrade(self, event: h11.Request) -> None:
        """RK-WIRE-001: the interface has no WebSocket operation; an upgrade to it is
        answered with the ``bad-request`` problem (uvicorn's WebSocket layer, with no
        application to take the connection, answered 403 with an empty body)."""
        self.send_400_response("the interface is HTTP only: no upgrade to WebSocket")

    def send_400_response(self, msg: str) -> None:
        """RK-WIRE-001: a request that cannot be read at the HTTP level is answered
        with the ``bad-request`` problem (problem+json), and the connection closed."""
        body = json.dumps(
            {
                "type": "urn:renkei:problem:bad-request",
                "title": "Bad request",
                "status": 400,
                "detail": f"the request could not be read at the HTTP level: {msg}",
                "requirement": "RK-WIRE-001",
            },
            ensure_ascii=False,
        ).encode("utf-8")
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=body),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event))
        self.transport.close()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._track()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)
        if self.on_closed is not None:
            self.on_closed()
            self.on_closed = None

    def shutdown(self) -> None:
        """At shutdown a request still arriving never will: its connection is
        aborted (its handler sees the disconnect); others close as uvicorn does."""
        owed = self.conn.their_state is h11.SEND_BODY or (
            self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]
        )
        if owed and not self.transport.is_closing():
            self.transport.abort()
            return
        super().shutdown()

    def _track(self) -> None:
        """A deadline while the client owes a head (IDLE) or a body (SEND_BODY)."""
        state = self.conn.their_state
        if self.transport.is_closing() or state not in (h11.IDLE, h11.SEND_BODY):
            self._disarm()
        elif state is not self._reading:
            self._arm(state)

    def _arm(self, state: Any) -> None:
        self._disarm()
        seconds = self.limits.header_timeout if state is h11.IDLE else self.limits.body_timeout
        self._reading = state
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = None
        self._reading = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.abort()  # the request never arrived whole


def _malloc_trim() -> Callable[[], None]:
    """glibc's ``malloc_trim(0)``: freed heap back to the system; else nothing."""
    name = ctypes.util.find_library("c")
    trim = getattr(ctypes.CDLL(name), "malloc_trim", None) if name else None

    def give_back() -> None:
        if trim is not None:
            trim(0)

    return give_back


class ConnectionGate:
    """uvicorn's protocol factory (``Config(http=gate)``) for one server: a
    connection limit before TLS, the TLS handshake with a deadline, then
    ``protocol`` (a :class:`BoundedH11Protocol`) for HTTP."""

    TRIM_AFTER = 256
    """Closed connections after which the freed heap is given back."""
    TRIM_DELAY = 0.5
    """Seconds after a close before that (one give-back for a burst of closes)."""

    def __init__(
        self,
        limits: ServerLimits,
        protocol: type[BoundedH11Protocol],
        context: ssl.SSLContext | None = None,
        *,
        give_back: bool = True,
    ) -> None:
        self.limits = limits
        self.protocol = protocol
        self.context = context
        self.give_back = give_back
        """Whether closed connections' heap is given back (not for the core of
        ``--workers N``, whose only clients are its fronts: a full collection of
        its heap would stall the hub for nothing)."""
        self.open: set[asyncio.Transport] = set()
        self.refused = 0
        self._closed_since_trim = 0
        self._trimming: asyncio.TimerHandle | None = None
        self._trim = _malloc_trim()

    def __call__(self, **uvicorn_args: Any) -> asyncio.Protocol:
        http = self.protocol(**uvicorn_args)
        http.limits = self.limits
        return _Accepted(self, http)

    def admit(self, transport: asyncio.Transport) -> bool:
        if len(self.open) >= self.limits.max_connections:
            self.refused += 1
            return False
        self.open.add(transport)
        return True

    def closed(self, transport: asyncio.Transport) -> None:
        self.open.discard(transport)
        self._closed_since_trim += 1
        due = not self.open or self._closed_since_trim >= self.TRIM_AFTER
        if self.give_back and self._trimming is None and due:
            loop = asyncio.get_running_loop()
            self._trimming = loop.call_later(self.TRIM_DELAY, self._give_back)

    def _give_back(self) -> None:
        """Closed connections' objects (some in reference cycles: collected
        first) and the heap they held go back to the operating system."""
        self._trimming = None
        self._closed_since_trim = 0
        gc.collect()
        self._trim()

    def abort_all(self) -> None:
        """At shutdown: connections still open (handshakes pending too) end now."""
        for transport in list(self.open):
            transport.abort()


class _Accepted(asyncio.Protocol):
    """An accepted TCP connection until it is HTTP: refused, or handed on
    (after the TLS handshake, when the server has a TLS context).  During the
    handshake it is the TLS connection's protocol and keeps what arrives with
    the handshake's end for the HTTP protocol."""

    def __init__(self, gate: ConnectionGate, http: BoundedH11Protocol) -> None:
        self.gate = gate
        self.http = http
        self.early = bytearray()
        self.lost = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        if not self.gate.admit(transport):
            transport.abort()  # past the connection limit: refused before any TLS
            return
        self.http.on_closed = lambda: self.gate.closed(transport)
        if self.gate.context is None:
            transport.set_protocol(self.http)
            self.http.connection_made(transport)
            return
        transport.pause_reading()  # the handshake reads, once start_tls owns the connection
        asyncio.get_running_loop().create_task(self._handshake(transport, self.gate.context))

    async def _handshake(self, tcp: asyncio.Transport, context: ssl.SSLContext) -> None:
        seconds = self.gate.limits.handshake_timeout
        try:
            tls = await asyncio.get_running_loop().start_tls(
                tcp, self, context, server_side=True,
                ssl_handshake_timeout=seconds, ssl_shutdown_timeout=seconds,
            )  # fmt: skip
        except asyncio.CancelledError:
            tcp.abort()
            self.gate.closed(tcp)
            raise
        except (OSError, ssl.SSLError, TimeoutError):  # late, refused or broken: closed
            tcp.abort()
            self.gate.closed(tcp)
            return
        if self.lost or tls is None:  # gone as the handshake ended
            self.gate.closed(tcp)
            return
        tls.set_protocol(self.http)
        self.http.connection_made(tls)
        if self.early:
            self.http.data_received(bytes(self.early))

    def data_received(self, data: bytes) -> None:  # arrived with the handshake's end
        self.early += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
