"""The auditor's merge and anomaly rules (RK-AUD-002, RK-AUD-003)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.audit import AnomalyRules, anomalies, discrepancies
from renkei_reference.services.agency_node import HubRefusal

from .test_agency_node import PERSONS, Deployment, _items, deployment  # noqa: F401

T0 = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)  # 10:00 in Japan


def _complete_linkage(d: Deployment) -> tuple[list[dict[str, Any]], dict[str, list[Any]]]:
    d.pension.bind("p-1", "t-01", [_items(PERSONS[1], "N-200")])
    d.city.bind("c-1", "t-02", [_items(PERSONS[1], "C-100")])
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    lid = d.pension.query("p-1", "t-01", record_no="N-200", information_kind="local-tax", **ask)
    d.city.answer_deliveries("c-1", "t-02")
    d.pension.read_answer("p-1", "t-01", lid)
    with pytest.raises(HubRefusal):  # a refusal, logged on both sides
        d.pension.query("p-1", "t-01", record_no="N-200", information_kind="income", **ask)
    agencies = {"nenkin": d.pension.auditor_entries(), "city.chiyoda": d.city.auditor_entries()}
    return d.audit(), agencies


@pytest.mark.requirement("RK-AUD-002")
def test_a_complete_history_merges_without_findings(deployment: Deployment) -> None:  # noqa: F811
    hub, agencies = _complete_linkage(deployment)
    assert {e["outcome"] for e in hub} == {"approved", "provided", "refused"}
    assert discrepancies(hub, agencies) == []


@pytest.mark.requirement("RK-AUD-002")
def test_each_kind_of_discrepancy_is_reported_with_its_entries(
    deployment: Deployment,  # noqa: F811
) -> None:
    hub, agencies = _complete_linkage(deployment)
    approved = next(e for e in hub if e["outcome"] == "approved")
    provided = next(e for e in hub if e["outcome"] == "provided")
    # the requester's entry of the approved query is gone
    asked = [e for e in agencies["nenkin"] if e["hub_serial"] != approved["serial"]]
    found = discrepancies(hub, {**agencies, "nenkin": asked})
    assert [(f.rule, f.hub_serials) for f in found] == [
        ("requester-entry-missing", (approved["serial"],))
    ]
    # the provider kept no entry
    found = discrepancies(hub, {**agencies, "city.chiyoda": []})
    assert [(f.rule, f.hub_serials) for f in found] == [
        ("provider-entry-missing", (provided["serial"],))
    ]
    # an agency records another information kind than the hub
    altered = [{**e, "information_kind": "income"} if e["outcome"] == "answered" else e
               for e in agencies["city.chiyoda"]]  # fmt: skip
    found = discrepancies(hub, {**agencies, "city.chiyoda": altered})
    assert [f.rule for f in found] == ["field-mismatch"]
    assert "⑥" in found[0].detail
    assert found[0].agency_entries == (("city.chiyoda", 1),)
    # an agency entry naming a serial the hub never wrote
    ghost = [*agencies["nenkin"], {**agencies["nenkin"][0], "serial": 99, "hub_serial": 999}]
    assert [f.rule for f in discrepancies(hub, {**agencies, "nenkin": ghost})] == ["unknown-serial"]
    # a hole in the hub's sequence — unless it was purged
    holed = [e for e in hub if e["serial"] != 1]
    assert [f.rule for f in discrepancies(holed, agencies)][:1] == ["serial-missing"]
    assert "serial-missing" not in {f.rule for f in discrepancies(holed, agencies, purged=[1])}
    # a party whose log was not handed over is named, not silently skipped
    assert [f.rule for f in discrepancies(hub, {"nenkin": agencies["nenkin"]})] == [
        "agency-log-unavailable"
    ]


def _hub_entry(serial: int, at: datetime, requester: str = "a", **kw: Any) -> dict[str, Any]:
    return {"serial": serial, "at": at.isoformat(), "requester_id": requester,
            "provider_id": kw.pop("provider", "p"), "information_kind": "k",
            "outcome": kw.pop("outcome", "approved"), "person_ref": kw.pop("person", None),
            **kw}  # fmt: skip


@pytest.mark.requirement("RK-AUD-003")
@given(st.integers(min_value=1, max_value=12), st.integers(min_value=1, max_value=12))
def test_volume_per_requester_is_flagged_exactly_above_the_threshold(n: int, limit: int) -> None:
    hub = [_hub_entry(i + 1, T0 + timedelta(minutes=i)) for i in range(n)]
    rules = AnomalyRules(max_queries_per_requester=limit)
    flagged = [f for f in anomalies(hub, {}, rules) if f.rule == "requester-volume"]
    assert bool(flagged) == (n > limit)
    if flagged:
        assert flagged[0].hub_serials == tuple(range(1, n + 1))


@pytest.mark.requirement("RK-AUD-003")
def test_each_anomaly_rule_names_its_entries() -> None:
    night = T0 + timedelta(hours=14)  # 01:00 in Japan
    hub = [
        _hub_entry(1, T0),
        _hub_entry(2, night),
        *[_hub_entry(3 + i, T0, requester=f"r{i}", person="P") for i in range(3)],
        *[_hub_entry(10 + i, T0, requester="bad", outcome="refused") for i in range(3)],
        *[_hub_entry(20 + i, T0, outcome="expired", provider="slow") for i in range(3)],
    ]
    agency = {"nenkin": [
        {"serial": i + 1, "hub_serial": 1, "side": "requester", "at": T0.isoformat(),
         "operator": "op-1", "terminal": "t-1", "outcome": "approved"} for i in range(4)
    ]}  # fmt: skip
    rules = AnomalyRules(
        max_requesters_per_person=2, min_queries_for_rate=3, max_refusal_rate=0.5,
        max_expired_per_provider=2, max_queries_per_operator=3, max_queries_per_terminal=3,
    )  # fmt: skip
    found = {f.rule: f for f in anomalies(hub, agency, rules)}
    assert found["outside-operating-hours"].hub_serials == (2,)
    assert found["person-queried-by-many"].hub_serials == (3, 4, 5)
    assert found["refusal-rate"].hub_serials == (10, 11, 12)
    assert found["provider-expiries"].hub_serials == (20, 21, 22)
    assert found["operator-volume"].agency_entries == tuple(("nenkin", i) for i in range(1, 5))
    assert "terminal-volume" in found
    quiet = anomalies(hub, agency, AnomalyRules(operating_hours=(0, 24)))
    assert {f.rule for f in quiet} == set()


def _requester_share(hub: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requester's entries a faithful node keeps for ``hub``'s approved queries."""
    return [
        {"serial": i + 1, "hub_serial": e["serial"], "side": "requester", "at": e["at"],
         "requester": e["requester_id"], "provider": e["provider_id"],
         "information_kind": e["information_kind"], "outcome": e["outcome"],
         "operator": "op", "terminal": "t"}
        for i, e in enumerate(hub)
    ]  # fmt: skip


