#!/usr/bin/env python3
"""Generate ``binding-decisions.json``: binding (紐付け) vectors with expected decisions.

RK-BND-001 (only the registry's *latest* 4 items bind), RK-BND-002 (all four
items, exactly one resident; a kana reading never stands in for the name, and
when given must agree with a registered one and tells twins apart),
RK-BND-003 (review with reasons, rejected with ``no-match``), RK-BND-005
(the folding of specs/binding-normalisation.md, no more; placeholders never
bind) and RK-BND-009 (a resident the registry entry marks ``removed``, with the
wire's ``removed_reason`` and ``removed_on``, is never bound but stays a
candidate).  Each vector is a record of an agency and the decision expected against
the small registry in the file, under two policies:

* ``folded`` — normative: the hub's binding as the catalog requires it
  (RK-BND-005): NFKC and white space, then variant kanji, kana script and
  address notation folded; a record bound only through that folding carries
  the notice ``variant-form``.
* ``strict`` — informative: NFKC and white space only, variants to review
  ``variant-form`` (what folding buys, benchmarks/BINDING.md; and the exact
  match a private body gets, RK-BND-004).

A resident is named by its key in ``registry`` (never by a resident code).
The reasons listed are the ones the reference gives.  An implementation
passes a vector when its decision and bound resident equal ``decision`` and
``resident`` — or one of the pairs in ``also``, which the catalog allows too
(review for an earlier state is MAY, RK-BND-003) — and, when it matches
``decision``, its reasons contain those of the listed reasons that RK-BND-003
and RK-BND-005 make mandatory (``ambiguous-match``, ``partial-match``,
``no-match``, ``unrepresentable-character``, ``kana-differs``,
``resident-removed``, the ``<item>-missing`` reasons, and ``variant-form`` on a
bound record).

The expectations are written here by hand from the catalog text, not computed
by the reference; tests/test_binding.py checks the reference against them.
File schema: ``specs/schemas/binding-vectors.schema.json``.

Usage::

    python specs/vectors/generate_binding.py            # (re)write the file
    python specs/vectors/generate_binding.py --check    # exit 1 if the file differs
"""

# ruff: noqa: E501 -- one vector per line reads best.
from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import vector_files

HERE = Path(__file__).resolve().parent
FILE_NAME = "binding-decisions.json"
SCHEMA_REF = "../schemas/binding-vectors.schema.json"
GENERATOR = "specs/vectors/generate_binding.py"

Json = dict[str, Any]


def items(name: str, address: str, birth_date: str, sex: str, kana: str | None = None) -> Json:
    """The 4 items, and the kana reading ``name_kana`` when one is given."""
    out = {"name": name, "address": address, "birth_date": birth_date, "sex": sex}
    return out if kana is None else {**out, "name_kana": kana}


def with_kana(record: Json, kana: str | None) -> Json:
    """``record`` with the reading ``kana`` (None: without a reading)."""
    out = {k: v for k, v in record.items() if k != "name_kana"}
    return out if kana is None else {**out, "name_kana": kana}


KASUMI = "東京都千代田区霞が関1丁目2番3号"
UMEDA = "大阪府大阪市北区梅田2丁目5番10号 メゾン青葉 301号室"
FUCHU_T = "東京都府中市中央1丁目2番3号"
SHIBA = "東京都港区芝公園4丁目2番8号"
ASAHIKAWA = "北海道旭川市6条通9丁目46番地"
DORM = "岐阜県可児市土田4567番地 ひまわり寮"

