"""``renkei serve``: the whole reference federation on loopback.

One process, one event loop, one uvicorn server per party that has its own
address:

* the hub's application (hub, numbering authority, registry, My Portal,
  auditor and, in test mode, control — services/app.py) on ``--port``;
* ``--agency-nodes`` agency nodes (中間サーバー, seed items 19, 28, 29), each its
  own server on its own port with its own client certificate of the test PKI
  (RK-ARCH-003), each with a delivery loop that pulls its deliveries and
  answers within the pattern's deadline (RK-AGN-003).  Their business systems
  are the two shipped adapters (RK-AGN-004), alternately: a SQLite database
  through DB-API (``SqlAdapter``) and a folder of CSV files
  (``CsvFolderAdapter``), filled with demo data under ``STATE_DIR/agencies``;
  each keeps its share of the log durably beside them
  (``STATE_DIR/agencies/<agency id>/node-log.sqlite3``, RK-AGN-005), so a
  restarted node resumes its log, its retention and the auditor's holds.

At start the runner builds a demo world through the hub's control interface
(the conformance operator's certificate, RK-CTL-007): synthetic residents, the
nodes and an auditor as registered organisations, a ring of patterns (each node
asks the next) and each node's correspondence table bound — so a linkage works
out of the box.  A kit run resets the hub and builds its own worlds; the nodes
then wait (backing off) until registered again; their test-mode control
interface lets the kit enrol them in its world.

Agency nodes need mutual TLS (their certificate is their identity): with
``--plain-http`` or in production mode (no control interface to build the demo
world) only the hub's application is served, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import signal
import socket
import sqlite3
import ssl
import sys
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from ..core.agency import Action, Designation, StaffMember
from ..core.check_digit import resident_code_check_digit
from .agency_node import (
    AgencyNode,
    BusinessSystem,
    CsvFolderAdapter,
    DeliveryLoop,
    Fault,
    HubConnection,
    SqlAdapter,
)
from .agency_node.app import create_agency_app
from .agency_node.control import agency_control_router, agency_discovery_router
from .agency_node.log_store import AgencyLogStore
from .auditor.auditor import NODE_TIMEOUT_SECONDS, NodeEndpoint
from .clock import SystemClock
from .front.app import from_front
from .front.workers import Fronts
from .portal.portal import PORTAL_AGENCY, AgencyNodeDirectory, NodeLink
from .supervise import restart_command, write_ready
from .web.long_poll import Signals
from .web.pki import KIT_AGENCIES, OPERATOR, Pki, ensure_pki
from .web.server_limits import BoundedH11Protocol, ConnectionGate, ServerLimits

__all__ = ["DEMO_AUDITOR", "NodeSpec", "Party", "node_specs", "serve_federation"]

DEMO_AUDITOR = "demo.auditor"
AUDITORS = frozenset({DEMO_AUDITOR, "kit.auditor"})
"""Organisations whose certificates read a node's log (role ``auditor``): the
demo world's and the conformance kit's (RK-AUD-001)."""
PORTAL = PORTAL_AGENCY.agency_id
"""My Portal's organisation: its certificate brings ⑪/⑫ applications to the nodes."""
SERVICE = ("svc-answer", "node-service")  # the delivery loop's account and terminal
CLERK = ("clerk-1", "term-01")  # a designated clerk, offered to the kit as fixture
ANSWER_WITHIN_SECONDS = 600
NODE_LOG = "node-log.sqlite3"
"""Each node's durable log under ``STATE_DIR/agencies/<agency id>/`` (RK-AGN-005)."""


@dataclass(frozen=True)
class NodeSpec:
    """One demo agency node: who it is, what backs it, what it holds."""

    agency_id: str
    name: str
    adapter: str  # "sql" | "csv"
    kind: str  # the information kind its business system holds
    record_prefix: str


