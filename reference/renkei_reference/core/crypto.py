"""A small, fixed surface over ``cryptography`` for the code conversions.

AES-SIV (RFC 5297, 512-bit keys) gives deterministic authenticated encryption:
what seed item 7 calls 可逆暗号方式.  Keys are derived with HKDF-SHA256 from a
root secret and a label that separates every use (RK-IDC-002): the ID-code key
and the link-code key of one version are unrelated, and no key of the hub is
related to the numbering authority's table (RK-NUM-001).

The ``CodeCipher`` protocol is what the rest of the core sees, so contract
checkers can stand a pure-Python double in for the C implementation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["AesSivCipher", "CodeCipher", "DecryptionFailedError", "derive_key"]

ROOT_SECRET_BYTES = 32


DecryptionFailedError = InvalidTag
"""The ciphertext did not authenticate (one opaque failure, as in Fernet).  It is
``cryptography``'s own ``InvalidTag``, so that the bound C methods need no Python
wrapper on the per-query path; pure-Python doubles raise it too."""


class CodeCipher(Protocol):
    """Deterministic authenticated encryption under one key version.

    Associated data is a ``list`` of byte strings, as ``cryptography`` takes it.
    """

    @property
    def version(self) -> int: ...

    def encrypt(self, plaintext: bytes, associated: list[bytes]) -> bytes: ...

    def decrypt(self, ciphertext: bytes, associated: list[bytes]) -> bytes: ...


def derive_key(root_secret: bytes, purpose: str, version: int) -> bytes:
    """HKDF-SHA256(root, info = "renkei/<purpose>/v<version>") → 64 bytes (AES-SIV-256)."""
    if len(root_secret) < ROOT_SECRET_BYTES:
        raise ValueError(f"root secret must be at least {ROOT_SECRET_BYTES} bytes")
    if not 0 <= version <= 255:
        raise ValueError("key version is one byte")
    info = f"renkei/{purpose}/v{version}".encode("ascii")
    return HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=info).derive(root_secret)


class AesSivCipher:
    """``CodeCipher`` backed by ``cryptography``'s AES-SIV.

    ``encrypt`` and ``decrypt`` are the C methods themselves, bound per
    instance: no Python frame per call on the per-query path.
    """

    __slots__ = ("_siv", "decrypt", "encrypt", "version")

    def __init__(self, key: bytes, version: int) -> None:
        if len(key) != 64:
            raise ValueError("AES-SIV key must be 64 bytes")
        self._siv = AESSIV(key)
        self.version = version
        self.encrypt: Callable[[bytes, list[bytes]], bytes] = self._siv.encrypt
        self.decrypt: Callable[[bytes, list[bytes]], bytes] = self._siv.decrypt

    @classmethod
    def derived(cls, root_secret: bytes, purpose: str, version: int) -> AesSivCipher:
        return cls(derive_key(root_secret, purpose, version), version)

    def __repr__(self) -> str:  # never show key material (RK-KEY-001)
        return f"AesSivCipher(version={self.version}, key=<redacted>)"
