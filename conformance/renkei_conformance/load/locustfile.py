"""The locustfile ``renkei bench`` runs (master and workers alike).

Locust monkey-patches the standard library with gevent, so this file is only
ever imported by a ``python -m locust`` subprocess, never by the kit itself.
Everything it needs was set up once through the control interface and is read
from the setup file named by ``RENKEI_BENCH_SETUP`` (same file on every
worker; copy it to workers on other machines).

Two kinds of simulated users:

* ``Requester`` — a requesting agency's terminal: sends a mix of allowed
  queries (then collects the relayed answer) and refused ones (a pattern the
  agency is not designated for, RK-PAT-002 → 403 problem+json).  Each
  completed linkage is reported as the pseudo-request ``LINKAGE end-to-end``,
  query sent → answer collected.
* ``Provider`` — a providing agency's server: pulls deliveries (RK-FLOW-005)
  and answers each at once.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import time
from typing import Any

from locust import FastHttpUser, between, constant, constant_throughput, events, task

_SETUP: dict[str, Any] = json.loads(
    open(os.environ["RENKEI_BENCH_SETUP"], encoding="utf-8").read()  # noqa: SIM115
)
_HUB: str = _SETUP["parties"]["hub"].rstrip("/")
_ids = itertools.count(1)
_WORKER = f"{os.getpid()}-{random.getrandbits(32):08x}"
_PER_USER_RATE = float(_SETUP["rate"]) / max(1, int(_SETUP["requester_users"]))
_POLL = float(_SETUP["poll_interval_s"])
_TIMEOUT = float(_SETUP["linkage_timeout_s"])
_WAIT = float(_SETUP.get("hold_read_s", 10.0))  # how long a read asks to be held


_fire: Any = events.request.fire  # untyped in Locust


def _tls_context_factory() -> Any:
    """A client context for mutual TLS 1.3 (RK-ARCH-003) with the setup's CA and
    operator certificate, or None for plain HTTP targets."""
    tls = _SETUP.get("tls")
    if not tls:
        return None
    import tempfile

    import gevent.ssl

    folder = tempfile.mkdtemp(prefix="renkei-bench-tls-")
    paths = {}
    for name in ("ca", "cert", "key"):
        paths[name] = os.path.join(folder, f"{name}.pem")
        fd = os.open(paths[name], os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(tls[name])

    def factory(*_: Any) -> Any:  # Locust binds it as a method of the user
        ctx = gevent.ssl.create_default_context(cafile=paths["ca"])
        ctx.minimum_version = gevent.ssl.TLSVersion.TLSv1_3
        ctx.load_cert_chain(paths["cert"], paths["key"])
        return ctx

    return factory


_SSL_CONTEXT_FACTORY = _tls_context_factory()


def _auth(agency: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {_SETUP['tokens'][agency]}"}


WARM_UP = "connect (warm-up)"


def _connect(user: FastHttpUser, agency: str) -> None:
    """Open the user's connection (the mutual TLS handshake) with one request that
    changes nothing (the status of no linkage: 404) before its first timed
    linkage: agencies keep their connections, so the handshake burst of all
    users starting at once is reported on its own row rather than as the p99 of
    the first queries."""
    with user.client.get(
        "/linkages/warm-up", headers=_auth(agency), name=WARM_UP, catch_response=True
    ) as resp:
        if resp.status_code == 404:
            resp.success()
        else:
            resp.failure(f"HTTP {resp.status_code} for the status of no linkage (404 expected)")


class Requester(FastHttpUser):
    host = _HUB
    ssl_context_factory = _SSL_CONTEXT_FACTORY
    weight = 1
    wait_time = constant_throughput(_PER_USER_RATE) if _PER_USER_RATE > 0 else constant(0)

    def on_start(self) -> None:
        _connect(self, random.choice(_SETUP["requesters"]))

    @task
    def query(self) -> None:
        agency = random.choice(_SETUP["requesters"])
        refused = random.random() < float(_SETUP["refused_share"])
        body = {
            "request_id": f"bench-{_WORKER}-{next(_ids)}",
            "requester": agency,
            "provider": random.choice(_SETUP["providers"]),
            "pattern_id": _SETUP["refused_pattern" if refused else "allowed_pattern"],
            "information_kind": _SETUP["information_kind"],
            "link_code": random.choice(_SETUP["links"][agency]),
        }
        name = "/queries (refused)" if refused else "/queries (allowed)"
        started = time.perf_counter()
        with self.client.post(
            "/queries", json=body, headers=_auth(agency), name=name, catch_response=True
        ) as resp:
            if refused:
                if resp.status_code == 403 and "problem+json" in resp.headers.get(
                    "content-type", ""
                ):
                    resp.success()
                else:
                    resp.failure(f"refused query got HTTP {resp.status_code}")
                return
            if resp.status_code != 202:
                resp.failure(f"allowed query got HTTP {resp.status_code}")
                return
            linkage_id = resp.json()["linkage_id"]
        self._collect(agency, linkage_id, started)

    def _collect(self, agency: str, linkage_id: str, started: float) -> None:
        """Read the linkage until the answer is relayed (RK-FLOW-002) or the timeout
        passes, asking the hub to hold each read until the answer is in
        (``wait``, RK-FLOW-009); a read returned at once without the answer (a hub
        that does not hold reads) is followed by a pause backing off from the poll
        interval to ten times it, as a real requester would; then acknowledge it."""
        deadline = started + _TIMEOUT
        pause = _POLL
        while True:
            wait = max(0.0, min(_WAIT, deadline - time.perf_counter()))
            asked = time.perf_counter()
            with self.client.get(
                f"/linkages/{linkage_id}?wait={wait:.3f}",
                headers=_auth(agency),
                name="/linkages/{id}",
                catch_response=True,
            ) as resp:
                if resp.status_code != 200:
                    resp.failure(f"HTTP {resp.status_code}")
                    answered = None
                else:
                    answered = (resp.json().get("answer") or {}).get("payload")
            if answered is None and time.perf_counter() - asked < min(wait, _POLL):
                time.sleep(pause)  # not held: poll, backing off
                pause = min(pause * 1.5, 10 * _POLL)
            if answered is not None:  # the requester has it: the hub may erase it
                with self.client.delete(
                    f"/linkages/{linkage_id}/answer",
                    headers=_auth(agency),
                    name="/linkages/{id}/answer (acknowledge)",
                    catch_response=True,
                ) as ack:
                    if ack.status_code != 204:
                        ack.failure(f"HTTP {ack.status_code}")
            now = time.perf_counter()
            if answered is not None or now > deadline or resp.status_code != 200:
                ok = answered == _SETUP["payload"]
                _fire(
                    request_type="LINKAGE",
                    name="end-to-end",
                    response_time=(now - started) * 1000.0,
                    response_length=len(answered or ""),
                    exception=None if ok else RuntimeError("answer not relayed in time"),
                    context={},
                )
                return


class Provider(FastHttpUser):
    host = _HUB
    ssl_context_factory = _SSL_CONTEXT_FACTORY
    fixed_count = int(_SETUP["provider_users"])
    wait_time = between(0.0, _POLL)

    def on_start(self) -> None:
        providers = list(_SETUP["providers"])
        random.shuffle(providers)
        self._cycle = itertools.cycle(providers)
        _connect(self, providers[0])

    @task
    def pull_and_answer(self) -> None:
        agency = next(self._cycle)
        with self.client.get(
            "/deliveries",
            params={"limit": 100},
            headers=_auth(agency),
            name="/deliveries",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
                return
            deliveries = resp.json()["deliveries"]
        if not deliveries:
            return
        # the answers of one pull in one request (RK-FLOW-010), each with its outcome
        answers = [
            {"linkage_id": d["linkage_id"], "payload": _SETUP["payload"]} for d in deliveries
        ]
        with self.client.post(
            "/answers",
            json={"answers": answers},
            headers=_auth(agency),
            name="/answers",
            catch_response=True,
        ) as resp:
            if resp.status_code != 200:
                resp.failure(f"HTTP {resp.status_code}")
            elif any("problem" in r for r in resp.json()["results"]):
                resp.failure("an answer was refused")