@pytest.mark.requirement("RK-AUD-002")
@given(st.integers(min_value=1, max_value=30), st.sets(st.integers(min_value=1, max_value=30)))
def test_every_dropped_requester_entry_is_reported_and_nothing_else(
    n: int, dropped: set[int]
) -> None:
    """A faithful share merges cleanly; removing any entries yields exactly one
    ``requester-entry-missing`` per removed serial, naming it and the agency."""
    hub = [_hub_entry(i + 1, T0 + timedelta(minutes=i)) for i in range(n)]
    share = [e for e in _requester_share(hub) if e["hub_serial"] not in dropped]
    found = discrepancies(hub, {"a": share, "p": []})
    assert sorted(s for f in found for s in f.hub_serials) == sorted(dropped & set(range(1, n + 1)))
    assert {(f.rule, f.agency_id) for f in found} <= {("requester-entry-missing", "a")}


@pytest.mark.requirement("RK-AUD-002")
def test_an_unreadable_agency_log_is_a_finding_even_without_linkages() -> None:
    hub = [_hub_entry(1, T0)]
    found = discrepancies(hub, {"a": _requester_share(hub)}, unavailable=["z"])
    assert [(f.rule, f.agency_id) for f in found] == [("agency-log-unavailable", "z")]


@pytest.mark.requirement("RK-AUD-003")
def test_repeated_queries_on_one_person_and_use_outside_designation() -> None:
    hub = [
        *[_hub_entry(1 + i, T0, person="P") for i in range(3)],
        _hub_entry(4, T0, person="Q"),
        _hub_entry(5, T0, requester="x", outcome="refused", reason="requester-not-designated"),
        _hub_entry(6, T0, requester="x", outcome="refused", reason="malformed-link-code"),
    ]
    agency = {"a": [{"serial": 7, "hub_serial": None, "side": "requester", "at": T0.isoformat(),
                     "operator": "op", "terminal": "t-9", "outcome": "refused",
                     "reason": "terminal-not-designated"}]}  # fmt: skip
    found = anomalies(hub, agency, AnomalyRules(max_queries_per_person=2))
    repeated = [f for f in found if f.rule == "person-queried-repeatedly"]
    assert [(f.hub_serials, f.agency_id) for f in repeated] == [((1, 2, 3), "a")]
    outside = [f for f in found if f.rule == "outside-designation"]
    assert [(f.agency_id, f.hub_serials, f.agency_entries) for f in outside] == [
        ("x", (5,), ()),
        ("a", (), (("a", 7),)),
    ]
    assert not [f for f in anomalies(hub, agency, AnomalyRules(max_queries_per_person=3))
                if f.rule == "person-queried-repeatedly"]  # fmt: skip