_DEMO = (
    NodeSpec("demo.city", "デモ市役所（住民税）", "sql", "local-tax", "CITY"),
    NodeSpec("demo.pension", "デモ年金機構", "csv", "pension-record", "NENKIN"),
    NodeSpec("demo.health", "デモ健康保険組合", "sql", "health-insurance", "KENPO"),
)


def node_specs(n: int) -> list[NodeSpec]:
    """The first ``n`` demo nodes; beyond three, numbered ones alternating adapters."""
    specs = list(_DEMO[:n])
    for i in range(len(_DEMO), n):
        adapter = "csv" if i % 2 else "sql"
        specs.append(NodeSpec(f"demo.agency-{i + 1}", f"デモ機関{i + 1}", adapter, f"kind-{i + 1}",
                              f"AG{i + 1}"))  # fmt: skip
    return specs


_FAMILY = ("山田", "佐藤", "鈴木", "高橋", "田中")
_GIVEN = ("太郎", "花子", "一郎", "美咲", "健太")
_KANA = ("ヤマダ タロウ", "サトウ ハナコ", "スズキ イチロウ", "タカハシ ミサキ", "タナカ ケンタ")


def demo_residents() -> list[dict[str, str]]:
    """Five synthetic residents (valid resident codes, unique 4 items)."""
    out = []
    for i in range(5):
        body = f"{2_000_000_000 + i:010d}"
        out.append(
            {
                "resident_code": body + str(resident_code_check_digit(body)),
                "name": f"{_FAMILY[i]} {_GIVEN[i]}",
                "name_kana": _KANA[i],
                "address": f"東京都千代田区永田町{i + 1}丁目{i + 1}番{i + 1}号",
                "birth_date": f"{1950 + 9 * i}-{i + 1:02d}-{10 + i:02d}",
                "sex": ("male", "female")[i % 2],
            }
        )
    return out


LEGACY_FORMS: dict[int, dict[str, str]] = {
    1: {"birth_date": "昭和34年2月11日", "sex": "2"},
    2: {"birth_date": "19680312", "sex": "男"},
    3: {"birth_date": "１９７７年４月１３日", "sex": "F"},
}
"""How the business systems hold the 4 items of some demo residents (by index): the
legacy forms the node converts before binding (RK-AGN-007)."""


def node_fixtures(spec: NodeSpec) -> dict[str, Any]:
    """What the node's business system knows, for the kit (test mode): its records
    as the business system holds them, some in legacy forms (RK-AGN-007)."""
    records = []
    for i, person in enumerate(demo_residents()):
        held = {k: v for k, v in person.items() if k != "resident_code"}
        records.append(
            {
                "record_no": f"{spec.record_prefix}-{i + 1:04d}",
                "resident_code": person["resident_code"],
                "four_items": {**held, **LEGACY_FORMS.get(i, {})},
                "information_kinds": [spec.kind],
            }
        )
    # A second record of the first person under another number (a family's form
    # filled in with one person's items, the 2023 review's case): the hub binds it
    # to the same link code, so the table must not take it and reviews both
    # (RK-BND-008); the kit finds the pair by its resident code.
    records.append({**records[0], "record_no": f"{spec.record_prefix}-{len(records) + 1:04d}"})
    return {
        "information_kinds": [spec.kind],
        "designated": {"staff_id": CLERK[0], "terminal": CLERK[1]},
        "residents": demo_residents(),
        "records": records,
    }


