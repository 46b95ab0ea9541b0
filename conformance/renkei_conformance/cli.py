"""``renkei``: the command line of the kit and the reference.

Exit codes: 0 success, 1 failures found, 2 usage or configuration error.  A
usage error is one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from . import SUITE_VERSION

__all__ = ["main"]

Handler = Callable[[argparse.Namespace], int]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        print(f"{self.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)


def _build() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = _Parser(
        prog="renkei",
        description="renkei — conformance kit and reference "
        "implementation of a privacy-preserving information-linkage hub",
    )
    parser.add_argument("--version", action="version", version=f"renkei {SUITE_VERSION}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    handlers: dict[str, Handler] = {}

    conf = sub.add_parser("conformance", help="run the conformance kit")
    conf_sub = conf.add_subparsers(dest="conformance_command", required=True, parser_class=_Parser)
    run = conf_sub.add_parser("run", help="run the kit against a target")
    run.add_argument(
        "--target",
        required=True,
        help="'reference' (in process), an http(s):// URL, or a target file",
    )
    run.add_argument(
        "--profile", action="append", default=[], help="only tests for this profile (repeatable)"
    )
    run.add_argument(
        "--requirement",
        action="append",
        default=[],
        metavar="RK-ID",
        help="only tests that name this requirement (repeatable)",
    )
    run.add_argument("--ca", type=Path, help="the target's CA (PEM), with an https:// target")
    run.add_argument("--cert", type=Path, help="the operator's client certificate (PEM)")
    run.add_argument("--key", type=Path, help="the operator's client private key (PEM)")
    run.add_argument("--capabilities", type=Path, help="capability file (YAML/JSON)")
    run.add_argument("--xfails", type=Path, help="expected-failure manifest (YAML/JSON)")
    run.add_argument("--report-json", type=Path, help="write the JSON report here")
    run.add_argument("--junit", type=Path, help="write JUnit XML here")
    run.add_argument("--html", type=Path, help="write the HTML report here")
    run.add_argument(
        "--bundle", type=Path, help="write a signed results bundle here (needs --signing-key)"
    )
    run.add_argument(
        "--signing-key", type=Path, help="Ed25519 private key (PEM) that signs the bundle"
    )
    run.add_argument(
        "--certify",
        action="store_true",
        help="certifier mode: the certifier runs the kit against the vendor's deployment with a "
        "fresh challenge seed and signs with the certifier's key (needs --bundle, --signing-key)",
    )
    run.add_argument(
        "--seed",
        metavar="HEX",
        help="derive the run's worlds from this challenge seed (64 hex digits), e.g. to "
        "reproduce a run; the run stays self-asserted",
    )
    run.add_argument("-k", dest="keyword", help="only tests matching this pytest expression")
    run.add_argument("-q", "--quiet", action="store_true", help="less output")
    selftest = conf_sub.add_parser(
        "selftest", help="run the kit against a target and its known-bad variants"
    )
    selftest.add_argument(
        "--target",
        default="reference",
        help="an in-process target with a known-bad catalog; with --wire any target",
    )
    selftest.add_argument("--json", action="store_true", help="print the kill matrix as JSON")
    selftest.add_argument("--jobs", type=int, help="variants run at a time (default: cores)")
    selftest.add_argument(
        "--variant", action="append", default=[], help="only this variant (repeatable)"
    )
    selftest.add_argument(
        "--reference-report",
        type=Path,
        metavar="PATH",
        help="the JSON report of a whole run of this kit against the target itself "
        "(conformance run --report-json): used instead of running it again",
    )
    wire = selftest.add_argument_group(
        "wire-level self-test (--wire): generated mutants of every operation, any target"
    )
    wire.add_argument(
        "--wire",
        action="store_true",
        help="mutate the target's responses at the kit's client (any target: in process, "
        "an https:// URL or a target file) instead of running the known-bad catalog",
    )
    wire.add_argument("--sample", type=int, help="run only this many mutants, drawn with --seed")
    wire.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    wire.add_argument(
        "--operator",
        action="append",
        default=[],
        help="only this mutation operator (repeatable): drop, add, swap, stale, status, "
        "reorder, duplicate, lag, delay",
    )
    wire.add_argument(
        "--per-pair", type=int, default=1, help="member paths per operation × operator (default 1)"
    )
    wire.add_argument(
        "--tests-per-mutant",
        type=int,
        default=1,
        help="kit tests each mutant runs in, fastest first (default 1)",
    )
    wire.add_argument(
        "--kit-file",
        action="append",
        default=[],
        help="only this file of the kit's suite (repeatable; e.g. test_wire.py)",
    )
    wire.add_argument(
        "--min-score", type=float, default=0.95, help="exit 1 below this kill score (0.95)"
    )
    wire.add_argument("--ca", type=Path, help="the target's CA (PEM), with an https:// target")
    wire.add_argument("--cert", type=Path, help="the operator's client certificate (PEM)")
    wire.add_argument("--key", type=Path, help="the operator's client private key (PEM)")
    keygen = conf_sub.add_parser("keygen", help="make an Ed25519 key to sign results bundles")
    keygen.add_argument("--out", type=Path, required=True, help="private key file to write")
    init = conf_sub.add_parser(
        "init", help="write a target file, capabilities, an xfail manifest and a CI job to edit"
    )
    init.add_argument("dir", type=Path, help="folder to write them in (made if missing)")
    conf_sub.add_parser("guide", help="print the vendor's guide (VENDOR-GUIDE.md)")
    verify = conf_sub.add_parser("verify-bundle", help="check a signed results bundle")
    verify.add_argument("bundle", type=Path, help="the bundle (JSON)")
    verify.add_argument("--key", type=Path, help="require this signer (Ed25519 public key, PEM)")
    verify.add_argument(
        "--require-pass", action="store_true", help="exit 1 unless the recorded run passed"
    )
    verify.add_argument("--json", action="store_true", help="print the findings as JSON")
    verify.add_argument(
        "--require-certifier",
        action="store_true",
        help="with --require-pass: also exit 1 unless the run was made in certifier mode "
        "and signed by the --key given",
    )
    verify.add_argument(
        "--allow-xfail",
        action="store_true",
        help="with --require-pass: accept expected failures (the certifier's decision)",
    )
    handlers["conformance"] = _conformance

    spec = sub.add_parser("spec", help="read the specification")
    spec_sub = spec.add_subparsers(dest="spec_command", required=True, parser_class=_Parser)
    lst = spec_sub.add_parser("list", help="list requirements")
    lst.add_argument("--format", choices=("json", "text"), default="text")
    lst.add_argument("--level", choices=("MUST", "SHOULD", "MAY"))
    lst.add_argument("--profile")
    render = spec_sub.add_parser(
        "render",
        help="regenerate specs/catalog.md, specs/conformance-tests.json and "
        "specs/verified-outside-the-kit.json",
    )
    render.add_argument("--out", type=Path, help="output folder (default: the specs folder)")
    render.add_argument("--tests", type=Path, help="repository tests folder (default: ./tests)")
    render.add_argument("--code", type=Path, help="implementation source folder to trace")
    render.add_argument(
        "--check", action="store_true", help="exit 1 when the files on disk are not up to date"
    )
    render.add_argument(
        "--html",
        type=Path,
        metavar="DIR",
        help="write the catalog as a bilingual static site into DIR instead (traceability "
        "matrix, one page per requirement, glossary; no JavaScript)",
    )
    handlers["spec"] = _spec

    from .load.command import register as register_bench  # Locust runs in subprocesses

    handlers.update(register_bench(sub))

    for ep in entry_points(group="renkei.commands"):
        try:
            handlers.update(ep.load()(sub))
        except Exception as exc:  # a broken plugin must not break the kit
            print(
                f"renkei: warning: command plugin {ep.name!r} failed to load: {exc}",
                file=sys.stderr,
            )
    return parser, handlers


def main(argv: Sequence[str] | None = None) -> int:
    parser, handlers = _build()
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        print("renkei: interrupted", file=sys.stderr)
        return 2


def _spec(args: argparse.Namespace) -> int:
    from .spec import SpecError, load_catalog

    try:
        catalog = load_catalog()
    except SpecError as exc:
        print(f"renkei spec: {exc}", file=sys.stderr)
        return 2
    if args.spec_command == "render":
        return _render(args, catalog)
    reqs = [
        r
        for r in catalog
        if (args.level is None or r.level == args.level)
        and (args.profile is None or args.profile in r.profiles)
    ]
    if args.format == "json":
        json.dump([r.as_json() for r in reqs], sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        for r in reqs:
            items = ",".join(map(str, r.seed_items))
            print(f"{r.id:<14} {r.level:<6} [{items}] {r.title}")
    return 0


def _conformance(args: argparse.Namespace) -> int:
    if args.conformance_command == "selftest":
        return _selftest(args)
    if args.conformance_command == "keygen":
        return _keygen(args)
    if args.conformance_command == "verify-bundle":
        return _verify_bundle(args)
    if args.conformance_command == "init":
        return _init(args)
    if args.conformance_command == "guide":
        return _guide()
    return _run(args)


INIT_FILES = (
    "target.json",
    "capabilities.yaml",
    "xfails.yaml",
    "github-actions.yml",
    "gitlab-ci.yml",
)
"""What ``renkei conformance init`` writes: the guide's examples, to edit."""


