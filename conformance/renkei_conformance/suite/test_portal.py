"""My Portal: card-key login, the person's own log, counter service (seed items 23, 26, 31).

The kit plays the person's IC card: ``POST /control/cards`` issues a card (an
Ed25519 key and an X.509 certificate from the target's test CA) and the kit
signs the portal's challenges with that key, as the card would.  Everything
else goes through the wire only.
"""

from __future__ import annotations

import base64
import itertools
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from renkei_conformance.client import Reply
from renkei_conformance.world import AGENCIES, PATTERNS, Person, World, current_challenge

CONTEXT = b"renkei/portal-challenge/v1\x00"
_ids = itertools.count(1)


class Card:
    """A simulated IC card: the key 'never leaves' it — only signatures do."""

    def __init__(self, issued: dict[str, Any]) -> None:
        self.serial = str(issued["serial"])
        self.certificate = str(issued["certificate"])
        key = serialization.load_pem_private_key(str(issued["private_key"]).encode(), None)
        assert isinstance(key, Ed25519PrivateKey)
        self._key = key

    def sign(self, nonce_b64: str, context: bytes = CONTEXT) -> str:
        return base64.b64encode(self._key.sign(context + base64.b64decode(nonce_b64))).decode()


def issue_card(world: World, person: Person, **validity: str) -> Card:
    body = {"resident_code": person.resident_code, **validity}
    return Card(world.wire.control("POST", "/cards", body).expect(201).body)


def challenge(world: World) -> dict[str, Any]:
    reply = world.wire.call("POST", "portal", "/challenges").expect(201)
    body: dict[str, Any] = reply.body
    return body


def sign_in(world: World, card: Card, *, token: str | None = None, **extra: Any) -> Reply:
    ch = challenge(world)
    body = {
        "challenge_id": ch["challenge_id"],
        "certificate": card.certificate,
        "signature": card.sign(ch["nonce"]),
        **extra,
    }
    return world.wire.call("POST", "portal", "/sessions", json_body=body, token=token)


def session(world: World, person: Person) -> str:
    return str(sign_in(world, issue_card(world, person)).expect(201)["session_token"])


def own_log(world: World, token: str, **application: Any) -> list[dict[str, Any]]:
    app = world.wire.call(
        "POST", "portal", "/applications", json_body=application, token=token
    ).expect(201)
    assert app["state"] == "granted", app.body
    page = world.wire.call(
        "GET",
        "portal",
        "/access-logs",
        token=token,
        params={"application_id": app["application_id"]},
    ).expect(200)
    entries: list[dict[str, Any]] = page["entries"]
    return entries


def linkages_for(world: World, persons: list[Person], per_person: int = 1) -> dict[str, set[str]]:
    """Queries about each person; returns resident code → linkage ids."""
    out: dict[str, set[str]] = {}
    for p in persons:
        for _ in range(per_person):
            reply = world.query("kit.pension", p, request_id=f"portal-{next(_ids)}").expect(202)
            out.setdefault(p.resident_code, set()).add(reply["linkage_id"])
    return out


def serials_by_linkage(world: World) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for e in world.audit_log():
        if e.get("linkage_id"):
            out.setdefault(e["linkage_id"], set()).add(int(e["serial"]))
    return out


def _self_made_card(person: Person, now: datetime) -> tuple[str, Ed25519PrivateKey]:
    """A card from a CA the portal does not trust, naming the right 4 items."""
    ca_key, key = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    ca = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "not the card CA")])
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, person.name),
            x509.NameAttribute(NameOID.STREET_ADDRESS, person.address),
        ]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(ca_key, None)
    )
    return base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode(), key


