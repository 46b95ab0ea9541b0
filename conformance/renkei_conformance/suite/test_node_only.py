"""An agency node alone (中間サーバー; seed items 19, 22–24, 27–29), the kit playing the hub.

Applies to targets that are one agency node and nothing else (target file
``"role": "agency-node"``, or an in-process node such as ``reference-node``): the
product most vendors build, without a hub of their own.  The kit starts its hub
double (renkei_conformance/hubdouble.py, written from the interface document
alone) on loopback — HTTPS with mutual TLS when the node is reached over it —
and points the node at it (``PUT /control/agency-node/hub`` or the target file's
``hub_hook``, RK-CTL-008).  Then it checks, from what reached the hub and from
the node's own wire, every MUST the node carries: the 4 items it binds in the
wire's forms (RK-AGN-007), persons named by link code only (RK-BND-007), the
designation (RK-AGN-001), its log with the hub's serials (RK-AGN-002), answers
before the deadline (RK-AGN-003), the hub's refusals passed on with the hub's
status, and its logs served to the auditor alone with its reads and holds in its
administrative log (RK-AUD-001, RK-AGN-005, RK-AGN-006).
"""

from __future__ import annotations

import base64
import os
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from renkei_conformance.client import Reply, Wire, WireError
from renkei_conformance.hubdouble import DoubleLinkage, HubDouble, Seen

PATTERN = "KIT-N-001"
USE = "年金給付の審査（試験）"
ITEMS = ("name", "address", "birth_date", "sex")
REFUSED = {"staff-not-designated", "terminal-not-designated", "action-not-designated"}


@dataclass
class NodeUnderTest:
    wire: Wire
    hub: HubDouble
    node: str  # the node's agency id
    fixtures: dict[str, Any]
    staff: dict[str, str]

    def call(self, method: str, path: str, **kw: Any) -> Reply:
        return self.wire.call_node(self.node, method, path, **kw)

    def as_(self, who: str, method: str, path: str, **kw: Any) -> Reply:
        """A request to the node's ``/agency`` interface as ``who`` (``kit.auditor``,
        ``kit.pension``): its client certificate over mutual TLS, else its credential."""
        tls = self.wire.target.tls
        if tls is not None and who in tls.agencies:
            other = self.wire.presenting(tls.agencies[who])
            try:
                return other.call_node(self.node, method, path, **kw)
            finally:
                other.close()
        token = self.wire.target.node_credentials.get(who)
        if token is None:
            raise WireError(f"the target gives the kit no way to act as {who} at the node")
        return self.wire.call_node(self.node, method, path, token=token, **kw)

    def page(self, path: str, key: str, **params: Any) -> list[dict[str, Any]]:
        reply = self.as_("kit.auditor", "GET", path, params=params or None).expect(200)
        if reply["agency_id"] != self.node:
            raise WireError(f"the node of {self.node} serves the log of {reply['agency_id']}")
        rows: list[dict[str, Any]] = reply[key]
        return rows

    def bind(self) -> dict[str, Any]:
        reply = self.call("POST", "/control/agency-node/bind", json_body=self.staff).expect(200)
        body: dict[str, Any] = reply.body
        return body

    def query(self, staff: dict[str, str], record: dict[str, Any], note: str) -> Reply:
        return self.call(
            "POST",
            "/control/agency-node/queries",
            json_body={**staff, "record_no": record["record_no"], "provider": "kit.city-a",
                       "pattern_id": PATTERN, "information_kind": "local-tax",
                       "use": f"{USE} {note}"},
        )  # fmt: skip

    def queries_sent(self) -> list[Seen]:
        return self.hub.sent_by(self.node, "POST", "/queries")

    def bound_record(self) -> dict[str, Any]:
        """A record of the node's fixtures the hub bound (its person has a link code)."""
        bound = {
            r["record_ref"]
            for s in self.hub.sent_by(self.node, "POST", "/bindings")
            for r in (s.reply or {}).get("results", [])
            if r.get("decision") == "bound"
        }
        for record in self.fixtures["records"]:
            if record["record_no"] in bound:
                return dict(record)
        raise WireError(f"the hub bound none of the node's records: {self.hub.seen[-3:]}")


