"""``renkei serve --supervise``: the reference's restart capability (issue 14 item 5).

The supervisor runs the federation (``renkei serve``) as a worker process and
starts it again, on the same ``--state-dir`` and at the same ports, whenever
the worker dies of SIGKILL; any other exit of the worker ends the supervisor
with the worker's exit code, and SIGTERM/SIGINT are passed on to the worker.
The worker writes in its target file the ``restart`` member
(specs/schemas/target.schema.json): the command ``python -m
renkei_reference.services.supervise restart STATE_DIR``, which SIGKILLs the
ready worker — an abrupt stop, as a power loss would be — and returns once the
next worker is ready (it writes ``READY_FILE`` in the state folder after its
target file).  What survives is what the worker keeps in the state folder.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import urlsplit

__all__ = [
    "READY_FILE",
    "RESTART_TIMEOUT_SECONDS",
    "die_with_supervisor",
    "pinned_ports",
    "restart_command",
    "restart_worker",
    "supervise",
    "write_ready",
]

READY_FILE = "serve-ready.json"
"""In the state folder: ``{"pid": …}`` of the worker that is ready (written last)."""
RESTART_TIMEOUT_SECONDS = 120
POLL_SECONDS = 0.1
SUPERVISOR_ENV = "RENKEI_SUPERVISOR_PID"
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def restart_command(state_dir: Path) -> dict[str, object]:
    """The target file's ``restart`` member for a worker supervised on ``state_dir``."""
    return {
        "command": [
            sys.executable,
            "-m",
            "renkei_reference.services.supervise",
            "restart",
            str(state_dir.resolve()),
        ],
        "ready_timeout_seconds": RESTART_TIMEOUT_SECONDS,
        "description": (
            "SIGKILL of the federation's process (hub, its parties and the agency nodes); "
            "its supervisor starts it again on the same state folder and ports, and the "
            "command returns once it is ready"
        ),
    }


def write_ready(state_dir: Path) -> None:
    """The worker is ready: its pid in ``READY_FILE`` (written whole, then renamed)."""
    partial = state_dir / (READY_FILE + ".partial")
    partial.write_text(json.dumps({"pid": os.getpid()}) + "\n", encoding="utf-8")
    partial.replace(state_dir / READY_FILE)


def _ready_pid(state_dir: Path) -> int | None:
    try:
        data = json.loads((state_dir / READY_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("pid") if isinstance(data, dict) else None
    return pid if isinstance(pid, int) and pid > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def restart_worker(state_dir: Path, timeout: float = RESTART_TIMEOUT_SECONDS) -> str | None:
    """SIGKILL the ready worker of ``state_dir`` and wait until the next one is
    ready; return why it failed, or None."""
    old = _ready_pid(state_dir)
    if old is None or not _alive(old):
        return f"no running supervised worker recorded in {state_dir / READY_FILE}"
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        new = _ready_pid(state_dir)
        if new is not None and new != old and _alive(new):
            return None
        time.sleep(POLL_SECONDS)
    return f"no new worker was ready within {timeout:g} s (see the supervisor's output)"


def pinned_ports(target_file: Path) -> tuple[int, list[int]] | None:
    """The hub's port and the agency nodes' ports (in the file's order) of the
    target file the previous worker wrote, so that its successor listens at the
    same URLs."""
    try:
        data = json.loads(target_file.read_text(encoding="utf-8"))
        hub = urlsplit(data["parties"]["hub"]).port
        nodes = [urlsplit(n["url"]).port for n in data.get("agency_nodes", {}).values()]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if hub is None or any(p is None for p in nodes):
        return None
    return hub, [p for p in nodes if p is not None]


def supervise(
    worker: Callable[[tuple[int, list[int]] | None], Sequence[str]],
    state_dir: Path,
    target_file: Path,
) -> int:
    """Run ``worker(None)``; while it dies of SIGKILL, run ``worker(ports)``
    with the ports its predecessor listened on (a restart: same URLs, same
    state, no new demo world).  Returns the exit code."""
    ready = state_dir / READY_FILE
    ready.unlink(missing_ok=True)  # a pid of an earlier run must never be killed
    try:
        return _supervise(worker, target_file)
    finally:
        ready.unlink(missing_ok=True)


def _supervise(
    worker: Callable[[tuple[int, list[int]] | None], Sequence[str]], target_file: Path
) -> int:
    stopping: list[int] = []
    child: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: object) -> None:
        stopping.append(signum)
        if child and child[0].poll() is None:
            child[0].send_signal(signal.SIGTERM)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, forward)
    ports: tuple[int, list[int]] | None = None
    env = {**os.environ, SUPERVISOR_ENV: str(os.getpid())}
    while True:
        child[:] = [subprocess.Popen(list(worker(ports)), env=env)]
        code = child[0].wait()
        if stopping or code != -signal.SIGKILL:
            return code if code >= 0 else 128 - code
        ports = pinned_ports(target_file)
        if ports is None:
            print(f"renkei serve --supervise: the federation was killed and {target_file} "
                  "no longer names its ports; not starting it again", file=sys.stderr)  # fmt: skip
            return 1
        print("renkei serve --supervise: the federation was killed; starting it again",
              file=sys.stderr, flush=True)  # fmt: skip


def die_with_supervisor() -> None:
    """In a worker: end (SIGTERM) when the supervisor dies, even of SIGKILL, so
    that no federation outlives it holding its ports (Linux; elsewhere only the
    check at start)."""
    parent = os.environ.get(SUPERVISOR_ENV, "")
    if not parent.isdigit():
        return
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != int(parent):  # it died before the request above
        os.kill(os.getpid(), signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m renkei_reference.services.supervise",
        description="restart a `renkei serve --supervise` federation abruptly",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    restart = sub.add_parser("restart", help="SIGKILL the federation, wait until it is back")
    restart.add_argument("state_dir", type=Path)
    restart.add_argument("--timeout", type=float, default=RESTART_TIMEOUT_SECONDS)
    args = parser.parse_args(argv)
    failure = restart_worker(args.state_dir, args.timeout)
    if failure is not None:
        print(f"renkei restart: {failure}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