@pytest.mark.conformance(
    "CT-PORT-001",
    requirements=["RK-PORT-001", "RK-AUTH-001", "RK-AUTH-002"],
    profiles=["my-portal"],
)
def test_only_a_card_signature_over_a_fresh_challenge_opens_a_session(world: World) -> None:
    """A good card signature over a fresh challenge opens a session; every
    failure — replayed, unknown or expired challenge, a signature over other
    bytes, another card's certificate, a certificate from a CA the portal does
    not trust, a revoked, expired or not-yet-valid certificate — is the same
    opaque 401 card-authentication-failed, and the challenge is ≥128 bits."""
    person, other = world.persons[0], world.persons[1]
    card = issue_card(world, person)
    ch = challenge(world)
    assert len(base64.b64decode(ch["nonce"])) >= 16, "RK-AUTH-002: at least 128 bits"
    assert challenge(world)["nonce"] != ch["nonce"]
    good = {
        "challenge_id": ch["challenge_id"],
        "certificate": card.certificate,
        "signature": card.sign(ch["nonce"]),
    }
    world.wire.call("POST", "portal", "/sessions", json_body=good).expect(201)
    failures: dict[str, dict[str, Any]] = {"replayed challenge": good}
    ch = challenge(world)
    failures["unknown challenge"] = {**good, "challenge_id": "ch-never-issued"}
    failures["signature over other bytes"] = {
        "challenge_id": ch["challenge_id"],
        "certificate": card.certificate,
        "signature": card.sign(ch["nonce"], context=b"some/other-service\x00"),
    }
    ch = challenge(world)
    failures["another person's certificate"] = {
        "challenge_id": ch["challenge_id"],
        "certificate": issue_card(world, other).certificate,
        "signature": card.sign(ch["nonce"]),
    }
    now = datetime.now(UTC)
    cert, key = _self_made_card(person, now)
    ch = challenge(world)
    failures["untrusted CA"] = {
        "challenge_id": ch["challenge_id"],
        "certificate": cert,
        "signature": base64.b64encode(key.sign(CONTEXT + base64.b64decode(ch["nonce"]))).decode(),
    }
    revoked = issue_card(world, person)
    world.wire.control("POST", "/cards/revocations", {"serial": revoked.serial}).expect(204)
    expired = issue_card(
        world,
        person,
        not_before=(now - timedelta(days=30)).isoformat(),
        not_after=(now - timedelta(days=1)).isoformat(),
    )
    future = issue_card(world, person, not_before=(now + timedelta(days=30)).isoformat())
    for label, c in (("revoked", revoked), ("expired", expired), ("not yet valid", future)):
        ch = challenge(world)
        failures[f"{label} certificate"] = {
            "challenge_id": ch["challenge_id"],
            "certificate": c.certificate,
            "signature": c.sign(ch["nonce"]),
        }
    stale = challenge(world)
    world.wire.control("POST", "/clock/advance", {"seconds": 301}).expect(200)
    failures["expired challenge"] = {
        "challenge_id": stale["challenge_id"],
        "certificate": card.certificate,
        "signature": card.sign(stale["nonce"]),
    }
    bodies = set()
    for label, body in failures.items():
        reply = world.wire.call("POST", "portal", "/sessions", json_body=body)
        assert reply.status == 401, f"{label}: {reply.status} {reply.text[:300]}"
        assert reply.problem == "card-authentication-failed", f"{label}: {reply.text[:300]}"
        bodies.add(reply.body.get("detail"))
    assert len(bodies) == 1, f"RK-PORT-001: failures must be opaque, got {bodies}"


@pytest.mark.conformance("CT-PORT-002", requirements=["RK-AUTH-003"], profiles=["my-portal"])
def test_no_password_login_and_the_number_is_no_login_id(world: World) -> None:
    """A session request with a password or a Number instead of a card signature
    never opens a session; a protected operation without a session is 401."""
    person = world.persons[3]
    ch = challenge(world)
    attempts = [
        {"login_id": person.resident_code, "password": "correct horse"},
        {"number": "123456789018", "password": "x"},
        {"challenge_id": ch["challenge_id"], "number": "123456789018", "signature": "AA=="},
        {
            "challenge_id": ch["challenge_id"],
            "certificate": "MTIzNDU2Nzg5MDE4",
            "signature": "AA==",
        },
    ]
    for body in attempts:
        reply = world.wire.call("POST", "portal", "/sessions", json_body=body)
        assert 400 <= reply.status < 500, (body, reply.status, reply.text)
        assert reply.is_problem, (body, reply.text)
    reply = world.wire.call("POST", "portal", "/applications", json_body={})
    assert reply.status == 401, reply.text
    assert reply.problem == "unauthenticated", reply.text


