"""Leaks: no secret reaches a party not entitled to it (seed items 9, 13, 21, 22).

The canary sweep (renkei_conformance.canary) runs after every kit test over
every response the test received; this test drives every party through a
world where each kind of secret exists and is disclosed to the kit, so that the
sweep has something of each kind to look for, and checks it found no leak.
"""

from __future__ import annotations

import base64

import pytest

from renkei_conformance.canary import KINDS, sweep
from renkei_conformance.client import Wire
from renkei_conformance.suite.test_portal import issue_card, own_log, sign_in
from renkei_conformance.world import World


@pytest.mark.conformance(
    "CT-LEAK-001",
    requirements=["RK-KEY-001", "RK-IDC-001", "RK-FLOW-001", "RK-FLOW-002"],
    profiles=["hub"],
)
def test_no_response_carries_a_secret_its_receiver_is_not_entitled_to(
    world: World, wire: Wire
) -> None:
    """Every header and body of every response of the run is searched, in every
    encoding (hex, base64, base64url, decimal, inside base64 text), for every
    secret the kit knows and the receiver may not hold: key material (an IC
    card's private key) anywhere but its issuing response (RK-KEY-001), ID codes
    outside the control interface's disclosure (RK-IDC-001), one agency's link
    codes at another (RK-FLOW-001), a payload at anyone but its linkage's
    requester and provider (RK-FLOW-002), Numbers and resident codes at the hub
    and the auditor.  Here: Numbers issued, ID codes disclosed, three agencies
    bound, linkages answered and relayed, every refusal class of a query, the
    auditor's and the person's views read."""
    persons = world.persons[:6]
    for p in persons[:3]:
        world.call(
            "kit.town-m", "POST", "numbering", "/numbers", {"resident_code": p.resident_code}
        ).expect(201)
    codes = [p.resident_code for p in persons]
    wire.control("POST", "/id-codes", {"resident_codes": codes}).expect(200)
    for agency in ("kit.pension", "kit.city-a", "kit.insurer"):
        world.bind(agency, persons)
    payload = base64.b64encode("課税所得 3,210,000円（試験・カナリア）".encode()).decode()
    world.complete_linkages(persons[:3], payload)
    pending = world.query(
        "kit.insurer", persons[3], pattern_id="KIT-P-002", information_kind="income"
    )
    linkage = pending.expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    world.call("kit.pension", "GET", "hub", f"/linkages/{linkage}").expect_problem(
        "unknown-linkage", 404
    )
    foreign = world.link("kit.insurer", persons[4])
    refusals = [
        world.query("kit.pension", link_code=foreign),  # another agency's code
        world.query("kit.pension", persons[4], provider="kit.insurer"),
        world.query("kit.pension", persons[4], information_kind="income"),
        world.query("kit.pension", persons[4], pattern_id="KIT-P-404"),
        world.query("kit.pension", persons[4], claimed_requester="kit.insurer"),
        world.query("kit.insurer", persons[4]),
    ]
    assert all(r.status in (403, 422) for r in refusals), [r.status for r in refusals]
    world.audit_log()
    world.call("kit.auditor", "GET", "auditor", "/anomalies").expect(200)
    token = str(sign_in(world, issue_card(world, persons[0])).expect(201)["session_token"])
    own_log(world, token)
    learned, leaks = sweep(wire.exchanges)
    counts = learned.counts()
    assert all(counts[k] for k in KINDS), f"the sweep learned no secret of some kind: {counts}"
    assert not leaks, "\n".join(map(str, leaks[:10]))
