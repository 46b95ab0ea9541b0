"""RK-ARCH-002: the hub authenticates the caller of every operation before it judges the
body (issue 17).  Every operation of specs/openapi/renkei.yaml that the hub's application
serves and that carries a body is sent a body that is not JSON, and one of another media
type: a caller without a credential gets 401 `unauthenticated` (a person without a
session too), the control interface refuses another certificate than the conformance
operator's with 403 `control-operator-only`, never 422 or 415 first.  With a credential
the body is judged as before."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from renkei_reference.core.agency import Designation
from renkei_reference.core.errors import PermissionDeniedError
from renkei_reference.services import app as hub_app
from renkei_reference.services.agency_node import AgencyNode, CsvFolderAdapter, HubConnection
from renkei_reference.services.agency_node import control as node_control
from renkei_reference.services.agency_node.app import create_agency_app
from renkei_reference.services.agency_node.control import agency_control_router
from renkei_reference.services.app import create_app
from renkei_reference.services.auditor import app as auditor_app
from renkei_reference.services.clock import ControllableClock

with warnings.catch_warnings():  # starlette's notice about httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

OPENAPI = Path(__file__).resolve().parents[1] / "specs" / "openapi" / "renkei.yaml"
BODIES = {"not-json": ("application/json", b"{x"), "text-plain": ("text/plain", b"x")}


NODE_PATHS = ("/agency/", "/control/agency-node/")
"""The agency node's operations; the hub's application serves the others."""


def _operations(node: bool) -> list[tuple[str, str, Any]]:
    """(method, path, security) of each operation with a body that the agency node
    (``node``) or the hub's application serves."""
    document = yaml.safe_load(OPENAPI.read_text("utf-8"))
    found = []
    for template, item in document["paths"].items():
        if template.startswith(NODE_PATHS) != node:
            continue
        for method, op in item.items():
            if method in ("post", "put", "patch") and "requestBody" in op:
                path = re.sub(r"\{[^}]+\}", "x", template)
                found.append((method.upper(), path, op.get("security")))
    return found


OPERATIONS = _operations(node=False)
AUTHENTICATED = [(m, p) for m, p, security in OPERATIONS if security is None or (
    security and all(s for s in security))]  # fmt: skip
CONTROL = [(m, p) for m, p, _ in OPERATIONS if p.startswith("/control/")]


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(create_app(test_mode=True)) as c:
        yield c


def _problem(reply: Any) -> tuple[int, str]:
    assert reply.headers["content-type"].startswith("application/problem+json"), reply.text
    return reply.status_code, str(reply.json()["type"]).rsplit(":", 1)[-1]


def test_the_operations_are_found() -> None:
    assert ("POST", "/hub/queries") in AUTHENTICATED
    assert ("POST", "/portal/applications") in AUTHENTICATED
    assert ("POST", "/auditor/legal-holds") in AUTHENTICATED
    assert ("POST", "/portal/sessions") not in AUTHENTICATED  # the body says who asks
    assert ("POST", "/control/residents") in CONTROL


@pytest.mark.requirement("RK-ARCH-002")
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), AUTHENTICATED)
def test_no_credential_is_401_before_the_body_is_judged(
    client: TestClient, method: str, path: str, body: str
) -> None:
    _no_credential_is_401(client, method, path, body)


def _no_credential_is_401(client: TestClient, method: str, path: str, body: str) -> None:
    media, content = BODIES[body]
    for authorization in ({}, {"authorization": "Bearer nobody"}):
        reply = client.request(
            method, path, content=content, headers={"content-type": media, **authorization}
        )
        assert _problem(reply) == (401, "unauthenticated"), (path, authorization, reply.text)


@pytest.mark.requirement("RK-ARCH-002", "RK-CTL-007")
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), CONTROL)
def test_control_refuses_another_certificate_before_the_body_is_judged(
    monkeypatch: pytest.MonkeyPatch, method: str, path: str, body: str
) -> None:
    def not_the_operator(scope: Any) -> None:
        raise PermissionDeniedError("control-operator-only", "not the operator", "RK-CTL-007")

    monkeypatch.setattr(hub_app, "require_operator", not_the_operator)
    monkeypatch.setattr(auditor_app, "require_operator", not_the_operator)
    media, content = BODIES[body]
    with TestClient(create_app(test_mode=True)) as c:
        reply = c.request(method, path, content=content, headers={"content-type": media})
    assert _problem(reply) == (403, "control-operator-only"), (path, reply.text)


