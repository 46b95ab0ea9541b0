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

import pytest
import yaml

from renkei_reference.core.errors import PermissionDeniedError
from renkei_reference.services import app as hub_app
from renkei_reference.services.app import create_app
from renkei_reference.services.auditor import app as auditor_app

with warnings.catch_warnings():  # starlette's notice about httpx2; httpx is what we have
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

OPENAPI = Path(__file__).resolve().parents[1] / "specs" / "openapi" / "renkei.yaml"
BODIES = {"not-json": ("application/json", b"{x"), "text-plain": ("text/plain", b"x")}


def _operations() -> list[tuple[str, str, Any]]:
    """(method, path, security) of each operation with a body the hub's application serves."""
    document = yaml.safe_load(OPENAPI.read_text("utf-8"))
    found = []
    for template, item in document["paths"].items():
        if template.startswith(("/agency/", "/control/agency-node/")):
            continue  # the agency node's
        for method, op in item.items():
            if method in ("post", "put", "patch") and "requestBody" in op:
                path = re.sub(r"\{[^}]+\}", "x", template)
                found.append((method.upper(), path, op.get("security")))
    return found


OPERATIONS = _operations()
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
