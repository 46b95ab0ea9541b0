"""Agency nodes (中間サーバー; seed items 19, 22–24, 27–29), black-box.

Applies to targets whose target file names agency nodes (``agency_nodes``) and
which are reached over mutual TLS: a node's callers are identified by their
client certificates (RK-ARCH-003).  The kit enrols the first node in its world
through the node's test-mode control interface (``/control/agency-node/…``):
it reads the synthetic residents the node's business system knows, registers
the node's agency at the hub, loads those residents and has a designated staff
member bind the node's records.  Then it plays the requester (``kit.pension``),
the provider (``kit.city-a``) and the auditor (``kit.auditor``) around it.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from renkei_conformance.client import Wire, WireError
from renkei_conformance.world import PATTERNS, Person, World

REFUSED = {"staff-not-designated", "terminal-not-designated", "action-not-designated"}
USE = "年金給付の審査（試験）"


@dataclass
class Enrolled:
    world: World
    node: str  # the node's agency id
    fixtures: dict[str, Any]
    staff: dict[str, str]  # a designated staff_id and terminal

    def node_call(self, method: str, path: str, **kw: Any) -> Any:
        return self.world.wire.call_node(self.node, method, path, **kw)

    def node_log(self, who: str = "kit.auditor") -> list[dict[str, Any]]:
        """The node's log as ``who`` reads it over mutual TLS (RK-AUD-001)."""
        return self.node_page("/agency/access-logs", "entries", who)

    def node_page(
        self, path: str, key: str, who: str = "kit.auditor", **params: Any
    ) -> list[dict[str, Any]]:
        """One page of ``path`` (``key``: its list) as ``who`` reads it over mutual TLS."""
        other = self.as_(who)
        try:
            page = other.call_node(self.node, "GET", path, params=params or None).expect(200)
        finally:
            other.close()
        if page["agency_id"] != self.node:
            raise WireError(f"the node of {self.node} serves the log of {page['agency_id']}")
        rows: list[dict[str, Any]] = page[key]
        return rows

    def as_(self, who: str) -> Wire:
        """A connection presenting ``who``'s client certificate (close it after use)."""
        tls = self.world.wire.target.tls
        assert tls is not None
        return self.world.wire.presenting(tls.agencies[who])

    def refused_to_an_agency(self, path: str) -> None:
        """``GET path`` on the node is the auditor's only: another agency's
        certificate gets 403 (or 401)."""
        agency = self.as_("kit.pension")
        try:
            agency.call_node(self.node, "GET", path).expect_problem(
                {"forbidden-role", "unauthenticated"}, {401, 403}
            )
        finally:
            agency.close()


def _enrol(wire: Wire) -> Enrolled:
    nodes = wire.target.agency_nodes
    if not nodes:
        pytest.skip("not applicable: the target declares no agency node")
    if wire.target.node_only:
        pytest.skip(
            "not applicable: an agency node alone is certified with the kit playing the "
            "hub (CT-AGN-012…011); this test needs the target's own hub"
        )
    tls = wire.target.tls
    if tls is None or not all(u.startswith("https://") for u in nodes.values()):
        pytest.skip("not applicable: the agency nodes are not reached over mutual TLS")
    missing = {"kit.pension", "kit.auditor"} - set(tls.agencies)
    if missing:
        raise WireError(f"the target file's tls.client_certificates lacks {sorted(missing)}")
    node = sorted(nodes)[0]
    fixtures = wire.call_node(node, "GET", "/control/agency-node/fixtures").expect(200).body
    kinds = list(fixtures["information_kinds"])
    pattern = {
        "pattern_id": "KIT-N-001",
        "legal_basis": "番号法 別表第二 項番（試験）N1",
        "purpose": "中間サーバーの適合性確認（試験）",
        "requesters": ["kit.pension", node],
        "providers": [node, "kit.city-a"],
        "information_kinds": sorted({*kinds, "local-tax"}),
        "answer_within_seconds": 600,
    }
    world = World.create(
        wire,
        patterns=[*PATTERNS, pattern],
        extra_agencies={node: ("適合性確認の対象ノード", "agency")},
    )
    wire.control("POST", "/residents", {"residents": fixtures["residents"]}).expect(200)
    staff = dict(fixtures["designated"])
    bound = wire.call_node(node, "POST", "/control/agency-node/bind", json_body=staff).expect(200)
    if bound["bound"] < 1:
        raise WireError(f"the node bound none of its records at the hub: {bound.body}")
    return Enrolled(world, node, fixtures, staff)