def _guide() -> int:
    from .spec import SpecError, guide_root

    try:
        print((guide_root() / "VENDOR-GUIDE.md").read_text(encoding="utf-8"), end="")
    except (SpecError, OSError) as exc:
        print(f"renkei conformance guide: {exc}", file=sys.stderr)
        return 2
    return 0


def _init(args: argparse.Namespace) -> int:
    """Write the starting files of a vendor's setup; never overwrite one."""
    from .spec import SpecError, guide_root

    try:
        examples = guide_root() / "examples"
    except SpecError as exc:
        print(f"renkei conformance init: {exc}", file=sys.stderr)
        return 2
    existing = [name for name in INIT_FILES if (args.dir / name).exists()]
    if existing:
        print(
            f"renkei conformance init: refusing to overwrite {', '.join(existing)} in {args.dir}",
            file=sys.stderr,
        )
        return 2
    try:
        args.dir.mkdir(parents=True, exist_ok=True)
        for name in INIT_FILES:
            (args.dir / name).write_bytes((examples / name).read_bytes())
    except OSError as exc:
        print(f"renkei conformance init: {exc}", file=sys.stderr)
        return 2
    print(f"renkei conformance init: wrote {', '.join(INIT_FILES)} in {args.dir}")
    print("next: edit target.json (your URLs and certificates; `renkei pki init pki` makes a")
    print("test PKI with exactly the paths it names), then")
    print(
        f"  renkei conformance run --target {args.dir / 'target.json'} "
        f"--capabilities {args.dir / 'capabilities.yaml'} --xfails {args.dir / 'xfails.yaml'}"
    )
    print("the whole guide: renkei conformance guide")
    return 0


