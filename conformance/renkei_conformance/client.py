"""The kit's side of the wire: a thin client and the kit's simulated parties.

The kit plays the agencies (requester and provider), the municipality that
asks for Numbers and the auditor, exactly as a counterpart of the target
would (tuf-conformance's simulator is the model).  Everything it learns, it
learns from responses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from .coherence import NOT_JSON, Coherence
from .openapi import WireContract, load_contract
from .target import Target

__all__ = [
    "PER_BATCH_ITEM",
    "PROBLEM_PREFIX",
    "Exchange",
    "Reply",
    "Wire",
    "WireError",
    "batch_size",
    "request_timeout",
]

PROBLEM_PREFIX = "urn:renkei:problem:"

PER_BATCH_ITEM = 0.02
"""Seconds the kit allows a target for each item of a batch request, on top of its
timeout for one request (``Target.timeout``, 10 s): loading
10,000 residents or binding 5,000 records is a batch the conformance tests ask for
(the statistics tests), and a correct target on a loaded CI machine may take longer
than one request's allowance for it.  A target the kit gave up on keeps working on
the abandoned request, so its next requests time out in turn: one slow batch would
fail the tests after it."""


def batch_size(body: Any) -> int:
    """The number of items of a batch request body: the longest list among the top
    members of a JSON object (``residents``, ``records``, ``resident_codes``); 0
    for any other body."""
    if not isinstance(body, dict):
        return 0
    return max((len(v) for v in body.values() if isinstance(v, list)), default=0)


def request_timeout(target_timeout: float, body: Any) -> httpx.Timeout:
    """The target's timeout for connecting, writing and waiting for a connection;
    for reading the response, that plus ``PER_BATCH_ITEM`` for each item of a batch."""
    return httpx.Timeout(target_timeout, read=target_timeout + PER_BATCH_ITEM * batch_size(body))


class WireError(AssertionError):
    """A response the protocol does not allow (an assertion failure of the kit)."""

    requirement: str | None = None
    """The requirement the failing check verifies when it is not the test's own: the
    wire contract every response is held to (RK-WIRE-001 for an error response,
    RK-WIRE-002 otherwise); the report attributes the failure to it (root cause)."""
    request: str = ""
    """The request whose response failed the check (``METHOD URL``)."""


@dataclass(frozen=True)
class Reply:
    method: str
    url: str
    status: int
    content_type: str
    body: Any
    text: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def is_problem(self) -> bool:
        return self.content_type.startswith("application/problem+json") and isinstance(
            self.body, dict
        )

    @property
    def problem(self) -> str | None:
        """The problem slug (``urn:renkei:problem:<slug>``) or None."""
        if not self.is_problem:
            return None
        kind = str(self.body.get("type", ""))
        return kind[len(PROBLEM_PREFIX) :] if kind.startswith(PROBLEM_PREFIX) else kind

    def expect(self, *statuses: int) -> Reply:
        if self.status not in statuses:
            raise WireError(
                f"{self.method} {self.url}: expected HTTP {' or '.join(map(str, statuses))}, "
                f"got {self.status}: {self.text[:400]}"
            )
        return self

    def expect_problem(self, slugs: set[str] | str, statuses: set[int] | int) -> Reply:
        """Assert an RFC 9457 problem with one of the allowed slugs and statuses."""
        slugs = {slugs} if isinstance(slugs, str) else slugs
        statuses = {statuses} if isinstance(statuses, int) else statuses
        if self.status not in statuses or not self.is_problem or self.problem not in slugs:
            raise WireError(
                f"{self.method} {self.url}: expected problem {sorted(slugs)} with HTTP "
                f"{sorted(statuses)}, got HTTP {self.status} {self.content_type!r}: "
                f"{self.text[:400]}"
            )
        return self

    def __getitem__(self, key: str) -> Any:
        if not isinstance(self.body, dict) or key not in self.body:
            raise WireError(
                f"{self.method} {self.url}: response has no field {key!r}: {self.text[:400]}"
            )
        return self.body[key]


@dataclass(frozen=True)
class Exchange:
    """One request and its response, as the canary sweep reads them: who asked
    (the credential, or the agency node called), what it sent, what came back."""

    path: str  # the protocol path (/hub/queries, /agency/…)
    token: str | None
    node: str | None  # the agency whose node was called
    sent: str  # the request's query string and body, as text
    reply: Reply


@dataclass
class Wire:
    """One client for all parties of a target."""

    target: Target
    http: httpx.Client = field(init=False)
    transcript: list[Reply] = field(default_factory=list)
    contract: WireContract | None = field(default=None)
    check_responses: bool = True
    exchanges: list[Exchange] = field(default_factory=list)
    """Every exchange since the last ``take_exchanges`` (the canary sweep's input)."""
    record: bool = True
    coherence: Coherence = field(default_factory=Coherence)
    """Checks every response passes whatever the test (renkei_conformance.coherence)."""
    noise: dict[str, str] = field(default_factory=dict)
    """Headers the interface does not define, sent on every request while set (the
    noise pass of CT-WLD-005: they must change no decision)."""

    def __post_init__(self) -> None:
        self.http = self.target.client()
        if self.contract is None and self.check_responses:
            self.contract = load_contract()

    def close(self) -> None:
        self.http.close()

    def presenting(self, identity: tuple[Path, Path] | None) -> Wire:
        """The same target reached over a connection that presents the client
        certificate ``identity`` (or none): mutual-TLS targets only (RK-ARCH-003).
        Close it after use."""
        other = Wire(
            self.target,
            contract=self.contract,
            check_responses=self.check_responses,
            exchanges=self.exchanges,
        )
        other.http.close()
        other.http = self.target.client_with(identity)
        return other

    def take_exchanges(self) -> list[Exchange]:
        """The exchanges recorded so far; the record starts afresh."""
        taken = list(self.exchanges)
        self.exchanges.clear()
        return taken

    def url(self, party: str, path: str) -> str:
        base = self.target.parties.get(party)
        if base is None:
            raise WireError(f"the target declares no {party!r} party")
        return base.rstrip("/") + path

    def origins(self) -> list[str]:
        """The distinct origins (scheme://host:port) of the target's parties."""
        out: list[str] = []
        for base in [*self.target.parties.values(), *self.target.agency_nodes.values()]:
            url = httpx.URL(base)
            origin = str(url.copy_with(path="/", query=None, fragment=None)).rstrip("/")
            if origin not in out:
                out.append(origin)
        return out

    def discovery(self, origin: str) -> Reply:
        """GET ``<origin>/.well-known/renkei`` (RK-WIRE-005), checked like any reply."""
        return self._request("GET", origin + "/.well-known/renkei", "/.well-known/renkei")

    def document(self, origin: str, path: str) -> Reply:
        """GET a document the target serves outside the protocol (e.g. its
        OpenAPI document at ``/openapi.json``), recorded like any reply."""
        return self._request("GET", origin + path, path)

    def call(
        self,
        method: str,
        party: str,
        path: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        return self._request(
            method,
            self.url(party, path),
            f"/{party}{path}",
            json_body=json_body,
            token=token,
            params=params,
            content=content,
            headers=headers,
        )

    def _request(
        self,
        method: str,
        url: str,
        contract_path: str,
        *,
        json_body: Any = None,
        token: str | None = None,
        params: dict[str, Any] | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        node: str | None = None,
    ) -> Reply:
        hdrs = {**self.noise, **(headers or {})}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if content is not None:
            resp = self.http.request(method, url, content=content, headers=hdrs, params=params)
        else:
            resp = self.http.request(
                method,
                url,
                json=json_body,
                headers=hdrs,
                params=params,
                timeout=request_timeout(self.target.timeout, json_body),
            )
        ctype = resp.headers.get("content-type", "")
        body: Any = None
        if resp.content:
            try:
                body = json.loads(resp.content)
            except ValueError:
                body = None
        reply = Reply(
            method, url, resp.status_code, ctype, body, resp.text, tuple(resp.headers.items())
        )
        self.transcript.append(reply)
        if len(self.transcript) > 200:
            del self.transcript[:100]
        sent = (
            ""
            if not self.record
            else str(resp.request.url) + "\n" + resp.request.content.decode("utf-8", "replace")
        )
        if self.record:
            self.exchanges.append(Exchange(contract_path, token, node, sent, reply))
        if self.contract is not None and self.check_responses:
            departures = self.contract.check(
                method, contract_path, reply.status, ctype, body, headers=resp.headers.keys()
            )

            if departures:
                # an error that is no problem document breaks RK-WIRE-001; any other
                # departure (status, members, headers) the interface itself, RK-WIRE-002
                # (as does a problem that departs only from its registry entry, problems.yaml)
                not_a_problem = reply.status >= 400 and not reply.is_problem
                unregistered = all("problems.yaml" in d for d in departures)
                rid = "RK-WIRE-001" if not_a_problem or unregistered else "RK-WIRE-002"
                error = WireError(
                    f"{method} {url}: the response departs from specs/openapi/renkei.yaml "
                    f"({rid}):\n  " + "\n  ".join(departures)
                )
                error.requirement, error.request = rid, f"{method} {url}"
                raise error
            op = self.contract.find(method, contract_path.split("?", 1)[0])
            document: Any = json_body
            if content is not None:
                try:
                    document = json.loads(content)
                except ValueError:
                    document = NOT_JSON
            incoherent = self.coherence.departures(op, contract_path, body, document, params)
            if incoherent:
                error = WireError(
                    f"{method} {url}: the response contradicts itself or the request:\n  "
                    + "\n  ".join(f"{d} ({rid})" for rid, d in incoherent)
                )
                error.requirement, error.request = incoherent[0][0], f"{method} {url}"
                raise error
        return reply

    def call_node(
        self,
        agency_id: str,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        params: dict[str, Any] | None = None,
        token: str | None = None,
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """Call the agency node of ``agency_id`` (target file ``agency_nodes``);
        ``path`` is the protocol path (``/agency/…``, ``/control/agency-node/…``)."""
        base = self.target.agency_nodes.get(agency_id)
        if base is None:
            raise WireError(f"the target declares no agency node {agency_id!r}")
        return self._request(
            method,
            base + path,
            path,
            json_body=json_body,
            params=params,
            node=agency_id,
            token=token,
            content=content,
            headers=headers,
        )

    # -- conveniences, one per wire operation used by the suite -------------
    def control(self, method: str, path: str, body: Any = None) -> Reply:
        return self.call(method, "control", path, json_body=body)