def _business_system(spec: NodeSpec, folder: Path) -> tuple[BusinessSystem, Path]:
    """Write the demo data and open it through the adapter (RK-AGN-004)."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        (rec["record_no"], spec.kind, f'{{"{spec.kind}":{120_000 + 1_000 * n}}}',
         f"{spec.kind} {rec['record_no']}")
        for n, rec in enumerate(node_fixtures(spec)["records"])
    ]  # fmt: skip
    if spec.adapter == "sql":
        path = folder / "business.sqlite3"
        path.unlink(missing_ok=True)
        conn = sqlite3.connect(path)
        with conn:
            conn.execute("CREATE TABLE info (record_no TEXT, kind TEXT, content TEXT, label TEXT)")
            conn.executemany("INSERT INTO info VALUES (?, ?, ?, ?)", rows)
        conn.close()
        system: BusinessSystem = SqlAdapter(
            lambda: sqlite3.connect(path),
            "SELECT content, label FROM info WHERE record_no = {record_no} AND kind = {kind}",
            sqlite3.paramstyle,
        )
        return system, path
    drop = folder / "drop"
    drop.mkdir(exist_ok=True)
    with (drop / f"{spec.kind}.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["record_no", "content", "description"])
        writer.writerows([(r, c, d) for r, _k, c, d in rows])
    return CsvFolderAdapter(drop), drop


@dataclass
class Party:
    """A server of the federation: its name, app, bound socket and base URL."""

    name: str
    app: Any
    sock: socket.socket
    base: str
    notes: str = ""
    server: uvicorn.Server | None = field(default=None, repr=False)
    behind_fronts: bool = False  # served on the core's Unix socket: the fronts do TLS


class _QuietServer(uvicorn.Server):
    """Several servers share one loop: signals are handled once, by the runner."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def bind_loopback(host: str, port: int) -> socket.socket:
    """A listening socket on loopback (TCP_NODELAY: no delayed-ACK stalls)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    return sock


def _client_context(pki: Pki, name: str, ca_pem: str | None = None) -> ssl.SSLContext:
    """TLS 1.3 as ``name``'s client certificate, trusting the test CA (or ``ca_pem``)."""
    if ca_pem is None:
        ctx = ssl.create_default_context(cafile=str(pki.ca))
    else:
        ctx = ssl.create_default_context(cadata=ca_pem)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    cert, key = pki.client(name)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


def node_connector(
    pki: Pki, agency_id: str
) -> Callable[[str, str | None, str | None], httpx.Client]:
    """How a node reaches a hub it is pointed at (RK-CTL-008): over mutual TLS with
    its own certificate, trusting the CA given, for ``https://``; plain for ``http://``."""

    def connect(url: str, ca_pem: str | None, credential: str | None) -> httpx.Client:
        if url.startswith("https://"):
            return httpx.Client(verify=_client_context(pki, agency_id, ca_pem), timeout=30)
        return httpx.Client(timeout=30)

    return connect


@dataclass
class AgencyRuntime:
    spec: NodeSpec
    node: AgencyNode
    loop: DeliveryLoop
    client: httpx.Client
    party: Party


def _designation() -> Designation:
    answer_only = StaffMember(SERVICE[0], "自動応答", "連携サーバー", frozenset({Action.ANSWER}))
    clerk = StaffMember(CLERK[0], "連携 担当", "情報連携課", frozenset(Action))  # disclosure too
    return Designation(
        {m.staff_id: m for m in (answer_only, clerk)}, frozenset({SERVICE[1], CLERK[1]})
    )


