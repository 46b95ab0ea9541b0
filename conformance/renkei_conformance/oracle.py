"""The kit's own executable model of the spec, written from specs/ — never
from the reference (an oracle must not share the reference's bugs).

* check digits of 個人番号, 法人番号 and the assumed 住民票コード formula
  (RK-NUM-004, RK-CORP-001, RK-NUM-006), table-driven;
* the pattern decision table (RK-PAT-001, RK-PAT-002).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

__all__ = ["REFUSAL_ORDER", "check_digit_individual", "check_digit_resident", "expected_decision"]

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
