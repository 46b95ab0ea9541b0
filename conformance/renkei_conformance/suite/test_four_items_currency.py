"""Keeping the 4 items current through the resident registry (seed items 14, 20).

Seed item 14 (第１．４．（２）) makes each agency responsible for keeping its 4
items current and asks that the resident registry be usable for it; seed item
20 (第１．５．（４）①) has the requester update a person's 4 items before a query
so that it knows the right provider.  renkei offers this through the hub
(``POST /hub/latest-four-items``): the agency names the person by its own link
code and sends the 4 items it holds; only when those are exactly one recorded
state of that person does it get the latest 4 items — never a code — and every
use is logged (RK-BND-006).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from renkei_conformance.world import Person, World


def _row(ref: str, link: str, held: Person) -> dict[str, Any]:
    return {"record_ref": ref, "link_code": link, "four_items": held.four_items()}


@pytest.mark.conformance("CT-BND-007", requirements=["RK-BND-006"], profiles=["hub"])
def test_an_agency_brings_its_bound_records_current_by_link_code(world: World) -> None:
    """After a move, a change of name and a move back, an agency that holds
    the person's link code and any one recorded state of the 4 items gets the
    latest 4 items (``updated``; ``current`` when it already had them); 4 items
    that were never that person's state give ``no-data`` and nothing else; a link
    code of another agency refuses the request (422
    ``link-code-not-valid-for-agency``), a private body or the auditor may not
    use it (403); no response carries a resident code, a Number or an ID code;
    each use is in the administrative log without the 4 items."""
    p, other = world.persons[8], world.persons[9]
    link = world.link("kit.pension", p)
    other_link = world.link("kit.city-a", other)
    moved = replace(p, address="北海道札幌市中央区北1条西2丁目1番地")
    renamed = replace(moved, name="山田 花子", name_kana="ヤマダ ハナコ")
    for state in (moved, renamed):
        world.wire.control("POST", "/residents", {"residents": [state.resident()]}).expect(200)
    records = [
        _row("first", link, p),
        _row("moved", link, moved),
        _row("latest", link, renamed),
        _row("never", link, replace(p, birth_date="1901-01-01")),
        _row("someone-else", link, other),
    ]
    reply = world.call("kit.pension", "POST", "hub", "/latest-four-items", {"records": records})
    got = {r["record_ref"]: r for r in reply.expect(200)["results"]}
    assert [r["record_ref"] for r in reply["results"]] == [r["record_ref"] for r in records]
    for ref in ("first", "moved"):
        assert got[ref]["status"] == "updated", (ref, got[ref])
    assert got["latest"]["status"] == "current", got["latest"]
    for ref in ("first", "moved", "latest"):
        items = got[ref]["four_items"]
        assert {k: items[k] for k in ("name", "address", "birth_date", "sex")} == {
            k: renamed.four_items()[k] for k in ("name", "address", "birth_date", "sex")
        }, (ref, items)
    for ref in ("never", "someone-else"):
        assert got[ref] == {"record_ref": ref, "status": "no-data"}, got[ref]
    text = reply.text
    assert p.resident_code not in text
    assert other.resident_code not in text
    # another agency's link code: this agency has not bound that person
    world.call(
        "kit.pension",
        "POST",
        "hub",
        "/latest-four-items",
        {"records": [_row("theirs", other_link, other)]},
    ).expect_problem("link-code-not-valid-for-agency", 422)
    world.call(
        "kit.auditor",
        "POST",
        "hub",
        "/latest-four-items",
        {"records": [_row("x", link, renamed)]},
    ).expect_problem("forbidden-role", 403)
    admin = world.call(
        "kit.auditor", "GET", "auditor", "/admin-logs", params={"after": 0, "limit": 10_000}
    ).expect(200)
    uses = [e for e in admin["entries"] if e["event"] == "four-items-currency"]
    assert len(uses) == 1, "one logged use per accepted request"
    assert uses[0]["actor"] == "kit.pension"
    assert uses[0]["details"]["records"] == 5
    assert uses[0]["details"]["updated"] == 2
    assert uses[0]["details"]["no-data"] == 2
    logged = json.dumps(admin.body, ensure_ascii=False)
    for value in (renamed.name, moved.address, p.address, link):
        assert value not in logged, "the log holds the 4 items or a link code"
