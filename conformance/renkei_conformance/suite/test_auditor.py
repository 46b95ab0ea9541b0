"""The third-party body merges all logs and reports what it finds (seed items 19, 23, 24, 27).

Item 27 (第１．６．（５）): the third-party body views and analyses the hub's and
the agencies' logs; item 23 (第１．６．（１）): to detect unauthorised access and
leaks; item 24 (第１．６．（２）): the agencies keep ⑦–⑫ themselves.  The kit makes
the agencies' shares through the control interface (a simulated node per
agency, ``POST /control/agency-log-entries``, or a node address, ``PUT
/control/agency-nodes``), drives real queries through the hub, and checks that
``/auditor/discrepancies`` and ``/auditor/anomalies`` report each kind with the
entries concerned.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from renkei_conformance.world import World

PAYLOAD = base64.b64encode(b"kit-audit").decode()
UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens there


def _findings(world: World, what: str, **params: Any) -> list[dict[str, Any]]:
    """Every finding of ``/auditor/<what>``, following the paging."""
    key = "discrepancies" if what == "discrepancies" else "anomalies"
    found: list[dict[str, Any]] = []
    after = 0
    for _ in range(100):
        page = world.call(
            "kit.auditor", "GET", "auditor", f"/{what}", params={**params, "after": after}
        ).expect(200)
        found.extend(page[key])
        if "next_after" not in page.body:
            return found
        after = page["next_after"]
    raise AssertionError(f"/auditor/{what} pages without end")


def _kinds(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [f for f in found if f["kind"] == kind]


def _entry(world: World, serial: int) -> dict[str, Any]:
    return next(e for e in world.audit_log() if e["serial"] == serial)


def _share(hub: dict[str, Any], side: str, **kw: Any) -> dict[str, Any]:
    """What a faithful node records for the hub entry ``hub`` (⑦–⑫ and ①)."""
    return {
        "hub_serial": hub["serial"],
        "linkage_id": hub.get("linkage_id"),
        "side": side,
        "at": hub["at"],
        "requester": hub["requester_id"],
        "provider": hub["provider_id"],
        "pattern_id": hub["pattern_id"],
        "information_kind": hub["information_kind"],
        "outcome": {"provided": "answered"}.get(hub["outcome"], hub["outcome"]),
        "operator": kw.pop("operator", "kit-staff-1"),
        "terminal": kw.pop("terminal", "kit-terminal-1"),
        **kw,
    }


def _plant(world: World, agency: str, entries: list[dict[str, Any]]) -> list[int]:
    reply = world.wire.control(
        "POST", "/agency-log-entries", {"agency_id": agency, "entries": entries}
    ).expect(201)
    serials: list[int] = reply["serials"]
    return serials


@pytest.mark.conformance(
    "CT-AUD-001",
    requirements=["RK-AUD-002", "RK-AUD-003", "RK-ARCH-002", "RK-LOG-006"],
    profiles=["auditor"],
)
def test_only_the_auditor_reads_findings_and_each_read_is_logged(world: World) -> None:
    """An agency gets 403 ``forbidden-role`` and a caller without credential 401 on
    both reports; the auditor gets 200, and each analysis it runs is an entry of
    the administrative log."""
    world.query("kit.pension", world.persons[0]).expect(202)
    for path in ("/discrepancies", "/anomalies"):
        world.call("kit.pension", "GET", "auditor", path).expect_problem("forbidden-role", 403)
        world.call("kit.town-m", "GET", "auditor", path).expect_problem("forbidden-role", 403)
        world.wire.call("GET", "auditor", path).expect_problem("unauthenticated", 401)
    before = world.call("kit.auditor", "GET", "auditor", "/admin-logs").expect(200)["entries"]
    world.call("kit.auditor", "GET", "auditor", "/discrepancies").expect(200)
    world.call("kit.auditor", "GET", "auditor", "/anomalies").expect(200)
    after = world.call(
        "kit.auditor", "GET", "auditor", "/admin-logs", params={"after": len(before)}
    ).expect(200)["entries"]
    reads = [e for e in after if e["event"] == "auditor-read" and e["actor"] == "kit.auditor"]
    assert len(reads) >= 3, "each analysis (and the admin-log read) must be logged (RK-LOG-006)"


@pytest.mark.conformance("CT-AUD-002", requirements=["RK-AUD-002"], profiles=["auditor"])
def test_an_entry_on_one_side_without_its_counterpart_is_reported(world: World) -> None:
    """Faithful shares of an answered linkage merge without findings; an approved
    query the requester did not record is ``requester-entry-missing``; a share
    recording another ⑥ is ``field-mismatch``; an agency entry naming a serial the
    hub never wrote is ``unknown-serial`` — each naming its serial and agency."""
    world.complete_linkages([world.persons[0]], PAYLOAD)
    asked = world.query("kit.pension", world.persons[1]).expect(202)["serial"]
    log = world.audit_log()
    approved = next(e for e in log if e["outcome"] == "approved" and e["serial"] != asked)
    provided = next(e for e in log if e["outcome"] == "provided")
    _plant(world, "kit.pension", [_share(approved, "requester", use="年金額の決定（試験）")])
    _plant(world, "kit.city-a", [_share(provided, "provider", content="課税額（試験）")])
    found = _findings(world, "discrepancies")
    named = {s for f in found for s in f["hub_serials"]}
    assert not ({approved["serial"], provided["serial"]} & named), (
        f"a faithfully recorded linkage was reported: {found}"
    )
    missing = _kinds(found, "requester-entry-missing")
    assert [(f["hub_serials"], f["agency_id"]) for f in missing] == [([asked], "kit.pension")], (
        f"the unrecorded approved query {asked} is not reported: {found}"
    )
    wrong = {**_share(_entry(world, asked), "requester"), "information_kind": "income"}
    (wrong_serial,) = _plant(world, "kit.pension", [wrong])
    ghost = {**_share(approved, "requester"), "hub_serial": 900_000}
    (ghost_serial,) = _plant(world, "kit.pension", [ghost])
    found = _findings(world, "discrepancies")
    mismatch = _kinds(found, "field-mismatch")
    assert any(
        f["hub_serials"] == [asked]
        and {"agency_id": "kit.pension", "serial": wrong_serial} in f["agency_entries"]
        for f in mismatch
    ), f"a different ⑥ for serial {asked} is not reported: {found}"
    unknown = _kinds(found, "unknown-serial")
    assert any(
        {"agency_id": "kit.pension", "serial": ghost_serial} in f["agency_entries"] for f in unknown
    ), f"an agency entry naming serial 900000 is not reported: {found}"
    assert not _kinds(found, "requester-entry-missing")
    first = world.call(
        "kit.auditor", "GET", "auditor", "/discrepancies", params={"limit": 1}
    ).expect(200)
    assert len(first["discrepancies"]) == 1, "limit is not honoured"
    assert "next_after" in first.body, "a page that is not the last names next_after"


@pytest.mark.conformance("CT-AUD-003", requirements=["RK-AUD-002"], profiles=["auditor"])
def test_an_agency_log_that_cannot_be_read_is_itself_reported(world: World) -> None:
    """The provider's node does not answer and the requester has no share: the
    report is still 200 and names both as ``agency-log-unavailable``."""
    world.wire.control(
        "PUT", "/agency-nodes", {"agency_id": "kit.city-a", "url": UNREACHABLE}
    ).expect(204)
    world.query("kit.pension", world.persons[0]).expect(202)
    found = _findings(world, "discrepancies")
    unavailable = {f["agency_id"] for f in _kinds(found, "agency-log-unavailable")}
    assert {"kit.city-a", "kit.pension"} <= unavailable, found


@pytest.mark.conformance("CT-AUD-004", requirements=["RK-AUD-003"], profiles=["auditor"])
def test_use_outside_business_hours_is_reported(world: World) -> None:
    """A query at 02:30 in Japan is ``outside-operating-hours`` under hours 8–20
    (JST); one at 10:00 is not."""
    world.wire.control("PUT", "/clock", {"now": "2030-06-15T17:30:00+00:00"}).expect(200)
    night = world.query("kit.pension", world.persons[0]).expect(202)["serial"]
    world.wire.control("PUT", "/clock", {"now": "2030-06-16T01:00:00+00:00"}).expect(200)
    day = world.query("kit.pension", world.persons[1]).expect(202)["serial"]
    found = _kinds(
        _findings(world, "anomalies", operating_hours_start=8, operating_hours_end=20),
        "outside-operating-hours",
    )
    serials = {s for f in found for s in f["hub_serials"]}
    assert night in serials, f"the 02:30 JST query {night} is not reported: {found}"
    assert day not in serials, "a 10:00 JST query is reported as outside business hours"


@pytest.mark.conformance("CT-AUD-005", requirements=["RK-AUD-003"], profiles=["auditor"])
def test_volume_spikes_per_requester_operator_and_terminal_are_reported(world: World) -> None:
    """Four queries by one operator at one terminal exceed a threshold of three:
    ``operator-volume`` and ``terminal-volume`` name exactly those four agency
    entries; five queries by the requester exceed four (``requester-volume``)."""
    serials = [world.query("kit.pension", p).expect(202)["serial"] for p in world.persons[:5]]
    log = {e["serial"]: e for e in world.audit_log()}
    busy = _plant(
        world,
        "kit.pension",
        [_share(log[s], "requester", operator="kit-op-X", terminal="kit-T-1") for s in serials[:4]],
    )
    _plant(world, "kit.pension", [_share(log[serials[4]], "requester", operator="kit-op-Y",
                                         terminal="kit-T-2")])  # fmt: skip
    found = _findings(
        world,
        "anomalies",
        max_queries_per_operator=3,
        max_queries_per_terminal=3,
        max_queries_per_requester=4,
    )
    expected = sorted(busy)
    for kind in ("operator-volume", "terminal-volume"):
        hits = _kinds(found, kind)
        assert [sorted(e["serial"] for e in f["agency_entries"]) for f in hits] == [expected], (
            f"{kind}: {hits}"
        )
        assert all(e["agency_id"] == "kit.pension" for f in hits for e in f["agency_entries"])
    volume = _kinds(found, "requester-volume")
    assert any(set(serials) <= set(f["hub_serials"]) for f in volume), volume
    quiet = _findings(world, "anomalies", max_queries_per_operator=4, max_queries_per_terminal=4)
    assert not _kinds(quiet, "operator-volume")
    assert not _kinds(quiet, "terminal-volume")


@pytest.mark.conformance("CT-AUD-006", requirements=["RK-AUD-003"], profiles=["auditor"])
def test_repeated_queries_on_one_person_are_reported(world: World) -> None:
    """Three queries about one person exceed a threshold of two
    (``person-queried-repeatedly``); queries about her by two requesters exceed one
    requester (``person-queried-by-many``); a person asked about once is in neither."""
    target, other = world.persons[0], world.persons[1]
    mine = [world.query("kit.pension", target).expect(202)["serial"] for _ in range(3)]
    mine.append(
        world.query(
            "kit.insurer", target, pattern_id="KIT-P-002", information_kind="income"
        ).expect(202)["serial"]
    )
    once = world.query("kit.pension", other).expect(202)["serial"]
    found = _findings(world, "anomalies", max_queries_per_person=2, max_requesters_per_person=1)
    for kind in ("person-queried-repeatedly", "person-queried-by-many"):
        hits = _kinds(found, kind)
        assert [sorted(f["hub_serials"]) for f in hits] == [sorted(mine)], f"{kind}: {hits}"
        assert once not in {s for f in hits for s in f["hub_serials"]}


@pytest.mark.conformance("CT-AUD-007", requirements=["RK-AUD-003"], profiles=["auditor"])
def test_use_outside_the_designation_and_refusal_rates_are_reported(world: World) -> None:
    """A query under a pattern that does not designate the requester, and an agency
    action refused for an undesignated terminal, are ``outside-designation``; two
    refusals in three queries exceed a 40 % ``refusal-rate``."""
    ok = world.query("kit.pension", world.persons[0]).expect(202)["serial"]
    refused = world.query(
        "kit.pension", world.persons[0], pattern_id="KIT-P-002", information_kind="income"
    ).expect(403)
    assert refused.problem == "requester-not-designated"
    world.query("kit.pension", world.persons[1], pattern_id="KIT-P-404").expect(403, 404, 422)
    log = world.audit_log()
    outside = next(
        e["serial"]
        for e in log
        if e["serial"] != ok and e.get("reason") == "requester-not-designated"
    )
    (denied,) = _plant(
        world,
        "kit.city-a",
        [{"side": "provider", "outcome": "refused", "reason": "terminal-not-designated",
          "operator": "kit-staff-9", "terminal": "kit-unlisted-terminal"}],
    )  # fmt: skip
    found = _findings(world, "anomalies", min_queries_for_rate=2, max_refusal_rate=0.4)
    hits = _kinds(found, "outside-designation")
    assert any(outside in f["hub_serials"] and f["agency_id"] == "kit.pension" for f in hits), hits
    assert ok not in {s for f in hits for s in f["hub_serials"]}
    assert any(
        {"agency_id": "kit.city-a", "serial": denied} in f["agency_entries"] for f in hits
    ), f"the agency's refusal of an undesignated terminal is not reported: {hits}"
    rate = _kinds(found, "refusal-rate")
    assert [f["agency_id"] for f in rate] == ["kit.pension"], rate
    assert outside in rate[0]["hub_serials"]
    assert ok not in rate[0]["hub_serials"]


@pytest.mark.conformance("CT-AUD-008", requirements=["RK-AUD-003"], profiles=["auditor"])
def test_expired_linkages_per_provider_are_reported(world: World) -> None:
    """A linkage the provider lets expire exceeds a threshold of none
    (``provider-expiries``, naming the expiry's serial and the provider)."""
    linkage = world.query("kit.pension", world.persons[0]).expect(202)["linkage_id"]
    world.wire.control("POST", "/clock/advance", {"seconds": 3600}).expect(200)
    expired = [
        e["serial"]
        for e in world.audit_log()
        if e["outcome"] == "expired" and e.get("linkage_id") == linkage
    ]
    assert expired, "the linkage did not expire"
    hits = _kinds(_findings(world, "anomalies", max_expired_per_provider=0), "provider-expiries")
    assert [(f["agency_id"], f["hub_serials"]) for f in hits] == [("kit.city-a", expired)], hits
