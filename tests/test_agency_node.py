"""The agency node (中間サーバー): designation, correspondence table, its share of
the log, and the two business-system adapters — driven against the reference
hub through the wire (in process)."""

from __future__ import annotations

import base64
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_conformance.openapi import load_contract
from renkei_conformance.target import InProcessTransport
from renkei_reference.core.agency import (
    Action,
    CorrespondenceTable,
    Designation,
    StaffMember,
    authorize,
)
from renkei_reference.core.errors import NotFoundError, PermissionDeniedError
from renkei_reference.services.agency_node import (
    NO_INFORMATION,
    AgencyNode,
    CsvFolderAdapter,
    DeliveryLoop,
    Fault,
    HubConnection,
    HubRefusal,
    SqlAdapter,
)
from renkei_reference.services.app import create_app
from renkei_reference.services.clock import ControllableClock

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
ALL = frozenset(Action)

PERSONS = [
    {
        "resident_code": rc,
        "name": name,
        "name_kana": kana,
        "address": "東京都千代田区霞が関1丁目1番1号",
        "birth_date": birth,
        "sex": sex,
    }
    for rc, name, kana, birth, sex in [
        ("10000000006", "山田 太郎", "ヤマダ タロウ", "1960-01-02", "male"),
        ("10000000014", "佐藤 花子", "サトウ ハナコ", "1975-05-06", "female"),
        ("10000000022", "鈴木 一郎", "スズキ イチロウ", "1988-11-30", "male"),
    ]
]


OFFICER = StaffMember("c-1", "区税 花子", "税務課", ALL)


def _city_node(d: Deployment, staff: StaffMember = OFFICER, **kw: Any) -> AgencyNode:
    """Another node of city.chiyoda over CSV (a restart, or another policy, with
    ``log_store=d.city.log_store``)."""
    return AgencyNode(
        "city.chiyoda",
        HubConnection(d.hub, "http://testserver/hub", d.tokens["city.chiyoda"]),
        _designation(staff),
        CsvFolderAdapter(d.drop),
        ControllableClock(T0),
        **kw,
    )


def _items(p: dict[str, str], record_no: str) -> dict[str, str]:
    return {"record_no": record_no, **{k: v for k, v in p.items() if k != "resident_code"}}


def _designation(*members: StaffMember) -> Designation:
    return Designation({m.staff_id: m for m in members}, frozenset({"t-01", "t-02"}))


@dataclass
class Deployment:
    hub: httpx.Client
    tokens: dict[str, str]
    pension: AgencyNode
    city: AgencyNode
    business_db: Path
    drop: Path
    portal_nodes: Any = None  # where the hub's My Portal reaches agency nodes

    def hub_state(self) -> str:
        return json.dumps(self.hub.get("/control/state").json(), ensure_ascii=False)

    def audit(self) -> list[dict[str, object]]:
        headers = {"authorization": f"Bearer {self.tokens['obs.auditor']}"}
        entries: list[dict[str, object]] = self.hub.get(
            "/auditor/access-logs", headers=headers
        ).json()["entries"]
        return entries