def _point(wire: Wire, hub: HubDouble, node: str) -> None:
    """Tell the node where the kit's hub listens (RK-CTL-008)."""
    hook = wire.target.hub_hook
    https = hub.url.startswith("https://")
    credential = None if https else hub.credential_for(node)
    if hook is None or not hook.command:
        body: dict[str, Any] = {"url": hub.url}
        body.update({"ca_certificate": hub.ca_pem} if https else {"credential": credential})
        wire.call_node(node, "PUT", "/control/agency-node/hub", json_body=body).expect(200)
        return
    with tempfile.TemporaryDirectory(prefix="renkei-kit-hub-") as tmp:
        ca_file = Path(tmp) / "hub-ca.pem"
        if hub.ca_pem:
            ca_file.write_text(hub.ca_pem, encoding="utf-8")
        values = {"{hub_url}": hub.url, "{ca_file}": str(ca_file) if https else "",
                  "{credential}": credential or ""}  # fmt: skip
        command = [values.get(part, part) for part in hook.command]
        try:
            done = subprocess.run(command, cwd=hook.cwd, timeout=hook.timeout, check=False,
                                  capture_output=True, text=True, env=dict(os.environ))  # fmt: skip
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise WireError(f"the target's hub_hook failed: {exc}") from exc
        if done.returncode != 0:
            raise WireError(
                f"the target's hub_hook exited {done.returncode}: {done.stderr.strip()[-300:]}"
            )


@pytest.fixture
def nut(wire: Wire) -> Iterator[NodeUnderTest]:
    """The node under test, pointed at a fresh hub double that knows its residents."""
    target = wire.target
    if not target.node_only:
        pytest.skip(
            "not applicable: the target is not an agency node alone (its nodes are "
            "certified with its own hub, CT-AGN-001…006)"
        )
    node = next(iter(target.agency_nodes))
    fixtures = wire.call_node(node, "GET", "/control/agency-node/fixtures").expect(200).body
    if fixtures["agency_id"] != node:
        raise WireError(f"the node at {target.agency_nodes[node]} is {fixtures['agency_id']}")
    residents = {
        r["resident_code"]: {k: str(r[k]) for k in (*ITEMS, "name_kana") if k in r}
        for r in fixtures["residents"]
    }
    pattern = {
        "pattern_id": PATTERN,
        "legal_basis": "番号法 別表第二 項番（試験）N1",
        "requesters": ["kit.pension", node],
        "providers": [node, "kit.city-a"],
        "information_kinds": sorted({*fixtures["information_kinds"], "local-tax"}),
    }
    https = all(u.startswith("https://") for u in target.agency_nodes.values())
    client_ca = target.tls.ca if (https and target.tls is not None) else None
    hub = HubDouble(residents, [pattern], client_ca=client_ca).start()
    try:
        _point(wire, hub, node)
        yield NodeUnderTest(wire, hub, node, fixtures, dict(fixtures["designated"]))
    finally:
        hub.stop()


@pytest.mark.conformance(
    "CT-AGN-007", requirements=["RK-AGN-007", "RK-BND-007", "RK-CTL-008"], profiles=["agency-node"]
)
def test_the_node_binds_its_records_at_the_hub_in_the_wires_forms(nut: NodeUnderTest) -> None:
    """Pointed at the kit's hub, the node sends its records for binding there, each
    with its 4 items in the wire's forms — dates YYYY-MM-DD and sex male/female,
    whatever legacy form (和暦, YYYYMMDD, full-width digits, sex codes) its business
    system holds them in — equal to the resident's; it names each record by its own
    reference and enters what the hub bound (the count it reports), each link code
    once: a second record bound to the same one is not entered (RK-BND-008)."""
    bound = nut.bind()
    sent = nut.hub.sent_by(nut.node, "POST", "/bindings")
    assert sent, "the node sent no binding request to the hub it was pointed at (RK-CTL-008)"
    by_ref = {r.get("record_ref"): r for s in sent for r in (s.body or {}).get("records", [])}
    residents = nut.hub.residents
    wrong = []
    for record in nut.fixtures["records"]:
        person = residents.get(record["resident_code"])
        if person is None:
            continue
        got = by_ref.get(record["record_no"])
        if got is None:
            wrong.append(f"{record['record_no']}: not sent (held as {record['four_items']})")
            continue
        for item in ITEMS:
            if str(got.get(item) or "").strip() != person[item]:
                wrong.append(
                    f"{record['record_no']}: {item} sent as {got.get(item)!r}, the resident's is "
                    f"{person[item]!r} (held as {record['four_items'].get(item)!r})"
                )
    assert not wrong, "records not in the wire's forms (RK-AGN-007):\n  " + "\n  ".join(wrong)
    decided = [r for s in sent for r in (s.reply or {}).get("results", [])]
    codes = [r.get("link_code") for r in decided if r.get("decision") == "bound"]
    # each link code once: one the hub bound to a second of its records is not entered
    # again, and both records go to its review list (RK-BND-008)
    assert bound["bound"] == len(set(codes)) >= 1, (bound, len(set(codes)), len(codes))