def _departures_from_the_hub(e: Enrolled, entries: list[dict[str, Any]]) -> list[str]:
    """The node's entries whose own record of ④ the requester, ⑤ the provider or
    ⑥ the information kind differs from the hub's entry of the same linkage
    (RK-LOG-003: the agency keeps them for the auditor's cross-check, RK-AUD-002;
    the auditor reads the hub's agencies by name and by id)."""
    hub: dict[str, dict[str, Any]] = {}
    for x in e.world.audit_log():
        if x.get("linkage_id"):
            hub.setdefault(str(x["linkage_id"]), x)
    wrong = []
    for entry in entries:
        logged = hub.get(str(entry.get("linkage_id")))
        if logged is None:
            continue
        for item, field, hub_field in (
            ("④", "requester", "requester_id"),
            ("⑤", "provider", "provider_id"),
            ("⑥", "information_kind", "information_kind"),
        ):
            if entry.get(field) != logged.get(hub_field):
                wrong.append(
                    f"{item} {field} of the node's entry {entry.get('serial')} "
                    f"({entry.get('side')} side of {entry.get('linkage_id')}): "
                    f"{entry.get(field)!r}, the hub's {logged.get(hub_field)!r}"
                )
    return wrong


def _node_query(e: Enrolled, staff: dict[str, str], request: str = "q") -> Any:
    record = e.fixtures["records"][0]
    return e.node_call(
        "POST",
        "/control/agency-node/queries",
        json_body={
            **staff,
            "record_no": record["record_no"],
            "provider": "kit.city-a",
            "pattern_id": "KIT-N-001",
            "information_kind": "local-tax",
            "use": f"{USE} {request}",
        },
    )


def _asked_and_answered(e: Enrolled, request_id: str) -> tuple[str, Any, dict[str, Any]]:
    """kit.pension binds the node's first fixture person and asks the node about
    them through the hub; returns the linkage id, the answered linkage and the
    person, once the node answered (RK-AGN-003) — or fails at the deadline."""
    record = e.fixtures["records"][0]
    person = next(
        r for r in e.fixtures["residents"] if r["resident_code"] == record["resident_code"]
    )
    items = {k: v for k, v in person.items() if k != "resident_code"}
    reply = e.world.call(
        "kit.pension",
        "POST",
        "hub",
        "/bindings",
        {"records": [{"record_ref": f"{request_id}-r", **items}]},
    ).expect(200)
    link = reply["results"][0].get("link_code")
    assert link, f"the fixture person did not bind: {reply.text[:300]}"
    kind = record["information_kinds"][0]
    body = {
        "request_id": request_id,
        "requester": "kit.pension",
        "provider": e.node,
        "pattern_id": "KIT-N-001",
        "information_kind": kind,
        "link_code": link,
    }
    accepted = e.world.call("kit.pension", "POST", "hub", "/queries", body).expect(202)
    linkage_id, deadline = accepted["linkage_id"], datetime.fromisoformat(accepted["deadline"])
    limit = time.monotonic() + min(60.0, (deadline - datetime.now(UTC)).total_seconds())
    while True:
        got = e.world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
        if got.body.get("answer") is not None:
            return linkage_id, got, person
        if got["state"] == "expired" or time.monotonic() > limit:
            raise WireError(
                f"the node did not answer linkage {linkage_id} (state {got['state']}) "
                f"before its deadline {deadline.isoformat()} (RK-AGN-003)"
            )
        time.sleep(0.2)