@pytest.fixture
def deployment(tmp_path: Path) -> Iterator[Deployment]:
    app = create_app(test_mode=True)
    with httpx.Client(transport=InProcessTransport(app), base_url="http://testserver") as hub:
        # both sides keep their own time (②); here they agree, as NTP would make them
        hub.put("/control/clock", json={"now": T0.isoformat()}).raise_for_status()
        hub.post("/control/residents", json={"residents": PERSONS}).raise_for_status()
        agencies = [
            {"agency_id": "nenkin", "name": "日本年金機構", "role": "agency"},
            {"agency_id": "city.chiyoda", "name": "千代田区", "role": "agency"},
            {"agency_id": "obs.auditor", "name": "個人情報保護委員会", "role": "auditor"},
        ]
        tokens = hub.post("/control/agencies", json={"agencies": agencies}).json()["credentials"]
        pattern = {
            "pattern_id": "P-0001",
            "legal_basis": "番号法 別表第二 項番1",
            "purpose": "年金給付の支給に関する事務",
            "requesters": ["nenkin"],
            "providers": ["city.chiyoda"],
            "information_kinds": ["local-tax", "resident-record"],
        }
        hub.put("/control/patterns", json={"patterns": [pattern]}).raise_for_status()
        db = tmp_path / "tax.sqlite3"
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE tax (person TEXT, kind TEXT, amount TEXT, label TEXT)")
            conn.execute(
                "INSERT INTO tax VALUES ('C-100', 'local-tax', '123400', '令和7年度 住民税')"
            )
        conn.close()
        drop = tmp_path / "drop"
        drop.mkdir()
        clock = ControllableClock(T0)
        clerk = StaffMember("p-1", "年金 一郎", "年金給付課", ALL)
        pension = AgencyNode(
            "nenkin",
            HubConnection(hub, "http://testserver/hub", tokens["nenkin"]),
            _designation(clerk, StaffMember("p-2", "閲覧 専用", "総務課", frozenset())),
            CsvFolderAdapter(drop),
            clock,
        )
        city = AgencyNode(
            "city.chiyoda",
            HubConnection(hub, "http://testserver/hub", tokens["city.chiyoda"]),
            _designation(OFFICER),
            SqlAdapter(
                lambda: sqlite3.connect(db),
                "SELECT amount, label FROM tax WHERE person = {record_no} AND kind = {kind}",
                sqlite3.paramstyle,
            ),
            clock,
        )
        yield Deployment(hub, tokens, pension, city, db, drop, app.state.agency_nodes)


@pytest.mark.requirement("RK-AGN-001")
@pytest.mark.parametrize(
    ("staff", "terminal", "reason"),
    [
        ("nobody", "t-01", "staff-not-designated"),
        ("p-1", "home-pc", "terminal-not-designated"),
        ("p-2", "t-01", "action-not-designated"),
    ],
)
def test_only_designated_staff_at_designated_terminals_do_linkage_work(
    deployment: Deployment, staff: str, terminal: str, reason: str
) -> None:
    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[0], "N-1")])
    before = len(d.audit())
    with pytest.raises(PermissionDeniedError) as refused:
        d.pension.query(
            staff, terminal, record_no="N-1", provider="city.chiyoda",
            pattern_id="P-0001", information_kind="local-tax", use="年金額の決定",
        )  # fmt: skip
    assert refused.value.problem == reason
    assert refused.value.requirement == "RK-AGN-001"
    assert len(d.audit()) == before, "a refused attempt must not reach the hub"
    assert [(x.staff_id, x.terminal, x.action, x.reason) for x in d.pension.denials] == [
        (staff, terminal, "query", reason)
    ]
    with pytest.raises(PermissionDeniedError):
        d.pension.link_code(staff, terminal, "N-1")


@pytest.mark.requirement("RK-BND-007", "RK-LOG-003", "RK-AGN-002")
def test_a_linkage_end_to_end_keeps_7_to_12_at_the_agencies_only(deployment: Deployment) -> None:
    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    d.city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    linkage_id = d.pension.query(
        "p-1", "t-01", record_no="N-200", provider="city.chiyoda",
        pattern_id="P-0001", information_kind="local-tax", use="年金額の決定（試験）",
    )  # fmt: skip
    assert d.city.answer_deliveries("c-1", "t-02") == [{"linkage_id": linkage_id, "answered": True}]
    assert d.pension.read_answer("p-1", "t-01", linkage_id) == b"123400"
    hub_entries = {e["serial"]: e for e in d.audit()}
    asked, received = [e for e in d.pension.log if e.linkage_id == linkage_id]
    (answered,) = d.city.log
    # ① ties each side's entry to the hub's; ②④⑤⑥ agree for the cross-check
    assert hub_entries[asked.hub_serial]["outcome"] == "approved"
    assert hub_entries[received.hub_serial]["outcome"] == "provided"
    assert answered.hub_serial == asked.hub_serial
    for e in (asked, received, answered):
        assert (e.requester, e.provider, e.information_kind) == (
            "nenkin", "city.chiyoda", "local-tax",
        )  # fmt: skip
    # ⑦ ⑨ ⑫ on the requester's side, ⑧ ⑩ ⑪ on the provider's (RK-AGN-002)
    assert "年金 一郎" in asked.operator
    assert asked.terminal == "t-01"
    assert asked.use == "年金額の決定（試験）"
    assert "区税 花子" in answered.operator
    assert answered.terminal == "t-02"
    assert answered.content == "令和7年度 住民税"
    # the hub never receives ⑦–⑫, nor the internal record numbers (RK-LOG-003, RK-BND-007)
    state = d.hub_state()
    for private in (
        "年金 一郎",
        "区税 花子",
        "t-01",
        "t-02",
        "年金額の決定",
        "令和7年度",
        "N-200",
        "C-100",
    ):
        assert private not in state, private


