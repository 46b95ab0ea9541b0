"""The demo world ``renkei serve`` builds, as its nodes describe it over the wire.

README.md: the nodes form a ring of patterns ``DEMO-P-001…`` in which node *i* asks
node *i+1*; each node's fixtures (``GET <node>/control/agency-node/fixtures``) name
its records, the information kinds it holds and its designated clerk.  The harness
also binds each requester's records itself (``POST /hub/bindings`` with the agency's
certificate) to learn the link codes it needs to query the hub directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .federation import Federation

__all__ = ["Route", "World"]


@dataclass(frozen=True)
class Route:
    requester: str
    provider: str
    pattern_id: str
    kind: str


@dataclass
class World:
    nodes: list[str]
    kinds: dict[str, str]
    records: dict[str, list[dict[str, Any]]]  # agency -> its fixture records
    clerk: dict[str, str]
    link_codes: dict[tuple[str, str], str] = field(default_factory=dict)  # (agency, record_no)

    @classmethod
    def read(cls, fed: Federation) -> World:
        op = fed.client("operator")
        kinds, records = {}, {}
        clerk: dict[str, str] = {}
        for agency in fed.nodes:
            resp = op.get(fed.node_url(agency) + "/control/agency-node/fixtures")
            resp.raise_for_status()
            fixtures = resp.json()
            kinds[agency] = str(fixtures["information_kinds"][0])
            records[agency] = list(fixtures["records"])
            clerk = dict(fixtures["designated"])
        return cls(fed.nodes, kinds, records, clerk)

    def route(self, i: int) -> Route:
        n = len(self.nodes)
        provider = self.nodes[(i + 1) % n]
        return Route(self.nodes[i % n], provider, f"DEMO-P-{i % n + 1:03d}", self.kinds[provider])

    def bind(self, fed: Federation) -> dict[str, int]:
        """Bind every requester's records with its own certificate; returns how many
        link codes changed since the last binding (they should not: keys are kept)."""
        changed = 0
        for agency, recs in self.records.items():
            body = {"records": [{"record_ref": r["record_no"], **r["four_items"]} for r in recs]}
            resp = fed.client(agency).post(fed.party("hub") + "/bindings", json=body)
            resp.raise_for_status()
            for res in resp.json()["results"]:
                if res.get("decision") == "bound" and res.get("link_code"):
                    key = (agency, str(res["record_ref"]))
                    old = self.link_codes.get(key)
                    changed += old is not None and old != res["link_code"]
                    self.link_codes[key] = str(res["link_code"])
        # the harness asks only about records it bound itself: one its business system
        # holds in a legacy form (和暦, codes) is bound by its node, which converts it
        for agency, recs in self.records.items():
            self.records[agency] = [r for r in recs if (agency, r["record_no"]) in self.link_codes]
        return {"link_codes_changed": changed}