@pytest.mark.conformance(
    "CT-AGN-001", requirements=["RK-AGN-001", "RK-AGN-002", "RK-LOG-003"], profiles=["agency-node"]
)
def test_only_designated_staff_at_designated_terminals_query_and_each_query_is_attributed(
    wire: Wire,
) -> None:
    """Linkage work at an agency node needs a designated staff member at a
    designated terminal: an unknown account, or a designated one at another
    terminal, is refused with 403 problem+json naming RK-AGN-001 and nothing
    reaches the hub; a designated member's query reaches it and the node's log
    attributes it to that member (⑦) and terminal (⑨) with the use (⑫), the
    hub's serial ① and its own record of ④ ⑤ ⑥ as the hub logged them."""
    e = _enrol(wire)
    before = len(e.world.audit_log())
    for staff in (
        {"staff_id": "kit-nobody", "terminal": e.staff["terminal"]},
        {"staff_id": e.staff["staff_id"], "terminal": "kit-unlisted-terminal"},
    ):
        refused = _node_query(e, staff, "refused").expect_problem(REFUSED, 403)
        if refused.body.get("requirement") != "RK-AGN-001":
            raise WireError(f"the refusal names no RK-AGN-001: {refused.text[:300]}")
    assert len(e.world.audit_log()) == before, "a refused staff action reached the hub"

    linkage_id = _node_query(e, e.staff, "ok").expect(202)["linkage_id"]
    hub_entries = [x for x in e.world.audit_log() if x.get("linkage_id") == linkage_id]
    assert hub_entries, f"the node's query {linkage_id} is not in the hub's access log"
    mine = [x for x in e.node_log() if x.get("linkage_id") == linkage_id]
    assert mine, f"the node's log has no entry for its query {linkage_id} (RK-AGN-002)"
    entry = mine[0]
    assert entry["side"] == "requester", entry
    assert entry["terminal"] == e.staff["terminal"], entry
    assert entry["operator"].strip(), f"⑦ the operator is not recorded: {entry}"
    assert entry.get("use") == f"{USE} ok", f"⑫ the use is not recorded: {entry}"
    assert entry["hub_serial"] == hub_entries[0]["serial"], (entry, hub_entries[0])
    wrong = _departures_from_the_hub(e, [entry])
    assert not wrong, "the node's own record of ④ ⑤ ⑥ (RK-LOG-003):\n  " + "\n  ".join(wrong)


@pytest.mark.conformance(
    "CT-AGN-002", requirements=["RK-AUD-001", "RK-LOG-003"], profiles=["agency-node"]
)
def test_the_agency_log_is_served_to_the_auditor_only(wire: Wire) -> None:
    """The node serves its share of the log (⑦–⑫ with ①) to the auditor's
    certificate, the entry of a query just made included, with the node's own
    record of ④ the requester, ⑤ the provider and ⑥ the information kind as the
    hub logged them (RK-LOG-003: kept for the auditor's cross-check, RK-AUD-002);
    an agency's certificate gets 403 (or 401) problem+json."""
    e = _enrol(wire)
    linkage_id = _node_query(e, e.staff, "log").expect(202)["linkage_id"]
    entries = e.node_log("kit.auditor")
    mine = [x for x in entries if x.get("linkage_id") == linkage_id]
    assert mine, f"the node's log does not show its query {linkage_id} to the auditor"
    for entry in entries:
        for field in ("serial", "hub_serial", "side", "operator", "terminal", "at"):
            assert field in entry, f"the node's log entry lacks {field}: {entry}"
    wrong = _departures_from_the_hub(e, mine)
    assert not wrong, "the node's own record of ④ ⑤ ⑥ (RK-LOG-003):\n  " + "\n  ".join(wrong)
    e.refused_to_an_agency("/agency/access-logs")


