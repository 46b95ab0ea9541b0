"""The hub carries the linkage load of the national profile it declares (RK-PERF-001),
on an empty log and after a large history (RK-PERF-002).

Items 1 and 28: every linkage goes through the hub, and agencies answer within a
fixed time, so the hub must sustain the nation's traffic at its peak; item 25 keeps
the log for seven years, so it must still do so when the log is large.  The
implementation declares the profile it is built for (capability option
``throughput_profile``, a profile of specs/benchmarks/national-profile.yaml;
default ``jp-fy2022``, Japan's national volume at its peak).

The kit drives a short closed-loop load through the wire: requester threads
send allowed queries and poll for the answer, a provider thread pulls
deliveries and answers each at once with a 1 KiB payload.  Completed linkages
per second, the p99 of query sent → answer collected, and the error rate are
judged against the profile, as ``renkei bench`` judges them; ``renkei bench
--profile P`` measures a profile in full (Locust, distributed mode) and beside
the floor of the same server stack.  CT-PERF-002 measures single linkages one
after another on an empty log, plants a history of 5,000 linkages
(``plantLinkageHistory``), measures again and drives the load again: the cost of
a linkage must not grow beyond twice (renkei_conformance.stats.grows_beyond) and
the profile must still be met.  Every figure goes in the report (``measurements``).
"""

from __future__ import annotations

import base64
import itertools
import math
import os
import threading
import time
from typing import Any

import httpx
import pytest

from renkei_conformance.load.summary import load_profile, verdict
from renkei_conformance.plugin import KitSession
from renkei_conformance.stats import grows_beyond
from renkei_conformance.world import World

REQUESTERS = (
    8  # concurrent requester threads (4 left a loaded 2-core machine below jp-fy2022 over HTTPS)
)
PERSONS = 10  # persons the requester binds (queries cycle over them)
POLL_S = 0.005  # first poll after this, backing off to ten times it
LINKAGE_TIMEOUT_S = 10.0
HISTORY = 5_000  # completed linkages planted before the second measurement (RK-PERF-002)
HISTORY_CALL = 500  # linkages per plantLinkageHistory call (each well within a timeout)
SAMPLES = 40  # single linkages measured at each log size
WARM_UP = 5  # single linkages made, not measured, before each measurement
MARGIN = 2.0  # the cost may grow by this factor at most (RK-PERF-002)
_ids = itertools.count(1)


def _p(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 1)


class _Load:
    """Requesters and a provider on threads, sharing the kit's one client."""

    def __init__(self, world: World, links: list[str], payload: str) -> None:
        self.world = world
        self.http: httpx.Client = world.wire.http
        self.links = links
        self.payload = payload
        self.stop = threading.Event()  # requesters send no new query
        self.provider_stop = threading.Event()  # the provider stops pulling
        self.lock = threading.Lock()
        self.latencies_ms: list[float] = []
        self.failed_linkages = 0
        self.requests = 0
        self.failed_requests = 0
        self.problems: list[str] = []

    def _call(self, agency: str, method: str, path: str, **kw: Any) -> httpx.Response | None:
        resp: httpx.Response | None = None
        try:
            resp = self.http.request(
                method,
                self.world.wire.url("hub", path),
                headers={"Authorization": f"Bearer {self.world.tokens[agency]}"},
                **kw,
            )
            problem = "" if resp.is_success else f"{method} {path}: HTTP {resp.status_code}"
        except httpx.HTTPError as exc:
            problem = f"{method} {path}: {type(exc).__name__}: {exc}"
        with self.lock:
            self.requests += 1
            if problem:
                self.failed_requests += 1
                if len(self.problems) < 5:
                    self.problems.append(problem[:300])
        return resp if problem == "" else None

    def requester(self) -> None:
        while not self.stop.is_set():
            started = time.perf_counter()
            body = {
                "request_id": f"kit-load-{os.getpid()}-{next(_ids)}",
                "requester": "kit.pension",
                "provider": "kit.city-a",
                "pattern_id": "KIT-P-001",
                "information_kind": "local-tax",
                "link_code": self.links[next(_ids) % len(self.links)],
            }
            resp = self._call("kit.pension", "POST", "/queries", json=body)
            if resp is None:
                continue
            linkage_id = resp.json()["linkage_id"]
            pause, answered = POLL_S, None
            while answered is None and time.perf_counter() - started < LINKAGE_TIMEOUT_S:
                time.sleep(pause)
                pause = min(pause * 1.5, 10 * POLL_S)
                got = self._call("kit.pension", "GET", f"/linkages/{linkage_id}")
                if got is None:
                    break
                answered = (got.json().get("answer") or {}).get("payload")
            elapsed_ms = (time.perf_counter() - started) * 1000.0
            with self.lock:
                if answered == self.payload:
                    self.latencies_ms.append(elapsed_ms)
                else:
                    self.failed_linkages += 1
                    if len(self.problems) < 5:
                        self.problems.append(
                            f"linkage {linkage_id}: the answer was not relayed intact within "
                            f"{LINKAGE_TIMEOUT_S:.0f} s"
                        )

    def provider(self) -> None:
        while not self.provider_stop.is_set():
            resp = self._call("kit.city-a", "GET", "/deliveries", params={"limit": 100})
            deliveries = resp.json()["deliveries"] if resp is not None else []
            for d in deliveries:
                self._call(
                    "kit.city-a",
                    "POST",
                    f"/linkages/{d['linkage_id']}/answer",
                    json={"payload": self.payload},
                )
            if not deliveries:
                time.sleep(POLL_S)

    def run(self, seconds: float) -> float:
        """Load for ``seconds``, then let the linkages in flight complete (the
        provider answers until the last requester has collected)."""
        provider = threading.Thread(target=self.provider, daemon=True)
        requesters = [
            threading.Thread(target=self.requester, daemon=True) for _ in range(REQUESTERS)
        ]
        started = time.perf_counter()
        provider.start()
        for t in requesters:
            t.start()
        time.sleep(seconds)
        self.stop.set()
        for t in requesters:
            t.join(timeout=LINKAGE_TIMEOUT_S + 5)
        elapsed = time.perf_counter() - started
        self.provider_stop.set()
        provider.join(timeout=LINKAGE_TIMEOUT_S)
        return elapsed


