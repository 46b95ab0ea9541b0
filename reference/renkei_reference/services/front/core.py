"""The core's side of ``renkei serve --workers N``: the calls of its fronts.

``CallServer`` listens on a Unix socket in the core's folder and answers each
front's calls (services/front/frames.py) on the core's one event loop, with
the in-process application's own ``HotDesk``: the same authentication (the
front forwards what the verified client certificate certifies), the same role
check (RK-ARCH-002), the same operations, and the same commit barrier — a
reply that acknowledges a step leaves only once the step is committed
(RK-LOG-001); a held read is held here, so an answer wakes it on the loop
that took the answer (RK-FLOW-009).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from ...core.errors import CallerError, RenkeiError
from ..federation import Agency, Federation
from ..hub import QueryIn
from ..web.problems import CommitWaiter, problem_body, problem_document
from .desk import AGENCY_ROLES, CALLS, HotDesk, check_role, identify, render
from .frames import EMPTY, JSON, PROBLEM, FrameReader, Reply, reply_frame

__all__ = ["HELLO", "CallServer", "answer_call"]

HELLO = b"hello "
"""A front's first call once it accepts connections: ``hello <pid>``."""

_log = logging.getLogger("renkei.reference")
_READ = 256 * 1024


def _problem(exc: RenkeiError, part: str) -> Reply:
    return Reply(exc.status_hint, PROBLEM, render(problem_document(exc, part)))


def _internal() -> Reply:
    body = problem_body(
        500,
        "internal-error",
        "Internal error",
        "the implementation failed unexpectedly; the server log has the details",
    )
    return Reply(500, PROBLEM, render(body))


async def answer_call(
    desk: HotDesk,
    commit: CommitWaiter,
    fed: Federation,
    payload: bytes,
    *,
    test_mode: bool,
) -> Reply:
    """One call of a front, answered as the in-process application answers the
    request it stands for."""
    try:
        op, (tls, identity, token), args = json.loads(payload)
        if op not in CALLS:
            raise ValueError(op)
    except (ValueError, TypeError) as exc:
        _log.error("a front sent a call the core cannot read: %s", exc)
        return _internal()
    part = "body" if op in ("query", "answers", "answer") else "query"
    try:
        agency = check_role(identify(fed, tls, identity, token, test_mode=test_mode), AGENCY_ROLES)
        reply, acknowledges = await _operate(desk, agency, op, args)
        if acknowledges:
            await commit.wait()  # RK-LOG-001: nothing acknowledged before it is committed
    except RenkeiError as exc:
        return _problem(exc, part)
    except Exception:  # the in-process application's 500, never a traceback
        _log.exception("unexpected error in the core's %s", op)
        return _internal()
    return reply


async def _operate(desk: HotDesk, agency: Agency, op: str, args: list[Any]) -> tuple[Reply, bool]:
    if op == "query":
        return Reply(202, JSON, await desk.query(agency, QueryIn(**args[0]))), True
    if op == "read":
        body, hands_out = await desk.read(agency, str(args[0]), float(args[1]))
        return Reply(200, JSON, body), hands_out  # a poll acknowledges nothing
    if op == "acknowledge":
        desk.acknowledge(agency, str(args[0]))
        return Reply(204, EMPTY, b""), True
    if op == "deliveries":
        return Reply(200, JSON, desk.deliveries(agency, int(args[0]))), True
    if op == "answers":
        given = [None if a is None else (str(a[0]), str(a[1])) for a in args[0]]
        return Reply(200, JSON, render(desk.answers(agency, given))), True
    if op == "answer":
        return Reply(202, JSON, desk.answer(agency, str(args[0]), str(args[1]))), True
    if op == "whoami":
        return Reply(204, EMPTY, b""), False
    raise CallerError("validation-error", f"no operation {op!r}", "RK-WIRE-001")


class CallServer:
    """The core's listener for its fronts' calls (one event loop: the hub's)."""

    def __init__(
        self,
        desk: HotDesk,
        fed: Callable[[], Federation],
        barrier: Callable[[], Future[None]],
        *,
        test_mode: bool,
    ) -> None:
        self.desk = desk
        self.fed = fed
        self.commit = CommitWaiter(barrier)
        self.test_mode = test_mode
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.serving: set[int] = set()
        """Fronts (by process id) that said they serve (``hello``)."""

    async def start(self, path: Path) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_unix_server(lambda: _CallProtocol(self), path=str(path))
        path.chmod(0o600)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()

    def dispatch(self, call_id: int, payload: bytes, conn: _CallProtocol) -> None:
        if payload.startswith(HELLO):  # a front accepts on the public socket
            self.serving.add(int(payload[len(HELLO) :]))
            conn.reply(call_id, Reply(204, EMPTY, b""))
            return
        task = asyncio.create_task(self._call(call_id, payload, conn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _call(self, call_id: int, payload: bytes, conn: _CallProtocol) -> None:
        reply = await answer_call(
            self.desk, self.commit, self.fed(), payload, test_mode=self.test_mode
        )
        conn.reply(call_id, reply)


class _CallProtocol(asyncio.Protocol):
    """One front's connection: frames in, replies out — the replies that finish in
    one turn of the event loop leave in one write."""

    def __init__(self, server: CallServer) -> None:
        self.server = server
        self.frames = FrameReader()
        self.transport: asyncio.Transport | None = None
        self._out: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        try:
            calls = self.frames.feed(data)
        except ValueError as exc:
            _log.error("a front's connection to the core failed: %s", exc)
            if self.transport is not None:
                self.transport.close()
            return
        for call_id, payload in calls:
            self.server.dispatch(call_id, payload, self)

    def reply(self, call_id: int, reply: Reply) -> None:
        if not self._out:
            asyncio.get_running_loop().call_soon(self._flush)
        self._out.append(reply_frame(call_id, reply))

    def _flush(self) -> None:
        out, self._out = self._out, []
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(out))

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None
