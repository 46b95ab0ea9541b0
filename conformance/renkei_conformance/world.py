"""Synthetic worlds the kit sets up through the control interface.

A world is a reset target with synthetic residents (consecutive resident
codes, unique 4 items), the kit's simulated agencies and a pattern table.
The kit keeps the ground truth; the target learns only what the wire says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import random
import secrets
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, TypeVar

from .client import Reply, Wire, WireError
from .oracle import check_digit_resident

_T = TypeVar("_T")
_R = TypeVar("_R")
IN_FLIGHT = 4
"""Requests the kit has in flight at a time over the network (World.each)."""

__all__ = [
    "AGENCIES",
    "PATTERNS",
    "Challenge",
    "Person",
    "World",
    "current_challenge",
    "population",
    "set_challenge",
]

_FAMILY = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
_GIVEN = ("太郎", "花子", "一郎", "美咲", "健太", "結衣", "翔", "葵", "大輔", "さくら")
_KANA_F = (
    "サトウ",
    "スズキ",
    "タカハシ",
    "タナカ",
    "イトウ",
    "ワタナベ",
    "ヤマモト",
    "ナカムラ",
    "コバヤシ",
    "カトウ",
)
_KANA_G = (
    "タロウ",
    "ハナコ",
    "イチロウ",
    "ミサキ",
    "ケンタ",
    "ユイ",
    "ショウ",
    "アオイ",
    "ダイスケ",
    "サクラ",
)


@dataclass(frozen=True)
class Person:
    resident_code: str
    name: str
    name_kana: str
    address: str
    birth_date: str
    sex: str

    def four_items(self) -> dict[str, str]:
        return {
            "name": self.name,
            "name_kana": self.name_kana,
            "address": self.address,
            "birth_date": self.birth_date,
            "sex": self.sex,
        }

    def resident(self) -> dict[str, str]:
        return {"resident_code": self.resident_code, **self.four_items()}


_TOWNS = (
    "東京都千代田区霞が関",
    "大阪府大阪市北区中之島",
    "北海道札幌市中央区北一条西",
    "福岡県福岡市中央区天神",
    "愛知県名古屋市中区三の丸",
    "宮城県仙台市青葉区本町",
    "広島県広島市中区基町",
    "沖縄県那覇市泉崎",
)


@dataclass(frozen=True)
class Challenge:
    """The world a run derives from its challenge seed (issue 15, certifier mode).

    With a seed (32 bytes, drawn fresh by the certifier), everything the target
    learns about the world differs from run to run and cannot be known before
    the run: the resident codes (shifted by a secret offset, modulo 10¹⁰, so
    distinct serials stay distinct), the order of names and readings, the town,
    the birth dates, the request ids, the agencies' names and each reset's root
    secret.  The same seed gives the same world; without one the kit's fixed
    world is used (and every reset draws a fresh root secret).  Agency ids stay
    fixed: the vendor's client certificates name them."""

    seed: bytes | None = None

    def _rng(self, label: str) -> random.Random:
        assert self.seed is not None
        return random.Random(hashlib.sha256(self.seed + b"/" + label.encode()).digest())

    @cached_property
    def tag(self) -> str:
        """A short name of the seed, in request ids and agency names ("" without one)."""
        if self.seed is None:
            return ""
        return hashlib.sha256(self.seed + b"/tag").hexdigest()[:10]

    @cached_property
    def resident_offset(self) -> int:
        return 0 if self.seed is None else self._rng("resident-codes").randrange(10**10)

    @cached_property
    def names(self) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
        """Family names, given names and their readings, in the world's order."""
        if self.seed is None:
            return _FAMILY, _GIVEN, _KANA_F, _KANA_G
        f = self._rng("family").sample(range(10), 10)
        g = self._rng("given").sample(range(10), 10)
        return (
            tuple(_FAMILY[i] for i in f),
            tuple(_GIVEN[i] for i in g),
            tuple(_KANA_F[i] for i in f),
            tuple(_KANA_G[i] for i in g),
        )

    @cached_property
    def town(self) -> str:
        return _TOWNS[0] if self.seed is None else self._rng("town").choice(_TOWNS)

    @cached_property
    def birth_shift(self) -> int:
        return 0 if self.seed is None else self._rng("births").randrange(60 * 12 * 28)

    def rng(self, label: str, fixed: int) -> random.Random:
        """A test's own random stream: seeded with ``fixed`` in the fixed world, drawn
        from the challenge seed (and ``label``) otherwise."""
        return random.Random(fixed) if self.seed is None else self._rng(label)

    def request_id(self, n: int) -> str:
        return f"kit-{self.tag}-{n}" if self.tag else f"kit-{n}"

    def agency_name(self, name: str) -> str:
        return f"{name}（課題 {self.tag}）" if self.tag else name

    def root_secret(self, n: int) -> bytes:
        """The root secret of the ``n``-th reset of the run (RK-KEY-001)."""
        if self.seed is None:
            return secrets.token_bytes(32)
        return hmac.new(self.seed, f"root-secret/{n}".encode(), hashlib.sha256).digest()


