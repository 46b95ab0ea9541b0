"""Splink on the synthetic country (issue 18 item 6): scored as the hub is scored."""

from __future__ import annotations

import pytest

from renkei_reference.core.binding_match import Policy, RegistryIndex, decide_many
from renkei_reference.services.binding_classes import classes
from renkei_reference.services.binding_splink import score, splink_classes
from renkei_reference.services.synthetic_country import country

SIZE = 3_000


def test_the_splink_run_is_scored_exactly_as_the_hubs() -> None:
    """``score`` of the hub's own decisions gives ``binding_classes.classes``'s figures,
    so Splink's figures, counted by ``score``, are comparable class by class."""
    c = country(SIZE, seed=5)
    index = RegistryIndex(c.latest, c.history, Policy.FOLDED, c.kana, frozenset(c.removed))
    bound: list[int | None] = [None] * len(c.records)
    sent = [i for i, problem in enumerate(c.problem) if not problem]
    outcomes = decide_many(index, [c.records[i] for i in sent], [c.readings[i] for i in sent])
    for i, outcome in zip(sent, outcomes, strict=True):
        bound[i] = outcome.person
    ours, hub = score(c, index, bound), classes(SIZE, seed=5)
    for section in ("classes", "alone", "agencies"):
        assert ours[section] == hub[section], section
    nobody = score(c, index, [None] * len(c.records))["classes"]["all"]
    assert nobody["bound"] == 0
    assert nobody["clerk"] == hub["classes"]["all"]["clerk"]


def test_splink_decides_the_same_country_and_never_binds_a_removed_resident() -> None:
    """With Splink installed (``renkei[compare]``): every record decided and scored;
    the hub's status rule applies to Splink's links too (RK-BND-009)."""
    pytest.importorskip("splink")
    result = splink_classes(2_000, seed=3)
    assert result["classes"]["all"]["records"] == 2_000
    assert result["classes"]["all"]["bound"] > 0
    assert result["classes"]["removed"]["bound"] == 0
