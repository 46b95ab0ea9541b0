"""Differential views of the access log (issue 14, item 4; seed items 22, 23, 26, 27).

The kit keeps its own oracle of what the hub's log must hold after a run
(``renkei_conformance.oracle.LogOracle``): every approval, a refusal of every
class of the decision table and of the codes, a provision and an expiry, each
with what the wire told the kit (serials, request ids, linkage ids).  The
auditor's view is checked against it entry by entry and field by field, and
each person's My Portal view against the auditor's, field by field.
"""

from __future__ import annotations

import base64
import itertools
from typing import Any

import pytest

from renkei_conformance.oracle import ExpectedEntry, LogOracle
from renkei_conformance.suite.test_portal import session
from renkei_conformance.world import AGENCIES, PATTERNS, World, current_challenge

PERSON_FIELDS = ("serial", "at", "pattern_id", "legal_basis", "requester", "provider",
                 "information_kind", "outcome")  # fmt: skip
LAPSED = {
    "pattern_id": "KIT-P-OLD",
    "legal_basis": "番号法 別表第二 項番（試験）旧",
    "purpose": "廃止された事務（試験）",
    "requesters": ["kit.pension"],
    "providers": ["kit.city-a"],
    "information_kinds": ["local-tax"],
    "answer_within_seconds": 600,
    "valid_from": "2001-01-01T00:00:00Z",
    "valid_until": "2002-01-01T00:00:00Z",
}
_ids = itertools.count(1)


def _request_id() -> str:
    return current_challenge().request_id(900_000 + next(_ids))


@pytest.mark.conformance(
    "CT-LOG-006",
    requirements=["RK-LOG-001", "RK-LOG-002", "RK-AUD-001", "RK-PORT-002"],
    profiles=["hub", "auditor", "my-portal"],
)
def test_the_auditors_view_and_each_persons_view_match_the_kits_oracle(world: World) -> None:
    """After a run of approvals, a refusal of every class (the six decision-table
    reasons in order, a malformed link code, a Number where a link code belongs,
    another agency's link code), a provision and an expiry, the auditor's view of
    the run holds exactly the oracle's entries, in order, field by field (outcome,
    reason, requester and provider ids, pattern, kind, request id, linkage id, the
    serials the wire named, one pseudonym per person and none where no person is
    attributable); each person's My Portal view holds exactly the serials about
    them, every field (①–⑥, the time, the outcome) equal to the auditor's."""
    world.wire.control("PUT", "/patterns", {"patterns": [*PATTERNS, LAPSED]}).expect(200)
    oracle = LogOracle()
    before = max((int(e["serial"]) for e in world.audit_log()), default=0)
    one, two = world.persons[15], world.persons[16]
    link_one, link_two = world.link("kit.pension", one), world.link("kit.pension", two)
    foreign = world.link("kit.city-a", one)

    def ask(requester: str, person: str | None = None, **query: Any) -> Any:
        rid = _request_id()
        body = {"request_id": rid, "requester": query.pop("claimed", requester),
                "provider": "kit.city-a", "pattern_id": "KIT-P-001",
                "information_kind": "local-tax", "link_code": link_one, **query}  # fmt: skip
        reply = world.call(requester, "POST", "hub", "/queries", body)
        facts = {"requester_id": requester, "provider_id": body["provider"],
                 "pattern_id": body["pattern_id"], "information_kind": body["information_kind"],
                 "request_id": rid}  # fmt: skip
        if reply.status == 202:
            oracle.add(ExpectedEntry("approved", **facts, linkage_id=reply["linkage_id"],
                                     person=person,
                                     serial=reply.body.get("serial")))  # fmt: skip
        else:
            assert reply.is_problem, reply.text[:300]
            oracle.add(ExpectedEntry("refused", **facts, reason=reply.problem,
                                     serial=reply.body.get("serial")))  # fmt: skip
        return reply

    first = ask("kit.pension", "one")
    linkage_one = first.expect(202)["linkage_id"]
    refusals = [
        ("identity-mismatch", {"claimed": "kit.insurer"}),
        ("unknown-pattern", {"pattern_id": "KIT-P-NONE"}),
        ("requester-not-designated", {"pattern_id": "KIT-P-002", "information_kind": "income"}),
        ("provider-not-designated", {"provider": "kit.insurer"}),
        ("information-kind-not-covered", {"information_kind": "income"}),
        ("outside-validity", {"pattern_id": "KIT-P-OLD"}),
        ("malformed-link-code", {"link_code": "not a link code!"}),
        ("number-where-link-code-expected", {"link_code": "123456789018"}),
        ("link-code-not-valid-for-agency", {"link_code": foreign}),
    ]
    for slug, query in refusals:
        reply = ask("kit.pension", None, **query)
        assert reply.problem == slug, f"{slug}: HTTP {reply.status} {reply.text[:300]}"
    payload = base64.b64encode(b"views").decode()
    for d in world.deliveries("kit.city-a"):
        world.call("kit.city-a", "POST", "hub", f"/linkages/{d['linkage_id']}/answer",
                   {"payload": payload}).expect(202)  # fmt: skip
    got = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_one}").expect(200)
    assert got["answer"]["payload"] == payload
    rid = oracle.entries[0].request_id
    oracle.add(ExpectedEntry("provided", "kit.pension", "kit.city-a", "KIT-P-001", "local-tax",
                             rid, linkage_id=linkage_one, person="one"))  # fmt: skip
    second = ask("kit.pension", "two", link_code=link_two)
    linkage_two = second.expect(202)["linkage_id"]
    world.wire.control("POST", "/clock/advance", {"seconds": 601}).expect(200)
    oracle.add(ExpectedEntry("expired", "kit.pension", "kit.city-a", "KIT-P-001", "local-tax",
                             oracle.entries[-1].request_id, reason="deadline-passed",
                             linkage_id=linkage_two, person="two"))  # fmt: skip
    world.deliveries("kit.city-a")  # the hub notices the deadline by now at the latest

    view = [e for e in world.audit_log() if int(e["serial"]) > before]
    differences = oracle.differences(view)
    assert not differences, "the auditor's view departs from the run:\n  " + "\n  ".join(
        differences[:12]
    )
    names = {a: current_challenge().agency_name(n) for a, (n, _) in AGENCIES.items()}
    for e in view:
        assert (e["requester"], e["provider"]) == (names[e["requester_id"]],
                                                   names[e["provider_id"]]), e  # fmt: skip
    auditor = {int(e["serial"]): e for e in view}
    for person, key in ((one, "one"), (two, "two")):
        token = session(world, person)
        app = world.wire.call("POST", "portal", "/applications", json_body={}, token=token)
        page = world.wire.call(
            "GET", "portal", "/access-logs", token=token,
            params={"application_id": app.expect(201)["application_id"]},
        ).expect(200)  # fmt: skip
        shown = [e for e in page["entries"] if int(e["serial"]) > before]
        assert [int(e["serial"]) for e in shown] == oracle.about(key, view), (
            f"My Portal shows {[e['serial'] for e in shown]} to person {key}, "
            f"the run made {oracle.about(key, view)} about them"
        )
        for e in shown:
            theirs = auditor[int(e["serial"])]
            differ = [f for f in PERSON_FIELDS if e.get(f) != theirs.get(f)]
            assert not differ, f"entry {e['serial']}: My Portal and the auditor differ on {differ}"
