"""Signed checkpoints of the hub's log: C2SP tlog-checkpoint in a C2SP signed note.

A checkpoint commits to one tree head of the log (RK-LOG-004); the hub signs
it with Ed25519 and hands it, with proofs, to anyone who asks (RK-LOG-009).

Checkpoint body (https://c2sp.org/tlog-checkpoint, "Note text") — at least
three non-empty lines, each ending in a newline (U+000A):

1. the **origin**, a unique identifier of the log;
2. the **tree size** in ASCII decimal, no leading zeroes (``0`` for the empty tree);
3. the **root hash**, standard base64 (RFC 4648 §4) of the RFC 6962/9162 root;
4. optional, opaque, non-empty **extension lines**.

Signed note (https://c2sp.org/signed-note, "Format") — the text, a blank
line, then one or more lines ``— <key name> <base64(key ID || signature)>``
(em dash U+2014 and a space).  For Ed25519 (signature type ``0x01``)::

    key ID = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4]

and the verifier key text is ``<name>+<hex key ID>+<base64(0x01 || public key)>``.

Verifying follows the spec's rules: signatures by unknown keys (another name
or key ID) are ignored; a signature by the known key that fails rejects the
whole note; a note without a verified signature by the known key is
rejected.  Remote input is refused with ``malformed-checkpoint`` (bad syntax)
or ``invalid-checkpoint-signature`` (no valid signature by the known key).
Local misuse — a bad key name or key passed by the caller — is ``ValueError``.

Ed25519 signing (RFC 8032) is deterministic, so it lives in the pure core; the
private key is passed in by the shell.  Note that ``open_checkpoint`` does not
compare the origin with the log the caller expects: the caller must check
``Checkpoint.origin``.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import re
from dataclasses import dataclass

import icontract
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .contract_levels import HOT
from .errors import CallerError
from .merkle import HASH_SIZE, MAX_TREE_SIZE

__all__ = [
    "ED25519_SIGNATURE_TYPE",
    "MAX_SIGNATURES",
    "Checkpoint",
    "key_id",
    "open_checkpoint",
    "open_note",
    "parse_checkpoint",
    "parse_verifier_key",
    "sign_checkpoint",
    "sign_note",
    "verifier_key",
]

ED25519_SIGNATURE_TYPE = 0x01
"""Signature type identifier byte of Ed25519 (C2SP signed-note, "Signature types")."""

MAX_SIGNATURES = 100
"""Signature lines accepted in one note; the spec asks for at least 16 (as Go's note package)."""

SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_ED25519_SIGNATURE_BYTES = 64
_KEY_ID_BYTES = 4
_TREE_SIZE = re.compile(r"(?:0|[1-9][0-9]*)")  # ASCII only; used with fullmatch


def _malformed(detail: str) -> CallerError:
    return CallerError("malformed-checkpoint", detail, "RK-LOG-009")


def _bad_signature(detail: str) -> CallerError:
    return CallerError("invalid-checkpoint-signature", detail, "RK-LOG-009")


_CONTROL = re.compile("[\x00-\x09\x0b-\x1f]")


def _has_control_characters(text: str) -> bool:
    """C2SP signed-note: no ASCII control characters other than newline."""
    return _CONTROL.search(text) is not None


def _is_valid_key_name(name: str) -> bool:
    """C2SP signed-note: non-empty, no Unicode spaces, no plus (U+002B), valid text."""
    return isinstance(name, str) and _is_valid_key_text(name)


@functools.lru_cache(maxsize=64)  # a log signs under one or two names, once per size
def _is_valid_key_text(name: str) -> bool:
    return (
        name != ""
        and "+" not in name
        and not any(ch.isspace() for ch in name)
        and not _has_control_characters(name)
        and _encodes(name)
    )


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def _is_valid_line(line: str) -> bool:
    return line != "" and "\n" not in line and not _has_control_characters(line) and _encodes(line)


def _b64decode(text: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4): alphabet, padding and canonical form."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not standard base64") from exc
    if base64.b64encode(raw).decode("ascii") != text:
        raise ValueError("not canonical base64")
    return raw


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's tree head: C2SP tlog-checkpoint "Note text".

    Attributes:
        origin: the log's identity line (non-empty).
        size: the tree size, ``0 ≤ size < 2^64``.
        root_hash: the 32-byte RFC 9162 root of the tree at ``size``.
        extensions: optional extension lines (non-empty; NOT RECOMMENDED by the spec).

    :raises CallerError: ``malformed-checkpoint`` when a field breaks the format.
    """

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not (isinstance(self.origin, str) and _is_valid_line(self.origin)):
            raise _malformed("the origin line must be non-empty text without control characters")
        if (
            not isinstance(self.size, int)
            or isinstance(self.size, bool)
            or not 0 <= self.size <= MAX_TREE_SIZE
        ):
            raise _malformed("the tree size must be an integer from 0 to 2^64 − 1")
        if not (isinstance(self.root_hash, bytes) and len(self.root_hash) == HASH_SIZE):
            raise _malformed("the root hash must be 32 bytes (SHA-256)")
        if not isinstance(self.extensions, tuple) or not all(
            isinstance(line, str) and _is_valid_line(line) for line in self.extensions
        ):
            raise _malformed("extension lines must be a tuple of non-empty lines")

    def body(self) -> bytes:
        """The note text: origin, size, base64 root and extensions, each with its newline."""
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root_hash).decode("ascii"),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines).encode("utf-8")


def _as_text(data: str | bytes, what: str) -> str:
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed(f"the {what} is not valid UTF-8") from exc
    if not _encodes(data):
        raise _malformed(f"the {what} is not valid UTF-8")
    return data


@icontract.ensure(
    lambda body, result: result.body() == (body if isinstance(body, bytes) else body.encode()),
    "the encoding is canonical: parsing and re-encoding gives the same bytes",
)
def parse_checkpoint(body: str | bytes) -> Checkpoint:
    """Parse a checkpoint body (C2SP tlog-checkpoint, "Note text").

    The body must be exactly the canonical text: every line ends in a newline,
    the size has no sign, spaces or leading zeroes, the root is canonical
    base64 of 32 bytes, no line is empty.

    :raises CallerError: ``malformed-checkpoint``.
    """
    text = _as_text(body, "checkpoint")
    if not text.endswith("\n"):
        raise _malformed("the checkpoint body must end with a newline")
    if _has_control_characters(text):
        raise _malformed("the checkpoint contains control characters")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise _malformed("a checkpoint has an origin, a tree size and a root hash line")
    if any(line == "" for line in lines):
        raise _malformed("checkpoint lines (origin and extensions too) must be non-empty")
    origin, size_line, root_line, *extensions = lines
    if not _TREE_SIZE.fullmatch(size_line) or int(size_line) > MAX_TREE_SIZE:
        raise _malformed("the tree size must be ASCII decimal without leading zeroes, below 2^64")
    try:
        root = _b64decode(root_line)
    except ValueError as exc:
        raise _malformed("the root hash must be canonical standard base64") from exc
    if len(root) != HASH_SIZE:
        raise _malformed("the root hash must be 32 bytes (SHA-256)")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def _public_bytes(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_key_name(name: str) -> None:
    if not _is_valid_key_name(name):
        raise ValueError("a key name is non-empty and has no spaces, '+' or control characters")


def _check_public_key(public_key: Ed25519PublicKey) -> None:
    if not isinstance(public_key, Ed25519PublicKey):
        raise TypeError("public_key must be an Ed25519PublicKey")


@icontract.ensure(lambda result: len(result) == _KEY_ID_BYTES, enabled=HOT)
def key_id(name: str, public_key: Ed25519PublicKey) -> bytes:
    """C2SP signed-note "Ed25519 signatures": ``SHA-256(name || 0x0A || 0x01 || key)[:4]``.

    :raises ValueError: ``name`` is not a valid key name.
    """
    _check_key_name(name)
    _check_public_key(public_key)
    material = (
        name.encode("utf-8") + b"\n" + bytes([ED25519_SIGNATURE_TYPE]) + _public_bytes(public_key)
    )
    return hashlib.sha256(material).digest()[:_KEY_ID_BYTES]


@icontract.ensure(lambda name, result: result.startswith(name + "+"))
def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The verifier key text ``<name>+<hex key ID>+<base64(0x01 || public key)>``.

    :raises ValueError: ``name`` is not a valid key name.
    """
    encoded = base64.b64encode(bytes([ED25519_SIGNATURE_TYPE]) + _public_bytes(public_key))
    return f"{name}+{key_id(name, public_key).hex()}+{encoded.decode('ascii')}"


