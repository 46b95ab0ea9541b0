"""Key custody for the hub (seed item 11; RK-KEY-001..003, RK-IDC-002).

A ``KeyStore`` keeps, per key purpose (ID code, link code), the ring of
versions (core.keys.KeyRing) and one root secret per version; ciphers are
derived from those secrets with HKDF (core.crypto).  Secrets never leave the
store except as ciphers: ``repr`` is redacted, nothing is logged, and dumps
list versions only.

``FileKeyStore`` is the default for ``renkei serve``: one JSON file, written
atomically with mode 0600.  ``MemoryKeyStore`` serves tests and the in-process
target.  Version 1 of both purposes derives from one root secret, which is how
the informative vectors in specs/vectors/code-derivation.json are made.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...core.crypto import ROOT_SECRET_BYTES, AesSivCipher, CodeCipher
from ...core.errors import PermissionDeniedError
from ...core.instant import instant_of, iso_of
from ...core.keys import KeyPurpose, KeyRing, KeyVersion
from ...core.log_integrity import StateFileError
from ...core.record_seal import record_tag, tag_matches

__all__ = ["FileKeyStore", "KeyStore", "MemoryKeyStore", "load_or_create_log_signer"]

_MICROSECOND = timedelta(microseconds=1)  # the core's rings count windows in microseconds


class KeyStore(Protocol):
    def ring(self, purpose: KeyPurpose) -> KeyRing: ...

    def cipher(self, purpose: KeyPurpose, version: int) -> CodeCipher: ...

    def rotate(self, purpose: KeyPurpose, at: datetime, transition: timedelta) -> KeyRing: ...

    def describe(self) -> list[dict[str, Any]]: ...

    def seed(self, root_secret: bytes) -> None: ...


class MemoryKeyStore:
    """Keys held in memory; lost with the process."""

    def __init__(self, at: datetime, root_secret: bytes | None = None) -> None:
        secret = root_secret if root_secret is not None else secrets.token_bytes(ROOT_SECRET_BYTES)
        if len(secret) < ROOT_SECRET_BYTES:
            raise ValueError(f"a root secret has at least {ROOT_SECRET_BYTES} bytes")
        self._lock = threading.Lock()
        self._rings = {p: KeyRing.first(p, instant_of(at)) for p in KeyPurpose}
        self._secrets: dict[tuple[KeyPurpose, int], bytes] = {(p, 1): secret for p in KeyPurpose}
        self._ciphers: dict[tuple[KeyPurpose, int], CodeCipher] = {}

    def ring(self, purpose: KeyPurpose) -> KeyRing:
        return self._rings[purpose]

    def cipher(self, purpose: KeyPurpose, version: int) -> CodeCipher:
        key = (purpose, version)
        cached = self._ciphers.get(key)
        if cached is not None:
            return cached
        with self._lock:
            secret = self._secrets.get(key)
            if secret is None:
                raise PermissionDeniedError(
                    "unknown-key-version",
                    f"no {purpose.value} key of version {version} is held",
                    "RK-IDC-002",
                )
            cipher = AesSivCipher.derived(secret, purpose.value, version)
            self._ciphers[key] = cipher
            return cipher

    def rotate(self, purpose: KeyPurpose, at: datetime, transition: timedelta) -> KeyRing:
        with self._lock:
            ring = self._rings[purpose].rotate(instant_of(at), transition // _MICROSECOND)
            self._secrets[(purpose, ring.current)] = secrets.token_bytes(ROOT_SECRET_BYTES)
            self._rings[purpose] = ring
            self._saved()
            return ring

    def seed(self, root_secret: bytes) -> None:
        """Derive version 1 of every purpose from ``root_secret`` (test mode: the
        conformance kit supplies it at reset, before any code is made)."""
        if len(root_secret) < ROOT_SECRET_BYTES:
            raise ValueError(f"a root secret has at least {ROOT_SECRET_BYTES} bytes")
        with self._lock:
            for p in KeyPurpose:
                self._secrets[(p, 1)] = root_secret
            self._ciphers.clear()
            self._saved()

    def describe(self) -> list[dict[str, Any]]:
        """Versions only, never secrets (RK-KEY-001, RK-CTL-006)."""
        return [
            {
                "purpose": p.value,
                "version": v.version,
                "activated_at": iso_of(v.activated_at),
                "accepted_until": iso_of(v.accepted_until)
                if v.accepted_until is not None
                else None,
            }
            for p, ring in self._rings.items()
            for v in ring.versions
        ]

    def _saved(self) -> None:
        """Hook for durable stores; called under the lock after every change."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(versions={self.describe()!r}, secrets=<redacted>)"


