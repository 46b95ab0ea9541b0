"""The three codes of a person and the typed values around them (seed items 3–10).

* ``ResidentCode`` — 住民票コード, 11 digits, the source of everything.
* ``IndividualNumber`` — 個人番号, the *visible* 12-digit Number; made by the
  numbering authority's random conversion table, never from a key (RK-NUM-001).
* ``IdCode`` — ＩＤコード, the *invisible* code held by the hub alone: the
  resident code encrypted with AES-SIV under the hub's ID-code key (RK-IDC-001).
* ``LinkCode`` — リンクコード, per agency: the ID code encrypted with AES-SIV under
  the link-code key with the agency bound as associated data (RK-LNK-001..004).

The two encryptions are reversible (seed item 7, 可逆暗号方式), deterministic
(the same person always has the same link code at the same agency, so the
agency can keep its correspondence table, item 15) and authenticated (a forged,
altered or misdirected code fails to decrypt).  The key version travels in the
first byte of each code (RK-IDC-002).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

import icontract

from .crypto import CodeCipher, DecryptionFailedError
from .errors import CallerError, PermissionDeniedError
from .identifiers import AgencyId, IndividualNumber, ResidentCode

__all__ = [
    "AgencyId",
    "IdCode",
    "IndividualNumber",
    "LinkCode",
    "ResidentCode",
    "id_code_from_link_code",
    "id_code_of",
    "link_code_for",
    "resident_code_of",
]

ID_CODE_LABEL = b"renkei/id-code/v1"
LINK_CODE_LABEL = b"renkei/link-code/v1"
_SIV_TAG = 16
ID_CODE_BYTES = 1 + _SIV_TAG + 11
LINK_CODE_BYTES = 1 + _SIV_TAG + ID_CODE_BYTES
LINK_CODE_CHARS = 60  # base64url of 45 bytes, no padding
# base64url ↔ base64 by byte tables; '+' and '/' in the input become invalid ('-', '_').
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/-_")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
HOT = icontract.SLOW
"""Contracts on the per-query path are checked when ICONTRACT_SLOW is set (the
test command sets it); elsewhere they would cost more than the cipher."""


@dataclass(frozen=True, slots=True)
class IdCode:
    """ＩＤコード: key version byte ‖ AES-SIV(resident code).  Hub-only (RK-IDC-001)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != ID_CODE_BYTES:
            raise CallerError("malformed-id-code", "an ID code is 28 bytes", "RK-IDC-001")

    @classmethod
    def _made(cls, raw: bytes) -> IdCode:
        """An ID code this module just made or authenticated: its length is known."""
        code = object.__new__(cls)
        object.__setattr__(code, "raw", raw)
        return code

    @property
    def key_version(self) -> int:
        return self.raw[0]

    def hex(self) -> str:
        return self.raw.hex()


