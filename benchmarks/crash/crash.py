"""The crash test: linkages through the agency nodes, ``kill -9`` at random instants,
restart on the same state directory, continue; then judge what was acknowledged.

Submitters ask through the requester's node (``POST <node>/control/agency-node/queries``
as its clerk) or, for a share ``direct``, ask the hub with the requester's certificate
(``POST /hub/queries``, whose 202 carries the receipt).  Collectors read each answer
after a random delay (a business system does not read at once), through the node
(``GET <node>/control/agency-node/linkages/{id}``) or the hub (``GET /hub/linkages/{id}``),
so that at any instant some linkages are pending, some delivered, some answered and
not yet read.  Every receipt is fetched and verified as it arrives.  After each
restart the harness re-sends used request ids (they must be refused with 409) and
re-reads the answers already relayed (none may be relayed again)."""

from __future__ import annotations

import contextlib
import heapq
import json
import random
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from .federation import Federation
from .judge import AUDITOR, judge
from .ledger import Ledger, Linkage
from .world import World

__all__ = ["CrashOptions", "run_crash"]


@dataclass(frozen=True)
class CrashOptions:
    linkages: int = 1000
    kills: int = 5
    direct_share: float = 0.25
    in_flight: int = 24
    submitters: int = 3
    collectors: int = 3
    collect_delay: float = 2.0  # a collector waits up to this long before its first read
    patience: float = 20.0  # stop reading a linkage this long after approval (final sweep later)
    replays: int = 20  # used request ids re-sent after each restart
    deadline_slack: float = 60.0
    max_seconds: float = 1800.0  # stop submitting after this long, judge what was done
    seed: int = 16


def _slug(resp: httpx.Response) -> str:
    with contextlib.suppress(ValueError, AttributeError):
        return str(resp.json().get("type", "")).rpartition(":")[2]
    return ""


