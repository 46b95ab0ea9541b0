"""The resident registry (住基ネット simulator): residents and their 4 items.

Seed items 14 and 20: agencies bind against, and keep current with, the
registry's *latest* 4 items.  The registry also keeps each resident's earlier
4 items (before a move or a change of name): they never bind (RK-BND-001) but
make a record ambiguous or tell the agency which item is out of date.
Matching is the core matcher ``core.binding_match`` under its folded policy:
the published folding of RK-BND-005 (specs/binding-normalisation.md: NFKC,
white space, kana script, variant kanji, address notation) decides a bind, and
a record bound only through the folding carries the notice ``variant-form``.
A kana reading given by the record must agree with the registered one
(``kana-differs`` otherwise) and separates near neighbours (RK-BND-002).
Each resident has a status: current, or removed (除票) with the reason and the
date of removal.  A removed resident keeps his items in the matcher's indexes
but is never bound: a record that would bind him goes to review
``resident-removed`` (RK-BND-009).

Everything lives in the registry's store (``store.RegistryStore``: SQLite, the
file ``registry.sqlite3`` or in memory), the blocking index included; the
matcher reads it through ``store.StoreIndex``.  Nothing per resident stays in
Python memory, and a restart reads nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ...core.binding_match import BindingOutcome, Policy, decide
from ...core.binding_normalise import has_placeholder, strict_text
from ...core.codes import ResidentCode
from ...core.errors import ConflictError, NotFoundError
from .store import RegistryStore, ResidentRow, StateRow, StoreIndex

__all__ = ["REMOVAL_REASONS", "FourItems", "Removal", "ResidentRegistry"]

RemovalReason = Literal["deceased", "emigrated", "moved-out", "struck-off", "other"]
REMOVAL_REASONS: tuple[RemovalReason, ...] = (
    "deceased",  # 死亡
    "emigrated",  # 国外転出
    "moved-out",  # 転出 (the 転入 elsewhere not yet recorded)
    "struck-off",  # 職権消除
    "other",  # その他の消除
)
"""Why a resident was removed from the registry (OpenAPI ``RemovalReason``, RK-BND-009)."""


@dataclass(frozen=True, slots=True)
class Removal:
    """A resident's removal from the registry (除票): why, and on which date."""

    reason: RemovalReason
    removed_on: str  # YYYY-MM-DD


@dataclass(frozen=True, slots=True)
class FourItems:
    """４情報: name, address, date of birth, sex (as held by the registry)."""

    name: str
    address: str
    birth_date: str
    sex: str
    name_kana: str | None = None

    def key(self) -> tuple[str, str, str, str]:
        return (strict_text(self.name), strict_text(self.address), self.birth_date, self.sex)

    def four(self) -> tuple[str, str, str, str]:
        """The 4 items the matcher compares; the kana reading, not one of them, is
        evidence beside them when given (RK-BND-002)."""
        return (self.name, self.address, self.birth_date, self.sex)

    def has_placeholder(self) -> bool:
        """● 〓 U+FFFD or a private-use character in the name or address: a character
        lost (RK-BND-005); a kana reading holding one is not given, not a loss."""
        return has_placeholder(self.name + self.address)


def _same_state(held: FourItems, given: FourItems) -> bool:
    """One recorded state and a record's 4 items are the same after the fixed
    normalisation (RK-BND-005); a kana reading is compared when both have one."""
    if held.key() != given.key():
        return False
    return (
        held.name_kana is None
        or given.name_kana is None
        or strict_text(held.name_kana) == strict_text(given.name_kana)
    )


def _state(items: FourItems) -> StateRow:
    return (items.name, items.address, items.birth_date, items.sex, items.name_kana)


def _items(state: StateRow) -> FourItems:
    """FourItems of a stored state (name, address, birth date, sex, kana)."""
    return FourItems(*state)


def _latest(row: ResidentRow) -> FourItems:
    """A resident row's latest 4 items."""
    return FourItems(row[2], row[3], row[4], row[5], row[6])


def _removal(row: ResidentRow) -> Removal | None:
    return Removal(row[7], row[8] or "") if row[7] is not None else None  # type: ignore[arg-type]


