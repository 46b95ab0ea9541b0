"""Clocks injected into the services (the core never reads one)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Protocol

from ..core.errors import CallerError

__all__ = ["EARLIEST", "LATEST", "Clock", "ControllableClock", "SystemClock"]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
"""The test-mode clock's range: every rule's arithmetic (seven years of
retention back, ten-year key transitions forward) stays representable."""


def _in_range(when: datetime) -> datetime:
    """``when`` in UTC, or a 422 naming RK-CTL-002 when it lies outside the range."""
    try:
        utc = when.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise CallerError(
            "validation-error",
            f"the clock can be set from {EARLIEST.isoformat()} to before {LATEST.isoformat()}; "
            f"{when.isoformat()} is outside",
            "RK-CTL-002",
        )
    return utc


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
        utc = _in_range(when)
        with self._lock:
            self._base = utc
            self._mono = time.monotonic()

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._base = _in_range(self._base + timedelta(seconds=seconds))
        return self.now()