def parse_verifier_key(vkey: str) -> tuple[str, Ed25519PublicKey]:
    """Parse ``<name>+<hex key ID>+<base64(0x01 || public key)>`` (Ed25519 only).

    The key ID must be the one the name and key give.

    :raises ValueError: malformed text, another signature type, or a key ID that does not match.
    """
    name, sep1, rest = vkey.partition("+")
    hex_id, sep2, encoded = rest.partition("+")
    if not (sep1 and sep2) or not _is_valid_key_name(name):
        raise ValueError("a verifier key is <name>+<hex key ID>+<base64 key>")
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise ValueError("the key ID of a verifier key is 8 lowercase hex digits")
    try:
        raw = _b64decode(encoded)
    except ValueError as exc:
        raise ValueError("the key of a verifier key is canonical standard base64") from exc
    if len(raw) != 33 or raw[0] != ED25519_SIGNATURE_TYPE:
        raise ValueError("only Ed25519 verifier keys (type 0x01, 32 bytes) are supported")
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_id(name, public_key).hex() != hex_id:
        raise ValueError("the key ID does not match the name and key")
    return name, public_key


@icontract.require(
    lambda text: isinstance(text, str) and text.endswith("\n"), "text ends in \\n", enabled=HOT
)
@icontract.ensure(
    lambda text, result: result.startswith(text + "\n" + SIGNATURE_PREFIX), enabled=HOT
)
def sign_note(text: str, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign ``text`` as a C2SP signed note with one Ed25519 signature line.

    :raises ValueError: ``name`` is not a valid key name, or ``text`` has an empty
        last line, control characters or is not encodable.
    """
    _check_key_name(name)
    if not isinstance(private_key, Ed25519PrivateKey):
        raise TypeError("private_key must be an Ed25519PrivateKey")
    if text == "\n" or text.endswith("\n\n") or _has_control_characters(text) or not _encodes(text):
        raise ValueError("note text must end in one newline and have no control characters")
    signature = private_key.sign(text.encode("utf-8"))
    blob = key_id(name, private_key.public_key()) + signature
    return f"{text}\n{SIGNATURE_PREFIX}{name} {base64.b64encode(blob).decode('ascii')}\n"


def sign_checkpoint(checkpoint: Checkpoint, name: str, private_key: Ed25519PrivateKey) -> str:
    """Sign a checkpoint (C2SP tlog-checkpoint "Signatures"); return the note text.

    The key name SHOULD match the origin line (the spec's advice, not enforced).

    :raises ValueError: ``name`` is not a valid key name.
    """
    return sign_note(checkpoint.body().decode("utf-8"), name, private_key)


def open_note(note: str | bytes, verifier_name: str, public_key: Ed25519PublicKey) -> str:
    """Verify a C2SP signed note with one known Ed25519 key; return its text.

    Args:
        note: the whole note (text, blank line, signature lines).
        verifier_name: the key name the signature line must carry.
        public_key: the Ed25519 key; with the name it gives the key ID.

    Returns:
        The verified note text, including its final newline.

    :raises CallerError: ``malformed-checkpoint`` for a note that breaks the format;
        ``invalid-checkpoint-signature`` when a signature by the known key fails or
        none is present.
    :raises ValueError: ``verifier_name`` is not a valid key name.
    """
    expected_id = key_id(verifier_name, public_key)
    text = _as_text(note, "note")
    if _has_control_characters(text):
        raise _malformed("a signed note has no control characters other than newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise _malformed("a signed note has a blank line before its signatures")
    body, signatures = text[: split + 1], text[split + 2 :]
    if not signatures.endswith("\n"):
        raise _malformed("a signed note ends with a signature line and a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise _malformed(f"more than {MAX_SIGNATURES} signature lines")
    verified = False
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise _malformed("a signature line starts with an em dash and a space")
        name, sep, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        if not sep or not _is_valid_key_name(name):
            raise _malformed("a signature line is '— <key name> <base64 signature>'")
        try:
            blob = _b64decode(encoded)
        except ValueError as exc:
            raise _malformed("a signature is canonical standard base64") from exc
        if len(blob) <= _KEY_ID_BYTES:
            raise _malformed("a signature is a 4-byte key ID and the signature bytes")
        if name != verifier_name or blob[:_KEY_ID_BYTES] != expected_id:
            continue  # an unknown key: ignored (C2SP signed-note, "Signatures")
        signature = blob[_KEY_ID_BYTES:]
        if len(signature) != _ED25519_SIGNATURE_BYTES:
            raise _bad_signature(f"the signature by {verifier_name} is not 64 bytes")
        try:
            public_key.verify(signature, body.encode("utf-8"))
        except InvalidSignature as exc:
            raise _bad_signature(f"the signature by {verifier_name} does not verify") from exc
        verified = True
    if not verified:
        raise _bad_signature(f"the note carries no signature by the known key {verifier_name}")
    return body


def open_checkpoint(
    note: str | bytes, verifier_name: str, public_key: Ed25519PublicKey
) -> Checkpoint:
    """Verify a signed checkpoint with the log's key and parse its body (RK-LOG-009).

    The caller must still compare ``origin`` with the log it expects and check
    consistency with the last checkpoint it verified (``merkle.verify_consistency``).

    :raises CallerError: ``malformed-checkpoint`` or ``invalid-checkpoint-signature``.
    :raises ValueError: ``verifier_name`` is not a valid key name.
    """
    return parse_checkpoint(open_note(note, verifier_name, public_key))
