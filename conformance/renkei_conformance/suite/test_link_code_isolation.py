"""Link codes isolated per agency, looked at whole and at every door (seed items 5, 9, 12).

``test_link_codes`` compares a few bytes of two unrelated agencies' codes and presents
a foreign code at one operation.  These tests close the gaps an implementation slips
through (issue 14):

* whole codes across agencies — agencies whose ids share a long prefix included — share
  no prefix or tail and are related by no constant XOR or difference;
* every operation that accepts a link code, found from the OpenAPI document, refuses
  another agency's code exactly as it refuses a forged one (same status, problem type,
  title, detail and headers: the refusal must not tell a code that exists elsewhere
  from one that exists nowhere), and refuses a well-formed code of a key version the
  hub never had.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest

from renkei_conformance.client import Reply
from renkei_conformance.openapi import load_contract
from renkei_conformance.world import Person, World, link_code_bytes

pytestmark = pytest.mark.usefixtures("wire")

PREFIX_SIBLINGS = {
    # ids sharing a long prefix with kit.pension: a unit key derived from a truncated
    # or padded id, or from the id's first block only, gives them related codes
    "kit.pension-annex": ("日本年金機構 別館（試験）", "agency"),
    "kit.pensio": ("年金（試験・短い識別子）", "agency"),
}
SHARED_RUN = 5
"""Bytes two independent 44-byte codes share at the start or the end with
probability ≈ 2 · 2⁻⁴⁰ per pair: refuse a run this long or longer."""
NEVER_A_VERSION = 0xEE
"""A key-version byte no deployment of the kit's world has issued."""


def _raw(code: str) -> bytes:
    return link_code_bytes(code)