@pytest.mark.requirement("RK-BND-008")
def test_a_link_code_already_bound_to_another_record_is_not_entered(
    deployment: Deployment,
) -> None:
    d = deployment
    # the same person twice under two record numbers (a copied family entry, 2023)
    d.pension.bind("p-1", "t-01", [_items(PERSONS[2], "N-1"), _items(PERSONS[2], "N-2")])
    assert d.pension.table.link_code_of("N-1") is not None
    assert d.pension.table.link_code_of("N-2") is None
    review = sorted((r["record_no"], r["other_record_no"]) for r in d.pension.records_for_review())
    assert review == [("N-1", "N-2"), ("N-2", "N-1")]


@pytest.mark.requirement("RK-BND-003")
def test_a_malformed_or_incomplete_record_goes_to_review_and_the_rest_binds(
    deployment: Deployment,
) -> None:
    """One record never fails the batch: a date the node cannot convert (平成 had
    ended on that day) and an item left blank go to the node's review list; the
    good record binds."""
    d = deployment
    odd = {**_items(PERSONS[1], "N-7"), "birth_date": "H31.05.01"}
    blank = {**_items(PERSONS[2], "N-8"), "address": ""}
    d.pension.bind("p-1", "t-01", [odd, blank, _items(PERSONS[0], "N-9")])
    assert d.pension.table.link_code_of("N-9") is not None
    review = {r["record_no"]: r["reason"] for r in d.pension.records_for_review()}
    assert review == {"N-7": "malformed-binding-record", "N-8": "address-missing"}


def test_the_csv_adapter_is_read_at_answer_time_and_no_information_is_said(
    deployment: Deployment,
) -> None:
    d = deployment
    provider = _city_node(d, StaffMember("c-9", "窓口 次郎", "市民課", ALL))
    d.pension.bind("p-1", "t-01", [_items(PERSONS[0], "N-1"), _items(PERSONS[1], "N-2")])
    provider.bind("c-9", "t-01", [_items(PERSONS[0], "R-1"), _items(PERSONS[1], "R-2")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "確認"}
    first = d.pension.query(
        "p-1", "t-01", record_no="N-1", information_kind="resident-record", **ask
    )
    (d.drop / "resident-record.csv").write_text(
        "\ufeffrecord_no,content,description\nR-1,old,住民票\nR-1,住所: 霞が関,住民票記載事項\n",
        encoding="utf-8",
    )
    second = d.pension.query(
        "p-1", "t-01", record_no="N-2", information_kind="resident-record", **ask
    )
    answered = {a["linkage_id"]: a["answered"] for a in provider.answer_deliveries("c-9", "t-01")}
    assert answered == {first: True, second: False}
    assert d.pension.read_answer("p-1", "t-01", first) == "住所: 霞が関".encode()
    assert d.pension.read_answer("p-1", "t-01", second) == NO_INFORMATION
    assert [e.content for e in provider.log] == [
        "住民票記載事項",
        "該当情報なし (no information held)",
    ]


def test_hub_refusals_are_recorded_with_the_hubs_serial(deployment: Deployment) -> None:
    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[0], "N-1")])
    with pytest.raises(HubRefusal) as refused:
        d.pension.query("p-1", "t-01", record_no="N-1", provider="city.chiyoda",
                        pattern_id="P-0001", information_kind="income", use="確認")  # fmt: skip
    assert refused.value.problem == "information-kind-not-covered"
    (entry,) = d.pension.log
    assert entry.outcome == "refused"
    assert entry.hub_serial == refused.value.extensions["serial"]
    with pytest.raises(NotFoundError):
        d.pension.query("p-1", "t-01", record_no="unbound", provider="city.chiyoda",
                        pattern_id="P-0001", information_kind="local-tax", use="確認")  # fmt: skip