_challenge = Challenge()
_resets = itertools.count(1)
_request_ids = itertools.count(1)


def set_challenge(seed: bytes | None) -> Challenge:
    """Derive the worlds of this run from ``seed`` (the plugin calls this once)."""
    global _challenge, _resets, _request_ids  # noqa: PLW0603 — one run, one challenge
    _challenge = Challenge(seed)
    _resets = itertools.count(1)
    _request_ids = itertools.count(1)
    return _challenge


def current_challenge() -> Challenge:
    return _challenge


def resident_code(serial: int, challenge: Challenge | None = None) -> str:
    body = f"{(serial + (challenge or _challenge).resident_offset) % 10**10:010d}"
    return body + str(check_digit_resident(body))


def population(
    n: int, first: int = 1_000_000_000, challenge: Challenge | None = None
) -> list[Person]:
    """``n`` persons with consecutive serials (resident codes shifted by the
    challenge) and unique 4 items."""
    c = challenge or _challenge
    family, given, kana_f, kana_g = c.names
    people = []
    for i in range(n):
        f, g = i % 10, (i // 10) % 10
        b = i + c.birth_shift
        people.append(
            Person(
                resident_code=resident_code(first + i, c),
                name=f"{family[f]} {given[g]}{i}",
                name_kana=f"{kana_f[f]} {kana_g[g]}",
                address=f"{c.town}{i // 100 + 1}丁目{i % 100 + 1}番1号",
                birth_date=f"{1950 + b % 60}-{b % 12 + 1:02d}-{b % 28 + 1:02d}",
                sex=("male", "female")[i % 2],
            )
        )
    return people


AGENCIES: dict[str, tuple[str, str]] = {
    "kit.pension": ("日本年金機構（試験）", "agency"),
    "kit.city-a": ("試験市", "agency"),
    "kit.insurer": ("試験健康保険組合", "agency"),
    "kit.town-m": ("試験町（付番事務）", "municipality"),
    "kit.auditor": ("個人情報保護委員会（試験）", "auditor"),
}

PATTERNS: list[dict[str, Any]] = [
    {
        "pattern_id": "KIT-P-001",
        "legal_basis": "番号法 別表第二 項番（試験）1",
        "purpose": "年金給付の支給に関する事務（試験）",
        "requesters": ["kit.pension"],
        "providers": ["kit.city-a"],
        "information_kinds": ["local-tax", "resident-record"],
        "answer_within_seconds": 600,
    },
    {
        "pattern_id": "KIT-P-002",
        "legal_basis": "番号法 別表第二 項番（試験）2",
        "purpose": "医療保険給付の支給に関する事務（試験）",
        "requesters": ["kit.insurer"],
        "providers": ["kit.city-a"],
        "information_kinds": ["income"],
        "answer_within_seconds": 600,
    },
]


@dataclass
class World:
    wire: Wire
    persons: list[Person]
    tokens: dict[str, str] = field(default_factory=dict)
    links: dict[tuple[str, str], str] = field(default_factory=dict)  # (agency, rc) -> link code

    @classmethod
    def create(
        cls,
        wire: Wire,
        n_persons: int = 20,
        patterns: list[dict[str, Any]] | None = None,
        extra_agencies: dict[str, tuple[str, str]] | None = None,
    ) -> World:
        wire.transcript.clear()
        reset(wire)
        persons = population(n_persons)
        wire.control("POST", "/residents", {"residents": [p.resident() for p in persons]}).expect(
            200
        )
        every = {**AGENCIES, **(extra_agencies or {})}
        named = _challenge.agency_name
        agencies = [{"agency_id": a, "name": named(n), "role": r} for a, (n, r) in every.items()]
        tokens = wire.control("POST", "/agencies", {"agencies": agencies}).expect(200)[
            "credentials"
        ]
        wire.control("PUT", "/patterns", {"patterns": patterns or PATTERNS}).expect(200)
        return cls(wire, persons, dict(tokens))

    def call(
        self, agency: str, method: str, party: str, path: str, body: Any = None, **kw: Any
    ) -> Reply:
        return self.wire.call(method, party, path, json_body=body, token=self.tokens[agency], **kw)

    def bind(self, agency: str, persons: list[Person]) -> dict[str, str]:
        records = [{"record_ref": p.resident_code, **p.four_items()} for p in persons]
        reply = self.call(agency, "POST", "hub", "/bindings", {"records": records}).expect(200)
        out: dict[str, str] = {}
        for result in reply["results"]:
            if result.get("decision") != "bound" or not result.get("link_code"):
                raise WireError(
                    f"binding of an exact, unique 4-item record was not bound: {result}"
                )
            out[result["record_ref"]] = result["link_code"]
            self.links[(agency, result["record_ref"])] = result["link_code"]
        return out

    def link(self, agency: str, person: Person) -> str:
        key = (agency, person.resident_code)
        if key not in self.links:
            self.bind(agency, [person])
        return self.links[key]

    def query(
        self,
        requester: str,
        person: Person | None = None,
        *,
        provider: str = "kit.city-a",
        pattern_id: str = "KIT-P-001",
        information_kind: str = "local-tax",
        link_code: str | None = None,
        claimed_requester: str | None = None,
        request_id: str | None = None,
    ) -> Reply:
        if link_code is None:
            assert person is not None
            link_code = self.link(requester, person)
        body = {
            "request_id": request_id or _challenge.request_id(next(_request_ids)),
            "requester": claimed_requester or requester,
            "provider": provider,
            "pattern_id": pattern_id,
            "information_kind": information_kind,
            "link_code": link_code,
        }
        return self.call(requester, "POST", "hub", "/queries", body)

    def deliveries(self, provider: str) -> list[dict[str, Any]]:
        reply = self.call(provider, "GET", "hub", "/deliveries").expect(200)
        items: list[dict[str, Any]] = reply["deliveries"]
        return items

    def audit_log(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        after = 0
        while True:
            page = self.call(
                "kit.auditor",
                "GET",
                "auditor",
                "/access-logs",
                params={"after": after, "limit": 1000},
            ).expect(200)["entries"]
            entries.extend(page)
            if len(page) < 1000:
                return entries
            after = int(page[-1]["serial"])  # serials may have gaps: purged entries

    def each(self, fn: Callable[[_T], _R], items: Iterable[_T]) -> list[_R]:
        """``fn`` of every item, results in the items' order.  Over the network a
        few requests are in flight at a time (a deployment serves parties at once,
        and a round trip then no longer waits for the one before); in process
        one after the other."""
        if self.wire.target.kind == "in-process":
            return [fn(item) for item in items]
        with ThreadPoolExecutor(IN_FLIGHT) as pool:
            return list(pool.map(fn, items))

    def complete_linkages(
        self,
        persons: list[Person],
        payload: str,
        requester: str = "kit.pension",
        provider: str = "kit.city-a",
    ) -> set[str]:
        """Query about each person, let the provider answer ``payload`` and the
        requester collect it; return every link code either side saw."""
        seen = {self.link(requester, person) for person in persons}
        ids = self.each(
            lambda person: str(self.query(requester, person).expect(202)["linkage_id"]), persons
        )
        deliveries = self.deliveries(provider)
        seen |= {d["link_code"] for d in deliveries}

        def answer(d: dict[str, Any]) -> None:
            self.call(
                provider, "POST", "hub", f"/linkages/{d['linkage_id']}/answer", {"payload": payload}
            ).expect(202)

        def collect(linkage_id: str) -> None:
            got = self.call(requester, "GET", "hub", f"/linkages/{linkage_id}").expect(200)
            if got.body.get("answer", {}).get("payload") != payload:
                raise WireError(f"linkage {linkage_id} did not relay the answer: {got.text[:300]}")
            self.acknowledge(requester, linkage_id)

        self.each(answer, deliveries)
        self.each(collect, ids)
        return seen

    def acknowledge(self, requester: str, linkage_id: str) -> None:
        """The requester has the answer: the hub erases it (RK-FLOW-002, 204)."""
        self.call(requester, "DELETE", "hub", f"/linkages/{linkage_id}/answer").expect(204)

    def assert_hub_keeps_none(self, link_codes: set[str], payloads: list[str]) -> str:
        """No link code and no payload (base64) in any form in the hub's stores
        (RK-LNK-003, RK-FLOW-002); returns the stored text for further checks."""
        text = self.stored_text("hub")
        for code in link_codes:
            for form in encodings(link_code_bytes(code), code):
                assert form not in text, f"the hub keeps a link code (RK-LNK-003): {form[:16]}…"
        for payload in payloads:
            for form in encodings(base64.b64decode(payload), payload):
                assert form not in text, "the hub keeps an answered payload (RK-FLOW-002)"
        return text

    def stored_text(self, party: str = "hub") -> str:
        """Everything ``party`` stores, as one searchable text (RK-CTL-006)."""
        return "\n".join(
            repr(rows) for name, rows in self.state().items() if name.startswith(party + ".")
        )

    def state(self) -> dict[str, list[dict[str, Any]]]:
        stores: dict[str, list[dict[str, Any]]] = self.wire.control("GET", "/state").expect(200)[
            "stores"
        ]
        return stores


def reset(wire: Wire) -> None:
    """Reset the target, supplying a fresh root secret for its code keys, so that
    the canary sweep knows the key material (RK-KEY-001); a target that cannot
    take one (4xx) is reset without."""
    secret = base64.b64encode(_challenge.root_secret(next(_resets))).decode()
    reply = wire.control("POST", "/reset", {"root_secret": secret})
    if 400 <= reply.status < 500:
        reply = wire.control("POST", "/reset")
    reply.expect(200, 204)


def encodings(raw: bytes, text: str | None = None) -> set[str]:
    """The forms a store might keep the same bytes in (text, hex, base64…)."""
    forms = {
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        repr(raw)[2:-1],
    }
    if text is not None:
        forms.add(text)
    return forms


def link_code_bytes(code: str) -> bytes:
    return base64.urlsafe_b64decode(code + "=" * (-len(code) % 4))
