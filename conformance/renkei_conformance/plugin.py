"""The kit as a pytest plugin (entry point ``pytest11: renkei``).

A vendor can run the kit with plain pytest::

    pytest --pyargs renkei_conformance.suite --renkei-target https://hub.example:8443

or through ``renkei conformance run``, which calls the same plugin.  Each kit
test carries ``@pytest.mark.conformance("CT-AREA-NNN", requirements=[...])``:
a stable test ID (never renamed; expected-failure manifests key on it) and the
catalog requirements it verifies.  Without ``--renkei-target`` the plugin is
inert, so installing renkei changes nothing in a vendor's own test runs.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from . import SUITE_VERSION
from .environment import kit_environment
from .review import review_items
from .spec import Catalog, SpecError, load_catalog, load_user_file

if TYPE_CHECKING:  # imported lazily: httpx pulls in anyio, itself a pytest plugin
    from .client import Wire
    from .target import Target
    from .world import World

__all__ = ["CONFORMANCE_ID", "KitSession", "TestResult"]

CONFORMANCE_ID = re.compile(r"^CT-[A-Z]+-[0-9]{3}$")
DEFAULT_OPTIONS: dict[str, Any] = {
    "link_code_unit": "agency",
    "delivery": "pull",
    "deferred_answers": True,
    "end_to_end_encryption": True,
    "sector_subsystems": True,
    "key_rotation": True,
    "throughput_profile": "jp-fy2022",
    "throughput_seconds": 3,
}
"""Options assumed when neither a discovery document nor a capability file says."""
ALL_PROFILES = (
    "hub",
    "agency-node",
    "numbering-authority",
    "resident-registry",
    "my-portal",
    "auditor",
)


@dataclass
class TestResult:
    test_id: str
    nodeid: str
    requirements: list[str]
    seed_items: list[int]
    outcome: str  # passed | failed | warning | not_applicable | xfailed | xpassed | error
    message: str
    duration: float
    reproduce: str = ""
    root_cause: dict[str, str] = field(default_factory=dict)
    """For a failure whose failing check verifies another requirement than the test's
    (the wire contract): ``requirement`` and ``request``."""

    def as_json(self) -> dict[str, Any]:
        extra: dict[str, Any] = {"reproduce": self.reproduce} if self.reproduce else {}
        if self.root_cause:
            extra["root_cause"] = self.root_cause
        return {
            **extra,
            "test_id": self.test_id,
            "requirements": self.requirements,
            "seed_items": self.seed_items,
            "outcome": self.outcome,
            "message": self.message,
            "duration_s": round(self.duration, 4),
            "nodeid": self.nodeid,
        }


@dataclass
class KitSession:
    target: Target
    catalog: Catalog
    capabilities: dict[str, Any]
    xfails: dict[str, str]
    results: dict[str, TestResult] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    selection: dict[str, Any] = field(default_factory=dict)
    """What the run was asked to run: pytest's -k and -m, the kit's profile and
    requirement filters, the paths given (issue 15: a report never says more than ran)."""

    wires: list[Wire] = field(default_factory=list)
    leaks: list[str] = field(default_factory=list)  # the canary sweep's findings (CT-LEAK-001)
    swept: dict[str, float] = field(
        default_factory=lambda: {"exchanges": 0, "secrets": 0, "seconds": 0.0}
    )
    challenge: dict[str, Any] = field(
        default_factory=lambda: {"mode": "self-asserted", "seed": None}
    )
    measurements: dict[str, Any] = field(default_factory=dict)
    """Figures the tests measured, by test ID (CT-PERF-…: linkages/s and latency at each
    log size), stated in every report (issue 14, item 6)."""
    """Who ran the kit and the seed its worlds were derived from (issue 15, item 2):
    ``certifier`` only for a run in certifier mode, which always has a fresh seed."""

    def completeness(self) -> dict[str, Any]:
        """Per declared profile, whether every published test that applies to it ran.

        A published test (specs/conformance-tests.json, not retired) applies to a
        profile when it names it or names none.  It counts as run with any outcome,
        not applicable included; deselected or never collected, it is missing."""
        ran = {r.test_id.split("[")[0] for r in self.results.values()}
        published = [row for row in _published_tests() if not row.get("retired")]
        profiles: dict[str, Any] = {}
        for profile in sorted(self.capabilities.get("profiles", ALL_PROFILES)):
            expected = {
                row["test_id"]
                for row in published
                if not row.get("profiles") or profile in row["profiles"]
            }
            missing = sorted(expected - ran)
            profiles[profile] = {
                "expected": len(expected),
                "ran": len(expected) - len(missing),
                "missing": missing,
            }
        return {
            "complete": all(not p["missing"] for p in profiles.values()),
            "profiles": profiles,
        }

    def certified_role(self) -> dict[str, Any]:
        """What the run certifies (issue 15, item 3): a federation, or one agency node
        alone with the kit playing the hub and the other parties."""
        profiles = sorted(self.capabilities.get("profiles", ALL_PROFILES))
        if self.target.node_only:
            return {
                "role": "agency-node",
                "profiles": profiles,
                "played_by_the_kit": ["hub", "requesting agency", "auditor"],
                "statement": "one agency node alone; the kit played the hub (its hub double, "
                "written from the interface document) and the other parties",
            }
        return {
            "role": "federation",
            "profiles": profiles,
            "played_by_the_kit": ["agencies", "auditor", "card holders"],
            "statement": "the parties of the declared profiles, each reached over the wire",
        }

    def summary(self) -> dict[str, int]:
        keys = ("passed", "failed", "warnings", "not_applicable", "xfailed", "xpassed", "errors")
        counts = dict.fromkeys(keys, 0)
        plural = {"warning": "warnings", "error": "errors"}
        for r in self.results.values():
            counts[plural.get(r.outcome, r.outcome)] += 1
        return counts

    def report(self) -> dict[str, Any]:
        return {
            "suite_version": SUITE_VERSION,
            "spec_version": self.catalog.version,
            "kit_environment": kit_environment(),
            "target": self.target.describe(),
            "certified_role": self.certified_role(),
            "capabilities": self.capabilities,
            "started": self.started,
            "duration_s": round(time.time() - self.started, 3),
            "summary": self.summary(),
            "selection": self.selection,
            "completeness": self.completeness(),
            "xfail_manifest": self.xfails,
            "notices": self.notices,
            "challenge": self.challenge,
            "canary_sweep": {
                "exchanges": int(self.swept["exchanges"]),
                "secrets": int(self.swept["secrets"]),
                "seconds": round(self.swept["seconds"], 3),
                "leaks": len(self.leaks),
            },
            "root_causes": root_causes(list(self.results.values())),
            "measurements": self.measurements,
            "results": [r.as_json() for r in self.results.values()],
            # requirements verified by contract, property or review, with what verifies
            # them (specs/verified-outside-the-kit.json): stated, not judged by this run
            "outside_the_kit": outside_the_kit(),
            # verification by review (RK-ARCH-005, RK-ARCH-006, …): for the regulator,
            # apart from passed/failed — specs/review/checklist.yaml
            "review": review_items(),
        }


_KEY = pytest.StashKey[KitSession]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("renkei", "renkei conformance kit")
    group.addoption(
        "--renkei-target",
        default=None,
        help="implementation under test: a registered name (reference), an "
        "http(s):// URL or a target file",
    )
    group.addoption(
        "--renkei-capabilities",
        default=None,
        type=Path,
        help="capability file (YAML/JSON): profiles and options implemented",
    )
    group.addoption(
        "--renkei-xfails",
        default=None,
        type=Path,
        help="expected-failure manifest: {test_id: reason}, strict",
    )
    group.addoption(
        "--renkei-profile",
        action="append",
        default=[],
        help="run only the tests of this profile (repeatable)",
    )
    group.addoption(
        "--renkei-requirement",
        action="append",
        default=[],
        help="run only the tests that name this requirement ID (repeatable)",
    )
    group.addoption(
        "--renkei-report-json", default=None, type=Path, help="write the JSON result report here"
    )
    group.addoption(
        "--renkei-seed",
        default=None,
        help="challenge seed (64 hex digits) the run's worlds are derived from: names, "
        "residents, request ids, agencies (default: the kit's fixed world)",
    )
    group.addoption(
        "--renkei-certifier",
        action="store_true",
        default=False,
        help="certifier mode: the run is the certifier's, with a fresh --renkei-seed "
        "(`renkei conformance run --certify` draws it); otherwise it is self-asserted",
    )
    group.addoption(
        "--renkei-wire-out",
        default=None,
        type=Path,
        help="wire self-test: put the mutating proxy in front of the target and write "
        "what it records (or each mutation it applies) here, one JSON line each",
    )
    group.addoption(
        "--renkei-wire-mutant",
        default=None,
        help="wire self-test: the mutant to apply (JSON, renkei_conformance.wiremut.Mutant); "
        "without it the proxy records",
    )
    for name, what in (
        ("ca", "the target's CA certificate (PEM), for an https:// target"),
        ("cert", "the conformance operator's client certificate (PEM)"),
        ("key", "the conformance operator's private key (PEM)"),
    ):
        group.addoption(f"--renkei-{name}", default=None, type=Path, help=what)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "conformance(test_id, requirements, profiles=None, needs=None): a renkei "
        "conformance test; needs names options the target must declare",
    )
    spec = config.getoption("--renkei-target", default=None)
    if not spec:
        return
    _keep_the_vendors_folder_clean(config)
    from .target import TargetError, command_line_tls, resolve_target

    challenge = _challenge(config)
    try:
        tls = command_line_tls(
            config.getoption("--renkei-ca"),
            config.getoption("--renkei-cert"),
            config.getoption("--renkei-key"),
        )
        target = resolve_target(spec, tls=tls)
        catalog = load_catalog()
    except (TargetError, SpecError) as exc:
        raise pytest.UsageError(str(exc)) from exc
    _wire_proxy(config, target)
    discovered, notices = _discover(target)
    caps: dict[str, Any] = {
        "profiles": list(ALL_PROFILES),
        "options": dict(DEFAULT_OPTIONS),
        "source": "default: every profile and option",
    }
    if discovered is not None:
        caps = {
            "profiles": discovered["profiles"],
            "options": {**DEFAULT_OPTIONS, **discovered["options"]},
            "source": "discovery document (/.well-known/renkei)",
        }
    xfails: dict[str, str] = {}
    try:
        cap_path = config.getoption("--renkei-capabilities")
        if cap_path:
            declared = load_user_file(cap_path, "capabilities.schema.json", "capability file")
            for key in ("profiles", "options"):
                if discovered is not None and key in declared:
                    mine = declared[key] if key == "options" else sorted(declared[key])
                    theirs = (
                        {k: discovered[key].get(k) for k in declared[key]}
                        if key == "options"
                        else sorted(discovered[key])
                    )
                    if mine != theirs:
                        notices.append(
                            f"the capability file's {key} {mine} override the "
                            f"discovery document's {theirs}"
                        )
            caps = {
                **caps,
                **declared,
                "options": {**caps["options"], **declared.get("options", {})},
                "source": f"capability file {cap_path}",
            }
        xf_path = config.getoption("--renkei-xfails")
        if xf_path:
            xfails = dict(load_user_file(xf_path, "xfails.schema.json", "xfail manifest") or {})
    except SpecError as exc:
        raise pytest.UsageError(str(exc)) from exc
    selection = {
        "keyword": config.getoption("keyword") or None,
        "markexpr": config.getoption("markexpr") or None,
        "profiles": list(config.getoption("--renkei-profile") or ()),
        "requirements": list(config.getoption("--renkei-requirement") or ()),
        "args": [str(a) for a in config.args],
    }
    config.stash[_KEY] = KitSession(
        target, catalog, caps, xfails, notices=notices, selection=selection, challenge=challenge
    )


SEED = re.compile(r"^[0-9a-f]{64}$")
_PROXY = pytest.StashKey[Any]()


def _wire_proxy(config: pytest.Config, target: Target) -> None:
    """The mutating proxy of ``selftest --wire`` (``--renkei-wire-out``), wrapped
    around every HTTP client the kit opens onto the target."""
    out = config.getoption("--renkei-wire-out")
    if out is None:
        return
    from .openapi import load_contract
    from .wiremut import Mutant, WireProxy

    spec = config.getoption("--renkei-wire-mutant")
    try:
        mutant = Mutant.from_json(json.loads(spec)) if spec else None
    except (ValueError, KeyError, TypeError) as exc:
        raise pytest.UsageError(f"--renkei-wire-mutant: not a mutant: {exc}") from exc
    proxy = WireProxy(load_contract(), target.parties, target.agency_nodes, out, mutant)
    target.wrap = proxy.wrap
    config.stash[_PROXY] = proxy


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(
    item: pytest.Item, nextitem: pytest.Item | None
) -> Generator[None, object, object]:
    """The mutating proxy knows which kit test each response belongs to."""
    proxy = item.config.stash.get(_PROXY, None)
    if proxy is not None:
        proxy.begin(item.nodeid)
    try:
        return (yield)
    finally:
        if proxy is not None:
            proxy.end()


def _challenge(config: pytest.Config) -> dict[str, Any]:
    """The run's challenge (``--renkei-seed``, ``--renkei-certifier``), set as the seed of
    every world the kit builds (world.set_challenge)."""
    from .world import set_challenge

    seed = config.getoption("--renkei-seed")
    certifier = bool(config.getoption("--renkei-certifier"))
    if seed is not None and not SEED.match(seed):
        raise pytest.UsageError("--renkei-seed must be 64 lowercase hex digits (32 bytes)")
    if certifier and seed is None:
        raise pytest.UsageError(
            "certifier mode needs a fresh challenge seed (renkei conformance run --certify "
            "draws one)"
        )
    set_challenge(bytes.fromhex(seed) if seed else None)
    return {"mode": "certifier" if certifier else "self-asserted", "seed": seed}


def _keep_the_vendors_folder_clean(config: pytest.Config) -> None:
    """A kit run leaves nothing in the folder it runs in but the reports asked for
    (issue 15): Hypothesis keeps its storage (example database, constants) in a
    temporary folder removed at the end, not in ``./.hypothesis``."""
    import shutil
    import tempfile

    from hypothesis.configuration import set_hypothesis_home_dir

    home = tempfile.mkdtemp(prefix="renkei-kit-hypothesis-")
    set_hypothesis_home_dir(home)
    config.add_cleanup(lambda: shutil.rmtree(home, ignore_errors=True))


def _discover(target: Target) -> tuple[dict[str, Any] | None, list[str]]:
    """Read every party origin's discovery document (RK-WIRE-005).

    Returns the union of their profiles and options (``None`` when no origin
    publishes one) and notices about origins that do not."""
    import httpx

    from .client import Wire, WireError

    notices: list[str] = []
    docs: list[dict[str, Any]] = []
    wire = Wire(target)
    try:
        for origin in wire.origins():
            try:
                reply = wire.discovery(origin)
            except (WireError, httpx.HTTPError) as exc:
                notices.append(f"{origin}: unusable discovery document: {str(exc)[:300]}")
                continue
            if reply.status != 200 or not isinstance(reply.body, dict):
                notices.append(
                    f"{origin} publishes no discovery document at /.well-known/renkei "
                    f"(RK-WIRE-005): HTTP {reply.status}"
                )
                continue
            docs.append(reply.body)
    finally:
        wire.close()
    if not docs:
        return None, notices
    profiles = sorted({p for d in docs for p in d.get("profiles", [])})
    options: dict[str, Any] = {}
    for d in docs:
        for k, v in d.get("options", {}).items():
            options.setdefault(k, v)
    return {"profiles": profiles, "options": options}, notices


def _published_tests() -> list[dict[str, Any]]:
    """The published kit tests (specs/conformance-tests.json), retired ones included."""
    from .spec import spec_root

    path = spec_root() / "conformance-tests.json"
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8")).get("tests", [])
    return rows


def outside_the_kit() -> list[dict[str, Any]]:
    """The requirements whose verification is not ``conformance`` (contract, property,
    review), each with the repository and kit tests that verify it
    (specs/verified-outside-the-kit.json, written by ``renkei spec render``)."""
    from .spec import spec_root

    path = spec_root() / "verified-outside-the-kit.json"
    if not path.is_file():
        return []
    rows: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["requirements"]
    return rows


def _published_ids() -> dict[str, bool]:
    """Published test IDs → retired? (specs/conformance-tests.json)."""
    return {r["test_id"]: bool(r.get("retired")) for r in _published_tests()}


def _session(config: pytest.Config) -> KitSession | None:
    return config.stash.get(_KEY, None)


def _marker(item: pytest.Item) -> tuple[str, list[str], list[str]] | None:
    mark = item.get_closest_marker("conformance")
    if mark is None:
        return None
    test_id = mark.args[0] if mark.args else mark.kwargs.get("test_id")
    reqs = list(mark.kwargs.get("requirements", ()))
    profiles = list(mark.kwargs.get("profiles", ()) or ())
    return str(test_id), reqs, profiles


def _unmet_needs(item: pytest.Item, options: dict[str, Any]) -> list[str]:
    """Options a test ``needs`` (``name`` truthy, or ``name=value``) the target lacks."""
    mark = item.get_closest_marker("conformance")
    unmet = []
    for need in (mark.kwargs.get("needs", ()) if mark else ()) or ():
        name, _, value = str(need).partition("=")
        have = options.get(name)
        if (value and str(have) != value) or (not value and not have):
            unmet.append(need)
    return unmet


def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    kit = _session(config)
    if kit is None:
        return
    seen: dict[str, str] = {}
    listed: set[str] = set()  # the manifest entries that named a collected case
    problems: list[str] = []
    only = set(config.getoption("--renkei-profile") or ())
    wanted = set(config.getoption("--renkei-requirement") or ())
    unknown = sorted(wanted - set(kit.catalog.requirements))
    if unknown:
        raise pytest.UsageError(f"unknown requirement ID: {', '.join(unknown)}")
    if only or wanted:
        keep: list[pytest.Item] = []
        drop: list[pytest.Item] = []
        for item in items:
            info = _marker(item)
            selected = info is None or (
                (not only or bool(only.intersection(info[2])))
                and (not wanted or bool(wanted.intersection(info[1])))
            )
            (keep if selected else drop).append(item)
        if drop:
            config.hook.pytest_deselected(items=drop)
            items[:] = keep
    for item in items:
        info = _marker(item)
        if info is None:
            continue
        test_id, reqs, profiles = info
        if not CONFORMANCE_ID.match(test_id):
            problems.append(f"{item.nodeid}: test id {test_id!r} is not CT-AREA-NNN")
        if test_id in seen and seen[test_id] != item.nodeid.split("[")[0]:
            problems.append(f"{item.nodeid}: test id {test_id} also names {seen[test_id]}")
        seen[test_id] = item.nodeid.split("[")[0]
        if not reqs:
            problems.append(f"{item.nodeid}: names no requirement")
        problems += [
            f"{item.nodeid}: unknown requirement {r}"
            for r in reqs
            if r not in kit.catalog.requirements
        ]
        declared = set(kit.capabilities.get("profiles", ALL_PROFILES))
        unmet = _unmet_needs(item, kit.capabilities.get("options", {}))
        undeclared = [p for p in profiles if p not in declared]
        case = test_id + (item.nodeid[item.nodeid.index("[") :] if "[" in item.nodeid else "")
        if undeclared:
            # A test applies only when the target declares every profile it exercises
            # (issue 15): an agency-node-only target is not asked for My Portal.
            item.add_marker(
                pytest.mark.skip(
                    reason=f"not applicable: target declares no {', '.join(undeclared)} profile"
                )
            )
        elif unmet:
            item.add_marker(
                pytest.mark.skip(
                    reason=f"not applicable: target does not declare {', '.join(unmet)}"
                )
            )
        elif case in kit.xfails or test_id in kit.xfails:
            # An entry names one case (CT-…[param]) or every case of a test.
            reason = kit.xfails.get(case) or kit.xfails[test_id]
            item.add_marker(pytest.mark.xfail(reason=reason, strict=True))
            listed.add(case if case in kit.xfails else test_id)
    if problems:
        raise pytest.UsageError("conformance suite is malformed:\n  " + "\n  ".join(problems))
    known = _published_ids()
    for entry in sorted(set(kit.xfails) - listed):
        test_id = entry.split("[")[0]
        why = "is retired" if known.get(test_id) else "names no test of this suite"
        if test_id in known and not known[test_id]:
            why = (
                "names no case of that test"
                if "[" in entry and test_id in seen
                else "names a test not selected in this run"
            )
        kit.notices.append(f"xfail manifest entry {entry} {why}")


LEAK_TEST = "CT-LEAK-001"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """After each kit test, the canary sweep (CT-LEAK-001) over every response
    the test received: a leak fails the test in which it happened."""
    kit = _session(item.config)
    try:
        result = yield
    except BaseException:
        for w in kit.wires if kit else ():
            w.take_exchanges()
        raise
    if kit is None or _marker(item) is None:
        return result
    from .canary import sweep

    exchanges = [ex for w in kit.wires for ex in w.take_exchanges()]
    began = time.perf_counter()
    learned, leaks = sweep(exchanges)
    kit.swept["seconds"] += time.perf_counter() - began
    kit.swept["exchanges"] += len(exchanges)
    kit.swept["secrets"] += len(learned.secrets)
    if leaks:
        lines = [str(leak) for leak in leaks]
        kit.leaks += [f"{item.nodeid}: {line}" for line in lines]
        raise AssertionError(
            f"canary sweep ({LEAK_TEST}; RK-KEY-001, RK-IDC-001, RK-FLOW-001): "
            f"{len(lines)} secret(s) reached a party not entitled to them:\n  "
            + "\n  ".join(lines[:10])
        )
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    kit = _session(item.config)
    info = _marker(item)
    if kit is None or info is None:
        return report
    test_id, reqs, _ = info
    if report.when == "setup":
        # JUnit properties (pytest writes an item's user properties into its testcase):
        # CI dashboards map each case to its CT id and requirements (issue 15).
        case = test_id + (item.nodeid[item.nodeid.index("[") :] if "[" in item.nodeid else "")
        item.user_properties += [
            ("test_id", case),
            ("requirements", " ".join(reqs)),
            ("seed_items", " ".join(map(str, kit.catalog.seed_items(reqs)))),
        ]
    if report.when == "call" or (report.when == "setup" and not report.passed):
        outcome, message = _classify(report, kit, reqs)
        key = item.nodeid
        kit.results[key] = TestResult(
            test_id=test_id + (item.nodeid[item.nodeid.index("[") :] if "[" in item.nodeid else ""),
            nodeid=item.nodeid,
            requirements=reqs,
            seed_items=kit.catalog.seed_items(reqs),
            outcome=outcome,
            message=message,
            duration=report.duration,
            reproduce=(_reproduce(item) if outcome in ("failed", "error", "xpassed") else ""),
            root_cause=_root_cause(call) if outcome in ("failed", "error") else {},
        )
        if outcome == "warning":
            report.outcome = "passed"
            report.user_properties.append(("renkei_outcome", "warning"))
            report.sections.append(("renkei warning", message))
    return report


_SAFE_K = re.compile(r"^[A-Za-z0-9_.\-\[\]]+$")


def _reproduce(item: pytest.Item) -> str:
    """The command that runs this one case again against the same target."""
    import shlex

    target = str(item.config.getoption("--renkei-target"))
    name = item.name if _SAFE_K.match(item.name) else item.name.split("[")[0]
    command = ["renkei", "conformance", "run", "--target", target, "-k", name]
    for option, flag in (
        ("--renkei-ca", "--ca"),
        ("--renkei-cert", "--cert"),
        ("--renkei-key", "--key"),
        ("--renkei-capabilities", "--capabilities"),
        ("--renkei-xfails", "--xfails"),
        ("--renkei-seed", "--seed"),
    ):
        value = item.config.getoption(option)
        if value:
            command += [flag, str(value)]
    return shlex.join(command)


def _classify(report: pytest.TestReport, kit: KitSession, reqs: list[str]) -> tuple[str, str]:
    if report.failed and str(report.longrepr).startswith("[XPASS(strict)]"):
        reason = str(report.longrepr).removeprefix("[XPASS(strict)]").strip()
        return "xpassed", f"expected to fail ({reason}) but passed"
    if hasattr(report, "wasxfail"):
        return (
            ("xfailed", report.wasxfail)
            if report.skipped
            else ("xpassed", f"expected to fail ({report.wasxfail}) but passed")
        )
    if report.skipped:
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else "skipped"
        return "not_applicable", reason.removeprefix("Skipped: ")
    if report.passed:
        return "passed", ""
    message = _failure_message(report)
    levels = {kit.catalog[r].level for r in reqs if r in kit.catalog.requirements}
    if report.when == "call" and levels and levels <= {"SHOULD", "MAY"}:
        return "warning", message
    return ("failed" if report.when == "call" else "error"), message


WORST_FIRST = ("failed", "error", "xpassed", "blocked", "warning", "xfailed", "passed")


def requirement_outcome(outcomes: list[str]) -> str:
    """A requirement's outcome: the worst of the results that applied to it;
    not applicable only when none did (issue 15).  ``blocked``: a test of it
    failed on another requirement's check (its root cause), so it was not judged."""
    return next((o for o in WORST_FIRST if o in outcomes), "not_applicable")


