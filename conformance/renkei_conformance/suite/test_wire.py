"""The wire itself: authentication and errors (seed items 2, 30, 33)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from renkei_conformance.badinput import bad_requests, describe
from renkei_conformance.client import Wire, request_timeout
from renkei_conformance.coherence import NOT_JSON, failure_listed, validation_departures
from renkei_conformance.openapi import load_contract
from renkei_conformance.plugin import ALL_PROFILES, KitSession
from renkei_conformance.world import World


@pytest.mark.conformance("CT-ARCH-001", requirements=["RK-ARCH-002"], profiles=["hub"])
def test_unauthenticated_requests_are_refused(world: World, wire: Wire) -> None:
    """A query without a credential, or with an unknown one, gets 401."""
    body = {
        "request_id": "anon-1",
        "requester": "kit.pension",
        "provider": "kit.city-a",
        "pattern_id": "KIT-P-001",
        "information_kind": "local-tax",
        "link_code": world.link("kit.pension", world.persons[0]),
    }
    wire.call("POST", "hub", "/queries", json_body=body).expect_problem("unauthenticated", 401)
    wire.call("POST", "hub", "/queries", json_body=body, token="forged-token").expect_problem(
        "unauthenticated", 401
    )


@pytest.mark.conformance("CT-ARCH-003", requirements=["RK-ARCH-002"], profiles=["hub"])
@pytest.mark.parametrize("case", ["not-json", "text-plain"])
def test_caller_is_authenticated_before_the_body_is_judged(world: World, case: str) -> None:
    """A body that is not JSON (or not JSON by its content type) is judged only once
    the caller is authenticated: without a credential or with an unknown one the hub
    answers 401 `unauthenticated`, with a credential whose role may not call the
    operation 403 `forbidden-role`, never 422 or 415 first."""
    media = "application/json" if case == "not-json" else "text/plain"
    headers = {"content-type": media}
    for path in ("/queries", "/answers", "/bindings"):
        for token in (None, "forged-token"):
            world.wire.call(
                "POST", "hub", path, content=b"{not json", token=token, headers=headers
            ).expect_problem("unauthenticated", 401)
        world.wire.call(
            "POST",
            "hub",
            path,
            content=b"{not json",
            token=world.tokens["kit.auditor"],
            headers=headers,
        ).expect_problem("forbidden-role", 403)


@pytest.mark.conformance(
    "CT-WIRE-001", requirements=["RK-WIRE-001", "RK-WIRE-002"], profiles=["hub"]
)
@pytest.mark.parametrize(
    "case",
    ["missing-field", "wrong-type", "not-json", "unknown-field", "text-plain", "bad-agency-id"],
)
def test_malformed_requests_get_problem_json(world: World, case: str) -> None:
    """Malformed bodies are refused with 4xx application/problem+json, never 5xx."""
    good = {
        "request_id": f"bad-{case}",
        "requester": "kit.pension",
        "provider": "kit.city-a",
        "pattern_id": "KIT-P-001",
        "information_kind": "local-tax",
        "link_code": world.link("kit.pension", world.persons[0]),
    }
    token = world.tokens["kit.pension"]
    if case in ("not-json", "text-plain"):
        media = "application/json" if case == "not-json" else "text/plain"
        reply = world.wire.call(
            "POST",
            "hub",
            "/queries",
            content=b"{not json",
            token=token,
            headers={"content-type": media},
        )
    else:
        body = dict(good)
        if case == "missing-field":
            del body["link_code"]
        elif case == "bad-agency-id":
            body["provider"] = "Not An Agency!"
        elif case == "wrong-type":
            body["information_kind"] = 42  # type: ignore[assignment]
        else:
            body["surprise"] = True  # type: ignore[assignment]
        reply = world.wire.call("POST", "hub", "/queries", json_body=body, token=token)
    assert 400 <= reply.status < 500, f"expected 4xx, got {reply.status}"
    assert reply.is_problem, f"not problem+json: {reply.content_type}"
    assert str(reply.body.get("type", "")).startswith("urn:renkei:problem:")
    specific = {
        "text-plain": ("unsupported-media-type", 415),
        "bad-agency-id": ("malformed-agency-id", 422),
    }
    if case in specific:
        reply.expect_problem(*specific[case])


@pytest.mark.conformance("CT-WIRE-002", requirements=["RK-WIRE-005", "RK-WIRE-003"])
def test_every_party_publishes_a_discovery_document(wire: Wire, renkei: KitSession) -> None:
    """Each origin of the target serves ``/.well-known/renkei`` without a
    credential, matching the interface; it names known profiles and the catalog
    and interface versions, which must be the ones this kit tests (same major
    and minor version); the kit selected its tests from it."""
    contract = load_contract()
    kit_interface = contract.document["info"]["version"]
    for origin in wire.origins():
        doc = wire.discovery(origin).expect(200).body
        assert set(doc["profiles"]) <= set(ALL_PROFILES), doc["profiles"]
        for key, ours in (
            ("catalog_version", renkei.catalog.version),
            ("interface_version", kit_interface),
        ):
            assert doc[key].split(".")[:2] == ours.split(".")[:2], (
                f"{origin} implements {key} {doc[key]}; this kit tests {ours} (RK-WIRE-003)"
            )
    if "capability file" not in str(renkei.capabilities.get("source")):
        assert str(renkei.capabilities.get("source", "")).startswith("discovery"), (
            "the kit must select tests from the discovery document (RK-WIRE-005)"
        )


_CONTRACT = load_contract()


def _parsed(content: bytes) -> Any:
    """A raw body as the JSON it holds, or NOT_JSON."""
    try:
        return json.loads(content)
    except ValueError:
        return NOT_JSON


_TOKENS = {"hub": "kit.pension", "numbering-authority": "kit.town-m", "auditor": "kit.auditor"}


@pytest.mark.conformance("CT-WIRE-003", requirements=["RK-WIRE-001", "RK-WIRE-002"])
@pytest.mark.parametrize(
    "operation_id",
    [
        op.operation_id
        for op in _CONTRACT.operations
        if op.spec.get("parameters") or op.spec.get("requestBody")
    ],
)
def test_bad_input_derived_from_the_interface_never_gets_a_5xx(
    request: pytest.FixtureRequest, wire: Wire, renkei: KitSession, operation_id: str
) -> None:
    """Every operation is sent requests its schema forbids — each required member
    missing, each member of the wrong type, an undeclared member, an array or a
    string for the object, a body that is not JSON, a wrong media type — and odd
    values (empty, 10,000 characters, NUL, astral-plane characters, path segments
    that try to escape).  No response may be a 5xx; every error must be
    problem+json with a registered-style type and its status; what the schema
    forbids must get a 4xx."""
    op = next(o for o in _CONTRACT.operations if o.operation_id == operation_id)
    profile = str(op.spec.get("x-renkei-profile"))
    if profile not in ("control", "any") and profile not in renkei.capabilities["profiles"]:
        pytest.skip(f"not applicable: target declares no {profile} profile")
    problems: list[str] = []
    node = op.template.startswith(("/agency/", "/control/agency-node/"))
    if node and not wire.target.agency_nodes:
        pytest.skip("not applicable: the target declares no agency node")
    if wire.target.node_only:  # an agency node alone: its own operations, as the auditor
        if not node:
            pytest.skip("not applicable: an operation of a party the agency node is not")
        token = wire.target.node_credentials.get("kit.auditor")
    else:
        world: World = request.getfixturevalue("world")
        token = world.tokens.get(_TOKENS.get(profile, ""))
    for req in bad_requests(_CONTRACT, op):
        party = req.path.split("/")[1]
        if node:  # served by the agency node, under its own base URL
            url = wire.target.agency_nodes[sorted(wire.target.agency_nodes)[0]] + req.path
        else:
            url = wire.url(party, req.path[len(party) + 1 :])
        headers = dict(req.headers)
        if token:
            headers["authorization"] = f"Bearer {token}"
        kw: dict[str, Any] = {"headers": headers, "params": req.params}
        kw["content" if req.content is not None else "json"] = (
            req.content if req.content is not None else req.json_body
        )
        # a batch as large as the schema allows is a batch: its allowance grows with it
        kw["timeout"] = request_timeout(wire.target.timeout, req.json_body)
        resp = wire.http.request(req.method, url, **kw)
        status, ctype = resp.status_code, resp.headers.get("content-type", "")
        what = f"{describe(req)} → {status}"
        if status >= 500:
            problems.append(f"{what}: a 5xx for bad input (RK-WIRE-001)")
        elif status >= 400:
            try:
                body = resp.json()
            except ValueError:
                body = None
            if not ctype.startswith("application/problem+json") or not isinstance(body, dict):
                problems.append(f"{what}: error is not problem+json ({ctype})")
            elif (
                not str(body.get("type", "")).startswith("urn:renkei:problem:")
                or body.get("status") != status
            ):
                problems.append(f"{what}: problem type/status malformed: {resp.text[:200]}")
            else:
                # the problem as a closed document of the operation (RK-WIRE-002) and
                # its registry entry (RK-WIRE-001), and where its errors point
                departures = _CONTRACT.check(
                    req.method, req.path, status, ctype, body, headers=resp.headers.keys()
                )
                sent = req.json_body if req.content is None else _parsed(req.content)
                departures += validation_departures(body, op, sent, req.params)
                departures += failure_listed(body, req.broken)
                problems += [f"{what}: {d}" for d in departures[:3]]
        elif req.must_refuse:
            problems.append(f"{what}: the schema forbids this request, yet it was accepted")
    assert not problems, f"{len(problems)} bad responses:\n  " + "\n  ".join(problems[:25])


@pytest.mark.conformance("CT-WIRE-004", requirements=["RK-WIRE-001"])
def test_a_method_a_path_does_not_accept_gets_405_with_allow(
    world: World, wire: Wire, renkei: KitSession
) -> None:
    """Every path of the interface, asked with a method it does not declare, is
    answered 405 ``method-not-allowed`` with an ``Allow`` header naming the
    methods it does accept (RFC 9110 §15.5.6) — at least those the interface
    declares for it."""
    declared: dict[str, set[str]] = {}
    profiles: dict[str, str] = {}
    for op in _CONTRACT.operations:
        declared.setdefault(op.template, set()).add(op.method.upper())
        profiles[op.template] = str(op.spec.get("x-renkei-profile"))
    problems: list[str] = []
    for template, methods in sorted(declared.items()):
        profile = profiles[template]
        if profile not in ("control", "any") and profile not in renkei.capabilities["profiles"]:
            continue
        if template.startswith(("/agency/", "/control/agency-node/", "/.well-known")):
            continue  # agency nodes: their own origin; discovery: outside the parties
        path = re.sub(r"\{[^}]+\}", "x", template)
        party = path.split("/")[1]
        if party not in wire.target.parties:
            continue
        wrong = next(m for m in ("DELETE", "PATCH", "PUT") if m not in methods)
        token = world.tokens.get(_TOKENS.get(profile, ""))
        headers = {"authorization": f"Bearer {token}"} if token else {}
        resp = wire.http.request(wrong, wire.url(party, path[len(party) + 1 :]), headers=headers)
        allow = {m.strip().upper() for m in resp.headers.get("allow", "").split(",") if m.strip()}
        if resp.status_code != 405 or not resp.headers.get("content-type", "").startswith(
            "application/problem+json"
        ):
            problems.append(f"{wrong} {path} → {resp.status_code}, not a 405 problem")
        elif not methods <= allow:
            problems.append(
                f"{wrong} {path} → 405 with Allow {sorted(allow)}, not {sorted(methods)}"
            )
    assert not problems, f"{len(problems)} paths:\n  " + "\n  ".join(problems[:25])