def _keygen(args: argparse.Namespace) -> int:
    from .bundle import BundleError, generate_key

    try:
        pub, kid = generate_key(args.out)
    except (BundleError, OSError) as exc:
        print(f"renkei conformance keygen: {exc}", file=sys.stderr)
        return 2
    print(f"private key: {args.out} (keep it secret)\npublic key:  {pub}\nkey ID:      {kid}")
    return 0


def _verify_bundle(args: argparse.Namespace) -> int:
    from .bundle import BundleError, load_public_key, verify

    try:
        trusted = load_public_key(args.key) if args.key else None
        text = args.bundle.read_text(encoding="utf-8")
    except BundleError as exc:
        print(f"renkei conformance verify-bundle: {exc}", file=sys.stderr)
        return 2
    except (OSError, UnicodeDecodeError) as exc:
        print(
            f"renkei conformance verify-bundle: cannot read {args.bundle}: {exc}", file=sys.stderr
        )
        return 2
    try:
        envelope = json.loads(text)
    except json.JSONDecodeError as exc:
        envelope = None
        print(
            f"renkei conformance verify-bundle: {args.bundle} is not JSON: {exc}", file=sys.stderr
        )
    check = verify(envelope, trusted)
    problems = check.certification_problems(
        allow_xfail=args.allow_xfail, require_certifier=args.require_certifier
    )
    if args.json:
        json.dump(check.as_json(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        info = check.as_json()
        print(f"bundle:    {args.bundle}")
        print(f"signature: {'valid' if check.valid else 'INVALID'} (key {check.keyid or '?'})")
        for problem in check.problems:
            print(f"  problem: {problem}")
        for note in check.notes:
            print(f"  note:    {note}")
        if check.valid:
            print(f"mode:      {check.mode} ({check.mode_reason()})")
            _print_tested(info)
            for problem in problems:
                print(f"  not certified: {problem}")
            print(f"verdict:   {'PASS' if not problems else 'FAIL'}")
            review = info["review"]
            print(f"review:    {len(review)} items for the regulator's reviewer, not judged")
    if not check.valid:
        return 1
    return 1 if args.require_pass and problems else 0


def _print_tested(info: dict[str, Any]) -> None:
    """What the bundle says was tested, for the certifier (issue 15)."""
    target = info["target"] or {}
    kit = info.get("kit") or {}
    caps = info.get("capabilities") or {}
    selection = info.get("selection") or {}
    chosen = {k: v for k, v in selection.items() if v and k != "args"}
    transport = target.get("transport", target.get("kind"))
    print(f"run:       {target.get('name')} ({transport}), {info['created']}")
    print(f"kit:       {info['suite_version']}, catalog {info['spec_version']}")
    print(f"kit code:  {kit.get('code_digest', 'not recorded')}")
    for name, digest in sorted((kit.get("spec_digests") or {}).items()):
        print(f"spec:      {name} sha256:{digest}")
    role = info.get("certified_role") or {}
    if role:
        print(f"role:      {role.get('role')}: {role.get('statement', '')}")
    print(f"profiles:  {', '.join(caps.get('profiles', []))} ({caps.get('source', '?')})")
    print(f"selection: {chosen or 'the whole suite'}")
    for profile, c in ((info.get("completeness") or {}).get("profiles") or {}).items():
        print(f"coverage:  {profile}: {c['ran']}/{c['expected']} tests ran")
    for test_id, reason in (info.get("xfail_manifest") or {}).items():
        print(f"xfail:     {test_id}: {reason}")
    for notice in info.get("notices") or []:
        print(f"notice:    {notice}")
    print(f"summary:   {info['summary']}")


def _selftest(args: argparse.Namespace) -> int:
    from .selftest import SelftestError, render_matrix, run_selftest

    if args.wire:
        return _wire_selftest(args)
    progress = None if args.json else (lambda msg: print(msg, flush=True))
    try:
        result = run_selftest(
            args.target,
            jobs=args.jobs,
            only=args.variant,
            progress=progress,
            reference_report=args.reference_report,
        )
    except SelftestError as exc:
        print(f"renkei conformance selftest: {exc}", file=sys.stderr)
        return 2
    _print_result(result, args.json, render_matrix)
    return 0 if result["reference_passed"] and result["killed"] == result["total"] else 1


def _print_result(result: Any, as_json: bool, render: Callable[[Any], str]) -> None:
    """A selftest's result on standard output: JSON, or its rendered table."""
    if as_json:
        json.dump(result, sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print()
        print(render(result))


def _wire_selftest(args: argparse.Namespace) -> int:
    from .selftest import SelftestError
    from .wiremut import OPERATORS
    from .wireselftest import render, run_wire_selftest

    progress = None if args.json else (lambda msg: print(msg, flush=True))
    extra = [
        arg
        for name in ("ca", "cert", "key")
        if getattr(args, name) is not None
        for arg in (f"--renkei-{name}", str(getattr(args, name)))
    ]
    try:
        result = run_wire_selftest(
            args.target,
            seed=args.seed,
            sample=args.sample,
            per_pair=args.per_pair,
            tests_per_mutant=args.tests_per_mutant,
            operators=args.operator or OPERATORS,
            kit_files=args.kit_file,
            extra_args=extra,
            jobs=args.jobs,
            progress=progress,
        )
    except SelftestError as exc:
        print(f"renkei conformance selftest: {exc}", file=sys.stderr)
        return 2
    _print_result(result, args.json, render)
    return 0 if result["clean"] and result["score"] >= args.min_score else 1


def _run(args: argparse.Namespace) -> int:
    import pytest

    from .spec import SpecError, load_catalog, load_user_file
    from .target import TargetError, command_line_tls, resolve_target

    if (args.bundle is None) != (args.signing_key is None):
        print("renkei conformance: --bundle and --signing-key go together", file=sys.stderr)
        return 2
    seed = args.seed
    if args.certify and (args.bundle is None or seed is not None):
        print(
            "renkei conformance: --certify signs a bundle (--bundle, --signing-key) and draws "
            "its own fresh challenge seed (no --seed)",
            file=sys.stderr,
        )
        return 2
    if args.certify:
        import secrets

        seed = secrets.token_hex(32)
    if seed is not None and not re.fullmatch(r"[0-9a-f]{64}", seed):
        print("renkei conformance: --seed must be 64 lowercase hex digits", file=sys.stderr)
        return 2
    signing_key = None
    if args.signing_key is not None:
        from .bundle import BundleError, load_private_key

        try:
            signing_key = load_private_key(args.signing_key)
        except BundleError as exc:
            print(f"renkei conformance: {exc}", file=sys.stderr)
            return 2
    for path, what in ((args.capabilities, "capability file"), (args.xfails, "xfail manifest")):
        if path is not None and not path.is_file():
            print(f"renkei conformance: {what} {path} does not exist", file=sys.stderr)
            return 2
    try:
        load_catalog()
        if args.capabilities:
            load_user_file(args.capabilities, "capabilities.schema.json", "capability file")
        if args.xfails:
            load_user_file(args.xfails, "xfails.schema.json", "xfail manifest")
        resolve_target(args.target, tls=command_line_tls(args.ca, args.cert, args.key))
    except (TargetError, SpecError) as exc:
        print(f"renkei conformance: {exc}", file=sys.stderr)
        return 2
    from .selftest import SUITE, suite_args

    pargs = [str(SUITE), *suite_args(args.target)]
    pargs += ["-q"] if args.quiet else ["-v"]
    # This command has imported the kit, httpx and anyio before pytest starts, so pytest
    # can no longer rewrite the asserts of plugins it loads from them and would warn so in
    # every run from an installed wheel; the kit's tests do not rely on that rewriting.
    pargs += ["-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for flag, value in (("--renkei-ca", args.ca), ("--renkei-cert", args.cert)):
        if value is not None:
            pargs += [flag, str(value)]
    if args.key is not None:
        pargs += ["--renkei-key", str(args.key)]
    if seed is not None:
        pargs += ["--renkei-seed", seed]
        print(f"renkei conformance: challenge seed {seed}", flush=True)
    if args.certify:
        pargs += ["--renkei-certifier"]
    if args.capabilities:
        pargs += ["--renkei-capabilities", str(args.capabilities)]
    if args.xfails:
        pargs += ["--renkei-xfails", str(args.xfails)]
    report_json = args.report_json
    if (args.html or args.bundle) and report_json is None:
        import tempfile

        report_json = Path(tempfile.mkdtemp(prefix="renkei-")) / "report.json"
    if report_json:
        pargs += ["--renkei-report-json", str(report_json)]
    if args.junit:
        pargs += ["--junitxml", str(args.junit)]
    if args.keyword:
        pargs += ["-k", args.keyword]
    for profile in args.profile:
        pargs += ["--renkei-profile", profile]
    for rid in args.requirement:
        pargs += ["--renkei-requirement", rid]
    code = pytest.main(pargs)
    if args.junit and args.junit.is_file():
        _name_junit_cases(args.junit)
    if args.html and report_json is not None and report_json.is_file():
        from .report import write_html

        write_html(json.loads(report_json.read_text(encoding="utf-8")), args.html)
    if signing_key is not None and report_json is not None and report_json.is_file():
        from .bundle import seal

        envelope = seal(json.loads(report_json.read_text(encoding="utf-8")), signing_key)
        args.bundle.parent.mkdir(parents=True, exist_ok=True)
        args.bundle.write_text(json.dumps(envelope, indent=2) + "\n", encoding="utf-8")
        print(f"renkei conformance: signed results bundle written to {args.bundle}")
    return {0: 0, 1: 1}.get(int(code), 2)


def _name_junit_cases(path: Path) -> None:
    """Name each JUnit test case by its CT id first (``CT-WIRE-003[op] test_…``), so that
    CI dashboards show the conformance test; its properties carry requirements and
    seed items (issue 15)."""
    import xml.etree.ElementTree as ET

    tree = ET.parse(path)
    for case in tree.iter("testcase"):
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        test_id = props.get("test_id")
        if test_id:
            case.set("name", f"{test_id} {case.get('name', '').split('[')[0]}")
    tree.write(path, encoding="utf-8", xml_declaration=True)


def _render_html(out: Path, catalog: Any, matrix: Any) -> int:
    from .site import kit_tests_from_registry, write_site
    from .spec import load_glossary, spec_root

    registry = (spec_root() / "conformance-tests.json").read_text(encoding="utf-8")
    repository: dict[str, list[str]] = {}
    for t in matrix.tests:
        if t.kind == "repository":
            for rid in t.requirements:
                repository.setdefault(rid, []).append(t.location.rsplit(":", 1)[0])
    repository = {rid: sorted(set(files)) for rid, files in repository.items()}
    files = write_site(out, catalog, kit_tests_from_registry(registry), load_glossary(), repository)
    print(f"wrote {len(files)} pages into {out} (open {out / 'index.html'})")
    return 0


def _render(args: argparse.Namespace, catalog: Any) -> int:
    from .spec import spec_root
    from .traceability import (
        build_matrix,
        outside_the_kit,
        published_test_registry,
        render_markdown,
    )

    out: Path = args.out or spec_root()
    tests = args.tests or Path("tests")
    code = args.code or Path("reference")
    matrix = build_matrix(Path(__file__).resolve().parent / "suite", tests, code)
    if args.html:
        return _render_html(args.html, catalog, matrix)
    registry = out / "conformance-tests.json"
    previous = registry.read_text(encoding="utf-8") if registry.is_file() else None
    files = {
        out / "catalog.md": render_markdown(catalog, matrix),
        registry: published_test_registry(matrix, previous),
        out / "verified-outside-the-kit.json": outside_the_kit(catalog, matrix),
    }
    stale = [
        p for p, text in files.items() if not p.is_file() or p.read_text(encoding="utf-8") != text
    ]
    if args.check:
        for p in stale:
            print(
                f"renkei spec render: {p} is out of date; run `renkei spec render`", file=sys.stderr
            )
        return 1 if stale else 0
    for p in stale:
        p.write_text(files[p], encoding="utf-8")
        print(f"wrote {p}")
    return 0