@pytest.mark.conformance(
    "CT-AGN-008",
    requirements=["RK-AGN-001", "RK-AGN-002", "RK-BND-007"],
    profiles=["agency-node"],
)
def test_the_nodes_queries_name_the_person_by_link_code_only(nut: NodeUnderTest) -> None:
    """Only designated staff at designated terminals query: an unknown account or a
    stray terminal gets 403 problem+json naming RK-AGN-001 and nothing reaches the
    hub.  A designated clerk's query reaches the hub as exactly the query the
    interface defines — the person named only by the link code the hub gave the
    node for that record — and the node's log attributes it (⑦ ⑨ ⑫) under the
    hub's serial ①."""
    nut.bind()
    record = nut.bound_record()
    for staff in (
        {"staff_id": "kit-nobody", "terminal": nut.staff["terminal"]},
        {"staff_id": nut.staff["staff_id"], "terminal": "kit-unlisted-terminal"},
    ):
        refused = nut.query(staff, record, "refused").expect_problem(REFUSED, 403)
        if refused.body.get("requirement") != "RK-AGN-001":
            raise WireError(f"the refusal names no RK-AGN-001: {refused.text[:300]}")
    assert not nut.queries_sent(), "an undesignated account's query reached the hub"
    linkage_id = nut.query(nut.staff, record, "ok").expect(202)["linkage_id"]
    sent = nut.queries_sent()
    assert len(sent) == 1, f"one query, {len(sent)} requests at the hub"
    assert not nut.hub.departures, f"the query departs from submitQuery: {nut.hub.departures}"
    link = nut.hub.link_code(nut.node, record["resident_code"])
    want = {"requester": nut.node, "provider": "kit.city-a", "pattern_id": PATTERN,
            "information_kind": "local-tax", "link_code": link}  # fmt: skip
    body = dict(sent[0].body)
    body.pop("request_id")
    assert body == want, f"the query names the person otherwise than by link code: {body}"
    linkage = nut.hub.linkages[linkage_id]
    mine = [x for x in nut.page("/agency/access-logs", "entries")
            if x.get("linkage_id") == linkage_id]  # fmt: skip
    assert mine, f"the node's log has no entry for its query {linkage_id} (RK-AGN-002)"
    entry = mine[0]
    assert entry["side"] == "requester", entry
    assert entry["terminal"] == nut.staff["terminal"], entry
    assert str(entry["operator"]).strip(), f"⑦ the operator is not recorded: {entry}"
    assert entry.get("use") == f"{USE} ok", f"⑫ the use is not recorded: {entry}"
    assert entry["hub_serial"] == linkage.serial, (entry, linkage.serial)


def _answered(nut: NodeUnderTest, linkage: DoubleLinkage) -> DoubleLinkage:
    limit = time.monotonic() + nut.hub.answer_within
    while linkage.state in ("pending", "delivered"):
        if time.monotonic() > limit:
            raise WireError(
                f"the node did not answer linkage {linkage.linkage_id} (state "
                f"{linkage.state}) before its deadline {linkage.deadline.isoformat()} (RK-AGN-003)"
            )
        time.sleep(0.1)
    return linkage


@pytest.mark.conformance(
    "CT-AGN-009", requirements=["RK-AGN-003", "RK-AGN-002"], profiles=["agency-node"]
)
def test_the_node_answers_the_hubs_deliveries_before_the_deadline(nut: NodeUnderTest) -> None:
    """The kit's requester asks about a person the node's business system knows; the
    node pulls the delivery from the kit's hub and answers before the deadline with
    no one acting on it, and its log records the answer (⑧ ⑩ ⑪) under the hub's
    serial ① of the query."""
    nut.bind()
    record = nut.bound_record()
    kind = record["information_kinds"][0]
    linkage = nut.hub.ask("kit.pension", nut.node, PATTERN, kind, record["resident_code"])
    done = _answered(nut, linkage)
    assert done.state in ("answered", "closed"), f"the linkage ended {done.state}"
    assert done.received, "the node's answer never reached the hub"
    assert base64.b64decode(done.received), "the node answered an empty payload"
    # the node logs its answer once the hub has taken it; polled for up to the hub's
    # answer time (30 s), not 5 s: a loaded machine may delay a correct node's write
    limit = time.monotonic() + nut.hub.answer_within
    while True:
        mine = [
            x
            for x in nut.page("/agency/access-logs", "entries")
            if x.get("linkage_id") == linkage.linkage_id and x.get("outcome") == "answered"
        ]
        if mine or time.monotonic() > limit:
            break
        time.sleep(0.1)
    assert mine, f"the node's log has no answer entry for {linkage.linkage_id} (RK-AGN-002)"
    entry = mine[0]
    assert entry["side"] == "provider", entry
    assert entry["operator"], f"⑧ the operator is not recorded: {entry}"
    assert entry["terminal"], f"⑩ the terminal is not recorded: {entry}"
    assert entry.get("content"), f"⑪ the content provided is not recorded: {entry}"
    assert entry["hub_serial"] == linkage.serial, (entry, linkage.serial)


