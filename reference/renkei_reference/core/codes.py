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

import icontract

from .contract_levels import HOT
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
_SIV_TAG = 16
ID_CODE_BYTES = 1 + _SIV_TAG + 11
LINK_CODE_BYTES = 1 + _SIV_TAG + ID_CODE_BYTES
LINK_CODE_CHARS = 60  # base64url of 45 bytes, no padding
# base64url ↔ base64 by byte tables; '+' and '/' in the input become invalid ('-', '_').
_FROM_URLSAFE = bytes.maketrans(b"-_+/", b"+/-_")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")


_new = bytes.__new__
_PREFIX = tuple(bytes((v,)) for v in range(256))  # the key-version byte of each code


class IdCode(bytes):
    """ＩＤコード: key version byte ‖ AES-SIV(resident code).  Hub-only (RK-IDC-001).

    A ``bytes`` value of exactly 28 bytes: immutable, hashable, and as cheap to
    make as the bytes themselves on the per-query path.
    """

    __slots__ = ()

    def __new__(cls, raw: bytes) -> IdCode:
        if len(raw) != ID_CODE_BYTES:
            raise CallerError("malformed-id-code", "an ID code is 28 bytes", "RK-IDC-001")
        return _new(cls, raw)

    @property
    def raw(self) -> bytes:
        return self

    @property
    def key_version(self) -> int:
        return self[0]

    def __repr__(self) -> str:
        return f"IdCode({bytes.hex(self)})"


class LinkCode(bytes):
    """リンクコード: key version byte ‖ AES-SIV(ID code; AD = agency), base64url on the wire.

    A ``bytes`` value of exactly 45 bytes (see ``IdCode``).
    """

    __slots__ = ()

    def __new__(cls, raw: bytes) -> LinkCode:
        if len(raw) != LINK_CODE_BYTES:
            raise CallerError("malformed-link-code", "a link code is 45 bytes", "RK-LNK-004")
        return _new(cls, raw)

    @property
    def raw(self) -> bytes:
        return self

    @property
    def key_version(self) -> int:
        return self[0]

    def __repr__(self) -> str:
        return f"LinkCode({self.text()})"

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
        return _new(cls, raw)

    def text(self) -> str:
        # 45 bytes encode to exactly 60 characters: no padding to strip
        return binascii.b2a_base64(self, newline=False).translate(_TO_URLSAFE).decode()


@icontract.ensure(lambda result: len(result.raw) == ID_CODE_BYTES, enabled=HOT)
def id_code_of(cipher: CodeCipher, resident: ResidentCode) -> IdCode:
    """Derive the ID code of a resident (RK-IDC-001): SIV(resident code), versioned."""
    body = cipher.encrypt(resident.value.encode("ascii"), [ID_CODE_LABEL])
    return _new(IdCode, _PREFIX[cipher.version] + body)


def resident_code_of(cipher: CodeCipher, id_code: IdCode) -> ResidentCode:
    """Invert ``id_code_of`` (hub-internal; used when a resident code changes)."""
    if id_code.key_version != cipher.version:
        raise PermissionDeniedError(
            "unknown-key-version", "the ID code was made under another key version", "RK-IDC-002"
        )
    try:
        plain = cipher.decrypt(id_code[1:], [ID_CODE_LABEL])
    except DecryptionFailedError as exc:
        raise CallerError(
            "forged-id-code", "the ID code does not authenticate", "RK-IDC-001"
        ) from exc
    return ResidentCode(plain.decode("ascii"))


@icontract.ensure(lambda result: len(result.raw) == LINK_CODE_BYTES, enabled=HOT)
def link_code_for(cipher: CodeCipher, id_code: IdCode, unit: AgencyId) -> LinkCode:
    """The link code of a person at an agency (or link-code unit) (RK-LNK-001)."""
    body = cipher.encrypt(id_code, unit.link_ad)
    return _new(LinkCode, _PREFIX[cipher.version] + body)


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
    if link[0] != cipher.version:
        raise PermissionDeniedError(
            "unknown-key-version",
            f"the link code was made under key version {link.key_version}, which is not current",
            "RK-LNK-005",
        )
    try:
        plain = cipher.decrypt(link[1:], unit.link_ad)
    except DecryptionFailedError as exc:
        raise CallerError(
            "link-code-not-valid-for-agency",
            "the link code does not authenticate for the presenting agency "
            "(issued to another agency, forged or altered)",
            "RK-LNK-002",
        ) from exc
    return _new(IdCode, plain)  # authenticated: it is the 28 bytes the hub encrypted