@pytest.mark.conformance("CT-PORT-003", requirements=["RK-PORT-002"], profiles=["my-portal"])
def test_logs_only_within_a_granted_application_of_ones_own(world: World) -> None:
    """Access logs need an application of the session's person: none, an unknown
    one and another person's are 403 application-required; a period limits what
    is shown."""
    a, b = world.persons[4], world.persons[5]
    linkages_for(world, [a])
    ta, tb = session(world, a), session(world, b)
    for params in ({"application_id": "ap-unknown"},):
        reply = world.wire.call("GET", "portal", "/access-logs", token=ta, params=params)
        assert reply.status == 403, reply.text
        assert reply.problem == "application-required", reply.text
    app_b = world.wire.call("POST", "portal", "/applications", json_body={}, token=tb).expect(201)
    reply = world.wire.call(
        "GET",
        "portal",
        "/access-logs",
        token=ta,
        params={"application_id": app_b["application_id"]},
    )
    assert reply.status == 403, reply.text
    assert reply.problem == "application-required", reply.text
    assert own_log(world, ta), "the person's own entry must be shown on application"
    past = {"period": {"from": "2001-01-01T00:00:00Z", "to": "2002-01-01T00:00:00Z"}}
    assert own_log(world, ta, **past) == [], "entries outside the applied period are not shown"


WITHHELD = {
    "pattern_id": "KIT-P-WH",
    "legal_basis": "番号法 第19条（試験）",
    "purpose": "犯罪捜査（試験）",
    "requesters": ["kit.pension"],
    "providers": ["kit.city-a"],
    "information_kinds": ["investigation"],
    "answer_within_seconds": 600,
    "withheld_from_person": True,
}


@pytest.mark.conformance(
    "CT-PORT-004", requirements=["RK-PORT-003", "RK-LOG-007"], profiles=["my-portal"]
)
def test_each_person_sees_exactly_their_own_entries_and_no_codes(world: World) -> None:
    """Several persons, each with queries about them: through My Portal each sees
    exactly the serials of their own linkages — no other person's, none of a
    pattern flagged withheld — and nothing shown contains an ID code or a link code."""
    world.wire.control("PUT", "/patterns", {"patterns": [*PATTERNS, WITHHELD]}).expect(200)
    persons = world.persons[6:10]
    mine = linkages_for(world, persons, per_person=2)
    hidden = world.query(
        "kit.pension",
        persons[0],
        pattern_id="KIT-P-WH",
        information_kind="investigation",
        request_id=f"portal-{next(_ids)}",
    ).expect(202)["linkage_id"]
    by_linkage = serials_by_linkage(world)
    id_codes = world.wire.control(
        "POST", "/id-codes", {"resident_codes": [p.resident_code for p in persons]}
    ).expect(200)["id_codes"]
    secrets_ = set(id_codes.values()) | {v for (_, _), v in world.links.items()}
    for p in persons:
        token = session(world, p)
        app = world.wire.call("POST", "portal", "/applications", json_body={}, token=token)
        page = world.wire.call(
            "GET",
            "portal",
            "/access-logs",
            token=token,
            params={"application_id": app.expect(201)["application_id"]},
        ).expect(200)
        shown = {int(e["serial"]) for e in page["entries"]}
        expected = set().union(*(by_linkage[lk] for lk in mine[p.resident_code]))
        assert shown == expected, f"{p.resident_code}: shown {shown}, own {expected}"
        assert not shown & by_linkage[hidden], "RK-LOG-007: a withheld entry was shown"
        leaked = [s for s in secrets_ if s and s in page.text]
        assert not leaked, "RK-PORT-003: an ID code or link code reached the person"
        for e in page["entries"]:
            assert {"requester_id", "provider_id", "linkage_id", "person_ref"} & e.keys() == set()


