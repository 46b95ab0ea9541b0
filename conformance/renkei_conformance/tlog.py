"""The kit's own verifier for receipts and checkpoints (RFC 9162, C2SP).

Written from RFC 9162 §2.1.3.2 and §2.1.4.2 and the C2SP signed-note and
tlog-checkpoint specifications, independently of any implementation: a
vendor's hub is checked by what a requester, a person or an auditor could
check on their own.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "Note",
    "VerificationError",
    "merkle_root",
    "open_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]


class VerificationError(AssertionError):
    """A receipt, proof or checkpoint that does not verify."""


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(leaf_digests: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1: the Merkle Tree Hash over leaf hashes, by its definition."""
    n = len(leaf_digests)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaf_digests[0]
    k = 1 << ((n - 1).bit_length() - 1)  # the largest power of two smaller than n
    return _node(merkle_root(leaf_digests[:k]), merkle_root(leaf_digests[k:]))


def verify_inclusion(
    leaf_digest: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        raise VerificationError(f"leaf index {index} is not below tree size {size}")
    fn, sn, r = index, size - 1, leaf_digest
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is too long")
        if fn % 2 == 1 or fn == sn:
            r = _node(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        raise VerificationError("inclusion proof does not lead to the checkpoint's root")


def verify_consistency(
    first: int, second: int, proof: list[bytes], first_root: bytes, second_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2 (sizes start at 1: RK-LOG-009 refuses size 0)."""
    if first < 1:
        raise VerificationError("tree sizes start at 1")
    if first == second:
        if proof or first_root != second_root:
            raise VerificationError("equal sizes need an empty proof and equal roots")
        return
    if not 0 < first < second or not proof:
        raise VerificationError("consistency needs 0 < first < second and a proof")
    path = list(proof)
    if first & (first - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn % 2 == 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or fr != first_root or sr != second_root:
        raise VerificationError("consistency proof does not join the two roots")


@dataclass(frozen=True)
class Note:
    origin: str
    size: int
    root: bytes


def _key_id(name: str, key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + key).digest()[:4]


def open_checkpoint(note: str, vkey: str) -> Note:
    """Verify the Ed25519 signature of ``vkey`` on a C2SP checkpoint note and parse it."""
    try:
        name, key_id_hex, key_b64 = vkey.split("+", 2)
        raw = base64.b64decode(key_b64, validate=True)
    except ValueError as exc:
        raise VerificationError(f"malformed verifier key {vkey!r}") from exc
    if len(raw) != 33 or raw[0] != 1 or bytes.fromhex(key_id_hex) != _key_id(name, raw[1:]):
        raise VerificationError("the verifier key is not an Ed25519 signed-note key")
    body, sep, sigs = note.partition("\n\n")
    if not sep or not body:
        raise VerificationError("a signed note is a text, a blank line, then signatures")
    body += "\n"
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    verified = False
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            raise VerificationError(f"malformed signature line {line!r}")
        signer, _, blob_b64 = line[2:].partition(" ")
        blob = base64.b64decode(blob_b64)
        if signer == name and blob[:4] == _key_id(name, raw[1:]):
            try:
                public.verify(blob[4:], body.encode())
            except InvalidSignature as exc:
                raise VerificationError("the checkpoint's signature does not verify") from exc
            verified = True
    if not verified:
        raise VerificationError(f"the checkpoint carries no signature by {name}")
    lines = body.split("\n")
    if len(lines) < 4 or not lines[1].isdigit():
        raise VerificationError("a checkpoint body is origin, size and root hash")
    return Note(lines[0], int(lines[1]), base64.b64decode(lines[2], validate=True))


def b64(text: str) -> bytes:
    """Strict standard base64 (hashes and leaves on the wire)."""
    return base64.b64decode(text, validate=True)


def verify_receipt(receipt: dict[str, Any], vkey: str) -> tuple[Note, dict[str, Any]]:
    """Verify a receipt end to end (RK-LOG-004): the leaf hash, the signed
    checkpoint and the inclusion proof; return the checkpoint and the leaf."""
    leaf = b64(receipt["leaf"])
    if b64(receipt["leaf_hash"]) != leaf_hash(leaf):
        raise VerificationError("leaf_hash is not SHA-256(0x00 ‖ leaf)")
    note = open_checkpoint(receipt["checkpoint"], vkey)
    if note.size != receipt["tree_size"]:
        raise VerificationError("the receipt's tree_size is not its checkpoint's size")
    verify_inclusion(
        leaf_hash(leaf),
        receipt["leaf_index"],
        note.size,
        [b64(h) for h in receipt["inclusion_proof"]],
        note.root,
    )
    fields: dict[str, Any] = json.loads(leaf)
    if fields.get("serial") != receipt["serial"]:
        raise VerificationError("the leaf's serial is not the receipt's")
    return note, fields
