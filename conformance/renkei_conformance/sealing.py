"""The kit's own sealed-answer envelope (specs/sealed-answer.md, RK-FLOW-006).

Written from the specification alone, independently of the reference, so that a
requester or provider of the kit can exchange envelopes with a vendor's node, and
so that two implementations agreeing shows the format is specified well enough.
Same verbs as the reference: keys are 33-byte private and 1217-byte public
encodings (§3), envelopes are ``0x01 ‖ enc ‖ ct`` (§4), and every failure to open
is one opaque :class:`SealError`.
"""

from __future__ import annotations

import hashlib
import os
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

__all__ = [
    "ANSWER_INFO",
    "RecipientKey",
    "SealError",
    "answer_aad",
    "generate_recipient_key",
    "load_public_key",
    "open_sealed",
    "seal",
]

ANSWER_INFO = b"renkei/answer/v1"
V1 = b"\x01"
SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
NENC, NTAG, NEK = 1120, 16, 1184  # §2: enc, AES-256-GCM tag, ML-KEM-768 key


class SealError(Exception):
    """The envelope does not open (the one failure, whatever the cause)."""


def answer_aad(linkage_id: str, pattern_id: str) -> bytes:
    """§5.2: ``u16 ‖ linkage id ‖ u16 ‖ pattern id`` (UTF-8, 1..65535 bytes each)."""
    out = b""
    for text in (linkage_id, pattern_id):
        raw = text.encode("utf-8")
        if not raw or len(raw) > 0xFFFF:
            raise ValueError("ids are 1 to 65535 bytes of UTF-8")
        out += struct.pack(">H", len(raw)) + raw
    return out


def _context(info: bytes, aad: bytes) -> bytes:
    """§5.1: the HPKE info; the HPKE aad stays empty."""
    if not (isinstance(info, bytes) and isinstance(aad, bytes)):
        raise TypeError("info and aad must be bytes")
    head = b"renkei-sealed" + V1
    return head + struct.pack(">I", len(info)) + info + struct.pack(">I", len(aad)) + aad


def load_public_key(data: bytes) -> hpke.MLKEM768X25519PublicKey:
    """§3: ``0x01 ‖ ek_PQ (1184) ‖ ek_T (32)``; ``ValueError`` if malformed."""
    if not isinstance(data, bytes):
        raise TypeError("public key must be bytes")
    if len(data) != 1 + NEK + 32 or data[:1] != V1:
        raise ValueError("not a version-1 sealing public key")
    return hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(data[1 : 1 + NEK]),
        x25519.X25519PublicKey.from_public_bytes(data[1 + NEK :]),
    )


class RecipientKey:
    """§3: a 32-byte seed; SHAKE256(seed, 96) = ML-KEM-768 seed (64) ‖ X25519 key (32)."""

    def __init__(self, seed: bytes) -> None:
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise ValueError("the seed is 32 bytes")
        wide = hashlib.shake_256(seed).digest(96)
        self._m = mlkem.MLKEM768PrivateKey.from_seed_bytes(wide[:64])
        self._x = x25519.X25519PrivateKey.from_private_bytes(wide[64:])
        self._seed = seed
        self.hpke_key = hpke.MLKEM768X25519PrivateKey(self._m, self._x)

    @classmethod
    def from_private_bytes(cls, data: bytes) -> RecipientKey:
        if not isinstance(data, bytes) or len(data) != 33 or data[:1] != V1:
            raise ValueError("not a version-1 sealing private key")
        return cls(data[1:])

    def private_bytes(self) -> bytes:
        return V1 + self._seed

    def public_bytes(self) -> bytes:
        return (
            V1 + self._m.public_key().public_bytes_raw() + self._x.public_key().public_bytes_raw()
        )

    def __repr__(self) -> str:
        return "RecipientKey(<redacted>)"


def generate_recipient_key() -> RecipientKey:
    return RecipientKey(os.urandom(32))


def seal(public_key_bytes: bytes, plaintext: bytes, *, info: bytes, aad: bytes) -> bytes:
    """§4: ``0x01 ‖ enc ‖ ct``."""
    if not isinstance(plaintext, bytes):
        raise TypeError("plaintext must be bytes")
    key = load_public_key(public_key_bytes)
    return V1 + SUITE.encrypt(plaintext, key, info=_context(info, aad))


def open_sealed(recipient_key: RecipientKey, envelope: bytes, *, info: bytes, aad: bytes) -> bytes:
    """§4, §6: the plaintext, or :class:`SealError` for any envelope that does not open."""
    if not isinstance(envelope, bytes):
        raise TypeError("envelope must be bytes")
    context = _context(info, aad)
    if len(envelope) < 1 + NENC + NTAG or envelope[:1] != V1:
        raise SealError("envelope does not open")
    try:
        return SUITE.decrypt(envelope[1:], recipient_key.hpke_key, info=context)
    except (InvalidTag, ValueError):
        raise SealError("envelope does not open") from None