@pytest.mark.conformance("CT-ARCH-004", requirements=["RK-ARCH-002"], profiles=["agency-node"])
@pytest.mark.parametrize("case", ["not-json", "text-plain"])
def test_the_node_authenticates_its_caller_before_it_judges_the_body(wire: Wire, case: str) -> None:
    """A body that is not JSON (or not JSON by its content type) sent to the auditor's
    operation ``POST /agency/legal-holds`` is judged only once the caller is
    authenticated: an agency's certificate gets 403 (or 401) problem+json, never 422
    or 415 first; the auditor's certificate gets the body refused (415 for another
    media type, 422 for JSON that does not parse)."""
    e = _enrol(wire)
    media = "application/json" if case == "not-json" else "text/plain"
    headers = {"content-type": media}
    agency, auditor = e.as_("kit.pension"), e.as_("kit.auditor")
    try:
        agency.call_node(
            e.node, "POST", "/agency/legal-holds", content=b"{not json", headers=headers
        ).expect_problem({"forbidden-role", "unauthenticated"}, {401, 403})
        judged = (
            ("validation-error", 422) if case == "not-json" else ("unsupported-media-type", 415)
        )
        auditor.call_node(
            e.node, "POST", "/agency/legal-holds", content=b"{not json", headers=headers
        ).expect_problem(*judged)
    finally:
        agency.close()
        auditor.close()


@pytest.mark.conformance(
    "CT-AGN-003", requirements=["RK-AGN-003", "RK-FLOW-004"], profiles=["agency-node"]
)
def test_the_node_answers_its_deliveries_within_the_deadline(wire: Wire) -> None:
    """Asked (through the hub) about a person its business system knows, the
    node pulls the delivery and answers before the linkage's deadline, without
    anyone acting on it; the requester receives the answer once, and the node's
    log records the answer (⑧ ⑩ ⑪) under the hub's serial."""
    e = _enrol(wire)
    linkage_id, got, _ = _asked_and_answered(e, "kit-agn-003")
    assert base64.b64decode(got["answer"]["payload"]), "the node answered an empty payload"
    mine = [
        x
        for x in e.node_log()
        if x.get("linkage_id") == linkage_id and x.get("outcome") == "answered"
    ]
    assert mine, f"the node's log has no answer entry for {linkage_id} (RK-AGN-002)"
    assert mine[0]["side"] == "provider", mine
    assert mine[0]["operator"], f"⑧ the operator is not recorded: {mine[0]}"
    assert mine[0]["terminal"], f"⑩ the terminal is not recorded: {mine[0]}"
    assert mine[0].get("content"), f"⑪ the content provided is not recorded: {mine[0]}"


@pytest.mark.conformance(
    "CT-AGN-004",
    requirements=["RK-AGN-001", "RK-AUD-001", "RK-AUD-003"],
    profiles=["agency-node"],
)
def test_the_nodes_refusals_are_logged_and_served_to_the_auditor_only(wire: Wire) -> None:
    """Every attempt the designation refuses is logged (RK-AGN-001) and served to the
    auditor's certificate (``GET /agency/denials``): the account and terminal as
    given, the action and the reason; an agency's certificate gets 403 (or 401)."""
    e = _enrol(wire)
    before = e.node_page("/agency/denials", "denials")
    after = max([d["serial"] for d in before], default=0)
    tries = [
        ({"staff_id": "kit-intruder", "terminal": e.staff["terminal"]}, "staff-not-designated"),
        ({"staff_id": e.staff["staff_id"], "terminal": "kit-stray-terminal"},
         "terminal-not-designated"),
    ]  # fmt: skip
    for staff, reason in tries:
        _node_query(e, staff, "denied").expect_problem({reason}, 403)
    got = e.node_page("/agency/denials", "denials", after=after)
    seen = [(d["staff_id"], d["terminal"], d["action"], d["reason"]) for d in got]
    wanted = [(s["staff_id"], s["terminal"], "query", r) for s, r in tries]
    assert seen == wanted, f"the node's refusals are not as attempted: {got}"
    assert all(d["serial"] > after for d in got), got
    e.refused_to_an_agency("/agency/denials")