def make_agency_nodes(
    specs: list[NodeSpec],
    *,
    pki: Pki,
    hub_url: str,
    state_dir: Path,
    host: str,
    first_port: int,
    ports: list[int] | None = None,
    version: str,
    interval: float,
    report: Callable[[str], None],
) -> list[AgencyRuntime]:
    """Each node: its business system, its client, its app on its own socket."""
    out = []
    for i, spec in enumerate(specs):
        folder = state_dir / "agencies" / spec.agency_id
        system, where = _business_system(spec, folder)
        client = httpx.Client(verify=_client_context(pki, spec.agency_id), timeout=30)
        clock = SystemClock()
        node = AgencyNode(
            spec.agency_id,
            HubConnection(client, hub_url),
            _designation(),
            system,
            clock,
            # RK-AGN-005: the node's share of the log outlives a restart
            log_store=AgencyLogStore(clock, folder / NODE_LOG),
        )
        if ports is not None and i < len(ports):  # a supervised restart: the same URLs
            sock = bind_loopback(host, ports[i])
        else:
            sock = bind_loopback(host, first_port + i if first_port else 0)
        base = f"https://{host}:{sock.getsockname()[1]}"
        app = create_agency_app(
            node,
            {},
            identities={**dict.fromkeys(AUDITORS, "auditor"), PORTAL: "portal"},
            routers=[
                agency_discovery_router(node, test_mode=True, version=version),
                agency_control_router(
                    node, node_fixtures(spec), connect=node_connector(pki, spec.agency_id)
                ),
            ],
        )
        notes = f"{spec.name}; {'SQL (SQLite, DB-API)' if spec.adapter == 'sql' else 'CSV folder'}"
        party = Party(f"agency {spec.agency_id}", app, sock, base, f"{notes}: {where}")
        loop = DeliveryLoop(node, *SERVICE, interval=interval, report=report)
        out.append(AgencyRuntime(spec, node, loop, client, party))
    return out


def build_demo_world(control: str, client: httpx.Client, runtimes: list[AgencyRuntime]) -> None:
    """Residents, organisations, a ring of patterns, bound tables (through the wire)."""

    def call(method: str, path: str, body: Any) -> None:
        client.request(method, control + path, json=body).raise_for_status()

    call("POST", "/residents", {"residents": demo_residents()})
    agencies = [{"agency_id": r.spec.agency_id, "name": r.spec.name, "role": "agency"}
                for r in runtimes]  # fmt: skip
    agencies.append({"agency_id": DEMO_AUDITOR, "name": "デモ第三者機関", "role": "auditor"})
    call("POST", "/agencies", {"agencies": agencies})
    patterns = []
    for i, r in enumerate(runtimes):
        provider = runtimes[(i + 1) % len(runtimes)].spec
        patterns.append(
            {
                "pattern_id": f"DEMO-P-{i + 1:03d}",
                "legal_basis": f"番号法 別表第二（デモ）{i + 1}",
                "purpose": f"{r.spec.name}の事務（デモ）",
                "requesters": [r.spec.agency_id],
                "providers": [provider.agency_id],
                "information_kinds": [provider.kind],
                "answer_within_seconds": ANSWER_WITHIN_SECONDS,
            }
        )
    call("PUT", "/patterns", {"patterns": patterns})
    for r in runtimes:
        fixtures = node_fixtures(r.spec)["records"]
        records = [{"record_no": x["record_no"], **x["four_items"]} for x in fixtures]
        r.node.bind(*CLERK, records)


def target_document(
    parties: dict[str, str],
    tls: dict[str, Any],
    runtimes: list[AgencyRuntime],
    restart: dict[str, Any] | None = None,
) -> dict[str, Any]:
    target: dict[str, Any] = {
        "renkei_target": 1,
        "name": "renkei reference (renkei serve)",
        "parties": parties,
    }
    if tls:
        target["tls"] = tls
    if runtimes:
        target["agency_nodes"] = {
            r.spec.agency_id: {"url": r.party.base, "name": r.spec.name, "adapter": r.spec.adapter}
            for r in runtimes
        }
    if restart is not None:
        target["restart"] = restart  # services/supervise.py: --supervise
    return target