# -- the pure rules ---------------------------------------------------------------------
@pytest.mark.requirement("RK-BND-008")
@given(st.lists(st.tuples(st.sampled_from("ABCDE"), st.sampled_from("uvwxyz")), max_size=30))
def test_the_table_never_binds_one_link_code_to_two_records(pairs: list[tuple[str, str]]) -> None:
    table = CorrespondenceTable()
    for record, link in pairs:
        table = table.bind(record, link, T0)
    assert len(set(table.by_link.values())) == len(table.by_link) == len(table.by_record)
    for record, binding in table.by_record.items():
        assert table.by_link[binding.link_code] == record
    for record, link in pairs:
        holder = table.record_of(link)
        if holder not in (None, record):
            assert record in {r.record_no for r in table.review}


@pytest.mark.requirement("RK-AGN-001")
@given(
    st.sampled_from(["a", "b", "zz"]),
    st.sampled_from(["t-01", "t-02", "x"]),
    st.sampled_from(list(Action)),
)
def test_authorize_allows_exactly_designated_member_terminal_action(
    staff: str, terminal: str, action: Action
) -> None:
    designation = _designation(
        StaffMember("a", "A", "D", frozenset({Action.QUERY})),
        StaffMember("b", "B", "D", ALL, active=False),
    )
    allowed = staff == "a" and terminal in ("t-01", "t-02") and action is Action.QUERY
    assert (authorize(designation, staff, terminal, action) is None) == allowed


# -- the node's wire interface ------------------------------------------------------------
def _node_client(node: AgencyNode) -> httpx.Client:
    from renkei_reference.services.agency_node.app import create_agency_app

    app = create_agency_app(node, {"aud-1": "auditor", "portal-1": "portal"})
    return httpx.Client(transport=InProcessTransport(app), base_url="http://node")


@pytest.mark.requirement("RK-AUD-001")
def test_the_auditor_reads_the_agency_log_over_the_wire(deployment: Deployment) -> None:
    from renkei_conformance.openapi import load_contract

    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    d.city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    for _ in range(3):
        d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
    d.city.answer_deliveries("c-1", "t-02")
    contract = load_contract()
    with _node_client(d.city) as node:
        assert node.get("/agency/access-logs").status_code == 401
        forbidden = node.get("/agency/access-logs", headers={"authorization": "Bearer portal-1"})
        assert forbidden.status_code == 403
        assert forbidden.headers["content-type"].startswith("application/problem+json")
        auditor = {"authorization": "Bearer aud-1"}
        first = node.get("/agency/access-logs", params={"limit": 2}, headers=auditor)
        assert first.status_code == 200
        body = first.json()
        errors = contract.check("GET", "/agency/access-logs", 200, "application/json", body)
        assert errors == []
        assert [e["serial"] for e in body["entries"]] == [1, 2]
        rest = node.get(
            "/agency/access-logs", params={"after": body["next_after"]}, headers=auditor
        ).json()
        assert [e["serial"] for e in rest["entries"]] == [3]
        assert all("link_code" not in e for e in body["entries"] + rest["entries"])
        assert (
            node.get("/agency/access-logs", params={"limit": 0}, headers=auditor).status_code == 422
        )


