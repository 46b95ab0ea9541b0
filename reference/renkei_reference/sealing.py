"""Hub-blind answer payloads: the provider seals its answer to the requester.

Seed item 22 (第１．５．（４）③) lets the personal information pass through the hub
without being stored there; RK-FLOW-006 keeps the answer payload opaque to the
hub and allows end-to-end encryption where provider and requester both announce
it (``end_to_end_encryption`` in the discovery document, RK-WIRE-005).  This
module is that encryption: HPKE (RFC 9180, base mode, single shot) with the
post-quantum/classical hybrid KEM MLKEM768-X25519.  The hub relays an envelope
it cannot read; only the holder of the requester's private key can open it.

The normative format is ``specs/sealed-answer.md``; section numbers below refer
to it.  In short (all lengths in bytes, ``‖`` is concatenation):

* suite (§2): KEM 0x647A MLKEM768-X25519, KDF 0x0001 HKDF-SHA256,
  AEAD 0x0002 AES-256-GCM;
* public key (§3): ``0x01 ‖ ek_PQ (1184) ‖ ek_T (32)`` = 1217 bytes;
* private key (§3): ``0x01 ‖ seed (32)`` = 33 bytes, expanded with
  ``SHAKE256(seed, 96)`` into the ML-KEM-768 seed (first 64) and the X25519
  private key (last 32), as draft-ietf-hpke-pq does;
* envelope (§4): ``0x01 ‖ enc (1120) ‖ ct (len(plaintext) + 16)``;
* HPKE info (§5): ``"renkei-sealed" ‖ 0x01 ‖ u32(len(info)) ‖ info ‖
  u32(len(aad)) ‖ aad``, HPKE aad empty.  ``cryptography``'s single-shot API takes
  no associated data, and RFC 9180 §8.1 tells single-shot applications to carry
  auxiliary authenticated data in ``info``: a change to ``info`` or ``aad``
  changes the key schedule, so the envelope fails to open.

``info`` names the protocol (:data:`ANSWER_INFO`, ``b"renkei/answer/v1"``);
``aad`` binds the envelope to one linkage (:func:`answer_aad`: linkage id and
pattern id), so an answer sealed for one linkage cannot be replayed into another.

The module lives outside the pure core because sealing draws randomness (the
KEM's ephemeral keys inside ``cryptography``, the key seed from
``os.urandom``).  As in Fernet, every failure to open is the one opaque
:class:`SealError`; misuse (wrong argument types, malformed keys) fails loudly
with ``TypeError``/``ValueError``.
"""

from __future__ import annotations

import functools
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

__all__ = [
    "ANSWER_INFO",
    "ENVELOPE_OVERHEAD",
    "FORMAT_VERSION",
    "PRIVATE_KEY_BYTES",
    "PUBLIC_KEY_BYTES",
    "RecipientKey",
    "SealError",
    "SealingPublicKey",
    "answer_aad",
    "generate_recipient_key",
    "load_public_key",
    "open_sealed",
    "seal",
]

FORMAT_VERSION = 0x01
"""Leading byte of every key encoding and envelope of this format (§3, §4)."""

ANSWER_INFO = b"renkei/answer/v1"
"""The ``info`` of an answer payload (§5)."""

_LABEL = b"renkei-sealed"
_SEED_BYTES = 32  # Nsk of MLKEM768-X25519
_MLKEM_PUBLIC_BYTES = 1184  # ML-KEM-768 encapsulation key
_X25519_BYTES = 32
_ENC_BYTES = 1120  # Nenc: ML-KEM-768 ciphertext (1088) ‖ X25519 ephemeral (32)
_TAG_BYTES = 16  # AES-256-GCM

PUBLIC_KEY_BYTES = 1 + _MLKEM_PUBLIC_BYTES + _X25519_BYTES
PRIVATE_KEY_BYTES = 1 + _SEED_BYTES
ENVELOPE_OVERHEAD = 1 + _ENC_BYTES + _TAG_BYTES
"""Envelope length minus plaintext length: 1137 bytes."""

_SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
_VERSION = bytes([FORMAT_VERSION])
_U32_MAX = 0xFFFFFFFF