async def _run(
    parties: list[Party],
    limits: ServerLimits,
    context: ssl.SSLContext | None,
    ready: Callable[[], None],
    stop_all: Callable[[], None],
    *,
    fronts: Fronts | None = None,
    held: Signals | None = None,
) -> None:
    protocol = BoundedH11Protocol
    if context is not None:
        from .web.tls import MutualTlsH11Protocol

        protocol = MutualTlsH11Protocol
    gates = []
    for p in parties:
        # TLS, limits: services/web/server_limits.py
        if p.behind_fronts:
            gate = ConnectionGate(limits, BoundedH11Protocol, None, give_back=False)
        else:
            gate = ConnectionGate(limits, protocol, context)
        gates.append(gate)
        config = uvicorn.Config(
            p.app, log_level="warning", access_log=False, http=gate,  # type: ignore[arg-type]
            **limits.uvicorn_settings(),
        )  # fmt: skip
        p.server = _QuietServer(config)
    tasks = [asyncio.create_task(p.server.serve(sockets=[p.sock])) for p in parties if p.server]
    if fronts is not None:
        await fronts.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not all(p.server and p.server.started for p in parties):
            if any(t.done() for t in tasks):
                raise RuntimeError("a server of the federation did not start")
            await asyncio.sleep(0.02)
        await asyncio.to_thread(ready)  # the hub is served by this loop: set up off it
        await stop.wait()
    finally:
        if held is not None:  # held reads answered now, not cut off at the shutdown timeout
            held.close()
        if fronts is not None:
            await fronts.stop()
        await asyncio.to_thread(stop_all)
        for p in parties:
            if p.server is not None:
                p.server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
        for gate in gates:
            gate.abort_all()