@pytest.mark.requirement("RK-WIRE-001")
def test_an_authenticated_caller_s_body_is_judged_as_before(client: TestClient) -> None:
    """The operator (plain HTTP in process: no certificate) gets 415 and 422."""
    media, content = BODIES["text-plain"]
    reply = client.post("/control/residents", content=content, headers={"content-type": media})
    assert _problem(reply) == (415, "unsupported-media-type")
    media, content = BODIES["not-json"]
    reply = client.post("/control/residents", content=content, headers={"content-type": media})
    assert _problem(reply) == (422, "validation-error")
    reply = client.post("/portal/challenges", content=b"x", headers={"content-type": "text/plain"})
    assert _problem(reply) == (415, "unsupported-media-type")


# -- the agency node's own application ---------------------------------------------
NODE_OPERATIONS = [(m, p) for m, p, _ in _operations(node=True)]
NODE_AGENCY = [(m, p) for m, p in NODE_OPERATIONS if p.startswith("/agency/")]
NODE_CONTROL = [(m, p) for m, p in NODE_OPERATIONS if p.startswith("/control/")]


@pytest.fixture(scope="module")
def node_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The node's application with its test-mode control interface; nothing behind
    its routes is reached when the caller is refused."""
    node = AgencyNode(
        "city.chiyoda",
        HubConnection(httpx.Client(), "http://testserver/hub", "unused"),
        Designation({}, frozenset()),
        CsvFolderAdapter(tmp_path_factory.mktemp("drop")),
        ControllableClock(),
    )
    app = create_agency_app(
        node,
        {"aud-1": "auditor", "portal-1": "portal"},
        routers=[agency_control_router(node, {})],
    )
    with TestClient(app) as c:
        yield c


def test_the_node_operations_are_found() -> None:
    assert ("POST", "/agency/legal-holds") in NODE_AGENCY
    assert ("POST", "/agency/applications") in NODE_AGENCY
    assert NODE_CONTROL, "the node's control interface takes bodies"


@pytest.mark.requirement("RK-ARCH-002")
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), NODE_AGENCY)
def test_the_agency_node_authenticates_before_the_body_is_judged(
    node_client: TestClient, method: str, path: str, body: str
) -> None:
    """No credential or an unknown one: 401; a credential of another role (the
    portal's for the auditor's operations and the other way round): 403."""
    _no_credential_is_401(node_client, method, path, body)
    media, content = BODIES[body]
    other = "aud-1" if path.startswith("/agency/applications") else "portal-1"
    reply = node_client.request(
        method,
        path,
        content=content,
        headers={"content-type": media, "authorization": f"Bearer {other}"},
    )
    assert _problem(reply) == (403, "forbidden-role"), (path, reply.text)


@pytest.mark.requirement("RK-ARCH-002", "RK-CTL-007")
@pytest.mark.parametrize("body", sorted(BODIES))
@pytest.mark.parametrize(("method", "path"), NODE_CONTROL)
def test_the_node_control_refuses_another_certificate_before_the_body_is_judged(
    monkeypatch: pytest.MonkeyPatch, node_client: TestClient, method: str, path: str, body: str
) -> None:
    def not_the_operator(scope: Any) -> None:
        raise PermissionDeniedError("control-operator-only", "not the operator", "RK-CTL-007")

    monkeypatch.setattr(node_control, "require_operator", not_the_operator)
    media, content = BODIES[body]
    reply = node_client.request(method, path, content=content, headers={"content-type": media})
    assert _problem(reply) == (403, "control-operator-only"), (path, reply.text)


@pytest.mark.requirement("RK-WIRE-001")
def test_the_node_judges_an_authenticated_caller_s_body_as_before(
    node_client: TestClient,
) -> None:
    for media, content, status, problem in (
        ("text/plain", b"x", 415, "unsupported-media-type"),
        ("application/json", b"{x", 422, "validation-error"),
    ):
        reply = node_client.post(
            "/agency/legal-holds",
            content=content,
            headers={"content-type": media, "authorization": "Bearer aud-1"},
        )
        assert _problem(reply) == (status, problem)
