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
  ``linkage_id``) holds that parameter's value.

The Wire runs them on every response (renkei_conformance.client), so a receipt
with a wrong proof, or a linkage answered for another one, fails the test that
received it, whatever that test is about.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import unquote

from .openapi import Operation
from .tlog import (
    Note,
    VerificationError,
    b64,
    leaf_hash,
    open_checkpoint,
    verify_inclusion,
)

__all__ = ["Coherence"]


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

    def departures(self, op: Operation | None, path: str, body: Any) -> list[tuple[str, str]]:
        """(requirement, departure) for one response body of ``op`` at ``path``."""
        if op is None or not isinstance(body, dict):
            return []
        key = body.get("verifier_key") if op.operation_id == "getLatestCheckpoint" else None
        if isinstance(key, str) and key not in self.verifier_keys:
            self.verifier_keys.append(key)
        out = [("RK-LOG-004", d) for d in self._receipt_departures(body)]
        out += [("RK-WIRE-002", d) for d in self._echo_departures(op, path, body)]
        return out

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
