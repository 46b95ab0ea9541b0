"""The synthetic country (issue 18 item 5) and the per-class figures on it (item 6)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from renkei_reference.core.binding_normalise import fold_address, fold_name
from renkei_reference.services.binding_classes import classes, classes_out_of_core, merge
from renkei_reference.services.synthetic_country import AGENCIES, REMOVED_SHARE, country

SIZE = 8_000
COUNTRY = country(SIZE, seed=3)
RESULT = classes(SIZE, seed=3)
#: Notation that the folded forms of RK-BND-005 absorb (specs/binding-normalisation.md).
FOLDED_NOTATION = frozenset(
    {"address-digits", "address-mixed", "address-banchi", "address-kanji", "address-hyphen",
     "no-aza", "ga-variant", "variant-kanji", "kana", "kana-large", "legacy-date",
     "legacy-sex", "twin", "near-namesake", "plain"}
)  # fmt: skip


def test_the_same_seed_gives_the_same_country() -> None:
    again = country(SIZE, seed=3)
    assert again.records == COUNTRY.records
    assert again.latest == COUNTRY.latest
    assert again.features == COUNTRY.features


@pytest.mark.requirement("RK-BND-002", "RK-BND-005", "RK-BND-009")
def test_no_wrong_bind_and_no_bind_against_a_given_item() -> None:
    """Over every class: no record bound to another person, none bound to its own
    person although it contradicts an item it gives (a kana typo, an old address)
    or the person was removed (RK-BND-009)."""
    everything = RESULT["classes"]["all"]
    assert everything["records"] == SIZE
    assert everything["wrong"] == 0
    assert everything["contradicting"] == 0
    assert everything["precision"] == 1.0


def test_every_class_of_the_notation_model_occurs() -> None:
    seen = set(RESULT["classes"])
    assert FOLDED_NOTATION - {"near-namesake"} <= seen
    assert {"no-prefecture", "no-building", "room-dash", "kana-typo", "removed", "outsider",
            "old-address", "name-typo"} <= seen  # fmt: skip
    assert set(RESULT["agencies"]) == {a.name for a in AGENCIES}


def test_notation_the_fold_absorbs_folds_to_the_registered_items() -> None:
    """A record whose every feature is notation the spec folds (numerals, 大字, ヶ/ケ/が,
    外字 written in their standard form, legacy date and sex converted by the node)
    has the folded items of its person's registered ones."""
    checked = 0
    for items, row, features in zip(COUNTRY.records, COUNTRY.truth, COUNTRY.features,
                                    strict=True):  # fmt: skip
        if row < 0 or not set(features) <= FOLDED_NOTATION:
            continue
        name, address, born, sex = COUNTRY.latest[row]
        got = (fold_name(items[0]), fold_address(items[1]), items[2], items[3])
        assert got == (fold_name(name), fold_address(address), born, sex), items
        checked += 1
    assert checked > SIZE // 2


def test_the_shares_are_the_documented_ones() -> None:
    """docs/synthetic-country.md: the removed share of the registry and each agency's
    share of the records, within sampling error."""
    assert abs(len(COUNTRY.removed) / len(COUNTRY.latest) - REMOVED_SHARE) < 0.01
    for agency in AGENCIES:
        share = COUNTRY.agency.count(agency.name) / SIZE
        assert abs(share - agency.share) < 0.03, agency.name


def test_removed_residents_and_outsiders_never_bind() -> None:
    for name in ("removed", "outsider", "kana-typo", "old-address"):
        figures = RESULT["classes"][name]
        assert figures["clerk"] == 0
        assert figures["bound"] == 0, name


@pytest.mark.requirement("RK-BND-002", "RK-BND-009")
def test_the_out_of_core_run_gives_the_in_memory_figures(tmp_path: Path) -> None:
    """The registry in its store (kana, removals, earlier items), the records split
    across two processes: every class, class alone, agency and review reason counts
    as in memory; a second run over the same files (``reuse``) gives them again."""
    stored = classes_out_of_core(SIZE, 3, tmp_path, workers=2)
    for key in ("classes", "alone", "agencies", "review_reasons"):
        assert stored[key] == RESULT[key], key
    assert stored["prepare"]["removed"] == len(COUNTRY.removed) > 0
    assert len(stored["peak_rss_mb_per_worker"]) == 2
    # each process's progress file, added up, holds the final figures once it is done
    done = merge([json.loads((tmp_path / f"progress-{i}.json").read_text()) for i in (0, 1)])
    assert done["classes"] == RESULT["classes"]
    again = classes_out_of_core(SIZE, 3, tmp_path, workers=3, reuse=True)
    assert again["prepare"] == {"reused": True}
    assert again["classes"] == RESULT["classes"]


def test_renkei_binding_classes_out_of_core_prints_the_figures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`renkei binding classes --out-of-core DIR --workers 2 --cache-mib 16 --json`
    passes its options through: two binding processes, the figures as JSON."""
    from argparse import Namespace

    from renkei_reference.cli import _binding

    options = Namespace(
        binding_command="classes",
        size=2_000,
        seed=3,
        json=True,
        out_of_core=tmp_path,
        workers=2,
        cache_mib=16,
        reuse=False,
        wrap="",
    )
    assert _binding(options) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["classes"]["all"]["records"] == 2_000
    assert printed["classes"]["all"]["wrong"] == 0
    assert (printed["workers"], printed["cache_mib"]) == (2, 16)
    assert (tmp_path / "registry.sqlite3").exists()
