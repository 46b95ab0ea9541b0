"""My Portal service tests (seed items 23, 26, 31): the card, the session, the person's log."""

from __future__ import annotations

import base64
import itertools
import re
import warnings
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei_reference.core.codes import ResidentCode
from renkei_reference.core.errors import (
    NotFoundError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from renkei_reference.core.patterns import LinkagePattern
from renkei_reference.services.app import create_app, discovery_document
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Agency, Federation, FourItems
from renkei_reference.services.hub import QueryIn
from renkei_reference.services.portal.app import SESSION_COOKIE
from renkei_reference.services.portal.cards import CardAuthority, IssuedCard, challenge_message
from renkei_reference.services.portal.port import InProcessHubPort
from renkei_reference.services.portal.portal import Portal, PortalSession

with warnings.catch_warnings():  # starlette's notice about httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

_req = itertools.count(1)
PENSION = Agency("t.pension", "日本年金機構", "agency")
CITY = Agency("t.city", "千代田区", "agency")
TOWN = Agency("t.town", "試験町", "municipality")
AUDITOR = Agency("t.auditor", "個人情報保護委員会", "auditor")


def _code(serial: int) -> ResidentCode:
    from renkei_reference.core.check_digit import resident_code_check_digit

    body = f"{serial:010d}"
    return ResidentCode(body + str(resident_code_check_digit(body)))


def _items(i: int) -> FourItems:
    return FourItems(
        f"試験 太郎{i}", f"東京都千代田区{i}番", f"19{50 + i % 50}-01-0{1 + i % 9}", "male"
    )


class World:
    """A federation with n residents, two agencies, a normal and a withheld pattern."""

    def __init__(self, n: int) -> None:
        self.clock = ControllableClock()
        self.fed = Federation(self.clock)
        self.codes = [_code(1_000_000_000 + i) for i in range(n)]
        self.fed.registry.load([(c, _items(i)) for i, c in enumerate(self.codes)])
        for a in (PENSION, CITY, TOWN):
            self.fed.register(a)
        common: dict[str, Any] = {
            "purpose": "試験",
            "requesters": frozenset({PENSION.agency_id}),
            "providers": frozenset({CITY.agency_id}),
        }
        self.fed.hub.load_patterns(
            [
                LinkagePattern(
                    pattern_id="P-1",
                    legal_basis="番号法 別表 項番1",
                    information_kinds=frozenset({"tax"}),
                    **common,
                ),
                LinkagePattern(
                    pattern_id="P-WH",
                    legal_basis="番号法 第19条",
                    information_kinds=frozenset({"secret"}),
                    withheld_from_person=True,
                    **common,
                ),
            ]
        )
        self.portal = Portal(InProcessHubPort(self.fed.hub), self.clock)

    def query(self, i: int, pattern: str = "P-1", kind: str = "tax") -> str:
        bound = self.fed.hub.bind(PENSION, "r", _items(i))
        linkage = self.fed.hub.query(
            PENSION,
            QueryIn(
                request_id=f"q{next(_req)}",
                requester=PENSION.agency_id,
                provider=CITY.agency_id,
                pattern_id=pattern,
                information_kind=kind,
                link_code=str(bound.link_code),
            ),
        )
        return linkage.linkage_id

    def serials(self, linkage_id: str) -> set[int]:
        return {
            e.entry.serial
            for e in self.fed.hub.auditor_entries(AUDITOR, 0, 100_000)
            if e.entry.linkage_id == linkage_id
        }

    def card(self, i: int, **validity: datetime) -> IssuedCard:
        now = self.clock.now()
        return self.portal.cards.issue(
            self.fed.registry.latest(self.codes[i]),
            validity.get("not_before", now - timedelta(minutes=1)),
            validity.get("not_after", now + timedelta(days=365)),
        )

    def login(self, card: IssuedCard, **kw: Any) -> PortalSession:
        cid, nonce, _ = self.portal.challenge(kw.pop("binding", None))
        sig = card.private_key.sign(challenge_message(nonce))
        return self.portal.login(cid, card.certificate_der, sig, **kw)


def _fails(world: World, cid: str, cert: bytes, sig: bytes, **kw: Any) -> None:
    with pytest.raises(UnauthenticatedError) as err:
        world.portal.login(cid, cert, sig, **kw)
    assert err.value.problem == "card-authentication-failed"
    assert str(err.value) == "card-authentication-failed: card authentication failed [RK-PORT-001]"


@pytest.mark.requirement("RK-PORT-001", "RK-AUTH-001", "RK-AUTH-002")
def test_a_fresh_card_signature_opens_a_session_and_every_failure_is_one_401() -> None:
    w = World(3)
    card = w.card(0)
    session = w.login(card)
    assert session.channel == "internet"
    assert w.portal.session(session.token) == session

    # replayed challenge: consumed by the first use
    cid, nonce, _ = w.portal.challenge()
    sig = card.private_key.sign(challenge_message(nonce))
    w.portal.login(cid, card.certificate_der, sig)
    _fails(w, cid, card.certificate_der, sig)
    # a challenge of another portal (foreign) is unknown here
    other = World(1)
    cid, nonce, _ = other.portal.challenge()
    _fails(w, cid, card.certificate_der, card.private_key.sign(challenge_message(nonce)))
    # a challenge bound to another browser pre-session
    cid, nonce, _ = w.portal.challenge("browser-1")
    sig = card.private_key.sign(challenge_message(nonce))
    _fails(w, cid, card.certificate_der, sig, binding="browser-2")
    # expired challenge (RK-AUTH-002: ≤ 5 minutes)
    cid, nonce, _ = w.portal.challenge()
    w.clock.advance(300)
    _fails(w, cid, card.certificate_der, card.private_key.sign(challenge_message(nonce)))
    # bad signature: over other bytes, or by another key
    cid, nonce, _ = w.portal.challenge()
    _fails(w, cid, card.certificate_der, card.private_key.sign(nonce))
    cid, nonce, _ = w.portal.challenge()
    stranger = Ed25519PrivateKey.generate()
    _fails(w, cid, card.certificate_der, stranger.sign(challenge_message(nonce)))
    # garbage certificate
    cid, nonce, _ = w.portal.challenge()
    _fails(w, cid, b"not a certificate", card.private_key.sign(challenge_message(nonce)))


@pytest.mark.requirement("RK-AUTH-001", "RK-PORT-001")
def test_revoked_expired_not_yet_valid_and_foreign_ca_certificates_fail() -> None:
    w = World(2)
    now = w.clock.now()
    revoked = w.card(0)
    w.portal.cards.revoke(revoked.serial)
    expired = w.card(0, not_before=now - timedelta(days=10), not_after=now - timedelta(seconds=1))
    future = w.card(0, not_before=now + timedelta(days=1))
    foreign = CardAuthority(now, name=w.portal.cards.certificate.subject.rfc4514_string()[3:])
    wrong_ca = foreign.issue(_items(0), now - timedelta(days=1), now + timedelta(days=1))
    for card in (revoked, expired, future, wrong_ca):
        cid, nonce, _ = w.portal.challenge()
        _fails(w, cid, card.certificate_der, card.private_key.sign(challenge_message(nonce)))
    # a certificate for 4 items that no longer name a resident (moved away): no person
    w.fed.registry.load([(w.codes[1], FourItems("別人", "大阪府", "1999-09-09", "female"))])
    moved = w.portal.cards.issue(_items(1), now - timedelta(days=1), now + timedelta(days=1))
    cid, nonce, _ = w.portal.challenge()
    _fails(w, cid, moved.certificate_der, moved.private_key.sign(challenge_message(nonce)))
    # and the CA's own certificate is not a card
    assert w.portal.cards.certificate.extensions.get_extension_for_class(
        x509.BasicConstraints
    ).value.ca


@pytest.mark.requirement("RK-AUTH-003")
def test_the_session_holds_no_number_and_no_password_route_exists() -> None:
    w = World(1)
    session = w.login(w.card(0))
    assert not any(str(w.codes[0].value) in str(v) for v in vars_of(session))
    client = TestClient(create_app(test_mode=True))
    paths = client.get("/openapi.json").json()["paths"]
    for path, item in paths.items():
        for op in item.values():
            body = str(op.get("requestBody", ""))
            assert "password" not in body.lower(), path
    reply = client.post("/portal/sessions", json={"number": "123456789018", "password": "x"})
    assert reply.status_code == 422


def vars_of(session: PortalSession) -> list[object]:
    return [getattr(session, f) for f in session.__slots__]


@pytest.mark.requirement("RK-PORT-002")
def test_logs_only_within_an_application_of_the_same_person() -> None:
    w = World(2)
    w.query(0)
    a, b = w.login(w.card(0)), w.login(w.card(1))
    with pytest.raises(PermissionDeniedError):
        w.portal.access_logs(a, "ap-none", 0, 100)
    app_b = w.portal.apply(b, None, None, [])
    with pytest.raises(PermissionDeniedError) as err:
        w.portal.access_logs(a, app_b["application_id"], 0, 100)
    assert err.value.problem == "application-required"
    app_a = w.portal.apply(a, None, None, [])
    assert len(w.portal.access_logs(a, app_a["application_id"], 0, 100)["entries"]) == 1
    w.clock.advance(24 * 3600)
    with pytest.raises(UnauthenticatedError):  # the session has ended long before
        w.portal.access_logs(w.portal.session(a.token), app_a["application_id"], 0, 100)
    fresh = w.login(w.card(0))
    with pytest.raises(PermissionDeniedError):  # the application has expired too
        w.portal.access_logs(fresh, app_a["application_id"], 0, 100)
    # a period and kinds narrow the application
    app = w.portal.apply(fresh, None, None, ["other-kind"])
    assert w.portal.access_logs(fresh, app["application_id"], 0, 100)["entries"] == []
    past = w.clock.now() - timedelta(days=400)
    app = w.portal.apply(fresh, past, past + timedelta(days=1), [])
    assert w.portal.access_logs(fresh, app["application_id"], 0, 100)["entries"] == []
    # the portal keeps no log entries (RK-PORT-002): only its own records
    assert "entries" not in str(w.portal.dump()["portal.applications"])


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.integers(min_value=0, max_value=3), min_size=2, max_size=5))
@pytest.mark.requirement("RK-PORT-003", "RK-LOG-007")
def test_each_person_sees_exactly_their_own_entries(queries: list[int]) -> None:
    """Property: for any number of queries per person, each person sees exactly
    the serials of their own linkages — never another's, never a withheld one —
    and no ID code or link code appears in what is shown."""
    w = World(len(queries))
    own: dict[int, set[int]] = {i: set() for i in range(len(queries))}
    withheld: set[int] = set()
    for i, n in enumerate(queries):
        for _ in range(n):
            own[i] |= w.serials(w.query(i))
        withheld |= w.serials(w.query(i, "P-WH", "secret"))
    id_codes = {w.fed.hub.disclose_id_code(c).hex() for c in w.codes}
    for i in range(len(queries)):
        session = w.login(w.card(i))
        app = w.portal.apply(session, None, None, [])
        page = w.portal.access_logs(session, app["application_id"], 0, 10_000)
        shown = {e["serial"] for e in page["entries"]}
        assert shown == own[i]
        assert not shown & withheld
        text = str(page)
        assert session.link_code not in text
        assert not any(code in text for code in id_codes)