@pytest.mark.conformance(
    "CT-AGN-005", requirements=["RK-AGN-006", "RK-AUD-001"], profiles=["agency-node"]
)
def test_holds_and_the_auditors_reads_are_in_the_nodes_administrative_log(wire: Wire) -> None:
    """The node logs a legal hold placed and lifted on its log, and each read of its
    logs by the auditor, attributed to the auditor's organisation (RK-AGN-006), in
    the hub's administrative-log entry form; only the auditor reads it."""
    e = _enrol(wire)
    first = e.node_page("/agency/admin-logs", "entries")
    after = max([x["serial"] for x in first], default=0)
    e.node_log()  # a read of the access log
    auditor = e.as_("kit.auditor")
    try:
        placed = auditor.call_node(
            e.node,
            "POST",
            "/agency/legal-holds",
            json_body={"reason": "適合性確認（試験）", "scope": {"agency_id": "kit.pension"}},
        ).expect(201)
        auditor.call_node(e.node, "DELETE", f"/agency/legal-holds/{placed['hold_id']}").expect(204)
    finally:
        auditor.close()
    got = e.node_page("/agency/admin-logs", "entries", after=after)
    events = [(x["event"], x["actor"], x["details"].get("log") or x["details"].get("hold_id"))
              for x in got]  # fmt: skip
    wanted = [
        ("auditor-read", "kit.auditor", "admin"),
        ("auditor-read", "kit.auditor", "access"),
        ("legal-hold-placed", "kit.auditor", placed["hold_id"]),
        ("legal-hold-lifted", "kit.auditor", placed["hold_id"]),
    ]
    assert events == wanted, f"the node's administrative log is not as done: {got}"
    serials = [x["serial"] for x in got]
    assert serials == sorted(set(serials)), f"serials not increasing: {serials}"
    for x in got:
        leaf = json.loads(base64.b64decode(x["leaf"]))
        assert leaf == {k: x[k] for k in ("serial", "at", "event", "actor", "details")}, x
    e.refused_to_an_agency("/agency/admin-logs")


@pytest.mark.conformance(
    "CT-AGN-006",
    requirements=["RK-PORT-004", "RK-AGN-001"],
    profiles=["agency-node", "my-portal"],
)
def test_my_portal_shows_content_only_after_the_nodes_staff_grant_the_application(
    wire: Wire,
) -> None:
    """Seed item 26: ⑪ appears in My Portal only after a separate application to
    the agency is granted.  The person applies in My Portal for ⑪ of an entry the
    node answered; the application reaches the node and waits there (``submitted``,
    nothing shown); an undesignated account cannot decide it (403); once the
    node's designated staff grant it at their terminal, My Portal shows ⑪."""
    from renkei_conformance.suite.test_portal import issue_card, sign_in

    e = _enrol(wire)
    linkage_id, _, person = _asked_and_answered(e, "kit-agn-006")
    serial = min(int(x["serial"]) for x in e.world.audit_log()
                 if x.get("linkage_id") == linkage_id)  # fmt: skip
    fields = Person.__dataclass_fields__
    card = issue_card(e.world, Person(**{k: str(person.get(k, "")) for k in fields}))
    token = str(sign_in(e.world, card).expect(201)["session_token"])

    def shown() -> list[dict[str, Any]]:
        app = wire.call("POST", "portal", "/applications", json_body={}, token=token).expect(201)
        page = wire.call("GET", "portal", "/access-logs", token=token,
                         params={"application_id": app["application_id"]}).expect(200)  # fmt: skip
        entry = next((x for x in page["entries"] if int(x["serial"]) == serial), None)
        assert entry is not None, f"the person's own entry {serial} is not shown"
        return list(entry.get("agency_items") or [])

    applied = wire.call(
        "POST",
        "portal",
        "/agency-applications",
        token=token,
        json_body={"agency_id": e.node, "serials": [serial], "items": ["content"]},
    ).expect(202)
    assert applied["state"] == "submitted", (
        f"the application was decided without the agency's staff: {applied.body}"
    )
    assert shown() == [], "⑪ shown before the agency granted the application"
    waiting = e.node_call("GET", "/control/agency-node/applications").expect(200)
    mine = [a for a in waiting["applications"] if linkage_id in a["linkage_ids"]]
    assert len(mine) == 1, f"the node does not hold the person's application: {waiting.body}"
    decision = f"/control/agency-node/applications/{mine[0]['application_id']}/decision"
    e.node_call(
        "POST",
        decision,
        json_body={"staff_id": "kit-nobody", "terminal": e.staff["terminal"], "decision": "grant"},
    ).expect_problem(REFUSED, 403)
    assert shown() == [], "⑪ shown after an undesignated account tried to grant"
    granted = e.node_call("POST", decision, json_body={**e.staff, "decision": "grant"}).expect(200)
    assert granted["state"] in ("granted", "partially-granted"), granted.body
    items = shown()
    assert any(i.get("content") and not i.get("withheld") for i in items), (
        f"⑪ not shown after the grant: {items}"
    )