def _root_cause(call: pytest.CallInfo[None]) -> dict[str, str]:
    """The requirement the failing check verifies, when the check is the wire
    contract every response is held to (client.WireError.requirement)."""
    from .client import WireError

    error = call.excinfo.value if call.excinfo is not None else None
    if isinstance(error, WireError) and error.requirement:
        return {"requirement": error.requirement, "request": error.request}
    return {}


def attributed(results: list[TestResult]) -> dict[str, list[str]]:
    """Each requirement's outcomes, a failure counted against its root cause: the
    requirement its failing check verifies fails, the test's others are ``blocked``
    (not judged: the test stopped before it checked them)."""
    by_req: dict[str, list[str]] = {}
    for r in results:
        cause = r.root_cause.get("requirement")
        for rid in r.requirements:
            by_req.setdefault(rid, []).append("blocked" if cause and rid != cause else r.outcome)
        if cause and cause not in r.requirements:
            by_req.setdefault(cause, []).append(r.outcome)
    return by_req


def root_causes(results: list[TestResult]) -> list[dict[str, Any]]:
    """Failures grouped by the requirement their failing check verifies, most tests
    first: one broken behaviour is one line, not a failure of every test that met it."""
    groups: dict[str, list[TestResult]] = {}
    for r in results:
        if r.outcome in ("failed", "error"):
            groups.setdefault(r.root_cause.get("requirement", ""), []).append(r)
    return [
        {
            "requirement": rid,
            "tests": [r.test_id for r in group],
            "request": group[0].root_cause.get("request", ""),
            "message": group[0].message.splitlines()[0][:300] if group[0].message else "",
        }
        for rid, group in sorted(groups.items(), key=lambda g: -len(g[1]))
        if rid
    ]


