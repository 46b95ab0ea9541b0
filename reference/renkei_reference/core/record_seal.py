"""Sealed state records: the hub's durable state is verified when read (RK-LOG-010).

Beside its logs the hub keeps state a crash must not lose — linkages in
flight, answers in transit, used request ids, aliases, agencies, patterns,
holds, retention periods, consents (services.hub).  Each record is stored with
an HMAC-SHA256 tag over its space, key and value, under a key derived (HKDF)
from the hub's log signing key — the custody of the log it sits beside.  A
record whose tag does not verify is never used: the hub refuses to start with
a ``log-tampered`` problem naming the space, the key and ``record``.  The tag
binds the key and space too, so a record cannot be moved to another key.
"""

from __future__ import annotations

import hmac as std_hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .log_integrity import LogTamperedError

__all__ = [
    "DIGEST_MODULUS",
    "RECORD_KEY_INFO",
    "open_record",
    "record_element",
    "record_key",
    "record_tag",
    "seal_record",
    "tag_matches",
]

RECORD_KEY_INFO = b"renkei/hub/state-record/v1"
_VERSION = "s1"
_ELEMENT = "e1"
DIGEST_MODULUS = 1 << 256
"""The sums of record elements (a sealed digest of a space's records) are taken modulo 2^256."""


def record_key(secret: bytes) -> bytes:
    """The 256-bit key of the record tags: HKDF-SHA256 of a hub-held secret."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=RECORD_KEY_INFO).derive(
        secret
    )


_GIL_FREE = 2047
"""The standard library's OpenSSL hashing lets go of the interpreter lock for inputs
of 2,048 bytes or more; the hub's other thread (the store's writer) then takes it and
the event loop waits for it back.  Longer messages are fed in pieces below that."""

_KEYED: dict[bytes, std_hmac.HMAC] = {}
"""The HMAC-SHA256 state after each key (a few: the record key), copied for each
tag instead of keyed again (a third less work a tag).  A state is only ever
copied, never fed: a copy is one call that keeps the interpreter lock, so the
store's writer thread and the event loop may share it."""


def _keyed(key: bytes) -> std_hmac.HMAC:
    mac = _KEYED.get(key)
    if mac is None:
        if len(_KEYED) >= 8:
            _KEYED.clear()
        mac = _KEYED[key] = std_hmac.new(key, digestmod="sha256")
    return mac.copy()


def _mac(key: bytes, *parts: str) -> bytes:
    """HMAC-SHA256 over each part as its 8-byte big-endian length and its UTF-8 bytes,
    with the standard library's OpenSSL HMAC (the same tag however the message is
    fed): a copy of the keyed state, fed the message in pieces that keep the
    interpreter lock (``_GIL_FREE``)."""
    message = bytearray()
    for part in parts:
        data = part.encode("utf-8", "surrogateescape")
        message += len(data).to_bytes(8, "big")
        message += data
    mac = _keyed(key)
    if len(message) <= _GIL_FREE:
        mac.update(message)
    else:
        view = memoryview(message)
        for at in range(0, len(view), _GIL_FREE):
            mac.update(view[at : at + _GIL_FREE])
    return mac.digest()


def _tag(key: bytes, space: str, name: str, value: str) -> str:
    return _mac(key, space, name, value).hex()


def record_tag(key: bytes, space: str, name: str, value: str) -> str:
    """The seal tag of ``value`` as ``name`` in ``space`` (hex HMAC-SHA256): what
    ``seal_record`` stores, for a value kept outside the store (the key file)."""
    return _tag(key, space, name, value)


def tag_matches(key: bytes, space: str, name: str, value: str, tag: str) -> bool:
    """Whether ``tag`` is ``value``'s ``record_tag`` (compared in constant time)."""
    return std_hmac.compare_digest(tag, _tag(key, space, name, value))


def record_element(key: bytes, space: str, name: str, stored: str) -> int:
    """A stored record's element of its space's digest: HMAC-SHA256 (under the
    record key, apart from the seal by a leading ``e1``) of its space, key and
    seal tag, as a number; the tag is an HMAC of the value, so the element
    depends on the value without hashing it again (an answer in transit is
    kilobytes).  A stored form that is not a seal (``s1:<tag>:<value>``) counts
    whole; it never opens.  The digest of a space is the count of its records
    and the sum of their elements modulo ``DIGEST_MODULUS``: a record deleted,
    added or put back from an earlier copy changes it, and without the key no
    other set of records can be made to give the same sum."""
    version, _, rest = stored.partition(":")
    tag = rest.partition(":")[0] if version == _VERSION else stored
    return int.from_bytes(_mac(key, _ELEMENT, space, name, tag), "big")


def seal_record(key: bytes, space: str, name: str, value: str) -> str:
    """The stored form of a record: ``s1:<tag>:<value>``."""
    return f"{_VERSION}:{_tag(key, space, name, value)}:{value}"


def open_record(key: bytes, space: str, name: str, stored: str) -> str:
    """The value of a stored record, or ``LogTamperedError`` when its tag does not
    verify (a changed byte anywhere in space, key, tag or value)."""
    version, _, rest = stored.partition(":")
    tag, _, value = rest.partition(":")
    if version != _VERSION or not std_hmac.compare_digest(tag, _tag(key, space, name, value)):
        raise LogTamperedError(
            log="state", where=f"{space} {name!r}", field="record", why="its seal does not verify"
        )
    return value