@pytest.mark.requirement("RK-PORT-004", "RK-AGN-001")
def test_content_and_use_are_released_only_once_designated_staff_grant_the_application(
    deployment: Deployment,
) -> None:
    """My Portal brings the person's separate application to the node (``POST
    /agency/applications``): it waits, ``submitted``, with nothing released; only
    designated staff at a designated terminal decide (an undesignated account is
    refused and the refusal logged), once; then ⑪ (provider) or ⑫ (requester) is
    released, and the decision is attributed to the staff member and terminal."""
    from renkei_reference.core.errors import ConflictError, PermissionDeniedError

    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    d.city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    lid = d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
    d.city.answer_deliveries("c-1", "t-02")
    portal = {"authorization": "Bearer portal-1"}
    contract = load_contract()
    with _node_client(d.city) as city, _node_client(d.pension) as pension:
        body = {"application_id": "aa-1", "linkage_ids": [lid], "items": ["content", "use"]}
        applied = city.post("/agency/applications", json=body, headers=portal)
        assert applied.status_code == 202, applied.text
        assert applied.json()["state"] == "submitted"
        assert contract.check("POST", "/agency/applications", 202, "application/json",
                              applied.json()) == []  # fmt: skip
        waiting = city.get("/agency/applications/aa-1", headers=portal).json()
        assert (waiting["state"], waiting.get("entries")) == ("submitted", None)
        with pytest.raises(PermissionDeniedError):
            d.city.decide("c-9", "t-02", "aa-1", grant=True)
        assert [(x.staff_id, x.action) for x in d.city.denials] == [("c-9", "decide-disclosure")]
        d.city.decide("c-1", "t-02", "aa-1", grant=True)
        with pytest.raises(ConflictError):
            d.city.decide("c-1", "t-02", "aa-1", grant=False)
        granted = city.get("/agency/applications/aa-1", headers=portal).json()
        assert contract.check("GET", "/agency/applications/{application_id}", 200,
                              "application/json", granted) == []  # fmt: skip
        assert granted["state"] == "granted"
        assert granted["decided_by"].endswith("(c-1)")
        assert granted["decided_at_terminal"] == "t-02"
        assert granted["entries"] == [
            {
                "linkage_id": lid,
                "side": "provider",
                "withheld": False,
                "content": "令和7年度 住民税",
            }
        ]
        again = city.post("/agency/applications", json=body, headers=portal).json()
        assert again["state"] == "granted"  # idempotent: the same application
        pension.post("/agency/applications", json={**body, "application_id": "aa-2"},
                     headers=portal)  # fmt: skip
        d.pension.decide("p-1", "t-01", "aa-2", grant=True)
        used = pension.get("/agency/applications/aa-2", headers=portal).json()
        assert used["entries"][0]["use"] == "年金額の決定"
        pension.post("/agency/applications", json={**body, "application_id": "aa-5"},
                     headers=portal)  # fmt: skip
        d.pension.decide("p-1", "t-01", "aa-5", grant=False)
        refused_here = pension.get("/agency/applications/aa-5", headers=portal).json()
        assert (refused_here["state"], refused_here.get("entries")) == ("refused", None)
        unknown = {**body, "application_id": "aa-3", "linkage_ids": ["no-such-linkage"]}
        missing = city.post("/agency/applications", json=unknown, headers=portal)
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:renkei:problem:unknown-linkage"
        auditor_only = city.post(
            "/agency/applications",
            json={**body, "application_id": "aa-4"},
            headers={"authorization": "Bearer aud-1"},
        )
        assert auditor_only.status_code == 403
        assert city.get("/agency/applications/aa-404", headers=portal).status_code == 404
    exempt = _city_node(  # the same node's log, another disclosure policy
        d, withheld_kinds=frozenset({"local-tax"}), log_store=d.city.log_store
    )
    exempt.apply("aa-9", [lid], {"content"}, applicant="portal")
    refused = exempt.decide("c-1", "t-02", "aa-9", grant=True)
    assert refused["state"] == "refused"
    assert refused["entries"] == [{"linkage_id": lid, "side": "provider", "withheld": True}]


