"""Code conversion: link(A) → ID code → link(B), against two raw AES-SIV calls.

Issue 3 target: ratio ≥ 0.8 (specs/benchmarks/thresholds.yaml).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from renkei_reference.core.codes import (
    AgencyId,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
)
from renkei_reference.core.crypto import AesSivCipher, derive_key

SECRET = bytes(range(32))


def conversion_pair() -> tuple[Callable[[], Any], Callable[[], Any]]:
    """Link → ID → link conversion (the path) and raw AES-SIV decrypt + encrypt (the floor)."""
    id_cipher = AesSivCipher.derived(SECRET, "id-code", 1)
    link_cipher = AesSivCipher.derived(SECRET, "link-code", 1)
    a, b = AgencyId("city.131016"), AgencyId("nenkin-kiko")
    text = link_code_for(link_cipher, id_code_of(id_cipher, ResidentCode("12345678903")), a).text()

    def path() -> str:
        id_code = id_code_from_link_code(link_cipher, LinkCode.parse(text), a)
        return link_code_for(link_cipher, id_code, b).text()

    siv = AESSIV(derive_key(SECRET, "link-code", 1))
    ad_a, ad_b = [b"renkei/link-code/v1", b"city.131016"], [b"renkei/link-code/v1", b"nenkin-kiko"]
    body = LinkCode.parse(text).raw[1:]

    def floor() -> bytes:
        return siv.encrypt(siv.decrypt(body, ad_a), ad_b)

    return floor, path


def test_link_to_id_to_link(paired: Callable[..., float]) -> None:
    paired(*conversion_pair(), number=2000)


def test_code_conversion_without_wire_encoding(paired: Callable[..., float]) -> None:
    """The same conversion on parsed codes: what the cipher layer itself costs,
    without base64url parsing and printing of the wire form."""
    id_cipher = AesSivCipher.derived(SECRET, "id-code", 1)
    link_cipher = AesSivCipher.derived(SECRET, "link-code", 1)
    a, b = AgencyId("city.131016"), AgencyId("nenkin-kiko")
    link_a = link_code_for(link_cipher, id_code_of(id_cipher, ResidentCode("12345678903")), a)

    def path() -> LinkCode:
        return link_code_for(link_cipher, id_code_from_link_code(link_cipher, link_a, a), b)

    siv = AESSIV(derive_key(SECRET, "link-code", 1))
    ad_a, ad_b = [b"renkei/link-code/v1", b"city.131016"], [b"renkei/link-code/v1", b"nenkin-kiko"]
    body = link_a.raw[1:]

    def floor() -> bytes:
        return siv.encrypt(siv.decrypt(body, ad_a), ad_b)

    paired(floor, path, number=2000)