class SealError(Exception):
    """The envelope could not be opened.

    One opaque failure for every cause (wrong key, altered or truncated bytes,
    unknown version, wrong ``info`` or ``aad``), so a failure tells an attacker
    nothing about which check it failed.
    """


def _check_bytes(name: str, value: object) -> bytes:
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes")
    return value


def _hpke_info(info: bytes, aad: bytes) -> bytes:
    """§5: the HPKE ``info`` binding the format version, ``info`` and ``aad``."""
    _check_bytes("info", info)
    _check_bytes("aad", aad)
    if len(info) > _U32_MAX or len(aad) > _U32_MAX:
        raise ValueError("info and aad are limited to 2**32 - 1 bytes")
    return b"".join(
        (
            _LABEL,
            _VERSION,
            len(info).to_bytes(4, "big"),
            info,
            len(aad).to_bytes(4, "big"),
            aad,
        )
    )


def answer_aad(linkage_id: str, pattern_id: str) -> bytes:
    """§5.2: the ``aad`` of an answer, binding it to one linkage and its pattern.

    ``u16(len(l)) ‖ l ‖ u16(len(p)) ‖ p`` with ``l``, ``p`` the UTF-8 linkage id
    and pattern id, as the hub announced them (e.g. ``lk-01J9Z3Q4W8``,
    ``P-0001``).

    Raises:
        ValueError: an id is empty or longer than 65535 bytes.
    """
    parts = []
    for name, value in (("linkage_id", linkage_id), ("pattern_id", pattern_id)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be str")
        raw = value.encode("utf-8")
        if not 0 < len(raw) <= 0xFFFF:
            raise ValueError(f"{name} must be 1 to 65535 bytes of UTF-8")
        parts += [len(raw).to_bytes(2, "big"), raw]
    return b"".join(parts)


class SealingPublicKey:
    """A requester's public key, parsed once (§3).  Safe to share and to log."""

    __slots__ = ("_encoded", "_key")

    def __init__(self, encoded: bytes, key: hpke.MLKEM768X25519PublicKey) -> None:
        self._encoded = encoded
        self._key = key

    def public_bytes(self) -> bytes:
        """The §3 encoding: ``0x01 ‖ ek_PQ ‖ ek_T`` (1217 bytes)."""
        return self._encoded

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SealingPublicKey):
            return NotImplemented
        return self._encoded == other._encoded

    def __hash__(self) -> int:
        return hash(self._encoded)

    def __repr__(self) -> str:
        return f"SealingPublicKey({hashlib.sha256(self._encoded).hexdigest()[:16]}…)"


def load_public_key(data: bytes) -> SealingPublicKey:
    """Parse a §3 public key.

    The last 64 distinct keys parsed are kept (public data only), so a provider
    that seals to the same requesters again pays the ~25 µs ML-KEM key check
    once per requester, not once per answer.

    Raises:
        TypeError: ``data`` is not bytes.
        ValueError: wrong length, unknown version or an invalid ML-KEM key.
    """
    return _parse_public_key(_check_bytes("public key", data))


@functools.lru_cache(maxsize=64)
def _parse_public_key(data: bytes) -> SealingPublicKey:
    if len(data) != PUBLIC_KEY_BYTES or data[0] != FORMAT_VERSION:
        raise ValueError(f"a sealing public key is {PUBLIC_KEY_BYTES} bytes starting 0x01")
    mlkem_key = mlkem.MLKEM768PublicKey.from_public_bytes(data[1 : 1 + _MLKEM_PUBLIC_BYTES])
    x25519_key = x25519.X25519PublicKey.from_public_bytes(data[1 + _MLKEM_PUBLIC_BYTES :])
    return SealingPublicKey(data, hpke.MLKEM768X25519PublicKey(mlkem_key, x25519_key))


