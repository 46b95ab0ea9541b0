"""The third-party body's analysis service (第三者機関; seed items 19, 23, 24, 27).

The pure rules are ``core.audit``; this service gathers what they run over:

* the hub's log in the auditor's view (①–⑥, outcome, reason, ``person_ref``)
  and the serials the retention sweep purged;
* every agency's share (⑦–⑫ with the hub's ①), obtained per agency from
  exactly one **share source**, in this order:

  1. a registered **agency node** (``register_node``): the service pulls the
     node's ``GET /agency/access-logs`` and ``GET /agency/denials`` (the
     refusals of its designation, RK-AGN-001, which feed ``outside-designation``)
     page by page with the credential the node accepts for the auditor
     (RK-AUD-001).  A node that does not answer,
     answers with an error or with something that is not an ``AgencyLogPage``
     is reported as ``agency-log-unavailable`` — never a 5xx;
  2. in test mode, the entries **planted** through ``POST
     /control/agency-log-entries`` (a simulated node, RK-CTL-001), so that a
     black-box kit can make any share it needs;
  3. nothing: an agency that took part in a linkage but whose share is not
     available is reported as ``agency-log-unavailable`` by the core.

Each analysis is one read of both logs and is recorded in the hub's
administrative log (RK-LOG-006), as the auditor's other reads are.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx

from ...core.access_log import auditor_view
from ...core.audit import (
    AnomalyRules,
    Finding,
    anomalies,
    discrepancies,
    well_formed_agencies,
    well_formed_denials,
)
from ..clock import Clock
from ..hub import Agency, Hub

__all__ = ["AuditorService", "NodeEndpoint", "Shares", "page"]

PAGE = 1000
NODE_TIMEOUT_SECONDS = 5.0
MAX_NODE_PAGES = 10_000  # 10 M entries per node and analysis, then it is reported as unavailable


@dataclass(frozen=True)
class NodeEndpoint:
    """Where the auditor reads one agency's share (``listAgencyAccessLogs``).

    ``client`` lets ``renkei serve`` hand in an ``httpx.Client`` configured for
    mutual TLS with the auditor's certificate (RK-ARCH-003); by default a plain
    client with a short timeout is made for each pull."""

    url: str
    credential: str | None = None
    client: httpx.Client | None = None


@dataclass(frozen=True)
class Shares:
    """What the agencies' nodes gave for one analysis."""

    entries: dict[str, list[dict[str, Any]]]  # per agency: its share (⑦–⑫ with ①)
    denials: dict[str, list[dict[str, Any]]]  # per agency: its node's refusals (RK-AGN-001)
    unavailable: list[str]  # agencies whose node did not give them


class NodeUnavailable(Exception):
    """The node did not give its log (down, refused, or not an AgencyLogPage)."""


def _pull(
    endpoint: NodeEndpoint, agency_id: str, what: str = "access-logs"
) -> list[dict[str, Any]]:
    """Every page of ``/agency/access-logs`` (``entries``) or ``/agency/denials``
    (``denials``) of one node."""
    key, well_formed = {
        "access-logs": ("entries", well_formed_agencies),
        "denials": ("denials", well_formed_denials),
    }[what]
    headers = {"authorization": f"Bearer {endpoint.credential}"} if endpoint.credential else {}
    client = endpoint.client or httpx.Client(timeout=NODE_TIMEOUT_SECONDS)
    entries: list[dict[str, Any]] = []
    after = 0
    try:
        for _ in range(MAX_NODE_PAGES):
            resp = client.get(
                endpoint.url.rstrip("/") + f"/agency/{what}",
                params={"after": after, "limit": PAGE},
                headers=headers,
            )
            if resp.status_code != 200:
                raise NodeUnavailable(f"HTTP {resp.status_code}")
            page = resp.json()
            if not isinstance(page, dict) or page.get("agency_id") != agency_id:
                raise NodeUnavailable(f"not this agency's page of {what}")
            got = page.get(key)
            if not isinstance(got, list) or not well_formed({agency_id: got}):
                raise NodeUnavailable("malformed entries")
            entries.extend(got)
            nxt = page.get("next_after")
            if len(got) < PAGE or not isinstance(nxt, int) or nxt <= after:
                return entries
            after = nxt
        raise NodeUnavailable("too many pages")
    except (httpx.HTTPError, ValueError) as exc:
        raise NodeUnavailable(type(exc).__name__) from exc
    finally:
        if endpoint.client is None:
            client.close()