@pytest.mark.conformance(
    "CT-AGN-010", requirements=["RK-AGN-002", "RK-WIRE-001"], profiles=["agency-node"]
)
def test_the_node_passes_on_the_hubs_refusals_with_the_hubs_status(nut: NodeUnderTest) -> None:
    """When the hub refuses a query (403, its pattern decision) the node answers its
    caller with that status and problem type, and logs the refused query under the
    serial ① the hub gave the refusal; a linkage the hub does not know is 404
    ``unknown-linkage`` at the node too, not another status."""
    nut.bind()
    record = nut.bound_record()
    nut.hub.refuse_queries_with = "unknown-pattern"
    reply = nut.query(nut.staff, record, "refused-by-hub")
    reply.expect_problem("unknown-pattern", 403)
    sent = nut.queries_sent()
    assert len(sent) == 1, sent
    assert sent[0].status == 403, sent
    serial = sent[0].reply["serial"]
    refused = [x for x in nut.page("/agency/access-logs", "entries")
               if x.get("hub_serial") == serial]  # fmt: skip
    assert refused, f"the node did not log the hub's refusal under its serial {serial}"
    assert refused[0].get("outcome") == "refused", refused[0]
    nut.call(
        "GET",
        "/control/agency-node/linkages/lk-kit-unknown",
        params=nut.staff,
    ).expect_problem("unknown-linkage", 404)


@pytest.mark.conformance(
    "CT-AGN-011",
    requirements=["RK-AUD-001", "RK-AGN-001", "RK-AGN-005", "RK-AGN-006"],
    profiles=["agency-node"],
)
def test_the_nodes_logs_are_the_auditors_and_its_reads_and_holds_are_logged(
    nut: NodeUnderTest,
) -> None:
    """The node serves its log, its refusals and its administrative log to the
    auditor only (another agency gets 403 or 401); a refused attempt is in its
    refusals as attempted; the auditor's reads and a legal hold placed and lifted
    are its administrative log's next entries, in the hub's entry form."""
    nut.bind()
    record = nut.bound_record()
    before = max([d["serial"] for d in nut.page("/agency/denials", "denials")], default=0)
    nut.query({"staff_id": "kit-intruder", "terminal": nut.staff["terminal"]}, record,
              "intruder").expect_problem({"staff-not-designated"}, 403)  # fmt: skip
    denials = nut.page("/agency/denials", "denials", after=before)
    seen = [(d["staff_id"], d["terminal"], d["action"], d["reason"]) for d in denials]
    want = [("kit-intruder", nut.staff["terminal"], "query", "staff-not-designated")]
    assert seen == want, f"the node's refusals are not as attempted: {denials}"
    after = max([x["serial"] for x in nut.page("/agency/admin-logs", "entries")], default=0)
    nut.page("/agency/access-logs", "entries")
    placed = nut.as_("kit.auditor", "POST", "/agency/legal-holds",
                     json_body={"reason": "適合性確認（試験）",
                                "scope": {"agency_id": "kit.pension"}}).expect(201)  # fmt: skip
    nut.as_("kit.auditor", "DELETE", f"/agency/legal-holds/{placed['hold_id']}").expect(204)
    got = nut.page("/agency/admin-logs", "entries", after=after)
    events = [(x["event"], x["details"].get("log") or x["details"].get("hold_id")) for x in got]
    wanted = [
        ("auditor-read", "admin"),
        ("auditor-read", "access"),
        ("legal-hold-placed", placed["hold_id"]),
        ("legal-hold-lifted", placed["hold_id"]),
    ]
    assert events == wanted, f"the node's administrative log is not as done: {got}"
    actors = {x["actor"] for x in got}
    assert len(actors) == 1, f"one auditor acted: {actors}"
    assert all(actors), f"the actor is not named: {got}"
    for path in ("/agency/access-logs", "/agency/denials", "/agency/admin-logs"):
        nut.as_("kit.pension", "GET", path).expect_problem(
            {"forbidden-role", "unauthenticated"}, {401, 403}
        )
