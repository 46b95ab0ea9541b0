"""The core's fronts: N processes on the public socket (``renkei serve --workers N``).

The core binds the public socket and listens; each front inherits it and
accepts on it, so the kernel spreads connections over the fronts, and one
front's death closes only its own connections.  The core's two Unix sockets
live in a fresh folder of mode 0700 (``tempfile.mkdtemp``): only the hub's
user can reach them.  The folder's name carries the core's process id, so a
core started later removes the folder of one killed before it could
(``sweep_stale``).  A front that dies is started again; the fronts end
with the core (SIGTERM, and the parent-death signal if the core is killed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ..web.pki import Pki
from ..web.server_limits import ServerLimits
from .__main__ import CALLS, HTTP
from .core import CallServer

__all__ = ["Fronts", "sweep_stale"]

_RESTART_PAUSE = 0.5
_START_SECONDS = 120
_PREFIX = "renkei-core-"


def sweep_stale(parent: Path) -> list[Path]:
    """Remove the folders ``renkei-core-<pid>-…`` in ``parent`` that belong to this
    user and whose core process no longer runs (a core killed with SIGKILL leaves
    its folder and two dead sockets behind); the removed folders."""
    removed = []
    for folder in parent.glob(f"{_PREFIX}*-*"):
        pid = folder.name[len(_PREFIX) :].partition("-")[0]
        with contextlib.suppress(OSError):
            if (
                not pid.isdigit()
                or folder.is_symlink()
                or folder.stat().st_uid != os.getuid()
                or Path(f"/proc/{pid}").exists()
            ):
                continue
            shutil.rmtree(folder)
            removed.append(folder)
    return removed


class Fronts:
    """N front processes and the core's listener for their calls."""

    def __init__(
        self,
        count: int,
        public: socket.socket,
        hub_app: Any,
        *,
        limits: ServerLimits,
        pki: Pki | None,
        test_mode: bool,
    ) -> None:
        self.count = count
        self.public = public
        self.limits = limits
        self.pki = pki
        sweep_stale(Path(tempfile.gettempdir()))
        self.folder = Path(tempfile.mkdtemp(prefix=f"{_PREFIX}{os.getpid()}-"))
        fed = hub_app.state.federation
        self.calls = CallServer(
            hub_app.state.hot_desk,
            fed,
            lambda: fed().hub.log_barrier(),  # noqa: PLW0108 (a reset replaces the federation)
            test_mode=test_mode,
        )
        self.processes: list[subprocess.Popen[bytes]] = []
        self._watch: asyncio.Task[None] | None = None
        self._stopping = False

    def http_socket(self) -> socket.socket:
        """The core's HTTP server's socket (what the fronts pass on)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.bind(str(self.folder / HTTP))
        (self.folder / HTTP).chmod(0o600)
        return sock

    def _command(self) -> list[str]:
        return [
            sys.executable, "-m", "renkei_reference.services.front",
            "--fd", str(self.public.fileno()), "--folder", str(self.folder),
            "--pki", str(self.pki.root) if self.pki is not None else "",
            "--limits", json.dumps(asdict(self.limits)), "--core", str(os.getpid()),
        ]  # fmt: skip

    def _spawn(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self._command(), pass_fds=(self.public.fileno(),))

    async def start(self) -> None:
        """Listen for calls, then start the fronts on the listening public socket."""
        await self.calls.start(self.folder / CALLS)
        self.public.listen(self.limits.backlog)
        self.processes = [self._spawn() for _ in range(self.count)]
        # serving once every front accepts on the public socket
        async with asyncio.timeout(_START_SECONDS):
            while not {p.pid for p in self.processes} <= self.calls.serving:
                if any(p.poll() is not None for p in self.processes):
                    raise RuntimeError("a front of the hub did not start")
                await asyncio.sleep(0.05)
        self._watch = asyncio.create_task(self._keep_up())

    async def _keep_up(self) -> None:
        while not self._stopping:
            await asyncio.sleep(_RESTART_PAUSE)
            for i, proc in enumerate(self.processes):
                if proc.poll() is not None and not self._stopping:
                    print(
                        f"renkei serve: front {i + 1} ended ({proc.returncode}); starting it again",
                        file=sys.stderr,
                        flush=True,
                    )
                    self.processes[i] = self._spawn()

    async def stop(self) -> None:
        """SIGTERM to every front, then wait for them (killed past the shutdown timeout)."""
        self._stopping = True
        if self._watch is not None:
            self._watch.cancel()
        for proc in self.processes:
            if proc.poll() is None:
                proc.terminate()
        deadline = self.limits.shutdown_timeout + 2
        for proc in self.processes:
            try:
                await asyncio.to_thread(proc.wait, deadline)
            except subprocess.TimeoutExpired:
                proc.kill()
        await self.calls.close()

    def remove(self) -> None:
        """Remove the core's folder and its sockets."""
        with contextlib.suppress(OSError):
            shutil.rmtree(self.folder)
