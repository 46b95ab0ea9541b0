"""The variant-kanji table travels with its licence and attribution (issue 18).

The table of RK-BND-005 (``variant_kanji`` in specs/binding-normalisation.json and the
data of core/variant_kanji.py) is adapted from the MJ文字一覧表 and the MJ縮退マップ,
licensed CC BY-SA 2.1 JP, and from Unihan (Unicode licence): whoever receives the table
must receive the attribution and the licence with it (specs/variant-kanji.LICENSE.md).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from renkei_reference.core import variant_kanji

from .conftest import ROOT

LICENCE = ROOT / "specs" / "variant-kanji.LICENSE.md"
#: What the attribution must say: the works, their author and publisher, the licences.
ATTRIBUTION = ("MJ文字一覧表", "MJ縮退マップ", "IPA", "文字情報技術促進協議会", "CC BY-SA 2.1 JP",
               "creativecommons.org/licenses/by-sa/2.1/jp/", "Unihan", "Unicode, Inc.",
               "Changes made", "COPYRIGHT AND PERMISSION NOTICE")  # fmt: skip


def test_the_licence_file_attributes_the_sources_and_names_the_licences() -> None:
    text = LICENCE.read_text(encoding="utf-8")
    assert [a for a in ATTRIBUTION if a not in text] == []


def test_the_table_points_to_its_licence_file() -> None:
    """The provenance of the table, in the spec file and in the generated module, names
    the licence file, so nobody copies the table without finding the terms."""
    source = json.loads((ROOT / "specs" / "binding-normalisation.json").read_text("utf-8"))
    assert "specs/variant-kanji.LICENSE.md" in source["variant_kanji_source"]["licence"]
    assert "CC BY-SA 2.1 JP" in source["variant_kanji_source"]["licence"]
    assert "variant-kanji.LICENSE.md" in (variant_kanji.__doc__ or "")


def test_the_wheel_ships_the_licence_with_every_copy_of_the_table(renkei_wheel: Path) -> None:
    """Beside the spec's table, beside the reference's module, and among the wheel's
    licence files; the wheel's licence expression names the data's licences."""
    with zipfile.ZipFile(renkei_wheel) as wheel:
        names = set(wheel.namelist())
        metadata = next(wheel.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
        expected = LICENCE.read_bytes()
        copies = {
            "renkei_conformance/_specs/binding-normalisation.json": (
                "renkei_conformance/_specs/variant-kanji.LICENSE.md"
            ),
            "renkei_reference/core/variant_kanji.py": (
                "renkei_reference/core/variant_kanji.LICENSE.md"
            ),
        }
        for table, licence in copies.items():
            assert table in names
            assert wheel.read(licence) == expected
        licences = [n for n in names if ".dist-info/licenses/" in n]
        assert any(wheel.read(n) == expected for n in licences), licences
    assert "License-Expression: Apache-2.0 AND CC-BY-SA-2.1-JP AND Unicode-DFS-2016" in metadata
