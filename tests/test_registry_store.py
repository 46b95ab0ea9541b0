"""The registry's store (services/registry/store.py): the blocking index in SQLite.

The matcher decides through ``StoreIndex`` exactly as through the in-memory
``RegistryIndex`` (the same decisions, reasons and resident) on the generated
population, the binding vectors' hard cases and with residents removed; the
registry keeps its residents in the file, so a reopened registry decides and
dumps as before; a file of the former journal is replayed once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_reference.core.binding_match import (
    BindingOutcome,
    Items,
    Policy,
    RegistryIndex,
    decide,
    decide_many,
)
from renkei_reference.core.check_digit import resident_code_check_digit
from renkei_reference.core.codes import ResidentCode
from renkei_reference.services.binding_bench import bench, bench_out_of_core
from renkei_reference.services.registry.registry import FourItems, Removal, ResidentRegistry
from renkei_reference.services.registry.store import RegistryStore, StoreIndex
from renkei_reference.services.synthetic_population import extract, population

from .test_binding_hard_cases import CASES
from .test_binding_hard_cases import _registry as hard_registry


def _rc(i: int) -> ResidentCode:
    body = f"{4_000_000_000 + i:010d}"
    return ResidentCode(body + str(resident_code_check_digit(body)))


def _store_index(memory: RegistryIndex, policy: Policy) -> StoreIndex:
    """The store holding what ``memory`` holds; row i of ``memory`` is person i + 1."""
    store = RegistryStore()
    store.import_residents(
        (
            str(row),
            (*items, memory.kana[row] if row < len(memory.kana) else None),
            [(*state, None) for state in memory.history.get(row, ())],
            ("deceased", "2026-01-01") if row in memory.removed else None,
        )
        for row, items in enumerate(memory.latest)
    )
    return StoreIndex(store, policy)


def _same(memory: Sequence[BindingOutcome], stored: Sequence[BindingOutcome]) -> None:
    for was, now in zip(memory, stored, strict=True):
        person = None if now.person is None else now.person - 1
        assert (now.decision, now.reasons, person) == (was.decision, was.reasons, was.person)


@pytest.fixture(scope="module")
def world() -> tuple[Any, Any]:
    pop = population(3_000, seed=11)
    return pop, extract(pop, 3_000, seed=12)


@pytest.mark.requirement("RK-BND-002")
@pytest.mark.parametrize("policy", list(Policy))
def test_the_store_decides_as_the_memory_index_on_the_generated_registry(
    world: tuple[Any, Any], policy: Policy
) -> None:
    """Every record of the extract, without and with kana readings (a resident's
    own, or another's), gets the same decision, reasons and resident."""
    pop, ex = world
    memory = RegistryIndex(pop.latest, pop.history, policy, pop.kana, frozenset(range(0, 3000, 97)))
    stored = _store_index(memory, policy)
    readings: list[str | None] = [
        None if row < 0 else pop.kana[(row + (i % 3 == 0)) % len(pop.kana)]
        for i, row in enumerate(ex.truth)
    ]
    _same(decide_many(memory, ex.records), decide_many(stored, ex.records))
    _same(decide_many(memory, ex.records, readings), decide_many(stored, ex.records, readings))


@pytest.mark.requirement("RK-BND-002")
def test_the_store_decides_as_the_memory_index_on_the_hard_cases() -> None:
    _, folded, strict = hard_registry()
    for memory in (folded, strict):
        stored = _store_index(memory, memory.policy)
        for case in CASES["cases"]:
            record = case["record"]
            items: Items = tuple(  # type: ignore[assignment]
                str(record.get(k) or "") for k in ("name", "address", "birth_date", "sex")
            )
            kana = record.get("name_kana")
            _same([decide(memory, items, kana)], [decide(stored, items, kana)])


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(st.integers(0, 2_999), min_size=1, max_size=40))
def test_a_near_copy_of_residents_is_decided_alike(world: tuple[Any, Any], rows: list[int]) -> None:
    """Records that are residents' latest items with the name's last character
    dropped or doubled (partial and near matches) are decided alike."""
    pop, _ = world
    memory = RegistryIndex(pop.latest, pop.history, Policy.FOLDED, pop.kana)
    stored = _store_index(memory, Policy.FOLDED)
    records: list[Items] = []
    for row in rows:
        name, address, born, sex = pop.latest[row]
        records += [(name[:-1], address, born, sex), (name + name[-1], address, born, sex)]
    _same(decide_many(memory, records), decide_many(stored, records))


