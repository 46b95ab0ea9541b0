"""The reference's commands of the ``renkei`` CLI: ``serve``, ``demo``, ``number``, ``binding``."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .services.store.stores import StoreSpec

__all__ = ["register"]

PARTIES = ("numbering", "registry", "hub", "portal", "auditor", "control")
_LIMITS: tuple[tuple[str, type, float, str, str], ...] = (
    ("--header-timeout", float, 10.0, "S",
     "seconds for a whole request head, from the connection's start or the last response"),
    ("--body-timeout", float, 30.0, "S", "seconds for a whole request body after its head"),
    ("--handshake-timeout", float, 10.0, "S", "seconds for the TLS handshake"),
    ("--keep-alive", int, 5, "S", "seconds an idle connection is kept between requests"),
    ("--max-connections", int, 1000, "N",
     "open connections per process serving the port (per front with --workers), TLS "
     "handshakes pending included; more are closed at once"),
    ("--shutdown-timeout", int, 5, "S",
     "seconds SIGTERM waits for open requests before cancelling them"),
    ("--max-request-head", int, 16384, "BYTES", "largest request line and headers"),
    ("--backlog", int, 128, "N", "connections the kernel queues before they are accepted"),
)  # fmt: skip
"""``renkei serve``'s limits (services/web/server_limits.py): flag, type, default, help."""


