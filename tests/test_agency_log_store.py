"""The agency node's log is kept, retained and served (seed items 24–28; RK-AGN-005).

The node's share of the log (⑦–⑫) is durable and append-only, kept 7 years by
default with the node's injected clock (the hub's rule, core.retention),
held by the auditor's legal holds, served to the auditor over the node's wire
interface, and still answers the person's ⑪/⑫ applications after a restart.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_conformance.openapi import load_contract
from renkei_conformance.target import InProcessTransport
from renkei_reference.core.agency import AgencyLogEntry, Side
from renkei_reference.core.errors import CallerError
from renkei_reference.core.retention import (
    HoldScope,
    LegalHold,
    due_for_purge,
    retained_until,
)
from renkei_reference.services.agency_node import AgencyNode, CsvFolderAdapter, HubConnection
from renkei_reference.services.agency_node.app import create_agency_app
from renkei_reference.services.agency_node.log_store import AgencyLogStore
from renkei_reference.services.clock import ControllableClock

from .test_agency_node import (  # the in-process deployment of test_agency_node
    ALL,
    PERSONS,
    Deployment,
    StaffMember,
    _designation,
    _items,
    deployment,  # noqa: F401 (a fixture)
)

pytestmark = pytest.mark.requirement("RK-AGN-005")

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
AUDITOR = {"authorization": "Bearer aud-1"}


def _fields(n: int, **over: Any) -> dict[str, Any]:
    return {
        "hub_serial": n,
        "linkage_id": f"lk-{n}",
        "request_id": None,
        "side": Side.PROVIDER,
        "requester": "nenkin",
        "provider": "city.chiyoda",
        "pattern_id": "P-0001",
        "information_kind": "local-tax",
        "operator": "税務課 区税 花子 (c-1)",
        "terminal": "t-02",
        "outcome": "answered",
        "content": f"令和7年度 住民税 {n}",
        **over,
    }


def test_the_log_is_durable_and_append_only(tmp_path: Path) -> None:
    """A restarted node resumes its entries, retention and holds; the store
    refuses every rewrite and deletion of an entry."""
    path = tmp_path / "agency-log.sqlite3"
    clock = ControllableClock(T0)
    store = AgencyLogStore(clock, path)
    made = [store.append(**_fields(n)) for n in (1, 2, 3)]
    store.set_retention(10)
    hold = store.place_hold("auditor", "調査", HoldScope(serials=(2, 2)))
    store.close()

    again = AgencyLogStore(clock, path)
    assert again.entries() == made
    assert [e.serial for e in made] == [1, 2, 3]
    assert again.retention_years == 10
    assert again.append(**_fields(4)).serial == 4
    conn = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE entries SET record = '{}' WHERE serial = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM entries WHERE serial = 1")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE entries SET record = NULL WHERE serial = 1")  # no purge time
    conn.close()
    clock.set(retained_until(T0, 10) + timedelta(seconds=1))
    assert [e.serial for e in again.entries()] == [2], f"hold {hold.hold_id} keeps serial 2"


class _Frozen:
    """An injected clock that moves only when told to."""

    def __init__(self, now: datetime) -> None:
        self.at = now

    def now(self) -> datetime:
        return self.at

    def set(self, now: datetime) -> None:
        self.at = now


def test_seven_years_by_default_never_below_the_legal_minimum() -> None:
    """RK-RET-001 on the node's log, with its injected clock: kept until the
    7th anniversary, purged from it on; a tombstone stays; 6 years is refused."""
    clock = _Frozen(datetime(2024, 2, 29, 12, 0, tzinfo=UTC))
    store = AgencyLogStore(clock)
    first = store.append(**_fields(1))
    clock.set(clock.at + timedelta(days=1))
    store.append(**_fields(2))
    assert store.retention_years == 7
    until = retained_until(first.at, 7)  # 2031-02-28: a 29 February has no anniversary
    clock.set(until - timedelta(microseconds=1))
    assert [e["serial"] for e in store.page(0, 10)] == [1, 2]
    clock.set(until)
    assert [e["serial"] for e in store.page(0, 10)] == [2]
    assert [t["serial"] for t in store.purged()] == [1]
    with pytest.raises(CallerError) as refused:
        store.set_retention(6)
    assert refused.value.problem == "retention-below-legal-minimum"
    assert store.append(**_fields(3)).serial == 3, "serials are never reused"


def _node(clock: ControllableClock, store: AgencyLogStore, d: Deployment) -> AgencyNode:
    return AgencyNode(
        "city.chiyoda",
        HubConnection(d.hub, "http://testserver/hub", d.tokens["city.chiyoda"]),
        _designation(StaffMember("c-1", "区税 花子", "税務課", ALL)),
        CsvFolderAdapter(d.drop),
        clock,
        log_store=store,
    )


def test_the_auditor_holds_and_reads_the_node_log_over_the_wire(
    deployment: Deployment,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The auditor places a legal hold on the node (``POST
    /agency/legal-holds``), the held entry outlives its retention and is still
    served; lifting it purges it; responses follow the OpenAPI document; a
    person-scoped hold is refused 422 and the hub role may not place holds.
    After a restart of the node on the same store, a person's ⑪ application is
    still answered from the kept log (RK-PORT-004)."""
    d = deployment
    clock = ControllableClock(T0)
    path = tmp_path / "city-log.sqlite3"
    city = _node(clock, AgencyLogStore(clock, path), d)
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    lids = [
        d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
        for _ in range(2)
    ]
    city.answer_deliveries("c-1", "t-02")
    contract = load_contract()
    app = create_agency_app(city, {"aud-1": "auditor", "portal-1": "portal"})
    with httpx.Client(transport=InProcessTransport(app), base_url="http://node") as node:
        body = {"reason": "不正アクセスの疑い", "scope": {"linkage_ids": [lids[0]]}}
        placed = node.post("/agency/legal-holds", json=body, headers=AUDITOR)
        assert placed.status_code == 201, placed.text
        assert (
            contract.check("POST", "/agency/legal-holds", 201, "application/json", placed.json())
            == []
        )
        person = {"reason": "x", "scope": {"person_ref": "A" * 60}}
        refused = node.post("/agency/legal-holds", json=person, headers=AUDITOR)
        assert refused.status_code == 422
        assert refused.json()["requirement"] == "RK-AGN-005"
        portal = {"authorization": "Bearer portal-1"}
        assert node.post("/agency/legal-holds", json=body, headers=portal).status_code == 403

        clock.set(retained_until(T0, 7) + timedelta(days=1))
        kept = node.get("/agency/access-logs", headers=AUDITOR).json()
        assert contract.check("GET", "/agency/access-logs", 200, "application/json", kept) == []
        assert [e["linkage_id"] for e in kept["entries"]] == [lids[0]], "only the held entry"
        hold_id = placed.json()["hold_id"]
        assert node.delete(f"/agency/legal-holds/{hold_id}", headers=AUDITOR).status_code == 204
        assert node.delete(f"/agency/legal-holds/{hold_id}", headers=AUDITOR).status_code == 404
        assert node.get("/agency/access-logs", headers=AUDITOR).json()["entries"] == []

    clock.set(T0 + timedelta(days=1))
    fresh_path = tmp_path / "city-log-2.sqlite3"
    store = AgencyLogStore(clock, fresh_path)
    first = _node(clock, store, d)
    lid = d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
    first.answer_deliveries("c-1", "t-02")
    store.close()
    restarted = _node(clock, AgencyLogStore(clock, fresh_path), d)
    restarted.apply("aa-1", [lid], {"content"}, applicant="portal")
    granted = restarted.decide("c-1", "t-02", "aa-1", grant=True)
    assert granted["state"] == "granted"
    assert granted["entries"][0]["content"] == "該当情報なし (no information held)"


