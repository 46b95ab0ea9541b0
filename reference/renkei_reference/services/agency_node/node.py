"""The agency node's façade: one agency's node over its parts.

``AgencyNode`` checks the designation of every linkage action first
(RK-AGN-001, ``designation.Gate``) and hands the operator it names to the part
that owns the state: the correspondence table (``correspondence``), the
queries asked (``queries``), the deliveries held (``deliveries``) and the
applications for ⑪/⑫ (``disclosure``), all over the node's share of the log
(``AgencyLogStore``, RK-AGN-005).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ...core.agency import Action, AgencyLogEntry, CorrespondenceTable, Designation
from ..clock import Clock
from .adapters import BusinessSystem
from .correspondence import CorrespondenceDesk
from .deliveries import DeliveryDesk, Fault
from .designation import Denial, Gate
from .disclosure import DisclosureDesk
from .log_store import AgencyLogStore
from .queries import QueryDesk
from .wire import HubConnection

__all__ = ["AgencyNode"]


class AgencyNode:
    """One agency's node: table, designation, log, hub connection, business system."""

    def __init__(
        self,
        agency_id: str,
        hub: HubConnection,
        designation: Designation,
        system: BusinessSystem,
        clock: Clock,
        *,
        withheld_kinds: frozenset[str] = frozenset(),
        log_store: AgencyLogStore | None = None,
    ) -> None:
        self.agency_id = agency_id
        self.hub = hub  # the one connection every part reaches the hub by (RK-CTL-008: repointable)
        # its share of the log, kept, retained and held (RK-AGN-005)
        self.log_store = log_store or AgencyLogStore(clock)
        self._gate = Gate(designation, self.log_store)
        self.correspondence = CorrespondenceDesk(hub, clock)
        self.queries = QueryDesk(agency_id, hub, self.log_store, self.correspondence.link_code_of)
        self.deliveries = DeliveryDesk(
            agency_id,
            hub,
            system,
            clock,
            log_store=self.log_store,
            record_of=self.correspondence.record_of,
        )
        self.disclosure = DisclosureDesk(clock, self.log_store, withheld_kinds)

    # -- designation (RK-AGN-001) ----------------------------------------------------
    @property
    def denials(self) -> list[Denial]:
        """Every refused attempt, oldest first (RK-AGN-001)."""
        return self._gate.denials()

    # -- the correspondence table (RK-BND-006/007/008, RK-AGN-007) -------------------
    @property
    def table(self) -> CorrespondenceTable:
        """The correspondence table (record number ↔ link code) as it is now."""
        return self.correspondence.table

    @table.setter
    def table(self, table: CorrespondenceTable) -> None:
        self.correspondence.table = table

    def bind(
        self, staff_id: str, terminal: str, records: list[dict[str, str]]
    ) -> list[dict[str, Any]]:
        """Bind records as the business system holds them; see
        ``CorrespondenceDesk.bind`` (RK-BND-007, RK-BND-008, RK-AGN-007)."""
        self._gate.check(staff_id, terminal, Action.CHANGE_TABLE)
        return self.correspondence.bind(records)

    def link_code(self, staff_id: str, terminal: str, record_no: str) -> str | None:
        self._gate.check(staff_id, terminal, Action.READ_TABLE)
        return self.correspondence.link_code_of(record_no)

    def bring_current(
        self, staff_id: str, terminal: str, records: list[dict[str, str]]
    ) -> dict[str, dict[str, Any]]:
        """RK-BND-006: the latest 4 items of bound records, by link code only; see
        ``CorrespondenceDesk.bring_current``."""
        self._gate.check(staff_id, terminal, Action.READ_TABLE)
        return self.correspondence.bring_current(records)

    def records_for_review(self) -> Iterable[dict[str, str | None]]:
        return self.correspondence.records_for_review()

    # -- the node's share of the log (RK-AGN-005, RK-AUD-001) -------------------------
    @property
    def log(self) -> list[AgencyLogEntry]:
        """The retained entries of the node's log, oldest first (RK-AGN-005)."""
        return self.log_store.entries()

    def auditor_entries(self, after: int = 0, limit: int = 1000) -> list[dict[str, object]]:
        return self.log_store.page(after, limit)

    # -- the linkage flow: requester side (⑦ ⑨ ⑫) --------------------------------------
    def query(
        self,
        staff_id: str,
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
        operator = self._gate.check(staff_id, terminal, Action.QUERY)
        return self.queries.query(
            operator,
            terminal,
            record_no=record_no,
            provider=provider,
            pattern_id=pattern_id,
            information_kind=information_kind,
            use=use,
        )

    def read_answer(self, staff_id: str, terminal: str, linkage_id: str) -> bytes | None:
        """The answer to one of this agency's queries, once it has arrived."""
        self._gate.check(staff_id, terminal, Action.READ_ANSWER)
        return self.queries.read_answer(linkage_id)

    def acknowledge_answer(self, linkage_id: str) -> None:
        """Called once the answer was sent to the staff who read it (RK-FLOW-002)."""
        self.queries.acknowledge(linkage_id)

    # -- the linkage flow: provider side (⑧ ⑩ ⑪, RK-AGN-003) ---------------------------
    @property
    def fault(self) -> Fault:
        """The simulated provider fault (test mode); see ``Fault``."""
        return self.deliveries.fault

    @fault.setter
    def fault(self, fault: Fault) -> None:
        self.deliveries.fault = fault

    def answer_deliveries(self, staff_id: str, terminal: str) -> list[dict[str, Any]]:
        """Pull deliveries and answer each from the business system (RK-AGN-003);
        see ``DeliveryDesk.answer_deliveries``."""
        operator = self._gate.check(staff_id, terminal, Action.ANSWER)
        return self.deliveries.answer_deliveries(operator, terminal)

    def held(self) -> list[str]:
        """Linkage ids pulled and not yet answered (or ended) at the hub."""
        return self.deliveries.held()

    # -- the person's application for ⑪ and ⑫ (item 26; RK-PORT-004) ---------------
    def apply(
        self,
        application_id: str,
        linkage_ids: list[str],
        items: set[str],
        *,
        applicant: str,
        channel: str = "portal",
    ) -> dict[str, Any]:
        """A person's application for ⑪/⑫, brought by My Portal; see
        ``DisclosureDesk.apply``."""
        return self.disclosure.apply(
            application_id, linkage_ids, items, applicant=applicant, channel=channel
        )

    def applications(self, state: str | None = None) -> list[dict[str, Any]]:
        """The applications, oldest first (``state``: only those in it)."""
        return self.disclosure.applications(state)

    def application(self, application_id: str) -> dict[str, Any]:
        """One application, with the released ⑪/⑫ once it is granted; 404 otherwise."""
        return self.disclosure.application(application_id)

    def decide(
        self, staff_id: str, terminal: str, application_id: str, *, grant: bool
    ) -> dict[str, Any]:
        """Designated staff at a designated terminal grant or refuse an application
        (RK-AGN-001, Action ``decide-disclosure``); see ``DisclosureDesk.decide``."""
        operator = self._gate.check(staff_id, terminal, Action.DECIDE_DISCLOSURE)
        return self.disclosure.decide(operator, terminal, application_id, grant=grant)