class CrashRun:
    def __init__(self, fed: Federation, opts: CrashOptions) -> None:
        self.fed = fed
        self.opts = opts
        self.rng = random.Random(opts.seed)
        self.ledger = Ledger()
        self.world: World | None = None
        self.up = threading.Event()
        self.stop = threading.Event()  # everything stops
        self.enough = threading.Event()  # no more submitting (max_seconds passed)
        self.finished = threading.Event()  # the submitters are done: no more kills
        self.slots = threading.Semaphore(opts.in_flight)
        self.cond = threading.Condition()
        self.due: list[tuple[float, int, str]] = []  # (when, seq, linkage_id)
        self.seq = 0
        self.kills: list[dict[str, Any]] = []
        self.replays: Counter[str] = Counter()
        self.restart_checks: list[dict[str, Any]] = []
        self.threads: list[threading.Thread] = []

    # -- plumbing ------------------------------------------------------------------
    @property
    def incarnation(self) -> int:
        return self.fed.starts

    def _call(self, op: str, who: str, method: str, url: str, **kw: Any) -> httpx.Response | None:
        """One request; None when no answer came (the server died, refused the connection …)."""
        try:
            resp = self.fed.client(who).request(method, url, **kw)
        except (httpx.HTTPError, OSError):
            self.ledger.lost_request()
            return None
        self.ledger.count(f"{op} {resp.status_code}")
        return resp

    def _wait_up(self) -> bool:
        while not self.stop.is_set():
            if self.up.wait(0.2):
                return True
        return False

    def _schedule(self, lid: str, delay: float) -> None:
        with self.cond:
            self.seq += 1
            heapq.heappush(self.due, (time.monotonic() + delay, self.seq, lid))
            self.cond.notify()

    def _pin_key(self) -> None:
        resp = self._call(
            "checkpoint", AUDITOR, "GET", self.fed.party("hub") + "/checkpoints/latest"
        )
        if resp is None or resp.status_code != 200:
            raise RuntimeError("cannot read the latest checkpoint")
        key = str(resp.json()["verifier_key"])
        self.ledger.verifier_keys_seen.add(key)
        if self.ledger.verifier_key is None:
            self.ledger.verifier_key = key
        self.ledger.checkpoint(str(resp.json()["checkpoint"]))

    # -- submitting --------------------------------------------------------------
    def _submit_one(self, rng: random.Random) -> None:
        assert self.world is not None
        route = self.world.route(rng.randrange(len(self.world.nodes)))
        record = rng.choice(self.world.records[route.requester])["record_no"]
        if rng.random() < self.opts.direct_share:
            self._submit_direct(route.requester, route.provider, route.pattern_id, route.kind,
                                record, f"crash-{uuid.uuid4().hex}")  # fmt: skip
        else:
            self._submit_node(route.requester, route.provider, route.pattern_id, route.kind, record)

    def _submit_node(
        self, requester: str, provider: str, pattern: str, kind: str, record: str
    ) -> None:
        assert self.world is not None
        inc = self.incarnation
        body = {**self.world.clerk, "record_no": record, "provider": provider,
                "pattern_id": pattern, "information_kind": kind, "use": "crash test"}  # fmt: skip
        url = self.fed.node_url(requester) + "/control/agency-node/queries"
        resp = self._call("node-query", "operator", "POST", url, json=body)
        if resp is None or resp.status_code != 202:
            self.slots.release()
            return
        lid = str(resp.json()["linkage_id"])
        self.ledger.add_linkage(
            Linkage(lid, "node", requester, provider, pattern, kind, record, inc)
        )
        receipt = self._receipt(lid, requester)
        self.ledger.remember_request_id(lid, receipt)
        self._schedule(lid, self.rng.uniform(0, self.opts.collect_delay))

    def _submit_direct(
        self,
        requester: str,
        provider: str,
        pattern: str,
        kind: str,
        record: str,
        request_id: str,
        *,
        replay: bool = False,
    ) -> httpx.Response | None:
        assert self.world is not None
        inc = self.incarnation
        body = {"request_id": request_id, "requester": requester, "provider": provider,
                "pattern_id": pattern, "information_kind": kind,
                "link_code": self.world.link_codes[(requester, record)]}  # fmt: skip
        op = "replay-query" if replay else "hub-query"
        resp = self._call(op, requester, "POST", self.fed.party("hub") + "/queries", json=body)
        if resp is None or resp.status_code != 202:
            if not replay:
                self.slots.release()
            return resp
        data = resp.json()
        lid = str(data["linkage_id"])
        link = Linkage(lid, "direct", requester, provider, pattern, kind, record, inc,
                       request_id=request_id, deadline=data.get("deadline"),
                       replay=replay)  # fmt: skip
        if self.ledger.add_linkage(link) and not replay:
            with self.ledger.lock:
                self.ledger.used_ids.append((lid, request_id))
        self.ledger.receipt(data["receipt"], inc)
        self._schedule(lid, self.rng.uniform(0, self.opts.collect_delay))
        return resp

    def _receipt(self, lid: str, who: str, serial: int | None = None) -> Any:
        params = {"serial": serial} if serial else None
        url = self.fed.party("hub") + f"/linkages/{lid}/receipt"
        resp = self._call("receipt", who, "GET", url, params=params)
        if resp is None or resp.status_code != 200:
            return None
        return self.ledger.receipt(resp.json(), self.incarnation)

    def _submitter(self, seed: int) -> None:
        rng = random.Random(seed)
        while self._wait_up():
            if self.ledger.approved() >= self.opts.linkages or self.enough.is_set():
                return
            if not self.slots.acquire(timeout=0.2):
                continue
            if not self.up.is_set():
                self.slots.release()
                continue
            try:
                self._submit_one(rng)
            except Exception as exc:  # a harness fault must not stall the run; it is counted
                self.ledger.count(f"harness-error {type(exc).__name__}")
                self.slots.release()

    # -- collecting --------------------------------------------------------------
    def _read(self, link: Linkage) -> tuple[str, str | None]:
        """Read a linkage once: ("answer", payload), ("none", None), ("gone", slug)
        or ("error", None)."""
        if link.path == "node":
            url = (
                self.fed.node_url(link.requester)
                + f"/control/agency-node/linkages/{link.linkage_id}"
            )
            assert self.world is not None
            resp = self._call("node-read", "operator", "GET", url, params=self.world.clerk)
        else:
            url = self.fed.party("hub") + f"/linkages/{link.linkage_id}"
            resp = self._call("hub-read", link.requester, "GET", url)
        if resp is None:
            return "error", None
        if resp.status_code == 200:
            data = resp.json()
            answer = data.get("answer")
            if answer:
                if link.path == "direct" and data.get("receipt"):
                    self.ledger.receipt(data["receipt"], self.incarnation)
                if link.path == "direct":  # the node acknowledges for its own readers
                    self._call("hub-ack", link.requester, "DELETE", url + "/answer")
                return "answer", str(answer["payload"])
            return "none", None
        if resp.status_code in (400, 404, 410) and _slug(resp) in ("unknown-linkage", "not-found"):
            return "gone", _slug(resp)
        return "error", None

    def _collect(self, link: Linkage) -> bool:
        """One read; True when the linkage is finished for the collector."""
        kind, value = self._read(link)
        if kind == "answer" and value is not None:
            with self.ledger.lock:
                link.payloads.append(value)
                if link.collected_in is None:
                    link.collected_in = self.incarnation
            if link.path == "node":  # the receipt of the provided entry, as the requester
                self._receipt(link.linkage_id, link.requester)
            return True
        if kind == "gone":
            with self.ledger.lock:
                link.forgotten = value
            return True
        return False

    def _collector(self) -> None:
        while not self.stop.is_set():
            with self.cond:
                while not self.stop.is_set() and (
                    not self.due or self.due[0][0] > time.monotonic()
                ):
                    self.cond.wait(0.1)
                if self.stop.is_set():
                    return
                _, _, lid = heapq.heappop(self.due)
            if not self.up.is_set():
                self._schedule(lid, 0.3)
                self.up.wait(1.0)
                continue
            link = self.ledger.linkages[lid]
            try:
                finished = self._collect(link)
            except Exception as exc:  # counted; the linkage is read again
                self.ledger.count(f"harness-error {type(exc).__name__}")
                finished = False
            if finished or time.monotonic() - link.born > self.opts.patience:
                link.done = True
                if not link.replay:
                    self.slots.release()
            else:
                self._schedule(lid, 0.3)

    # -- kills and restarts -------------------------------------------------------
    def _after_start(self) -> None:
        assert self.world is not None
        self._pin_key()
        changed = self.world.bind(self.fed)
        check: dict[str, Any] = {"start": self.incarnation, **changed}
        if self.incarnation > 1:
            check.update(self._replay())
        self.restart_checks.append(check)

    def _replay(self) -> dict[str, Any]:
        """Re-send used request ids (RK-FLOW-003: refused with 409) and one fresh id."""
        assert self.world is not None
        with self.ledger.lock:
            used = list(self.ledger.used_ids)
        # only ids whose record the harness bound itself can be sent directly (a record
        # the business system holds in a legacy form is bound by its node only)
        codes = self.world.link_codes
        used = [
            (lid, rid)
            for lid, rid in used
            if (self.ledger.linkages[lid].requester, self.ledger.linkages[lid].record_no) in codes
        ]
        picks = self.rng.sample(used, min(self.opts.replays, len(used)))
        out: Counter[str] = Counter()
        for lid, request_id in picks:
            link = self.ledger.linkages[lid]
            resp = self._submit_direct(link.requester, link.provider, link.pattern_id, link.kind,
                                       link.record_no, request_id, replay=True)  # fmt: skip
            status = "no-answer" if resp is None else f"{resp.status_code} {_slug(resp)}".strip()
            out[status] += 1
            self.replays[status] += 1
        return {"replayed": len(picks), "replay_statuses": dict(out)}

    def _restart(self, rng: random.Random, why: str) -> None:
        with self.ledger.lock:
            open_now = sum(not x.done for x in self.ledger.linkages.values())
        approved = self.ledger.approved()
        self.up.clear()
        self.fed.kill()
        took = self.fed.start()
        self._after_start()
        self.up.set()
        self.kills.append({"why": why, "after_approved": approved, "open_linkages": open_now,
                           "restart_seconds": round(took, 2)})  # fmt: skip

    def _killer(self) -> None:
        """Kill at one random mark in each of ``kills`` equal slices of the run; restart a
        server that exited on its own; stop the submitters after ``max_seconds``."""
        n, k = self.opts.linkages, self.opts.kills
        rng = random.Random(self.opts.seed + 1)  # its own: the workers share self.rng
        span = 0.84 * n / max(k, 1)
        marks = [0.08 * n + span * (j + rng.random()) for j in range(k)]
        t_end = time.monotonic() + self.opts.max_seconds
        try:
            self._kill_at_marks(rng, marks, t_end)
        except BaseException as exc:
            self.ledger.count(f"harness-error killer {type(exc).__name__}: {exc}")
            self.stop.set()  # the run cannot go on without its restarts: end it, loudly
            self.up.set()
            raise

    def _kill_at_marks(self, rng: random.Random, marks: list[float], t_end: float) -> None:
        while not self.finished.is_set():
            if not self.fed.alive():
                self._restart(rng, "exited on its own")
            elif marks and self.ledger.approved() >= marks[0]:
                marks.pop(0)
                time.sleep(rng.uniform(0.0, 0.5))  # a random instant, not a quiet one
                self._restart(rng, "kill -9")
            if time.monotonic() > t_end:
                self.enough.set()
            time.sleep(0.05)

    # -- the run -------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        t0 = time.monotonic()
        self.fed.start()
        self.world = World.read(self.fed)
        self._after_start()
        self.up.set()
        workers = [
            threading.Thread(target=self._submitter, args=(self.opts.seed * 100 + i,), daemon=True)
            for i in range(self.opts.submitters)
        ]
        workers += [
            threading.Thread(target=self._collector, daemon=True)
            for _ in range(self.opts.collectors)
        ]
        killer = threading.Thread(target=self._killer, daemon=True)
        for t in [*workers, killer]:
            t.start()
        try:
            for t in workers[: self.opts.submitters]:
                t.join()
            self.finished.set()
            killer.join()
            self._drain()
        finally:
            self.finished.set()
            self.stop.set()
            for t in workers:
                t.join(10)
        driving = time.monotonic() - t0
        report = self._finish()
        report["seconds"] = {"driving": round(driving, 1), "total": round(time.monotonic() - t0, 1)}
        return report

    def _drain(self) -> None:
        """Let the collectors finish what they still read (bounded by ``patience``)."""
        end = time.monotonic() + self.opts.patience + 5
        while time.monotonic() < end:
            with self.ledger.lock:
                if all(x.done for x in self.ledger.linkages.values()):
                    return
            time.sleep(0.2)

    def _finish(self) -> dict[str, Any]:
        """Final sweep, double-delivery probe, deadlines passed, then the judgement."""
        links = list(self.ledger.linkages.values())
        for _ in range(3):  # answers still in transit: read those not yet collected
            for link in links:
                if not link.payloads and link.forgotten is None:
                    self._collect(link)
            time.sleep(3 * self.fed.poll_interval + 0.5)
        for link in links:  # an answer relayed after its acknowledgement shows here
            if link.payloads:
                self._probe_twice(link)
        advanced = self._pass_deadlines()
        report = judge(self.fed, self.ledger)
        report["kills"] = self.kills
        report["restarts"] = self.restart_checks
        report["replays"] = {
            "sent": sum(self.replays.values()),
            "accepted": sum(v for s, v in self.replays.items() if s.startswith("202")),
            "refused_409": sum(v for s, v in self.replays.items() if s.startswith("409")),
            "statuses": dict(self.replays),
        }
        report["clock_advanced_seconds"] = advanced
        report["options"] = self.opts.__dict__
        return report

    def _probe_twice(self, link: Linkage) -> None:
        """Read an answered linkage again.  The same answer back means its
        acknowledgement died in a kill (RK-FLOW-002 hands an answer out until it is
        acknowledged): that read acknowledged it (the harness on the direct path, the
        node once its response is sent), so one more read must find none.  A
        different answer, or any answer after that, counts as delivered twice."""
        for attempt in range(2):
            kind, value = self._read(link)
            if kind != "answer" or value is None:
                return
            if value != link.payloads[0] or attempt == 1:
                link.payloads.append(value)
                return
            time.sleep(0.5)  # the node acknowledges after its response is sent

    def _pass_deadlines(self) -> float:
        """Move the hub's clock (test-mode control) past every deadline + slack — the demo
        patterns answer within 600 s; the deadlines the hub returned to direct queries
        are checked too — and give the nodes' pulls (which expire overdue linkages) time."""
        url = self.fed.party("control") + "/clock/advance"
        deadlines = [datetime.fromisoformat(x.deadline.replace("Z", "+00:00"))
                     for x in self.ledger.linkages.values() if x.deadline]  # fmt: skip
        seconds, total = 600.0 + self.opts.deadline_slack, 0.0
        for _ in range(3):
            resp = self._call("clock-advance", "operator", "POST", url, json={"seconds": seconds})
            if resp is None or resp.status_code != 200:
                break
            total += seconds
            now = datetime.fromisoformat(str(resp.json()["now"]).replace("Z", "+00:00"))
            behind = max(deadlines, default=now) - now
            seconds = behind.total_seconds() + self.opts.deadline_slack
            if behind.total_seconds() + self.opts.deadline_slack <= 0:
                break
        time.sleep(10 * self.fed.poll_interval + 1)
        return total


def run_crash(fed: Federation, opts: CrashOptions) -> dict[str, Any]:
    """Run the crash test on a fresh federation; the caller closes ``fed``."""
    return CrashRun(fed, opts).run()


def dumps(report: dict[str, Any]) -> str:
    return json.dumps(report, indent=2, ensure_ascii=False, default=str)