@pytest.mark.conformance("CT-PERF-001", requirements=["RK-PERF-001"], profiles=["hub"])
def test_the_hub_sustains_the_linkage_load_of_its_declared_profile(
    world: World, renkei: KitSession
) -> None:
    """Linkages/s, p99 end-to-end latency and the error rate of a short
    closed-loop load meet the declared national profile."""
    options = renkei.capabilities["options"]
    profile = load_profile(str(options.get("throughput_profile") or "jp-fy2017"))
    seconds = float(options.get("throughput_seconds") or 3)
    links = list(world.bind("kit.pension", world.persons[:PERSONS]).values())
    payload = base64.b64encode(os.urandom(1024)).decode()
    # one linkage through the checked client first: the shapes are the contract's
    first = world.query("kit.pension", world.persons[0]).expect(202)
    (delivery,) = world.deliveries("kit.city-a")
    world.call(
        "kit.city-a", "POST", "hub", f"/linkages/{delivery['linkage_id']}/answer",
        {"payload": payload},
    ).expect(202)  # fmt: skip
    relayed = world.call("kit.pension", "GET", "hub", f"/linkages/{first['linkage_id']}")
    assert relayed.expect(200)["answer"]["payload"] == payload, "the answer was not relayed"

    judged, figures, problems = _judged_load(world, links, payload, profile, seconds)
    renkei.measurements.setdefault("CT-PERF-001", {})["empty log"] = figures
    assert figures["linkages"]["count"] > 0, f"no linkage completed: {problems}"
    assert judged["pass"], (
        f"against the declared profile {profile['id']!r} ({figures['seconds']} s, {REQUESTERS} "
        f"requesters): {_checks(judged)}; first problems: {problems or 'none'}.  "
        f"`renkei bench --profile {profile['id']}` measures it in full."
    )


def _checks(judged: dict[str, Any]) -> str:
    return "; ".join(
        f"{c['what']}: {c['measured']} (required {c['required']})" for c in judged["checks"]
    )


