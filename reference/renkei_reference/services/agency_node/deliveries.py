"""The provider side of a linkage: answering deliveries within the deadline (⑧ ⑩ ⑪).

The node pulls its deliveries, fetches each answer from the business system at
answer time (RK-AGN-004) and answers — a person it does not know, or a kind it
holds nothing of, with ``NO_INFORMATION`` rather than letting the linkage
expire (RK-AGN-003).  A delivery is held until the hub has taken its answer or
ended it (RK-FLOW-004).  ``Fault`` simulates a failing provider (test mode).
The designation (RK-AGN-001) is checked by the caller (``AgencyNode``).
"""

from __future__ import annotations

import base64
import enum
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from ...core.agency import Side
from ..clock import Clock
from .adapters import BusinessSystem
from .log_store import AgencyLogStore
from .wire import HubConnection, HubRefusal

__all__ = ["GARBAGE_PAYLOAD", "LATE", "NO_INFORMATION", "DeliveryDesk", "Fault"]

NO_INFORMATION = b'{"renkei":"no-information"}'
"""The answer when the agency holds nothing of the kind asked (RK-AGN-003: say so
rather than let the linkage expire)."""

GARBAGE_PAYLOAD = "<garbage: not base64>"
"""What a node under the ``garbage`` fault sends: the hub must refuse it (422)."""
LATE = frozenset({"answer-after-deadline"})


class Fault(enum.Enum):
    """Simulated provider faults (issue 5), switched at run time in test mode."""

    NONE = "none"
    DOWN = "down"  # neither pulls nor answers: the linkage expires at its deadline
    SLOW = "slow"  # pulls but holds its answers until the fault is cleared
    GARBAGE = "garbage"  # answers with a payload the hub must refuse


def _deadline(delivery: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(delivery["deadline"]))


class DeliveryDesk:
    """The deliveries pulled and not yet taken or ended at the hub, and the fault."""

    def __init__(
        self,
        agency_id: str,
        hub: HubConnection,
        system: BusinessSystem,
        clock: Clock,
        *,
        log_store: AgencyLogStore,
        record_of: Callable[[str], str | None],
    ) -> None:
        self._agency_id = agency_id
        self._hub = hub
        self._system = system
        self._clock = clock
        self._log_store = log_store
        self._record_of = record_of
        self._lock = threading.Lock()
        self._held: dict[str, dict[str, Any]] = {}  # linkage_id -> delivery, unanswered
        self._refusals: set[tuple[str, str]] = set()  # (linkage_id, problem) logged
        self.fault = Fault.NONE

    def answer_deliveries(self, operator: str, terminal: str) -> list[dict[str, Any]]:
        """Pull deliveries and answer each from the business system (RK-AGN-003);
        ⑧ ⑩ ⑪ go to the log.  A person the agency does not know, or a kind it
        holds nothing of, is answered as such, not left to expire.

        A delivery is held until the hub has taken its answer or ended it: an
        answer the hub refuses as malformed (422) is tried again on the next
        call, so nothing is lost while the deadline runs; an answer refused as
        late (409 ``answer-after-deadline``, or 404 once the hub forgot the
        expired linkage) is logged as expired and dropped, never relayed
        (RK-FLOW-004).  ``fault`` simulates a provider that is down (neither
        pulls nor answers), slow (pulls, holds its answers until the fault is
        cleared) or answers garbage (a payload the hub must refuse)."""
        if self.fault is Fault.DOWN:
            return []
        for d in self._hub.call("GET", "/deliveries")["deliveries"]:
            with self._lock:
                self._held[d["linkage_id"]] = d
        if self.fault is Fault.SLOW:
            return []
        with self._lock:
            held = list(self._held.values())
        return [self._answer_one(d, operator, terminal) for d in held]

    def _answer_one(self, d: dict[str, Any], operator: str, terminal: str) -> dict[str, Any]:
        record = self._record_of(d["link_code"])
        found = self._system.fetch(record, d["information_kind"]) if record else None
        payload = base64.b64encode(found.payload if found else NO_INFORMATION).decode()
        content = found.description if found else "該当情報なし (no information held)"
        if self.fault is Fault.GARBAGE:
            payload = GARBAGE_PAYLOAD
        lid = d["linkage_id"]
        entry = {
            "hub_serial": d.get("serial"),
            "linkage_id": lid,
            "request_id": None,
            "side": Side.PROVIDER,
            "requester": d["requester"],
            "provider": self._agency_id,
            "pattern_id": d["pattern_id"],
            "information_kind": d["information_kind"],
            "operator": operator,
            "terminal": terminal,
        }
        try:
            self._hub.call("POST", f"/linkages/{lid}/answer", {"payload": payload})
        except HubRefusal as refusal:
            late = refusal.problem in LATE or (
                refusal.http_status == 404 and self._clock.now() >= _deadline(d)
            )
            if late or refusal.http_status in (404, 409):  # ended at the hub: drop it
                with self._lock:
                    self._held.pop(lid, None)
                outcome = "expired" if late else "answer-refused"
                self._log_store.append(outcome=outcome, reason=refusal.problem, **entry)
                return {"linkage_id": lid, "answered": False, "refused": refusal.problem}
            with self._lock:  # malformed or not now: kept, tried again next time
                first = (lid, refusal.problem) not in self._refusals
                self._refusals.add((lid, refusal.problem))
            if first:
                self._log_store.append(outcome="answer-refused", reason=refusal.problem, **entry)
            return {"linkage_id": lid, "answered": False, "refused": refusal.problem}
        with self._lock:
            self._held.pop(lid, None)
        self._log_store.append(outcome="answered", content=content, **entry)
        return {"linkage_id": lid, "answered": found is not None}

    def held(self) -> list[str]:
        """Linkage ids pulled and not yet answered (or ended) at the hub."""
        with self._lock:
            return list(self._held)
