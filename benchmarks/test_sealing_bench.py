"""Sealed answers (specs/sealed-answer.md): seal and open of a 1 KB answer.

Each path is paired with its floor, the raw ``cryptography`` HPKE call
(MLKEM768-X25519, HKDF-SHA256, AES-256-GCM) on the same 1,024-byte payload with
the same HPKE info and an already loaded key:

(a) ``seal`` given the requester's public key as bytes, against
    ``Suite.encrypt`` (the reference keeps the last 64 parsed keys, so this is a
    provider answering a requester it has answered before; the first answer to
    a requester also pays the ~25 µs ML-KEM key check, ratio ≈ 0.8);
(b) ``seal`` given a key loaded with ``load_public_key``, against the same;
(c) ``open_sealed``, against ``Suite.decrypt``.

``ratio = floor / path`` (1.0 means no overhead); seals or opens per second are
printed and kept in ``extra_info``.  No assertion on time.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from renkei_reference.sealing import (
    ANSWER_INFO,
    RecipientKey,
    answer_aad,
    generate_recipient_key,
    load_public_key,
    open_sealed,
    seal,
)

SUITE = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)
PAYLOAD = os.urandom(1024)
AAD = answer_aad("lk-01J9Z3Q4W8", "P-0001")
# §5.1 of the spec, built by hand so the floor does the same key schedule work.
HPKE_INFO = (
    b"renkei-sealed\x01"
    + len(ANSWER_INFO).to_bytes(4, "big")
    + ANSWER_INFO
    + len(AAD).to_bytes(4, "big")
    + AAD
)
NUMBER = 200  # calls per block: ≈ 15 ms of CPU


def _raw_keys(key: RecipientKey) -> tuple[Any, Any]:
    """The floor's bare ``cryptography`` keys: the same key material, loaded once."""
    wide = hashlib.shake_256(key.private_bytes()[1:]).digest(96)
    private = hpke.MLKEM768X25519PrivateKey(
        mlkem.MLKEM768PrivateKey.from_seed_bytes(wide[:64]),
        x25519.X25519PrivateKey.from_private_bytes(wide[64:]),
    )
    pk = key.public_bytes()
    public = hpke.MLKEM768X25519PublicKey(
        mlkem.MLKEM768PublicKey.from_public_bytes(pk[1:1185]),
        x25519.X25519PublicKey.from_public_bytes(pk[1185:]),
    )
    return private, public


def _record_rate(benchmark: Any, ratio: float, verb: str) -> None:
    if "path_s" not in benchmark.extra_info:  # instruction counts: no times
        return
    rate = 1.0 / benchmark.extra_info["path_s"]  # per second of CPU time, as the floor's
    floor_rate = 1.0 / benchmark.extra_info["floor_s"]
    benchmark.extra_info.update({f"{verb}_per_s": round(rate), "floor_per_s": round(floor_rate)})
    print(f"  {verb}: {rate:,.0f}/s, floor {floor_rate:,.0f}/s, ratio {ratio:.2f}")


def test_seal_1kb_from_public_key_bytes(paired: Callable[..., float], benchmark: Any) -> None:
    key = generate_recipient_key()
    public = key.public_bytes()
    _, raw_public = _raw_keys(key)

    def path() -> bytes:
        return seal(public, PAYLOAD, info=ANSWER_INFO, aad=AAD)

    def floor() -> bytes:
        return SUITE.encrypt(PAYLOAD, raw_public, info=HPKE_INFO)

    assert open_sealed(key, path(), info=ANSWER_INFO, aad=AAD) == PAYLOAD
    _record_rate(benchmark, paired(floor, path, number=NUMBER), "seals")


def test_seal_1kb_with_loaded_public_key(paired: Callable[..., float], benchmark: Any) -> None:
    key = generate_recipient_key()
    loaded = load_public_key(key.public_bytes())
    _, raw_public = _raw_keys(key)

    def path() -> bytes:
        return seal(loaded, PAYLOAD, info=ANSWER_INFO, aad=AAD)

    def floor() -> bytes:
        return SUITE.encrypt(PAYLOAD, raw_public, info=HPKE_INFO)

    assert open_sealed(key, path(), info=ANSWER_INFO, aad=AAD) == PAYLOAD
    _record_rate(benchmark, paired(floor, path, number=NUMBER), "seals")


def test_open_1kb(paired: Callable[..., float], benchmark: Any) -> None:
    key = generate_recipient_key()
    raw_private, _ = _raw_keys(key)
    envelope = seal(key.public_bytes(), PAYLOAD, info=ANSWER_INFO, aad=AAD)
    raw = envelope[1:]

    def path() -> bytes:
        return open_sealed(key, envelope, info=ANSWER_INFO, aad=AAD)

    def floor() -> bytes:
        return SUITE.decrypt(raw, raw_private, info=HPKE_INFO)

    assert path() == floor() == PAYLOAD
    _record_rate(benchmark, paired(floor, path, number=NUMBER), "opens")
