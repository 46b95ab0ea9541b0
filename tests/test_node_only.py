"""Node-only certification (issue 15, item 3): an agency node alone, the kit playing the hub.

* The kit's hub double answers as the interface document says: every response it
  gives a node passes the kit's own closed-document check, its receipts verify,
  it relays an answer once, and it refuses what the schema forbids.
* The kit certifies the reference's agency node alone, in process
  (``reference-node``) and over HTTPS with mutual TLS against a node of
  ``renkei serve`` — pointed at the kit's hub through the node's control interface
  and through a target file's ``hub_hook`` command; the report names the role.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_conformance.hubdouble import HubDouble, inclusion_proof
from renkei_conformance.openapi import load_contract
from renkei_conformance.tlog import leaf_hash, merkle_root, verify_inclusion, verify_receipt

from .conftest import _serve, run_renkei

NODE = "acme.node"
RESIDENT = {"name": "山田 太郎", "address": "東京都千代田区永田町1丁目1番1号",
            "birth_date": "1950-01-10", "sex": "male"}  # fmt: skip
PATTERN = {"pattern_id": "P-1", "requesters": [NODE, "kit.pension"],
           "providers": [NODE, "kit.city-a"], "information_kinds": ["local-tax"]}  # fmt: skip


@given(st.integers(min_value=1, max_value=70), st.data())
def test_the_doubles_inclusion_proofs_verify_against_the_root(n: int, data: st.DataObject) -> None:
    digests = [leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    verify_inclusion(
        digests[index], index, n, inclusion_proof(digests, index), merkle_root(digests)
    )


@pytest.fixture
def double() -> Iterator[tuple[HubDouble, httpx.Client]]:
    hub = HubDouble({"20000000001": RESIDENT}, [PATTERN]).start()
    token = hub.credential_for(NODE)
    with httpx.Client(headers={"authorization": f"Bearer {token}"}, timeout=10) as client:
        yield hub, client
    hub.stop()


def _checked(hub: HubDouble, resp: httpx.Response) -> Any:
    """The response, checked as the kit checks any party's (closed document)."""
    path = resp.request.url.path
    departures = load_contract().check(
        resp.request.method, path, resp.status_code, resp.headers["content-type"],
        resp.json(), headers=[h for h in resp.headers if h not in ("date", "server")],
    )  # fmt: skip
    assert not departures, departures
    return resp.json()


@pytest.mark.requirement("RK-CTL-008")
def test_the_hub_double_answers_a_node_as_the_interface_says(
    double: tuple[HubDouble, httpx.Client],
) -> None:
    hub, c = double
    url = hub.url
    bound = _checked(hub, c.post(f"{url}/bindings", json={"records": [
        {"record_ref": "r1", **RESIDENT},
        {"record_ref": "r2", **RESIDENT, "birth_date": "昭和25年1月10日"},
        {"record_ref": "r3", **RESIDENT, "name": "別人"},
    ]}))["results"]  # fmt: skip
    assert [r.get("decision") for r in bound] == ["bound", None, "rejected"]
    assert bound[1]["problem"]["type"].endswith(":malformed-binding-record")
    link = bound[0]["link_code"]
    query = {"request_id": "q1", "requester": NODE, "provider": "kit.city-a",
             "pattern_id": "P-1", "information_kind": "local-tax", "link_code": link}  # fmt: skip
    accepted = c.post(f"{url}/queries", json=query)
    assert accepted.status_code == 202
    receipt = _checked(hub, accepted)["receipt"]
    verify_receipt(receipt, hub.verifier_key)
    again = c.post(f"{url}/queries", json=query)
    assert again.status_code == 409
    refused = c.post(f"{url}/queries", json={**query, "request_id": "q2", "pattern_id": "P-9"})
    assert refused.status_code == 403
    verify_receipt(_checked(hub, refused)["receipt"], hub.verifier_key)
    extra = c.post(f"{url}/queries", json={**query, "request_id": "q3", "record_no": "r1"})
    assert extra.status_code == 422
    _checked(hub, extra)
    assert hub.departures, "an undeclared member must be recorded as a departure"
    # the kit's requester asks the node; the node pulls, answers; the requester reads once
    asked = hub.ask("kit.pension", NODE, "P-1", "local-tax", "20000000001")
    deliveries = _checked(hub, c.get(f"{url}/deliveries"))["deliveries"]
    assert [d["linkage_id"] for d in deliveries] == [asked.linkage_id]
    assert deliveries[0]["link_code"] == link
    assert _checked(hub, c.get(f"{url}/deliveries"))["deliveries"] == []  # delivered once
    bad = c.post(f"{url}/linkages/{asked.linkage_id}/answer", json={"payload": "not base64!"})
    assert bad.status_code == 422
    payload = base64.b64encode(b'{"local-tax":1}').decode()
    answered = c.post(f"{url}/linkages/{asked.linkage_id}/answer", json={"payload": payload})
    assert _checked(hub, answered) == {"linkage_id": asked.linkage_id, "state": "answered"}
    twice = c.post(f"{url}/linkages/{asked.linkage_id}/answer", json={"payload": payload})
    assert twice.status_code == 409
    assert asked.received == payload
    # the node's own query: it reads its linkage (no answer yet), another's is unknown
    mine = accepted.json()["linkage_id"]
    assert _checked(hub, c.get(f"{url}/linkages/{mine}"))["state"] == "pending"
    unknown = c.get(f"{url}/linkages/{asked.linkage_id}")
    assert unknown.status_code == 404
    assert _checked(hub, unknown)["type"].endswith(":unknown-linkage")
    nobody = httpx.get(f"{url}/deliveries", timeout=10)
    assert nobody.status_code == 401