@pytest.mark.requirement("RK-PORT-004", "RK-AGN-005")
def test_applications_survive_a_restart_of_the_node(deployment: Deployment) -> None:
    """A decision by staff may come days later: an application waiting at the node,
    and what a granted one released, outlive a restart of the node (its store)."""
    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    d.city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    lid = d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
    d.city.answer_deliveries("c-1", "t-02")
    d.city.apply("aa-1", [lid], {"content"}, applicant="portal")
    d.city.apply("aa-2", [lid], {"content"}, applicant="portal")
    granted = d.city.decide("c-1", "t-02", "aa-1", grant=True)

    def restarted() -> AgencyNode:
        return _city_node(d, log_store=d.city.log_store)

    node = restarted()
    assert [a["application_id"] for a in node.applications("submitted")] == ["aa-2"]
    assert node.application("aa-1")["entries"] == granted["entries"]
    assert node.application("aa-1")["decided_at_terminal"] == "t-02"
    assert node.decide("c-1", "t-02", "aa-2", grant=False)["state"] == "refused"
    assert restarted().application("aa-2")["state"] == "refused"


# -- faults and the delivery loop (issue 5; RK-AGN-003, RK-FLOW-004) ---------------------


def _asked(d: Deployment, record: str, person: dict[str, str]) -> str:
    d.pension.bind("p-1", "t-01", [_items(person, record)])
    d.city.bind("c-1", "t-02", [_items(person, "C-100")])
    return d.pension.query(
        "p-1", "t-01", record_no=record, provider="city.chiyoda",
        pattern_id="P-0001", information_kind="local-tax", use="年金額の決定",
    )  # fmt: skip


@pytest.mark.requirement("RK-AGN-003")
def test_a_garbage_answer_is_refused_kept_and_answered_once_the_fault_clears(
    deployment: Deployment,
) -> None:
    d = deployment
    linkage_id = _asked(d, "N-300", PERSONS[0])
    d.city.fault = Fault.GARBAGE
    refused = [{"linkage_id": linkage_id, "answered": False, "refused": "validation-error"}]
    assert d.city.answer_deliveries("c-1", "t-02") == refused
    assert d.city.answer_deliveries("c-1", "t-02") == refused  # tried again, logged once
    assert [(e.outcome, e.reason) for e in d.city.log] == [("answer-refused", "validation-error")]
    assert d.city.held() == [linkage_id]
    assert d.pension.read_answer("p-1", "t-01", linkage_id) is None  # nothing relayed yet
    d.city.fault = Fault.NONE
    assert d.city.answer_deliveries("c-1", "t-02") == [{"linkage_id": linkage_id, "answered": True}]
    assert d.pension.read_answer("p-1", "t-01", linkage_id) == b"123400"
    assert [e.outcome for e in d.city.log] == ["answer-refused", "answered"]
    assert d.city.held() == []


@pytest.mark.requirement("RK-FLOW-004")
def test_a_slow_nodes_answer_after_the_deadline_is_refused_logged_expired_and_not_relayed(
    deployment: Deployment,
) -> None:
    d = deployment
    linkage_id = _asked(d, "N-301", PERSONS[1])
    d.city.fault = Fault.SLOW
    assert d.city.answer_deliveries("c-1", "t-02") == []  # pulled and held
    assert d.city.held() == [linkage_id]
    d.hub.post("/control/clock/advance", json={"seconds": 3600}).raise_for_status()
    d.city.fault = Fault.NONE
    late = [{"linkage_id": linkage_id, "answered": False, "refused": "answer-after-deadline"}]
    assert d.city.answer_deliveries("c-1", "t-02") == late
    assert [(e.outcome, e.reason) for e in d.city.log] == [("expired", "answer-after-deadline")]
    assert d.city.held() == []
    assert [e["outcome"] for e in d.audit() if e["linkage_id"] == linkage_id] == [
        "approved",
        "expired",
    ]


