"""``renkei serve`` as an operator runs it: a child process in its own process group,
reached only through the target file it writes and mutual TLS with the certificates
that file names.  Nothing here imports the reference."""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

__all__ = ["CLERK", "Federation", "ServeFailed", "free_port_block", "renkei_command"]

CLERK = {"staff_id": "clerk-1", "terminal": "term-01"}
"""The designated clerk each demo node offers in its fixtures (read again at start)."""


class ServeFailed(RuntimeError):
    """``renkei serve`` did not come up (its output is in the log file)."""


def renkei_command() -> list[str]:
    """The ``renkei`` command, run by this interpreter (what the console script runs);
    ``RENKEI_COMMAND`` (split on spaces) overrides it, e.g. ``renkei`` on PATH."""
    override = os.environ.get("RENKEI_COMMAND")
    if override:
        return override.split()
    return [sys.executable, "-m", "renkei_conformance"]


def free_port_block(n: int, rng: random.Random) -> int:
    """A port p such that p … p+n-1 can all be bound on 127.0.0.1 now."""
    for _ in range(200):
        base = rng.randrange(20_000, 60_000)
        socks: list[socket.socket] = []
        try:
            for p in range(base, base + n):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
        return base
    raise ServeFailed("no block of free ports")


def _descendants(root: int) -> list[int]:
    """The live descendants of ``root`` (Linux /proc), children first."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rpartition(")")[2].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _context(ca: str, pair: dict[str, str]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.load_cert_chain(pair["cert"], pair["key"])
    return ctx


@dataclass
class Federation:
    """One state directory served by successive ``renkei serve`` processes."""

    state_dir: Path
    log_path: Path
    port: int
    poll_interval: float = 0.2
    extra_args: tuple[str, ...] = ()
    proc: subprocess.Popen[bytes] | None = None
    target: dict[str, Any] = field(default_factory=dict)
    starts: int = 0
    _clients: dict[str, httpx.Client] = field(default_factory=dict)
    _pump: threading.Thread | None = None

    @property
    def target_file(self) -> Path:
        return self.state_dir.with_name(self.state_dir.name + "-target.json")

    # -- processes ---------------------------------------------------------------
    def start(self, *, timeout: float = 90.0) -> float:
        """Start ``renkei serve`` and wait for its target file; returns seconds taken."""
        self.target_file.unlink(missing_ok=True)
        cmd = [*renkei_command(), "serve", "--port", str(self.port),
               "--state-dir", str(self.state_dir), "--target-file", str(self.target_file),
               "--poll-interval", str(self.poll_interval), *self.extra_args]  # fmt: skip
        t0 = time.monotonic()
        self.proc = subprocess.Popen(  # its own session: the whole group is killed
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )  # fmt: skip
        self.starts += 1
        self._pump = threading.Thread(target=self._drain, args=(self.proc,), daemon=True)
        self._pump.start()
        while time.monotonic() - t0 < timeout:
            if self.proc.poll() is not None:
                raise ServeFailed(
                    f"renkei serve exited with {self.proc.returncode}; see {self.log_path}"
                )
            with contextlib.suppress(OSError, ValueError):
                self.target = json.loads(self.target_file.read_text(encoding="utf-8"))
                return time.monotonic() - t0
            time.sleep(0.1)
        self.kill()
        raise ServeFailed(f"renkei serve did not write its target file in {timeout} s")

    def _drain(self, proc: subprocess.Popen[bytes]) -> None:
        """Its output goes to a pipe (never a file it could fail to extend under a
        lowered RLIMIT_FSIZE); the harness copies it to the log file."""
        assert proc.stdout is not None
        with self.log_path.open("ab") as log:
            log.write(f"--- start {self.starts} (pid {proc.pid}) ---\n".encode())
            for line in proc.stdout:
                log.write(line)
                log.flush()

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise ServeFailed("not started")
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """kill -9 of every process of the server — its process group and any
        descendant that left it — at once; waits until the server is gone."""
        if self.proc is None:
            return
        family = _descendants(self.proc.pid)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        for pid in family:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
        self.proc.wait()
        if self._pump is not None:
            self._pump.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def terminate(self, timeout: float) -> float | None:
        """SIGTERM to the server; seconds until it exited, or None (then killed)."""
        if self.proc is None:
            return None
        t0 = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
            took: float | None = time.monotonic() - t0
        except subprocess.TimeoutExpired:
            took = None
        self.kill()
        return took

    def set_fsize(self, soft: int | None) -> None:
        """Lower (or, None, lift) the running server's RLIMIT_FSIZE soft limit:
        a write that would extend a file past it fails with EFBIG, as on a full disk."""
        value = resource.RLIM_INFINITY if soft is None else soft
        resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (value, resource.RLIM_INFINITY))

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        self._clients.clear()
        self.kill()

    # -- the wire ------------------------------------------------------------------
    def client(self, who: str) -> httpx.Client:
        """A client with ``who``'s certificate (``operator`` or an organisation)."""
        if who not in self._clients:
            tls = self.target["tls"]
            pair = tls["operator"] if who == "operator" else tls["client_certificates"][who]
            self._clients[who] = httpx.Client(
                verify=_context(tls["ca"], pair), timeout=httpx.Timeout(15.0, connect=5.0)
            )
        return self._clients[who]

    def party(self, name: str) -> str:
        return str(self.target["parties"][name])

    def node_url(self, agency: str) -> str:
        return str(self.target["agency_nodes"][agency]["url"])

    @property
    def nodes(self) -> list[str]:
        return list(self.target.get("agency_nodes", {}))
