#!/usr/bin/env python3
"""Generate the variant-kanji table of RK-BND-005 from its published sources.

The table (``variant_kanji`` in specs/binding-normalisation.json, and the
reference's ``core/variant_kanji.py``) folds a kanji onto the representative of
its class.  It is computed here, not typed by hand, from two published relations
(specs/binding-normalisation.md, "The variant-kanji table"):

1. **MJ縮退マップ** (IPA / 文字情報技術促進協議会, CC BY-SA 2.1 JP; reached through the
   MJ文字一覧表, same authors and licence), the map built for
   名寄せ between MJ-aware systems and JIS/Unicode ones, as carried by the PyPI
   package ``jntajis-python==0.1.0`` (its compiled tables; ``mj_shrink_candidates``).
   Two of its schemes are used: 「法務省戸籍法関連通達・通知」 (what the Ministry of
   Justice's notices on the family register say a glyph is written as: 旧字体 and
   俗字 → 正字・通用字体) and 「JIS包摂規準・UCS統合規則」 (glyphs JIS X 0208/0213 and
   UCS unify).  Not used: 「法務省告示582号別表第四」 (誤字 → ranked correction
   candidates) and 「読み・字形による類推」 (analogy by reading or shape): both
   propose *other* characters, which a clerk confirms, not the same one.
2. **人名用漢字 別表第二** (戸籍法施行規則; the variants declared the same 字種) as
   Unicode's Unihan ``kJinmeiyoKanji`` (Unicode 15.0.0, Debian ``unicode-data``
   15.0.0-1, Unicode licence), and the 常用漢字表's four 許容字体 pairs
   (``kJoyoKanji`` with a code point).

Rules (each exists because the data needs it; see the spec):

* both sides are taken after NFKC with variation selectors removed, since the
  fold applies both first; a character NFKC already folds is not a key;
* an MJ source with candidates in more than one class is left out (ambiguous);
* two *standard* characters — 常用漢字 or 人名用漢字 that the lists give as
  characters of their own — are never merged, unless the lists themselves declare
  them one 字種 (人名用漢字 variants, 許容字体); an edge that would merge two
  is dropped and counted;
* a class's representative is its standard character, else its JIS X 0208
  character of lowest code point, else its lowest code point.

Inputs are the two registry artefacts, verified by SHA-256 (the generator needs
CPython 3.11 on x86-64 Linux to load the wheel's compiled tables)::

    apt-get download unicode-data=15.0.0-1
    pip download --no-deps jntajis-python==0.1.0
    python specs/generate_variant_kanji.py unicode-data_15.0.0-1_all.deb \\
        jntajis_python-0.1.0-cp311-*.whl          # add --check to compare only

The output is deterministic: the same inputs give the same files byte for byte.
"""

from __future__ import annotations

import bz2
import hashlib
import importlib
import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
import unicodedata
import zipfile
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "binding-normalisation.json"
MODULE = ROOT / "reference" / "renkei_reference" / "core" / "variant_kanji.py"

UNICODE_DATA_SHA256 = "5efef23bbb1c6a133ecbdd63a2cfa07159ccacf5466a49e2426101c5ecd691fc"
JNTAJIS_SHA256 = "58a938190384670fb1b2f882e5f8a70baedafb420937790a867d9997d394f993"
MJ_SCHEMES = ("MOJ_FAMILY_REGISTER_ACT_RELATED_NOTICE", "JIS_INCORPORATION_UCS_UNIFICATION_RULE")
CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
# characters the address fold reads (numerals and the words of §2 "Address"): never keys
ADDRESS_GRAMMAR = frozenset("〇零一二三四五六七八九十百千丁目番地号字大条割ノ")
_VS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _norm(text: str) -> str:
    return _VS.sub("", unicodedata.normalize("NFKC", text))


def _code(field: str) -> str:
    return chr(int(field.split("<", maxsplit=1)[0][2:], 16))


def read_unihan(deb: Path) -> tuple[dict[str, str], dict[str, str], set[str], set[str], set[str]]:
    """kJinmeiyoKanji variants, kJoyoKanji 許容字体 pairs, the standard characters
    (常用 and 人名用 characters of their own), the 人名用 variants, JIS X 0208."""
    tar = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], check=True,
                         capture_output=True).stdout  # fmt: skip
    member = "./usr/share/unicode/Unihan_OtherMappings.txt.bz2"
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        extracted = archive.extractfile(member)
        assert extracted is not None, member
        text = bz2.decompress(extracted.read()).decode("utf-8")
    assert "# Unicode version: 15.0.0" in text
    jinmei_variant: dict[str, str] = {}
    joyo_allowed: dict[str, str] = {}
    standard: set[str] = set()
    jis0208: set[str] = set()
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        code, field, value = line.split("\t")
        char = _code(code)
        if field == "kJis0":
            jis0208.add(char)
        elif field == "kJoyoKanji":
            standard.add(char)
            if value.startswith("U+"):
                joyo_allowed[_code(value)] = char  # the 許容字体 → the list's form
        elif field == "kJinmeiyoKanji":
            if ":" in value:
                jinmei_variant[char] = _code(value.split(":")[1])
            else:
                standard.add(char)
    return jinmei_variant, joyo_allowed, standard, set(jinmei_variant), jis0208