def _texts_of(person: dict[str, Any], record_no: str) -> dict[str, str]:
    """What the node must never use toward the hub for a person: its internal
    record number, the resident code and the 4 items (RK-BND-007)."""
    out = {"internal record number": record_no, "resident code": person["resident_code"]}
    for item in ("name", "address"):
        out[item] = str(person[item])
        out[f"{item} without spaces"] = "".join(str(person[item]).split())
    return out


@pytest.mark.conformance("CT-AGN-012", requirements=["RK-BND-007"], profiles=["agency-node"])
def test_the_node_names_a_person_to_the_hub_only_by_the_link_code_of_its_table(
    wire: Wire,
) -> None:
    """The node's query about one of its records reaches the provider as that
    very person (the hub resolved the node's link code to the provider's own link
    code for the person, which the kit bound as ``kit.city-a``); a record the
    node has not bound is not asked about at all (nothing reaches the hub).  In the
    node's query and in its answer — as the auditor reads the hub's entries, as
    the provider receives the delivery, as the requester receives the answer —
    neither the record number, the resident code nor the name or address appear."""
    e = _enrol(wire)
    record = e.fixtures["records"][0]
    person = next(
        r for r in e.fixtures["residents"] if r["resident_code"] == record["resident_code"]
    )
    items = {k: v for k, v in person.items() if k != "resident_code"}
    bound = e.world.call(
        "kit.city-a", "POST", "hub", "/bindings",
        {"records": [{"record_ref": "kit-agn-007", **items}]},
    ).expect(200)["results"][0]  # fmt: skip
    assert bound.get("link_code"), f"the fixture person did not bind at kit.city-a: {bound}"
    before = len(e.world.audit_log())
    unbound = e.node_call(
        "POST",
        "/control/agency-node/queries",
        json_body={**e.staff, "record_no": "KIT-NO-SUCH-RECORD", "provider": "kit.city-a",
                   "pattern_id": "KIT-N-001", "information_kind": "local-tax", "use": USE},
    )  # fmt: skip
    assert 400 <= unbound.status < 500, f"a never-bound record: HTTP {unbound.status}"
    assert unbound.is_problem, f"a never-bound record: not a problem: {unbound.text[:300]}"
    assert len(e.world.audit_log()) == before, "a record without a link code reached the hub"

    linkage_id = _node_query(e, e.staff, "bnd-007").expect(202)["linkage_id"]
    delivered = [d for d in e.world.deliveries("kit.city-a") if d["linkage_id"] == linkage_id]
    assert delivered, f"the node's query {linkage_id} was not delivered to kit.city-a"
    assert delivered[0]["link_code"] == bound["link_code"], (
        "the node's query reached the provider about another person than its record's"
    )
    hub_view = [x for x in e.world.audit_log() if x.get("linkage_id") == linkage_id]
    assert hub_view, f"the node's query {linkage_id} is not in the hub's access log"
    asked_id, answered, _ = _asked_and_answered(e, "kit-agn-007")
    answer_entries = [x for x in e.world.audit_log() if x.get("linkage_id") == asked_id]
    payload = base64.b64decode(answered["answer"]["payload"]).decode("utf-8", "replace")
    seen = {
        "the hub's entries of the node's query": json.dumps(hub_view, ensure_ascii=False),
        "the delivery to the provider": json.dumps(delivered[0], ensure_ascii=False),
        "the hub's entries of the node's answer": json.dumps(answer_entries, ensure_ascii=False),
        "the node's answer as relayed": answered.text + "\n" + payload,
    }
    for where, text in seen.items():
        for what, value in _texts_of(person, record["record_no"]).items():
            assert value not in text, f"the {what} of the node's person is in {where}"