@pytest.mark.requirement("RK-PORT-004")
def test_agency_items_only_after_a_granted_application_for_own_serials() -> None:
    w = World(2)
    lk0, lk1 = w.query(0), w.query(1)
    w.portal.disclosures.record(CITY.agency_id, lk0, "provider", "令和7年度 課税額", False)
    w.portal.disclosures.record(PENSION.agency_id, lk0, "requester", "年金額の算定", True)
    s0 = w.login(w.card(0))
    serial0, serial1 = min(w.serials(lk0)), min(w.serials(lk1))
    app = w.portal.apply(s0, None, None, [])
    before = w.portal.access_logs(s0, app["application_id"], 0, 100)["entries"]
    assert all("agency_items" not in e for e in before)
    with pytest.raises(NotFoundError):  # another person's serial
        w.portal.apply_to_agency(s0, CITY.agency_id, [serial1], ["content"])
    with pytest.raises(NotFoundError):  # an agency not party to the entry
        w.portal.apply_to_agency(s0, TOWN.agency_id, [serial0], ["content"])
    refused = w.portal.apply_to_agency(s0, CITY.agency_id, [serial0], ["use"])
    assert refused["state"] == "refused"
    granted = w.portal.apply_to_agency(s0, CITY.agency_id, [serial0], ["content"])
    assert granted["state"] == "granted"
    w.portal.apply_to_agency(s0, PENSION.agency_id, [serial0], ["use"])
    after = w.portal.access_logs(s0, app["application_id"], 0, 100)["entries"]
    items = next(e for e in after if e["serial"] == serial0)["agency_items"]
    assert {
        "agency": "千代田区",
        "side": "provider",
        "content": "令和7年度 課税額",
        "withheld": False,
    } in items
    assert {"agency": "日本年金機構", "side": "requester", "withheld": True} in items
    s1 = w.login(w.card(1))
    app1 = w.portal.apply(s1, None, None, [])
    assert all(
        "agency_items" not in e
        for e in w.portal.access_logs(s1, app1["application_id"], 0, 100)["entries"]
    )