def read_mj(wheel: Path) -> dict[str, set[str]]:
    """Each CJK code point's candidates under the two MJ schemes (normalised, itself
    left out)."""
    tmp = tempfile.mkdtemp()
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(tmp)
    sys.path.insert(0, tmp)
    jntajis = importlib.import_module("jntajis")
    combos = [jntajis.MJShrinkSchemeCombo[name].value for name in MJ_SCHEMES]
    candidates: dict[str, set[str]] = {}
    for start, end in CJK_RANGES:
        for point in range(start, end + 1):
            char = chr(point)
            source = _norm(char)
            if source != char:
                continue  # NFKC folds it before the table is read
            found = {
                _norm(c) for combo in combos for c in jntajis.mj_shrink_candidates(char, combo)
            }
            found.discard(source)
            if found and all(len(c) == 1 for c in found):
                candidates[source] = found
    return candidates


class _Classes:
    def __init__(self, standard: set[str]) -> None:
        self.parent: dict[str, str] = {}
        self.standard = standard
        self.std_of: dict[str, frozenset[str]] = {}

    def find(self, x: str) -> str:
        self.parent.setdefault(x, x)
        self.std_of.setdefault(x, frozenset({x} & self.standard))
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: str, b: str, declared: bool) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.std_of[ra] and self.std_of[rb] and not declared:
            return False  # two standard characters: never merged without a declaration
        self.parent[ra] = rb
        self.std_of[rb] = self.std_of[ra] | self.std_of[rb]
        return True


def build(deb: Path, wheel: Path) -> tuple[dict[str, str], dict[str, object]]:
    assert _sha256(deb) == UNICODE_DATA_SHA256, deb
    assert _sha256(wheel) == JNTAJIS_SHA256, wheel
    jinmei_variant, joyo_allowed, standard, jinmei_variants, jis0208 = read_unihan(deb)
    mj = read_mj(wheel)
    classes = _Classes(standard)
    declared = 0
    for variant, form in sorted({**jinmei_variant, **joyo_allowed}.items()):
        a, b = _norm(variant), _norm(form)
        if a != b:
            assert classes.union(a, b, declared=True)
            declared += 1
    # a declared pair makes one standard character of two
    for a in sorted(classes.parent):
        root = classes.find(a)
        classes.std_of[root] = frozenset(sorted(classes.std_of[root])[:1])
    refused = 0
    unambiguous = sorted((a, next(iter(c))) for a, c in mj.items() if len(c) == 1)
    for a, b in unambiguous:
        refused += not classes.union(a, b, declared=False)
    ambiguous = sorted((a, sorted(c)) for a, c in mj.items() if len(c) > 1)
    left_out = 0
    for a, cs in ambiguous:
        roots = {classes.find(c) for c in cs}
        if len(roots) == 1:
            refused += not classes.union(a, cs[0], declared=False)
        else:
            left_out += 1
    members: dict[str, list[str]] = defaultdict(list)
    for x in sorted(classes.parent):
        members[classes.find(x)].append(x)
    table: dict[str, str] = {}
    sizes: list[int] = []
    for group in members.values():
        if len(group) < 2:
            continue
        std = sorted(c for c in group if c in standard and c not in jinmei_variants)
        allowed_std = [c for c in std if c not in joyo_allowed]
        jis = sorted(c for c in group if c in jis0208)
        representative = (allowed_std or std or jis or sorted(group))[0]
        sizes.append(len(group))
        for c in group:
            if c != representative:
                table[c] = representative
    table = dict(sorted(table.items()))
    assert not set(table) & set(table.values())
    assert not set(table) & ADDRESS_GRAMMAR
    assert all(len(k) == len(v) == 1 and _norm(k) == k and _norm(v) == v for k, v in table.items())
    source = {
        "generated_by": "specs/generate_variant_kanji.py",
        "command": (
            "apt-get download unicode-data=15.0.0-1 && pip download --no-deps "
            "jntajis-python==0.1.0 && python specs/generate_variant_kanji.py "
            "unicode-data_15.0.0-1_all.deb jntajis_python-0.1.0-cp311-*.whl"
        ),
        "inputs": [
            {
                "what": "MJ縮退マップ (文字情報技術促進協議会 / IPA), schemes "
                "「法務省戸籍法関連通達・通知」 and 「JIS包摂規準・UCS統合規則」, as "
                "compiled into the PyPI package jntajis-python 0.1.0",
                "artefact": "jntajis_python-0.1.0-cp311-cp311-manylinux1_x86_64."
                "manylinux_2_28_x86_64.manylinux_2_5_x86_64.whl",
                "sha256": JNTAJIS_SHA256,
                "licence": "MJ文字一覧表 and MJ縮退マップ (author IPA, publisher "
                "文字情報技術促進協議会): CC BY-SA 2.1 JP (the package's code: BSD-3-Clause)",
            },
            {
                "what": "Unihan kJinmeiyoKanji (人名用漢字 別表第二, variants) and kJoyoKanji "
                "(常用漢字表, 許容字体), kJis0 (JIS X 0208), Unicode 15.0.0",
                "artefact": "Debian unicode-data_15.0.0-1_all.deb, "
                "/usr/share/unicode/Unihan_OtherMappings.txt.bz2",
                "sha256": UNICODE_DATA_SHA256,
                "licence": "Unicode License Agreement - Data Files and Software "
                "(SPDX Unicode-DFS-2016)",
            },
        ],
        "licence": "the table is adapted from the MJ文字一覧表 and the MJ縮退マップ and is under "
        "CC BY-SA 2.1 JP, with attribution to IPA (author) and 文字情報技術促進協議会 "
        "(publisher); the Unihan part also under the Unicode License; the code that "
        "generates and applies it stays Apache-2.0. Licence, attribution and changes: "
        "specs/variant-kanji.LICENSE.md, shipped with every copy of the table",
        "counts": {
            "entries": len(table),
            "classes": len(sizes),
            "largest_class": max(sizes),
            "declared_pairs": declared,
            "mj_candidates_read": len(mj),
            "mj_ambiguous_left_out": left_out,
            "merges_of_two_standard_characters_refused": refused,
        },
    }
    return table, source


