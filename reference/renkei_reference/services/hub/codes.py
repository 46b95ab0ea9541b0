"""The hub's code desk: keys, aliases and re-keying around ``core.conversion``.

It owns the aliases of changed resident codes (RK-IDC-003), kept in the durable
store (space ``alias``) so that they outlive a restart, and the key rotations
(RK-KEY-002), which it records in the administrative log.  The conversion
rules themselves are ``core.conversion``'s.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from ...core.admin_log import AdminEvent
from ...core.codes import AgencyId, IdCode, LinkCode, ResidentCode, id_code_of
from ...core.conversion import Conversion, remake
from ...core.errors import CallerError
from ...core.instant import datetime_of, instant_of
from ...core.keys import KeyPurpose, KeyRing
from ..store.keystore import KeyStore
from ..store.log_store import SealedRecords
from .logs import HubLogs

__all__ = ["CodeDesk"]

ID, LINK = KeyPurpose.ID_CODE, KeyPurpose.LINK_CODE
ALIAS = "alias"


class CodeDesk:
    """Code conversion under the keys in force, with the durable aliases."""

    def __init__(self, keys: KeyStore, records: SealedRecords, logs: HubLogs) -> None:
        self._keys = keys
        self._records = records
        self._logs = logs
        self._aliases: dict[bytes, bytes] = {
            bytes.fromhex(k): bytes.fromhex(v) for k, v in records.items(ALIAS)
        }

    def conversion(self) -> Conversion:
        """The conversion rules with the rings and aliases in force now."""
        return Conversion(
            self._keys.ring(ID), self._keys.ring(LINK), self._keys.cipher, self._aliases
        )

    def id_code(self, resident: ResidentCode) -> IdCode:
        return self.conversion().id_code(resident)

    def resident(self, id_code: IdCode) -> ResidentCode:
        return self.conversion().resident(id_code)

    def link_out(self, id_code: IdCode, unit: AgencyId) -> LinkCode:
        return self.conversion().link_out(id_code, unit)

    def link_in(self, text: str, unit: AgencyId, at: datetime) -> IdCode:
        return self.conversion().link_in(text, unit, instant_of(at))

    def resident_code_changed(self, old: ResidentCode, new: ResidentCode) -> None:
        """Item 8 / RK-IDC-003: the new resident code's ID code aliases the first one."""
        canonical = self.id_code(old)
        fresh = id_code_of(self._keys.cipher(ID, self._keys.ring(ID).current), new)
        if fresh.raw != canonical.raw:
            self._set_alias(fresh.raw, canonical.raw)

    def _set_alias(self, code: bytes, canonical: bytes) -> None:
        self._aliases[code] = canonical
        self._records.put(ALIAS, code.hex(), canonical.hex())

    def rotate(
        self, purpose: KeyPurpose, now: datetime, transition: timedelta
    ) -> tuple[KeyRing, Callable[[bytes], bytes] | None]:
        """Item 11 / RK-KEY-002: a new key version, logged.  For the ID key, the
        function that re-makes a stored ID code of the old version (the aliases are
        re-made here; the other parts re-make what they hold with it)."""
        began = datetime_of(self._keys.ring(purpose).versions[-1].activated_at)
        if now < began:  # the clock was set back: versions follow time forward
            raise CallerError(
                "validation-error",
                f"the clock ({now.isoformat()}) is before the current {purpose.value} key "
                f"version began ({began.isoformat()}): a rotation cannot precede it",
                "RK-KEY-002",
            )
        old_version = self._keys.ring(ID).current
        ring = self._keys.rotate(purpose, now, transition)
        self._logs.record(
            AdminEvent.KEY_ROTATED,
            "control",
            now,
            purpose=purpose.value,
            version=ring.current,
            transition_seconds=int(transition.total_seconds()),
        )
        if purpose is not ID:
            return ring, None
        move = remake(self._keys.cipher(ID, old_version), self._keys.cipher(ID, ring.current),
                      old_version)  # fmt: skip
        old = dict(self._aliases)
        for code in old:
            self._records.put(ALIAS, code.hex(), None)
        self._aliases.clear()
        for code, canonical in old.items():
            self._set_alias(move(code), move(canonical))
        return ring, move

    def dump(self) -> list[dict[str, str]]:
        return [{"id_code": k.hex(), "canonical": v.hex()} for k, v in self._aliases.items()]