_times = st.integers(min_value=0, max_value=12 * 366).map(lambda d: T0 + timedelta(days=d))


@given(
    made=st.lists(_times, min_size=1, max_size=12),
    now=_times,
    years=st.integers(min_value=7, max_value=9),
    held=st.one_of(st.none(), st.tuples(st.integers(1, 12), st.integers(0, 4))),
    lifted=st.booleans(),
)
def test_due_for_purge_never_takes_a_retained_or_held_entry(
    made: list[datetime],
    now: datetime,
    years: int,
    held: tuple[int, int] | None,
    lifted: bool,
) -> None:
    """Property (RK-RET-001/002 on any log class): an entry is due exactly when
    its retention has ended at ``now`` and no hold in force covers it."""
    entries = [AgencyLogEntry(serial=i + 1, at=t, **_fields(i + 1)) for i, t in enumerate(made)]
    holds = []
    if held is not None:
        hold = LegalHold("h", HoldScope(serials=(held[0], held[0] + held[1])), "r", "aud", T0)
        holds.append(hold.lift(T0, "aud") if lifted else hold)
    plan = set(due_for_purge(entries, years, holds, now))
    for e in entries:
        covered = any(h.in_force(now) and h.covers(e) for h in holds)
        assert (e.serial in plan) == (now >= retained_until(e.at, years) and not covered)


