"""Disk full: the hub's store cannot write while answers are in transit, then space
comes back.

The store is made unable to write by lowering the running server's RLIMIT_FSIZE soft
limit to 0 (``prlimit``; unprivileged, the hard limit stays): every write that would
extend a file fails with EFBIG (Python ignores SIGXFSZ), as on a full disk.  The agency
nodes share the process and the limit, so their own log writes fail too; the linkages
of this episode are therefore asked and read directly with the requester's certificate
(``POST /hub/queries``, ``GET /hub/linkages/{id}``), which keeps the node out of the
path whose answers are counted.  The providers' nodes answer as usual.

In transit when the store fills:

* ``answered``: the provider answered before the store filled; the requester reads
  while it is full, and again once space is back;
* ``held``: the provider's node pulled the delivery (fault ``slow``) and sends its
  answer while the store is full (fault back to ``none``).

While full the harness also asks new queries (each must be refused with 503
``log-store-unavailable`` and leave nothing behind) and, once space is back, re-sends
those request ids (a 503 says "retry later": the retry must not be 409)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections import Counter
from typing import Any

import httpx

from .federation import Federation
from .judge import auditor_entries, node_entries
from .world import World

__all__ = ["run_disk_full"]


def _slug(resp: httpx.Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(resp.json().get("type", "")).rpartition(":")[2]
    return ""


def _status(resp: httpx.Response | None) -> str:
    return "no-response" if resp is None else f"{resp.status_code} {_slug(resp)}".strip()


class DiskFull:
    def __init__(self, fed: Federation, answers: int, full_seconds: float) -> None:
        self.fed = fed
        self.answers = answers
        self.full_seconds = full_seconds
        self.world = World.read(fed)
        self.world.bind(fed)
        self.statuses: Counter[str] = Counter()
        self.received: dict[str, list[str]] = {}
        self.requester: dict[str, str] = {}
        self.group: dict[str, str] = {}

    def _call(self, op: str, who: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
        try:
            resp = self.fed.client(who).request(method, url, **kw)
        except (httpx.HTTPError, OSError):
            self.statuses[f"{op} no-response"] += 1
            return None
        self.statuses[f"{op} {_status(resp)}"] += 1
        return resp

    def _query(self, i: int, request_id: str, op: str = "query") -> httpx.Response | None:
        route = self.world.route(i)
        record = self.world.records[route.requester][i % len(self.world.records[route.requester])]
        body = {
            "request_id": request_id,
            "requester": route.requester,
            "provider": route.provider,
            "pattern_id": route.pattern_id,
            "information_kind": route.kind,
            "link_code": self.world.link_codes[(route.requester, record["record_no"])],
        }
        return self._call(
            op, route.requester, "POST", self.fed.party("hub") + "/queries", json=body
        )

    def _ask(self, group: str, n: int) -> list[str]:
        out = []
        for i in range(n):
            resp = self._query(i, f"full-{uuid.uuid4().hex}")
            if resp is not None and resp.status_code == 202:
                lid = str(resp.json()["linkage_id"])
                self.requester[lid] = self.world.route(i).requester
                self.group[lid] = group
                self.received[lid] = []
                out.append(lid)
        return out

    def _read(self, lid: str, op: str) -> None:
        url = self.fed.party("hub") + f"/linkages/{lid}"
        resp = self._call(op, self.requester[lid], "GET", url)
        if resp is not None and resp.status_code == 200 and resp.json().get("answer"):
            self.received[lid].append(str(resp.json()["answer"]["payload"]))
            self._call(op + "-ack", self.requester[lid], "DELETE", url + "/answer")

    def _faults(self, fault: str) -> int:
        held = 0
        for node in self.fed.nodes:
            url = self.fed.node_url(node) + "/control/agency-node/fault"
            resp = self._call("fault", "operator", "PUT", url, json={"fault": fault})
            if resp is not None and resp.status_code == 200:
                held += int(resp.json().get("held", 0))
        return held

    def _provider_answered(self, lids: list[str]) -> set[str]:
        done = set()
        for node in self.fed.nodes:
            for e in node_entries(self.fed, node):
                if e.get("outcome") == "answered" and e.get("linkage_id") in lids:
                    done.add(str(e["linkage_id"]))
        return done

    def run(self) -> dict[str, Any]:
        half = self.answers // 2
        answered = self._ask("answered", half)
        end = time.monotonic() + 15
        while time.monotonic() < end and self._provider_answered(answered) != set(answered):
            time.sleep(0.3)
        self._faults("slow")
        held = self._ask("held", self.answers - half)
        end = time.monotonic() + 15
        while time.monotonic() < end and self._faults("slow") < len(held):
            time.sleep(0.3)

        self.fed.set_fsize(0)  # the disk is full
        t_full = time.monotonic()
        self._faults("none")  # the held answers are sent now
        refused_probe: list[tuple[int, str, str]] = []
        for i in range(3):  # new work while full
            rid = f"full-new-{uuid.uuid4().hex}"
            resp = self._query(i, rid, "new-while-full")
            refused_probe.append((i, rid, _status(resp)))
        while time.monotonic() - t_full < self.full_seconds:
            for lid in [*answered, *held]:
                if not self.received[lid]:
                    self._read(lid, "read-while-full")
            time.sleep(0.5)
        self.fed.set_fsize(None)  # space is back
        time.sleep(2.0)

        retries: dict[str, str] = {}
        retry_details: dict[str, str] = {}
        for i, rid, _ in refused_probe:  # "retry later", as the 503 said
            retried = self._query(i, rid, "retry-after-503")
            retries[rid] = _status(retried)
            if retried is not None and retried.status_code == 409:
                retry_details[rid] = str(retried.json().get("detail", ""))
        end = time.monotonic() + 6
        while time.monotonic() < end:
            for lid in [*answered, *held]:
                if not self.received[lid]:
                    self._read(lid, "read-after")
            if all(self.received[lid] for lid in [*answered, *held]):
                break
            time.sleep(0.5)
        for lid in [*answered, *held]:  # an answer relayed twice shows here
            self._read(lid, "re-read")
        fresh = self._query(0, f"full-after-{uuid.uuid4().hex}", "new-after")

        url = self.fed.party("control") + "/clock/advance"
        self._call("clock-advance", "operator", "POST", url, json={"seconds": 660})
        time.sleep(10 * self.fed.poll_interval + 1)
        return self._judge(answered, held, refused_probe, retries, fresh, retry_details)

    def _judge(
        self,
        answered: list[str],
        held: list[str],
        probes: list[tuple[int, str, str]],
        retries: dict[str, str],
        fresh: httpx.Response | None,
        retry_details: dict[str, str],
    ) -> dict[str, Any]:
        outcomes: dict[str, list[str]] = {}
        approved_ids: Counter[str] = Counter()
        approved_linkage: dict[str, str] = {}
        for e in auditor_entries(self.fed):
            if e.get("linkage_id"):
                outcomes.setdefault(str(e["linkage_id"]), []).append(str(e["outcome"]))
            if e.get("outcome") == "approved":
                approved_ids[str(e.get("request_id"))] += 1
                approved_linkage[str(e.get("request_id"))] = str(e["linkage_id"])
        acked = self._provider_answered([*answered, *held])

        def lost(lids: list[str]) -> list[str]:
            return [
                x for x in lids if not self.received[x] and "expired" not in outcomes.get(x, [])
            ]

        lost_all = lost([*answered, *held])
        new_statuses = Counter(s for _, _, s in probes)
        return {
            "answers_in_transit": len(answered) + len(held),
            "answered_before_full": len(answered),
            "answered_while_full": len(held),
            "acknowledged_to_provider": len(acked),
            "received_by_requester": sum(bool(self.received[x]) for x in [*answered, *held]),
            "answers_lost": len(lost_all),
            "answers_lost_log_says_provided": sum(
                "provided" in outcomes.get(x, []) for x in lost_all
            ),
            "answers_lost_by_group": {
                "answered_before_full": len(lost(answered)),
                "answered_while_full": len(lost(held)),
            },
            "expired": sum("expired" in outcomes.get(x, []) for x in [*answered, *held]),
            "delivered_twice": sum(len(v) > 1 for v in self.received.values()),
            "new_work_while_full": dict(new_statuses),
            "new_work_refused_503": all(
                s == "503 log-store-unavailable" for s in new_statuses.elements()
            ),
            # approved entries beyond the one a successful retry made
            "refused_while_full_but_approved_in_log": sum(
                approved_ids[rid] - retries.get(rid, "").startswith("202") > 0
                for _, rid, _ in probes
            ),
            "retry_after_space_back": dict(Counter(retries.values())),
            # a retry refused as a duplicate must name the linkage its first try made
            # (RK-FLOW-003: the 503 was sent before the recorded query was committed)
            "duplicate_retries_not_naming_their_linkage": sum(
                approved_linkage.get(rid, "<none>") not in detail
                for rid, detail in retry_details.items()
            ),
            "new_work_after_space_back": _status(fresh),
            "statuses": dict(sorted(self.statuses.items())),
        }


def run_disk_full(
    fed: Federation, *, answers: int = 10, full_seconds: float = 4.0
) -> dict[str, Any]:
    """One disk-full episode on a fresh federation; the caller closes ``fed``."""
    fed.start()
    return DiskFull(fed, answers, full_seconds).run()