@pytest.mark.conformance(
    "CT-AGN-013",
    requirements=["RK-AGN-005", "RK-AUD-001", "RK-LOG-003"],
    profiles=["agency-node"],
)
def test_the_nodes_log_only_grows_and_the_auditor_reads_it_whole_by_pages(wire: Wire) -> None:
    """The node keeps its share of the log append-only and serves it to the
    auditor: read before and after more linkage work (a query by its staff, an
    answer it gave), every earlier entry is still there, unchanged, under its
    serial; the new entries come after it, with the query's and the answer's
    among them, each with its own record of ④ ⑤ ⑥ as the hub logged them;
    serials only increase; and the pages from ``after`` give the same entries as
    the whole."""
    e = _enrol(wire)
    _node_query(e, e.staff, "agn-008a").expect(202)
    first = {int(x["serial"]): x for x in e.node_log()}
    assert first, "the node's log is empty after its staff's query"
    queried = _node_query(e, e.staff, "agn-008b").expect(202)["linkage_id"]
    answered, _, _ = _asked_and_answered(e, "kit-agn-008")
    later = e.node_log()
    serials = [int(x["serial"]) for x in later]
    assert serials == sorted(set(serials)), f"the node's serials do not only increase: {serials}"
    now = {int(x["serial"]): x for x in later}
    changed = [s for s, x in first.items() if now.get(s) != x]
    assert not changed, f"entries changed or gone from the node's log: {changed[:5]}"
    new = [x for s, x in now.items() if s not in first]
    assert all(int(x["serial"]) > max(first) for x in new), "a new entry took an old serial"
    sides = {(x.get("linkage_id"), x.get("side")) for x in new}
    assert (queried, "requester") in sides, f"the query {queried} is not logged: {new}"
    assert (answered, "provider") in sides, f"the answer to {answered} is not logged: {new}"
    wrong = _departures_from_the_hub(e, new)
    assert not wrong, "the node's own record of ④ ⑤ ⑥ (RK-LOG-003):\n  " + "\n  ".join(wrong)
    pages: list[dict[str, Any]] = []
    after = 0
    while True:
        page = e.node_page("/agency/access-logs", "entries", after=after, limit=2)
        if not page:
            break
        pages += page
        after = int(page[-1]["serial"])
        assert len(pages) <= len(later), "the node's pages do not end"
    assert pages == later, "the node's log read by pages differs from the log read whole"


