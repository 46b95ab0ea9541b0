"""A front process of ``renkei serve --workers N`` (started by the core, never by hand).

``python -m renkei_reference.services.front --fd FD --folder DIR --core PID
[--pki DIR] --limits JSON``: serves the public socket it inherited (``--fd``)
with the front application, calling the core through ``DIR/calls.sock`` and
passing other requests to ``DIR/http.sock``.  It ends with its core (Linux: the
parent-death signal, set before anything else — the web stack is imported only
then; a core that died before it was set is found gone at once, its pid no
longer the parent's) and on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import sys
from pathlib import Path

CALLS = "calls.sock"
HTTP = "http.sock"


def _die_with_parent(core: int) -> bool:
    """Whether the core that started this front is still its parent, the parent-death
    signal set first so that a core dying afterwards ends the front too."""
    if sys.platform.startswith("linux"):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    return os.getppid() == core


async def _serve(args: argparse.Namespace) -> None:
    # imported once the parent-death signal is set (``main``): the web stack takes
    # seconds to import on a loaded machine, and a core killed meanwhile must not
    # leave a front behind that still comes up
    import uvicorn

    from ..web.pki import Pki
    from ..web.server_limits import BoundedH11Protocol, ConnectionGate, ServerLimits
    from .app import create_front_app
    from .client import RemoteDesk

    folder = Path(args.folder)
    remote = RemoteDesk(folder / CALLS)
    app = create_front_app(remote, folder / HTTP)
    limits = ServerLimits(**json.loads(args.limits))
    protocol: type[BoundedH11Protocol] = BoundedH11Protocol
    context = None
    if args.pki:
        from ..web.tls import MutualTlsH11Protocol, server_context

        protocol, context = MutualTlsH11Protocol, server_context(Pki(Path(args.pki)))
    gate = ConnectionGate(limits, protocol, context)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, http=gate,  # type: ignore[arg-type]
        **limits.uvicorn_settings(),
    )  # fmt: skip
    server = uvicorn.Server(config)
    sock = socket.socket(fileno=args.fd)

    async def say_hello() -> None:
        while not server.started:
            await asyncio.sleep(0.01)
        await remote.hello(os.getpid())

    core = args.core

    async def watch_core() -> None:  # beside the parent-death signal: never outlive the core
        while os.getppid() == core:
            await asyncio.sleep(1)
        server.should_exit = True

    hello = asyncio.create_task(say_hello())
    watch = asyncio.create_task(watch_core())
    try:
        await server.serve(sockets=[sock])
    finally:
        hello.cancel()
        watch.cancel()
        gate.abort_all()
        await remote.close()
        await app.state.proxy.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="renkei-front")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--folder", required=True)
    parser.add_argument("--pki", default="")
    parser.add_argument("--limits", default="{}")
    parser.add_argument("--core", type=int, required=True, help="the core's process id")
    args = parser.parse_args(argv)
    if not _die_with_parent(args.core):
        return 1  # the core died while this front was starting: nothing to serve for
    asyncio.run(_serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
