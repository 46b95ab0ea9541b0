"""The kit's own executable model of the spec, written from specs/ — never
from the reference (an oracle must not share the reference's bugs).

* check digits of 個人番号, 法人番号 and the assumed 住民票コード formula
  (RK-NUM-004, RK-CORP-001, RK-NUM-006), table-driven;
* the pattern decision table (RK-PAT-001, RK-PAT-002);
* what the access log must hold after a run (``LogOracle``: every approval, refusal,
  provision and expiry the kit caused), checked against each view of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "REFUSAL_ORDER",
    "ExpectedEntry",
    "LogOracle",
    "check_digit_individual",
    "check_digit_resident",
    "expected_decision",
]

# Q_n for n = 1..11 counted from the right (総務省令 平成26年第85号 第5条).
_Q_INDIVIDUAL = (2, 3, 4, 5, 6, 7, 2, 3, 4, 5, 6)


def _mod11(digits: str) -> int:
    total = sum(int(d) * q for d, q in zip(reversed(digits), _Q_INDIVIDUAL, strict=False))
    r = total % 11
    return 0 if r in (0, 1) else 11 - r


def check_digit_individual(body11: str) -> int:
    return _mod11(body11)


def check_digit_resident(body10: str) -> int:
    """The spec's ASSUMED resident-code formula (RK-NUM-006)."""
    return _mod11(body10)


def valid_individual(number: str) -> bool:
    return (
        len(number) == 12
        and number.isascii()
        and number.isdigit()
        and _mod11(number[:11]) == int(number[11])
    )


REFUSAL_ORDER = (
    "identity-mismatch",
    "unknown-pattern",
    "requester-not-designated",
    "provider-not-designated",
    "information-kind-not-covered",
    "outside-validity",
)


def _parse(t: str | None) -> datetime | None:
    return None if t is None else datetime.fromisoformat(t.replace("Z", "+00:00"))


def expected_decision(
    patterns: Sequence[Mapping[str, Any]], query: Mapping[str, Any]
) -> str | None:
    """None when the spec's decision table approves the query, else the refusal slug."""
    if query["authenticated_requester"] != query["requester"]:
        return "identity-mismatch"
    table = {p["pattern_id"]: p for p in patterns}
    p = table.get(query["pattern_id"])
    checks = (
        (p is None, "unknown-pattern"),
        (p is not None and query["requester"] not in p["requesters"], "requester-not-designated"),
        (p is not None and query["provider"] not in p["providers"], "provider-not-designated"),
        (
            p is not None and query["information_kind"] not in p["information_kinds"],
            "information-kind-not-covered",
        ),
    )
    for failed, slug in checks:
        if failed:
            return slug
    assert p is not None
    at = _parse(query["at"])
    start, end = _parse(p.get("valid_from")), _parse(p.get("valid_until"))
    assert at is not None
    if (start is not None and at < start) or (end is not None and at >= end):
        return "outside-validity"
    return None


# -- what the log must hold after a run (issue 14, item 4) ----------------------------
@dataclass(frozen=True)
class ExpectedEntry:
    """One entry the hub's access log must hold, as the kit knows it from what it did
    and what the wire told it (RK-LOG-001, RK-LOG-002)."""

    outcome: str  # approved | refused | provided | expired
    requester_id: str  # the authenticated requester
    provider_id: str
    pattern_id: str
    information_kind: str
    request_id: str
    reason: str | None = None  # a refusal's problem slug; deadline-passed for expired
    linkage_id: str | None = None
    person: str | None = None  # the kit's name for the person, when attributable
    serial: int | None = None  # ①, when a response named it


@dataclass
class LogOracle:
    """The kit's model of the hub's access log: every approval, refusal, provision and
    expiry it caused, in order — checked against each view entry by entry."""

    entries: list[ExpectedEntry] = field(default_factory=list)

    def add(self, entry: ExpectedEntry) -> None:
        self.entries.append(entry)

    def differences(self, view: Sequence[Mapping[str, Any]]) -> list[str]:
        """How the auditor's view of the run's entries departs from the oracle: the
        count, then each entry field by field, then the persons: one pseudonym per
        person, another for each other person, none where no person is attributable."""
        out: list[str] = []
        if len(view) != len(self.entries):
            out.append(f"{len(view)} entries where the run made {len(self.entries)}")
        pseudonyms: dict[str, Any] = {}
        for i, (want, got) in enumerate(zip(self.entries, view, strict=False)):
            where = f"entry {i + 1} (serial {got.get('serial')}, {want.outcome})"
            fields = ("outcome", "requester_id", "provider_id", "pattern_id",
                      "information_kind", "request_id", "reason", "linkage_id")  # fmt: skip
            for name in fields:
                if got.get(name) != getattr(want, name):
                    out.append(
                        f"{where}: {name} {got.get(name)!r}, expected {getattr(want, name)!r}"
                    )
            if want.serial is not None and got.get("serial") != want.serial:
                out.append(f"{where}: serial {got.get('serial')}, the wire said {want.serial}")
            ref = got.get("person_ref")
            if want.person is None:
                if ref is not None:
                    out.append(f"{where}: a person_ref on an entry about no known person")
            elif ref is None:
                out.append(f"{where}: no person_ref on an entry about a person")
            else:
                pseudonyms.setdefault(want.person, ref)
                if pseudonyms[want.person] != ref:
                    out.append(f"{where}: another person_ref for the same person")
        if len(set(map(str, pseudonyms.values()))) != len(pseudonyms):
            out.append("two persons share one person_ref")
        return out

    def about(self, person: str, view: Sequence[Mapping[str, Any]]) -> list[int]:
        """The serials of ``view`` (the auditor's, aligned with the oracle) about ``person``."""
        return [int(got["serial"]) for want, got in zip(self.entries, view, strict=False)
                if want.person == person]  # fmt: skip
