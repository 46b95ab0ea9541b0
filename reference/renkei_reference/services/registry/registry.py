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
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from ...core.binding_match import BindingOutcome, Policy, RegistryIndex, decide
from ...core.binding_normalise import has_placeholder, strict_text
from ...core.codes import ResidentCode
from ...core.errors import ConflictError, NotFoundError
from .journal import MemoryJournal, RegistryJournal

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
        """● 〓 U+FFFD or a private-use character: a character lost (RK-BND-005)."""
        return has_placeholder(self.name + self.address + (self.name_kana or ""))


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


def _put_op(code: str, items: FourItems, removal: Removal | None) -> dict[str, Any]:
    removed = asdict(removal) if removal else None
    return {"op": "put", "code": code, "items": asdict(items), "removal": removed}


def _change_op(old: str, new: str, items: FourItems, removal: Removal | None) -> dict[str, Any]:
    removed = asdict(removal) if removal else None
    return {"op": "change", "old": old, "new": new, "items": asdict(items), "removal": removed}


class ResidentRegistry:
    """住基ネット simulator: residents with their latest 4 items (items 14, 20)."""

    def __init__(self, journal: RegistryJournal | None = None) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, FourItems] = {}
        self._removed: dict[str, Removal] = {}  # RK-BND-009: residents removed (除票)
        self._earlier: dict[str, list[FourItems]] = {}
        self._history: list[tuple[str, str]] = []  # (old, new) resident-code changes
        self._index: tuple[RegistryIndex, list[str]] | None = None
        self._uses: list[dict[str, str]] = []  # each use of the currency service
        # every accepted change, journalled before it is applied (a restart replays it)
        self._journal: RegistryJournal = journal or MemoryJournal()
        for op in self._journal.replay():
            items = FourItems(**op["items"])
            removal = Removal(**op["removal"]) if op.get("removal") else None
            if op["op"] == "put":
                self._put(op["code"], items)
                self._set_status(op["code"], removal)
            else:
                self._change(op["old"], op["new"], items, removal)

    def load(
        self,
        residents: Iterable[tuple[ResidentCode, FourItems]],
        removals: dict[str, Removal] | None = None,
    ) -> int:
        """Register or update residents; each is current unless ``removals`` (by
        resident code) says he was removed (RK-BND-009).  Loading a resident again
        sets his status anew: a returned emigrant is current again."""
        rows = [(code.value, items, (removals or {}).get(code.value)) for code, items in residents]
        with self._lock:
            self._journal.append([_put_op(c, i, r) for c, i, r in rows])
            for code, items, removal in rows:
                self._put(code, items)
                self._set_status(code, removal)
        return len(rows)

    def _set_status(self, code: str, removal: Removal | None) -> None:
        if removal is None:
            self._removed.pop(code, None)
        else:
            self._removed[code] = removal
        self._index = None

    def status(self, code: ResidentCode) -> Removal | None:
        """None for a current resident; his removal for one removed (除票)."""
        with self._lock:
            if code.value not in self._latest:
                raise NotFoundError("unknown-resident", "no such resident code", "RK-BND-009")
            return self._removed.get(code.value)

    def change_code(
        self, old: ResidentCode, new: ResidentCode, items: FourItems, removal: Removal | None = None
    ) -> None:
        """A resident's code changes (item 8); the old code is kept in the history.
        The resident's status is ``removal`` under the new code (RK-BND-009)."""
        with self._lock:
            self._check_change(old.value, new.value)
            self._journal.append([_change_op(old.value, new.value, items, removal)])
            self._change(old.value, new.value, items, removal)

    def _check_change(self, old: str, new: str) -> None:
        if old not in self._latest:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-NUM-008")
        if new in self._latest:
            raise ConflictError(
                "resident-code-in-use",
                "the new resident code is already registered",
                "RK-NUM-008",
            )

    def _change(self, old: str, new: str, items: FourItems, removal: Removal | None) -> None:
        earlier = self._earlier.pop(old, [])
        previous = self._latest.pop(old)
        self._earlier[new] = earlier
        self._latest[new] = previous
        self._removed.pop(old, None)
        self._put(new, items)
        self._set_status(new, removal)
        self._history.append((old, new))

    def _put(self, code: str, items: FourItems) -> None:
        """Register or update a resident; updated items become earlier items (item 14)."""
        previous = self._latest.get(code)
        if previous is not None and previous.four() != items.four():
            self._earlier.setdefault(code, []).append(previous)
        self._latest[code] = items
        self._index = None

    def latest(self, code: ResidentCode) -> FourItems:
        with self._lock:
            items = self._latest.get(code.value)
        if items is None:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-BND-001")
        return items

    def is_latest(self, code: str, items: FourItems) -> bool:
        """True when ``items`` are exactly the resident's latest 4 items under the
        fixed normalisation alone — no folding, no earlier items (RK-BND-004), and
        the kana reading too when both sides have one."""
        with self._lock:
            latest = self._latest.get(code)
        return latest is not None and _same_state(latest, items)

    def currency(
        self, code: str, items: FourItems, *, agency: str, at: str
    ) -> tuple[str, FourItems | None]:
        """The currency service (４情報の最新化, RK-BND-006): ``current`` with the
        latest items when ``items`` are the resident's latest state, ``updated``
        with them when ``items`` are exactly one earlier recorded state,
        ``no-data`` and nothing otherwise, so that it cannot be used to search.
        Every use is logged, with the agency and the time (RK-BND-006)."""
        with self._lock:
            latest = self._latest.get(code)
            earlier = list(self._earlier.get(code, ()))
            status = "no-data"
            if latest is not None and _same_state(latest, items):
                status = "current"
            elif latest is not None and any(_same_state(e, items) for e in earlier):
                status = "updated"
            self._uses.append({"at": at, "agency": agency, "resident_code": code, "status": status})
        return status, (latest if status != "no-data" else None)

    def _matcher(self) -> tuple[RegistryIndex, list[str]]:
        if self._index is None:
            codes = sorted(self._latest)
            row = {code: i for i, code in enumerate(codes)}
            self._index = (
                RegistryIndex(
                    [self._latest[c].four() for c in codes],
                    {row[c]: [i.four() for i in e] for c, e in self._earlier.items() if e},
                    Policy.FOLDED,  # RK-BND-005: the published folding
                    [self._latest[c].name_kana for c in codes],
                    frozenset(row[c] for c in self._removed),  # RK-BND-009
                ),
                codes,
            )
        return self._index

    def decide(self, items: FourItems) -> tuple[BindingOutcome, str | None]:
        """The matcher's decision on a record's 4 items, and the resident code it binds."""
        with self._lock:
            index, codes = self._matcher()
        outcome = decide(index, items.four(), items.name_kana)
        return outcome, (codes[outcome.person] if outcome.person is not None else None)

    def _status_view(self, code: str) -> dict[str, str]:
        removal = self._removed.get(code)
        if removal is None:
            return {"status": "current"}
        return {"status": "removed", "removed_reason": removal.reason,
                "removed_on": removal.removed_on}  # fmt: skip

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                "registry.residents": [
                    {"resident_code": c, **asdict(i), **self._status_view(c)}
                    for c, i in sorted(self._latest.items())
                ],
                "registry.earlier_items": [
                    {"resident_code": c, **asdict(i)}
                    for c, states in sorted(self._earlier.items())
                    for i in states
                ],
                "registry.code_changes": [{"old": o, "new": n} for o, n in self._history],
                # RK-BND-006: the registry's record of each use of the currency service
                "registry.currency_uses": list(self._uses),
            }