def serve_federation(
    *,
    hub_app: Any,
    hub_sock: socket.socket,
    host: str,
    mode: str,
    plain_http: bool,
    state_dir: Path,
    target_file: Path,
    agency_nodes: int,
    node_port: int,
    node_ports: list[int] | None = None,
    supervised: bool = False,
    restarted: bool = False,
    poll_interval: float,
    target_tls: Callable[[Pki], dict[str, Any]],
    faults: dict[str, str] | None = None,
    hub_parties: list[str],
    limits: ServerLimits | None = None,
    workers: int = 1,
) -> int:
    """Serve until SIGINT/SIGTERM; returns the exit code."""
    from .. import __version__

    port = hub_sock.getsockname()[1]
    scheme = "http" if plain_http else "https"
    base = f"{scheme}://{host}:{port}"
    parties = {p: f"{base}/{p}" for p in hub_parties}
    nodes_ok = mode == "test" and not plain_http
    specs = node_specs(agency_nodes if nodes_ok else 0)
    context: ssl.SSLContext | None = None
    tls: dict[str, Any] = {}
    runtimes: list[AgencyRuntime] = []
    pki: Pki | None = None
    if not plain_http:
        from .web.tls import server_context

        pki = ensure_pki(state_dir / "pki", (*KIT_AGENCIES, DEMO_AUDITOR, PORTAL,
                                             *(s.agency_id for s in specs)))  # fmt: skip
        context = server_context(pki)
        tls = target_tls(pki)

    def report(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    if pki is not None and specs:
        try:
            runtimes = make_agency_nodes(
                specs,
                pki=pki,
                hub_url=parties["hub"],
                state_dir=state_dir,
                host=host,
                first_port=node_port,
                ports=node_ports,
                version=__version__,
                interval=poll_interval,
                report=report,
            )
        except OSError as exc:
            print(
                f"renkei serve: cannot listen for an agency node: {exc.strerror}", file=sys.stderr
            )
            return 2
    portal_client: httpx.Client | None = None
    directory = getattr(getattr(hub_app, "state", None), "agency_nodes", None)
    if runtimes and pki is not None and isinstance(directory, AgencyNodeDirectory):
        # My Portal brings persons' ⑪/⑫ applications to the nodes (RK-PORT-004),
        # over mutual TLS with the portal's own certificate
        portal_client = httpx.Client(verify=_client_context(pki, PORTAL), timeout=10)
        for r in runtimes:
            directory.register(r.spec.agency_id, NodeLink(r.party.base, portal_client))
    unknown = sorted(set(faults or {}) - {r.spec.agency_id for r in runtimes})
    if unknown:
        print(f"renkei serve: --agency-fault names no agency node: {unknown[0]}", file=sys.stderr)
        return 2
    for r in runtimes:
        r.node.fault = Fault((faults or {}).get(r.spec.agency_id, "none"))
    hub = Party("hub", hub_app, hub_sock, base)
    fronts: Fronts | None = None
    if workers > 1:  # N fronts on the public socket, this process the core
        fronts = Fronts(
            workers,
            hub_sock,
            hub_app,
            limits=limits or ServerLimits(),
            pki=pki,
            test_mode=mode == "test",
        )
        hub = Party("hub", from_front(hub_app), fronts.http_socket(), base, behind_fronts=True)
    security = "plain HTTP, bearer credentials" if plain_http else "mutual TLS 1.3"

    auditor_client: httpx.Client | None = None

    def ready() -> None:
        nonlocal auditor_client
        if runtimes and pki is not None:
            if not restarted:  # a restart brings back the state as it was, demo or not
                with httpx.Client(verify=_client_context(pki, OPERATOR), timeout=30) as op:
                    build_demo_world(parties["control"], op, runtimes)
            federation = getattr(getattr(hub_app, "state", None), "federation", None)
            if callable(federation):
                # the demo auditor reads each node's share and refusals over mutual
                # TLS with its certificate (RK-AUD-001, RK-AUD-003); a kit reset
                # starts a world without them, which registers its own
                auditor_client = httpx.Client(
                    verify=_client_context(pki, DEMO_AUDITOR), timeout=NODE_TIMEOUT_SECONDS
                )
                for r in runtimes:
                    federation().auditor.register_node(
                        r.spec.agency_id, NodeEndpoint(r.party.base, None, auditor_client)
                    )
            for r in runtimes:
                r.loop.start()
        restart = restart_command(state_dir) if supervised else None
        document = target_document(parties, tls, runtimes, restart)
        partial = target_file.with_name(target_file.name + ".partial")
        partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        partial.replace(target_file)  # whoever waits for the file reads it whole
        if supervised:
            write_ready(state_dir)  # the restart command waits for this
        print(f"renkei reference federation ({mode} mode, {security}) on {base}")
        if restarted:
            print("  restarted on the state it had (no new demo world): what was in memory is lost")
        for party, url in parties.items():
            print(f"  {party:<10} {url}")
        for r in runtimes:
            faulty = "" if r.node.fault is Fault.NONE else f" [fault: {r.node.fault.value}]"
            print(f"  agency node {r.spec.agency_id:<14} {r.party.base}  ({r.party.notes}){faulty}")
        if nodes_ok and runtimes:
            print(
                f"  {len(runtimes)} agency nodes answer their deliveries every "
                f"{poll_interval:g} s (demo patterns DEMO-P-001…, answer within "
                f"{ANSWER_WITHIN_SECONDS} s)"
            )
        elif agency_nodes and not nodes_ok:
            print("  no agency nodes: they need mutual TLS and test mode")
        if tls:
            print(f"CA certificate: {tls['ca']}")
        print(f"target file: {target_file}")
        print("Ctrl-C stops the federation.", flush=True)

    def stop_all() -> None:
        for r in runtimes:
            r.loop.stop()
            r.client.close()
        for client in (portal_client, auditor_client):
            if client is not None:
                client.close()
            # the log store stays open: servers may finish a request; every
            # append is committed on its own (autocommit), so nothing is lost

    try:
        parties_served = [hub, *(r.party for r in runtimes)]
        asyncio.run(
            _run(
                parties_served,
                limits or ServerLimits(),
                context,
                ready,
                stop_all,
                fronts=fronts,
                held=getattr(
                    getattr(getattr(hub_app, "state", None), "hot_desk", None), "signals", None
                ),
            )
        )
    except (RuntimeError, OSError, httpx.HTTPError) as exc:
        print(f"renkei serve: {exc}", file=sys.stderr)
        return 1
    finally:
        if fronts is not None:
            fronts.remove()
    print("renkei serve: stopped", flush=True)
    return 0