def _module(table: dict[str, str], source: dict[str, object]) -> str:
    keys = "".join(table)
    values = "".join(table.values())

    def chunks(text: str) -> str:
        return "\n".join(f'    "{text[i : i + 40]}"' for i in range(0, len(text), 40))

    counts = source["counts"]
    assert isinstance(counts, dict)
    return (
        '"""Variant kanji (異体字) → representative: the table of RK-BND-005.\n\n'
        "GENERATED by specs/generate_variant_kanji.py from the MJ縮退マップ\n"
        "(文字情報技術促進協議会 / IPA, CC BY-SA 2.1 JP; schemes\n"
        "「法務省戸籍法関連通達・通知」 and 「JIS包摂規準・UCS統合規則」) and Unihan\n"
        "kJinmeiyoKanji/kJoyoKanji (Unicode 15.0.0); provenance in\n"
        "specs/binding-normalisation.json (``variant_kanji_source``).  Do not edit by hand.\n"
        "The table is under CC BY-SA 2.1 JP (the code that applies it, Apache-2.0): licence,\n"
        "attribution and changes in variant_kanji.LICENSE.md beside this module in the wheel\n"
        "(specs/variant-kanji.LICENSE.md in the source).\n"
        f"{counts['entries']} entries in {counts['classes']} classes.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        '__all__ = ["VARIANT_KANJI"]\n\n'
        f"_KEYS = (\n{chunks(keys)}\n)\n"
        f"_VALUES = (\n{chunks(values)}\n)\n\n"
        "#: Each key becomes its value, in one pass (no value is a key).\n"
        "VARIANT_KANJI: dict[str, str] = dict(zip(_KEYS, _VALUES, strict=True))\n"
    )


def main() -> int:
    """Write the table, or with ``--check`` exit 1 when the committed files differ."""
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = len(args) < len(sys.argv) - 1
    deb, wheel = Path(args[0]), Path(args[1])
    table, source = build(deb, wheel)
    spec = json.loads(SPEC.read_text("utf-8"))
    out = {k: v for k, v in spec.items() if k not in ("variant_kanji", "variant_kanji_source")}
    out["variant_kanji_source"] = source
    out["variant_kanji"] = table
    order = ["$comment", "requirement", "variant_kanji_source", "kana_equivalents",
             "placeholders", "variant_kanji"]  # fmt: skip
    out = {k: out[k] for k in order if k in out} | {k: v for k, v in out.items() if k not in order}
    spec_text, module_text = (
        json.dumps(out, ensure_ascii=False, indent=2) + "\n",
        _module(table, source),
    )
    if check:
        stale = [p.name for p, t in ((SPEC, spec_text), (MODULE, module_text))
                 if p.read_text("utf-8") != t]  # fmt: skip
        print("out of date: " + ", ".join(stale) if stale else "up to date")
        return 1 if stale else 0
    SPEC.write_text(spec_text, "utf-8")
    MODULE.write_text(module_text, "utf-8")
    print(json.dumps(source["counts"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