def _code(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _common_prefix(a: bytes, b: bytes) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@pytest.mark.conformance("CT-LNK-008", requirements=["RK-LNK-001", "RK-LNK-002"], profiles=["hub"])
def test_whole_link_codes_of_two_agencies_share_nothing(wire: Any) -> None:
    """Four agencies — two with unrelated ids, two sharing a long prefix with
    kit.pension — bind the same 20 persons.  For every pair of agencies: no code
    is equal, no two codes of one person share 5 or more bytes at the start or the
    end (past the version byte), and neither A ⊕ B nor A − B is the same for two
    persons (a constant relation between agencies' codes)."""
    world = World.create(wire, extra_agencies=PREFIX_SIBLINGS)
    agencies = ["kit.pension", "kit.city-a", *PREFIX_SIBLINGS]
    codes = {a: world.bind(a, world.persons) for a in agencies}
    problems: list[str] = []
    for i, a in enumerate(agencies):
        for b in agencies[i + 1 :]:
            xors: set[bytes] = set()
            diffs: set[int] = set()
            for p in world.persons:
                ra, rb = _raw(codes[a][p.resident_code])[1:], _raw(codes[b][p.resident_code])[1:]
                if ra == rb:
                    problems.append(f"{a} and {b} got the same link code for one person")
                    continue
                head, tail = _common_prefix(ra, rb), _common_prefix(ra[::-1], rb[::-1])
                if max(head, tail) >= SHARED_RUN:
                    problems.append(
                        f"{a} and {b}: the codes of one person share {head} leading and "
                        f"{tail} trailing bytes"
                    )
                xors.add(bytes(x ^ y for x, y in zip(ra, rb, strict=True)))
                diffs.add(
                    (int.from_bytes(ra, "big") - int.from_bytes(rb, "big")) % 2 ** (8 * len(ra))
                )
            n = len(world.persons)
            if len(xors) < n or len(diffs) < n:
                problems.append(
                    f"{a} and {b}: their codes are related by a constant "
                    f"({'XOR' if len(xors) < n else 'difference'}) across persons"
                )
    assert not problems, "\n".join(problems[:10])


def _link_code_operations() -> list[str]:
    """Every non-control operation whose request carries a link code (OpenAPI)."""
    contract = load_contract()

    def carries(node: Any, seen: frozenset[str] = frozenset()) -> bool:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                if ref.endswith(("/LinkCode", "/LinkCodeInput")):
                    return True
                if ref in seen or not ref.startswith("#/"):
                    return False
                target: Any = contract.document
                for part in ref[2:].split("/"):
                    target = target.get(part, {}) if isinstance(target, dict) else {}
                return carries(target, seen | {ref})
            if {"link_code", "link_codes"} & set(node.get("properties", {})):
                return True
            return any(carries(v, seen) for v in node.values())
        if isinstance(node, list):
            return any(carries(v, seen) for v in node)
        return False

    found = []
    for op in contract.operations:
        if "control" in op.spec.get("tags", []):
            continue
        body = op.spec.get("requestBody", {})
        params = op.spec.get("parameters", [])
        if carries(body) or carries(params):
            found.append(op.operation_id)
    return sorted(found)


Probe = Callable[[World, Person, str], Reply]

_probe_ids = iter(range(1, 1_000_000))


def _hold(w: World, p: Person, code: str) -> Reply:
    body = {
        "reason": "リンクコードの分離の確認（試験）",
        "scope": {"agency_id": "kit.pension", "person_ref": code},
    }
    return w.call("kit.auditor", "POST", "auditor", "/legal-holds", body)


PROBES: dict[str, Probe] = {
    "submitQuery": lambda w, p, code: w.query(
        "kit.pension", link_code=code, request_id=f"kit-isolation-probe-{next(_probe_ids)}"
    ),
    "placeLegalHold": _hold,
    "rebindLinkCodes": lambda w, p, code: w.call(
        "kit.pension", "POST", "hub", "/rebindings", {"link_codes": [code]}
    ),
    "bringFourItemsCurrent": lambda w, p, code: w.call(
        "kit.pension",
        "POST",
        "hub",
        "/latest-four-items",
        {"records": [{"record_ref": "kit-probe", "link_code": code, "four_items": p.four_items()}]},
    ),
}
"""How the kit presents a link code at each operation that accepts one (as kit.pension;
a legal hold as the auditor, scoped to kit.pension's code of a person)."""
NOT_PROBED = {
    "placeAgencyLegalHold": "an agency node's hold takes no person_ref at all: 422 for any code",
}
"""Link-code operations the probe leaves out, each with the reason."""

VOLATILE_HEADERS = frozenset({"date", "content-length", "x-request-id", "server-timing"})


LOG_MEMBERS = frozenset({"serial", "receipt", "instance", "hold_id", "placed_at"})
"""Members that differ between two refusals by design (log serials, receipts, ids,
times, a receipt's proof): compared by presence, not value."""


def _masked(node: Any, code: str) -> Any:
    if isinstance(node, dict):
        return {k: ("<present>" if k in LOG_MEMBERS else _masked(v, code)) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked(v, code) for v in node]
    if isinstance(node, str):
        masked = node.replace(code, "<code>")
        return "<probe-id>" if masked.startswith("kit-isolation-probe-") else masked
    return node


def _shape(reply: Reply, code: str) -> tuple[Any, ...]:
    """The reply with the presented code, the probe's request id and the log's serials
    masked: what must not differ between a foreign and a forged code."""
    text = (
        repr(_masked(reply.body, code))
        if reply.body is not None
        else reply.text.replace(code, "<code>")
    )
    headers = tuple(
        sorted(
            (k.lower(), v.replace(code, "<code>"))
            for k, v in getattr(reply, "headers", ())
            if k.lower() not in VOLATILE_HEADERS
        )
    )
    return reply.status, reply.content_type, text, headers


def _accepted(reply: Reply) -> bool:
    """Did the operation act on the code as a valid one of kit.pension's?"""
    if reply.status == 202:
        return True
    if reply.status != 200 or not isinstance(reply.body, dict):
        return False
    for result in reply.body.get("results", []):
        if result.get("new_link_code") or result.get("status") in ("current", "updated"):
            return True
    return False


@pytest.mark.conformance(
    "CT-LNK-009",
    requirements=["RK-LNK-002", "RK-LNK-004", "RK-LNK-005"],
    profiles=["hub"],
)
@pytest.mark.parametrize(
    "operation_id", [o for o in _link_code_operations() if o not in NOT_PROBED]
)
def test_a_foreign_code_is_refused_like_a_forged_one_at_every_door(
    world: World, operation_id: str
) -> None:
    """At each operation that accepts a link code, kit.pension presents kit.city-a's
    valid code for a person it has bound itself, and its own code with one byte
    changed: both are refused, and the two refusals are identical — status, media
    type, body (the code masked) and headers — so a refusal never reveals that a
    code is valid for another agency.  A well-formed code of a key version the hub
    never had is refused too."""
    probe = PROBES[operation_id]
    person = world.persons[0]
    own = world.link("kit.pension", person)
    foreign = world.link("kit.city-a", person)
    raw = bytearray(_raw(own))
    raw[-1] ^= 0x01
    forged = _code(bytes(raw))
    raw = bytearray(_raw(own))
    raw[0] = NEVER_A_VERSION
    unknown_version = _code(bytes(raw))
    codes = {"foreign": foreign, "forged": forged, "unknown version": unknown_version}
    replies = {name: probe(world, person, code) for name, code in codes.items()}
    accepted = [name for name, reply in replies.items() if _accepted(reply)]
    assert not accepted, (
        f"{operation_id} acted on a {accepted[0]} link code: {replies[accepted[0]].text[:400]}"
    )
    for name, reply in replies.items():
        assert reply.status < 500, f"{operation_id}: {name} code → HTTP {reply.status}"
    foreign_shape = _shape(replies["foreign"], foreign)
    forged_shape = _shape(replies["forged"], forged)
    assert foreign_shape == forged_shape, (
        f"{operation_id} refuses another agency's code differently from a forged one "
        f"(RK-LNK-002):\n  foreign: {foreign_shape}\n  forged:  {forged_shape}"
    )