def _write_secret_file(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically, mode 0600, fsynced."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".keys-")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_or_create_log_signer(path: Path) -> Ed25519PrivateKey:
    """The hub's log signing key (RK-LOG-004, RK-KEY-001), kept beside the code
    keys but distinct from them, so that a restarted hub signs the same log
    with the same key and its checkpoints stay verifiable with one pinned key."""
    if path.exists():
        try:
            return Ed25519PrivateKey.from_private_bytes(
                bytes.fromhex(path.read_text(encoding="ascii").strip())
            )
        except ValueError as exc:  # cut short, garbled (UnicodeDecodeError is one too)
            raise StateFileError(str(path), f"not a 32-byte hex Ed25519 key ({exc})") from None
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes_raw()
    _write_secret_file(path, raw.hex() + "\n")
    return key


KEY_FILE_SPACE, KEY_FILE_NAME = "key-file", "keys.json"
"""The space and name the key file's seal tag is made for (core.record_seal)."""


class FileKeyStore(MemoryKeyStore):
    """Keys in one JSON file (mode 0600), rewritten atomically on rotation.

    Sealed (``seal_key``, as ``renkei serve`` always gives: the state-record key,
    HKDF of the log signing key, core.record_seal): the file carries a ``seal``
    member, the HMAC-SHA256 tag of its canonical JSON without it, written with
    every change and checked when the file is read.  A secret, version or date
    changed by one digit no longer verifies, and the hub refuses to start naming
    the file (``StateFileError``, RK-LOG-010) instead of voiding every code made
    under the secret and blaming the agencies that present them.  A whole key
    file put back from an earlier copy verifies; it is behind the last rotation
    the administrative log recorded, which the start refuses too
    (services.hub.startup, RK-KEY-002).  A file written before the seal is
    refused unless ``adopt`` (``--adopt-state``), which seals it once.  Without
    ``seal_key`` (unit tests of the rings) the file is neither sealed nor checked.
    """

    def __init__(
        self, path: Path, at: datetime, *, seal_key: bytes | None = None, adopt: bool = False
    ) -> None:
        self._path = path
        self._seal_key, self._adopt_unsealed = seal_key, adopt
        if path.exists():
            super().__init__(at, secrets.token_bytes(ROOT_SECRET_BYTES))
            if self._load():  # unsealed and adopted: sealed from now on
                with self._lock:
                    self._saved()
        else:
            super().__init__(at)
            with self._lock:
                self._saved()

    def _load(self) -> bool:
        """The rings and secrets of the key file; a file that is not the JSON the
        hub writes (cut short, garbled, a member missing or of another type), or
        whose seal does not verify, is a ``StateFileError`` naming it
        (RK-LOG-010), never a traceback.  True if the file was unsealed (and
        ``adopt`` let it through)."""
        try:
            data = json.loads(self._path.read_text(encoding="utf-8"))
            unsealed = self._check_seal(data)
            self._parse(data)
        except (ValueError, KeyError, TypeError, AttributeError, AssertionError) as exc:
            # ValueError covers JSONDecodeError, UnicodeDecodeError and bad hex;
            # AssertionError an icontract violation of a malformed ring
            raise StateFileError(
                str(self._path), f"not a renkei key file ({type(exc).__name__}: {exc})"
            ) from None
        return unsealed

    def _check_seal(self, data: Any) -> bool:
        """Verify ``data``'s seal (see the class docstring); True if it has none."""
        if self._seal_key is None:
            return False
        tag = data.pop("seal", None)
        if tag is None:
            if self._adopt_unsealed:
                return True
            raise StateFileError(
                str(self._path),
                "it carries no seal (written before key files were sealed, or the seal "
                "removed): an operator adopts such a file once with --adopt-state",
            )
        if not isinstance(tag, str) or not tag_matches(
            self._seal_key, KEY_FILE_SPACE, KEY_FILE_NAME, _canonical(data), tag
        ):
            raise StateFileError(
                str(self._path),
                "its seal does not verify: a secret, version or date in it was changed",
            )
        return False

    def _parse(self, data: Any) -> None:
        if data.get("format") != 1:
            raise ValueError("format is not 1")
        rings: dict[KeyPurpose, KeyRing] = {}
        found: dict[tuple[KeyPurpose, int], bytes] = {}
        for name, versions in data["rings"].items():
            purpose = KeyPurpose(name)
            rows = []
            for v in versions:
                until = v["accepted_until"]
                rows.append(
                    KeyVersion(
                        v["version"],
                        instant_of(datetime.fromisoformat(v["activated_at"])),
                        instant_of(datetime.fromisoformat(until)) if until else None,
                    )
                )
                secret = bytes.fromhex(v["secret"])
                if len(secret) < ROOT_SECRET_BYTES:
                    raise ValueError(f"a secret of {len(secret)} bytes")
                found[(purpose, v["version"])] = secret
            rings[purpose] = KeyRing(purpose, tuple(rows))
        self._rings, self._secrets, self._ciphers = rings, found, {}

    def _saved(self) -> None:
        data = {
            "format": 1,
            "rings": {
                p.value: [
                    {
                        "version": v.version,
                        "activated_at": iso_of(v.activated_at),
                        "accepted_until": iso_of(v.accepted_until)
                        if v.accepted_until is not None
                        else None,
                        "secret": self._secrets[(p, v.version)].hex(),
                    }
                    for v in ring.versions
                ]
                for p, ring in self._rings.items()
            },
        }
        if self._seal_key is not None:
            data["seal"] = record_tag(
                self._seal_key, KEY_FILE_SPACE, KEY_FILE_NAME, _canonical(data)
            )
        _write_secret_file(self._path, json.dumps(data))


def _canonical(data: Any) -> str:
    """The text the key file's seal is made over (sorted keys, no white space)."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))