@pytest.mark.conformance("CT-AGN-014", requirements=["RK-BND-008"], profiles=["agency-node"])
def test_a_second_record_of_one_person_is_not_bound_and_both_go_to_review(wire: Wire) -> None:
    """One person, one record: the node's fixtures hold a person twice, under two
    record numbers with the same 4 items, so the hub returns one link code for
    both.  After its staff bind the records, the node's table has not entered the
    second binding — at most one of the two records can be asked about, a query
    about the other is refused and reaches no hub — and both records are on the
    node's review list."""
    e = _enrol(wire)
    by_person: dict[str, list[str]] = {}
    for record in e.fixtures["records"]:
        by_person.setdefault(record["resident_code"], []).append(record["record_no"])
    pairs = [numbers for numbers in by_person.values() if len(numbers) > 1]
    if not pairs:
        raise WireError(
            "the node's fixtures hold no person twice (getAgencyNodeFixtures: RK-BND-008 "
            "is checked on such a pair)"
        )
    twice = pairs[0]
    bound = e.node_call("POST", "/control/agency-node/bind", json_body=e.staff).expect(200)
    reviewed = set(bound["review_records"])
    assert set(twice) <= reviewed, (
        f"records {twice} of one person are not both on the review list: {sorted(reviewed)}"
    )
    assert bound["review"] == len(reviewed), bound.body
    distinct = len({r["resident_code"] for r in e.fixtures["records"]})
    assert bound["bound"] <= distinct, (
        f"the table holds {bound['bound']} records for {distinct} persons: one link code twice"
    )
    reached = []
    for record_no in twice:
        before = len(e.world.audit_log())
        reply = e.node_call(
            "POST",
            "/control/agency-node/queries",
            json_body={**e.staff, "record_no": record_no, "provider": "kit.city-a",
                       "pattern_id": "KIT-N-001", "information_kind": "local-tax",
                       "use": f"{USE} bnd-008"},
        )  # fmt: skip
        if reply.status == 202:
            reached.append(record_no)
            continue
        assert 400 <= reply.status < 500, f"a query about {record_no}: HTTP {reply.status}"
        assert reply.is_problem, f"a query about {record_no}: not a problem: {reply.text[:300]}"
        assert len(e.world.audit_log()) == before, f"the refused query about {record_no} was sent"
    assert len(reached) <= 1, f"both records of one person were bound to its link code: {reached}"


@pytest.mark.conformance(
    "CT-AGN-015", requirements=["RK-AGN-002", "RK-AUD-002"], profiles=["agency-node"]
)
def test_the_nodes_share_agrees_with_the_hubs_log_entry_by_entry(wire: Wire) -> None:
    """The node's share of the log against what the run made (issue 14, item 4): its
    staff's approved query, its staff's query the hub refused, and its answer to a
    query about one of its persons are, in order, its new entries — side, linkage,
    outcome, reason — and each names the hub's entry (①) whose linkage, pattern,
    kind, requester and provider it repeats, the refusal with the hub's reason."""
    e = _enrol(wire)
    node_after = max((int(x["serial"]) for x in e.node_log()), default=0)
    hub_after = max((int(x["serial"]) for x in e.world.audit_log()), default=0)
    approved = _node_query(e, e.staff, "agn-010").expect(202)["linkage_id"]
    record = e.fixtures["records"][0]
    refused = e.node_call(
        "POST",
        "/control/agency-node/queries",
        json_body={**e.staff, "record_no": record["record_no"], "provider": "kit.city-a",
                   "pattern_id": "KIT-P-001", "information_kind": "local-tax",
                   "use": f"{USE} agn-010"},
    )  # fmt: skip
    assert refused.status == 403, f"a query outside the node's patterns: {refused.text[:300]}"
    assert refused.problem == "requester-not-designated", refused.text[:300]
    answered, _, _ = _asked_and_answered(e, "kit-agn-010")
    hub = {int(x["serial"]): x for x in e.world.audit_log() if int(x["serial"]) > hub_after}
    share = [x for x in e.node_log() if int(x["serial"]) > node_after]
    made = [
        ("requester", approved, "approved", None),
        ("requester", None, "refused", "requester-not-designated"),
        ("provider", answered, "answered", None),
    ]
    seen = [(x["side"], x.get("linkage_id"), x.get("outcome"), x.get("reason")) for x in share]
    assert seen == made, f"the node's share is not what the run made: {seen}"
    for x in share:
        theirs = hub.get(int(x["hub_serial"] or 0))
        assert theirs is not None, f"node entry {x['serial']} names no hub entry of the run: {x}"
        for name in ("linkage_id", "pattern_id", "information_kind"):
            assert x.get(name) == theirs.get(name), (name, x, theirs)
        for name in ("requester", "provider"):
            assert x.get(name) in (theirs[name], theirs[f"{name}_id"]), (name, x, theirs)
        if x["outcome"] == "refused":
            assert (theirs["outcome"], theirs["reason"]) == ("refused", x["reason"]), theirs