def _fill(registry: ResidentRegistry) -> None:
    old = FourItems("山田 花子", "東京都千代田区1-1-1", "1990-01-01", "female", "ヤマダ ハナコ")
    new = FourItems("鈴木 花子", "東京都新宿区2-2-2", "1990-01-01", "female", "スズキ ハナコ")
    registry.load([(_rc(1), old), (_rc(2), FourItems("田中 一郎", "大阪府", "1980-02-02", "male"))])
    registry.load([(_rc(1), new)])
    registry.change_code(_rc(2), _rc(3), FourItems("田中 一郎", "大阪府", "1980-02-02", "male"))
    registry.load([(_rc(4), FourItems("佐藤 太郎", "京都府", "1950-03-03", "male"))],
                  {_rc(4).value: Removal("deceased", "2026-01-02")})  # fmt: skip
    registry.currency(_rc(1).value, old, agency="city", at="2026-01-03T00:00:00+09:00")


def test_a_reopened_registry_decides_and_dumps_as_before(tmp_path: Path) -> None:
    path = tmp_path / "registry.sqlite3"
    first = ResidentRegistry(RegistryStore(path))
    _fill(first)
    before = first.dump()
    decided = first.decide(first.latest(_rc(1)))
    first.close()
    again = ResidentRegistry(RegistryStore(path))
    assert again.dump() == before
    assert again.decide(again.latest(_rc(1))) == decided
    assert (decided[0].decision, decided[1]) == ("bound", _rc(1).value)
    assert before["registry.earlier_items"][0]["name"] == "山田 花子"
    assert before["registry.code_changes"] == [{"old": _rc(2).value, "new": _rc(3).value}]
    assert [u["status"] for u in before["registry.currency_uses"]] == ["updated"]
    assert again.status(_rc(4)) == Removal("deceased", "2026-01-02")
    again.close()


def test_a_file_of_the_former_journal_is_replayed_once(tmp_path: Path) -> None:
    """A ``registry.sqlite3`` written before the store (table ``ops``) opens with
    the same residents, and the journal is gone afterwards."""
    items = FourItems("山田 花子", "東京都千代田区1-1-1", "1990-01-01", "female")
    later = FourItems("山田 花子", "東京都新宿区2-2-2", "1990-01-01", "female")
    ops = [
        {"op": "put", "code": _rc(1).value, "items": asdict(items), "removal": None},
        {"op": "put", "code": _rc(1).value, "items": asdict(later), "removal": None},
        {"op": "change", "old": _rc(1).value, "new": _rc(5).value, "items": asdict(later),
         "removal": {"reason": "emigrated", "removed_on": "2026-02-02"}},
    ]  # fmt: skip
    path = tmp_path / "registry.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE ops (seq INTEGER PRIMARY KEY, op TEXT NOT NULL)")
    db.executemany("INSERT INTO ops (op) VALUES (?)", [(json.dumps(op),) for op in ops])
    db.commit()
    db.close()
    registry = ResidentRegistry(RegistryStore(path))
    assert registry.latest(_rc(5)) == later
    assert registry.status(_rc(5)) == Removal("emigrated", "2026-02-02")
    assert registry.dump()["registry.earlier_items"][0]["address"] == items.address
    registry.close()
    assert ResidentRegistry(RegistryStore(path)).dump()["registry.code_changes"] == [
        {"old": _rc(1).value, "new": _rc(5).value}
    ]


def test_a_failed_change_leaves_the_registry_as_it_was() -> None:
    registry = ResidentRegistry()
    _fill(registry)
    before = registry.dump()
    with pytest.raises(Exception, match="already registered"):
        registry.change_code(_rc(1), _rc(3), FourItems("X", "Y", "2000-01-01", "male"))
    assert registry.dump() == before


@pytest.mark.requirement("RK-BND-002")
def test_the_out_of_core_run_scores_as_the_in_memory_one(tmp_path: Path) -> None:
    """The national binding run over the store, in two processes each streaming
    half of the extract, decides every record as the in-memory matcher does."""
    memory = bench(6_000, seed=3)
    stored = bench_out_of_core(6_000, 3, Policy.FOLDED, tmp_path, workers=2)
    assert stored["wrong_binds"] == memory["wrong_binds"] == 0
    same = ("records", "bound", "bindable", "bound_bindable", "review", "rejected",
            "review_reasons", "review_by_noise", "bound_with_notice", "noisy_share")  # fmt: skip
    for key in same:
        assert stored[key] == memory[key], key
    assert len(stored["peak_rss_mb_per_worker"]) == 2
