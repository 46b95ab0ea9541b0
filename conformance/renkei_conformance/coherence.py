"""Checks every response must pass whatever the test: it agrees with itself and
with the request it answers.

* **Receipts verify** (RK-LOG-004): every ``receipt`` member anywhere in a body
  (a query's, a linkage's, a refusal's) is checked end to end — leaf hash, the
  checkpoint's size, the inclusion proof up to the checkpoint's root, the leaf's
  serial — with the log's verifier key when the kit has seen one (any
  ``verifier_key`` of getLatestCheckpoint), else against the checkpoint's root
  as written; its ``linkage_id`` is the enclosing body's.
* **A response is about what was asked** (RK-WIRE-002): a top-level member named
  like a path parameter of the request (``/hub/linkages/{linkage_id}`` →
  ``linkage_id``) holds that parameter's value; one named like a member of the
  request body repeats it (identifiers and codes, lists of them); ``results``
  answer the request's list one per item, in order.
* **Lists are in the interface's order** (RK-WIRE-002): the listings the
  interface orders oldest first are, list no entry twice, and hold only serials
  above the ``after`` asked for.
* **A linkage is the query that made it** (RK-FLOW-001, RK-FLOW-004): a delivery
  of a linkage the kit's query made names that query's requester, pattern,
  information kind, serial ① and deadline, and a read of it states the same
  deadline — whichever test pulls or reads it.

The Wire runs them on every response (renkei_conformance.client), so a receipt
with a wrong proof, or a linkage answered for another one, fails the test that
received it, whatever that test is about.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from .badinput import merged_schema
from .openapi import Operation, load_contract, registry_departures
from .tlog import (
    Note,
    VerificationError,
    b64,
    leaf_hash,
    open_checkpoint,
    verify_inclusion,
)

__all__ = ["NOT_JSON", "Coherence", "failure_listed", "validation_departures"]


def _same_instant(a: Any, b: Any) -> bool:
    """Two timestamps name the same instant; one that does not parse (the schema's
    check reports it) or is missing is not judged here."""
    try:
        return datetime.fromisoformat(str(a).replace("Z", "+00:00")) == datetime.fromisoformat(
            str(b).replace("Z", "+00:00")
        )
    except ValueError:
        return True


def _unsigned(note: str) -> Note:
    body = note.partition("\n\n")[0]
    lines = body.split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise VerificationError("a checkpoint body is origin, size and root hash")
    return Note(lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True))


def _receipts(body: Any, where: str = "", depth: int = 0) -> list[tuple[str, Any, Any]]:
    """(where, receipt, the object holding it) for every ``receipt`` member."""
    out: list[tuple[str, Any, Any]] = []
    if depth > 4:
        return out
    if isinstance(body, dict):
        for name, value in body.items():
            if name == "receipt" and isinstance(value, dict):
                out.append((f"{where}/receipt", value, body))
            else:
                out += _receipts(value, f"{where}/{name}", depth + 1)
    elif isinstance(body, list):
        for i, value in enumerate(body):
            out += _receipts(value, f"{where}/{i}", depth + 1)
    return out


class Coherence:
    """The per-wire state of the checks (the verifier keys seen so far)."""

    def __init__(self) -> None:
        self.verifier_keys: list[str] = []
        self.delivered: set[str] = set()
        """The linkages handed to a provider since the last reset (each once)."""
        self.queries: dict[str, dict[str, Any]] = {}
        """The linkages the kit's queries made since the last reset: what each
        query asked and the deadline and serial it was given."""

    def departures(
        self,
        op: Operation | None,
        path: str,
        body: Any,
        sent: Any = None,
        params: dict[str, Any] | None = None,
    ) -> list[tuple[str, str]]:
        """(requirement, departure) for one response body of ``op`` at ``path``
        answering the JSON request body ``sent`` and query ``params``."""
        if op is not None and op.operation_id == "resetState":
            self.delivered.clear()  # a reset starts the deployment afresh
            self.queries.clear()
        if op is None or not isinstance(body, dict):
            return []
        wire = [("RK-WIRE-001", d) for d in validation_departures(body, op, sent, params)]
        for where, problem in _nested_problems(body):
            wire += [
                ("RK-WIRE-001", f"{where}{d.removeprefix('(body)')}")
                for d in registry_departures(int(problem.get("status", 0) or 0), problem)
                + validation_departures(problem, None, None, None)
            ]
        key = body.get("verifier_key") if op.operation_id == "getLatestCheckpoint" else None
        if isinstance(key, str) and key not in self.verifier_keys:
            self.verifier_keys.append(key)
        out = wire + [("RK-LOG-004", d) for d in self._receipt_departures(body)]
        out += [("RK-WIRE-002", d) for d in self._echo_departures(op, path, body)]
        out += [("RK-WIRE-002", d) for d in _order_departures(op, body, params or {})]
        if op.operation_id == "submitQuery" and isinstance(sent, dict):
            self._remember_query(sent, body)
        if op.operation_id == "pullDeliveries":
            out += [("RK-FLOW-001", d) for d in self._delivery_departures(body)]
            out += [("RK-FLOW-001", d) for d in self._as_queried(body)]
        if op.operation_id == "getLinkage":
            out += [("RK-FLOW-004", d) for d in self._deadline_as_given(body)]
        if op.operation_id == "listAccessLogs":
            out += [("RK-WIRE-002", d) for d in _reason_departures(body)]
        if isinstance(sent, dict):
            out += [("RK-WIRE-002", d) for d in _request_echoes(sent, body)]
            out += [("RK-WIRE-002", d) for d in _default_echoes(op, sent, body)]
        return out

    def _delivery_departures(self, body: dict[str, Any]) -> list[str]:
        """Each pending linkage is delivered to its provider once
        (pullDeliveries, specs/openapi/renkei.yaml)."""
        items = body.get("deliveries")
        ids = [
            str(d["linkage_id"])
            for d in (items if isinstance(items, list) else [])
            if isinstance(d, dict) and "linkage_id" in d
        ]
        again = sorted(set(ids) & self.delivered)
        self.delivered.update(ids)
        return [f"(body): linkage {i!r} delivered again (each is delivered once)" for i in again]

    def _remember_query(self, sent: dict[str, Any], body: dict[str, Any]) -> None:
        linkage_id = body.get("linkage_id")
        if body.get("state") == "pending" and isinstance(linkage_id, str):
            asked = {k: sent.get(k) for k in ("requester", "pattern_id", "information_kind")}
            given = {k: body.get(k) for k in ("deadline", "serial")}
            self.queries[linkage_id] = {**asked, **given}

    def _as_queried(self, body: dict[str, Any]) -> list[str]:
        """A delivery names what its query asked, with the deadline and serial ①
        the query was given (RK-FLOW-001: the provider learns the linkage ID, the
        serial, the requester, the pattern, the information kind, its link code and
        the deadline)."""
        items = body.get("deliveries")
        out: list[str] = []
        for i, d in enumerate(items if isinstance(items, list) else []):
            query = self.queries.get(str(d.get("linkage_id"))) if isinstance(d, dict) else None
            if query is None or not isinstance(d, dict):
                continue
            for key in ("requester", "pattern_id", "information_kind", "serial"):
                if key in d and query.get(key) is not None and d[key] != query[key]:
                    out.append(
                        f"deliveries/{i}/{key}: {d[key]!r}, the query of linkage "
                        f"{d['linkage_id']!r} {'was given' if key == 'serial' else 'asked'} "
                        f"{query[key]!r}"
                    )
            if not _same_instant(d.get("deadline"), query.get("deadline")):
                out.append(
                    f"deliveries/{i}/deadline: {d.get('deadline')!r}, the query of linkage "
                    f"{d['linkage_id']!r} was given {query.get('deadline')!r}"
                )
        return out

    def _deadline_as_given(self, body: dict[str, Any]) -> list[str]:
        """A linkage's deadline is the one its query was given (RK-FLOW-004)."""
        query = self.queries.get(str(body.get("linkage_id")))
        if query is None or _same_instant(body.get("deadline"), query.get("deadline")):
            return []
        return [
            f"deadline: {body.get('deadline')!r}, the query of linkage "
            f"{body.get('linkage_id')!r} was given {query.get('deadline')!r}"
        ]

    def _receipt_departures(self, body: dict[str, Any]) -> list[str]:
        out: list[str] = []
        for where, receipt, holder in _receipts(body):
            try:
                self._verify(receipt)
            except (VerificationError, KeyError, TypeError, ValueError) as exc:
                out.append(f"{where}: the receipt does not verify: {exc}")
                continue
            if "linkage_id" in holder and holder["linkage_id"] != receipt.get("linkage_id"):
                out.append(
                    f"{where}: the receipt is for linkage {receipt.get('linkage_id')!r}, "
                    f"the response for {holder['linkage_id']!r}"
                )
        return out

    def _verify(self, receipt: dict[str, Any]) -> None:
        leaf = b64(receipt["leaf"])
        if b64(receipt["leaf_hash"]) != leaf_hash(leaf):
            raise VerificationError("leaf_hash is not SHA-256(0x00 ‖ leaf)")
        note = None
        for key in self.verifier_keys:
            try:
                note = open_checkpoint(receipt["checkpoint"], key)
                break
            except VerificationError:
                continue  # another log's key (or a rotated one): the root is checked below
        note = note or _unsigned(receipt["checkpoint"])
        if note.size != receipt["tree_size"]:
            raise VerificationError("the receipt's tree_size is not its checkpoint's size")
        proof = [b64(h) for h in receipt["inclusion_proof"]]
        verify_inclusion(leaf_hash(leaf), receipt["leaf_index"], note.size, proof, note.root)
        fields = json.loads(leaf)
        if fields.get("serial") != receipt["serial"]:
            raise VerificationError("the leaf's serial is not the receipt's")
        if "linkage_id" in fields and fields["linkage_id"] != receipt.get("linkage_id"):
            raise VerificationError("the leaf's linkage_id is not the receipt's")

    @staticmethod
    def _echo_departures(op: Operation, path: str, body: dict[str, Any]) -> list[str]:
        names = [p.strip("{}") for p in op.template.split("/") if p.startswith("{")]
        if not names:
            return []
        segments = zip(path.split("/"), op.template.split("/"), strict=False)
        asked = [unquote(seg) for seg, tpl in segments if tpl.startswith("{")]
        values = dict(zip(names, asked, strict=False))
        return [
            f"(body): member {name!r} is {body[name]!r}, yet the request asked for {value!r}"
            for name, value in values.items()
            if name in body and isinstance(body[name], str) and body[name] != value
        ]