def _judged_load(
    world: World, links: list[str], payload: str, profile: dict[str, Any], seconds: float
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """A closed-loop load for ``seconds``: its verdict against ``profile``, its
    figures (for the report) and its first problems."""
    load = _Load(world, links, payload)
    elapsed = load.run(seconds)
    done = load.latencies_ms
    count = len(done) + load.failed_linkages
    result = {
        "linkages": {
            "count": count,
            "failures": load.failed_linkages,
            "per_s": round(len(done) / elapsed, 2),
            "p50_ms": _p(done, 0.5),
            "p95_ms": _p(done, 0.95),
            "p99_ms": _p(done, 0.99),
        },
        "error_rate": round(load.failed_requests / load.requests, 6) if load.requests else None,
        "shape": {"rate": 0},
    }
    figures = {
        "profile": profile["id"],
        "seconds": round(elapsed, 1),
        "requesters": REQUESTERS,
        "linkages": result["linkages"],
        "error_rate": result["error_rate"],
    }
    return verdict(result, profile), figures, load.problems


def _single_linkages(
    world: World, links: list[str], payload: str, count: int
) -> tuple[list[float], list[float]]:
    """``count`` linkages one after another, each timed from the query sent to the
    answer collected, the provider answering at once: the cost of a linkage, as
    wall-clock latency and as the CPU time of the kit's process (ms).  A target in
    the kit's process spends its CPU time there, and CPU time does not count the
    waits of a loaded machine's scheduler, which wall-clock time does."""
    wall, cpu = [], []
    for i in range(count):
        started, cpu_started = time.perf_counter(), time.process_time()
        linkage_id = world.query("kit.pension", link_code=links[i % len(links)]).expect(202)[
            "linkage_id"
        ]
        (delivery,) = world.deliveries("kit.city-a")
        world.call(
            "kit.city-a", "POST", "hub", f"/linkages/{delivery['linkage_id']}/answer",
            {"payload": payload},
        ).expect(202)  # fmt: skip
        got = world.call("kit.pension", "GET", "hub", f"/linkages/{linkage_id}").expect(200)
        cpu.append((time.process_time() - cpu_started) * 1000.0)
        wall.append((time.perf_counter() - started) * 1000.0)
        assert got["answer"]["payload"] == payload, f"linkage {linkage_id}: answer not relayed"
    return wall, cpu


def _summary(latencies: list[float]) -> dict[str, Any]:
    return {
        "count": len(latencies),
        "p50_ms": _p(latencies, 0.5),
        "p90_ms": _p(latencies, 0.9),
        "max_ms": _p(latencies, 1.0),
    }


@pytest.mark.conformance(
    "CT-PERF-002", requirements=["RK-PERF-002", "RK-PERF-001"], profiles=["hub"]
)
def test_the_cost_of_a_linkage_does_not_grow_with_the_log(world: World, renkei: KitSession) -> None:
    """Single linkages, one after another, cost no more than twice as much after a
    history of 5,000 completed linkages (planted with ``plantLinkageHistory``) as on
    an empty log — a one-sided Mann–Whitney test of 40 + 40 costs against that
    margin, refusing at p < 1e-6; the cost is the CPU time of the kit's process for
    a target in it, else the wall-clock latency — and the declared profile's load is
    still carried on the large log.  The figures at both sizes go in the report."""
    options = renkei.capabilities["options"]
    profile = load_profile(str(options.get("throughput_profile") or "jp-fy2022"))
    seconds = float(options.get("throughput_seconds") or 3)
    links = list(world.bind("kit.pension", world.persons[:PERSONS]).values())
    payload = base64.b64encode(os.urandom(1024)).decode()
    _single_linkages(world, links, payload, WARM_UP)
    empty_wall, empty_cpu = _single_linkages(world, links, payload, SAMPLES)
    started = time.perf_counter()
    for done in range(0, HISTORY, HISTORY_CALL):
        body = {
            "requester": "kit.pension",
            "provider": "kit.city-a",
            "pattern_id": "KIT-P-001",
            "information_kind": "local-tax",
            "link_codes": links,
            "linkages": min(HISTORY_CALL, HISTORY - done),
        }
        planted = world.wire.control("POST", "/history", body).expect(200)["planted"]
        assert planted == body["linkages"], f"planted {planted} of {body['linkages']}"
    planting_s = time.perf_counter() - started
    # the size of the log: the latest checkpoint's tree (reading 10,000 entries back
    # through the checked client would cost the kit seconds)
    log_size = int(world.call("kit.auditor", "GET", "hub", "/checkpoints/latest").expect(200)[
        "tree_size"
    ])  # fmt: skip
    assert log_size >= 2 * HISTORY, f"the history left {log_size} entries, not {2 * HISTORY}"
    _single_linkages(world, links, payload, WARM_UP)
    large_wall, large_cpu = _single_linkages(world, links, payload, SAMPLES)
    judged, figures, problems = _judged_load(world, links, payload, profile, seconds)
    # In process the target's cost is the CPU time it spends in the kit's process;
    # over the network only the wall clock is seen (its noise is the machine's).
    in_process = world.wire.target.kind == "in-process"
    measure = "CPU time" if in_process else "wall-clock latency"
    growth = grows_beyond(
        f"{measure} of a linkage after the history",
        empty_cpu if in_process else empty_wall,
        large_cpu if in_process else large_wall,
        MARGIN,
    )
    renkei.measurements["CT-PERF-002"] = {
        "single linkages, empty log": {
            "latency": _summary(empty_wall), "cpu_in_kit_process": _summary(empty_cpu),
        },
        f"single linkages, log of {log_size} entries": {
            "latency": _summary(large_wall), "cpu_in_kit_process": _summary(large_cpu),
        },
        f"load, log of {log_size} entries": figures,
        "history": {"linkages": HISTORY, "entries": log_size, "planting_s": round(planting_s, 1)},
        f"growth of the {measure}": growth.detail,
    }  # fmt: skip
    assert growth.passed, f"the cost of a linkage grows with the log (RK-PERF-002): {growth.detail}"
    assert judged["pass"], (
        f"after a history of {HISTORY} linkages ({log_size} log entries) the declared profile "
        f"{profile['id']!r} is not carried: {_checks(judged)}; first problems: "
        f"{problems or 'none'}"
    )