REGISTRY: dict[str, Json] = {
    "R1": {"latest": items("高橋 健一", KASUMI, "1990-04-01", "male")},
    "R2": {"latest": items("高橋 健二", KASUMI, "1990-04-01", "male")},
    "R3": {
        "latest": items("髙橋 翔太", UMEDA, "1985-07-15", "male"),
        "earlier": [items("髙橋 翔太", "京都府京都市左京区本町3丁目4番5号", "1985-07-15", "male")],
    },
    "R4": {
        "latest": items("渡邉 花子", "愛知県一宮市本町1丁目2番3号", "1970-01-20", "female"),
        "earlier": [items("山田 花子", "愛知県名古屋市中区栄1丁目1番1号", "1970-01-20", "female")],
    },
    "R5": {
        "latest": items("佐藤 美咲", "北海道札幌市中央区旭町4丁目8番9号", "1995-12-01", "female")
    },
    "R6": {
        "latest": items("佐藤 美咲", "北海道札幌市中央区旭町4丁目8番9号", "1995-12-01", "female")
    },
    "R7": {"latest": items("斎藤 誠", "福岡県福岡市博多区天神2丁目3番4号", "1960-03-03", "male")},
    "R8": {"latest": items("齋藤 誠", "福岡県福岡市博多区天神2丁目3番4号", "1960-03-03", "male")},
    "R9": {"latest": items("中村 陽子", FUCHU_T, "1955-05-05", "female", "ナカムラ ヨウコ")},
    "R10": {"latest": items("中村 陽子", "広島県府中市中央1丁目2番3号", "1955-05-05", "female")},
    "R11": {
        "latest": items("山本 大輔", "神奈川県横浜市港北区日吉1丁目1番1号", "1980-08-08", "male")
    },
    "R12": {
        "latest": items("山本 大輔", "神奈川県横浜市港北区日吉1丁目1番2号", "1980-08-08", "male")
    },
    "R13": {"latest": items("鈴木 翔太", SHIBA, "2001-06-10", "male", "スズキ ショウタ")},
    "R14": {"latest": items("鈴木 翔大", SHIBA, "2001-06-10", "male", "スズキ ショウダイ")},
    "R15": {"latest": items("佐々木 健", "茨城県つくば市大字上横場123番地", "1975-02-02", "male")},
    "R16": {
        "latest": items("小林 由美", "東京都世田谷区自由が丘2丁目10番1号", "1988-09-09", "female")
    },
    # RK-BND-009: residents removed from the registry (除票), with the wire's reason and date
    "R17": {
        "latest": items("村田 和也", ASAHIKAWA, "1978-12-03", "male", "ムラタ カズヤ"),
        "removed": {"removed_reason": "deceased", "removed_on": "2020-08-08"},
    },
    "R18": {"latest": items("村田 和成", ASAHIKAWA, "1978-12-03", "male", "ムラタ カズナリ")},
    "R19": {
        "latest": items("渡辺 清", "岩手県盛岡市内丸10番1号", "1932-02-11", "male"),
        "removed": {"removed_reason": "emigrated", "removed_on": "2023-09-01"},
    },
    # 邉 with a variation selector (an MJ glyph, IVS U+E0104), as registries hold it
    "R20": {
        "latest": items(
            "渡邉\U000e0104 健二", "神奈川県相模原市中央区相模原6丁目22番1号", "1988-08-18", "male"
        )
    },
    # namesakes in one dormitory whose birth dates are each other's day and month transposed
    "R21": {"latest": items("NGUYEN VAN AN", DORM, "1998-01-02", "male", "グエン ヴァン アン")},
    "R22": {"latest": items("NGUYEN VAN AN", DORM, "1998-02-01", "male", "グエン ヴァン アン")},
    "R23": {
        "latest": items(
            "佐々木 拓也", "北海道虻田郡倶知安町南1条東2丁目3番地", "1991-01-20", "male"
        )
    },
    # a foreign resident: the name as on the residence card, in capitals
    "R24": {
        "latest": items(
            "DAVIS JOHN",
            "東京都港区六本木6丁目10番1号 1505号室",
            "1979-07-04",
            "male",
            "デイヴィス ジョン",
        )
    },
    # a given name in the historical kana ゑ
    "R25": {
        "latest": items(
            "木村 すゑ", "長野県松本市城東2丁目1番8号", "1931-01-10", "female", "キムラ スエ"
        )
    },
    # Kyoto: 中京区 has four towns named 中之町 and three named 大黒町 (Japan Post's KEN_ALL,
    # with the street locators that tell them apart); namesakes in two of the 中之町 at the
    # same number, and a resident of one 大黒町 (binding-normalisation.md v8)
    "R26": {"latest": items("木下 昭", "京都府京都市中京区新町通御池上る中之町12番地", "1965-03-03", "male")},
    "R27": {"latest": items("木下 昭", "京都府京都市中京区小川通丸太町下る中之町12番地", "1965-03-03", "male")},
    "R28": {"latest": items("森 恵子", "京都府京都市中京区河原町通三条下る大黒町45番地", "1972-10-10", "female")},
}  # fmt: skip
R28 = REGISTRY["R28"]["latest"]
R26 = REGISTRY["R26"]["latest"]


