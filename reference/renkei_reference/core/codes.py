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

import base64
import binascii
import re
from dataclasses import dataclass

import icontract

from .check_digit import is_valid_individual_number, is_valid_resident_code
from .crypto import CodeCipher, DecryptionFailedError
from .errors import CallerError, PermissionDeniedError

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

_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")
ID_CODE_LABEL = b"renkei/id-code/v1"
LINK_CODE_LABEL = b"renkei/link-code/v1"
_SIV_TAG = 16
ID_CODE_BYTES = 1 + _SIV_TAG + 11
LINK_CODE_BYTES = 1 + _SIV_TAG + ID_CODE_BYTES
LINK_CODE_CHARS = 60  # base64url of 45 bytes, no padding


@dataclass(frozen=True, slots=True)
class ResidentCode:
    """住民票コード: 11 ASCII digits with a check digit (RK-NUM-006)."""

    value: str

    def __post_init__(self) -> None:
        if not is_valid_resident_code(self.value):
            raise CallerError(
                "malformed-resident-code",
                "a resident code (住民票コード) is 11 digits whose last digit checks",
                "RK-NUM-006",
            )


@dataclass(frozen=True, slots=True)
class IndividualNumber:
    """個人番号: the visible 12-digit Number (RK-NUM-004)."""

    value: str

    def __post_init__(self) -> None:
        if not is_valid_individual_number(self.value):
            raise CallerError(
                "malformed-number",
                "a Number (個人番号) is 12 digits whose last digit checks",
                "RK-NUM-004",
            )


@dataclass(frozen=True, slots=True)
class AgencyId:
    """Identifier of an information-holding agency (情報保有機関) or a link-code unit."""

    value: str

    def __post_init__(self) -> None:
        if not _AGENCY_ID.fullmatch(self.value):
            raise CallerError(
                "malformed-agency-id",
                "an agency id is 1-63 characters of a-z, 0-9, '.', '_' or '-'",
                "RK-ARCH-002",
            )


@dataclass(frozen=True, slots=True)
class IdCode:
    """ＩＤコード: key version byte ‖ AES-SIV(resident code).  Hub-only (RK-IDC-001)."""

    raw: bytes

    def __post_init__(self) -> None:
        if len(self.raw) != ID_CODE_BYTES:
            raise CallerError("malformed-id-code", "an ID code is 28 bytes", "RK-IDC-001")

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
        if len(text) != LINK_CODE_CHARS or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
            raise CallerError(
                "malformed-link-code",
                f"a link code is {LINK_CODE_CHARS} base64url characters",
                "RK-LNK-004",
            )
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        except (binascii.Error, ValueError) as exc:  # pragma: no cover - regex guards it
            raise CallerError("malformed-link-code", "not base64url", "RK-LNK-004") from exc
        return cls(raw)

    def text(self) -> str:
        return base64.urlsafe_b64encode(self.raw).rstrip(b"=").decode("ascii")


@icontract.ensure(lambda result: len(result.raw) == ID_CODE_BYTES)
def id_code_of(cipher: CodeCipher, resident: ResidentCode) -> IdCode:
    """Derive the ID code of a resident (RK-IDC-001): SIV(resident code), versioned."""
    body = cipher.encrypt(resident.value.encode("ascii"), (ID_CODE_LABEL,))
    return IdCode(bytes([cipher.version]) + body)


def resident_code_of(cipher: CodeCipher, id_code: IdCode) -> ResidentCode:
    """Invert ``id_code_of`` (hub-internal; used when a resident code changes)."""
    if id_code.key_version != cipher.version:
        raise PermissionDeniedError(
            "unknown-key-version", "the ID code was made under another key version", "RK-IDC-002"
        )
    try:
        plain = cipher.decrypt(id_code.raw[1:], (ID_CODE_LABEL,))
    except DecryptionFailedError as exc:
        raise CallerError(
            "forged-id-code", "the ID code does not authenticate", "RK-IDC-001"
        ) from exc
    return ResidentCode(plain.decode("ascii"))


@icontract.ensure(lambda result: len(result.raw) == LINK_CODE_BYTES)
def link_code_for(cipher: CodeCipher, id_code: IdCode, unit: AgencyId) -> LinkCode:
    """The link code of a person at an agency (or link-code unit) (RK-LNK-001)."""
    body = cipher.encrypt(id_code.raw, (LINK_CODE_LABEL, unit.value.encode("utf-8")))
    return LinkCode(bytes([cipher.version]) + body)


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
        plain = cipher.decrypt(link.raw[1:], (LINK_CODE_LABEL, unit.value.encode("utf-8")))
    except DecryptionFailedError as exc:
        raise CallerError(
            "link-code-not-valid-for-agency",
            "the link code does not authenticate for the presenting agency "
            "(issued to another agency, forged or altered)",
            "RK-LNK-002",
        ) from exc
    return IdCode(plain)