@pytest.mark.requirement("RK-PORT-005")  # the portal half of RK-LOG-006; the hub half is issue 4
def test_counter_use_is_recorded_and_shown_to_the_person_later() -> None:
    w = World(1)
    w.query(0)
    card = w.card(0)
    counter = w.login(card, channel="counter", counter=TOWN, counter_operator="窓口2番 佐藤")
    app = w.portal.apply(counter, None, None, [])
    w.portal.access_logs(counter, app["application_id"], 0, 100)
    later = w.login(card)
    records = w.portal.usage(later)
    at_counter = [r for r in records if r["channel"] == "counter"]
    assert [r["action"] for r in at_counter] == ["login", "application", "access-logs"]
    assert {r["counter_agency"] for r in at_counter} == {TOWN.agency_id}
    assert {r["counter_operator"] for r in at_counter} == {"窓口2番 佐藤"}
    assert records[-1]["channel"] == "internet"
    assert all("person_ref" not in r for r in records)


def _client_world() -> tuple[TestClient, dict[str, str]]:
    client = TestClient(create_app(test_mode=True))
    code = _code(1_000_000_000).value
    client.post(
        "/control/residents",
        json={
            "residents": [
                {
                    "resident_code": code,
                    "name": "山田 太郎",
                    "address": "東京都千代田区1",
                    "birth_date": "1980-04-01",
                    "sex": "male",
                }
            ]
        },
    ).raise_for_status()
    tokens = client.post(
        "/control/agencies",
        json={"agencies": [{"agency_id": "t.town", "name": "試験町", "role": "municipality"}]},
    ).json()["credentials"]
    card = client.post("/control/cards", json={"resident_code": code})
    assert card.status_code == 201
    return client, {**card.json(), **tokens}


