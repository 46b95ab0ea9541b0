"""``renkei serve`` runs the whole federation: the hub's application and agency
nodes on their own ports, each with its client certificate, answering within
the deadline (RK-AGN-003); the control interface is the operator's alone
(RK-CTL-007); provider faults — down, slow, garbage — end as the protocol says
(RK-FLOW-004; seed items 19, 22, 28–30).

Each test drives real servers in a subprocess over mutual TLS 1.3.  Waiting
for a node (which pulls every 0.5 s) polls a condition with a generous bound;
no test asserts on a duration.
"""

from __future__ import annotations

import base64
import json
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from renkei_conformance.target import resolve_target

from .conftest import RENKEI, tls_client

REQUESTER = "kit.pension"
NODE, OTHER_NODE = "demo.city", "demo.pension"


def _until(what: str, probe: Callable[[], Any], bound: float = 30.0) -> Any:
    """Poll ``probe`` until it returns something truthy (at most ``bound`` s)."""
    limit = time.monotonic() + bound
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > limit:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


def _target(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


# -- the command ------------------------------------------------------------------


@pytest.fixture
def demo_federation(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """A fresh ``renkei serve --agency-nodes 2``; yields (process, target, log)."""
    target, log = tmp_path / "target.json", tmp_path / "serve.log"
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [*RENKEI, "serve", "--port", "0", "--target-file", str(target), "--agency-nodes", "2"],
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        _until("the target file", lambda: target.exists() or proc.poll() is not None, 60)
        assert proc.poll() is None, log.read_text()
        yield proc, target, log
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


@pytest.mark.requirement("RK-AGN-003")
def test_serve_starts_agency_nodes_that_answer_a_demo_linkage_out_of_the_box_and_stops_cleanly(
    demo_federation: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    proc, target, log = demo_federation
    data = _target(target)
    nodes = data["agency_nodes"]
    assert set(nodes) == {NODE, OTHER_NODE}
    ports = {httpx.URL(n["url"]).port for n in nodes.values()}
    assert len(ports) == 2
    assert httpx.URL(data["parties"]["hub"]).port not in ports  # each its own server
    assert {n["adapter"] for n in nodes.values()} == {"sql", "csv"}
    assert set(nodes) <= set(data["tls"]["client_certificates"])  # each its certificate
    assert resolve_target(str(target)).agency_nodes == {k: v["url"] for k, v in nodes.items()}
    printed = log.read_text()
    for agency_id, node in nodes.items():
        assert f"agency node {agency_id}" in printed
        assert node["url"] in printed

    # demo.city's clerk asks demo.pension (pattern DEMO-P-001); nobody acts at
    # demo.pension: its delivery loop answers from its CSV folder
    clerk = {"staff_id": "clerk-1", "terminal": "term-01"}
    city = nodes[NODE]["url"]
    with tls_client(target) as operator:
        asked = operator.post(
            city + "/control/agency-node/queries",
            json={
                **clerk,
                "record_no": "CITY-0001",
                "provider": OTHER_NODE,
                "pattern_id": "DEMO-P-001",
                "information_kind": "pension-record",
                "use": "年金額の確認",
            },
        )
        assert asked.status_code == 202, asked.text
        linkage_id = asked.json()["linkage_id"]

        def answer() -> Any:
            url = f"{city}/control/agency-node/linkages/{linkage_id}"
            return operator.get(url, params=clerk).json()["answer"]

        payload = base64.b64decode(_until("the provider node's answer", answer)["payload"])
    assert json.loads(payload) == {"pension-record": 120000}  # NENKIN-0001's row
    with tls_client(target, "demo.auditor") as auditor:
        entries = auditor.get(nodes[OTHER_NODE]["url"] + "/agency/access-logs").json()["entries"]
    answered = [e for e in entries if e["linkage_id"] == linkage_id]
    assert [e["outcome"] for e in answered] == ["answered"]
    assert answered[0]["terminal"] == "node-service"  # ⑩: the node's service terminal

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    out = log.read_text()
    assert "renkei serve: stopped" in out
    assert "Traceback" not in out


@pytest.mark.requirement("RK-AGN-005")
def test_an_agency_nodes_log_survives_a_restart_of_serve_in_the_state_dir(
    demo_federation: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    """RK-AGN-005: a node's share is kept in ``STATE_DIR`` by default; after the
    federation stops and starts again, the auditor still reads yesterday's entry."""
    proc, target, _ = demo_federation
    city = _target(target)["agency_nodes"][NODE]["url"]
    clerk = {"staff_id": "clerk-1", "terminal": "term-01"}
    with tls_client(target) as operator:
        asked = operator.post(
            city + "/control/agency-node/queries",
            json={**clerk, "record_no": "CITY-0002", "provider": OTHER_NODE,
                  "pattern_id": "DEMO-P-001", "information_kind": "pension-record",
                  "use": "再起動前の照会"},
        )  # fmt: skip
        assert asked.status_code == 202, asked.text
    linkage_id = asked.json()["linkage_id"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    assert (target.parent / "renkei-state" / "agencies" / NODE / "node-log.sqlite3").is_file()
    target.unlink()
    log = target.parent / "serve-again.log"
    with log.open("w") as sink:
        again = subprocess.Popen(
            [*RENKEI, "serve", "--port", "0", "--target-file", str(target), "--agency-nodes", "2"],
            cwd=target.parent,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    try:
        _until("the target file", lambda: target.exists() or again.poll() is not None, 60)
        assert again.poll() is None, log.read_text()
        city = _target(target)["agency_nodes"][NODE]["url"]
        with tls_client(target, "demo.auditor") as auditor:
            entries = auditor.get(city + "/agency/access-logs").json()["entries"]
        mine = [e for e in entries if e["linkage_id"] == linkage_id]
        assert [(e["side"], e["outcome"], e["use"]) for e in mine] == [
            ("requester", "approved", "再起動前の照会")
        ]
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(20)


@pytest.mark.requirement("RK-AUD-003", "RK-AGN-001", "RK-AUD-001")
def test_the_demo_auditor_sees_a_nodes_refusals_as_use_outside_designation(
    demo_federation: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    """Under ``renkei serve`` the demo auditor reads every node over mutual TLS:
    a query tried at a terminal outside demo.city's designation is refused at
    the node and reported by ``GET /auditor/anomalies`` (outside-designation,
    naming the node's refusal); both nodes' shares are read."""
    _, target, _ = demo_federation
    data = _target(target)
    city = data["agency_nodes"][NODE]["url"]
    with tls_client(target) as operator:
        refused = operator.post(
            city + "/control/agency-node/queries",
            json={"staff_id": "clerk-1", "terminal": "home-pc", "record_no": "CITY-0003",
                  "provider": OTHER_NODE, "pattern_id": "DEMO-P-001",
                  "information_kind": "pension-record", "use": "指定外の端末から"},
        )  # fmt: skip
        assert refused.status_code == 403
    with tls_client(target, "demo.auditor") as auditor:
        base = data["parties"]["auditor"]
        found = auditor.get(base + "/anomalies").json()["anomalies"]
        gaps = auditor.get(base + "/discrepancies").json()["discrepancies"]
        denials = auditor.get(city + "/agency/denials").json()["denials"]
    assert [(d["staff_id"], d["terminal"], d["reason"]) for d in denials] == [
        ("clerk-1", "home-pc", "terminal-not-designated")
    ]
    outside = [a for a in found if a["kind"] == "outside-designation" and a.get("agency_denials")]
    assert [(a["agency_id"], a["agency_denials"]) for a in outside] == [
        (NODE, [{"agency_id": NODE, "serial": denials[0]["serial"]}])
    ]
    assert not [g for g in gaps if g["kind"] == "agency-log-unavailable"], gaps


def test_plain_http_and_zero_nodes_serve_the_hub_application_alone(tmp_path: Path) -> None:
    target = tmp_path / "t.json"
    proc = subprocess.Popen(
        [*RENKEI, "serve", "--port", "0", "--target-file", str(target), "--plain-http"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _until("the target file", lambda: target.exists() or proc.poll() is not None, 60)
        data = _target(target)
        assert "agency_nodes" not in data
        assert "tls" not in data
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "no agency nodes: they need mutual TLS" in out
    assert "Traceback" not in out


# -- the control interface: the operator's alone (RK-CTL-007) ----------------------


@pytest.mark.requirement("RK-CTL-007")
def test_control_refuses_an_agency_certificate_with_problem_json(served_reference: Path) -> None:
    data = _target(served_reference)
    control = data["parties"]["control"]
    node = data["agency_nodes"][NODE]["url"]
    with tls_client(served_reference, "kit.city-a") as agency:
        for method, url in (
            ("POST", control + "/reset"),
            ("GET", control + "/state"),
            ("POST", control + "/clock/advance"),
            ("POST", control + "/auditor-keys"),
            ("GET", node + "/control/agency-node/fixtures"),
            ("PUT", node + "/control/agency-node/fault"),
        ):
            resp = agency.request(method, url, json={"seconds": 1, "fault": "down"})
            assert resp.status_code == 403, (url, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert resp.json()["type"] == "urn:renkei:problem:control-operator-only"
            assert resp.json()["requirement"] == "RK-CTL-007"
    with tls_client(served_reference) as operator:
        assert operator.get(control + "/health").status_code == 200
        assert operator.get(node + "/control/agency-node/fixtures").status_code == 200


def test_plain_http_test_mode_keeps_its_control_interface(served_reference_plain: Path) -> None:
    control = _target(served_reference_plain)["parties"]["control"]
    with httpx.Client(timeout=10) as c:
        assert c.get(control + "/health").status_code == 200


# -- provider faults (issue 5; RK-FLOW-004, RK-AGN-003) -------------------------------


@dataclass
class Faults:
    """A world around one served agency node, driven like a vendor's harness."""

    target: Path
    operator: httpx.Client
    requester: httpx.Client
    auditor: httpx.Client
    node: str  # base URL
    control: str
    hub: str
    audit: str  # the hub's auditor interface
    link: str

    def fault(self, name: str) -> None:
        resp = self.operator.put(self.node + "/control/agency-node/fault", json={"fault": name})
        assert resp.status_code == 200, resp.text

    def query(self, n: int) -> str:
        body = {
            "request_id": f"fault-{n}-{time.monotonic_ns()}",
            "requester": REQUESTER,
            "provider": NODE,
            "pattern_id": "F-1",
            "information_kind": "local-tax",
            "link_code": self.link,
        }
        resp = self.requester.post(self.hub + "/queries", json=body)
        assert resp.status_code == 202, resp.text
        return str(resp.json()["linkage_id"])

    def linkage(self, linkage_id: str) -> httpx.Response:
        return self.requester.get(f"{self.hub}/linkages/{linkage_id}")

    def hub_log(self, linkage_id: str) -> list[dict[str, Any]]:
        entries = self.auditor.get(self.audit + "/access-logs").json()["entries"]
        return [e for e in entries if e["linkage_id"] == linkage_id]

    def node_log(self, linkage_id: str) -> list[dict[str, Any]]:
        entries = self.auditor.get(self.node + "/agency/access-logs").json()["entries"]
        return [e for e in entries if e["linkage_id"] == linkage_id]

    def advance_past_deadline(self) -> None:
        resp = self.operator.post(self.control + "/clock/advance", json={"seconds": 601})
        assert resp.status_code == 200, resp.text


@pytest.fixture
def faults(served_reference: Path) -> Iterator[Faults]:
    data = _target(served_reference)
    parties, node = data["parties"], data["agency_nodes"][NODE]["url"]
    with (
        tls_client(served_reference) as operator,
        tls_client(served_reference, REQUESTER) as requester,
        tls_client(served_reference, "kit.auditor") as auditor,
    ):
        control = parties["control"]
        fixtures = operator.get(node + "/control/agency-node/fixtures").json()
        agencies = [
            {"agency_id": REQUESTER, "name": "年金（試験）", "role": "agency"},
            {"agency_id": NODE, "name": "市（試験ノード）", "role": "agency"},
            {"agency_id": "kit.auditor", "name": "監査（試験）", "role": "auditor"},
        ]
        pattern = {
            "pattern_id": "F-1",
            "legal_basis": "番号法（試験）",
            "purpose": "障害試験",
            "requesters": [REQUESTER],
            "providers": [NODE],
            "information_kinds": ["local-tax"],
            "answer_within_seconds": 600,
        }
        for method, path, body in (
            ("POST", "/reset", None),
            ("POST", "/residents", {"residents": fixtures["residents"]}),
            ("POST", "/agencies", {"agencies": agencies}),
            ("PUT", "/patterns", {"patterns": [pattern]}),
        ):
            operator.request(method, control + path, json=body).raise_for_status()
        operator.post(
            node + "/control/agency-node/bind", json=fixtures["designated"]
        ).raise_for_status()
        person = fixtures["records"][0]["four_items"]
        bound = requester.post(
            parties["hub"] + "/bindings", json={"records": [{"record_ref": "r-1", **person}]}
        ).json()["results"][0]
        world = Faults(
            served_reference,
            operator,
            requester,
            auditor,
            node,
            control,
            parties["hub"],
            parties["auditor"],
            bound["link_code"],
        )
        try:
            yield world
        finally:
            world.fault("none")


@pytest.mark.requirement("RK-FLOW-004")
def test_a_provider_that_is_down_lets_the_linkage_expire_at_its_deadline(faults: Faults) -> None:
    faults.fault("down")
    linkage_id = faults.query(1)
    assert faults.linkage(linkage_id).json()["state"] == "pending"  # nobody pulled it
    faults.advance_past_deadline()
    late = faults.linkage(linkage_id)  # RK-FLOW-004: forgotten (404) or expired, no answer
    assert late.status_code in (200, 404), late.text
    if late.status_code == 404:
        assert late.json()["type"] == "urn:renkei:problem:unknown-linkage"
    else:
        assert late.json()["state"] == "expired"
        assert "answer" not in late.json()
    outcomes = [(e["outcome"], e.get("reason")) for e in faults.hub_log(linkage_id)]
    assert outcomes == [("approved", None), ("expired", "deadline-passed")]
    assert faults.node_log(linkage_id) == []  # the node never saw it


@pytest.mark.requirement("RK-FLOW-004")
def test_a_slow_providers_late_answer_is_refused_logged_and_never_relayed(faults: Faults) -> None:
    faults.fault("slow")
    linkage_id = faults.query(2)
    _until("the slow node to pull", lambda: faults.linkage(linkage_id).json()["state"] != "pending")
    faults.advance_past_deadline()
    faults.fault("none")  # the held answer goes out now: after the deadline
    entry = _until("the node to log its refused answer", lambda: faults.node_log(linkage_id))
    assert [(e["outcome"], e["reason"]) for e in entry] == [("expired", "answer-after-deadline")]
    late = faults.linkage(linkage_id)
    assert "answer" not in late.json()
    outcomes = [e["outcome"] for e in faults.hub_log(linkage_id)]
    assert outcomes == ["approved", "expired"]  # never "provided"


@pytest.mark.requirement("RK-AGN-003")
def test_a_garbage_answer_is_refused_with_422_and_the_linkage_stays_answerable(
    faults: Faults,
) -> None:
    # the hub's side, directly: a malformed answer is 422 problem+json, nothing lost
    faults.fault("down")  # the node's own loop stays out of the way
    with tls_client(faults.target, NODE) as provider:
        linkage_id = faults.query(3)
        delivered = provider.get(faults.hub + "/deliveries").json()["deliveries"]
        assert linkage_id in {d["linkage_id"] for d in delivered}
        bad = provider.post(
            f"{faults.hub}/linkages/{linkage_id}/answer", json={"payload": "<not base64>"}
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
        assert faults.linkage(linkage_id).json()["state"] == "delivered"
        good = provider.post(
            f"{faults.hub}/linkages/{linkage_id}/answer",
            json={"payload": base64.b64encode(b"ok").decode()},
        )
        assert good.status_code == 202, good.text

    # the node under the garbage fault: refused, logged, answered once the fault clears
    faults.fault("garbage")
    linkage_id = faults.query(4)
    refused = _until("the node to log the refusal", lambda: faults.node_log(linkage_id))
    assert [(e["outcome"], e["reason"]) for e in refused] == [
        ("answer-refused", "validation-error")
    ]
    assert faults.linkage(linkage_id).json()["state"] == "delivered"  # still answerable
    faults.fault("none")
    answered = _until(
        "the answer after the fault cleared",
        lambda: faults.linkage(linkage_id).json().get("answer"),
    )
    assert json.loads(base64.b64decode(answered["payload"])) == {"local-tax": 120000}
    outcomes = [e["outcome"] for e in faults.node_log(linkage_id)]
    assert outcomes == ["answer-refused", "answered"]


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("demo.city=broken", "give AGENCY=down|slow|garbage"),
        ("nobody.here=down", "names no agency node: nobody.here"),
    ],
)
def test_a_malformed_agency_fault_is_a_usage_error(
    tmp_path: Path, option: str, message: str
) -> None:
    from .conftest import run_renkei

    result = run_renkei(
        "serve", "--port", "0", "--target-file", str(tmp_path / "t.json"),
        "--state-dir", str(tmp_path / "state"), "--agency-fault", option,
    )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "t.json").exists()