def bound(resident: str, *notice: str) -> Json:
    """Bound to ``resident``; ``notice`` is ``variant-form`` when only the folding
    of RK-BND-005 made the items equal (the agency should update them)."""
    return {"decision": "bound", "resident": resident, "reasons": list(notice)}


def review(*reasons: str, also: Json | None = None) -> Json:
    """``also``: another decision the catalog allows (an implementation that does
    not use the optional folding or earlier items), for the kit."""
    out: Json = {"decision": "review", "resident": None, "reasons": list(reasons)}
    if also is not None:
        out["also"] = [{"decision": also["decision"], "resident": also["resident"]}]
    return out


def rejected() -> Json:
    return {"decision": "rejected", "resident": None, "reasons": ["no-match"]}


R3, R4, R9 = REGISTRY["R3"]["latest"], REGISTRY["R4"]["latest"], REGISTRY["R9"]["latest"]
R13, R15, R16 = (REGISTRY[k]["latest"] for k in ("R13", "R15", "R16"))
R17, R18, R19, R20 = (REGISTRY[k]["latest"] for k in ("R17", "R18", "R19", "R20"))
R24, R25 = REGISTRY["R24"]["latest"], REGISTRY["R25"]["latest"]

# (id suffix, comment, record, strict, folded)
CASES: list[tuple[str, str, Json, Json, Json]] = [
    ("exact", "All four items equal one resident's latest items.",
     R3, bound("R3"), bound("R3")),
    ("width", "Full-width digits and an ideographic space: NFKC absorbs them (RK-BND-005).",
     items("髙橋\u3000翔太", "大阪府大阪市北区梅田２丁目５番１０号　メゾン青葉　３０１号室", "1985-07-15", "male"),
     bound("R3"), bound("R3")),
    ("spacing", "Doubled spaces collapse into one (RK-BND-005).",
     items("髙橋  翔太", "大阪府大阪市北区梅田2丁目5番10号  メゾン青葉  301号室", "1985-07-15", "male"),
     bound("R3"), bound("R3")),
    ("variant-kanji", "高 for the registered 髙: the variant-kanji table folds it; bound with the notice variant-form.",
     items("高橋 翔太", UMEDA, "1985-07-15", "male"),
     review("variant-form"), bound("R3", "variant-form")),
    ("address-notation", "1-2-3 for 1丁目2番3号: address notation folds; bound with the notice variant-form.",
     items("髙橋 翔太", "大阪府大阪市北区梅田2-5-10 メゾン青葉301号室", "1985-07-15", "male"),
     review("variant-form"), bound("R3", "variant-form")),
    ("kanji-numerals", "漢数字 for the numbers of 丁目・番・号: folded to digits; bound with the notice variant-form.",
     items("髙橋 翔太", "大阪府大阪市北区梅田二丁目五番十号 メゾン青葉 三〇一号室", "1985-07-15", "male"),
     review("variant-form"), bound("R3", "variant-form")),
    ("old-address", "The address before a move: an earlier state never binds (RK-BND-001).",
     items("髙橋 翔太", "京都府京都市左京区本町3丁目4番5号", "1985-07-15", "male"),
     review("address-not-latest"), review("address-not-latest")),
    ("name-before-marriage", "Name and address before marriage: an earlier state (RK-BND-001).",
     items("山田 花子", "愛知県名古屋市中区栄1丁目1番1号", "1970-01-20", "female"),
     review("name-not-latest", "address-not-latest", also=rejected()),
     review("name-not-latest", "address-not-latest", also=rejected())),
    ("old-name-new-address", "The name before marriage with the latest address: three of four.",
     items("山田 花子", R4["address"], "1970-01-20", "female"),
     review("partial-match", "name-differs"), review("partial-match", "name-differs")),
    ("identical-residents", "Two residents with the same 4 items: never bind (RK-BND-002).",
     REGISTRY["R5"]["latest"], review("ambiguous-match"), review("ambiguous-match")),
    ("variant-namesakes", "斎藤 and 齋藤 at one address with one birth date: the record fits both once folded.",
     REGISTRY["R7"]["latest"], review("ambiguous-match", also=bound("R7")), review("ambiguous-match")),
    ("twin-one-character", "Twins 健一/健二: one typo away from the other twin (RK-BND-002).",
     REGISTRY["R1"]["latest"], review("near-match"), review("near-match")),
    ("namesake-next-door", "Same name and birth date one house number away.",
     REGISTRY["R11"]["latest"], review("near-match"), review("near-match")),
    ("namesake-other-prefecture", "Same name, birth date and 府中市, but another prefecture: binds.",
     R9, bound("R9"), bound("R9")),
    ("without-address", "Name, birth date and sex without the address never bind (RK-BND-002).",
     items("中村 陽子", "東京都府中市", "1955-05-05", "female"),
     review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("sex-differs", "Three of four: the sex differs.",
     items("中村 陽子", FUCHU_T, "1955-05-05", "male"),
     review("partial-match", "sex-differs"), review("partial-match", "sex-differs")),
    ("birth-date-typo", "Three of four: the birth date differs.",
     items("中村 陽子", FUCHU_T, "1955-05-06", "female"),
     review("partial-match", "birth-date-differs"), review("partial-match", "birth-date-differs")),
    ("placeholder", "A kanji lost to ● never binds (RK-BND-005).",
     items("中村 ●子", FUCHU_T, "1955-05-05", "female"),
     review("unrepresentable-character"), review("unrepresentable-character")),
    ("kana-name", "The reading in kana never stands in for the name (RK-BND-002).",
     items("ナカムラ ヨウコ", FUCHU_T, "1955-05-05", "female"),
     review("partial-match", "name-differs"), review("partial-match", "name-differs")),
    ("stranger", "Nothing alike: rejected.",
     items("存在 しない", "沖縄県那覇市泉町9丁目9番9号", "1901-01-01", "female"),
     rejected(), rejected()),
    ("kana-folded", "The registered reading given in hiragana with an ideographic space: the kana folding makes it agree; bound.",
     with_kana(R9, "なかむら\u3000ようこ"), bound("R9"), bound("R9")),
    ("kana-differs", "All four items fit one resident but the given reading is not the registered one: no bind (RK-BND-002).",
     with_kana(R9, "ナカムラ ヨシコ"), review("kana-differs"), review("kana-differs")),
    ("kana-placeholder", "A kana lost to ● in the reading: the reading is not given (binding-normalisation.md v7), and the 4 items, which hold no placeholder, bind (RK-BND-005).",
     with_kana(R9, "ナカムラ ヨ●コ"), bound("R9"), bound("R9")),
    ("twins-kana", "Twins 翔太/翔大 read ショウタ/ショウダイ: every given item, the reading included, fits one twin only; bound.",
     R13, bound("R13"), bound("R13")),
    ("twins-kana-legacy", "The same record with the reading as a legacy system holds it (half-width, no small kana: ｼﾖｳﾀ); bound.",
     with_kana(R13, "ｽｽﾞｷ ｼﾖｳﾀ"), bound("R13"), bound("R13")),
    ("twins-no-kana", "The same twin without a reading: one slip from the other twin (RK-BND-002).",
     with_kana(R13, None), review("near-match"), review("near-match")),
    ("twins-crossed-kana", "One twin's items with the other twin's reading: the reading contradicts, and the other twin is one slip away.",
     with_kana(R13, "スズキ ショウダイ"), review("kana-differs", "near-match"), review("kana-differs", "near-match")),
    ("address-missing", "The address left blank: not matched at all; review naming the missing item (RK-BND-003).",
     {**R9, "address": ""}, review("address-missing"), review("address-missing")),
    ("items-missing", "Date of birth and sex left blank: review naming both.",
     {**with_kana(R13, None), "birth_date": "", "sex": ""},
     review("birth-date-missing", "sex-missing"), review("birth-date-missing", "sex-missing")),
    ("address-mixed", "三丁目-style mixed notation: 丁目 in kanji, 番・号 in digits; the whole address folds to 1-2-3 (binding-normalisation.md v2).",
     {**R9, "address": "東京都府中市中央一丁目2番3号"}, review("variant-form"), bound("R9", "variant-form")),
    ("address-banchi-no", "番地の between 番地 and 号 number: folded to 1-2-3.",
     {**R9, "address": "東京都府中市中央1丁目2番地の3"}, review("variant-form"), bound("R9", "variant-form")),
    ("address-fullwidth-dashes", "Full-width digits and full-width hyphen-minus: folded to 1-2-3.",
     {**R9, "address": "東京都府中市中央１－２－３"}, review("variant-form"), bound("R9", "variant-form")),
    ("address-dash-variants", "U+2010 hyphen and U+2212 minus between the numbers: folded to 1-2-3.",
     {**R9, "address": "東京都府中市中央1\u20102\u22123"}, review("variant-form"), bound("R9", "variant-form")),
    ("address-no-particle", "の between the numbers (1の2の3): folded to 1-2-3.",
     {**R9, "address": "東京都府中市中央1の2の3"}, review("variant-form"), bound("R9", "variant-form")),
    ("address-kanji-units", "Kanji numerals with units (十) for 番・号 numbers: folded to their values.",
     {**R16, "address": "東京都世田谷区自由が丘二丁目十番一号"}, review("variant-form"), bound("R16", "variant-form")),
    ("address-ga", "ヶ for が between two kanji in the place name (自由ヶ丘): one place.",
     {**R16, "address": "東京都世田谷区自由ヶ丘2-10-1"}, review("variant-form"), bound("R16", "variant-form")),
    ("address-aza", "大字 left out, 番地 written as a bare number: folded as one.",
     {**R15, "address": "茨城県つくば市上横場123"}, review("variant-form"), bound("R15", "variant-form")),
    ("address-mixed-other-number", "The mixed notation with another 号 number: a different address, three of four items.",
     {**R9, "address": "東京都府中市中央一丁目2番4号"}, review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("twins-unregistered-kana", "Twins 健一/健二 whose readings the registry does not hold: a given reading neither confirms nor separates.",
     with_kana(REGISTRY["R1"]["latest"], "タカハシ ケンイチ"), review("near-match"), review("near-match")),
    ("removed-exact", "All four items and the reading of a resident removed from the registry (deceased, 除票): never bound (RK-BND-009).",
     R17, review("resident-removed"), review("resident-removed")),
    ("removed-no-kana", "The deceased twin's items without a reading: his living twin is one slip away, for a removed resident is still a candidate (RK-BND-009).",
     with_kana(R17, None), review("near-match"), review("near-match")),
    ("removed-twin-alive", "The living twin with his reading: his removed twin's reading differs, so no near neighbour; bound.",
     R18, bound("R18"), bound("R18")),
    ("removed-twin-alive-no-kana", "The living twin without a reading: his removed twin is one slip away (RK-BND-009).",
     with_kana(R18, None), review("near-match"), review("near-match")),
    ("removed-variant", "An emigrated resident's name with 邊 for 辺: folded, the record fits him, so resident-removed; strict, variant-form.",
     {**R19, "name": "渡邊 清"}, review("variant-form"), review("resident-removed")),
    ("removed-three-items", "Three of a removed resident's four items: a partial match, and the removal is not told (RK-BND-009).",
     {**R19, "birth_date": "1932-02-12"}, review("partial-match", "birth-date-differs"), review("partial-match", "birth-date-differs")),
    ("variant-ivs", "辺 for the registered 邉 with a variation selector: the selector is dropped and 邉 folds to 辺 (the MJ縮退マップ's family-register notices).",
     {**R20, "name": "渡辺 健二"}, review("variant-form"), bound("R20", "variant-form")),
    ("variant-ivs-dropped", "邉 without the registry's variation selector (a font without the glyph).",
     {**R20, "name": "渡邉 健二"}, review("variant-form"), bound("R20", "variant-form")),
    ("variant-old-form", "邊, the old form: folded with 邉 and 辺.",
     {**R20, "name": "渡邊 健二"}, review("variant-form"), bound("R20", "variant-form")),
    ("variant-distinct-surname", "斉藤 beside 斎藤 and 齋藤: 斉 (old form 齊) and 斎 (old form 齋) are two characters and two surnames, never folded together: three of four items, the name differs.",
     {**REGISTRY["R7"]["latest"], "name": "斉藤 誠"}, review("partial-match", "name-differs"), review("partial-match", "name-differs")),
    ("day-month-transposed", "Namesakes in one dormitory born 1998-01-02 and 1998-02-01: a day and month transposed is a slip, so the other is one slip away and neither binds, their common reading separating nothing (RK-BND-002).",
     REGISTRY["R21"]["latest"], review("near-match"), review("near-match")),
    ("day-month-transposed-no-kana", "The mirror record without a reading: near-match.",
     with_kana(REGISTRY["R22"]["latest"], None), review("near-match"), review("near-match")),
    ("prefecture-omitted", "The prefecture left out before 世田谷区, a name of one municipality: the fold leaves it out of the registry's address too (binding-normalisation.md v5, address step 3).",
     {**R16, "address": "世田谷区自由が丘2-10-1"}, review("variant-form"), bound("R16", "variant-form")),
    ("prefecture-omitted-shared-name", "The prefecture left out before 府中市 (東京都 and 広島県): read with each prefecture, the record fits a 中村 陽子 in each: never folded onto one.",
     {**R9, "address": "府中市中央1丁目2番3号"}, review("ambiguous-match"), review("ambiguous-match")),
    ("prefecture-contradicts", "A prefecture that is not the municipality's (大阪府世田谷区): a contradiction, three of four items.",
     {**R16, "address": "大阪府世田谷区自由が丘2-10-1"}, review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("county-omitted", "The county (虻田郡) left out before 倶知安町: folded as the registry's address.",
     items("佐々木 拓也", "北海道倶知安町南1条東2丁目3", "1991-01-20", "male"), review("variant-form"), bound("R23", "variant-form")),
    ("building-omitted", "The building and room left out (the registry holds メゾン青葉 301号室): not required, no contradiction; bound with the notice variant-form (binding-normalisation.md v6).",
     {**R3, "address": "大阪府大阪市北区梅田2丁目5番10号"}, review("variant-form"), bound("R3", "variant-form")),
    ("room-dash", "The building left out and the room written -301: the fourth number of the run is the room.",
     {**R3, "address": "大阪府大阪市北区梅田2-5-10-301"}, review("variant-form"), bound("R3", "variant-form")),
    ("room-without-building", "The room with 号室 and no building.",
     {**R3, "address": "大阪府大阪市北区梅田2-5-10 301号室"}, review("variant-form"), bound("R3", "variant-form")),
    ("room-differs", "Another room given on both sides: a contradiction, three of four items.",
     {**R3, "address": "大阪府大阪市北区梅田2-5-10-405"}, review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("building-differs", "Another building with the same room: a contradiction, three of four items.",
     {**R3, "address": "大阪府大阪市北区梅田2-5-10 ハイツ緑 301号室"}, review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("address-box-dash", "The numbers joined by the box-drawing line ─ U+2500 (OCR of a printed form): a dash of the class (binding-normalisation.md v7).",
     {**R9, "address": "東京都府中市中央1─2─3"}, review("variant-form"), bound("R9", "variant-form")),
    ("latin-case", "A name in the alphabet in mixed case: letter case is folded (v7).",
     {**R24, "name": "Davis John"}, review("variant-form"), bound("R24", "variant-form")),
    ("latin-comma", "A comma between family and given name (a database export): folded (v7).",
     {**R24, "name": "DAVIS, JOHN"}, review("variant-form"), bound("R24", "variant-form")),
    ("latin-order", "The given name first: the order is kept, three of four items.",
     {**R24, "name": "JOHN DAVIS"}, review("partial-match", "name-differs"), review("partial-match", "name-differs")),
    ("historical-kana-name", "すゑ written すえ by a system without ゑ: one name (v7).",
     {**R25, "name": "木村 すえ"}, review("variant-form"), bound("R25", "variant-form")),
    ("kana-long-vowel", "The reading with ー for the ウ that lengthens ヨ: one reading (v7, kana step 7).",
     with_kana(R9, "ナカムラ ヨーコ"), bound("R9"), bound("R9")),
    ("kana-short-vowel", "The reading with a short vowel (ヨコ): another reading, no bind.",
     with_kana(R9, "ナカムラ ヨコ"), review("kana-differs"), review("kana-differs")),
    ("kana-vu", "デイビス for the registered デイヴィス: ヴィ and ビ are one reading (v7, kana step 6).",
     with_kana(R24, "デイビス ジョン"), bound("R24"), bound("R24")),
    ("kyoto-locator-omitted", "The Kyoto street locator (河原町通三条下る) left out: not required, as the building; the registry holds one 森 恵子 in the 大黒町s of 中京区 (v8).",
     {**R28, "address": "京都市中京区大黒町45番地"}, review("variant-form"), bound("R28", "variant-form")),
    ("kyoto-locator-spelling", "The locator spelt 通り … さがる: one locator (v8).",
     {**R28, "address": "京都府京都市中京区河原町通り三条さがる大黒町45"}, review("variant-form"), bound("R28", "variant-form")),
    ("kyoto-locator-other-town", "The locator of another 大黒町 of 中京区 (麩屋町通六角上る): a contradiction, three of four items.",
     {**R28, "address": "京都府京都市中京区麩屋町通六角上る大黒町45番地"}, review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("kyoto-locator-other-block", "上る for the registry's 下る: another block, a contradiction.",
     {**R28, "address": "京都府京都市中京区河原町通三条上る大黒町45番地"}, review("partial-match", "address-differs"), review("partial-match", "address-differs")),
    ("kyoto-locator-omitted-shared-town", "Without the locator, 中之町12 of 中京区 is two towns' address, and a 木下 昭 lives at each: never folded onto one.",
     {**R26, "address": "京都府京都市中京区中之町12番地"}, review("ambiguous-match"), review("ambiguous-match")),
    ("kyoto-locator-picks-the-town", "With its locator (spelt 通り … 上ル), the record fits one of the two 中之町 only.",
     {**R26, "address": "京都市中京区新町通り御池上ル中之町12"}, review("variant-form"), bound("R26", "variant-form")),
]  # fmt: skip


def build() -> Json:
    tests = [
        {
            "id": f"BND-V-{n:03d}-{suffix}",
            "comment": comment,
            "record": record,
            "expected": {"strict": strict, "folded": folded},
        }
        for n, (suffix, comment, record, strict, folded) in enumerate(CASES, start=1)
    ]
    return {
        "$schema": SCHEMA_REF,
        "title": "Binding decisions against a small resident registry",
        "generator": GENERATOR,
        "requirements": ["RK-BND-001", "RK-BND-002", "RK-BND-003", "RK-BND-005", "RK-BND-009"],
        "header": (__doc__ or "").split("Usage::")[0].strip(),
        "numberOfTests": len(tests),
        "registry": REGISTRY,
        "tests": tests,
    }


def main(argv: list[str] | None = None) -> int:
    return vector_files.main({FILE_NAME: build}, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
