"""The linkage flow end to end (seed items 16, 18, 20–22, 28)."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from renkei_conformance.client import Reply
from renkei_conformance.timing import TRIES, retried
from renkei_conformance.world import World


@pytest.mark.conformance(
    "CT-FLOW-001",
    requirements=["RK-FLOW-001", "RK-FLOW-002", "RK-ARCH-001", "RK-FLOW-005"],
    profiles=["hub"],
)
def test_answer_travels_requester_hub_provider_and_back_once(world: World) -> None:
    """A asks about a person with its link code; B pulls a delivery carrying
    B's own link code for that person and the information kind; B answers; A
    receives exactly B's payload — the same answer and receipt on every read
    until A acknowledges it, which nobody else can — and afterwards the
    linkage is closed and the answer gone."""
    person = world.persons[3]
    link_b = world.link("kit.city-a", person)
    query = world.query("kit.pension", person, information_kind="resident-record").expect(202)
    linkage_id = query["linkage_id"]
    assert query["state"] == "pending"
    pending = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
    assert "answer" not in pending.body
    deadline = datetime.fromisoformat(query["deadline"].replace("Z", "+00:00"))
    assert datetime.fromisoformat(pending["deadline"].replace("Z", "+00:00")) == deadline, (
        "a linkage's deadline is the one its query was given (RK-FLOW-004)"
    )
    deliveries = world.deliveries("kit.city-a")
    mine = [d for d in deliveries if d["linkage_id"] == linkage_id]
    assert len(mine) == 1, f"expected one delivery for {linkage_id}, got {deliveries}"
    delivery = mine[0]
    assert delivery["link_code"] == link_b, "provider must get its own link code (RK-FLOW-001)"
    assert delivery["information_kind"] == "resident-record"
    assert delivery["pattern_id"] == "KIT-P-001", "the delivery names the query's pattern"
    assert datetime.fromisoformat(delivery["deadline"].replace("Z", "+00:00")) == deadline
    assert world.deliveries("kit.city-a") == [], "a delivery must be handed out once"
    payload = base64.b64encode("住民票記載事項（試験）".encode()).decode()
    world.call(
        "kit.city-a", "POST", "hub", f"/linkages/{linkage_id}/answer", {"payload": payload}
    ).expect(202)
    first = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
    assert first["answer"]["payload"] == payload
    again = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
    assert again.body == first.body, (
        "until acknowledged, every read hands out the same answer and receipt (RK-FLOW-002)"
    )
    for other in ("kit.city-a", "kit.insurer"):  # the provider, a bystander
        world.call(other, "DELETE", "hub", f"/linkages/{linkage_id}/answer").expect_problem(
            {"unknown-linkage"}, {403, 404}
        )
    world.acknowledge("kit.pension", linkage_id)
    after = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}")
    assert after.status == 404 or (after.status == 200 and "answer" not in after.body), (
        "an acknowledged answer must be erased (RK-FLOW-002)"
    )
    world.call("kit.pension", "DELETE", "hub", f"/linkages/{linkage_id}/answer").expect_problem(
        {"unknown-linkage"}, 404
    )


@pytest.mark.conformance("CT-FLOW-002", requirements=["RK-FLOW-003"], profiles=["hub"])
def test_only_the_provider_may_answer_and_only_the_requester_may_read(world: World) -> None:
    """Another agency can neither answer a linkage nor read its answer."""
    linkage_id = world.query("kit.pension", world.persons[0]).expect(202)["linkage_id"]
    payload = base64.b64encode(b"x").decode()
    world.call(
        "kit.insurer", "POST", "hub", f"/linkages/{linkage_id}/answer", {"payload": payload}
    ).expect_problem({"unknown-linkage"}, {403, 404})
    world.call("kit.insurer", "GET", "hub", f"/linkages/{linkage_id}").expect_problem(
        {"unknown-linkage"}, {403, 404}
    )


@pytest.mark.conformance(
    "CT-FLOW-003", requirements=["RK-FLOW-004", "RK-LOG-001", "RK-CTL-002"], profiles=["hub"]
)
def test_answer_after_the_deadline_is_refused_and_the_linkage_expires(world: World) -> None:
    """Past the pattern's deadline (600 s in the kit's table) an answer is
    refused and the linkage is logged as expired."""
    linkage_id = world.query("kit.pension", world.persons[1]).expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    world.wire.control("POST", "/clock/advance", {"seconds": 601}).expect(200)
    payload = base64.b64encode(b"late").decode()
    reply = world.call(
        "kit.city-a", "POST", "hub", f"/linkages/{linkage_id}/answer", {"payload": payload}
    )
    reply.expect_problem({"answer-after-deadline", "unknown-linkage"}, {404, 409, 410})
    outcomes = [e["outcome"] for e in world.audit_log() if e.get("linkage_id") == linkage_id]
    assert "expired" in outcomes, f"no expiry logged for {linkage_id}: {outcomes}"


@pytest.mark.conformance(
    "CT-FLOW-004", requirements=["RK-FLOW-006", "RK-FLOW-002"], profiles=["hub"]
)
def test_payload_is_opaque_bytes_up_to_one_mebibyte(world: World) -> None:
    """The hub relays 1 MiB of arbitrary bytes unchanged: it neither parses
    nor rewrites the answer."""
    import os

    raw = os.urandom(1024 * 1024)
    payload = base64.b64encode(raw).decode()
    linkage_id = world.query("kit.pension", world.persons[6]).expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    world.call(
        "kit.city-a", "POST", "hub", f"/linkages/{linkage_id}/answer", {"payload": payload}
    ).expect(202)
    got = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
    assert base64.b64decode(got["answer"]["payload"]) == raw


@pytest.mark.conformance(
    "CT-FLOW-005", requirements=["RK-FLOW-007", "RK-FLOW-002"], profiles=["hub"]
)
def test_an_answer_not_collected_in_time_is_erased(world: World) -> None:
    """An answer the requester does not collect within one answer period (600 s
    in the kit's table) is erased; the linkage is logged as expired with the
    reason ``not-collected`` and the payload is nowhere in the hub's stores.
    An answer read (``provided``) but never acknowledged is erased then too,
    with no further entry."""
    payload = base64.b64encode(b"uncollected-canary-5b1e").decode()
    unacked = base64.b64encode(b"unacknowledged-canary-77c2").decode()
    linkage_id = world.query("kit.pension", world.persons[12]).expect(202)["linkage_id"]
    read_id = world.query("kit.pension", world.persons[11]).expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    for lid, body in ((linkage_id, payload), (read_id, unacked)):
        world.call(
            "kit.city-a", "POST", "hub", f"/linkages/{lid}/answer", {"payload": body}
        ).expect(202)
    got = world.call("kit.pension", "GET", "hub", f"/linkages/{read_id}").expect(200)
    assert got["answer"]["payload"] == unacked
    world.wire.control("POST", "/clock/advance", {"seconds": 601}).expect(200)
    for lid in (linkage_id, read_id):
        late = world.call("kit.pension", "GET", "hub", f"/linkages/{lid}")
        assert late.status == 404 or (late.status == 200 and "answer" not in late.body), late.text
    log = world.audit_log()
    entries = [e for e in log if e.get("linkage_id") == linkage_id]
    assert [e["outcome"] for e in entries][-1] == "expired"
    assert entries[-1]["reason"] == "not-collected"
    read = [e["outcome"] for e in log if e.get("linkage_id") == read_id]
    assert read[-1] == "provided", read
    assert read.count("provided") == 1, read
    stored = world.stored_text("hub")
    assert payload not in stored
    assert unacked not in stored, "an answer never acknowledged outlived its collection period"


@pytest.mark.conformance(
    "CT-FLOW-006", requirements=["RK-FLOW-006", "RK-FLOW-002"], profiles=["hub"]
)
def test_a_sealed_answer_crosses_the_hub_blind(world: World) -> None:
    """The provider seals its answer to the requester with HPKE (ML-KEM-768 +
    X25519, specs/sealed-answer.md), bound to the linkage and pattern.  While
    it is in transit nothing the hub stores contains the plaintext; the
    requester gets the envelope byte for byte and opens it; the same envelope
    does not open for another linkage."""
    from renkei_conformance.sealing import (
        ANSWER_INFO,
        SealError,
        answer_aad,
        generate_recipient_key,
        open_sealed,
        seal,
    )

    requester_key = generate_recipient_key()
    secret = "課税所得 4,180,000円（試験・封緘）".encode()
    linkage_id = world.query("kit.pension", world.persons[13]).expect(202)["linkage_id"]
    delivery = next(d for d in world.deliveries("kit.city-a") if d["linkage_id"] == linkage_id)
    aad = answer_aad(linkage_id, delivery["pattern_id"])
    envelope = seal(requester_key.public_bytes(), secret, info=ANSWER_INFO, aad=aad)
    payload = base64.b64encode(envelope).decode()
    world.call(
        "kit.city-a", "POST", "hub", f"/linkages/{linkage_id}/answer", {"payload": payload}
    ).expect(202)
    in_transit = world.stored_text("hub")
    for form in (secret.decode(), secret.hex(), base64.b64encode(secret).decode()):
        assert form not in in_transit, "the hub can read the sealed answer"
    got = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
    relayed = base64.b64decode(got["answer"]["payload"])
    assert relayed == envelope, "the hub altered the sealed envelope"
    assert open_sealed(requester_key, relayed, info=ANSWER_INFO, aad=aad) == secret
    with pytest.raises(SealError):
        open_sealed(
            requester_key,
            relayed,
            info=ANSWER_INFO,
            aad=answer_aad("another-linkage", delivery["pattern_id"]),
        )


@pytest.mark.conformance(
    "CT-FLOW-007", requirements=["RK-FLOW-003", "RK-WIRE-001"], profiles=["hub"]
)
def test_replays_and_answers_out_of_turn_are_refused_without_side_effects(world: World) -> None:
    """A repeated request_id is refused with 409 ``duplicate-request-id`` and opens
    no second linkage (the provider gets one delivery); an answer to an unknown
    linkage gets 404 ``unknown-linkage``; a second answer, or an answer to a
    closed linkage, is refused (409 ``linkage-state-conflict``, or 404 once the
    linkage is gone) — and the first answer is still relayed unchanged."""
    person = world.persons[5]
    first = world.query("kit.pension", person, request_id="kit-replay-1").expect(202)
    world.query("kit.pension", person, request_id="kit-replay-1").expect_problem(
        "duplicate-request-id", 409
    )
    pulled = [d["linkage_id"] for d in world.deliveries("kit.city-a")]
    assert pulled == [first["linkage_id"]], (
        f"a replayed request_id must not open a second linkage: deliveries {pulled}"
    )
    payload = base64.b64encode(b"first answer").decode()
    answer = f"/linkages/{first['linkage_id']}/answer"
    world.call("kit.city-a", "POST", "hub", "/linkages/00000000000000000000000000000000/answer",
               {"payload": payload}).expect_problem("unknown-linkage", 404)  # fmt: skip
    world.call("kit.city-a", "POST", "hub", answer, {"payload": payload}).expect(202)
    again = base64.b64encode(b"second answer").decode()
    world.call("kit.city-a", "POST", "hub", answer, {"payload": again}).expect_problem(
        {"linkage-state-conflict", "unknown-linkage"}, {404, 409}
    )
    got = world.call("kit.pension", "GET", "hub", f"/linkages/{first['linkage_id']}").expect(200)
    assert got["answer"]["payload"] == payload, "the first answer must be relayed unchanged"
    world.call("kit.city-a", "POST", "hub", answer, {"payload": again}).expect_problem(
        {"linkage-state-conflict", "unknown-linkage"}, {404, 409}
    )
    world.call("kit.pension", "GET", "hub", "/linkages/not-a-linkage").expect_problem(
        "unknown-linkage", 404
    )


@pytest.mark.conformance(
    "CT-FLOW-008", requirements=["RK-FLOW-010", "RK-FLOW-003"], profiles=["hub"]
)
def test_answers_in_one_request_are_decided_one_by_one(world: World) -> None:
    """``POST /hub/answers`` decides each answer as the single-answer operation
    would, in order, each with its own result in its place: two accepted, an
    unknown linkage 404 ``unknown-linkage``, an answer that is no object or has a
    payload that is no base64 422 ``malformed-answer``, a second answer to the same
    linkage 409 ``linkage-state-conflict`` — and none of them changes another's
    outcome: the requesters read exactly the accepted payloads.  Another agency's
    batch answers nothing of the provider's; a request that is no list of answers
    is refused whole (422 ``validation-error``)."""
    first = world.query("kit.pension", world.persons[7]).expect(202)["linkage_id"]
    second = world.query("kit.pension", world.persons[8]).expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    good = base64.b64encode("回答一（試験）".encode()).decode()
    other = base64.b64encode("回答二（試験）".encode()).decode()
    stray = world.call(
        "kit.insurer", "POST", "hub", "/answers",
        {"answers": [{"linkage_id": first, "payload": good}]},
    ).expect(200)["results"]  # fmt: skip
    assert [r.get("problem", {}).get("type", "").rsplit(":", 1)[-1] for r in stray] == [
        "unknown-linkage"
    ], f"another agency's answer must be refused as unknown-linkage: {stray}"
    answers: list[object] = [
        {"linkage_id": first, "payload": good},
        {"linkage_id": "00000000000000000000000000000000", "payload": good},
        {"linkage_id": second, "payload": "not base64 ***"},
        42,
        {"linkage_id": second, "payload": other},
        {"linkage_id": first, "payload": other},
    ]
    results = world.call("kit.city-a", "POST", "hub", "/answers", {"answers": answers}).expect(200)[
        "results"
    ]
    assert len(results) == len(answers), f"one result per answer, in order: {results}"

    def kind(result: dict[str, object]) -> tuple[object, object]:
        problem = result.get("problem")
        if isinstance(problem, dict):
            return str(problem.get("type", "")).rsplit(":", 1)[-1], problem.get("status")
        return result.get("state"), None

    got = [kind(r) for r in results]
    expected = [
        ("answered", None),
        ("unknown-linkage", 404),
        ("malformed-answer", 422),
        ("malformed-answer", 422),
        ("answered", None),
        ("linkage-state-conflict", 409),
    ]
    assert got == expected, f"each answer decided on its own (RK-FLOW-010): {got}"
    refs = [r.get("linkage_id") for r in results]
    assert refs[0] == refs[5] == first, refs
    assert refs[4] == refs[2] == second, refs
    assert refs[3] is None, "an answer with no usable linkage id gets null in its place"
    for linkage_id, payload in ((first, good), (second, other)):
        read = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
        assert read["answer"]["payload"] == payload, (
            "the accepted answer is relayed unchanged, whatever else the batch held"
        )
        world.acknowledge("kit.pension", linkage_id)
    wrong: list[dict[str, object]] = [{"answers": []}, {"answers": "x"}, {}]
    for body in wrong:
        world.call("kit.city-a", "POST", "hub", "/answers", body).expect_problem(
            "validation-error", 422
        )


def _timed(read: Callable[[], Reply]) -> tuple[Reply, float]:
    import time

    started = time.monotonic()
    reply = read()
    return reply, time.monotonic() - started


def _held_read(world: World, person_index: int, payload: str) -> tuple[Reply | None, float]:
    """A fresh linkage; a requester's read with ``wait`` 10 s on a thread; the
    provider's answer 0.5 s later.  The read's reply (None: it never came back)
    and how long it was held."""
    import threading
    import time

    linkage_id = world.query("kit.pension", world.persons[person_index]).expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    path = f"/linkages/{linkage_id}"
    held: dict[str, object] = {}

    def read() -> None:
        reply, took = _timed(
            lambda: world.call("kit.pension", "GET", "hub", path, params={"wait": 10})
        )
        held.update(reply=reply, took=took)

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.5)
    world.call(
        "kit.city-a", "POST", "hub", f"/linkages/{linkage_id}/answer", {"payload": payload}
    ).expect(202)
    reader.join(15)
    reply, took = held.get("reply"), held.get("took")
    world.acknowledge("kit.pension", linkage_id)
    if not isinstance(reply, Reply) or not isinstance(took, float):
        return None, 15.0
    return reply, took


@pytest.mark.conformance("CT-FLOW-009", requirements=["RK-FLOW-009"], profiles=["hub"])
def test_a_read_held_for_the_answer_returns_it_when_it_arrives(world: World) -> None:
    """A requester's read with ``wait`` of an unanswered linkage is held until the
    provider answers, then hands the answer out; unanswered, it comes back with
    the linkage's state no later than ``wait`` seconds (one second of margin, one
    of the kit's own); another agency's read is not held.  Each timing bound is
    measured up to three times (``renkei_conformance.timing``): a correct hub misses
    a bound only if the machine stalls an exchange past its margin (≥ 2 s) in every
    try — below 1e-6 per run if that happens one time in 100 — while a hub that
    holds reads too long, or until ``wait`` runs out, misses every try."""
    linkage_id = world.query("kit.pension", world.persons[9]).expect(202)["linkage_id"]
    world.deliveries("kit.city-a")
    path = f"/linkages/{linkage_id}"
    unheld = retried(
        lambda: _timed(lambda: world.call("kit.pension", "GET", "hub", path, params={"wait": 1})),
        lambda got: got[1] < 3.0,
    )
    for reply, _ in unheld:
        assert "answer" not in reply.expect(200).body, reply.body
    assert unheld[-1][1] < 3.0, "a read is held no longer than wait (1 s): " + _tries(unheld)
    foreign = retried(
        lambda: _timed(lambda: world.call("kit.insurer", "GET", "hub", path, params={"wait": 5})),
        lambda got: got[1] < 2.5,
    )
    for reply, _ in foreign:
        reply.expect_problem({"unknown-linkage"}, {403, 404})
    assert foreign[-1][1] < 2.5, "another agency's read (wait 5 s) is not held: " + _tries(foreign)
    payload = base64.b64encode("保留された参照への回答（試験）".encode()).decode()
    persons = iter(range(10, 10 + TRIES))
    held = retried(lambda: _held_read(world, next(persons), payload), lambda got: got[1] < 8.0)
    for got, took in held:
        assert got is not None, "a held read must come back within wait"
        answer = (got.expect(200).body.get("answer") or {}).get("payload")
        assert answer == payload, (
            f"the held read must hand out the answer once it is in (after {took:.1f} s): {got.body}"
        )
    assert held[-1][1] < 8.0, (
        "a read held with wait 10 s must come back once the answer is in (≈ 0.5 s), not "
        "when wait runs out: " + _tries(held)
    )


def _tries(measured: list[tuple[Any, float]]) -> str:
    return f"{len(measured)} tries took " + ", ".join(f"{t:.1f} s" for _, t in measured)