def test_the_hub_double_hands_an_answer_out_until_acknowledged_then_forgets_it(
    double: tuple[HubDouble, httpx.Client],
) -> None:
    hub, c = double
    link = hub.link_code(NODE, "20000000001")
    hub.link_code("kit.city-a", "20000000001")
    query = {"request_id": "q1", "requester": NODE, "provider": "kit.city-a",
             "pattern_id": "P-1", "information_kind": "local-tax", "link_code": link}  # fmt: skip
    lid = c.post(f"{hub.url}/queries", json=query).json()["linkage_id"]
    hub.linkages[lid].state, hub.linkages[lid].answer = "answered", "eyJ4IjoxfQ=="
    first = _checked(hub, c.get(f"{hub.url}/linkages/{lid}"))
    assert first["state"] == "closed"
    assert first["answer"] == {"payload": "eyJ4IjoxfQ=="}
    verify_receipt(first["receipt"], hub.verifier_key)
    again = _checked(hub, c.get(f"{hub.url}/linkages/{lid}"))
    assert again == first  # RK-FLOW-002: the same answer and receipt until acknowledged
    assert c.delete(f"{hub.url}/linkages/{lid}/answer").status_code == 204
    assert hub.linkages[lid].acknowledged
    later = _checked(hub, c.get(f"{hub.url}/linkages/{lid}"))
    assert "answer" not in later
    assert c.delete(f"{hub.url}/linkages/{lid}/answer").status_code == 404