@pytest.mark.requirement("RK-AGN-001", "RK-AGN-006", "RK-AUD-001")
def test_refusals_and_the_admin_log_are_kept_append_only_and_served_to_the_auditor(
    deployment: Deployment,  # noqa: F811
    tmp_path: Path,
) -> None:
    """The node's refusals (RK-AGN-001) and its administrative log (holds placed
    and lifted, the auditor's reads; RK-AGN-006) survive a restart, refuse every
    rewrite in the store itself, and are served to the auditor alone, in the
    OpenAPI document's shapes."""
    from renkei_reference.core.errors import PermissionDeniedError

    d = deployment
    clock = ControllableClock(T0)
    path = tmp_path / "city-log.sqlite3"
    city = _node(clock, AgencyLogStore(clock, path), d)
    with pytest.raises(PermissionDeniedError):
        city.bind("intruder", "t-02", [_items(PERSONS[1], "C-100")])
    contract = load_contract()
    app = create_agency_app(city, {"aud-1": "auditor", "portal-1": "portal"})
    with httpx.Client(transport=InProcessTransport(app), base_url="http://node") as node:
        denials = node.get("/agency/denials", headers=AUDITOR).json()
        assert contract.check("GET", "/agency/denials", 200, "application/json", denials) == []
        assert [(x["staff_id"], x["action"], x["reason"]) for x in denials["denials"]] == [
            ("intruder", "change-table", "staff-not-designated")
        ]
        body = {"reason": "不正アクセスの疑い", "scope": {"agency_id": "nenkin"}}
        hold_id = node.post("/agency/legal-holds", json=body, headers=AUDITOR).json()["hold_id"]
        assert node.delete(f"/agency/legal-holds/{hold_id}", headers=AUDITOR).status_code == 204
        portal = {"authorization": "Bearer portal-1"}
        for path_ in ("/agency/denials", "/agency/admin-logs"):
            assert node.get(path_, headers=portal).status_code == 403
            assert node.get(path_).status_code == 401
    city.log_store.close()
    restarted = _node(clock, AgencyLogStore(clock, path), d)
    assert [x.reason for x in restarted.denials] == ["staff-not-designated"]
    app = create_agency_app(restarted, {"aud-1": "auditor"})
    with httpx.Client(transport=InProcessTransport(app), base_url="http://node") as node:
        page = node.get("/agency/admin-logs", headers=AUDITOR).json()
    assert contract.check("GET", "/agency/admin-logs", 200, "application/json", page) == []
    assert [
        (e["serial"], e["event"], e["actor"], e["details"].get("log")) for e in page["entries"]
    ] == [
        (1, "auditor-read", "auditor", "denials"),
        (2, "legal-hold-placed", "auditor", None),
        (3, "legal-hold-lifted", "auditor", None),
    ]
    assert page["entries"][1]["details"]["scope"] == ["agency_id"]
    raw = sqlite3.connect(path)
    try:
        for sql in ("UPDATE denials SET record = '{}'", "DELETE FROM denials",
                    "UPDATE admin SET record = '{}'", "DELETE FROM admin"):  # fmt: skip
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                raw.execute(sql)
    finally:
        raw.close()