class ResidentRegistry:
    """住基ネット simulator: residents with their latest 4 items (items 14, 20)."""

    def __init__(self, store: RegistryStore | None = None) -> None:
        self._lock = threading.Lock()
        self._store = store or RegistryStore()
        self._index = StoreIndex(self._store, Policy.FOLDED)  # RK-BND-005: the published folding
        ops = self._store.legacy_ops()  # a file of the former journal: replayed once
        for op in ops:
            items = FourItems(**op["items"])
            removal = Removal(**op["removal"]) if op.get("removal") else None
            if op["op"] == "put":
                removals = {op["code"]: removal} if removal else None
                self.load([(ResidentCode(op["code"]), items)], removals)
            else:
                self.change_code(ResidentCode(op["old"]), ResidentCode(op["new"]), items, removal)
        if ops:
            self._store.drop_legacy_ops()

    @property
    def store(self) -> RegistryStore:
        return self._store

    def close(self) -> None:
        with self._lock:
            self._store.close()

    def _write(self) -> _Transaction:
        return _Transaction(self)

    def load(
        self,
        residents: Iterable[tuple[ResidentCode, FourItems]],
        removals: dict[str, Removal] | None = None,
    ) -> int:
        """Register or update residents; each is current unless ``removals`` (by
        resident code) says he was removed (RK-BND-009).  Loading a resident again
        sets his status anew: a returned emigrant is current again.  One
        transaction for the call."""
        rows = [(code.value, items, (removals or {}).get(code.value)) for code, items in residents]
        with self._write():
            for code, items, removal in rows:
                self._set_status(self._put(code, items), removal)
        return len(rows)

    def import_residents(
        self, rows: Iterable[tuple[ResidentCode, FourItems, list[FourItems], Removal | None]]
    ) -> int:
        """Bulk load of new residents, each with his earlier items (oldest first)
        and status: the initial load of a registry (``RegistryStore.import_residents``).
        A resident code already registered fails the whole load."""
        with self._lock:
            self._index.forget()
            return self._store.import_residents(
                (
                    code.value,
                    _state(items),
                    [_state(e) for e in earlier],
                    (removal.reason, removal.removed_on) if removal else None,
                )
                for code, items, earlier, removal in rows
            )

    def _set_status(self, person: int, removal: Removal | None) -> None:
        self._store.set_status(
            person, removal.reason if removal else None, removal.removed_on if removal else None
        )

    def status(self, code: ResidentCode) -> Removal | None:
        """None for a current resident; his removal for one removed (除票)."""
        with self._lock:
            row = self._store.resident(code.value)
        if row is None:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-BND-009")
        return _removal(row)

    def change_code(
        self, old: ResidentCode, new: ResidentCode, items: FourItems, removal: Removal | None = None
    ) -> None:
        """A resident's code changes (item 8); the old code is kept in the history.
        The resident's status is ``removal`` under the new code (RK-BND-009)."""
        with self._write():
            self._check_change(old.value, new.value)
            self._store.recode(old.value, new.value)
            self._set_status(self._put(new.value, items), removal)

    def _check_change(self, old: str, new: str) -> None:
        if self._store.resident(old) is None:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-NUM-008")
        if self._store.resident(new) is not None:
            raise ConflictError(
                "resident-code-in-use",
                "the new resident code is already registered",
                "RK-NUM-008",
            )

    def _put(self, code: str, items: FourItems) -> int:
        """Register or update a resident; updated items become earlier items (item 14)."""
        row = self._store.resident(code)
        if row is None:
            return self._store.insert(code, _state(items))
        previous = _latest(row)
        self._store.replace_latest(
            row[0], _state(previous), _state(items), keep=previous.four() != items.four()
        )
        return row[0]

    def latest(self, code: ResidentCode) -> FourItems:
        with self._lock:
            row = self._store.resident(code.value)
        if row is None:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-BND-001")
        return _latest(row)

    def residents(self) -> Iterator[tuple[str, FourItems]]:
        """Every resident's code and latest 4 items, by code (read at once)."""
        with self._lock:
            rows = list(self._store.residents())
        return ((row[1], _latest(row)) for row in rows)

    def is_latest(self, code: str, items: FourItems) -> bool:
        """True when ``items`` are exactly the resident's latest 4 items under the
        fixed normalisation alone — no folding, no earlier items (RK-BND-004), and
        the kana reading too when both sides have one."""
        with self._lock:
            row = self._store.resident(code)
        return row is not None and _same_state(_latest(row), items)

    def currency(
        self, code: str, items: FourItems, *, agency: str, at: str
    ) -> tuple[str, FourItems | None]:
        """The currency service (４情報の最新化, RK-BND-006): ``current`` with the
        latest items when ``items`` are the resident's latest state, ``updated``
        with them when ``items`` are exactly one earlier recorded state,
        ``no-data`` and nothing otherwise, so that it cannot be used to search.
        Every use is logged, with the agency and the time (RK-BND-006)."""
        with self._write():
            row = self._store.resident(code)
            latest = _latest(row) if row is not None else None
            status = "no-data"
            if row is not None and latest is not None:
                if _same_state(latest, items):
                    status = "current"
                elif any(_same_state(_items(e), items) for e in self._store.states(row[0])):
                    status = "updated"
            self._store.log_use(at, agency, code, status)
        return status, (latest if status != "no-data" else None)

    def decide(self, items: FourItems) -> tuple[BindingOutcome, str | None]:
        """The matcher's decision on a record's 4 items, and the resident code it binds."""
        with self._lock:
            outcome = decide(self._index, items.four(), items.name_kana)
            row = self._store.person(outcome.person) if outcome.person is not None else None
            self._index.forget()
        return outcome, (row[1] if row is not None else None)

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            residents = [
                {"resident_code": row[1], **asdict(_latest(row)), **_status_view(_removal(row))}
                for row in self._store.residents()
            ]
            earlier = [
                {"resident_code": code, **asdict(_items(state))}
                for code, state in self._store.earlier_items()
            ]
            changes = [{"old": o, "new": n} for o, n in self._store.code_changes()]
            uses = [
                {"at": at, "agency": agency, "resident_code": code, "status": status}
                for at, agency, code, status in self._store.currency_uses()
            ]
        return {
            "registry.residents": residents,
            "registry.earlier_items": earlier,
            "registry.code_changes": changes,
            # RK-BND-006: the registry's record of each use of the currency service
            "registry.currency_uses": uses,
        }


def _status_view(removal: Removal | None) -> dict[str, str]:
    if removal is None:
        return {"status": "current"}
    return {"status": "removed", "removed_reason": removal.reason,
            "removed_on": removal.removed_on}  # fmt: skip


class _Transaction:
    """The registry's lock and one store transaction: committed on success, rolled
    back on an error; what the index read before is forgotten."""

    def __init__(self, registry: ResidentRegistry) -> None:
        self._registry = registry

    def __enter__(self) -> None:
        self._registry._lock.acquire()
        try:
            self._registry._index.forget()
            self._registry._store.begin()
        except BaseException:
            self._registry._lock.release()
            raise

    def __exit__(self, kind: object, value: object, trace: object) -> None:
        try:
            if kind is None:
                self._registry._store.commit()
            else:
                self._registry._store.rollback()
        finally:
            self._registry._index.forget()
            self._registry._lock.release()