def _report(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _passed_as_node_only(proc: Any, report: dict[str, Any]) -> None:
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    ran = {r["test_id"]: r["outcome"] for r in report["results"]}
    for test_id in ("CT-AGN-007", "CT-AGN-008", "CT-AGN-009", "CT-AGN-010", "CT-AGN-011"):
        assert ran.get(test_id) == "passed", (test_id, ran.get(test_id))
    assert ran["CT-AGN-001"] == "not_applicable"  # needs the target's own hub
    assert report["certified_role"]["role"] == "agency-node"
    assert "hub" in report["certified_role"]["played_by_the_kit"]
    assert report["completeness"]["complete"], report["completeness"]
    assert report["capabilities"]["profiles"] == ["agency-node"]


@pytest.mark.requirement("RK-CTL-008", "RK-AGN-007", "RK-AGN-003")
def test_the_kit_certifies_the_reference_node_alone_in_process(tmp_path: Path) -> None:
    out, key, bundle = tmp_path / "report.json", tmp_path / "k.pem", tmp_path / "b.json"
    assert run_renkei("conformance", "keygen", "--out", str(key)).returncode == 0
    proc = run_renkei(
        "conformance", "run", "--target", "reference-node", "--report-json", str(out),
        "--bundle", str(bundle), "--signing-key", str(key),
    )  # fmt: skip
    _passed_as_node_only(proc, _report(out))
    verified = run_renkei("conformance", "verify-bundle", str(bundle), "--require-pass")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "role:      agency-node: one agency node alone; the kit played the hub" in (
        verified.stdout
    )


@pytest.fixture(scope="module")
def one_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """``renkei serve`` with one agency node, its own (the kit repoints the node)."""
    yield from _serve(tmp_path_factory.mktemp("serve-node"), "--agency-nodes", "1")


def _node_target(served: Path, folder: Path, hook: list[str] | None = None) -> Path:
    data = json.loads(served.read_text(encoding="utf-8"))
    (agency, node), *_ = data["agency_nodes"].items()
    target: dict[str, Any] = {"renkei_target": 1, "name": f"{agency} alone",
                              "role": "agency-node",
                              "agency_nodes": {agency: {"url": node["url"]}},
                              "tls": data["tls"]}  # fmt: skip
    if hook is not None:
        target["hub_hook"] = {"command": hook, "timeout_seconds": 60}
    path = folder / "node-target.json"
    path.write_text(json.dumps(target), encoding="utf-8")
    return path


HOOK = """
import json, ssl, sys
import httpx
hub_url, ca_file, credential, served = sys.argv[1:5]
t = json.load(open(served))
ctx = ssl.create_default_context(cafile=t["tls"]["ca"])
ctx.load_cert_chain(t["tls"]["operator"]["cert"], t["tls"]["operator"]["key"])
body = {"url": hub_url, "ca_certificate": open(ca_file).read()}
node = next(iter(t["agency_nodes"].values()))["url"]
r = httpx.put(node + "/control/agency-node/hub", json=body, verify=ctx)
open("hook-ran", "w").write(hub_url)
sys.exit(0 if r.status_code == 200 else 1)
"""


@pytest.mark.requirement("RK-CTL-008", "RK-ARCH-003")
@pytest.mark.parametrize("via", ["control", "hub_hook"])
def test_the_kit_certifies_a_node_of_renkei_serve_alone_over_mutual_tls(
    one_node: Path, tmp_path: Path, via: str
) -> None:
    hook = None
    if via == "hub_hook":
        (tmp_path / "point.py").write_text(HOOK, encoding="utf-8")
        hook = [sys.executable, "point.py", "{hub_url}", "{ca_file}", "{credential}",
                str(one_node)]  # fmt: skip
    target = _node_target(one_node, tmp_path, hook)
    out = tmp_path / "report.json"
    proc = run_renkei("conformance", "run", "--target", str(target), "--report-json", str(out))
    report = _report(out)
    _passed_as_node_only(proc, report)
    assert report["target"]["transport"] == "https, mutual TLS"
    assert "https, mutual TLS" in proc.stdout
    if via == "hub_hook":
        assert (tmp_path / "hook-ran").read_text().startswith("https://127.0.0.1:")
        assert report["target"]["hub"]["via"] == "command"
    else:
        assert report["target"]["hub"]["via"] == "PUT /control/agency-node/hub"


def test_a_node_target_file_names_exactly_one_node(one_node: Path, tmp_path: Path) -> None:
    data = json.loads(one_node.read_text(encoding="utf-8"))
    path = tmp_path / "two.json"
    path.write_text(json.dumps({"renkei_target": 1, "role": "agency-node",
                                "agency_nodes": {"a.one": {"url": "https://127.0.0.1:1"},
                                                 "a.two": {"url": "https://127.0.0.1:2"}},
                                "tls": data["tls"]}), encoding="utf-8")  # fmt: skip
    proc = run_renkei("conformance", "run", "--target", str(path))
    assert proc.returncode == 2, proc.stdout[-500:]
    assert "agency_nodes" in proc.stderr
    fed = tmp_path / "fed.json"
    fed.write_text(json.dumps({**data, "hub_hook": {"command": ["true"]}}), encoding="utf-8")
    proc = run_renkei("conformance", "run", "--target", str(fed))
    assert proc.returncode == 2, proc.stdout[-500:]


@pytest.mark.requirement("RK-CTL-008")
def test_pointing_a_node_at_a_hub_refuses_what_it_cannot_use_and_keeps_its_hub() -> None:
    from renkei_conformance.target import InProcessTransport
    from renkei_reference.node_target import NOWHERE, NodeParts

    parts = NodeParts()
    try:
        with httpx.Client(transport=InProcessTransport(parts.app), base_url="http://node") as c:
            for body in (
                {
                    "url": "https://127.0.0.1:1/hub",
                    "ca_certificate": "-----BEGIN CERTIFICATE-----\n…",
                },
                {"url": "https://127.0.0.1:1/hub"},  # https needs the hub's CA
                {"url": "http://127.0.0.1:1/hub", "ca_certificate": "-----BEGIN CERTIFICATE-----"},
                {"url": "ftp://127.0.0.1/hub", "credential": "x"},
                {"url": "http://127.0.0.1:1/hub", "credential": "x", "extra": 1},
            ):
                r = c.put("/control/agency-node/hub", json=body)
                assert r.status_code == 422, (body, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
            assert parts.node.hub.hub_url == NOWHERE
            r = c.put("/control/agency-node/hub", json={"url": "http://127.0.0.1:1/hub/",
                                                        "credential": "tok"})  # fmt: skip
            assert r.json() == {"hub_url": "http://127.0.0.1:1/hub"}
            assert parts.node.hub.hub_url == "http://127.0.0.1:1/hub"
    finally:
        parts.loop.stop()