def test_a_node_that_is_down_neither_pulls_nor_answers(deployment: Deployment) -> None:
    d = deployment
    linkage_id = _asked(d, "N-302", PERSONS[2])
    d.city.fault = Fault.DOWN
    assert d.city.answer_deliveries("c-1", "t-02") == []
    assert d.city.held() == []
    status = d.hub.get(
        f"/hub/linkages/{linkage_id}",
        headers={"authorization": f"Bearer {d.tokens['nenkin']}"},
    ).json()
    assert status["state"] == "pending"


def test_the_delivery_loop_answers_and_backs_off_while_the_hub_refuses_it(
    deployment: Deployment,
) -> None:
    d = deployment
    linkage_id = _asked(d, "N-303", PERSONS[0])
    reports: list[str] = []
    loop = DeliveryLoop(d.city, "c-1", "t-02", interval=0.5, max_backoff=5, report=reports.append)
    assert loop.run_once() == 0.5
    assert d.pension.read_answer("p-1", "t-01", linkage_id) == b"123400"
    d.hub.post("/control/reset").raise_for_status()  # the node's credential is gone
    assert loop.run_once() == 5
    assert loop.run_once() == 5
    assert reports == ["city.chiyoda: the hub refuses the node: unauthenticated"]


@pytest.mark.requirement("RK-PORT-004", "RK-PORT-002")
def test_my_portal_shows_content_only_after_the_agencys_staff_grant_the_application(
    deployment: Deployment,
) -> None:
    """Seed item 26: ⑪ appears in My Portal after a *separate application to the
    agency is granted*.  The person applies in My Portal; the portal brings it to
    the city's node, where it waits; nothing shows until the city's designated
    staff grant it at their terminal; then the portal shows ⑪, fetched from the
    node at the read and kept nowhere in the portal."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from renkei_reference.services.portal.cards import challenge_message
    from renkei_reference.services.portal.portal import NodeLink

    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    d.city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    lid = d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
    d.city.answer_deliveries("c-1", "t-02")
    serial = min(int(str(e["serial"])) for e in d.audit() if e.get("linkage_id") == lid)
    with _node_client(d.city) as city:
        d.portal_nodes.register("city.chiyoda", NodeLink("http://node", city, "portal-1"))
        card = d.hub.post(
            "/control/cards", json={"resident_code": PERSONS[1]["resident_code"]}
        ).json()
        key = serialization.load_pem_private_key(card["private_key"].encode(), None)
        assert isinstance(key, Ed25519PrivateKey)
        ch = d.hub.post("/portal/challenges").json()
        signature = key.sign(challenge_message(base64.b64decode(ch["nonce"])))
        signed = d.hub.post(
            "/portal/sessions",
            json={"challenge_id": ch["challenge_id"], "certificate": card["certificate"],
                  "signature": base64.b64encode(signature).decode()},
        )  # fmt: skip
        person = {"authorization": f"Bearer {signed.json()['session_token']}"}

        def content_shown() -> list[Any]:
            app = d.hub.post("/portal/applications", json={}, headers=person).json()
            page = d.hub.get(
                "/portal/access-logs",
                params={"application_id": app["application_id"]},
                headers=person,
            ).json()
            entry = next(e for e in page["entries"] if e["serial"] == serial)
            return list(entry.get("agency_items") or [])

        applied = d.hub.post(
            "/portal/agency-applications",
            json={"agency_id": "city.chiyoda", "serials": [serial], "items": ["content"]},
            headers=person,
        )
        assert applied.status_code == 202, applied.text
        assert applied.json()["state"] == "submitted"
        assert content_shown() == []  # waiting at the agency: nothing yet
        waiting = d.city.applications("submitted")
        assert [a["linkage_ids"] for a in waiting] == [[lid]]
        assert waiting[0]["channel"] == "portal"
        d.city.decide("c-1", "t-02", waiting[0]["application_id"], grant=True)
        assert content_shown() == [
            {"agency": "千代田区", "side": "provider", "withheld": False,
             "content": "令和7年度 住民税"}
        ]  # fmt: skip
        stores = json.dumps(d.hub.get("/control/state").json(), ensure_ascii=False)
        assert "令和7年度 住民税" not in stores  # fetched at the read, kept nowhere


@pytest.mark.requirement("RK-AGN-007", "RK-BND-003")
def test_the_node_converts_legacy_forms_and_a_record_it_cannot_is_its_own_problem(
    deployment: Deployment,
) -> None:
    """Records as a legacy system holds them (和暦 with an era initial or 元年,
    YYYYMMDD, full-width digits, sex codes 1/2, 男/女) are converted and bound to
    the persons they name; a record whose date names a day outside its era, or
    whose sex code states no sex, is not sent: its own problem
    ``malformed-binding-record`` in its place names the item and the reason, not
    the value, and it waits on the node's review list."""
    d = deployment
    wide = str.maketrans("0123456789-", "０１２３４５６７８９－")
    legacy = [
        {**_items(PERSONS[0], "L-1"), "birth_date": "S35.1.2", "sex": "1"},
        {**_items(PERSONS[1], "L-2"), "birth_date": PERSONS[1]["birth_date"].replace("-", "")},
        {**_items(PERSONS[2], "L-3"), "birth_date": PERSONS[2]["birth_date"].translate(wide)},
        {**_items(PERSONS[0], "L-4"), "birth_date": "S64.01.08"},
        {**_items(PERSONS[1], "L-5"), "sex": "0"},
    ]
    sexes = {"male": "男", "female": "女"}
    legacy[2]["sex"] = sexes[PERSONS[2]["sex"]]
    results = d.pension.bind("p-1", "t-01", legacy)
    assert [r["record_ref"] for r in results] == ["L-1", "L-2", "L-3", "L-4", "L-5"]
    for r in results[:3]:
        assert r["decision"] == "bound", r
    for r, item, why in ((results[3], "birth_date", "date-outside-era"),
                         (results[4], "sex", "sex-code-unknown")):  # fmt: skip
        assert "decision" not in r, r
        assert not r.get("link_code"), r
        assert r["problem"]["type"] == "urn:renkei:problem:malformed-binding-record"
        assert r["problem"]["detail"].startswith(f"{item}: {why}"), r
        assert "S64.01.08" not in r["problem"]["detail"]
    plain = d.pension.bind("p-1", "t-01", [_items(p, f"W-{i}") for i, p in enumerate(PERSONS[:3])])
    for i in range(3):
        assert d.pension.table.link_code_of(f"L-{i + 1}") == plain[i]["link_code"]
    review = {r["record_no"]: r["reason"] for r in d.pension.records_for_review()}
    assert review.get("L-4") == review.get("L-5") == "malformed-binding-record"


def test_a_hub_refusal_keeps_the_hubs_status(deployment: Deployment) -> None:
    """The node answers its own caller with the hub's status: a linkage the hub does not
    know is 404 at the node too, a pattern refusal 403 (RK-WIRE-001)."""
    d = deployment
    d.pension.bind("p-1", "t-01", [_items(PERSONS[0], "N-1")])
    with pytest.raises(HubRefusal) as refused:
        d.pension.read_answer("p-1", "t-01", "0" * 32)
    assert (refused.value.problem, refused.value.status_hint) == ("unknown-linkage", 404)
    with pytest.raises(HubRefusal) as denied:
        d.pension.query("p-1", "t-01", record_no="N-1", provider="city.chiyoda",
                        pattern_id="P-0001", information_kind="income", use="確認")  # fmt: skip
    assert denied.value.status_hint == denied.value.http_status == 403