class RecipientKey:
    """The requester's hybrid private key (MLKEM768-X25519), from a 32-byte seed.

    Key material never appears in ``repr`` (RK-KEY-001).
    """

    __slots__ = ("_private", "_public", "_seed")

    def __init__(self, seed: bytes) -> None:
        """Expand ``seed`` (§3): ``SHAKE256(seed, 96)`` → ML-KEM-768 seed ‖ X25519 key.

        Raises:
            TypeError: ``seed`` is not bytes.
            ValueError: ``seed`` is not 32 bytes.
        """
        _check_bytes("seed", seed)
        if len(seed) != _SEED_BYTES:
            raise ValueError(f"the seed is {_SEED_BYTES} bytes")
        expanded = hashlib.shake_256(seed).digest(64 + _X25519_BYTES)
        mlkem_key = mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64])
        x25519_key = x25519.X25519PrivateKey.from_private_bytes(expanded[64:])
        self._seed = seed
        self._private = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        encoded = b"".join(
            (
                _VERSION,
                mlkem_key.public_key().public_bytes_raw(),
                x25519_key.public_key().public_bytes_raw(),
            )
        )
        self._public = SealingPublicKey(encoded, self._private.public_key())

    @classmethod
    def from_private_bytes(cls, data: bytes) -> RecipientKey:
        """Load a §3 private key (``0x01 ‖ seed``, 33 bytes).

        Raises:
            TypeError: ``data`` is not bytes.
            ValueError: wrong length or unknown version.
        """
        _check_bytes("private key", data)
        if len(data) != PRIVATE_KEY_BYTES or data[0] != FORMAT_VERSION:
            raise ValueError(f"a sealing private key is {PRIVATE_KEY_BYTES} bytes starting 0x01")
        return cls(data[1:])

    def private_bytes(self) -> bytes:
        """The §3 private encoding; store it as a secret (RK-KEY-001)."""
        return _VERSION + self._seed

    def public_key(self) -> SealingPublicKey:
        return self._public

    def public_bytes(self) -> bytes:
        """The §3 public encoding to hand to providers (1217 bytes)."""
        return self._public.public_bytes()

    def __repr__(self) -> str:  # never show key material (RK-KEY-001)
        return f"RecipientKey(public={self._public!r}, private=<redacted>)"


def generate_recipient_key() -> RecipientKey:
    """A fresh recipient key from 32 bytes of ``os.urandom`` (draft-ietf-hpke-pq)."""
    return RecipientKey(os.urandom(_SEED_BYTES))


def seal(
    public_key: bytes | SealingPublicKey, plaintext: bytes, *, info: bytes, aad: bytes
) -> bytes:
    """Seal ``plaintext`` to the holder of ``public_key`` (§4).

    Args:
        public_key: the requester's §3 public key, as bytes or as loaded with
            :func:`load_public_key`.
        plaintext: the answer payload, any length (the hub accepts ≥ 1 MiB).
        info: names the protocol; :data:`ANSWER_INFO` for answers.
        aad: binds the envelope to its context; :func:`answer_aad` (linkage id
            and pattern id) for answers, so that an answer cannot be replayed
            into another linkage.

    Returns:
        ``0x01 ‖ enc ‖ ct``: ``len(plaintext) + 1137`` bytes, fresh randomness
        every call.

    Raises:
        TypeError: an argument is not bytes (or a loaded key).
        ValueError: a malformed public key.
    """
    key = public_key if isinstance(public_key, SealingPublicKey) else load_public_key(public_key)
    _check_bytes("plaintext", plaintext)
    return _VERSION + _SUITE.encrypt(plaintext, key._key, info=_hpke_info(info, aad))


def open_sealed(recipient_key: RecipientKey, envelope: bytes, *, info: bytes, aad: bytes) -> bytes:
    """Open an envelope made by :func:`seal` with the same ``info`` and ``aad``.

    Returns:
        The plaintext.

    Raises:
        SealError: for every reason the envelope does not open (wrong key,
            altered, truncated or extended bytes, unknown version, wrong
            ``info`` or ``aad``).
        TypeError: an argument has the wrong type (misuse, not a bad envelope).
    """
    if not isinstance(recipient_key, RecipientKey):
        raise TypeError("recipient_key must be a RecipientKey")
    _check_bytes("envelope", envelope)
    hpke_info = _hpke_info(info, aad)
    if len(envelope) < ENVELOPE_OVERHEAD or envelope[0] != FORMAT_VERSION:
        raise SealError
    try:
        return _SUITE.decrypt(memoryview(envelope)[1:], recipient_key._private, info=hpke_info)
    except (InvalidTag, ValueError):
        raise SealError from None
