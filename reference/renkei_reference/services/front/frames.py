"""Framing of the calls between a front and the core (sans-I/O, h11 style).

A frame is a 4-byte big-endian length, a 4-byte call id and the payload.
A call's payload is UTF-8 JSON ``[operation, caller, arguments]``; its reply's
is a 2-byte status, a 1-byte kind (``JSON``, ``PROBLEM``, ``EMPTY``) and the
response body as the front sends it.  Calls on one connection are
multiplexed: replies come back in the order they finish (a held read may
finish after calls made later), matched by call id.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

__all__ = [
    "EMPTY",
    "JSON",
    "MAX_FRAME",
    "PROBLEM",
    "FrameReader",
    "Reply",
    "frame",
    "parse_reply",
    "reply_frame",
]

_HEAD = struct.Struct(">II")
_REPLY = struct.Struct(">HB")
MAX_FRAME = 16 * 1024 * 1024
"""A frame is at most this long (request bodies are limited to 4 MiB; a page of
deliveries or a batch of answers stays well under it)."""

JSON, PROBLEM, EMPTY = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Reply:
    """The core's answer to one call: the response a front sends."""

    status: int
    kind: int
    body: bytes

    @property
    def media_type(self) -> str | None:
        if self.kind == EMPTY:
            return None
        return "application/problem+json" if self.kind == PROBLEM else "application/json"


def frame(call_id: int, payload: bytes) -> bytes:
    """One frame carrying ``payload`` for call ``call_id``."""
    if len(payload) > MAX_FRAME:
        raise ValueError(f"a frame is at most {MAX_FRAME} bytes")
    return _HEAD.pack(len(payload), call_id) + payload


def reply_frame(call_id: int, reply: Reply) -> bytes:
    """The frame of a reply."""
    return frame(call_id, _REPLY.pack(reply.status, reply.kind) + reply.body)


def parse_reply(payload: bytes) -> Reply:
    """A reply from its frame's payload."""
    if len(payload) < _REPLY.size:
        raise ValueError("a reply frame is shorter than its header")
    status, kind = _REPLY.unpack_from(payload)
    if kind not in (JSON, PROBLEM, EMPTY):
        raise ValueError(f"unknown reply kind {kind}")
    return Reply(status, kind, payload[_REPLY.size :])


class FrameReader:
    """Bytes in, whole frames out (no I/O: feed what the socket gave)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """The frames completed by ``data``, in order.

        :raises ValueError: a frame declares more than ``MAX_FRAME`` bytes.
        """
        self._buffer += data
        out: list[tuple[int, bytes]] = []
        while len(self._buffer) >= _HEAD.size:
            length, call_id = _HEAD.unpack_from(self._buffer)
            if length > MAX_FRAME:
                raise ValueError(f"a frame declares {length} bytes (at most {MAX_FRAME})")
            end = _HEAD.size + length
            if len(self._buffer) < end:
                break
            out.append((call_id, bytes(self._buffer[_HEAD.size : end])))
            del self._buffer[:end]
        return out