@dataclass(frozen=True, slots=True)
class LinkCode:
    """リンクコード: key version byte ‖ AES-SIV(ID code; AD = agency), base64url on the wire."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != LINK_CODE_BYTES:
            raise CallerError("malformed-link-code", "a link code is 45 bytes", "RK-LNK-004")

    @classmethod
    def _made(cls, raw: bytes) -> LinkCode:
        """A link code this module just made or parsed to length: no re-check."""
        code = object.__new__(cls)
        object.__setattr__(code, "raw", raw)
        return code

    @property
    def key_version(self) -> int:
        return self.raw[0]

    @classmethod
    def parse(cls, text: str) -> LinkCode:
        """Parse the wire form; a Number or anything else is refused specifically.

        Raises:
            CallerError: ``number-where-link-code-expected`` (RK-NUM-003) for a
                12-digit Number, ``malformed-link-code`` (RK-LNK-004) otherwise.
        """
        if len(text) == 12 and text.isascii() and text.isdigit():
            raise CallerError(
                "number-where-link-code-expected",
                "a 12-digit Number was sent where a link code is expected; agencies reach "
                "the hub with their own link codes only",
                "RK-NUM-003",
            )
        try:
            if len(text) != LINK_CODE_CHARS:
                raise ValueError
            # strict: any character outside the base64url alphabet is refused
            raw = binascii.a2b_base64(
                text.encode("ascii").translate(_FROM_URLSAFE), strict_mode=True
            )
        except (binascii.Error, ValueError, UnicodeEncodeError) as exc:
            raise CallerError(
                "malformed-link-code",
                f"a link code is {LINK_CODE_CHARS} base64url characters",
                "RK-LNK-004",
            ) from exc
        if len(raw) != LINK_CODE_BYTES:  # pragma: no cover - 60 base64 chars are 45 bytes
            raise CallerError("malformed-link-code", "a link code is 45 bytes", "RK-LNK-004")
        return cls._made(raw)

    def text(self) -> str:
        # 45 bytes encode to exactly 60 characters: no padding to strip
        return binascii.b2a_base64(self.raw, newline=False).translate(_TO_URLSAFE).decode()


@icontract.ensure(lambda result: len(result.raw) == ID_CODE_BYTES, enabled=HOT)
def id_code_of(cipher: CodeCipher, resident: ResidentCode) -> IdCode:
    """Derive the ID code of a resident (RK-IDC-001): SIV(resident code), versioned."""
    body = cipher.encrypt(resident.value.encode("ascii"), [ID_CODE_LABEL])
    return IdCode._made(bytes([cipher.version]) + body)


def resident_code_of(cipher: CodeCipher, id_code: IdCode) -> ResidentCode:
    """Invert ``id_code_of`` (hub-internal; used when a resident code changes)."""
    if id_code.key_version != cipher.version:
        raise PermissionDeniedError(
            "unknown-key-version", "the ID code was made under another key version", "RK-IDC-002"
        )
    try:
        plain = cipher.decrypt(id_code.raw[1:], [ID_CODE_LABEL])
    except DecryptionFailedError as exc:
        raise CallerError(
            "forged-id-code", "the ID code does not authenticate", "RK-IDC-001"
        ) from exc
    return ResidentCode(plain.decode("ascii"))


@icontract.ensure(lambda result: len(result.raw) == LINK_CODE_BYTES, enabled=HOT)
def link_code_for(cipher: CodeCipher, id_code: IdCode, unit: AgencyId) -> LinkCode:
    """The link code of a person at an agency (or link-code unit) (RK-LNK-001)."""
    body = cipher.encrypt(id_code.raw, [LINK_CODE_LABEL, unit.encoded])
    return LinkCode._made(bytes([cipher.version]) + body)


def id_code_from_link_code(cipher: CodeCipher, link: LinkCode, unit: AgencyId) -> IdCode:
    """Recover the ID code from a link code presented by ``unit``.

    Raises:
        PermissionDeniedError: ``unknown-key-version`` (RK-LNK-005) when the code
            was made under a key version the hub no longer (or never) held.
        CallerError: ``link-code-not-valid-for-agency`` (RK-LNK-002) when the
            code fails to authenticate for this agency: made for another agency,
            forged or altered.  AES-SIV cannot tell those apart, and a
            distinguishing answer would be an oracle, so one error serves all.
    """
    if link.key_version != cipher.version:
        raise PermissionDeniedError(
            "unknown-key-version",
            f"the link code was made under key version {link.key_version}, which is not current",
            "RK-LNK-005",
        )
    try:
        plain = cipher.decrypt(link.raw[1:], [LINK_CODE_LABEL, unit.encoded])
    except DecryptionFailedError as exc:
        raise CallerError(
            "link-code-not-valid-for-agency",
            "the link code does not authenticate for the presenting agency "
            "(issued to another agency, forged or altered)",
            "RK-LNK-002",
        ) from exc
    return IdCode._made(plain)
