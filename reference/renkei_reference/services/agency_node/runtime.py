"""The node's runtime: answering within the deadline (RK-AGN-003)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx

from .node import AgencyNode
from .wire import HubRefusal

__all__ = ["DeliveryLoop"]


class DeliveryLoop:
    """Pulls the node's deliveries every ``interval`` seconds and answers them,
    as the node's designated service account (``staff_id`` at ``terminal``,
    which the log attributes the answers to, RK-AGN-002).

    ``interval`` must be well under the shortest answer period of the node's
    patterns (RK-AGN-003).  While the hub refuses the node (not registered, e.g.
    after a reset in test mode) or cannot be reached, it backs off up to
    ``max_backoff`` seconds and reports each change of condition once.
    """

    def __init__(
        self,
        node: AgencyNode,
        staff_id: str,
        terminal: str,
        *,
        interval: float = 0.5,
        max_backoff: float = 5.0,
        report: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.node = node
        self._who = (staff_id, terminal)
        self._interval = interval
        self._max_backoff = max(max_backoff, interval)
        self._report = report
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._condition = "ok"

    def run_once(self) -> float:
        """One round; returns the seconds to wait before the next."""
        try:
            self.node.answer_deliveries(*self._who)
        except HubRefusal as refusal:
            return self._trouble(f"the hub refuses the node: {refusal.problem}")
        except (httpx.HTTPError, OSError) as exc:
            return self._trouble(f"the hub is unreachable: {type(exc).__name__}")
        except Exception as exc:  # a business system failing: keep answering the rest later
            return self._trouble(f"answering failed: {type(exc).__name__}: {exc}")
        if self._condition != "ok":
            self._report(f"{self.node.agency_id}: answering again")
            self._condition = "ok"
        return self._interval

    def _trouble(self, condition: str) -> float:
        if condition != self._condition:
            self._report(f"{self.node.agency_id}: {condition}")
            self._condition = condition
        return self._max_backoff

    def _run(self) -> None:
        while not self._stop.is_set():
            self._stop.wait(self.run_once())

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"delivery-loop {self.node.agency_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
