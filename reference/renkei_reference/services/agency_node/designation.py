"""The node's gate: designated staff at designated terminals (RK-AGN-001).

Every linkage action passes ``Gate.check``: it returns the operator as the log
names them (⑦/⑧), or records the refused attempt in the node's store (served to
the auditor) and raises.  The rule itself is ``core.agency.authorize``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...core.agency import Action, Designation, authorize, require
from .log_store import AgencyLogStore

__all__ = ["Denial", "Gate"]


@dataclass(frozen=True)
class Denial:
    """An attempt refused by the designation (RK-AGN-001: refused *and logged*)."""

    at: str
    staff_id: str
    terminal: str
    action: str
    reason: str


class Gate:
    """The designation and the record of the attempts it refused."""

    def __init__(self, designation: Designation, log_store: AgencyLogStore) -> None:
        self._designation = designation
        self._log_store = log_store

    def check(self, staff_id: str, terminal: str, action: Action) -> str:
        """RK-AGN-001: the operator (⑦/⑧) for the log, or a logged refusal."""
        reason = authorize(self._designation, staff_id, terminal, action)
        if reason is not None:  # kept in the node's store, served to the auditor
            self._log_store.deny(staff_id, terminal, action.value, reason)
        member = require(self._designation, staff_id, terminal, action)
        return f"{member.department} {member.name} ({member.staff_id})"

    def denials(self) -> list[Denial]:
        """Every refused attempt, oldest first (RK-AGN-001)."""
        return [
            Denial(d["at"], d["staff_id"], d["terminal"], d["action"], d["reason"])
            for d in self._log_store.denials()
        ]