_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}")


def _default_echoes(op: Operation, sent: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """A request member left out takes its schema's ``default``: a response member
    of the same name repeats that default (a session opened without a ``channel``
    is an ``internet`` one), as it would repeat the member sent."""
    media = (op.spec.get("requestBody") or {}).get("content", {}).get("application/json")
    if media is None:
        return []
    schema = merged_schema(load_contract(), media.get("schema", {}))
    out: list[str] = []
    for name, prop in (schema.get("properties") or {}).items():
        default = prop.get("default") if isinstance(prop, dict) else None
        if not isinstance(default, str) or name in sent or name not in body:
            continue
        if body[name] != default:
            out.append(
                f"(body): member {name!r} is {body[name]!r}; the request left it to its "
                f"default {default!r}"
            )
    return out


ORDERED: dict[str, tuple[str, str]] = {
    "pullDeliveries": ("deliveries", "serial"),
    "listOwnPortalUsage": ("records", "at"),
    "listAccessLogs": ("entries", "serial"),
    "listAdminLogs": ("entries", "serial"),
    "listOwnAccessLogs": ("entries", "serial"),
    "listAgencyAccessLogs": ("entries", "serial"),
    "listAgencyDenials": ("entries", "serial"),
    "listAgencyAdminLogs": ("entries", "serial"),
    "listDiscrepancies": ("discrepancies", "discrepancy_id"),
    "plantAgencyLogEntries": ("serials", ""),
}
"""Lists the interface orders, oldest first (specs/openapi/renkei.yaml): the list
member and the member it is ordered by ('' the entries themselves).  Their
entries are distinct records.  Findings are numbered 1.. in the order of the
computation and paged by that number; planted entries get the node's serials in
the order they were sent."""
_NUMBERED = ("serial", "discrepancy_id", "")
"""Keys that name one entry each: strictly ascending, above the ``after`` asked."""


def _order_departures(op: Operation, body: dict[str, Any], params: dict[str, Any]) -> list[str]:
    member, key = ORDERED.get(op.operation_id, ("", ""))
    items = body.get(member)
    if not isinstance(items, list):
        return []
    out: list[str] = []
    seen = [json.dumps(i, sort_keys=True) for i in items]
    if len(seen) != len(set(seen)):
        out.append(f"(body): {member} lists the same entry twice")
    keys: list[Any] = (
        [i for i in items if i is not None]
        if not key
        else [i[key] for i in items if isinstance(i, dict) and i.get(key) is not None]
    )
    strict = key in _NUMBERED  # a serial or number names one entry; times may tie
    if any(
        type(a) is not type(b) or a > b or (strict and a == b) for a, b in itertools.pairwise(keys)
    ):
        out.append(f"(body): {member} is not oldest first (by {key or 'value'})")
    after = params.get("after")
    if strict and str(after).isdigit() and any(k <= int(str(after)) for k in keys):
        out.append(f"(body): {member} holds a {key or 'serial'} not above after={after}")
    return out


def _reason_departures(body: dict[str, Any]) -> list[str]:
    """An auditor's log entry gives the ``reason`` its ``outcome`` has
    (AuditorLogEntry): a refusal's RefusalReason, ``deadline-passed`` or
    ``not-collected`` for an expiry, none otherwise."""
    contract = load_contract()
    refusals, _ = contract.resolve({"$ref": "#/components/schemas/RefusalReason"})
    allowed = set(refusals.get("enum", []))
    out: list[str] = []
    entries = body.get("entries")
    for i, e in enumerate(entries if isinstance(entries, list) else []):
        if not isinstance(e, dict) or "outcome" not in e or "reason" not in e:
            continue
        outcome, reason = e["outcome"], e["reason"]
        fits = (
            reason in allowed
            if outcome == "refused"
            else reason in ("deadline-passed", "not-collected")
            if outcome == "expired"
            else reason is None
        )
        if not fits:
            out.append(f"(body): entries/{i} is {outcome!r} with reason {reason!r}")
    return out


def _request_echoes(sent: dict[str, Any], body: dict[str, Any]) -> list[str]:
    """A response member named like a member of the request that holds the same
    kind of value repeats it: an identifier or code (a string; a time or date may
    come back normalised and is not compared), or a list of strings (as a set,
    each once).  A ``results`` list answers a request's single list one item per
    item, in order."""
    out: list[str] = []
    for name, value in sent.items():
        mine = body.get(name)
        if name not in body or name.endswith("_at") or _TIME.match(str(value)):
            continue  # a time may come back normalised (offset, precision)
        same_string = not (isinstance(value, str) and isinstance(mine, str)) or mine == value
        same_strings = (
            not isinstance(value, list)
            or not isinstance(mine, list)
            or not all(isinstance(v, str) for v in [*value, *mine])
            or sorted(set(value)) == sorted(mine)
        )
        if not (same_string and same_strings):
            out.append(f"(body): member {name!r} is {mine!r}, the request's {value!r}")
    lists = [(n, v) for n, v in sent.items() if isinstance(v, list)]
    results = body.get("results")
    if len(lists) == 1 and isinstance(results, list):
        name, items = lists[0]
        if len(results) != len(items):
            out.append(f"(body): {len(results)} results for {len(items)} {name}")
        else:
            single = name[:-1] if name.endswith("s") else name
            for i, (item, result) in enumerate(zip(items, results, strict=True)):
                if not isinstance(result, dict):
                    continue
                asked = item if isinstance(item, str) else None
                if isinstance(item, dict):
                    shared = [k for k in ("record_ref",) if k in item and k in result]
                    if shared and item[shared[0]] != result[shared[0]]:
                        out.append(f"(body): results/{i} answers another {single} than asked")
                elif asked is not None and single in result and result[single] != asked:
                    out.append(f"(body): results/{i} answers another {single} than asked")
    return out


_LOCATIONS = ("body", "query", "path", "header")
NOT_JSON: Any = object()
"""The ``sent`` of a request whose body was not JSON at all."""
_LISTS_FAILURES = ("validation-error", "malformed-binding-record")
"""Problem types whose `errors` lists each failure once (specs/problems.yaml);
a validation-error always carries it (RK-WIRE-001)."""


def _nested_problems(body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Problems carried inside a response (``results/<i>/problem``)."""
    results = body.get("results")
    return [
        (f"results/{i}/problem", r["problem"])
        for i, r in enumerate(results if isinstance(results, list) else [])
        if isinstance(r, dict) and isinstance(r.get("problem"), dict)
    ]


def validation_departures(
    problem: dict[str, Any],
    op: Operation | None,
    sent: Any,
    params: dict[str, Any] | None,
) -> list[str]:
    """How a ``validation-error`` problem's ``errors`` depart from what the
    interface says of them (RK-WIRE-001): one item per failure (none listed
    twice), each ``loc`` starting with the part of the request (body, query,
    path, header) and then, for a body or query failure of ``op``,
    naming a member the request sent or the operation declares."""
    slug = str(problem.get("type", "")).rsplit(":", 1)[-1]
    errors = problem.get("errors")
    if slug not in _LISTS_FAILURES or (slug != "validation-error" and errors is None):
        return []
    if not isinstance(errors, list) or not errors:
        return ["(body): a validation-error without `errors`, the failures it lists"]
    out: list[str] = []
    seen = [json.dumps(e, sort_keys=True) for e in errors]
    if len(seen) != len(set(seen)):
        out.append("(body): errors lists a failure twice")
    if slug != "validation-error":
        return out  # a binding record's failures are located in the record, not the request
    declared: dict[str, set[str]] = {}
    if op is not None:
        contract = load_contract()
        media = (op.spec.get("requestBody") or {}).get("content", {}).get("application/json")
        schema = merged_schema(contract, (media or {}).get("schema", {}))
        declared["body"] = set(schema.get("properties", {}))
        for raw in op.spec.get("parameters", []):
            p, _ = contract.resolve(raw)
            declared.setdefault(str(p.get("in")), set()).add(str(p.get("name")))
    sent_members = {
        "body": set(sent) if isinstance(sent, dict) else set(),
        "query": set(params or {}),
    }
    for e in errors:
        loc = e.get("loc") if isinstance(e, dict) else None
        if not isinstance(loc, list) or not loc or loc[0] not in _LOCATIONS:
            out.append(f"(body): errors/loc {loc!r} names no part of the request")
            continue
        part = str(loc[0])
        position = all(isinstance(x, int) or str(x).isdigit() for x in loc[1:])
        if part == "body" and sent is NOT_JSON and not position:  # a place in the text
            out.append(f"(body): errors/loc {loc!r} names a member of a body that is not JSON")
            continue
        checkable = op is not None and (part == "query" or isinstance(sent, dict))
        if len(loc) > 1 and part in ("body", "query") and checkable:
            known = sent_members[part] | declared.get(part, set())
            if loc[1] not in known:
                out.append(
                    f"(body): errors/loc {loc!r}: the request has no {part} member {loc[1]!r}"
                )
    return out


def failure_listed(problem: dict[str, Any], broken: Sequence[str]) -> list[str]:
    """A ``validation-error`` answering a request the kit broke at ``broken``
    (``("query", "limit")``, ``("body",)``) lists that failure (RK-WIRE-001): an
    ``errors`` item whose ``loc`` is on the same path — at the place, inside it,
    or a place that encloses it (``["body"]`` for a member of the body)."""
    if not broken or problem.get("type") != "urn:renkei:problem:validation-error":
        return []
    errors = problem.get("errors")
    locs = [
        list(e["loc"])
        for e in (errors if isinstance(errors, list) else [])
        if isinstance(e, dict) and isinstance(e.get("loc"), list)
    ]
    want = list(broken)
    if any(loc[: len(want)] == want or want[: len(loc)] == loc for loc in locs if loc):
        return []
    return [f"(body): errors lists no failure at {want!r} (where the request breaks its schema)"]
