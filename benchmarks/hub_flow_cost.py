"""The hub's own cost per linkage: its whole ASGI application, in process, no sockets.

    python -m benchmarks.hub_flow_cost 2000            # CPU ms per linkage, per thread
    valgrind --tool=callgrind --separate-threads=yes \\
        python -m benchmarks.hub_flow_cost 480 --warm 32   # instructions (see below)

Builds ``renkei serve``'s hub application over a durable SQLite state folder
(the store's writer thread, the transit vault, the witness), sets it up through
the control interface (200 residents of the kit's population, one requester,
one provider, one allowed pattern, the requester's bindings), then runs linkages
with 16 requesters and one provider on one event loop: a query, a read held with
``wait`` (RK-FLOW-009), the provider's pull and its answers in one request
(RK-FLOW-010), the requester's acknowledgement.  Requests are ASGI calls made
directly (``call``): what is measured is the application — routing, FastAPI's
dependencies, pydantic, the hub, the store — not uvicorn, h11 or TLS, which the
floor of ``renkei bench`` shares.

With ``--core`` the flow's operations are the calls a front of ``renkei serve
--workers N`` makes (services/front/core.py ``answer_call``): what is left on
the core's event loop when the fronts do routing, wire models and HTTP.

With ``--store postgresql://…`` (an empty database) the hub's store is
PostgreSQL, as ``renkei serve --store`` takes it.

It prints the process's CPU time per linkage and each thread's (``/proc``; the
event loop is ``MainThread``), and the store's commits per linkage.  Under
callgrind the instruction count per linkage is the difference between two runs
(e.g. 160 and 480 linkages) divided by the difference in linkages: the setup is
the same in both.  Counts do not
move with the machine's load (two runs of one commit: 0.04 %), which CPU time
does (±5 % at a load of 3–6); benchmarks/THROUGHPUT.md has the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import itertools
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]

REQUESTERS = 16  # concurrent requesters on the event loop
PERSONS = 200

Reply = tuple[int, Any]


def _thread_cpu() -> dict[str, float]:
    """Each thread's CPU seconds (user + system), by name and id."""
    out: dict[str, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        stat = Path(f"/proc/self/task/{tid}/stat").read_text()
        name = Path(f"/proc/self/task/{tid}/comm").read_text().strip()
        fields = stat.rsplit(")", 1)[1].split()
        out[f"{name}:{tid}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _app(store_url: str = "") -> Any:
    from renkei_reference.cli import _durable
    from renkei_reference.services.app import create_app
    from renkei_reference.services.store.stores import parse_store

    state = Path(tempfile.mkdtemp(prefix="renkei-flow-"))
    state.chmod(0o700)
    witness = Path(tempfile.mkdtemp(prefix="renkei-flow-witness-")) / "w"
    store = parse_store(store_url, state / "logs.sqlite3")
    factory = _durable(state, store, witness, adopt_witness=False)
    return create_app(test_mode=True, federation_factory=factory)


async def _call(
    app: Any, method: str, path: str, body: Any = None, token: str | None = None, query: str = ""
) -> Reply:
    """One HTTP request as an ASGI call; the status and the JSON body."""
    raw = json.dumps(body).encode() if body is not None else b""
    headers = [
        (b"host", b"hub"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
    ]
    if token:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("hub", 80),
        "state": {},
    }
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": raw, "more_body": False}
        await asyncio.sleep(3600)  # the client never disconnects
        return {"type": "http.disconnect"}

    status, chunks = 0, []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    data = b"".join(chunks)
    return status, json.loads(data) if data else None


async def _expect(reply: Any, *status: int) -> Any:
    code, body = await reply
    if code not in status:
        raise SystemExit(f"hub_flow_cost: HTTP {code}: {body}")
    return body


def _core_calls(app: Any) -> Any:
    """The linkage flow's operations as the core of ``renkei serve --workers N`` answers
    its fronts' calls (services/front/core.py): no routing, no wire models, no HTTP."""
    from renkei_reference.services.front.core import answer_call
    from renkei_reference.services.web.problems import CommitWaiter

    fed = app.state.federation
    commit = CommitWaiter(lambda: fed().hub.log_barrier())  # noqa: PLW0108 (a reset replaces it)

    async def call(op: str, token: str, args: list[Any]) -> Reply:
        payload = json.dumps([op, [False, None, token], args]).encode()
        reply = await answer_call(app.state.hot_desk, commit, fed(), payload, test_mode=True)
        return reply.status, json.loads(reply.body) if reply.body else None

    return call


async def _run(linkages: int, warm: int, core: bool, store: str = "") -> None:
    from renkei_conformance.world import population

    app = _app(store)
    core_call = _core_calls(app) if core else None
    await _expect(_call(app, "POST", "/control/reset"), 200, 204)
    persons = population(PERSONS)
    residents = {"residents": [p.resident() for p in persons]}
    await _expect(_call(app, "POST", "/control/residents", residents), 200)
    agencies = [
        {"agency_id": a, "name": a, "role": "agency"} for a in ("flow.req", "flow.prov", "flow.x")
    ]
    made = await _expect(_call(app, "POST", "/control/agencies", {"agencies": agencies}), 200)
    tokens: dict[str, str] = made["credentials"]
    pattern = {
        "pattern_id": "FLOW-P-001",
        "legal_basis": "番号法 別表第二 項番（計測）1",
        "purpose": "計測の事務",
        "requesters": ["flow.req"],
        "providers": ["flow.prov"],
        "information_kinds": ["local-tax"],
        "answer_within_seconds": 3600,
    }
    await _expect(_call(app, "PUT", "/control/patterns", {"patterns": [pattern]}), 200)
    records = [{"record_ref": p.resident_code, **p.four_items()} for p in persons]
    bound = await _expect(
        _call(app, "POST", "/hub/bindings", {"records": records}, tokens["flow.req"]), 200
    )
    links = [r["link_code"] for r in bound["results"]]
    payload = base64.b64encode(os.urandom(1024)).decode()
    ids = itertools.count()
    done = 0

    async def requester(n: int) -> None:
        nonlocal done
        token = tokens["flow.req"]
        for _ in range(n):
            i = next(ids)
            query = {
                "request_id": f"flow-{i}",
                "requester": "flow.req",
                "provider": "flow.prov",
                "pattern_id": "FLOW-P-001",
                "information_kind": "local-tax",
                "link_code": links[i % len(links)],
            }
            if core_call is None:
                made = await _expect(_call(app, "POST", "/hub/queries", query, token), 202)
            else:
                made = await _expect(core_call("query", token, [query]), 202)
            lid = made["linkage_id"]
            if core_call is None:
                read = await _expect(
                    _call(app, "GET", f"/hub/linkages/{lid}", None, token, "wait=10"), 200
                )
            else:
                read = await _expect(core_call("read", token, [lid, 10]), 200)
            if "answer" not in read:
                raise SystemExit(f"hub_flow_cost: no answer within the wait: {read}")
            if core_call is None:
                await _expect(_call(app, "DELETE", f"/hub/linkages/{lid}/answer", None, token), 204)
            else:
                await _expect(core_call("acknowledge", token, [lid]), 204)
            done += 1

    async def provider(stop: asyncio.Event) -> None:
        token = tokens["flow.prov"]
        while not stop.is_set():
            if core_call is None:
                pulled = await _expect(_call(app, "GET", "/hub/deliveries", None, token), 200)
            else:
                pulled = await _expect(core_call("deliveries", token, [1000]), 200)
            answers = [
                {"linkage_id": d["linkage_id"], "payload": payload} for d in pulled["deliveries"]
            ]
            if not answers:
                await asyncio.sleep(0.002)
            elif core_call is None:
                await _expect(_call(app, "POST", "/hub/answers", {"answers": answers}, token), 200)
            else:
                pairs = [[a["linkage_id"], a["payload"]] for a in answers]
                await _expect(core_call("answers", token, [pairs]), 200)

    async def flow(n: int) -> None:
        stop = asyncio.Event()
        pulling = asyncio.create_task(provider(stop))
        await asyncio.gather(*(requester(n // REQUESTERS) for _ in range(REQUESTERS)))
        stop.set()
        await pulling

    def commits() -> int:  # the store's commits so far (0 for a store without a writer)
        return int(getattr(app.state.federation().hub.records.store, "batches", 0))

    await flow(warm)
    before, cpu0, wall0, done0 = _thread_cpu(), time.process_time(), time.perf_counter(), done
    commits0 = commits()
    await flow(linkages)
    n = done - done0
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    after = _thread_cpu()
    per = f"CPU {cpu / n * 1e3:.3f} ms a linkage (all threads), wall {wall / n * 1e3:.3f} ms"
    print(f"{n} linkages: {per}, {(commits() - commits0) / n:.2f} commits a linkage")
    for thread, seconds in after.items():
        used = seconds - before.get(thread, 0.0)
        if used > 0:
            print(f"  {thread}: {used / n * 1e3:.3f} ms a linkage")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hub_flow_cost")
    parser.add_argument("linkages", type=int, nargs="?", default=2000)
    parser.add_argument("--warm", type=int, default=320, help="linkages before measuring")
    parser.add_argument(
        "--core",
        action="store_true",
        help="the linkage flow as the core of `renkei serve --workers N` answers its fronts "
        "(what is left on the core's event loop), not through the application",
    )
    parser.add_argument(
        "--store",
        default="",
        metavar="sqlite:PATH|postgresql://…",
        help="the hub's store as `renkei serve --store` takes it (default: SQLite in the "
        "state folder); an empty PostgreSQL database for the flow's own writes",
    )
    args = parser.parse_args(argv)
    asyncio.run(_run(args.linkages, args.warm, args.core, args.store))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
