"""The access log is complete (seed items 22–24, 27)."""

from __future__ import annotations

import base64

import pytest

from renkei_conformance.world import World

HUB_FIELDS = (
    "serial",
    "at",
    "pattern_id",
    "legal_basis",
    "requester",
    "provider",
    "information_kind",
    "outcome",
)  # ①–⑥ of item 23 and the outcome


@pytest.mark.conformance(
    "CT-LOG-001", requirements=["RK-LOG-001", "RK-LOG-002"], profiles=["hub", "auditor"]
)
def test_every_query_is_logged_with_fields_one_to_six(world: World) -> None:
    """An approved-and-answered query and a refused one both appear in the
    auditor's view with ① serial ② date-time ③ pattern ④ requester ⑤ provider
    ⑥ information kind and their outcome; serials increase strictly."""
    person = world.persons[2]
    ok = world.query("kit.pension", person).expect(202)["linkage_id"]
    refused = world.query(
        "kit.pension", person, pattern_id="KIT-P-002", information_kind="income"
    ).expect(403)
    assert refused.problem == "requester-not-designated"
    for d in world.deliveries("kit.city-a"):
        world.call(
            "kit.city-a",
            "POST",
            "hub",
            f"/linkages/{d['linkage_id']}/answer",
            {"payload": base64.b64encode(b"ok").decode()},
        ).expect(202)
    world.call("kit.pension", "GET", "hub", f"/linkages/{ok}").expect(200)
    entries = world.audit_log()
    for e in entries:
        missing = [f for f in HUB_FIELDS if e.get(f) in (None, "")]
        assert not missing or (missing == ["legal_basis"] and e["outcome"] == "refused"), (
            f"entry {e.get('serial')} lacks {missing}"
        )
    serials = [int(e["serial"]) for e in entries]
    assert serials == sorted(set(serials)), "serial numbers must increase strictly (①)"
    mine = [e for e in entries if e.get("linkage_id") == ok]
    assert {"approved", "provided"} <= {e["outcome"] for e in mine}
    refusals = [e for e in entries if e["outcome"] == "refused"]
    assert any(e["pattern_id"] == "KIT-P-002" and e["requester"] for e in refusals)
    assert all(e["pattern_id"] == "KIT-P-001" for e in mine)


@pytest.mark.conformance(
    "CT-LOG-002", requirements=["RK-LOG-001", "RK-NUM-003"], profiles=["hub", "auditor"]
)
def test_refusals_of_codes_are_logged_too(world: World) -> None:
    """A query refused for its link code (not the pattern) is still logged."""
    before = len(world.audit_log())
    world.query("kit.pension", link_code="123456789018").expect(400, 422)
    after = world.audit_log()
    assert len(after) == before + 1
    assert after[-1]["outcome"] == "refused"
