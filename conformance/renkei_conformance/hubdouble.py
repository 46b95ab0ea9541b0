"""The kit's simulated hub: what an agency node under test talks to (issue 15, item 3).

A vendor who builds only an agency node (中間サーバー) has no hub of its own.  The
kit then plays the hub: a small hub double, written from specs/openapi/renkei.yaml
alone (never from an implementation), serving on loopback the operations a node
uses — ``bindRecords``, ``submitQuery``, ``pullDeliveries``, ``answerLinkage``,
``answerLinkages`` and ``getLinkage`` — and the node is pointed at it (``pointAgencyNodeAtHub``,
RK-CTL-008, or the target file's ``hub_hook`` command).

It is strict where the node is judged: every request body is checked against its
operation's schema as a closed document, and one that departs is refused 422 and
recorded in ``departures``; a query is decided against the patterns the kit gave
it, in the order submitQuery lists; answers are handed out until acknowledged, and
``answerLinkages`` decides each answer as ``answerLinkage``; a read is never held
(``wait`` is answered at once, which RK-FLOW-009 allows).  Every request is
recorded (``seen``) so a test can check what the node sent: link codes only, the 4
items in the wire's forms.  Its responses are those the document declares (its
own tests check them with the kit's wire contract), with receipts that verify
(RFC 9162 inclusion proofs under a signed C2SP checkpoint of its own key).

Callers are identified by their client certificate (``urn:renkei:agency:<id>``,
RK-ARCH-003) over mutual TLS, or by a bearer credential the kit handed out
(``credential_for``) over plain HTTP.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import ipaddress
import json
import secrets
import ssl
import tempfile
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID

from .openapi import WireContract, load_contract
from .tlog import _key_id, leaf_hash, merkle_root

__all__ = ["DoubleLinkage", "HubDouble", "Seen", "inclusion_proof"]

AGENCY_URI = "urn:renkei:agency:"
ORIGIN = "renkei-kit-hub-double"
PREFIX = "/hub"


@dataclass(frozen=True)
class Seen:
    """One request the double received: who sent it, what, and the status it got."""

    agency: str | None
    method: str
    path: str
    body: Any
    status: int
    reply: Any = None


@dataclass
class DoubleLinkage:
    linkage_id: str
    requester: str
    provider: str
    pattern_id: str
    information_kind: str
    resident_code: str
    deadline: dt.datetime
    serial: int
    state: str = "pending"  # pending | delivered | answered | closed | expired
    answer: str | None = None  # the payload in transit (base64), until relayed
    received: str | None = None  # the payload as relayed (what the kit's requester got)
    provided: int = 0  # the serial of its provided entry, once handed out
    acknowledged: bool = False  # the requester acknowledged the answer (RK-FLOW-002)


@dataclass
class HubDouble:
    """The simulated hub; ``start()`` it, point the node at ``url``, ``stop()`` it.

    ``residents``: resident code → the 4 items in the wire's forms (and
    ``name_kana``); ``patterns``: the pattern table, as ``ControlPattern``s.
    ``client_ca``: the CA that issued the node's client certificate (mutual TLS);
    without it the double serves plain HTTP to bearer credentials."""

    residents: dict[str, dict[str, str]]
    patterns: list[dict[str, Any]]
    client_ca: Path | None = None
    answer_within: float = 30.0
    contract: WireContract = field(default_factory=load_contract)
    seen: list[Seen] = field(default_factory=list)
    departures: list[str] = field(default_factory=list)
    linkages: dict[str, DoubleLinkage] = field(default_factory=dict)
    refuse_queries_with: str | None = None
    """When set, every query that passes the schema is refused with this pattern
    decision slug (403, logged with its serial), as a hub whose pattern table
    refuses it would (the kit checks the node relays the hub's status)."""

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._codes: dict[tuple[str, str], str] = {}  # (agency, resident code) -> link code
        self._people: dict[str, tuple[str, str]] = {}  # link code -> (agency, resident code)
        self._credentials: dict[str, str] = {}  # bearer credential -> agency
        self._leaves: list[bytes] = []
        # serials start past a random base: a node keeps the serials of every hub it
        # met, in this run and in earlier ones.  2^43 bases (serials stay below 2^53,
        # exact in any JSON reader): two doubles share one with probability 1.1e-13,
        # not 1e-6 as with 10^6 bases — ~10 doubles a run, over a node's life of
        # thousands of runs, made that a chance failure of CT-AGN-010's look-up by serial
        self._base = 1_000 * (1 + secrets.randbelow(2**43))
        self._request_ids: set[tuple[str, str]] = set()
        self._key = Ed25519PrivateKey.generate()
        self.ca_pem: str | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- the kit's side ------------------------------------------------------------
    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the hub double is not started")
        scheme = "https" if self.client_ca is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}{PREFIX}"

    @property
    def verifier_key(self) -> str:
        """The C2SP verifier key of the double's checkpoints."""
        raw = b"\x01" + self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return f"{ORIGIN}+{_key_id(ORIGIN, raw[1:]).hex()}+{base64.b64encode(raw).decode()}"

    def credential_for(self, agency: str) -> str:
        """A bearer credential standing for ``agency`` (plain HTTP only)."""
        token = secrets.token_urlsafe(24)
        self._credentials[token] = agency
        return token

    def link_code(self, agency: str, resident_code: str) -> str:
        """The person's link code at ``agency`` (45 bytes: key version 1 ‖ 44 random)."""
        with self._lock:
            key = (agency, resident_code)
            if key not in self._codes:
                raw = b"\x01" + secrets.token_bytes(44)
                code = base64.urlsafe_b64encode(raw).decode().rstrip("=")
                self._codes[key] = code
                self._people[code] = key
            return self._codes[key]

    def ask(
        self, requester: str, provider: str, pattern_id: str, kind: str, resident_code: str
    ) -> DoubleLinkage:
        """The kit's requester asks ``provider`` about a person: a pending linkage
        the provider's node will be delivered (as if approved by ``submitQuery``)."""
        self.link_code(provider, resident_code)
        with self._lock:
            serial = self._append({"event": "query", "requester": requester,
                                   "provider": provider, "pattern_id": pattern_id,
                                   "information_kind": kind, "outcome": "approved"})  # fmt: skip
            linkage = DoubleLinkage(
                f"lk-kit-{secrets.token_hex(6)}",
                requester,
                provider,
                pattern_id,
                kind,
                resident_code,
                _now() + dt.timedelta(seconds=self.answer_within),
                serial,
            )
            self.linkages[linkage.linkage_id] = linkage
        return linkage

    def sent_by(self, agency: str, method: str, path: str) -> list[Seen]:
        return [s for s in self.seen if s.agency == agency and (s.method, s.path) == (method, path)]

    def start(self) -> HubDouble:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        server.daemon_threads = True
        if self.client_ca is not None:
            server.socket = self._tls_context().wrap_socket(server.socket, server_side=True)
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, name="hub double", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _tls_context(self) -> ssl.SSLContext:
        """A server certificate for 127.0.0.1 from a CA made for this run (its PEM is
        ``ca_pem``, handed to the node); client certificates verified against the
        target's CA."""
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "renkei kit hub double CA")])
        now = _now()
        start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=1)
        ca = (
            x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
            .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        key = ec.generate_private_key(ec.SECP256R1())
        san = x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
        )
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start).not_valid_after(end)
            .add_extension(san, critical=False)
            .sign(ca_key, hashes.SHA256())
        )  # fmt: skip
        self.ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(cafile=str(self.client_ca))
        with tempfile.TemporaryDirectory(prefix="renkei-hub-double-") as tmp:
            pem = Path(tmp) / "server.pem"
            pem.write_bytes(
                cert.public_bytes(serialization.Encoding.PEM)
                + key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            ctx.load_cert_chain(str(pem))
        return ctx

    # -- the log: serials and receipts (RK-LOG-004, RK-LOG-005) -----------------------
    def _append(self, entry: dict[str, Any]) -> int:
        serial = self._base + len(self._leaves) + 1
        leaf = {"serial": serial, "at": _now().isoformat(), **entry}
        self._leaves.append(json.dumps(leaf, sort_keys=True, separators=(",", ":")).encode())
        return serial

    def _receipt(self, serial: int, linkage_id: str | None) -> dict[str, Any]:
        digests = [leaf_hash(x) for x in self._leaves]
        size, root = len(digests), merkle_root(digests)
        body = f"{ORIGIN}\n{size}\n{base64.b64encode(root).decode()}\n"
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        sig = base64.b64encode(_key_id(ORIGIN, raw) + self._key.sign(body.encode())).decode()
        index = serial - self._base - 1
        leaf = self._leaves[index]
        return {
            "linkage_id": linkage_id,
            "serial": serial,
            "leaf_index": index,
            "leaf": base64.b64encode(leaf).decode(),
            "leaf_hash": base64.b64encode(leaf_hash(leaf)).decode(),
            "tree_size": size,
            "inclusion_proof": [
                base64.b64encode(h).decode() for h in inclusion_proof(digests, index)
            ],
            "checkpoint": f"{body}\n\u2014 {ORIGIN} {sig}\n",
        }

    # -- the operations -----------------------------------------------------------
    def handle(self, agency: str | None, method: str, path: str, body: Any) -> tuple[int, Any]:
        """One request → (status, JSON body); a problem body is a dict with ``type``."""
        if agency is None:
            return _problem(401, "unauthenticated", "no client certificate or credential "
                            "the hub knows", "RK-ARCH-002")  # fmt: skip
        route = (method, path)
        if route == ("POST", "/bindings"):
            return self._bindings(agency, body)
        if route == ("POST", "/queries"):
            return self._query(agency, body)
        if route == ("GET", "/deliveries"):
            return self._deliveries(agency)
        if route == ("POST", "/answers"):
            return self._answers(agency, body)
        parts = path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "linkages" and method == "GET":
            return self._read(agency, parts[1])
        if len(parts) == 3 and parts[0] == "linkages" and parts[2] == "answer" and method == "POST":
            return self._answer(agency, parts[1], body)
        if (
            len(parts) == 3
            and parts[0] == "linkages"
            and parts[2] == "answer"
            and method == "DELETE"
        ):
            return self._acknowledge(agency, parts[1])
        return _problem(404, "not-found", f"the kit's hub serves no {method} {path}", "RK-WIRE-001")

    def _refuse_body(self, method: str, path: str, body: Any) -> tuple[int, Any] | None:
        departures = self.contract.check_request(method, PREFIX + path, body)
        if not departures:
            return None
        self.departures += departures
        return _problem(422, "validation-error", "; ".join(departures)[:500], "RK-WIRE-002")

    def _bindings(self, agency: str, body: Any) -> tuple[int, Any]:
        records = body.get("records") if isinstance(body, dict) else None
        if (
            not isinstance(records, list)
            or not 1 <= len(records) <= 10_000
            or set(body) != {"records"}
        ):
            return _problem(422, "validation-error", "a body {records: [1..10000]}", "RK-BND-003")
        schema = self.contract.document["components"]["schemas"]["BindingRecord"]
        results = []
        for record in records:
            valid = self.contract.validator(schema).is_valid(record) and not (
                self.contract.undeclared(schema, record, "")
            )
            ref = record.get("record_ref") if isinstance(record, dict) else None
            if not valid:
                results.append({"record_ref": ref if isinstance(ref, str) and ref else None,
                                "problem": _problem(422, "malformed-binding-record",
                                                    "the record departs from BindingRecord",
                                                    "RK-BND-003")[1]})  # fmt: skip
                continue
            results.append(self._decide(agency, record))
        return 200, {"results": results}

    def _decide(self, agency: str, record: dict[str, Any]) -> dict[str, Any]:
        """RK-BND-001/002 as the double does it: all 4 items equal one resident's."""
        items = ("name", "address", "birth_date", "sex")
        missing = [f"{k}-missing" for k in items if not str(record.get(k) or "").strip()]
        if missing:
            return {"record_ref": record["record_ref"], "decision": "review", "reasons": missing,
                    "link_code": None}  # fmt: skip
        matches = [
            code
            for code, person in self.residents.items()
            if all(str(record[k]).strip() == person[k] for k in items)
        ]
        if len(matches) != 1:
            return {"record_ref": record["record_ref"], "decision": "rejected", "reasons": [],
                    "link_code": None}  # fmt: skip
        return {
            "record_ref": record["record_ref"],
            "decision": "bound",
            "link_code": self.link_code(agency, matches[0]),
            "reasons": [],
        }

    def _query(self, agency: str, body: Any) -> tuple[int, Any]:
        refused = self._refuse_body("POST", "/queries", body)
        if refused is not None:
            return refused
        with self._lock:
            if (agency, body["request_id"]) in self._request_ids:
                return _problem(409, "duplicate-request-id", "request_id used before",
                                "RK-FLOW-001")  # fmt: skip
            self._request_ids.add((agency, body["request_id"]))
            slug = self.refuse_queries_with or self._pattern_decision(agency, body)
            entry = {"event": "query", "requester": body["requester"],
                     "provider": body["provider"], "pattern_id": body["pattern_id"],
                     "information_kind": body["information_kind"]}  # fmt: skip
            person = self._people.get(body["link_code"])
            if slug is None and (person is None or person[0] != agency):
                slug = "link-code-not-valid-for-agency"
            if slug is not None or person is None:
                slug = slug or "link-code-not-valid-for-agency"
                serial = self._append({**entry, "outcome": "refused", "reason": slug})
                status = 422 if slug == "link-code-not-valid-for-agency" else 403
                problem = _problem(status, slug, "refused by the kit's hub", "RK-PAT-002")[1]
                return status, {**problem, "serial": serial, "receipt": self._receipt(serial, None)}
            serial = self._append({**entry, "outcome": "approved"})
            linkage = DoubleLinkage(
                f"lk-kit-{secrets.token_hex(6)}", agency, body["provider"], body["pattern_id"],
                body["information_kind"], person[1],
                _now() + dt.timedelta(seconds=self.answer_within), serial,
            )  # fmt: skip
            self.linkages[linkage.linkage_id] = linkage
            return 202, {
                "linkage_id": linkage.linkage_id,
                "state": "pending",
                "deadline": linkage.deadline.isoformat(),
                "serial": serial,
                "receipt": self._receipt(serial, linkage.linkage_id),
            }

    def _pattern_decision(self, agency: str, body: dict[str, Any]) -> str | None:
        """RK-PAT-002's refusals, in submitQuery's order."""
        if body["requester"] != agency:
            return "identity-mismatch"
        pattern = next((p for p in self.patterns if p["pattern_id"] == body["pattern_id"]), None)
        if pattern is None:
            return "unknown-pattern"
        if agency not in pattern["requesters"]:
            return "requester-not-designated"
        if body["provider"] not in pattern["providers"]:
            return "provider-not-designated"
        if body["information_kind"] not in pattern["information_kinds"]:
            return "information-kind-not-covered"
        return None

    def _deliveries(self, agency: str) -> tuple[int, Any]:
        now, out = _now(), []
        with self._lock:
            for lk in self.linkages.values():
                if lk.provider != agency or lk.state != "pending":
                    continue
                if now >= lk.deadline:
                    lk.state = "expired"
                    continue
                lk.state = "delivered"
                out.append({
                    "linkage_id": lk.linkage_id, "requester": lk.requester,
                    "pattern_id": lk.pattern_id, "information_kind": lk.information_kind,
                    "link_code": self._codes[(agency, lk.resident_code)],
                    "deadline": lk.deadline.isoformat(), "serial": lk.serial,
                })  # fmt: skip
        return 200, {"deliveries": out}

    def _answer(self, agency: str, linkage_id: str, body: Any) -> tuple[int, Any]:
        refused = self._refuse_body("POST", f"/linkages/{linkage_id}/answer", body)
        if refused is None:
            try:
                base64.b64decode(body["payload"], validate=True)
            except (binascii.Error, ValueError):
                refused = _problem(422, "validation-error", "payload is not base64", "RK-WIRE-002")
        if refused is not None:
            return refused
        with self._lock:
            lk = self.linkages.get(linkage_id)
            if lk is None or lk.provider != agency:
                return _problem(404, "unknown-linkage", "no such linkage for you", "RK-FLOW-003")
            if lk.state in ("pending", "delivered") and _now() >= lk.deadline:
                lk.state = "expired"
                self._append({"event": "expired", "linkage_id": linkage_id})
                return _problem(409, "answer-after-deadline", "too late", "RK-FLOW-004")
            if lk.state not in ("pending", "delivered"):
                return _problem(409, "linkage-state-conflict", f"the linkage is {lk.state}",
                                "RK-FLOW-003")  # fmt: skip
            lk.state, lk.answer = "answered", body["payload"]
            lk.received = lk.answer
            return 202, {"linkage_id": linkage_id, "state": "answered"}

    def _answers(self, agency: str, body: Any) -> tuple[int, Any]:
        """Several answers, each decided as ``_answer`` alone (RK-FLOW-010)."""
        answers = body.get("answers") if isinstance(body, dict) else None
        if (
            not isinstance(answers, list)
            or not 1 <= len(answers) <= 1_000
            or set(body) != {"answers"}
        ):
            return _problem(422, "validation-error", "a body {answers: [1..1000]}", "RK-FLOW-010")
        schema = self.contract.document["components"]["schemas"]["AnswerItem"]
        results: list[dict[str, Any]] = []
        for item in answers:
            ref = item.get("linkage_id") if isinstance(item, dict) else None
            ref = ref if isinstance(ref, str) and 0 < len(ref) <= 256 else None
            valid = self.contract.validator(schema).is_valid(item) and not (
                self.contract.undeclared(schema, item, "")
            )
            status, out = (
                self._answer(agency, str(ref), {"payload": item["payload"]})
                if valid and ref is not None
                else _problem(
                    422, "malformed-answer", "the answer departs from AnswerItem", "RK-FLOW-010"
                )
            )
            if status == 202:
                results.append(out)
            else:
                results.append({"linkage_id": ref, "problem": out})
        return 200, {"results": results}

    def _read(self, agency: str, linkage_id: str) -> tuple[int, Any]:
        with self._lock:
            lk = self.linkages.get(linkage_id)
            if lk is None or lk.requester != agency:
                return _problem(404, "unknown-linkage", "no such linkage for you", "RK-FLOW-002")
            view: dict[str, Any] = {"linkage_id": linkage_id, "state": lk.state,
                                    "deadline": lk.deadline.isoformat()}  # fmt: skip
            if lk.state == "answered" and lk.answer is not None:
                lk.provided = self._append({"event": "provided", "linkage_id": linkage_id})
                lk.state = "closed"
            if lk.state == "closed" and lk.answer is not None:  # until acknowledged
                view.update(state="closed", answer={"payload": lk.answer},
                            receipt=self._receipt(lk.provided, linkage_id))  # fmt: skip
            return 200, view

    def _acknowledge(self, agency: str, linkage_id: str) -> tuple[int, Any]:
        """The requester has the answer: erased (RK-FLOW-002)."""
        with self._lock:
            lk = self.linkages.get(linkage_id)
            if lk is None or lk.requester != agency or lk.state != "closed" or lk.answer is None:
                return _problem(404, "unknown-linkage", "no answer handed out to you",
                                "RK-FLOW-002")  # fmt: skip
            lk.answer = None
            lk.acknowledged = True
            return 204, None


def inclusion_proof(digests: list[bytes], index: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n]), leaf to root."""
    n = len(digests)
    if n <= 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if index < k:
        return [*inclusion_proof(digests[:k], index), merkle_root(digests[k:])]
    return [*inclusion_proof(digests[k:], index - k), merkle_root(digests[:k])]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _problem(status: int, slug: str, detail: str, requirement: str) -> tuple[int, dict[str, Any]]:
    title = slug.replace("-", " ").capitalize()
    return status, {
        "type": f"urn:renkei:problem:{slug}",
        "title": title,
        "status": status,
        "detail": detail,
        "requirement": requirement,
    }


def _handler(double: HubDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            return None

        def _caller(self) -> str | None:
            getpeercert = getattr(self.connection, "getpeercert", None)
            cert = getpeercert() if getpeercert is not None else None
            if cert:
                uris = [v for k, v in cert.get("subjectAltName", ()) if k == "URI"]
                agencies = [u[len(AGENCY_URI) :] for u in uris if u.startswith(AGENCY_URI)]
                return agencies[0] if len(agencies) == 1 else None
            token = self.headers.get("authorization", "").removeprefix("Bearer ").strip()
            return double._credentials.get(token)

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body: Any = None
            path = self.path.split("?", 1)[0]
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"\x00not json": raw[:200].decode("utf-8", "replace")}
            agency = self._caller()
            if not path.startswith(PREFIX + "/"):
                status, reply = _problem(404, "not-found", f"no {path} here", "RK-WIRE-001")
            else:
                status, reply = double.handle(agency, method, path[len(PREFIX) :], body)
            double.seen.append(Seen(agency, method, path[len(PREFIX) :], body, status, reply))
            data = b"" if status == 204 else json.dumps(reply, ensure_ascii=False).encode()
            self.send_response(status)
            ctype = "application/problem+json" if status >= 400 else "application/json"
            self.send_header("content-type", ctype)
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def do_PUT(self) -> None:
            self._serve("PUT")

        def do_DELETE(self) -> None:
            self._serve("DELETE")

    return Handler
