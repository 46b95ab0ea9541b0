"""The floor's fronts and its relay core (``--workers N``): calls over a Unix socket.

The floor runs with as many processes as the hub it is compared with (issue 17):
N fronts on one public socket (TLS, HTTP, the wire models, the credential) and
one relay core holding the queues, as ``renkei serve --workers N`` has N fronts
and one core.  A call is a frame — 4-byte length, 4-byte call id, payload —
whose payload is JSON ``[operation, agency, arguments]``; a reply's is a
2-byte status, a 1-byte media type index and the body.  Calls are multiplexed
on one connection per front and answered as they finish.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import struct
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["RemoteRelay", "serve_calls"]

_HEAD = struct.Struct(">II")
_REPLY = struct.Struct(">HB")
_MEDIA = (None, "application/json", "application/problem+json")
_READ = 256 * 1024


class _Reply(NamedTuple):
    status: int
    media: str | None
    body: bytes


def _frames(buffer: bytearray) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    while len(buffer) >= _HEAD.size:
        length, call_id = _HEAD.unpack_from(buffer)
        end = _HEAD.size + length
        if len(buffer) < end:
            break
        out.append((call_id, bytes(buffer[_HEAD.size : end])))
        del buffer[:end]
    return out


async def serve_calls(
    path: Path, call: Callable[[str, str, list[Any]], Awaitable[Any]]
) -> asyncio.Server:
    """The relay core's listener: each call answered by ``call`` (a ``Reply``-shaped tuple)."""

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buffer = bytearray()
        tasks: set[asyncio.Task[None]] = set()

        async def answer(call_id: int, payload: bytes) -> None:
            op, agency, args = json.loads(payload)
            status, media, body = await call(op, agency, args)
            head = _REPLY.pack(status, _MEDIA.index(media))
            writer.write(_HEAD.pack(len(head) + len(body), call_id) + head + body)

        while data := await reader.read(_READ):
            buffer += data
            for call_id, payload in _frames(buffer):
                task = asyncio.create_task(answer(call_id, payload))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
        writer.close()

    server = await asyncio.start_unix_server(connection, path=str(path))
    path.chmod(0o600)
    return server


class RemoteRelay:
    """A front's connection to the relay core."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[_Reply]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._lock = asyncio.Lock()
        self._reading: asyncio.Task[None] | None = None

    async def _read(self, reader: asyncio.StreamReader) -> None:
        buffer = bytearray()
        while data := await reader.read(_READ):
            buffer += data
            for call_id, payload in _frames(buffer):
                status, media = _REPLY.unpack_from(payload)
                future = self._pending.pop(call_id)
                future.set_result(_Reply(status, _MEDIA[media], payload[_REPLY.size :]))

    async def __call__(self, op: str, agency: str, args: list[Any]) -> _Reply:
        async with self._lock:
            if self._writer is None:
                reader, self._writer = await asyncio.open_unix_connection(str(self.path))
                self._reading = asyncio.create_task(self._read(reader))
        call_id = next(self._ids) & 0xFFFFFFFF
        future: asyncio.Future[_Reply] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        payload = json.dumps([op, agency, args]).encode("utf-8")
        self._writer.write(_HEAD.pack(len(payload), call_id) + payload)
        return await future
