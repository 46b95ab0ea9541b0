"""Crashing the target through its declared restart capability (issue 14 item 5).

A target file may declare ``restart`` (specs/schemas/target.schema.json): a
command that stops every party of the implementation abruptly and brings it
back on the same durable state at the same URLs, exiting 0 once it serves
again.  ``restart_target`` runs it, waits until the target answers, and
reconnects the kit's wire (the connections to the stopped process are gone).
The kit never learns how the implementation stores anything: what survived is
judged only through the wire, by the CT-DUR tests.
"""

from __future__ import annotations

import subprocess
import time

import httpx

from .client import Wire
from .target import Restart, Target

__all__ = ["NOT_DECLARED", "RestartFailed", "restart_target"]

NOT_DECLARED = (
    "not applicable: the target declares no restart capability (target file member "
    "'restart', specs/schemas/target.schema.json)"
)
POLL_SECONDS = 0.2
OUTPUT_TAIL_CHARS = 600


class RestartFailed(AssertionError):
    """The declared restart command failed, or the target did not come back in time."""


def _answers(wire: Wire, target: Target) -> bool:
    """The target answers again: its control interface's health (or the hub's root)."""
    url = wire.url("control", "/health") if "control" in target.parties else wire.url("hub", "/")
    try:
        with target.client() as probe:
            reply = probe.get(url)
    except httpx.HTTPError:
        return False
    return reply.status_code < 500


def restart_target(wire: Wire) -> float:
    """Run the target's restart command, wait until it answers and reconnect
    ``wire``; return the seconds it took.  Raises ``RestartFailed``."""
    restart: Restart | None = wire.target.restart
    if restart is None:
        raise RestartFailed(NOT_DECLARED)
    started = time.monotonic()
    wire.http.close()  # its connections go with the stopped process
    try:
        _run(restart)
        while not _answers(wire, wire.target):
            if time.monotonic() > started + restart.ready_timeout:
                raise RestartFailed(
                    f"the target did not answer within {restart.ready_timeout:g} s of the restart"
                )
            time.sleep(POLL_SECONDS)
    finally:
        wire.http = wire.target.client()  # the rest of the run goes on, whatever happened
    return time.monotonic() - started


def _run(restart: Restart) -> None:
    try:
        done = subprocess.run(
            list(restart.command),
            cwd=restart.cwd,
            capture_output=True,
            text=True,
            timeout=restart.ready_timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise RestartFailed(
            f"the restart command did not finish within {restart.ready_timeout:g} s "
            "(ready_timeout_seconds)"
        ) from exc
    except OSError as exc:
        raise RestartFailed(f"the restart command cannot be run: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stderr or done.stdout or "")[-OUTPUT_TAIL_CHARS:]
        raise RestartFailed(f"the restart command exited {done.returncode}: {tail}")
