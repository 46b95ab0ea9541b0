"""The requester side of a linkage: queries and the answers they bring (⑦ ⑨ ⑫).

A query names the person to the hub by link code only (RK-BND-007); the
agency's log gets the requester's entry with the hub's serial ①, approved or
refused (RK-AGN-002), and, when the answer is read, the entry that it was
received.  The designation (RK-AGN-001) is checked by the caller
(``AgencyNode``), which passes the operator it attributes the entry to.
"""

from __future__ import annotations

import base64
import secrets
import threading
from collections.abc import Callable
from typing import Any

from ...core.agency import Side
from ...core.errors import CallerError, NotFoundError
from .log_store import AgencyLogStore
from .wire import HubConnection, HubRefusal

__all__ = ["QueryDesk"]


class QueryDesk:
    """The queries this agency asked, until their answers are read."""

    def __init__(
        self,
        agency_id: str,
        hub: HubConnection,
        log_store: AgencyLogStore,
        link_code_of: Callable[[str], str | None],
    ) -> None:
        self._agency_id = agency_id
        self._hub = hub
        self._log_store = log_store
        self._link_code_of = link_code_of
        self._lock = threading.Lock()
        self._queries: dict[str, dict[str, Any]] = {}  # linkage_id -> what was asked

    def query(
        self,
        operator: str,
        terminal: str,
        *,
        record_no: str,
        provider: str,
        pattern_id: str,
        information_kind: str,
        use: str,
    ) -> str:
        """Ask the hub about the person of ``record_no`` (RK-BND-007: by link code
        only); ⑦ ⑨ ⑫ go to the agency's log with the hub's serial ①."""
        if not use.strip():
            raise CallerError("validation-error", "⑫ the use must be recorded", "RK-AGN-002")
        link = self._link_code_of(record_no)
        if link is None:
            raise NotFoundError(
                "record-not-bound", f"record {record_no!r} has no link code yet", "RK-BND-007"
            )
        request_id = f"{self._agency_id}-{secrets.token_hex(8)}"
        body = {
            "request_id": request_id,
            "requester": self._agency_id,
            "provider": provider,
            "pattern_id": pattern_id,
            "information_kind": information_kind,
            "link_code": link,
        }
        common = {
            "request_id": request_id,
            "side": Side.REQUESTER,
            "requester": self._agency_id,
            "provider": provider,
            "pattern_id": pattern_id,
            "information_kind": information_kind,
            "operator": operator,
            "terminal": terminal,
            "use": use,
        }
        try:
            accepted = self._hub.call("POST", "/queries", body)
        except HubRefusal as refusal:
            self._log_store.append(
                hub_serial=refusal.extensions.get("serial"),
                linkage_id=None,
                outcome="refused",
                reason=refusal.problem,
                **common,
            )
            raise
        self._log_store.append(
            hub_serial=accepted["serial"],
            linkage_id=accepted["linkage_id"],
            outcome="approved",
            **common,
        )
        with self._lock:
            self._queries[accepted["linkage_id"]] = common
        return str(accepted["linkage_id"])

    def read_answer(self, linkage_id: str) -> bytes | None:
        """The answer to one of this agency's queries, once it has arrived."""
        status = self._hub.call("GET", f"/linkages/{linkage_id}")
        answer = status.get("answer")
        if not answer:
            return None
        with self._lock:
            asked = self._queries.pop(linkage_id, None)
        if asked is not None:  # the requester's record of the provided entry
            self._log_store.append(
                hub_serial=(status.get("receipt") or {}).get("serial"),
                linkage_id=linkage_id,
                outcome="received",
                **asked,
            )
        return base64.b64decode(answer["payload"])

    def acknowledge(self, linkage_id: str) -> None:
        """The answer reached whoever read it: the hub may erase it (RK-FLOW-002).
        A 404 means it already did (an earlier acknowledgement, or the collection
        period ended); until this succeeds the hub hands the answer out again."""
        try:
            self._hub.call("DELETE", f"/linkages/{linkage_id}/answer")
        except HubRefusal as refusal:
            if refusal.http_status != 404:
                raise