def _failure_message(report: pytest.TestReport) -> str:
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return str(crash.message)[:2000]
    return str(report.longrepr)[-2000:]


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    kit = _session(config)
    if kit is None:
        return
    tr = terminalreporter
    tr.section("renkei conformance")
    tr.write_line(f"target: {kit.target.name} ({kit.target.transport})")
    tr.write_line(
        "restart capability: "
        + (
            "declared (" + " ".join(kit.target.restart.command) + ")"
            if kit.target.restart is not None
            else "not declared — the restart tests (CT-DUR-…) are not applicable"
        )
    )
    seed = kit.challenge["seed"]
    tr.write_line(
        f"run: {kit.challenge['mode']}, "
        + (f"challenge seed {seed}" if seed else "the kit's fixed world (no challenge seed)")
    )
    for notice in kit.notices:
        tr.write_line(f"warning: {notice}", yellow=True)
    causes = root_causes(list(kit.results.values()))
    if causes:
        tr.write_line("root causes (each failed check, with the tests that met it):", red=True)
    for cause in causes:
        tr.write_line(
            f"  {cause['requirement']:<14} {len(cause['tests'])} test(s), e.g. "
            f"{cause['tests'][0]} at {cause['request']}: {cause['message'][:160]}"
        )
    by_req = attributed(list(kit.results.values()))
    for rid in sorted(by_req):
        verdict = requirement_outcome(by_req[rid])
        level = kit.catalog[rid].level if rid in kit.catalog.requirements else "?"
        tr.write_line(f"  {rid:<14} {level:<6} {verdict:<15} {kit.catalog[rid].title}")
    s = kit.summary()
    tr.write_line(", ".join(f"{v} {k.replace('_', ' ')}" for k, v in s.items() if v) or "no tests")
    coverage = kit.completeness()
    if coverage["complete"]:
        tr.write_line("coverage: the complete suite of every declared profile ran")
    else:
        partial = {p: c for p, c in coverage["profiles"].items() if c["missing"]}
        tr.write_line(
            "coverage: PARTIAL run — "
            + "; ".join(f"{p} {c['ran']}/{c['expected']} tests" for p, c in partial.items())
            + " (a results bundle of it does not certify; verify-bundle --require-pass fails)",
            yellow=True,
        )
    for r in kit.results.values():
        if r.reproduce:
            tr.write_line(f"{r.test_id} {r.outcome}; reproduce: {r.reproduce}")
    verdict = "FAIL" if s["failed"] or s["errors"] or s["xpassed"] else "PASS"
    tr.write_line(f"verdict: {verdict}")
    sw = kit.swept
    tr.write_line(
        f"canary sweep ({LEAK_TEST}): {int(sw['exchanges'])} responses searched for "
        f"{int(sw['secrets'])} secrets in {sw['seconds']:.1f} s, {len(kit.leaks)} leak(s)"
    )
    from .report import figures_text

    for test_id, figures in sorted(kit.measurements.items()):
        for what, value in figures.items():
            tr.write_line(f"measured ({test_id}) {what}: {figures_text(value)}")
    outside = outside_the_kit()
    methods = sorted({row["verification"] for row in outside})
    tr.write_line(
        f"verified outside this run: {len(outside)} requirements ("
        + ", ".join(f"{sum(r['verification'] == m for r in outside)} by {m}" for m in methods)
        + "; each with its verifying tests in the JSON and HTML reports)"
    )
    tr.write_line(
        f"review: {len(review_items())} items for the regulator's reviewer "
        "(specs/review/checklist.yaml; in the JSON and HTML reports), not judged by this run"
    )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    kit = _session(session.config)
    if kit is None:
        return
    if kit.leaks:  # the sweep covers the whole run: its test fails with any leak
        for r in kit.results.values():
            if r.test_id == LEAK_TEST and r.outcome == "passed":
                r.outcome = "failed"
                r.message = f"{len(kit.leaks)} leak(s) in the run: " + "; ".join(kit.leaks[:5])
    if kit.summary()["xpassed"] and session.exitstatus == 0:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    out = session.config.getoption("--renkei-report-json")
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(
            json.dumps(kit.report(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )


# -- fixtures -------------------------------------------------------------------
@pytest.fixture(scope="session")
def renkei(request: pytest.FixtureRequest) -> KitSession:
    kit = _session(request.config)
    if kit is None:
        pytest.skip("no --renkei-target given")
    return kit


@pytest.fixture(scope="session")
def wire(renkei: KitSession) -> Iterator[Wire]:
    from .client import Wire

    w = Wire(renkei.target)
    renkei.wires.append(w)
    yield w
    renkei.wires.remove(w)
    w.close()


@pytest.fixture
def world(wire: Wire) -> World:
    """A freshly reset target with 20 persons, the kit's agencies and patterns."""
    from .world import World

    if wire.target.node_only:
        pytest.skip(
            "not applicable: the target is one agency node alone, with no hub of its own "
            "(the kit plays the hub in CT-AGN-007…011)"
        )

    return World.create(wire)