@pytest.mark.requirement("RK-AUD-004")
@given(st.lists(st.tuples(st.integers(min_value=0, max_value=47 * 60),
                          st.booleans()), min_size=1, max_size=40))  # fmt: skip
def test_hourly_series_counts_every_query_of_the_window_once(
    minutes: list[tuple[int, bool]],
) -> None:
    from renkei_reference.core.audit import hourly, volume

    hub = [_hub_entry(i + 1, T0 + timedelta(minutes=m), outcome="refused" if r else "approved")
           for i, (m, r) in enumerate(minutes)]  # fmt: skip
    series = hourly(hub, hours=48)
    assert len(series) == 48
    assert [t for t, _, _ in series] == sorted(t for t, _, _ in series)
    assert sum(q for _, q, _ in series) == len(hub)
    assert sum(r for _, _, r in series) == sum(r for _, r in minutes)
    assert all(r <= q for _, q, r in series)
    assert volume(hub, {}, "requester") == [("a", len(hub))]


# -- the service: agency shares pulled from real nodes over the wire (RK-AUD-001/002) ------
@pytest.fixture
def hub_federation(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Capture the Federation behind the deployment's hub (requested before it)."""
    from renkei_reference.services.federation import Federation

    from . import test_agency_node

    made: dict[str, Any] = {}
    real = test_agency_node.create_app

    def capturing(**kw: Any) -> Any:
        def factory(clock: Any) -> Federation:
            made["fed"] = Federation(clock)
            return made["fed"]

        return real(federation_factory=factory, **kw)

    monkeypatch.setattr(test_agency_node, "create_app", capturing)
    return made


@pytest.mark.requirement("RK-AUD-001", "RK-AUD-002")
def test_the_auditor_pulls_each_node_and_reports_one_it_cannot_read(
    hub_federation: dict[str, Any],
    deployment: Deployment,  # noqa: F811
) -> None:
    import httpx

    from renkei_conformance.target import InProcessTransport
    from renkei_reference.services.agency_node.app import create_agency_app
    from renkei_reference.services.auditor.auditor import NodeEndpoint

    d = deployment
    _complete_linkage(d)
    fed = hub_federation["fed"]
    clients = []
    for node, credential in ((d.pension, "aud-1"), (d.city, "aud-1")):
        app = create_agency_app(node, {"aud-1": "auditor"})
        client = httpx.Client(transport=InProcessTransport(app), base_url="http://node")
        clients.append(client)
        fed.auditor.register_node(node.agency_id, NodeEndpoint("http://node", credential, client))
    auditor = {"authorization": f"Bearer {d.tokens['obs.auditor']}"}
    try:
        clean = d.hub.get("/auditor/discrepancies", headers=auditor)
        assert clean.status_code == 200
        assert clean.json()["discrepancies"] == []  # both nodes read, the history complete
        # the city's node refuses the auditor's credential: reported, not a 5xx
        fed.auditor.register_node("city.chiyoda", NodeEndpoint("http://node", "nope", clients[1]))
        found = d.hub.get("/auditor/discrepancies", headers=auditor).json()["discrepancies"]
        assert [(f["kind"], f["agency_id"]) for f in found] == [
            ("agency-log-unavailable", "city.chiyoda")
        ]
    finally:
        for client in clients:
            client.close()


@pytest.mark.requirement("RK-AUD-003", "RK-AGN-001", "RK-AUD-001")
def test_the_nodes_refusals_are_pulled_and_reported_as_use_outside_designation(
    hub_federation: dict[str, Any],
    deployment: Deployment,  # noqa: F811
) -> None:
    """A query tried at an undesignated terminal and a table read by an unknown
    account are refused at the pension's node; the auditor pulls the node's
    ``/agency/denials`` and ``GET /auditor/anomalies`` names both under
    ``outside-designation``, by the node's serials for refusals."""
    import httpx

    from renkei_conformance.openapi import load_contract
    from renkei_conformance.target import InProcessTransport
    from renkei_reference.core.errors import PermissionDeniedError
    from renkei_reference.services.agency_node.app import create_agency_app
    from renkei_reference.services.auditor.auditor import NodeEndpoint

    d = deployment
    _complete_linkage(d)
    ask = {"provider": "city.chiyoda", "pattern_id": "P-0001", "use": "年金額の決定"}
    with pytest.raises(PermissionDeniedError):
        d.pension.query("p-1", "t-99", record_no="N-200", information_kind="local-tax", **ask)
    with pytest.raises(PermissionDeniedError):
        d.pension.link_code("x-7", "t-01", "N-200")
    fed = hub_federation["fed"]
    clients = []
    for node in (d.pension, d.city):
        app = create_agency_app(node, {"aud-1": "auditor"})
        client = httpx.Client(transport=InProcessTransport(app), base_url="http://node")
        clients.append(client)
        fed.auditor.register_node(node.agency_id, NodeEndpoint("http://node", "aud-1", client))
    auditor = {"authorization": f"Bearer {d.tokens['obs.auditor']}"}
    try:
        page = d.hub.get("/auditor/anomalies", headers=auditor).json()
    finally:
        for client in clients:
            client.close()
    assert load_contract().check("GET", "/auditor/anomalies", 200, "application/json", page) == []
    outside = [a for a in page["anomalies"] if a["kind"] == "outside-designation"]
    # the hub's refusal of the kind the pattern does not cover is one; the node's two another
    assert [(a["agency_id"], a.get("agency_denials")) for a in outside] == [
        ("nenkin", None),
        ("nenkin", [{"agency_id": "nenkin", "serial": 1}, {"agency_id": "nenkin", "serial": 2}]),
    ]
    outside = outside[1:]
    assert "p-1 @ t-99" in outside[0]["detail"]
    assert "x-7 @ t-01" in outside[0]["detail"]


@pytest.mark.requirement("RK-AUD-002", "RK-FLOW-004")
@given(
    st.lists(st.sampled_from(["open", "provided", "expired"]), min_size=1, max_size=8),
    st.integers(min_value=0, max_value=300),
)
def test_an_approval_without_outcome_after_its_deadline_is_flagged(
    fates: list[str], elapsed: int
) -> None:
    """``outcome-missing``: exactly the approved linkages with neither a provided
    nor an expired entry once their outcome was due — no clock tolerance: both
    times are the hub's."""
    hub: list[dict[str, Any]] = []
    due: dict[int, datetime] = {}
    for i, fate in enumerate(fates):
        serial = len(hub) + 1
        hub.append(_hub_entry(serial, T0, linkage_id=f"L{i}"))
        due[serial] = T0 + timedelta(seconds=120)
        if fate != "open":
            hub.append(_hub_entry(len(hub) + 1, T0, outcome=fate, linkage_id=f"L{i}"))
    now = T0 + timedelta(seconds=120 + elapsed)
    share = _requester_share(hub)
    found = discrepancies(hub, {"a": share, "p": []}, outcome_due=due, now=now,
                          clock_tolerance=timedelta(seconds=60))  # fmt: skip
    missing = [f for f in found if f.rule == "outcome-missing"]
    late = elapsed > 0
    expected = [s for s, e in enumerate(hub, 1) if e["outcome"] == "approved"
                and fates[int(e["linkage_id"][1:])] == "open"] if late else []  # fmt: skip
    assert [f.hub_serials[0] for f in missing] == expected
    assert discrepancies(hub, {"a": share, "p": []}) == [
        f for f in found if f.rule != "outcome-missing"
    ], "without a time of analysis nothing is flagged"
