"""The matcher on hard cases nobody who tunes it wrote (issue 18).

specs/vectors/binding-hard-cases.json was written by an independent adversary from
the spec alone: a dense registry of 81 residents and 197 agency records, each with
the decision a careful registry clerk makes.  This test measures the reference's
matcher (core/binding_match.py, as the hub runs it) against every case:

* a **wrong bind** — bound to another resident than the clerk's, or to one the clerk
  rules out, or bound where the clerk would not bind — is never acceptable;
* **recall** — of the records the clerk binds, how many the matcher binds to the
  same resident — is reported per class.

Legacy dates and sex codes (和暦, YYYYMMDD, 1/2, 男/女) are converted as the agency
node converts them before it sends (RK-AGN-007); a record it cannot convert, and one
the wire refuses as malformed, is its own problem (RK-BND-003): not bound.  Residents removed from
the registry (除票) are loaded removed, with the file's reason read as the wire's
``RemovalReason`` (RK-BND-009).

``KNOWN_WRONG`` lists the cases where the reference still binds against the clerk,
each with the open issue that owns it; it is strict: a listed case that no longer
fails fails this test, so the list only shrinks.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from typing import Any

import pytest

from renkei_reference.core import legacy_formats
from renkei_reference.core.binding_match import Items, Policy, RegistryIndex, decide
from renkei_reference.services.registry.registry import REMOVAL_REASONS

from .conftest import ROOT

CASES = json.loads(
    (ROOT / "specs" / "vectors" / "binding-hard-cases.json").read_text(encoding="utf-8")
)
_DATE = re.compile(r"^\s*[0-9]{4}-[0-9]{2}-[0-9]{2}\s*$")
_SEX = re.compile(r"^\s*(male|female|other)?\s*$")

KNOWN_WRONG: dict[str, str] = {}
"""Cases the reference binds against the clerk's decision, with the issue that owns each."""


_REMOVAL = {"deceased": "deceased", "emigrated": "emigrated", "職権消除": "struck-off",
            "転出": "moved-out"}  # fmt: skip
"""The file's removal reasons (free text, its first word) as the wire's ``RemovalReason``."""


def _removal(resident: dict[str, Any]) -> str | None:
    """The wire's removal reason of a resident the file says was removed, else None."""
    if resident["status"] == "current":
        return None
    assert resident["status"] == "removed", resident
    assert _DATE.match(resident["removed_on"]), resident
    return _REMOVAL[resident["removed_reason"].split()[0]]


def _registry() -> tuple[list[str], RegistryIndex, RegistryIndex]:
    keys = list(CASES["registry"])
    latest: list[Items] = []
    kana: list[str | None] = []
    history: dict[int, list[Items]] = {}
    removed = frozenset(  # RK-BND-009: 除票
        row for row, key in enumerate(keys) if _removal(CASES["registry"][key]) is not None
    )
    for row, key in enumerate(keys):
        r = CASES["registry"][key]
        items = (r["name"], r["address"], r["birth_date"], r["sex"])
        latest.append(items)
        kana.append(r.get("kana"))
        state = dict(zip(("name", "address", "birth_date", "sex"), items, strict=True))
        for earlier in r.get("history", []):  # most recent first, each the items that differed
            state = {**state, **{k: v for k, v in earlier.items() if k in state}}
            history.setdefault(row, []).append(
                (state["name"], state["address"], state["birth_date"], state["sex"])
            )
    folded = RegistryIndex(latest, history, Policy.FOLDED, kana, removed)
    strict = RegistryIndex(latest, history, Policy.STRICT, kana, removed)
    return keys, folded, strict


