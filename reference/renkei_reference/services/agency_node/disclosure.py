"""The person's application for ⑪ and ⑫ at this agency (item 26; RK-PORT-004).

My Portal brings a person's separate application for ⑪ (content, provider
side) and ⑫ (use, requester side) of named linkages; designated staff decide
it; a grant releases what the law allows, kinds exempt from disclosure being
``withheld``.  Applications are kept in the node's store, so they outlive a
restart, and what a grant released is read again from the retained log.  The
designation of the deciding staff (RK-AGN-001) is checked by the caller
(``AgencyNode``), which passes the operator the decision is attributed to.
"""

from __future__ import annotations

import threading
from typing import Any

from ...core.admin_log import AdminEvent
from ...core.agency import Side
from ...core.errors import ConflictError, NotFoundError
from ..clock import Clock
from .log_store import AgencyLogStore

__all__ = ["DisclosureDesk"]

_HELD = ("approved", "answered")  # outcomes of an entry this agency holds of a linkage


class DisclosureDesk:
    """The applications for ⑪/⑫, their decisions and what those release."""

    def __init__(
        self, clock: Clock, log_store: AgencyLogStore, withheld_kinds: frozenset[str]
    ) -> None:
        self._clock = clock
        self._log_store = log_store
        self._withheld_kinds = withheld_kinds  # exempt from disclosure by law
        self._lock = threading.RLock()
        # application_id -> record, kept in the store across restarts (RK-PORT-004)
        self._applications: dict[str, dict[str, Any]] = {
            a["application_id"]: a for a in log_store.applications()
        }

    def apply(
        self,
        application_id: str,
        linkage_ids: list[str],
        items: set[str],
        *,
        applicant: str,
        channel: str = "portal",
    ) -> dict[str, Any]:
        """A person's separate application to this agency for ⑪ (content, provider
        side) and ⑫ (use, requester side) of the named linkages, brought by My
        Portal (``applicant``) on the person's behalf (``channel``: ``portal`` or
        ``counter``).  It waits, ``submitted``, for designated staff to decide
        (``decide``).  Idempotent per application; a linkage this agency holds no
        entry of is 404."""
        with self._lock:
            known = self._applications.get(application_id)
            if known is not None:
                return self._application_view(known)
            held = {e.linkage_id for e in self._log_store.entries() if e.outcome in _HELD}
            unknown = [lid for lid in linkage_ids if lid not in held]
            if unknown:
                raise NotFoundError(
                    "unknown-linkage",
                    f"this agency holds no entry for linkage {unknown[0]!r}",
                    "RK-PORT-004",
                )
            record: dict[str, Any] = {
                "application_id": application_id,
                "linkage_ids": list(linkage_ids),
                "items": sorted(items),
                "channel": channel,
                "state": "submitted",
                "submitted_at": self._clock.now().isoformat(),
            }
            self._applications[application_id] = record
            self._log_store.save_application(record)
        self._log_store.record_admin(
            AdminEvent.DISCLOSURE_APPLICATION,
            applicant,
            application_id=application_id,
            linkages=len(linkage_ids),
            items=sorted(items),
            channel=channel,
        )
        return self._application_view(record)

    def applications(self, state: str | None = None) -> list[dict[str, Any]]:
        """The applications, oldest first (``state``: only those in it)."""
        with self._lock:
            return [
                self._application_view(a)
                for a in self._applications.values()
                if state is None or a["state"] == state
            ]

    def application(self, application_id: str) -> dict[str, Any]:
        """One application, with the released ⑪/⑫ once it is granted; 404 otherwise.
        After a restart what a grant released is read again from the retained log."""
        with self._lock:
            record = self._known(application_id)
            if "entries" not in record and record["state"] in ("granted", "partially-granted"):
                record["entries"] = self._release(record["linkage_ids"], set(record["items"]))
            return self._application_view(record, released=True)

    def decide(
        self, operator: str, terminal: str, application_id: str, *, grant: bool
    ) -> dict[str, Any]:
        """Grant or refuse an application, attributed to ``operator`` at ``terminal``
        (⑦-like) and made once (409 ``application-already-decided``).  A grant
        releases what the law allows: kinds exempt from disclosure are
        ``withheld``; all withheld is ``refused``."""
        with self._lock:
            record = self._known(application_id)
            if record["state"] != "submitted":
                raise ConflictError(
                    "application-already-decided",
                    f"application {application_id!r} was {record['state']}",
                    "RK-PORT-004",
                )
            entries = self._release(record["linkage_ids"], set(record["items"]))
            held = sum(x["withheld"] for x in entries)
            if not grant:
                state, entries = "refused", []
            elif held == len(entries):  # all exempt by law: refused, and said why
                state = "refused"
            else:
                state = "granted" if held == 0 else "partially-granted"
            record.update(
                state=state,
                entries=entries,
                decided_at=self._clock.now().isoformat(),
                decided_by=operator,
                decided_at_terminal=terminal,
            )
            self._log_store.save_application(record)
        self._log_store.record_admin(
            AdminEvent.DISCLOSURE_DECISION,
            operator,
            application_id=application_id,
            decision=state,
            terminal=terminal,
        )
        return self._application_view(record, released=True)

    def _known(self, application_id: str) -> dict[str, Any]:
        record = self._applications.get(application_id)
        if record is None:
            raise NotFoundError(
                "not-found", f"no application {application_id!r} here", "RK-PORT-004"
            )
        return record

    def _release(self, linkage_ids: list[str], items: set[str]) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        for e in self._log_store.entries():
            if e.linkage_id not in linkage_ids or e.outcome not in _HELD:
                continue
            withheld = e.information_kind in self._withheld_kinds
            out: dict[str, Any] = {"linkage_id": e.linkage_id, "side": e.side.value,
                                   "withheld": withheld}  # fmt: skip
            if not withheld:
                if e.side is Side.PROVIDER and "content" in items and e.content:
                    out["content"] = e.content
                if e.side is Side.REQUESTER and "use" in items and e.use:
                    out["use"] = e.use
            entries.append(out)
        return entries

    @staticmethod
    def _application_view(record: dict[str, Any], *, released: bool = False) -> dict[str, Any]:
        """OpenAPI ``AgencyDisclosureApplication``."""
        view = {k: v for k, v in record.items() if k != "entries"}
        if released and record.get("entries"):
            view["entries"] = list(record["entries"])
        return view
