"""Adversarial worlds (issue 14, item 3): worlds built to trip the mistakes a kit
with tidy names, UTC times, clean requests and requester-side holds never sees.

* near-miss names: information kinds that are prefixes, suffixes and case variants
  of each other, agency ids and pattern ids that share long prefixes, several
  providers per pattern, requesters of the agency, municipality and private-body
  roles, providers of the agency and municipality roles (CT-WLD-001);
* times sent in non-UTC offsets and probed at day boundaries of both JST and UTC:
  pattern validity (CT-WLD-002) and the 7-year retention (CT-WLD-003);
* legal holds on every side of an entry — the provider's, the person's, a period
  given in JST — next to entries no hold covers (CT-WLD-004);
* a noise pass: headers the interface does not define, naming other agencies,
  roles, clocks and routes, on every request; no decision may change (CT-WLD-005).

Every decision is the kit's own model of the spec (``renkei_conformance.oracle``).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from renkei_conformance.client import Wire
from renkei_conformance.oracle import expected_decision
from renkei_conformance.world import PATTERNS, World

NEAR_MISS_AGENCIES = {
    # ids sharing a long prefix with a designated requester or provider
    "kit.pension-fund": ("試験年金基金", "agency"),
    "kit.pensio": ("試験年金（類似名）", "agency"),
    "kit.city": ("試験市（類似名）", "agency"),
    "kit.city-a2": ("試験市第二", "municipality"),
    "kit.city-b": ("試験区", "municipality"),
    "kit.club": ("試験共済会（民間）", "private-body"),  # binds with the person's consent
}
NEAR_MISS_PATTERNS: list[dict[str, Any]] = [
    {
        "pattern_id": "KIT-W-001",
        "legal_basis": "番号法 別表第二 項番（試験）W1",
        "purpose": "複数の照会先がある事務（試験）",
        "requesters": ["kit.pension", "kit.town-m"],  # an agency and a municipality
        "providers": ["kit.city-a", "kit.city-b"],  # an agency and a municipality
        "information_kinds": ["local-tax", "income"],
        "answer_within_seconds": 600,
    },
    {
        "pattern_id": "KIT-W-0010",  # KIT-W-001 is its prefix
        "legal_basis": "番号法 別表第二 項番（試験）W10",
        "purpose": "類似の名前の事務（試験）",
        "requesters": ["kit.pension-fund"],  # kit.pension is its prefix
        "providers": ["kit.city-a2"],  # kit.city-a is its prefix
        "information_kinds": ["local-tax-detail", "Income"],  # local-tax, income: prefix, case
        "answer_within_seconds": 600,
    },
    {
        "pattern_id": "kit-w-002",  # only a lower-case id: KIT-W-002 is no pattern
        "legal_basis": "番号法 別表第二 項番（試験）W2",
        "purpose": "市町村から機関への照会（試験）",
        "requesters": ["kit.city"],
        "providers": ["kit.pension"],
        "information_kinds": ["pension"],
        "answer_within_seconds": 600,
    },
    {
        "pattern_id": "KIT-W-003",
        "legal_basis": "番号法 第19条（試験）本人同意",
        "purpose": "民間事業者による資格確認（試験）",
        "requesters": ["kit.club"],  # a private body
        "providers": ["kit.city-b"],
        "information_kinds": ["resident-record"],
        "answer_within_seconds": 600,
    },
]
NEAR_REQUESTERS = (
    "kit.pension",
    "kit.pension-fund",
    "kit.pensio",
    "kit.town-m",
    "kit.city",
    "kit.city-a",
    "kit.club",
)
NEAR_PROVIDERS = ("kit.city-a", "kit.city-a2", "kit.city-b", "kit.city", "kit.pension")
NEAR_PATTERN_IDS = ("KIT-W-001", "KIT-W-0010", "KIT-W-00", "kit-w-001", "KIT-W-002", "kit-w-002")
NEAR_KINDS = (
    "local-tax",
    "Local-Tax",
    "LOCAL-TAX",
    "local-tax-detail",
    "local",
    "tax",
    "local-tax ",
    "income",
    "Income",
    "INCOME",
    "pension",
    "pension-record",
)


def _near_miss_queries() -> list[tuple[str, str, str, str]]:
    """(requester, provider, pattern id, kind): from a designated combination of each
    pattern, every near-miss value on one axis at a time; and every designated
    provider with the last designated requester and kind."""
    out: list[tuple[str, str, str, str]] = []
    for p in NEAR_MISS_PATTERNS:
        base = (p["requesters"][0], p["providers"][0], p["pattern_id"], p["information_kinds"][0])
        out += [(r, *base[1:]) for r in NEAR_REQUESTERS]
        out += [(base[0], v, *base[2:]) for v in NEAR_PROVIDERS]
        out += [(*base[:2], pid, base[3]) for pid in NEAR_PATTERN_IDS]
        out += [(*base[:3], k) for k in NEAR_KINDS]
        out += [(p["requesters"][-1], v, p["pattern_id"], p["information_kinds"][-1])
                for v in p["providers"]]  # fmt: skip
    return list(dict.fromkeys(out))


def _near_miss_world(wire: Wire) -> World:
    """The near-miss world, the private body bound (with each person's recorded
    consent, RK-BND-004) to the persons the queries ask about."""
    world = World.create(wire, patterns=NEAR_MISS_PATTERNS, extra_agencies=NEAR_MISS_AGENCIES)
    records = []
    for p in world.persons[:5]:
        consent = world.call("kit.club", "POST", "hub", "/consents", {
            "record_ref": p.resident_code, "purpose": "会員資格の確認（試験）",
            "pattern_ids": ["KIT-W-003"], "obtained_at": "2026-03-30T02:15:00Z",
            "method": "written", "evidence_sha256": "yc6mA9GjxGHcEvSHcvxG9isQLN8ogauNMPgkOHKO0S0=",
        }).expect(201)["consent_id"]  # fmt: skip
        records.append({"record_ref": p.resident_code, **p.four_items(), "consent_id": consent})
    got = world.call("kit.club", "POST", "hub", "/bindings", {"records": records}).expect(200)
    for r in got["results"]:
        assert r["decision"] == "bound", f"the private body's consented record: {r}"
        world.links[("kit.club", r["record_ref"])] = r["link_code"]
    return world


def _decide_near_misses(world: World) -> list[str]:
    """Ask every near-miss query; each answer must be the decision table's, each
    approved linkage must reach exactly the provider it named, and the log must name
    that provider (RK-PAT-001, RK-PAT-002, RK-PAT-005, RK-LOG-002).  Returns the
    departures."""
    now = world.wire.control("GET", "/health").expect(200)["now"]
    wrong: list[str] = []
    approved: dict[str, tuple[str, str]] = {}  # linkage id -> (requester, named provider)
    for n, (requester, provider, pattern_id, kind) in enumerate(_near_miss_queries()):
        want = expected_decision(
            NEAR_MISS_PATTERNS,
            {
                "authenticated_requester": requester,
                "requester": requester,
                "provider": provider,
                "pattern_id": pattern_id,
                "information_kind": kind,
                "at": now,
            },
        )
        got = world.query(
            requester,
            world.persons[n % 5],
            provider=provider,
            pattern_id=pattern_id,
            information_kind=kind,
        )
        where = f"{requester}→{provider} {pattern_id!r}/{kind!r}"
        if want is None and got.status == 202:
            approved[got["linkage_id"]] = (requester, provider)
        elif want is None:
            wrong.append(f"{where}: expected approval, got {got.status} {got.problem}")
        elif got.status != 403 or got.problem != want:
            wrong.append(f"{where}: expected 403 {want}, got {got.status} {got.problem}")
    for entry in world.audit_log():  # ⑤ is the provider asked, not another designated one
        named = approved.get(entry.get("linkage_id") or "", (None, None))[1]
        if named is not None and entry.get("provider_id") != named:
            wrong.append(
                f"serial {entry['serial']} ({entry.get('outcome')}) logs provider "
                f"{entry.get('provider_id')} for a query to {named} (RK-LOG-002)"
            )
    for provider in NEAR_PROVIDERS:
        for d in world.deliveries(provider):
            named = approved.get(d["linkage_id"], (None, None))[1]
            if named != provider:
                wrong.append(f"linkage {d['linkage_id']} named {named} but went to {provider}")
            approved.pop(d["linkage_id"], None)
    wrong += [f"linkage {lid} never reached {v} (RK-PAT-005)" for lid, (_, v) in approved.items()]
    return wrong


@pytest.mark.conformance(
    "CT-WLD-001",
    requirements=["RK-PAT-001", "RK-PAT-002", "RK-PAT-005", "RK-LOG-002"],
    profiles=["hub"],
)
def test_near_miss_names_are_decided_exactly(wire: Wire) -> None:
    """Kinds that are prefixes, suffixes and case variants of designated kinds, agency
    ids sharing long prefixes with designated ones, pattern ids that differ in case or
    by a digit, a pattern with two providers (one agency, one municipality) and
    requesters of every role that may query (agency, municipality, a private body
    bound with consent): each query is approved exactly when the decision table
    approves it, every refusal has the table's reason, and an approved linkage
    reaches the provider the query named, never another designated one, and is logged
    with that provider (⑤)."""
    world = _near_miss_world(wire)
    wrong = _decide_near_misses(world)
    assert not wrong, "near-miss names decided wrongly:\n  " + "\n  ".join(wrong)


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _z(t: datetime) -> str:
    return t.astimezone(UTC).isoformat().replace("+00:00", "Z")


VALIDITY_PATTERNS = [
    dict(
        PATTERNS[0],
        valid_from="2030-04-01T00:00:00+09:00",  # JST midnight: 15:00Z
        valid_until="2031-04-01T00:00:00+09:00",
    ),
    dict(
        PATTERNS[1],
        valid_from="2030-03-31T20:00:00-04:00",  # UTC midnight in -04:00
        valid_until="2030-06-01T05:45:00+05:45",
    ),
]
VALIDITY_PROBES = (  # the clock as sent (in several offsets), each a boundary ± 1 s
    "2030-03-31T23:59:59+09:00",
    "2030-04-01T00:00:00+09:00",
    "2030-04-01T08:59:59+09:00",
    "2030-04-01T00:00:00Z",
    "2030-05-31T19:59:59-04:00",
    "2030-06-01T09:00:00+09:00",
    "2031-03-31T14:59:59Z",
    "2031-04-01T00:00:00+09:00",
)


@pytest.mark.conformance(
    "CT-WLD-002",
    requirements=["RK-PAT-001", "RK-PAT-003", "RK-WIRE-002", "RK-CTL-002"],
    profiles=["hub"],
)
def test_validity_sent_in_other_offsets_holds_to_the_second(world: World) -> None:
    """Patterns whose validity starts and ends at JST midnight (+09:00) and at UTC
    midnight written in -04:00 and +05:45, probed one second either side of each
    boundary with the clock itself set in various offsets, loaded once as a plain
    list (test mode) and once in a document the kit signs as the trust anchor: a
    pattern approves exactly from the instant its validity starts until the instant
    it ends — never from a date, nor with an offset dropped."""
    wrong = _decide_validity(world)
    wrong += [f"signed document: {w}" for w in _decide_validity(World.create(world.wire), True)]
    assert not wrong, "validity decided off the instant:\n  " + "\n  ".join(wrong)


def _signed_document(world: World, patterns: list[dict[str, Any]]) -> dict[str, str]:
    """``patterns`` in a pattern document (RK-PAT-003) signed by a key the kit has
    just made the trust anchor; its times travel as written."""
    issuer = Ed25519PrivateKey.generate()
    raw = issuer.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()
    world.wire.control("PUT", "/pattern-trust-anchor", {"public_key": raw}).expect(200)
    data = json.dumps({
        "format": "renkei-patterns/1", "version": 1000, "issued_at": "2026-04-01T09:00:00+09:00",
        "issuer": "renkei conformance kit", "patterns": patterns,
    }, ensure_ascii=False).encode()  # fmt: skip
    return {"document": base64.b64encode(data).decode(),
            "signature": base64.b64encode(issuer.sign(data)).decode()}  # fmt: skip


def _decide_validity(world: World, signed: bool = False) -> list[str]:
    """The probes of CT-WLD-002; returns the departures from the decision table."""
    table = (
        _signed_document(world, VALIDITY_PATTERNS) if signed else {"patterns": VALIDITY_PATTERNS}
    )
    world.wire.control("PUT", "/patterns", table).expect(200)
    wrong = []
    for sent in VALIDITY_PROBES:
        at = datetime.fromisoformat(sent.replace("Z", "+00:00"))
        now = world.wire.control("PUT", "/clock", {"now": sent}).expect(200)["now"]
        drift = _instant(now) - at
        assert timedelta(0) <= drift < timedelta(hours=1), f"clock set to {sent} reads {now}"
        for requester, pattern_id, kind in (
            ("kit.pension", "KIT-P-001", "local-tax"),
            ("kit.insurer", "KIT-P-002", "income"),
        ):
            got = world.query(
                requester, world.persons[0], pattern_id=pattern_id, information_kind=kind
            )
            # the hub decided at some instant between the clock set and the clock read
            # after the answer: either instant's decision is right (no false alarm
            # however slow the target; every defect aimed at is hours off)
            after = _instant(world.wire.control("GET", "/health").expect(200)["now"])
            allowed = {
                expected_decision(VALIDITY_PATTERNS, {
                    "authenticated_requester": requester, "requester": requester,
                    "provider": "kit.city-a", "pattern_id": pattern_id,
                    "information_kind": kind, "at": _z(t),
                })
                for t in (at, after)
            }  # fmt: skip
            decided = "approval" if got.status == 202 else f"{got.status} {got.problem}"
            if decided not in {"approval" if w is None else f"403 {w}" for w in allowed}:
                wrong.append(
                    f"{pattern_id} at {sent} ({_z(at)}): expected "
                    f"{' or '.join(sorted(w or 'approval' for w in allowed))}, got {decided}"
                )
    return wrong


RETENTION_TIMES = (  # UTC instants at the day boundaries of JST and of UTC
    "2028-02-29T14:59:59Z",  # JST 23:59:59 on 29 February
    "2030-06-15T14:59:59Z",  # JST 23:59:59
    "2030-06-15T15:00:00Z",  # JST midnight
    "2030-06-15T23:59:59Z",  # UTC 23:59:59 (JST 08:59:59 the next day)
    "2030-06-16T00:00:00Z",  # UTC midnight
)


def _seven_years_on(t: datetime) -> datetime:
    """The earliest instant 7 calendar years after ``t`` (29 February → 28 February)."""
    try:
        return t.replace(year=t.year + 7)
    except ValueError:
        return t.replace(year=t.year + 7, day=28)


@pytest.mark.conformance("CT-WLD-003", requirements=["RK-RET-001"], profiles=["hub"])
def test_seven_years_are_counted_to_the_second_at_every_day_boundary(world: World) -> None:
    """Entries made one second before and at midnight in JST and in UTC (and on a 29
    February) are all still held one second before 7 full years have passed since
    each was made, and gone two days after: a count from a calendar date (JST or
    UTC), from a wall clock read in the wrong zone, or of 365-day years purges some
    entry early."""
    made: list[tuple[datetime, int]] = []
    for t in RETENTION_TIMES:
        world.wire.control("PUT", "/clock", {"now": t}).expect(200)
        serial = world.query("kit.pension", world.persons[len(made)]).expect(202)["serial"]
        made.append((datetime.fromisoformat(t.replace("Z", "+00:00")), int(serial)))
    for i, (at, _) in enumerate(made):
        probe = _seven_years_on(at) - timedelta(seconds=1)
        world.wire.control("PUT", "/clock", {"now": _z(probe)}).expect(200)
        held = {int(e["serial"]) for e in world.audit_log()}
        # judged only for entries whose 7 years end after the clock read after the
        # audit read (made no earlier than sent, so none is judged late: no false alarm)
        after = _instant(world.wire.control("GET", "/health").expect(200)["now"])
        early = [f"{_z(a)} (serial {s})" for a, s in made[i:]
                 if s not in held and _seven_years_on(a) > after]  # fmt: skip
        assert not early, f"purged before 7 years had passed, at {_z(probe)}: {early}"
    last = _seven_years_on(made[-1][0]) + timedelta(days=2)
    world.wire.control("PUT", "/clock", {"now": _z(last)}).expect(200)
    held = {int(e["serial"]) for e in world.audit_log()}
    kept = [f"{_z(a)} (serial {s})" for a, s in made if s in held]
    assert not kept, f"kept 7 years and 2 days after they were made: {kept}"


def _at(world: World, when: str) -> None:
    world.wire.control("PUT", "/clock", {"now": when}).expect(200)


def _logged(reply: Any) -> int:
    """The serial of the entry a query made, approved (202) or refused (403)."""
    assert reply.status in (202, 403), reply.text[:300]
    return int(reply["serial"])


@pytest.mark.conformance(
    "CT-WLD-004", requirements=["RK-RET-002", "RK-RET-001"], profiles=["hub", "auditor"]
)
def test_holds_keep_entries_on_every_side_and_nothing_else(wire: Wire) -> None:
    """Four holds, each stated in force with the scope it was placed with, past 7
    years: one on an agency that is only ever the *provider* of
    the entries it should keep (an approval and a refusal naming it), one on a
    *person* (by the pseudonym the auditor reads) queried by an agency and by a
    municipality, one on a *period* given in JST (+09:00) whose entries sit one second
    inside and outside each end, one on an agency *and* a pattern (an entry must meet
    both).  Exactly the covered entries survive; every other entry is gone; once the
    holds are lifted the kept ones go too."""
    wrong = _hold_departures(wire)
    assert not wrong, "legal holds applied wrongly:\n  " + "\n  ".join(wrong)


def _scope_as_stated(scope: dict[str, Any]) -> dict[str, Any]:
    """A hold's scope with its instants read as instants (a hub may state an
    instant in another offset) and its empty criteria left out."""
    return {
        k: _instant(v) if k in ("from", "to") and isinstance(v, str) else v
        for k, v in scope.items()
        if v not in (None, [], {})
    }


def _hold_departures(wire: Wire) -> list[str]:
    """The world of CT-WLD-004; returns what departs from what the holds keep."""
    world = World.create(
        wire,
        patterns=[*PATTERNS, NEAR_MISS_PATTERNS[0]],
        extra_agencies={"kit.city-b": NEAR_MISS_AGENCIES["kit.city-b"]},
    )
    p = world.persons
    _at(world, "2030-06-15T09:00:00Z")
    held: dict[int, str] = {}
    free: dict[int, str] = {}
    free[_logged(world.query("kit.pension", p[0]))] = "pension→city-a, no hold"
    held[
        _logged(world.query("kit.town-m", p[1], provider="kit.city-b", pattern_id="KIT-W-001"))
    ] = "approved, city-b the provider"
    held[
        _logged(
            world.query(
                "kit.insurer",
                p[0],
                provider="kit.city-b",
                pattern_id="KIT-P-002",
                information_kind="income",
            )
        )
    ] = "refused, city-b the provider"
    person = _logged(
        world.query("kit.insurer", p[2], pattern_id="KIT-P-002", information_kind="income")
    )
    held[person] = "the person, asked by an agency"
    held[_logged(world.query("kit.town-m", p[2], pattern_id="KIT-W-001"))] = (
        "the person, asked by a municipality"
    )
    free[_logged(world.query("kit.pension", p[3]))] = "another person, no hold"
    held[_logged(world.query("kit.pension", p[5], pattern_id="KIT-W-001"))] = (
        "kit.pension under KIT-W-001 (both criteria of one hold)"
    )
    period: list[int] = []
    for when in ("2030-06-15T14:59:59Z", "2030-06-15T15:00:00Z", "2030-06-16T14:59:59Z",
                 "2030-06-16T15:00:00Z"):  # fmt: skip
        _at(world, when)
        period.append(_logged(world.query("kit.insurer", p[4], pattern_id="KIT-P-002",
                                          information_kind="income")))  # fmt: skip
    log = {int(e["serial"]): e for e in world.audit_log()}
    ref = log[person]["person_ref"]
    start, end = _instant("2030-06-15T15:00:00Z"), _instant("2030-06-16T15:00:00Z")
    for serial in period:  # judged by the time the entry was made (①), to the microsecond
        at = _instant(log[serial]["at"])
        inside = start <= at < end
        (held if inside else free)[serial] = f"{'inside' if inside else 'outside'} the JST period"
    holds = []
    wrong: list[str] = []
    for n, scope in enumerate(
        (
            {"agency_id": "kit.city-b"},
            {"person_ref": ref},
            {"agency_id": "kit.pension", "pattern_id": "KIT-W-001"},  # both must hold
            {"from": "2030-06-16T00:00:00+09:00", "to": "2030-06-17T00:00:00+09:00"},
        )
    ):
        placed = world.call(
            "kit.auditor",
            "POST",
            "auditor",
            "/legal-holds",
            {"reason": f"保全（試験）{n}", "scope": scope},
        ).expect(201)
        holds.append(placed["hold_id"])
        stated = _scope_as_stated(placed["scope"])
        if stated != _scope_as_stated(scope):
            wrong.append(
                f"the hold placed with scope {scope} is stated as in force with scope "
                f"{placed['scope']} (RK-RET-002: the 201 is the hold in force)"
            )
    _at(world, "2037-06-18T00:00:00Z")
    kept = {int(e["serial"]) for e in world.audit_log()}
    wrong += [f"purged although a hold covers it (RK-RET-002): serial {s}, {why}"
              for s, why in held.items() if s not in kept]  # fmt: skip
    wrong += [f"kept past 7 years with no hold covering it (RK-RET-001): serial {s}, {why}"
              for s, why in free.items() if s in kept]  # fmt: skip
    for hold_id in holds:
        world.call("kit.auditor", "DELETE", "auditor", f"/legal-holds/{hold_id}").expect(204)
    left = {int(e["serial"]) for e in world.audit_log()} & set(held)
    wrong += [f"kept after every hold was lifted (RK-RET-002): serial {s}" for s in sorted(left)]
    return wrong


NOISE = {  # headers no operation defines; identities, roles, clocks and routes in them
    "X-Forwarded-User": "kit.pension",
    "X-Remote-User": "kit.auditor",
    "X-Renkei-Agency": "kit.pension",
    "X-Agency-Id": "kit.pension-fund",
    "X-Requester": "kit.pension",
    "X-Client-Id": "kit.auditor",
    "X-Forwarded-Client-Cert": 'Hash=00;Subject="CN=kit.pension,O=kit.pension"',
    "X-SSL-Client-S-DN": "CN=kit.auditor",
    "X-Renkei-Role": "auditor",
    "X-Role": "auditor",
    "X-Debug": "1",
    "X-Renkei-Test-Mode": "true",
    "X-Renkei-Now": "2099-01-01T00:00:00+09:00",
    "X-Original-URL": "/auditor/access-logs",
    "X-HTTP-Method-Override": "GET",
    "X-Forwarded-For": "127.0.0.1",
    "X-Forwarded-Proto": "https",
    "Forwarded": "for=127.0.0.1;by=kit.auditor",
    "X-Provider": "kit.city-a",
    "X-Pattern-Id": "KIT-W-001",
    "X-Information-Kind": "local-tax",
}


@contextmanager
def _noise(wire: Wire) -> Iterator[None]:
    wire.noise = dict(NOISE)
    try:
        yield
    finally:
        wire.noise = {}


def _relay_under_noise(world: World) -> list[str]:
    """One linkage end to end — delivery, answer, the requester's read and its
    acknowledgement — each request with whatever headers the wire adds."""
    payload = base64.b64encode("雑音の中の回答（試験）".encode()).decode()
    lid = world.query("kit.pension", world.persons[6], pattern_id="KIT-W-001").expect(202)[
        "linkage_id"
    ]
    wrong = []
    if [d["linkage_id"] for d in world.deliveries("kit.city-a")] != [lid]:
        wrong.append(f"linkage {lid} was not delivered once to kit.city-a")
    world.call("kit.city-a", "POST", "hub", f"/linkages/{lid}/answer", {"payload": payload}).expect(
        202
    )
    got = world.call("kit.pension", "GET", "hub", f"/linkages/{lid}").expect(200)
    if got.body.get("answer", {}).get("payload") != payload:
        wrong.append(f"linkage {lid}: the requester did not read the answer: {got.text[:200]}")
    world.acknowledge("kit.pension", lid)
    return wrong


@pytest.mark.conformance(
    "CT-WLD-005",
    requirements=["RK-ARCH-002", "RK-PAT-001", "RK-PAT-005", "RK-RET-002"],
    profiles=["hub"],
)
def test_undefined_headers_change_no_decision(wire: Wire) -> None:
    """The noise pass: every request — control, binding, query, delivery, reading the
    log, placing holds — carries headers the interface does not define, naming other
    agencies, the auditor role, a far clock, another route, a provider.  The worlds
    of CT-WLD-001, CT-WLD-002 and CT-WLD-004 are decided exactly as without them, a
    linkage is delivered, answered, read and acknowledged as without them; a
    caller without a credential is still 401, an agency reading the auditor's log
    still 403: identity comes from the credential alone, time from the clock."""
    with _noise(wire):
        world = _near_miss_world(wire)
        wrong = _decide_near_misses(world)
        world.call("kit.pension", "GET", "auditor", "/access-logs").expect_problem(
            "forbidden-role", 403
        )
        body = {"request_id": "kit-noise-anonymous", "requester": "kit.pension",
                "provider": "kit.city-a", "pattern_id": "KIT-W-001",
                "information_kind": "local-tax",
                "link_code": world.link("kit.pension", world.persons[0])}  # fmt: skip
        world.wire.call("POST", "hub", "/queries", json_body=body).expect_problem(
            "unauthenticated", 401
        )
        wrong += _relay_under_noise(world)
        wrong += _decide_validity(world)
        wrong += _hold_departures(wire)
    assert not wrong, "a header the interface does not define changed a decision:\n  " + (
        "\n  ".join(wrong)
    )


OPERATING_PROBES = (  # UTC instants one second either side of 08:00 and 20:00 JST
    "2030-06-14T22:59:59Z",  # 07:59:59 JST
    "2030-06-14T23:00:00Z",  # 08:00:00 JST (a UTC date earlier)
    "2030-06-15T10:59:59Z",  # 19:59:59 JST
    "2030-06-15T11:00:00Z",  # 20:00:00 JST
    "2030-06-15T15:00:00Z",  # JST midnight
    "2030-06-16T00:00:00Z",  # UTC midnight, 09:00 JST
)
JST_HOURS = timedelta(hours=9)


@pytest.mark.conformance("CT-WLD-006", requirements=["RK-AUD-003"], profiles=["auditor"])
def test_operating_hours_are_judged_in_jst_to_the_second(world: World) -> None:
    """Queries one second either side of the start (08:00) and end (20:00, exclusive)
    of the operating hours in Japan, at JST midnight and at UTC midnight: exactly
    those whose time in Japan is outside [08:00, 20:00) are reported
    ``outside-operating-hours`` — hours read on the UTC clock, or an end hour
    counted as inside, misjudge some."""
    made: list[int] = []
    for t in OPERATING_PROBES:
        _at(world, t)
        made.append(int(world.query("kit.pension", world.persons[len(made)]).expect(202)["serial"]))
    at = {int(e["serial"]): _instant(e["at"]) for e in world.audit_log()}
    flagged: set[int] = set()
    after: int | None = 0
    for _ in range(100):
        params: dict[str, Any] = {"operating_hours_start": 8, "operating_hours_end": 20}
        page = world.call("kit.auditor", "GET", "auditor", "/anomalies",
                          params={**params, "after": after}).expect(200)  # fmt: skip
        for f in page["anomalies"]:
            if f["kind"] == "outside-operating-hours":
                flagged.update(int(s) for s in f["hub_serials"])
        after = page.body.get("next_after")
        if after is None:
            break
    wrong = []
    for serial in made:  # judged by the time the entry was made (①), read in JST
        jst = (at[serial] + JST_HOURS).replace(tzinfo=None)
        outside = not 8 <= jst.hour < 20
        if outside != (serial in flagged):
            said = "not reported" if outside else "reported"
            wrong.append(f"serial {serial} at {jst:%H:%M:%S} JST: {said} outside the hours")
    assert not wrong, "operating hours misjudged:\n  " + "\n  ".join(wrong)
