"""The node's correspondence table and binding (RK-BND-006/007/008, RK-AGN-007).

The node alone holds the agency's correspondence table (record number ↔ link
code).  Binding submits the business system's records to the hub and enters
what the hub binds; everything else goes to review.  Before binding, the legacy
forms of the 4 items the business systems hold (和暦 and ``YYYYMMDD`` dates,
full-width digits, sex codes such as ``1``/``2`` or ``男``/``女``) are converted
to the wire's forms, and a record that cannot be converted becomes that
record's own problem (``core.legacy_formats``, RK-AGN-007).

The designation (RK-AGN-001) is checked by the caller (``AgencyNode``) before
any of these runs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from ...core import legacy_formats
from ...core.agency import CorrespondenceTable
from ..clock import Clock
from .wire import HubConnection

__all__ = ["CorrespondenceDesk"]

_CONVERT = {"birth_date": legacy_formats.birth_date, "sex": legacy_formats.sex}


def _to_wire(record: dict[str, Any]) -> dict[str, Any]:
    """A business system's record as a wire ``BindingRecord``: legacy dates and
    sex codes in the wire's forms; or, when one cannot be converted, the record's
    own problem (RK-AGN-007, RK-BND-003), naming the item and why, never its value."""
    out: dict[str, Any] = {"record_ref": record["record_no"]}
    for key, value in record.items():
        if key == "record_no":
            continue
        convert = _CONVERT.get(key)
        if convert is None or not isinstance(value, str):
            out[key] = value
            continue
        done = convert(value)
        if done.value is None:
            return {"record_ref": record["record_no"], "problem": {
                "type": "urn:renkei:problem:malformed-binding-record",
                "title": "Malformed binding record",
                "status": 422,
                "detail": f"{key}: {done.problem} (the node cannot convert it, RK-AGN-007)",
                "requirement": "RK-BND-003",
            }}  # fmt: skip
        out[key] = done.value
    return out


class CorrespondenceDesk:
    """The correspondence table (record number ↔ link code) and what changes it."""

    def __init__(self, hub: HubConnection, clock: Clock) -> None:
        self._hub = hub
        self._clock = clock
        self._lock = threading.RLock()
        self._table = CorrespondenceTable()

    @property
    def table(self) -> CorrespondenceTable:
        """The table as it is now (an immutable value)."""
        with self._lock:
            return self._table

    @table.setter
    def table(self, table: CorrespondenceTable) -> None:
        with self._lock:
            self._table = table

    def link_code_of(self, record_no: str) -> str | None:
        return self.table.link_code_of(record_no)

    def record_of(self, link_code: str) -> str | None:
        return self.table.record_of(link_code)

    def bind(self, records: list[dict[str, str]]) -> list[dict[str, Any]]:
        """Submit records (``record_no`` + the 4 items, as the business system holds
        them) for binding; enter what the hub binds into the table unless it
        collides; everything else is reviewed.  Legacy dates and sex codes are
        converted first (``core.legacy_formats``, RK-AGN-007); a record whose value
        cannot be converted is not sent and gets its own problem
        ``malformed-binding-record`` in its place, the others being sent."""
        converted = [_to_wire(r) for r in records]
        wire = [c for c in converted if "problem" not in c]
        sent = self._hub.call("POST", "/bindings", {"records": wire})["results"] if wire else []
        answers = iter(sent)
        results = [c if "problem" in c else next(answers) for c in converted]
        now = self._clock.now()
        with self._lock:
            for r in results:
                if r.get("decision") == "bound" and r.get("link_code"):
                    self._table = self._table.bind(r["record_ref"], r["link_code"], now)
                elif r.get("record_ref") is not None:  # a decision, or the record's problem
                    problem = str((r.get("problem") or {}).get("type", "")).rpartition(":")[2]
                    reasons = ",".join(r.get("reasons") or []) or r.get("decision") or problem
                    self._table = self._table.with_review(r["record_ref"], reasons)
        return list(results)

    def bring_current(self, records: list[dict[str, str]]) -> dict[str, dict[str, Any]]:
        """RK-BND-006: the latest 4 items of bound records (``record_no`` + the 4
        items the agency holds), through the hub by link code only, before the
        agency re-binds them or picks a provider by the person's address.
        Returns ``{record_no: {"status", "four_items"?}}``; a record without a
        link code is ``not-bound`` (the hub is not asked)."""
        out: dict[str, dict[str, Any]] = {}
        wire = []
        for r in records:
            link = self.link_code_of(r["record_no"])
            if link is None:
                out[r["record_no"]] = {"status": "not-bound"}
                continue
            items = {k: v for k, v in r.items() if k != "record_no"}
            wire.append({"record_ref": r["record_no"], "link_code": link, "four_items": items})
        if wire:
            for res in self._hub.call("POST", "/latest-four-items", {"records": wire})["results"]:
                out[res["record_ref"]] = {k: v for k, v in res.items() if k != "record_ref"}
        return out

    def records_for_review(self) -> Iterable[dict[str, str | None]]:
        return [
            {"record_no": r.record_no, "reason": r.reason, "other_record_no": r.other_record_no}
            for r in self.table.review
        ]
