"""Code conversion at the hub: the one home of the rules of RK-IDC, RK-LNK and RK-KEY.

Seed items 7, 9, 11 and 18: the hub turns a resident code into an ID code
(reversible encryption, RK-IDC-001), an ID code into a link code for one
agency's unit (RK-LNK-001, RK-LNK-006) and back, under the key versions the
key rings accept at that moment:

* the hub always **makes** codes under the current version (RK-KEY-002);
* it **accepts** codes of an older version until that version's transition
  window ends (``KeyRing.require``: RK-IDC-002 for ID codes, RK-LNK-005 for
  link codes), and re-makes what it accepted under the current version;
* a person whose resident code changed keeps the ID code of the first
  resident code: the new code's ID code is an **alias** of the first one
  (RK-IDC-003), so no agency has to re-bind;
* after an ID-key rotation every stored ID code of the old version is
  **re-made** under the new one (``remake``).

``Conversion`` is a value: the rings, the ciphers and the aliases in force at
one instant.  It does no I/O; the ciphers are ``cryptography``'s AES-SIV
(core.crypto), deterministic, so every function here is a pure function of
its inputs.  CrossHair cannot see into the C code of the cipher, so these
rules are checked by hypothesis properties (tests/test_conversion.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import icontract

from .codes import (
    AgencyId,
    IdCode,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
    resident_code_of,
)
from .contract_levels import HOT
from .crypto import CodeCipher
from .instant import Instant
from .keys import KeyPurpose, KeyRing

__all__ = ["Conversion", "remake"]

CipherFor = Callable[[KeyPurpose, int], CodeCipher]


@dataclass(frozen=True, slots=True)
class Conversion:
    """The hub's code conversion at one instant (RK-IDC-001..003, RK-LNK-001..006)."""

    id_ring: KeyRing
    link_ring: KeyRing
    cipher: CipherFor
    aliases: Mapping[bytes, bytes]  # an ID code -> the canonical ID code (RK-IDC-003)

    @icontract.ensure(lambda self, result: result.key_version == self.id_ring.current, enabled=HOT)
    def id_code(self, resident: ResidentCode) -> IdCode:
        """The canonical ID code of a resident under the current key (RK-IDC-001/003)."""
        code = id_code_of(self.cipher(KeyPurpose.ID_CODE, self.id_ring.current), resident)
        canonical = self.aliases.get(code.raw)
        return IdCode(canonical) if canonical is not None else code

    def resident(self, id_code: IdCode) -> ResidentCode:
        """The resident code behind an ID code of any version the hub still holds."""
        return resident_code_of(self.cipher(KeyPurpose.ID_CODE, id_code.key_version), id_code)

    @icontract.ensure(lambda self, result: result.key_version == self.id_ring.current, enabled=HOT)
    def current(self, id_code: IdCode, at: Instant) -> IdCode:
        """An ID code of an accepted version, re-made under the current one (RK-IDC-002)."""
        if id_code.key_version == self.id_ring.current:
            return id_code
        self.id_ring.require(id_code.key_version, at, "RK-IDC-002")
        return self.id_code(self.resident(id_code))

    @icontract.ensure(
        lambda self, result: result.key_version == self.link_ring.current, enabled=HOT
    )
    def link_out(self, id_code: IdCode, unit: AgencyId) -> LinkCode:
        """The link code of a person for a unit, made now under the current key (RK-LNK-001)."""
        cipher = self.cipher(KeyPurpose.LINK_CODE, self.link_ring.current)
        return link_code_for(cipher, id_code, unit)

    @icontract.ensure(lambda self, result: result.key_version == self.id_ring.current, enabled=HOT)
    def link_in(self, text: str, unit: AgencyId, at: Instant) -> IdCode:
        """A unit's link code → the person's current canonical ID code, or a specific
        refusal: malformed, of a version no longer accepted (RK-LNK-005), or not
        the unit's (RK-LNK-006)."""
        link = LinkCode.parse(text)
        self.link_ring.require(link.key_version, at, "RK-LNK-005")
        cipher = self.cipher(KeyPurpose.LINK_CODE, link.key_version)
        return self.current(id_code_from_link_code(cipher, link, unit), at)


def remake(old: CodeCipher, new: CodeCipher, old_version: int) -> Callable[[bytes], bytes]:
    """The re-keying of stored ID codes after an ID-key rotation (RK-KEY-002): a raw
    ID code of ``old_version`` becomes the same resident's under ``new``; any other
    is left as it is."""

    def move(raw: bytes) -> bytes:
        if raw[0] != old_version:
            return raw
        return id_code_of(new, resident_code_of(old, IdCode(raw))).raw

    return move