class AuditorService:
    """Discrepancies and anomalies over the hub's log and the agencies' shares."""

    def __init__(self, hub: Hub, clock: Clock) -> None:
        self._hub = hub
        self._clock = clock
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeEndpoint] = {}
        self._planted: dict[str, list[dict[str, Any]]] = {}

    # -- share sources ------------------------------------------------------------
    def register_node(self, agency_id: str, endpoint: NodeEndpoint) -> None:
        """Read ``agency_id``'s share from its node from now on (RK-AUD-001)."""
        with self._lock:
            self._nodes[agency_id] = endpoint

    def plant(self, agency_id: str, entries: list[dict[str, Any]]) -> list[int]:
        """Test mode (RK-CTL-001): append entries to a simulated node's share;
        the node's serials are assigned here, in order.  Returns them."""
        with self._lock:
            share = self._planted.setdefault(agency_id, [])
            serials = []
            for e in entries:
                serial = len(share) + 1
                share.append({**e, "serial": serial})
                serials.append(serial)
            return serials

    def shares(self) -> Shares:
        """Every agency's share and its node's refusals that could be read, and the
        agencies whose could not (a node that gives one but not the other is
        unavailable: its log cannot be read whole)."""
        with self._lock:
            nodes = dict(self._nodes)
            planted = {a: list(es) for a, es in self._planted.items() if a not in nodes}
        out = Shares(dict(planted), {}, [])
        for agency_id, endpoint in sorted(nodes.items()):
            try:
                entries = _pull(endpoint, agency_id)
                refused = _pull(endpoint, agency_id, "denials")
            except NodeUnavailable:
                out.unavailable.append(agency_id)
                continue
            out.entries[agency_id] = entries
            out.denials[agency_id] = refused
        return out

    # -- analyses (RK-AUD-002, RK-AUD-003) ---------------------------------------------
    def merged(self, auditor: Agency, what: str) -> tuple[list[dict[str, Any]], list[int], Shares]:
        """Hub entries, purged serials, the agencies' shares, refusals and the
        unreadable ones — one read of all logs, recorded in the administrative
        log (RK-LOG-006)."""
        shares = self.shares()
        held, purged = self._hub.audit_snapshot(
            auditor, what, len(shares.entries), len(shares.unavailable)
        )
        # the analyses read the hub's entries in the wire form the agencies' shares arrive in
        hub = [auditor_view(v.entry, v.person_ref) for v in held]
        return hub, purged, shares

    def discrepancies(self, auditor: Agency) -> list[Finding]:
        hub, purged, shares = self.merged(auditor, "discrepancies")
        return discrepancies(
            hub,
            shares.entries,
            purged=purged,
            unavailable=shares.unavailable,
            outcome_due=self._outcome_due(hub),
            now=self._clock.now(),
        )

    def _outcome_due(self, hub: list[dict[str, Any]]) -> dict[int, datetime]:
        """When each approved linkage must have ended: its deadline plus the
        collection period, one answer period each (RK-FLOW-004, RK-FLOW-007), by
        the answer period of its pattern in the table in force."""
        periods = {k: p.answer_within_seconds for k, p in self._hub.patterns.items()}
        longest = max(periods.values(), default=0)
        return {
            int(e["serial"]): datetime.fromisoformat(str(e["at"]))
            + timedelta(seconds=2 * periods.get(str(e["pattern_id"]), longest))
            for e in hub
            if e.get("outcome") == "approved"
        }

    def anomalies(self, auditor: Agency, rules: AnomalyRules) -> list[Finding]:
        hub, _, shares = self.merged(auditor, "anomalies")
        return anomalies(hub, shares.entries, rules, shares.denials)

    def now(self) -> datetime:
        return self._clock.now()

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """What the service stores (RK-CTL-006): node addresses and planted shares."""
        with self._lock:
            return {
                "auditor.nodes": [
                    {"agency_id": a, "url": n.url} for a, n in sorted(self._nodes.items())
                ],
                "auditor.planted_entries": [
                    {"agency_id": a, **e} for a, es in sorted(self._planted.items()) for e in es
                ],
            }


def page(
    findings: list[Finding], key: str, id_name: str, *, after: int, limit: int, now: datetime
) -> dict[str, Any]:
    """``DiscrepancyPage`` / ``AnomalyPage``: findings numbered 1.. in the order of
    this computation; ids greater than ``after``, at most ``limit``."""
    numbered = [{id_name: i, **f.as_json()} for i, f in enumerate(findings, 1)][after:]
    out: dict[str, Any] = {key: numbered[:limit], "computed_at": now.isoformat()}
    if len(numbered) > limit:
        out["next_after"] = numbered[limit - 1][id_name]
    return out