def _decide(keys: list[str], index: RegistryIndex, case: dict[str, Any]) -> tuple[str, str | None]:
    """The hub's decision on one record: (decision, resident key or None)."""
    record = case["record"]
    values = [record.get(k) for k in ("name", "address", "birth_date", "sex")]
    texts = ["" if v is None else str(v) for v in values]
    # the agency node converts legacy forms before it sends (RK-AGN-007)
    for i, convert in ((2, legacy_formats.birth_date), (3, legacy_formats.sex)):
        converted = convert(texts[i]).value
        if converted is None:
            return "problem", None  # the record's own problem, never sent
        texts[i] = converted
    if not _DATE.match(texts[2]) and texts[2].strip():
        return "problem", None  # malformed-binding-record on the wire (RK-BND-003)
    if not _SEX.match(texts[3]):
        return "problem", None
    if case.get("agency_role") == "private-body" and not record.get("consent_id"):
        return "problem", None  # 403 consent-required for the request (RK-BND-004)
    items: Items = (texts[0], texts[1], texts[2].strip(), texts[3].strip())
    outcome = decide(index, items, record.get("name_kana"))
    decision = outcome.decision
    if case.get("agency_role") == "private-body" and decision == "review":
        decision = "rejected"  # RK-BND-004: a private body gets bound or rejected only
    person = keys[outcome.person] if outcome.person is not None else None
    return decision, person


def _evaluate() -> tuple[dict[str, str], dict[str, Counter[str]]]:
    keys, folded, strict = _registry()
    wrong: dict[str, str] = {}
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for case in CASES["cases"]:
        index = strict if case.get("agency_role") == "private-body" else folded
        decision, person = _decide(keys, index, case)
        want = case["expected"]
        row = table[case["class"]]
        row["cases"] += 1
        if want["decision"] == "bound":
            row["clerk binds"] += 1
            row["bound alike"] += decision == "bound" and person == want["resident"]
        if decision == "bound" and (
            want["decision"] != "bound"
            or person != want["resident"]
            or person in want["must_not_bind"]
        ):
            row["wrong binds"] += 1
            wrong[case["id"]] = f"bound {person}; the clerk: {want['decision']} {want['resident']}"
    return wrong, table


WRONG, TABLE = _evaluate()


def test_every_removal_the_file_states_is_a_removal_reason_of_the_wire() -> None:
    """The statuses loaded are the file's: 7 residents removed, each reason one of
    the wire's (RK-BND-009), so no removal is silently held as current."""
    reasons = [_removal(r) for r in CASES["registry"].values()]
    assert sum(r is not None for r in reasons) == 7
    assert {r for r in reasons if r is not None} <= set(REMOVAL_REASONS)


def test_report_the_matcher_per_class() -> None:
    """Prints the per-class table (recall and wrong binds) for the closing note."""
    total: Counter[str] = Counter()
    lines = [f"{'class':<32} {'cases':>5} {'clerk binds':>11} {'recall':>7} {'wrong':>5}"]
    for name in sorted(TABLE):
        row = TABLE[name]
        total.update(row)
        recall = row["bound alike"] / row["clerk binds"] if row["clerk binds"] else float("nan")
        lines.append(
            f"{name:<32} {row['cases']:>5} {row['clerk binds']:>11} {recall:>7.3f} "
            f"{row['wrong binds']:>5}"
        )
    print("\n".join(lines))
    print(
        f"all: {total['cases']} cases, recall {total['bound alike']}/{total['clerk binds']}, "
        f"wrong binds {total['wrong binds']}: {sorted(WRONG)}"
    )
    assert total["cases"] == len(CASES["cases"])


@pytest.mark.requirement("RK-BND-002", "RK-BND-005")
@pytest.mark.parametrize("case", [c["id"] for c in CASES["cases"]])
def test_no_bind_a_careful_clerk_would_not_make(case: str) -> None:
    if case in KNOWN_WRONG:
        assert case in WRONG, f"{case} no longer binds wrongly: take it off KNOWN_WRONG"
        pytest.xfail(KNOWN_WRONG[case])
    assert case not in WRONG, f"{case}: {WRONG[case]}"
