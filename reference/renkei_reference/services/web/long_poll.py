"""Reads held until something happens to what they read (RK-FLOW-009).

A requester reading an open linkage may ask the hub to hold the read up to
``wait`` seconds until its answer is in (long poll); a provider pulling its
deliveries the same, until a query for it is approved.  ``Signals`` is what the
handlers share on one event loop: a read ``wait``s on a key, a write that changes
it ``notify``s that key.  It holds nothing but the waiting reads, never a value
of the flow, and a notification nobody waits for is dropped: a read first
looks, then waits, then looks again, so a notification it misses only makes it
wait out its time.
"""

from __future__ import annotations

import asyncio

__all__ = ["MAX_WAIT_SECONDS", "Signals"]

MAX_WAIT_SECONDS = 20.0
"""The longest a read may ask to be held (the ``wait`` query parameter's maximum)."""


class Signals:
    """Waiting reads by key, woken by ``notify`` (one event loop, no threads)."""

    def __init__(self) -> None:
        self._waiting: dict[str, tuple[asyncio.Event, int]] = {}
        self._closing = False

    async def wait(self, key: str, seconds: float) -> bool:
        """Wait up to ``seconds`` for ``notify(key)``; True if notified."""
        if seconds <= 0 or self._closing:
            return False
        event, count = self._waiting.get(key, (None, 0))
        if event is None:
            event = asyncio.Event()
        self._waiting[key] = (event, count + 1)
        try:
            async with asyncio.timeout(min(seconds, MAX_WAIT_SECONDS)):
                await event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            current = self._waiting.get(key)
            if current is not None and current[0] is event:
                if current[1] <= 1:
                    del self._waiting[key]
                else:
                    self._waiting[key] = (event, current[1] - 1)

    def notify(self, key: str) -> None:
        """Wake every read waiting on ``key`` (none: nothing happens)."""
        waiting = self._waiting.pop(key, None)
        if waiting is not None:
            waiting[0].set()

    def close(self) -> None:
        """The server is stopping: every read held now is woken, and a read that asks
        to wait from now on is not held — each answers with its linkage as it is then
        (RK-FLOW-009), instead of being cut off when the server's shutdown timeout
        ends."""
        self._closing = True
        for event, _ in self._waiting.values():
            event.set()
        self._waiting.clear()

    def __len__(self) -> int:
        return len(self._waiting)