def _sign(card: dict[str, str], nonce_b64: str) -> str:
    key = serialization.load_pem_private_key(card["private_key"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    return base64.b64encode(key.sign(challenge_message(base64.b64decode(nonce_b64)))).decode()


@pytest.mark.requirement("RK-PORT-001", "RK-PORT-005")
def test_wire_counter_mode_needs_a_municipality_credential() -> None:
    client, card = _client_world()

    def attempt(headers: dict[str, str], **extra: Any) -> Any:
        ch = client.post("/portal/challenges").json()
        body = {
            "challenge_id": ch["challenge_id"],
            "certificate": card["certificate"],
            "signature": _sign(card, ch["nonce"]),
            **extra,
        }
        return client.post("/portal/sessions", json=body, headers=headers)

    assert attempt({}, channel="counter", counter_operator="A").status_code == 401
    auth = {"Authorization": f"Bearer {card['t.town']}"}
    assert attempt(auth, channel="counter").status_code == 422  # staff must be named
    assert attempt(auth, counter_operator="A").status_code == 422  # only in counter mode
    ok = attempt(auth, channel="counter", counter_operator="A")
    assert ok.status_code == 201
    assert ok.json()["counter_agency"] == "t.town"
    bad = client.post(
        "/portal/sessions",
        json={"challenge_id": "x", "certificate": "!!", "signature": "AA=="},
    )
    assert bad.status_code == 401
    assert bad.json()["type"] == "urn:renkei:problem:card-authentication-failed"
    stores = client.get("/control/state").json()["stores"]
    records = stores["portal.access_record"]  # RK-CTL-006: the portal's stores are dumped too
    assert [r["channel"] for r in records] == ["counter"]
    assert records[0]["counter_operator"] == "A"
    portal_text = str({k: v for k, v in stores.items() if k.startswith("portal.")})
    assert not re.search(r"[A-Za-z0-9_-]{60}", portal_text)  # no link code is stored
    revoke = client.post("/control/cards/revocations", json={"serial": card["serial"]})
    assert revoke.status_code == 204
    assert attempt({}).status_code == 401


@pytest.mark.requirement("RK-PORT-006")
def test_pages_are_japanese_first_with_the_item_23_labels() -> None:
    client, card = _client_world()
    page = client.get("/portal/ui/")
    assert page.headers["content-language"] == "ja"
    text = page.text
    assert '<html lang="ja">' in text
    assert text.index("カードでログイン") < text.index("Sign in with card")
    assert "password" not in text.lower().replace("no password login", "")
    nonce = text.split('<code id="nonce">')[1].split("<")[0]
    cid = text.split('name="challenge_id" value="')[1].split('"')[0]
    form = {
        "challenge_id": cid,
        "certificate": card["certificate"],
        "signature": _sign(card, nonce),
    }
    resp = client.post("/portal/ui/login", data=form, follow_redirects=False)
    assert resp.status_code == 303, resp.text
    applied = client.post("/portal/ui/applications", data={}, follow_redirects=True)
    body = applied.text
    for label in (
        "① 管理用のシリアル番号",
        "④ 照会元情報保有機関の名称",
        "⑥ 情報連携対象個人情報の種類",
    ):
        assert label in body
    assert body.index("あなたのアクセスログ") < body.index("Your access log (held by the hub)")
    assert "my-portal" in discovery_document(test_mode=True)["profiles"]


@pytest.mark.requirement("RK-PORT-001")
def test_a_browser_login_with_a_stolen_challenge_from_another_browser_fails() -> None:
    client, card = _client_world()
    text = client.get("/portal/ui/").text
    nonce = text.split('<code id="nonce">')[1].split("<")[0]
    cid = text.split('name="challenge_id" value="')[1].split('"')[0]
    other = TestClient(client.app)  # another browser: no pre-session cookie of the first
    form = {
        "challenge_id": cid,
        "certificate": card["certificate"],
        "signature": _sign(card, nonce),
    }
    resp = other.post("/portal/ui/login", data=form, follow_redirects=False)
    assert resp.status_code == 401
    assert "カード認証に失敗しました" in resp.text


@pytest.mark.requirement("RK-PORT-001")
def test_over_https_the_portal_cookies_are_secure_httponly_and_strict() -> None:
    """Served over HTTPS (``renkei serve``), the pre-session and session cookies
    carry ``Secure``, so a browser never sends them in clear; over plain HTTP
    (tests, ``--plain-http``) they could not be set with it."""
    client, card = _client_world()
    for scheme, secure in (("https", True), ("http", False)):
        browser = TestClient(client.app, base_url=f"{scheme}://testserver")
        page = browser.get("/portal/ui/")
        nonce = page.text.split('<code id="nonce">')[1].split("<")[0]
        cid = page.text.split('name="challenge_id" value="')[1].split('"')[0]
        form = {"challenge_id": cid, "certificate": card["certificate"]}
        resp = browser.post(
            "/portal/ui/login", data={**form, "signature": _sign(card, nonce)},
            follow_redirects=False,
        )  # fmt: skip
        assert resp.status_code == 303, resp.text
        session = next(
            h for h in resp.headers.get_list("set-cookie") if h.startswith(f"{SESSION_COOKIE}=")
        )
        for cookie in (page.headers["set-cookie"], session):
            flags = {f.strip().lower() for f in cookie.split(";")[1:]}
            assert {"httponly", "samesite=strict"} <= flags, cookie
            assert ("secure" in flags) is secure, cookie


def test_the_card_certificate_names_the_four_items_and_no_number() -> None:
    now = datetime.now(UTC)
    ca = CardAuthority(now)
    card = ca.issue(_items(3), now, now + timedelta(days=1))
    cert = x509.load_der_x509_certificate(card.certificate_der)
    subject = cert.subject.rfc4514_string()
    assert _items(3).name in subject
    assert cert.serial_number == card.serial
    nonce = b"n" * 32
    assert (
        ca.verify(
            card.certificate_der,
            card.private_key.sign(challenge_message(nonce)),
            nonce,
            now + timedelta(seconds=1),
        ).key()
        == _items(3).key()
    )
