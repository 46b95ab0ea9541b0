"""The reference federation as one ASGI application.

Handlers are ``async`` and do their (short, CPU-bound) work on the event loop:
no thread hop per request.  Durable storage that blocks goes behind a
thread or a group-commit writer, never into a handler.

(No ``from __future__ import annotations`` here: FastAPI must see the
dependency annotations, which are local to ``create_app``, as objects.)

Each party has its own router and base path (``/numbering``, ``/registry``,
``/hub``, ``/auditor``; ``/control`` in test mode only), as the wire protocol
in specs/openapi/renkei.yaml lays them out.  Handlers are thin: parse the
wire model, authenticate, call one ``Federation`` method, render the result.
"""

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse, Response

from ..core.audit import AnomalyRules
from ..core.codes import ResidentCode
from ..core.errors import CallerError, NotFoundError
from ..core.instant import instant_of
from ..core.keys import KeyPurpose
from ..core.numbering import ReissueReason
from ..core.patterns import LinkagePattern
from ..core.retention import LogClass
from . import hub_wire as wire
from .auditor.app import auditor_ui_router
from .auditor.auditor import NodeEndpoint, page
from .clock import Clock, ControllableClock
from .federation import Agency, Federation, FourItems, Removal, Role
from .front.desk import AGENCY_ROLES, HotDesk, check_role, credentials, identify, render
from .hub import ConsentIn, HoldScopeIn, QueryIn
from .portal.app import PortalBox, portal_router, ui_router
from .portal.app import control_router as portal_control_router
from .portal.portal import AgencyNodeDirectory
from .web import models as m
from .web.auth_first import AuthFirstRoute, authenticates
from .web.long_poll import MAX_WAIT_SECONDS, Signals
from .web.problems import (
    acknowledges_nothing,
    install_body_guard,
    install_commit_barrier,
    install_problem_handlers,
)
from .web.tls import require_operator

__all__ = ["CATALOG_VERSION", "INTERFACE_VERSION", "create_app", "discovery_document"]


CATALOG_VERSION = "0.1.0"
"""The catalog_version of specs/requirements.yaml this reference implements."""
INTERFACE_VERSION = "0.5.0"
"""The info.version of specs/openapi/renkei.yaml this reference implements."""


def discovery_document(*, test_mode: bool) -> dict[str, Any]:
    """The discovery document (RK-WIRE-005): profiles served, versions, options."""
    from .. import __version__

    return {
        "implementation": f"renkei reference {__version__}",
        "profiles": ["hub", "numbering-authority", "auditor", "my-portal"],
        "catalog_version": CATALOG_VERSION,
        "interface_version": INTERFACE_VERSION,
        "test_mode": test_mode,
        "options": {
            "link_code_unit": "agency",  # per agency, sector units by registration
            "delivery": "pull",  # RK-FLOW-005
            "deferred_answers": True,  # RK-FLOW-004: answers within the pattern's deadline
            "end_to_end_encryption": True,  # RK-FLOW-006: the hub relays sealed payloads
            "sector_subsystems": True,  # RK-LNK-006
            "key_rotation": True,  # RK-KEY-002
        },
    }


FederationFactory = Callable[[Clock], Federation]


def _given(text: str | None) -> str | None:
    """An optional item: None when absent or blank."""
    return text if text is not None and text.strip() else None


JSON = "application/json"


def answer_results(
    given: list[m.AnswerItemIn | m.RecordProblem], decided: list[dict[str, Any] | None]
) -> list[dict[str, Any]]:
    """``POST /hub/answers``'s results in the items' order: the edge's problem for a
    malformed item, the hub's outcome for the others (RK-FLOW-010)."""
    results: list[dict[str, Any]] = []
    for item, outcome in zip(given, decided, strict=True):
        if isinstance(item, m.RecordProblem):
            results.append(_item_problem(item, "linkage_id", "malformed-answer", "RK-FLOW-010"))
        elif outcome is not None:
            results.append(outcome)
    return results