@pytest.mark.conformance("CT-PORT-005", requirements=["RK-PORT-004"], profiles=["my-portal"])
def test_agency_items_appear_only_after_a_granted_agency_application(world: World) -> None:
    """⑪ (content) is absent until the person applies to the providing agency
    and it grants; an application naming another person's serial is 404."""
    a, b = world.persons[10], world.persons[11]
    lk_a = linkages_for(world, [a])[a.resident_code].pop()
    lk_b = linkages_for(world, [b])[b.resident_code].pop()
    world.wire.control(
        "POST",
        "/agency-log-items",
        {
            "agency_id": "kit.city-a",
            "linkage_id": lk_a,
            "side": "provider",
            "text": "令和7年度 課税額",
        },
    ).expect(204)
    serial_a = min(serials_by_linkage(world)[lk_a])
    serial_b = min(serials_by_linkage(world)[lk_b])
    token = session(world, a)
    before = own_log(world, token)
    assert all(not e.get("agency_items") for e in before), "⑪ shown before any application"
    probe = world.wire.call(
        "POST",
        "portal",
        "/agency-applications",
        token=token,
        json_body={"agency_id": "kit.city-a", "serials": [serial_b], "items": ["content"]},
    )
    assert probe.status == 404, f"another person's serial must be 404: {probe.text}"
    granted = world.wire.call(
        "POST",
        "portal",
        "/agency-applications",
        token=token,
        json_body={"agency_id": "kit.city-a", "serials": [serial_a], "items": ["content"]},
    ).expect(202)
    assert granted["state"] in ("granted", "partially-granted"), granted.body
    after = {int(e["serial"]): e for e in own_log(world, token)}
    items = after[serial_a].get("agency_items") or []
    assert any(i.get("content") == "令和7年度 課税額" for i in items), after[serial_a]


@pytest.mark.conformance("CT-PORT-006", requirements=["RK-PORT-005"], profiles=["my-portal"])
def test_counter_service_is_logged_as_such_and_shown_to_the_person(world: World) -> None:
    """Counter mode needs the municipality's credential and names the staff
    member; the person later sees that use marked as counter use."""
    person = world.persons[12]
    card = issue_card(world, person)
    extra = {"channel": "counter", "counter_operator": "窓口3番 担当A"}
    no_credential = sign_in(world, card, **extra)
    assert no_credential.status == 401, no_credential.text
    not_municipality = sign_in(world, card, token=world.tokens["kit.pension"], **extra)
    assert not_municipality.status in (401, 403), not_municipality.text
    counter = sign_in(world, card, token=world.tokens["kit.town-m"], **extra).expect(201)
    assert counter["channel"] == "counter"
    assert counter["counter_agency"] == "kit.town-m"
    own_log(world, counter["session_token"])
    later = sign_in(world, card).expect(201)["session_token"]
    records = world.wire.call("GET", "portal", "/usage", token=later).expect(200)["records"]
    at_counter = [r for r in records if r["channel"] == "counter"]
    assert {r["action"] for r in at_counter} >= {"login", "application", "access-logs"}
    assert all(r["counter_operator"] == "窓口3番 担当A" for r in at_counter)
    assert all(r["counter_agency"] == "kit.town-m" for r in at_counter)
    assert any(r["channel"] == "internet" for r in records)


