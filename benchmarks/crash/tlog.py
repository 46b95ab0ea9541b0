"""Verifying what the hub hands out, from the bytes alone: RFC 9162 §2.1 inclusion and
consistency proofs and C2SP signed-note checkpoints with an Ed25519 verifier key.

Written here rather than imported, so that the harness judges the hub with code that
shares nothing with it (neither renkei_reference nor the kit)."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

__all__ = [
    "Checkpoint",
    "TlogError",
    "leaf_hash",
    "parse_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]


class TlogError(ValueError):
    """A checkpoint, key or proof that does not verify."""


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 §2.1.1: SHA-256(0x00 ‖ leaf)."""
    return _h(b"\x00" + leaf)


def _node(left: bytes, right: bytes) -> bytes:
    return _h(b"\x01" + left + right)


def verify_inclusion(
    leaf_digest: bytes, index: int, size: int, proof: list[bytes], root: bytes
) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf_digest
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2 (sizes ≥ 1)."""
    if first < 1 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint whose signature verified."""

    origin: str
    size: int
    root: bytes
    text: str


def _verifier(key: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """A signed-note verifier key ``name+hexid+base64(0x01 ‖ key)``."""
    try:
        name, key_id, material = key.split("+", 2)  # the name holds no "+"; the key may
        raw = base64.b64decode(material, validate=True)
    except ValueError as exc:
        raise TlogError(f"malformed verifier key {key!r}") from exc
    if len(raw) != 33 or raw[0] != 1:
        raise TlogError("the verifier key is not an Ed25519 key")
    expected = _h(name.encode() + b"\n" + raw)[:4]
    if bytes.fromhex(key_id) != expected:
        raise TlogError("the verifier key's id does not match its key")
    return name, expected, Ed25519PublicKey.from_public_bytes(raw[1:])


def parse_checkpoint(text: str, verifier_key: str) -> Checkpoint:
    """Check the signature of a C2SP tlog-checkpoint note and parse its body."""
    name, key_id, public = _verifier(verifier_key)
    body, sep, signatures = text.partition("\n\n")
    if not sep:
        raise TlogError("a checkpoint without signatures")
    message = (body + "\n").encode()
    lines = body.split("\n")
    if len(lines) < 3:
        raise TlogError("a checkpoint body has origin, size and root")
    for line in signatures.splitlines():
        if not line.startswith("— "):
            continue
        signer, _, blob = line[2:].rpartition(" ")
        if signer != name:
            continue
        raw = base64.b64decode(blob)
        if raw[:4] != key_id:
            continue
        try:
            public.verify(raw[4:], message)
        except InvalidSignature as exc:
            raise TlogError("the checkpoint's signature does not verify") from exc
        try:
            size = int(lines[1])
            root = base64.b64decode(lines[2], validate=True)
        except ValueError as exc:
            raise TlogError("malformed checkpoint body") from exc
        return Checkpoint(lines[0], size, root, text)
    raise TlogError("no signature of the pinned key on the checkpoint")