def answer_pairs(given: list[m.AnswerItemIn | m.RecordProblem]) -> list[tuple[str, str] | None]:
    """The well-formed answers of a batch as (linkage id, payload), None for the others."""
    return [None if isinstance(g, m.RecordProblem) else (g.linkage_id, g.payload) for g in given]


def _item_problem(
    problem: m.RecordProblem, ref_name: str, slug: str, requirement: str
) -> dict[str, Any]:
    """A batch item's own problem in the results, in its place (RK-BND-003, RK-FLOW-010)."""
    return {
        ref_name: problem.ref,
        "problem": {
            "type": f"urn:renkei:problem:{slug}",
            "title": slug.replace("-", " ").capitalize(),
            "status": 422,
            "detail": problem.detail,
            "requirement": requirement,
            "errors": [{"loc": list(loc), "msg": msg} for loc, msg in problem.errors],
        },
    }


def create_app(
    *,
    test_mode: bool,
    federation_factory: FederationFactory | None = None,
    agency_nodes: AgencyNodeDirectory | None = None,
) -> FastAPI:
    """Build the application.  ``test_mode`` enables ``/control`` (RK-CTL-001);
    ``agency_nodes`` is where My Portal reaches the agencies' nodes for ⑪/⑫
    applications (RK-PORT-004; ``app.state.agency_nodes``, filled by ``renkei
    serve`` once its nodes listen)."""
    clock = ControllableClock()
    make = federation_factory or Federation
    fed_box = {"fed": make(clock)}
    app = FastAPI(
        title="renkei reference federation",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json" if test_mode else None,
    )
    # RK-ARCH-002: every route authenticates its caller before the body is judged
    # (web.auth_first): the body guard's 415 waits for it
    app.router.route_class = AuthFirstRoute
    install_problem_handlers(app)
    install_body_guard(app, after_authentication=True)

    def log_barrier() -> Any:  # the current federation's: a reset replaces it
        return fed_box["fed"].hub.log_barrier()

    install_commit_barrier(app, log_barrier)

    def fed() -> Federation:
        return fed_box["fed"]

    signals = Signals()  # reads held for an answer (RK-FLOW-009)
    desk = HotDesk(fed, signals)

    @authenticates  # RK-ARCH-002: before the body is read, once a request
    async def caller(request: Request) -> Agency:
        """Who calls (``credentials``, ``identify``)."""
        return identify(fed(), *credentials(request), test_mode=test_mode)

    def role(*allowed: str) -> Any:
        # one dependency (not one on ``caller``): FastAPI resolves it per request
        @authenticates  # RK-ARCH-002: 401/403 before the body is judged
        async def check(request: Request) -> Agency:
            return check_role(await caller(request), allowed)

        return check

    AgencyCaller = Annotated[Agency, Depends(role(*AGENCY_ROLES))]
    LawfulAgency = Annotated[Agency, Depends(role("agency", "municipality"))]
    PrivateBody = Annotated[Agency, Depends(role("private-body"))]
    Municipality = Annotated[Agency, Depends(role("municipality"))]
    Auditor = Annotated[Agency, Depends(role("auditor"))]
    # getLinkageReceipt: the linkage's requester and provider, and the auditor (RK-LOG-009)
    ReceiptCaller = Annotated[
        Agency, Depends(role("agency", "municipality", "private-body", "auditor"))
    ]
    AnyParty = Annotated[Agency, Depends(caller)]

    # -- numbering authority (items 6, 8, 10, 11) ---------------------------
    numbering = APIRouter(
        prefix="/numbering", tags=["numbering-authority"], route_class=AuthFirstRoute
    )

    @numbering.post("/numbers", status_code=201)
    async def issue_number(body: m.IssueNumberIn, _: Municipality) -> dict[str, str]:
        resident = ResidentCode(body.resident_code)
        number = fed().numbering.issue(resident)
        return {"resident_code": resident.value, "number": number.value}

    @numbering.get("/numbers/{resident_code}")
    async def lookup_number(resident_code: str, _: Municipality) -> dict[str, str]:
        record = fed().numbering.lookup(ResidentCode(resident_code))
        return {
            "resident_code": record.resident_code.value,
            "number": record.number.value,
            "status": record.status.value,
        }

    @numbering.post("/numbers/{resident_code}/reissue", status_code=201)
    async def reissue_number(
        resident_code: str, body: m.ReissueIn, _: Municipality
    ) -> dict[str, str]:
        resident = ResidentCode(resident_code)
        old, new = fed().numbering.reissue(resident, ReissueReason(body.reason))
        return {
            "resident_code": resident.value,
            "number": new.value,
            "status": "current",
            "previous_number": old.value,
            "previous_status": "revoked",
        }

    @numbering.post("/resident-code-changes")
    async def resident_code_change(body: m.ResidentCodeChangeIn, _: Municipality) -> dict[str, str]:
        old, new = ResidentCode(body.old_resident_code), ResidentCode(body.new_resident_code)
        number = fed().numbering.change_resident_code(old, new)
        return {
            "old_resident_code": old.value,
            "new_resident_code": new.value,
            "number": number.value,
        }

    @numbering.post("/corporate-numbers", status_code=201)
    async def corporate_number(body: m.CorporateIn, _: Municipality) -> dict[str, str]:
        number = fed().numbering.issue_corporate(body.base12)
        return {"base12": body.base12, "corporate_number": number.value}

    # -- hub (items 13-22) -----------------------------------------------------
    hub = APIRouter(prefix="/hub", tags=["hub"], route_class=AuthFirstRoute)

    # the hot path of a linkage first: routes are matched in order; the work is
    # HotDesk's (services/front/desk.py), which a front of ``renkei serve --workers N``
    # calls in the core the same way
    @hub.post("/queries", status_code=202)
    async def query(body: m.QueryIn, agency: AgencyCaller) -> Response:
        accepted = await desk.query(agency, QueryIn(**body.model_dump()))
        return Response(accepted, 202, media_type=JSON)

    @hub.get("/linkages/{linkage_id}")
    async def linkage_status(
        linkage_id: str,
        agency: AgencyCaller,
        request: Request,
        wait: Annotated[float, Query(ge=0, le=MAX_WAIT_SECONDS)] = 0,
    ) -> Response:
        body, hands_out = await desk.read(agency, linkage_id, wait)
        if not hands_out:  # a poll: nothing in it is acknowledged
            acknowledges_nothing(request)
        return Response(body, media_type=JSON)

    @hub.delete("/linkages/{linkage_id}/answer", status_code=204)
    async def acknowledge_answer(linkage_id: str, agency: AgencyCaller) -> Response:
        desk.acknowledge(agency, linkage_id)
        return Response(status_code=204)

    @hub.get("/deliveries")
    async def deliveries(
        agency: AgencyCaller, limit: Annotated[int, Query(ge=1, le=10_000)] = 1000
    ) -> Response:
        return Response(desk.deliveries(agency, limit), media_type=JSON)

    @hub.post("/answers")
    async def answers(body: m.AnswersIn, agency: AgencyCaller) -> Response:
        """RK-FLOW-010: several answers in one request, each decided as
        ``POST /linkages/{id}/answer`` would decide it, each with its own outcome."""
        given = [m.answer_item(item, position) for position, item in enumerate(body.answers)]
        decided = desk.answers(agency, answer_pairs(given))
        return Response(render({"results": answer_results(given, decided)}), media_type=JSON)

    @hub.post("/bindings")
    async def bind(body: m.BindingsIn, agency: AgencyCaller) -> dict[str, Any]:
        """RK-BND-003: each record read on its own; a malformed one gets its own
        problem in the results and the others are decided."""
        entries = [m.binding_record(r, i) for i, r in enumerate(body.records)]
        good = [e for e in entries if isinstance(e, m.BindingRecordIn)]
        records = [
            (r.record_ref, FourItems(r.name, r.address, r.birth_date, r.sex, _given(r.name_kana)))
            for r in good
        ]
        decided = iter(fed().hub.bind_all(agency, records, [r.consent_id for r in good]))
        return {
            "results": [
                wire.binding_result(next(decided))
                if isinstance(e, m.BindingRecordIn)
                else _item_problem(e, "record_ref", "malformed-binding-record", "RK-BND-003")
                for e in entries
            ]
        }

    @hub.post("/latest-four-items")
    async def latest_four_items(body: m.CurrencyIn, agency: LawfulAgency) -> dict[str, Any]:
        """RK-BND-006: bring bound records' 4 items current by link code."""
        records = [
            (r.record_ref, r.link_code, FourItems(**r.four_items.model_dump()))
            for r in body.records
        ]
        return {
            "results": [
                wire.currency_result(r) for r in fed().hub.latest_four_items(agency, records)
            ]
        }

    @hub.post("/consents", status_code=201)
    async def record_consent(body: m.ConsentIn, agency: PrivateBody) -> dict[str, Any]:
        """RK-BND-004: a private body records a person's consent."""
        given = ConsentIn(
            record_ref=body.record_ref,
            purpose=body.purpose,
            pattern_ids=tuple(body.pattern_ids or ()),
            obtained_at=body.obtained_at.isoformat(),
            method=body.method,
            evidence_sha256=body.evidence_sha256,
        )
        return wire.consent(fed().hub.record_consent(agency, given))

    @hub.delete("/consents/{consent_id}", status_code=204)
    async def withdraw_consent(
        consent_id: Annotated[str, Path(min_length=1, max_length=128)], agency: PrivateBody
    ) -> Response:
        """RK-BND-004: the withdrawal of a consent, recorded by the private body."""
        fed().hub.withdraw_consent(agency, consent_id)
        return Response(status_code=204)

    @hub.post("/rebindings")
    async def rebind(body: m.RebindIn, agency: AgencyCaller) -> dict[str, Any]:
        rebound = fed().hub.rebind(agency, list(body.link_codes))
        return {"results": [wire.rebinding_result(r) for r in rebound]}

    @hub.post("/linkages/{linkage_id}/answer", status_code=202)
    async def answer(linkage_id: str, body: m.AnswerIn, agency: AgencyCaller) -> Response:
        return Response(desk.answer(agency, linkage_id, body.payload), 202, media_type=JSON)

    @hub.get("/linkages/{linkage_id}/receipt")
    async def linkage_receipt(
        linkage_id: str, agency: ReceiptCaller, serial: Annotated[int | None, Query(ge=1)] = None
    ) -> dict[str, Any]:
        return wire.receipt(fed().hub.linkage_receipt(agency, linkage_id, serial))

    @hub.get("/checkpoints/latest")
    async def latest_checkpoint(_: AnyParty) -> dict[str, Any]:
        return wire.checkpoint(fed().hub.latest_checkpoint())

    @hub.get("/checkpoints/consistency")
    async def consistency(
        _: AnyParty,
        first: Annotated[int, Query(ge=1)],
        second: Annotated[int, Query(ge=1)],
    ) -> dict[str, Any]:
        return wire.consistency_proof(fed().hub.consistency(first, second))

    # -- auditor (item 27) -----------------------------------------------------
    auditor = APIRouter(prefix="/auditor", tags=["auditor"], route_class=AuthFirstRoute)

    @auditor.get("/access-logs")
    async def access_logs(
        agency: Auditor,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        entries = [wire.auditor_entry(e) for e in fed().hub.auditor_entries(agency, after, limit)]
        page: dict[str, Any] = {"entries": entries}
        if len(entries) == limit:  # more may follow, past any purged serials
            page["next_after"] = entries[-1]["serial"]
        return page

    @auditor.get("/admin-logs")
    async def admin_logs(
        agency: Auditor,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        return wire.admin_page(fed().hub.admin_entries(agency, after, limit))

    @auditor.get("/admin-logs/consistency")
    async def admin_consistency(
        _: Auditor,
        first: Annotated[int, Query(ge=1)],
        second: Annotated[int, Query(ge=1)],
    ) -> dict[str, Any]:
        return wire.consistency_proof(fed().hub.admin_consistency(first, second))

    @auditor.post("/legal-holds", status_code=201)
    async def place_hold(body: m.LegalHoldIn, agency: Auditor) -> dict[str, Any]:
        sc = body.scope
        scope = HoldScopeIn(
            linkage_ids=tuple(sc.linkage_ids) if sc.linkage_ids is not None else None,
            agency_id=sc.agency_id,
            person_ref=sc.person_ref,
            pattern_id=sc.pattern_id,
            serials=(sc.serials.first, sc.serials.last) if sc.serials is not None else None,
            not_before=sc.from_.astimezone(UTC) if sc.from_ is not None else None,
            before=sc.to.astimezone(UTC) if sc.to is not None else None,
        )
        hold = fed().hub.place_hold(agency, body.reason, body.case_reference, scope)
        return wire.legal_hold(hold)

    @auditor.delete("/legal-holds/{hold_id}", status_code=204)
    async def lift_hold(hold_id: str, agency: Auditor) -> Response:
        fed().hub.lift_hold(agency, hold_id)
        return Response(status_code=204)

    @auditor.get("/discrepancies")
    async def list_discrepancies(
        agency: Auditor,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        """RK-AUD-002: the merge by ① of the hub's log and every agency's share."""
        found = await run_in_threadpool(fed().auditor.discrepancies, agency)
        now = fed().clock.now()
        return page(found, "discrepancies", "discrepancy_id", after=after, limit=limit, now=now)

    @auditor.get("/anomalies")
    async def list_anomalies(
        agency: Auditor, q: Annotated[m.AnomalyQuery, Query()]
    ) -> dict[str, Any]:
        """RK-AUD-003: threshold rules over the merged logs, thresholds per read."""
        if q.operating_hours_end < q.operating_hours_start:
            raise CallerError(
                "validation-error",
                "operating_hours_end is before operating_hours_start",
                "RK-AUD-003",
            )
        rules = AnomalyRules(
            period=timedelta(seconds=q.period_seconds),
            max_queries_per_requester=q.max_queries_per_requester,
            max_queries_per_operator=q.max_queries_per_operator,
            max_queries_per_terminal=q.max_queries_per_terminal,
            max_refusal_rate=q.max_refusal_rate,
            min_queries_for_rate=q.min_queries_for_rate,
            operating_hours=(q.operating_hours_start, q.operating_hours_end),
            max_requesters_per_person=q.max_requesters_per_person,
            max_queries_per_person=q.max_queries_per_person,
            max_expired_per_provider=q.max_expired_per_provider,
        )
        found = await run_in_threadpool(fed().auditor.anomalies, agency, rules)
        now = fed().clock.now()
        return page(found, "anomalies", "anomaly_id", after=q.after, limit=q.limit, now=now)

    for router in (hub, numbering, auditor):  # the hub's, the most asked, matched first
        app.include_router(router)

    # My Portal (items 26, 31): wire, web pages and test-mode control (portal/app.py).
    portal_box = PortalBox(fed, agency_nodes)
    app.state.agency_nodes = portal_box.nodes
    app.state.federation = fed  # the current federation (a reset replaces it)
    app.state.hot_desk = desk  # the core of ``renkei serve --workers N`` answers its fronts with it
    app.include_router(portal_router(fed, portal_box, caller))
    app.include_router(ui_router(fed, portal_box))
    if test_mode:
        app.include_router(
            portal_control_router(fed, portal_box), dependencies=[Depends(operator_only)]
        )

    # The auditor's dashboard (item 27): server-rendered pages, signed-challenge login.
    app.include_router(auditor_ui_router(fed, test_mode=test_mode))

    @app.get("/.well-known/renkei")
    async def discovery() -> dict[str, Any]:
        """RK-WIRE-005: what this deployment implements (RK-WIRE-003: versions)."""
        return discovery_document(test_mode=test_mode)

    if test_mode:
        app.include_router(
            _control_router(fed_box, clock, make, extra_stores=lambda: portal_box().dump())
        )
    else:

        @app.api_route("/control/{rest:path}", methods=["GET", "POST", "PUT", "DELETE"])
        async def control_disabled(rest: str) -> Response:
            raise NotFoundError(
                "control-disabled",
                "the conformance control interface exists only in test mode",
                "RK-CTL-001",
            )

    return app


@authenticates  # RK-ARCH-002: before the body is read
async def operator_only(request: Request) -> None:
    """The control interface is the conformance operator's alone (RK-CTL-007)."""
    require_operator(request.scope)


def _b64_field(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise CallerError("validation-error", "not strict base64", "RK-WIRE-001") from exc


def _control_router(
    fed_box: dict[str, Federation],
    clock: ControllableClock,
    make: FederationFactory,
    extra_stores: Callable[[], dict[str, list[dict[str, Any]]]] = dict,
) -> APIRouter:
    """The conformance control interface (test mode only, RK-CTL-001..)."""
    control = APIRouter(
        prefix="/control",
        tags=["control"],
        dependencies=[Depends(operator_only)],
        route_class=AuthFirstRoute,
    )

    def fed() -> Federation:
        return fed_box["fed"]

    @control.post("/reset", status_code=204)
    async def reset(request: Request, body: m.ResetIn | None = None) -> Response:
        if body is None and (await request.body()).strip():  # a JSON null, not "no body"
            raise CallerError("validation-error", "the body is an object or absent", "RK-CTL-001")
        secret = base64.b64decode(body.root_secret) if body is not None else None
        if secret is not None and not 32 <= len(secret) <= 64:
            raise CallerError(
                "validation-error", "root_secret is base64 of 32 to 64 bytes", "RK-CTL-001"
            )
        clock.set(datetime.now(UTC))
        fed = make(clock)
        if secret is not None:
            fed.keys.seed(secret)  # the kit knows the key material it must never see (RK-KEY-001)
        fed_box["fed"] = fed
        return Response(status_code=204)

    @control.post("/residents")
    async def residents(body: m.ResidentsIn) -> dict[str, int]:
        rows = [
            (
                ResidentCode(r.resident_code),
                FourItems(r.name, r.address, r.birth_date, r.sex, r.name_kana),
                ResidentCode(r.previous_resident_code) if r.previous_resident_code else None,
            )
            for r in body.residents
        ]
        removals = {  # RK-BND-009: residents removed from the registry (除票)
            ResidentCode(r.resident_code).value: Removal(r.removed_reason, r.removed_on)
            for r in body.residents
            if r.removed_reason is not None and r.removed_on is not None
        }
        return {"loaded": fed().load_residents(rows, removals)}

    @control.post("/agencies")
    async def agencies(body: m.AgenciesIn) -> dict[str, dict[str, str]]:
        return {
            "credentials": {
                a.agency_id: fed().register(
                    Agency(a.agency_id, a.name, Role(a.role), a.link_code_unit)
                )
                for a in body.agencies
            }
        }

    @control.put("/patterns")
    async def patterns(body: m.PatternsIn) -> dict[str, int]:
        hub = fed().hub
        if body.document is not None and body.signature is not None:
            data, signature = _b64_field(body.document), _b64_field(body.signature)
            doc = hub.load_pattern_document(data, signature)
            return {"loaded": len(doc.patterns), "version": doc.version}
        try:
            table = [
                LinkagePattern(
                    pattern_id=p.pattern_id,
                    legal_basis=p.legal_basis,
                    purpose=p.purpose,
                    requesters=frozenset(p.requesters),
                    providers=frozenset(p.providers),
                    information_kinds=frozenset(p.information_kinds),
                    valid_from=p.valid_from.astimezone(UTC) if p.valid_from else None,
                    valid_until=p.valid_until.astimezone(UTC) if p.valid_until else None,
                    answer_within_seconds=p.answer_within_seconds,
                    withheld_from_person=p.withheld_from_person,
                    sector=p.sector,
                )
                for p in body.patterns or ()
            ]
        except ValueError as exc:
            raise CallerError("invalid-pattern", str(exc), "RK-PAT-004") from exc
        loaded = hub.load_patterns(table)
        return {"loaded": loaded, "version": hub.pattern_version or 0}

    @control.post("/retention")
    async def retention(body: m.RetentionIn) -> dict[str, Any]:
        policy = fed().hub.set_retention(LogClass(body.log_class), body.years)
        return {"log_class": body.log_class, "years": policy.years_for(LogClass(body.log_class))}

    @control.put("/pattern-trust-anchor")
    async def pattern_anchor(body: m.PatternAnchorIn) -> dict[str, str]:
        key = Ed25519PublicKey.from_public_bytes(bytes.fromhex(body.public_key))
        fed().hub.set_pattern_anchor(key)
        return {"public_key": body.public_key}

    @control.put("/clock")
    async def set_clock(body: m.ClockSetIn) -> dict[str, str]:
        if body.now.tzinfo is None:
            raise CallerError("validation-error", "now must carry a UTC offset", "RK-WIRE-001")
        clock.set(body.now)
        fed().clock_moved(clock)
        fed().hub.expire_due()  # what is due at the new time happens now
        return {"now": clock.now().isoformat()}

    @control.post("/clock/advance")
    async def advance_clock(body: m.ClockAdvanceIn) -> dict[str, str]:
        now = clock.advance(body.seconds)
        fed().clock_moved(clock)
        fed().hub.expire_due()
        return {"now": now.isoformat()}

    @control.post("/id-codes")
    async def id_codes(body: m.IdCodesIn) -> dict[str, dict[str, str]]:
        return {
            "id_codes": {
                rc: fed().hub.disclose_id_code(ResidentCode(rc)).hex() for rc in body.resident_codes
            }
        }

    @control.get("/state")
    async def state() -> dict[str, Any]:
        fed().hub.expire_due()
        return {
            "stores": {**fed().dump(), **extra_stores()},  # + My Portal's (RK-CTL-006)
            "key_versions": fed().keys.describe(),
        }

    @control.post("/keys/rotate")
    async def rotate_keys(body: m.KeyRotationIn) -> dict[str, Any]:
        purpose = KeyPurpose(body.purpose)
        ring = fed().hub.rotate(purpose, timedelta(seconds=body.transition_seconds))
        return {
            "purpose": purpose.value,
            "current_version": ring.current,
            "accepted_versions": list(ring.accepted(instant_of(clock.now()))),
        }

    @control.post("/agency-log-entries", status_code=201)
    async def agency_log_entries(body: m.AgencyLogEntriesIn) -> dict[str, Any]:
        """A simulated agency node's share, for the auditor's merge (RK-AUD-002)."""
        rows = [
            {
                **e.model_dump(exclude={"at"}),
                "at": (e.at or clock.now()).astimezone(UTC).isoformat(),
            }
            for e in body.entries
        ]
        return {"agency_id": body.agency_id, "serials": fed().auditor.plant(body.agency_id, rows)}

    @control.post("/history")
    def history(body: m.HistoryIn) -> dict[str, int]:
        """Completed linkages made by the hub's own flow, for a large log (RK-PERF-002);
        plain ``def``: FastAPI runs it on its thread pool, off the event loop."""
        from .hub.history import plant_history

        return plant_history(fed().hub, **body.model_dump())

    @control.put("/agency-nodes", status_code=204)
    async def agency_node(body: m.AgencyNodeIn) -> Response:
        """Where the auditor pulls an agency's share from (RK-AUD-001)."""
        fed().auditor.register_node(body.agency_id, NodeEndpoint(body.url, body.credential))
        return Response(status_code=204)

    @control.get("/health")
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "test_mode": True, "now": clock.now().isoformat()})

    return control
