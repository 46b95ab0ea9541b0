"""Clocks injected into the services (the core never reads one)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ControllableClock", "SystemClock"]


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """Wall-clock UTC time (production mode)."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class ControllableClock:
    """Test-mode clock: flows like the wall clock, but can be set and advanced.

    Set and advanced through the conformance control interface (RK-CTL-002),
    so a kit can jump 7 years to check retention.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._lock = threading.Lock()
        self._base = start or datetime.now(UTC)
        self._mono = time.monotonic()

    def now(self) -> datetime:
        with self._lock:
            return self._base + timedelta(seconds=time.monotonic() - self._mono)

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("clock time must carry a UTC offset")
        with self._lock:
            self._base = when.astimezone(UTC)
            self._mono = time.monotonic()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._base += timedelta(seconds=seconds)
        return self.now()
