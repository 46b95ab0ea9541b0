"""A front's connection to the core: calls out, replies in, many in flight."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from pathlib import Path
from typing import Any

from ..web.problems import problem_body
from .desk import Caller, render
from .frames import PROBLEM, FrameReader, Reply, frame, parse_reply

__all__ = ["Caller", "RemoteDesk", "unavailable"]

_READ = 256 * 1024


def unavailable(detail: str) -> Reply:
    """503 ``log-store-unavailable``: the core keeps the logs; a front that cannot
    reach it can neither log nor acknowledge a step (RK-LOG-001)."""
    body = problem_body(503, "log-store-unavailable", "Log store unavailable", detail, "RK-LOG-001")
    return Reply(503, PROBLEM, render(body))


class RemoteDesk:
    """The core's ``HotDesk``, called over its Unix socket (one connection,
    multiplexed; opened again after a failure)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids = itertools.count(1)  # call 0 is the hello
        self._pending: dict[int, asyncio.Future[Reply]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reading: asyncio.Task[None] | None = None
        self._opening = asyncio.Lock()
        self._out: list[tuple[int, bytes]] = []  # this turn's calls: one write

    async def _open(self) -> asyncio.StreamWriter:
        async with self._opening:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            reader, writer = await asyncio.open_unix_connection(str(self.path))
            self._writer = writer
            self._reading = asyncio.create_task(self._read(reader, writer))
            return writer

    async def _read(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        frames = FrameReader()
        try:
            while data := await reader.read(_READ):
                for call_id, payload in frames.feed(data):
                    future = self._pending.pop(call_id, None)
                    if future is not None and not future.done():
                        future.set_result(parse_reply(payload))
        except (ConnectionError, ValueError):
            pass
        finally:
            writer.close()
            if self._writer is writer:
                self._writer = None
            for call_id, future in list(self._pending.items()):
                if not future.done():
                    future.set_result(unavailable("the hub's core closed the connection"))
                self._pending.pop(call_id, None)

    async def call(self, op: str, caller: Caller, args: list[Any]) -> Reply:
        """The core's reply to ``op``; 503 ``log-store-unavailable`` if it cannot be reached
        (whether a call that was sent got done is then unknown, as for a lost connection)."""
        try:
            writer = await self._open()
        except OSError as exc:
            return unavailable(f"the hub's core cannot be reached: {exc.strerror or exc}")
        call_id = next(self._ids) & 0xFFFFFFFF
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[call_id] = future
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush, writer)
        self._out.append((call_id, frame(call_id, json.dumps([op, caller, args]).encode())))
        return await future

    def _flush(self, writer: asyncio.StreamWriter) -> None:
        out, self._out = self._out, []
        if not writer.is_closing():
            writer.write(b"".join(data for _, data in out))
            return
        for call_id, _ in out:  # the connection closed before they left
            future = self._pending.pop(call_id, None)
            if future is not None and not future.done():
                future.set_result(unavailable("the hub's core closed the connection"))

    async def hello(self, pid: int) -> None:
        """Tell the core this front accepts connections (``renkei serve`` is ready
        once every front has)."""
        writer = await self._open()
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[0] = future
        writer.write(frame(0, b"hello %d" % pid))
        await future

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        if self._reading is not None:
            self._reading.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reading
