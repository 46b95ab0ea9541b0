"""The resident registry (住基ネット simulator): residents and their latest 4 items.

Seed items 14 and 20: agencies bind against, and keep current with, the
registry's *latest* 4 items.  Matching here is exact after the fixed
normalisation of RK-BND-005 (NFKC, collapsed white space); nothing else is
folded.
"""

from __future__ import annotations

import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from ..core.codes import ResidentCode
from ..core.errors import ConflictError, NotFoundError

__all__ = ["FourItems", "ResidentRegistry"]

_PLACEHOLDERS = frozenset("\u25cf\u3013\ufffd")


def _norm(text: str) -> str:
    """Width and space normalisation for exact matching (NFKC, collapsed spaces)."""
    return " ".join(unicodedata.normalize("NFKC", text).split())


@dataclass(frozen=True, slots=True)
class FourItems:
    """４情報: name, address, date of birth, sex (as held by the registry)."""

    name: str
    address: str
    birth_date: str
    sex: str
    name_kana: str | None = None

    def key(self) -> tuple[str, str, str, str]:
        return (_norm(self.name), _norm(self.address), self.birth_date, self.sex)

    def has_placeholder(self) -> bool:
        """● 〓 U+FFFD or a private-use character: a character lost (RK-BND-005)."""
        return any(
            ch in _PLACEHOLDERS or unicodedata.category(ch) == "Co"
            for ch in self.name + self.address + (self.name_kana or "")
        )


class ResidentRegistry:
    """住基ネット simulator: residents with their latest 4 items (items 14, 20)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._latest: dict[str, FourItems] = {}
        self._by_items: dict[tuple[str, str, str, str], set[str]] = {}
        self._by_three: dict[tuple[int, tuple[str, ...]], set[str]] = {}
        self._history: list[tuple[str, str]] = []  # (old, new) resident-code changes

    def load(self, residents: Iterable[tuple[ResidentCode, FourItems]]) -> int:
        count = 0
        with self._lock:
            for code, items in residents:
                self._put(code.value, items)
                count += 1
        return count

    def change_code(self, old: ResidentCode, new: ResidentCode, items: FourItems) -> None:
        """A resident's code changes (item 8); the old code is kept in the history."""
        with self._lock:
            if old.value not in self._latest:
                raise NotFoundError("unknown-resident", "no such resident code", "RK-NUM-008")
            if new.value in self._latest:
                raise ConflictError(
                    "resident-code-in-use",
                    "the new resident code is already registered",
                    "RK-NUM-008",
                )
            self._remove(old.value)
            self._put(new.value, items)
            self._history.append((old.value, new.value))

    def _remove(self, code: str) -> None:
        items = self._latest.pop(code, None)
        if items is None:
            return
        key = items.key()
        self._by_items[key].discard(code)
        for drop in range(4):
            self._by_three[(drop, key[:drop] + key[drop + 1 :])].discard(code)

    def _put(self, code: str, items: FourItems) -> None:
        """Register or update a resident: only the latest 4 items match (item 14)."""
        self._remove(code)
        key = items.key()
        self._latest[code] = items
        self._by_items.setdefault(key, set()).add(code)
        for drop in range(4):
            self._by_three.setdefault((drop, key[:drop] + key[drop + 1 :]), set()).add(code)

    def latest(self, code: ResidentCode) -> FourItems:
        with self._lock:
            items = self._latest.get(code.value)
        if items is None:
            raise NotFoundError("unknown-resident", "no such resident code", "RK-BND-001")
        return items

    def match(self, items: FourItems) -> tuple[list[str], list[str]]:
        """Exact 4-item matches and 3-item (partial) matches against the latest items."""
        key = items.key()
        with self._lock:
            exact = sorted(self._by_items.get(key, ()))
            partial: set[str] = set()
            for drop in range(4):
                partial |= self._by_three.get((drop, key[:drop] + key[drop + 1 :]), set())
        return exact, sorted(partial - set(exact))

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {
                "registry.residents": [
                    {"resident_code": c, **asdict(i)} for c, i in sorted(self._latest.items())
                ],
                "registry.code_changes": [{"old": o, "new": n} for o, n in self._history],
            }
