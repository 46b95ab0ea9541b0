"""Many interleaved linkages through the hub, driven by a hypothesis state machine.

Invariants (seed items 18, 21, 22, 28; RK-FLOW-001..004, RK-FLOW-007, RK-LOG-001,
RK-LOG-005, RK-LNK-003): an answer reaches only its requester, unchanged, until
it acknowledges it and never after;
every linkage that ends is logged as provided or expired; serials run 1, 2, 3…
without gaps; the hub never stores a link code; nothing is relayed after expiry.
"""

# ruff: noqa: PT017 - refusals are an expected branch of a state machine, not a test's goal
from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from renkei_reference.core.codes import ResidentCode
from renkei_reference.core.errors import RenkeiError
from renkei_reference.core.patterns import LinkagePattern
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Agency, Federation, FourItems
from renkei_reference.services.hub import QueryIn

AGENCIES = ("a", "b", "c")
PERSONS = [f"{1_000_000_000 + i:010d}" for i in range(4)]


def _rc(body: str) -> ResidentCode:
    from renkei_reference.core.check_digit import resident_code_check_digit

    return ResidentCode(body + str(resident_code_check_digit(body)))


class HubMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.clock = ControllableClock(datetime(2030, 1, 1, tzinfo=UTC))
        self.fed = Federation(self.clock)
        hub = self.fed.hub
        self.agency = {aid: Agency(aid, aid.upper(), "agency") for aid in AGENCIES}
        for agency in self.agency.values():
            self.fed.register(agency)
        self.residents = [_rc(p) for p in PERSONS]
        self.fed.registry.load(
            (rc, FourItems(f"氏名{i}", f"住所{i}", "1980-01-01", "male"))
            for i, rc in enumerate(self.residents)
        )
        hub.load_patterns(
            [
                LinkagePattern(
                    "P-AB",
                    "別表1",
                    "p",
                    frozenset({"a"}),
                    frozenset({"b"}),
                    frozenset({"k"}),
                    answer_within_seconds=60,
                ),
                LinkagePattern(
                    "P-CB",
                    "別表2",
                    "p",
                    frozenset({"c"}),
                    frozenset({"b", "a"}),
                    frozenset({"k"}),
                    answer_within_seconds=120,
                ),
            ]
        )
        self.links: dict[tuple[str, int], str] = {}
        for aid in AGENCIES:
            for i in range(len(self.residents)):
                items = FourItems(f"氏名{i}", f"住所{i}", "1980-01-01", "male")
                self.links[(aid, i)] = hub.bind(self.agency[aid], f"r{i}", items).link_code or ""
        self.open: dict[str, tuple[str, str]] = {}  # linkage -> (requester, provider)
        self.answered: dict[str, str] = {}  # linkage -> payload sent
        self.relayed: set[str] = set()
        self.acknowledged: set[str] = set()
        self.pulled: set[str] = set()
        self.requests = 0

    @rule(
        requester=st.sampled_from(AGENCIES),
        provider=st.sampled_from(AGENCIES),
        person=st.integers(0, len(PERSONS) - 1),
        pattern=st.sampled_from(["P-AB", "P-CB", "P-X"]),
    )
    def query(self, requester: str, provider: str, person: int, pattern: str) -> None:
        self.requests += 1
        body = {
            "request_id": f"q{self.requests}",
            "requester": requester,
            "provider": provider,
            "pattern_id": pattern,
            "information_kind": "k",
            "link_code": self.links[(requester, person)],
        }
        try:
            linkage = self.fed.hub.query(self.agency[requester], QueryIn(**body))
        except RenkeiError as exc:
            assert exc.problem in {
                "unknown-pattern",
                "requester-not-designated",
                "provider-not-designated",
            }
            return
        self.open[linkage.linkage_id] = (requester, provider)

    @rule(provider=st.sampled_from(AGENCIES))
    def pull(self, provider: str) -> None:
        for d in self.fed.hub.deliveries(self.agency[provider]):
            assert self.open[d.linkage_id][1] == provider, "delivered to the wrong provider"
            assert d.linkage_id not in self.pulled, "delivered twice"
            self.pulled.add(d.linkage_id)

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data(), impostor=st.booleans())
    def answer(self, data: st.DataObject, impostor: bool) -> None:
        lid = data.draw(st.sampled_from(sorted(self.open)))
        provider = self.open[lid][1]
        who = next(a for a in AGENCIES if a != provider) if impostor else provider
        payload = base64.b64encode(f"answer-{lid}".encode()).decode()
        try:
            self.fed.hub.answer(self.agency[who], lid, payload)
        except RenkeiError as exc:
            assert impostor or exc.problem in {
                "linkage-state-conflict",
                "answer-after-deadline",
                "unknown-linkage",
            }
            return
        assert not impostor, "an agency other than the provider answered"
        self.answered[lid] = payload

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data(), impostor=st.booleans())
    def fetch(self, data: st.DataObject, impostor: bool) -> None:
        lid = data.draw(st.sampled_from(sorted(self.open)))
        requester, _ = self.open[lid]
        who = next(a for a in AGENCIES if a != requester) if impostor else requester
        try:
            _, payload, _ = self.fed.hub.status(self.agency[who], lid)
        except RenkeiError as exc:
            assert exc.problem == "unknown-linkage"
            return
        assert not impostor, "an agency other than the requester read a linkage"
        if payload is not None:
            assert payload == self.answered[lid], "relayed the wrong answer"
            assert lid not in self.acknowledged, "relayed an answer after its acknowledgement"
            self.relayed.add(lid)

    @precondition(lambda self: bool(self.open))
    @rule(data=st.data(), impostor=st.booleans())
    def acknowledge(self, data: st.DataObject, impostor: bool) -> None:
        """RK-FLOW-002: only the requester acknowledges, only an answer handed out to
        it and not yet acknowledged."""
        lid = data.draw(st.sampled_from(sorted(self.open)))
        requester, _ = self.open[lid]
        who = next(a for a in AGENCIES if a != requester) if impostor else requester
        try:
            self.fed.hub.acknowledge(self.agency[who], lid)
        except RenkeiError as exc:
            assert exc.problem == "unknown-linkage"
            return
        assert not impostor, "an agency other than the requester acknowledged an answer"
        assert lid in self.relayed, "acknowledged an answer never handed out"
        assert lid not in self.acknowledged, "acknowledged an answer twice"
        self.acknowledged.add(lid)

    @rule(seconds=st.sampled_from([1, 30, 61, 130]))
    def wait(self, seconds: int) -> None:
        self.clock.advance(seconds)
        self.fed.hub.expire_due()

    @invariant()
    def log_is_gapless_and_every_ended_linkage_is_logged(self) -> None:
        rows = self.fed.hub.dump()["hub.access_log"]
        assert [r["serial"] for r in rows] == list(range(1, len(rows) + 1))
        ended = {
            r["linkage_id"]: r["outcome"] for r in rows if r["outcome"] in ("provided", "expired")
        }
        assert self.relayed <= {lid for lid, o in ended.items() if o == "provided"}
        stored = {r["linkage_id"] for r in self.fed.hub.dump()["hub.linkages"]}
        for lid in self.open:
            assert lid in stored or lid in ended, f"{lid} vanished without a log entry"

    @invariant()
    def no_link_code_is_stored(self) -> None:
        text = repr(self.fed.hub.dump())
        assert not any(code in text for code in self.links.values())


HubMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
test_hub_machine = pytest.mark.requirement(
    "RK-FLOW-001",
    "RK-FLOW-002",
    "RK-FLOW-003",
    "RK-FLOW-004",
    "RK-FLOW-007",
    "RK-LOG-001",
    "RK-LOG-005",
    "RK-LNK-003",
)(HubMachine.TestCase)