def register(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> dict[str, Callable[[argparse.Namespace], int]]:
    serve = sub.add_parser("serve", help="run the reference federation on loopback")
    serve.add_argument("--host", default="127.0.0.1", help="loopback address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8700, help="port (0 picks a free one)")
    serve.add_argument(
        "--mode",
        choices=("test", "production"),
        default="test",
        help="test mode exposes the conformance control interface (default: test)",
    )
    serve.add_argument(
        "--state-dir",
        type=Path,
        default=Path("renkei-state"),
        help="where the hub's keys are kept (created if missing; mode 0700)",
    )
    serve.add_argument(
        "--store",
        default="",
        metavar="sqlite:PATH|postgresql://…",
        help="the hub's durable store: a SQLite file (default: sqlite:STATE_DIR/logs.sqlite3) "
        "or a PostgreSQL database URL (needs the postgresql extra)",
    )
    serve.add_argument(
        "--witness",
        type=Path,
        default=None,
        metavar="DIR",
        help="where the hub keeps a copy of each log's latest signed checkpoint, apart from "
        "its store, and refuses to start on a store behind it (RK-LOG-011); put it on "
        "another volume (default: STATE.witness beside the state directory)",
    )
    serve.add_argument(
        "--adopt-witness",
        action="store_true",
        help="start once although the witness holds no checkpoint of a store that has signed "
        "ones (the witness lost or moved): the store's latest checkpoint becomes the new "
        "witness; only after checking that the store is current (RK-LOG-011)",
    )
    serve.add_argument(
        "--adopt-state",
        action="store_true",
        help="start once on a store whose logs hold entries but whose state records have no "
        "sealed digest (a store written before it, or the digest deleted): the full check "
        "of every held entry is made and the digest written; a key file written before key "
        "files were sealed is sealed; only after checking the store (RK-LOG-010)",
    )
    serve.add_argument(
        "--target-file",
        type=Path,
        default=Path("renkei-target.json"),
        help="where to write the target file for `renkei conformance run --target FILE`",
    )
    serve.add_argument(
        "--plain-http",
        action="store_true",
        help="test mode only: plain HTTP with bearer credentials instead of mutual TLS 1.3 "
        "(RK-ARCH-003 allows the stand-in in test mode; default: HTTPS with mutual TLS)",
    )
    serve.add_argument(
        "--agency-nodes",
        type=int,
        default=3,
        metavar="N",
        help="agency nodes to start, each on its own port (default 3; 0: the hub's "
        "application alone). They need mutual TLS and test mode",
    )
    serve.add_argument(
        "--poll-interval",
        type=float,
        default=0.5,
        metavar="S",
        help="seconds between an agency node's pulls of its deliveries (default 0.5)",
    )
    serve.add_argument(
        "--agency-fault",
        action="append",
        default=[],
        metavar="AGENCY=FAULT",
        help="start an agency node faulty: down, slow or garbage (repeatable; switched at "
        "run time by PUT <node>/control/agency-node/fault)",
    )
    serve.add_argument(
        "--supervise",
        action="store_true",
        help="run the federation under a supervisor that starts it again, on the same state "
        "folder and ports, when it is killed (SIGKILL); the target file then declares the "
        "restart capability, and the kit's restart tests (CT-DUR-…) apply",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="front processes on the hub's port (default 1: one process does everything). "
        "With N > 1 this process is the core: it owns the store, the logs and the one "
        "checkpoint signer; the fronts do TLS, HTTP and the wire's checks and call it",
    )
    serve.add_argument("--supervised", action="store_true", help=argparse.SUPPRESS)
    serve.add_argument("--node-ports", default=None, help=argparse.SUPPRESS)
    serve.add_argument("--restarted", action="store_true", help=argparse.SUPPRESS)
    limits = serve.add_argument_group(
        "limits", "bounds of every server it starts (the hub's application and each agency node)"
    )
    for flag, kind, default, metavar, text in _LIMITS:
        limits.add_argument(flag, type=kind, default=default, metavar=metavar,
                            help=f"{text} (default {default})")  # fmt: skip
    pki = sub.add_parser("pki", help="the test PKI for mutual TLS (RK-ARCH-003)")
    pki_sub = pki.add_subparsers(dest="pki_command", required=True)
    pki_init = pki_sub.add_parser(
        "init", help="create a CA, a loopback server certificate and client certificates"
    )
    pki_init.add_argument("dir", type=Path, help="directory for the PEM files (mode 0700)")
    pki_init.add_argument(
        "--agency",
        action="append",
        default=[],
        help="issue a client certificate for this agency id (repeatable; default: the kit's)",
    )
    demo = sub.add_parser("demo", help="run a narrated scenario against the reference")
    demo.add_argument("--quiet", action="store_true", help="print only the verdict")
    number = sub.add_parser("number", help="Number utilities")
    number_sub = number.add_subparsers(dest="number_command", required=True)
    check = number_sub.add_parser("check", help="check a 個人番号, 法人番号 or 住民票コード")
    check.add_argument("value")
    check.add_argument("--kind", choices=("individual", "corporate", "resident"))
    binding = sub.add_parser("binding", help="binding (紐付け) tools")
    binding_sub = binding.add_subparsers(dest="binding_command", required=True)
    bench = binding_sub.add_parser(
        "bench", help="bind a synthetic agency extract against a synthetic registry and score it"
    )
    bench.add_argument("--size", type=int, default=100_000, help="registry and extract size")
    bench.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    bench.add_argument(
        "--policy",
        choices=("folded", "strict"),
        default="folded",
        help="folded: bind on the folded forms (issue 8); strict: RK-BND-005 only",
    )
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument(
        "--compare-splink",
        action="store_true",
        help="also run Splink (DuckDB) on the same data (needs renkei[compare])",
    )
    _out_of_core_options(bench, "the extract")
    bench.add_argument(
        "--country",
        action="store_true",
        help="the synthetic country, scored per case class (with --compare-splink: Splink too)",
    )
    classes = binding_sub.add_parser(
        "classes",
        help="precision and recall per case class on the synthetic country (issue 18)",
    )
    classes.add_argument("--size", type=int, default=100_000, help="registry and extract size")
    classes.add_argument("--seed", type=int, default=1, help="data seed (default 1)")
    classes.add_argument("--json", action="store_true", help="print the figures as JSON")
    _out_of_core_options(classes, "the records")
    classes.add_argument(
        "--wrap",
        default="",
        metavar="CMD",
        help="out of core: run each process under CMD, e.g. '/usr/bin/time -v' (its report kept)",
    )
    return {
        "serve": _serve,
        "demo": _demo,
        "number": _number,
        "pki": _pki,
        "binding": _binding,
    }


def _binding(args: argparse.Namespace) -> int:
    """``renkei binding bench``: each engine runs in its own process (own peak RSS);
    ``renkei binding classes``: the per-class table (services/binding_classes.py)."""
    from .core.binding_match import Policy
    from .services.binding_bench import bench_in_child, bench_out_of_core

    if args.binding_command == "classes":
        from .services import binding_classes

        options = ["--size", str(args.size), "--seed", str(args.seed)]
        options += ["--json"] if args.json else []
        if args.out_of_core:
            options += ["--out-of-core", str(args.out_of_core), "--workers", str(args.workers)]
            options += ["--cache-mib", str(args.cache_mib), "--wrap", args.wrap]
            options += ["--reuse"] if args.reuse else []
        return binding_classes.main(options)

    if args.size < 1:
        print("renkei binding bench: --size must be at least 1", file=sys.stderr)
        return 2
    if args.compare_splink and importlib.util.find_spec("splink") is None:
        print(
            "renkei binding bench: --compare-splink needs Splink: pip install -e '.[compare]'",
            file=sys.stderr,
        )
        return 2
    if args.country:
        return _binding_country(args)
    if args.out_of_core:
        figures = bench_out_of_core(
            args.size, args.seed, Policy(args.policy), args.out_of_core,
            workers=max(1, args.workers), cache_mib=args.cache_mib, reuse=args.reuse,
        )  # fmt: skip
    else:
        figures = bench_in_child(args.size, args.seed, "renkei", Policy(args.policy))
    if args.compare_splink:
        figures["splink"] = bench_in_child(args.size, args.seed, "splink", Policy(args.policy))
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    else:
        for engine in (figures, figures.get("splink")):
            if not engine:
                continue
            if "error" in engine:
                print(f"{engine['engine']}: failed: {engine['error']}")
                continue
            print(
                f"{engine['engine']}: {engine['records']} records, {engine['bound']} bound, "
                f"{engine['wrong_binds']} wrong, recall {engine['recall']:.4%} of "
                f"{engine['bindable']} bindable, {engine['seconds']} s, "
                f"peak RSS {engine['peak_rss_mb']} MB"
            )
    return 1 if "error" in figures or "error" in figures.get("splink", {}) else 0


def _binding_country(args: argparse.Namespace) -> int:
    """``renkei binding bench --country``: the hub's per-class figures on the synthetic
    country and, with ``--compare-splink``, Splink's on the same country, each engine in
    its own process (services/binding_splink.py)."""
    from .services.binding_classes import table
    from .services.binding_splink import country_in_child

    engines = ("renkei", "splink") if args.compare_splink else ("renkei",)
    figures = {e: country_in_child(args.size, args.seed, e) for e in engines}
    if args.json:
        print(json.dumps(figures, ensure_ascii=False))
    for engine, result in () if args.json else figures.items():
        if "error" in result:
            print(f"{engine}: failed: {result['error']}")
            continue
        print(f"{engine}: {result['seconds']} s, peak RSS {result['peak_rss_mb']} MB")
        print(table(result))
    return 1 if any("error" in r for r in figures.values()) else 0


def _serve(args: argparse.Namespace) -> int:
    from .services.app import create_app
    from .services.federation_serve import bind_loopback, serve_federation

    if not args.host.startswith("127.") and args.host not in ("localhost", "::1"):
        print("renkei serve: only loopback addresses are allowed", file=sys.stderr)
        return 2
    if args.plain_http and args.mode != "test":
        print("renkei serve: --plain-http is for test mode only (RK-ARCH-003)", file=sys.stderr)
        return 2
    if args.agency_nodes < 0 or args.poll_interval <= 0 or args.workers < 1:
        print(
            "renkei serve: --agency-nodes must be ≥ 0, --poll-interval > 0, --workers ≥ 1",
            file=sys.stderr,
        )
        return 2
    from .services.web.server_limits import ServerLimits

    limits = ServerLimits(
        header_timeout=args.header_timeout,
        body_timeout=args.body_timeout,
        handshake_timeout=args.handshake_timeout,
        keep_alive=args.keep_alive,
        max_connections=args.max_connections,
        shutdown_timeout=args.shutdown_timeout,
        max_head_bytes=args.max_request_head,
        backlog=args.backlog,
    )
    if min(vars(limits).values()) <= 0:
        print("renkei serve: every limit must be > 0", file=sys.stderr)
        return 2
    from .services.store.stores import parse_store

    try:
        store = parse_store(args.store, args.state_dir / "logs.sqlite3")
        if store.dsn is not None:
            import psycopg  # noqa: F401  (the postgresql extra)
    except (ValueError, ImportError) as exc:
        print(f"renkei serve: {exc}", file=sys.stderr)
        return 2
    if args.supervise:
        return _supervise(args)
    if args.supervised:
        from .services.supervise import die_with_supervisor

        die_with_supervisor()
    faults: dict[str, str] = {}
    for item in args.agency_fault:
        agency, _, fault = item.partition("=")
        if fault not in ("none", "down", "slow", "garbage"):
            print(
                f"renkei serve: --agency-fault {item!r}: give AGENCY=down|slow|garbage",
                file=sys.stderr,
            )
            return 2
        faults[agency] = fault
    try:
        sock = bind_loopback(args.host, args.port)
    except OSError as exc:
        print(
            f"renkei serve: cannot listen on {args.host}:{args.port}: {exc.strerror}",
            file=sys.stderr,
        )
        return 2
    from .core.log_integrity import LogTamperedError
    from .services.store.witness import WitnessFolderError, check_witness_folder
    from .services.web.pki import OPERATOR

    witness_dir = _witness_dir(args)
    try:
        check_witness_folder(witness_dir, args.state_dir)
    except WitnessFolderError as exc:
        sock.close()
        print(f"renkei serve: refusing to start: {exc}", file=sys.stderr)
        return 2
    try:
        hub_app = create_app(
            test_mode=args.mode == "test",
            federation_factory=_durable(
                args.state_dir,
                store,
                witness_dir,
                adopt_witness=args.adopt_witness,
                adopt_state=args.adopt_state,
            ),
        )
    except LogTamperedError as exc:  # nothing changed is ever served (RK-LOG-010)
        sock.close()
        print(
            f"renkei serve: refusing to start: {exc.detail} [{exc.requirement}]; "
            f"state directory {args.state_dir}, store {store.describe()}",
            file=sys.stderr,
        )
        return 3
    return serve_federation(
        hub_app=hub_app,
        hub_sock=sock,
        host=args.host,
        mode=args.mode,
        plain_http=args.plain_http,
        state_dir=args.state_dir,
        target_file=args.target_file,
        agency_nodes=args.agency_nodes,
        node_port=args.port + 1 if args.port else 0,
        node_ports=[int(p) for p in args.node_ports.split(",")] if args.node_ports else None,
        supervised=args.supervised,
        restarted=args.restarted,
        poll_interval=args.poll_interval,
        faults=faults,
        target_tls=lambda pki: _target_tls(pki, OPERATOR),
        hub_parties=[p for p in PARTIES if p != "control" or args.mode == "test"],
        limits=limits,
        workers=args.workers,
    )


def _supervise(args: argparse.Namespace) -> int:
    """``renkei serve --supervise``: the same command, without ``--supervise``,
    as a worker the supervisor starts again when it is killed
    (services/supervise.py)."""
    from .services.supervise import supervise

    state_dir, target_file = args.state_dir.resolve(), args.target_file.resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)

    def worker(ports: tuple[int, list[int]] | None) -> list[str]:
        argv = [
            sys.executable, "-m", "renkei_conformance", "serve", "--supervised",
            "--host", args.host, "--port", str(ports[0] if ports else args.port),
            "--mode", args.mode, "--state-dir", str(state_dir),
            "--witness", str(_witness_dir(args)),
            "--target-file", str(target_file), "--agency-nodes", str(args.agency_nodes),
            "--poll-interval", str(args.poll_interval), "--store", args.store,
            "--workers", str(args.workers),
        ]  # fmt: skip
        if ports is not None:  # a restart: the same URLs, and the state as it was
            argv.append("--restarted")
            if ports[1]:
                argv += ["--node-ports", ",".join(str(p) for p in ports[1])]
        if args.plain_http:
            argv.append("--plain-http")
        for fault in args.agency_fault:
            argv += ["--agency-fault", fault]
        for flag, *_ in _LIMITS:
            argv += [flag, str(getattr(args, flag.removeprefix("--").replace("-", "_")))]
        return argv

    return supervise(worker, state_dir, target_file)


def _target_tls(pki: Any, operator: str) -> dict[str, Any]:
    """The target file's ``tls`` member: absolute paths of the CA, the
    operator's and each agency's client certificate, and the fault material."""

    def pair(paths: tuple[Path, Path]) -> dict[str, str]:
        return {"cert": str(paths[0].resolve()), "key": str(paths[1].resolve())}

    clients = pki.clients()
    return {
        "ca": str(pki.ca.resolve()),
        "operator": pair(clients.pop(operator)),
        "client_certificates": {name: pair(paths) for name, paths in clients.items()},
        "fault_certificates": {"expired": pair(pki.fault("expired"))},
    }


def _pki(args: argparse.Namespace) -> int:
    from .core.errors import RenkeiError
    from .services.web.pki import KIT_AGENCIES, ensure_pki

    try:
        pki = ensure_pki(args.dir, tuple(args.agency) or KIT_AGENCIES)
    except RenkeiError as exc:  # a malformed agency id (RK-ARCH-002)
        print(f"renkei pki init: {exc.detail}", file=sys.stderr)
        return 2
    print(f"CA:      {pki.ca}")
    print(f"server:  {pki.server} (127.0.0.1, ::1, localhost)")
    for name, (cert, _key) in pki.clients().items():
        print(f"client:  {cert} ({name})")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(quiet=args.quiet)


def _number(args: argparse.Namespace) -> int:
    from .core import check_digit as cd

    value: str = args.value
    kind = args.kind or {12: "individual", 13: "corporate", 11: "resident"}.get(len(value))
    if kind is None or not (value.isascii() and value.isdigit()):
        print(
            f"renkei number check: {value!r} is not 11, 12 or 13 ASCII digits "
            "(resident code, individual Number, corporate Number)",
            file=sys.stderr,
        )
        return 2
    expected_len = {"individual": 12, "corporate": 13, "resident": 11}[kind]
    if len(value) != expected_len:
        print(f"renkei number check: a {kind} number has {expected_len} digits", file=sys.stderr)
        return 2
    if kind == "individual":
        ok, rule, want = (
            cd.is_valid_individual_number(value),
            "総務省令 平成26年第85号 第5条",
            cd.individual_number_check_digit(value[:11]),
        )
        got = value[11]
    elif kind == "corporate":
        ok, rule, want = (
            cd.is_valid_corporate_number(value),
            "財務省令 平成26年第70号 第2条",
            cd.corporate_number_check_digit(value[1:]),
        )
        got = value[0]
    else:
        ok, rule, want = (
            cd.is_valid_resident_code(value),
            "assumed formula (RK-NUM-006)",
            cd.resident_code_check_digit(value[:10]),
        )
        got = value[10]
    if ok:
        print(f"{value}: valid {kind} number")
        return 0
    print(
        f"{value}: invalid {kind} number: check digit is {got}, {rule} gives {want}",
        file=sys.stderr,
    )
    return 1


def _witness_dir(args: argparse.Namespace) -> Path:
    """``--witness``, or ``STATE.witness`` beside the state directory (RK-LOG-011)."""
    from .services.store.witness import witness_dir_for

    chosen: Path | None = args.witness
    return (chosen or witness_dir_for(args.state_dir.resolve())).resolve()


def _durable(
    state_dir: Path,
    logs: StoreSpec | None = None,
    witness_dir: Path | None = None,
    *,
    adopt_witness: bool = False,
    adopt_state: bool = False,
) -> Callable[[Any], Any]:
    """Federations whose hub keys (``keys.json``, RK-KEY-003), log signing key
    (``log-signer.key``), store (``logs``: by default ``logs.sqlite3``, or a
    PostgreSQL database — ``--store``; access and administrative log
    with their Merkle trees, and the hub's in-flight state — linkages, answers in
    transit, used request ids, agencies, patterns — group-committed with them;
    RK-LOG-004, RK-LOG-006, RK-FLOW-008), numbering table (``numbering.sqlite3``),
    resident registry (``registry.sqlite3``: residents and blocking index) and the
    auditor dashboard's keys (``auditor-keys.json``) live in ``state_dir``; each
    log's latest signed checkpoint is also kept in ``witness_dir``, apart from the
    store (RK-LOG-011).

    A reset through the control interface (test mode) starts afresh, witness included.
    """
    from .core.log_integrity import StateFileError
    from .core.record_seal import record_key
    from .services.auditor.app import KEYS_FILE
    from .services.federation import Federation
    from .services.numbering.table import SqliteNumberingTable
    from .services.registry.store import RegistryStore
    from .services.store.entry_keys import SHRED_FILE, key_file
    from .services.store.keystore import FileKeyStore, load_or_create_log_signer
    from .services.store.witness import CheckpointWitness, witness_dir_for

    state_dir.mkdir(parents=True, exist_ok=True)
    state_dir.chmod(0o700)
    keys, table = state_dir / "keys.json", state_dir / "numbering.sqlite3"
    signer = state_dir / "log-signer.key"
    from .services.store.stores import StoreSpec

    spec = logs if logs is not None else StoreSpec(path=state_dir / "logs.sqlite3")
    residents = state_dir / "registry.sqlite3"
    witness = CheckpointWitness(witness_dir or witness_dir_for(state_dir), adopt=adopt_witness)
    current: list[Any] = []

    def make(clock: Any) -> Any:
        if current:  # a reset: the previous federation's durable state goes too
            current.pop().close()
            for path in (
                keys,
                table,
                signer,
                residents,
                state_dir / KEYS_FILE,
                state_dir / "transit.keys",
                state_dir / SHRED_FILE,
                *(key_file(state_dir, log) for log in ("access", "admin")),
                *state_dir.glob("numbering.sqlite3-*"),
                *state_dir.glob("registry.sqlite3-*"),
            ):
                path.unlink(missing_ok=True)
            spec.erase()
            witness.clear()
        if keys.exists() and not signer.exists():  # a new signer would void the seals
            raise StateFileError(str(signer), "missing, while the key file it seals exists")
        log_signer = load_or_create_log_signer(signer)
        store = spec.open(witness)
        registry = RegistryStore(residents)
        try:
            fed = Federation(
                clock,
                # sealed under the state-record key (HKDF of the log signer, RK-LOG-010)
                FileKeyStore(
                    keys,
                    clock.now(),
                    seal_key=record_key(log_signer.private_bytes_raw()),
                    adopt=adopt_state,
                ),
                SqliteNumberingTable(table),
                log_store=store,
                log_signer=log_signer,
                state_dir=state_dir,
                registry_store=registry,
                adopt_state=adopt_state,
            )
        except BaseException:  # e.g. a stored log found changed (RK-LOG-010)
            store.close()
            registry.close()
            raise
        current.append(fed)
        return fed

    return make


def _out_of_core_options(parser: argparse.ArgumentParser, records: str) -> None:
    """The options of a binding run out of core: the folder of the registry store and
    of ``records``, the binding processes, SQLite's cache, reusing the files."""
    parser.add_argument(
        "--out-of-core",
        type=Path,
        metavar="DIR",
        help=f"write the registry store and {records} to DIR, then bind them streamed",
    )
    parser.add_argument("--workers", type=int, default=1, help="out of core: binding processes")
    parser.add_argument("--cache-mib", type=int, default=64, help="out of core: SQLite cache")
    parser.add_argument(
        "--reuse", action="store_true", help="out of core: bind the files already in DIR"
    )