@pytest.mark.conformance(
    "CT-PORT-007", requirements=["RK-PORT-005", "RK-ARCH-003"], profiles=["my-portal"]
)
def test_at_the_counter_the_connections_certificate_decides(world: World) -> None:
    """Over mutual TLS a counter terminal is the municipality its client
    certificate certifies, like any caller: the certificate alone opens a
    counter session; a credential of another organisation on that connection
    is refused with ``certificate-identity-mismatch``; an agency's certificate
    is not a municipality's."""
    tls = world.wire.target.tls
    if tls is None or not all(u.startswith("https://") for u in world.wire.target.parties.values()):
        pytest.skip("not applicable: the target is not reached over mutual TLS")
    missing = {"kit.town-m", "kit.pension"} - set(tls.agencies)
    if missing:
        pytest.fail(f"the target file's tls.client_certificates lacks {sorted(missing)}")
    person = world.persons[13]
    card = issue_card(world, person)
    extra = {"channel": "counter", "counter_operator": "窓口4番 担当B"}
    town = world.wire.presenting(tls.agencies["kit.town-m"])
    pension = world.wire.presenting(tls.agencies["kit.pension"])
    try:
        for wire, token, expected in (
            (town, world.tokens["kit.pension"], ("certificate-identity-mismatch", 403)),
            (pension, None, ("forbidden-role", 403)),
        ):
            ch = challenge(world)
            body = {"challenge_id": ch["challenge_id"], "certificate": card.certificate,
                    "signature": card.sign(ch["nonce"]), **extra}  # fmt: skip
            wire.call("POST", "portal", "/sessions", json_body=body, token=token).expect_problem(
                *expected
            )
        ch = challenge(world)
        body = {"challenge_id": ch["challenge_id"], "certificate": card.certificate,
                "signature": card.sign(ch["nonce"]), **extra}  # fmt: skip
        opened = town.call("POST", "portal", "/sessions", json_body=body).expect(201)
        assert opened["channel"] == "counter"
        assert opened["counter_agency"] == "kit.town-m"
    finally:
        town.close()
        pension.close()


_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u9fff]")


@pytest.mark.conformance("CT-PORT-008", requirements=["RK-PORT-006"], profiles=["my-portal"])
def test_what_my_portal_shows_a_person_is_in_japanese(world: World) -> None:
    """What My Portal shows a person is in Japanese first: in the person's own log
    the legal basis (③) is the pattern's Japanese text and the requester and the
    provider (④ ⑤) are the agencies' registered Japanese names — never an agency id
    or a translation — as is the agency named on an item it released (⑪); a
    Content-Language, when sent, is Japanese."""
    person = world.persons[14]
    linkage = linkages_for(world, [person])[person.resident_code].pop()
    world.wire.control(
        "POST",
        "/agency-log-items",
        {"agency_id": "kit.city-a", "linkage_id": linkage, "side": "provider",
         "text": "令和7年度 課税額（試験）"},
    ).expect(204)  # fmt: skip
    serial = min(serials_by_linkage(world)[linkage])
    token = session(world, person)
    world.wire.call(
        "POST",
        "portal",
        "/agency-applications",
        token=token,
        json_body={"agency_id": "kit.city-a", "serials": [serial], "items": ["content"]},
    ).expect(202)
    app = world.wire.call("POST", "portal", "/applications", json_body={}, token=token).expect(201)
    page = world.wire.call(
        "GET", "portal", "/access-logs", token=token,
        params={"application_id": app["application_id"]},
    ).expect(200)  # fmt: skip
    language = {k.lower(): v for k, v in page.headers}.get("content-language")
    assert language is None or language.lower().startswith("ja"), (
        f"My Portal answers in {language!r}, not Japanese first"
    )
    names = {a: current_challenge().agency_name(n) for a, (n, _) in AGENCIES.items()}
    basis = next(p["legal_basis"] for p in PATTERNS if p["pattern_id"] == "KIT-P-001")
    mine = [e for e in page["entries"] if int(e["serial"]) == serial]
    assert mine, f"the person's entry {serial} is not shown"
    entry = mine[0]
    shown = {"③ legal basis": entry.get("legal_basis"), "④ requester": entry.get("requester"),
             "⑤ provider": entry.get("provider")}  # fmt: skip
    wanted = {"③ legal basis": basis, "④ requester": names["kit.pension"],
              "⑤ provider": names["kit.city-a"]}  # fmt: skip
    assert shown == wanted, f"My Portal does not show the Japanese texts: {shown}"
    items = entry.get("agency_items") or []
    assert items, f"the released ⑪ is not shown: {entry}"
    for item in items:
        agency = str(item.get("agency", ""))
        assert agency == names["kit.city-a"], f"an agency item names its agency {agency!r}"
        assert _JAPANESE.search(agency), f"an agency item's agency {agency!r} is not Japanese"
