"""Check digits of the three public numbering schemes (検査用数字).

* 個人番号 (individual Number, 12 digits): 総務省令 平成26年第85号 第5条 —
  requirement RK-NUM-004.
* 法人番号 (corporate Number, 13 digits, check digit first): 財務省令
  平成26年第70号 第2条 — requirement RK-CORP-001.
* 住民票コード (resident code, 11 digits): the official formula (総務省告示
  平成14年第436号) is not available to this project; the spec (RK-NUM-006)
  makes the check a named, replaceable function.  ``resident_code_check_digit``
  is the *assumed* formula: the 個人番号 weighting applied to the first 10
  digits.  Replace it where the real formula is known.
"""

from __future__ import annotations

import icontract

from .contract_levels import HOT

__all__ = [
    "corporate_number_check_digit",
    "individual_number_check_digit",
    "is_valid_corporate_number",
    "is_valid_individual_number",
    "is_valid_resident_code",
    "resident_code_check_digit",
]


def _all_digits(value: str, length: int) -> bool:
    return len(value) == length and value.isascii() and value.isdigit()


def _individual_weight(n: int) -> int:
    """Q_n of 第5条: n+1 for 1 ≤ n ≤ 6, n−5 for 7 ≤ n ≤ 11."""
    return n + 1 if n <= 6 else n - 5


def _weighted_mod11_digit(body: str) -> int:
    total = sum(int(p) * _individual_weight(n) for n, p in enumerate(reversed(body), start=1))
    remainder = total % 11
    return 0 if remainder <= 1 else 11 - remainder


@icontract.require(lambda body: _all_digits(body, 11), "body is 11 ASCII digits")
@icontract.ensure(lambda result: 0 <= result <= 9)
def individual_number_check_digit(body: str) -> int:
    """Check digit of a 個人番号 from its first 11 digits (RK-NUM-004).

    With P_n the n-th digit counted from the right and Q_n its weight,
    the check digit is 11 − (Σ P_n·Q_n mod 11), or 0 when the remainder is 0 or 1.
    """
    return _weighted_mod11_digit(body)


@icontract.ensure(
    lambda value, result: not result or _all_digits(value, 12),
    "only 12-digit strings are valid",
)
def is_valid_individual_number(value: str) -> bool:
    """True when ``value`` is 12 ASCII digits whose last digit checks (RK-NUM-004)."""
    if not _all_digits(value, 12):
        return False
    return individual_number_check_digit(value[:11]) == int(value[11])


@icontract.require(lambda base: _all_digits(base, 12), "base is 12 ASCII digits")
@icontract.ensure(lambda result: 1 <= result <= 9)
def corporate_number_check_digit(base: str) -> int:
    """Leading check digit of a 法人番号 from its 12-digit base (RK-CORP-001).

    9 − (Σ P_n·Q_n mod 9) with P_n counted from the right, Q_n = 1 for odd n
    and 2 for even n.
    """
    total = sum(int(p) * (2 if n % 2 == 0 else 1) for n, p in enumerate(reversed(base), start=1))
    return 9 - total % 9


@icontract.ensure(
    lambda value, result: not result or _all_digits(value, 13),
    "only 13-digit strings are valid",
)
def is_valid_corporate_number(value: str) -> bool:
    """True when ``value`` is 13 ASCII digits whose first digit checks (RK-CORP-001)."""
    if not _all_digits(value, 13):
        return False
    return corporate_number_check_digit(value[1:]) == int(value[0])


@icontract.require(lambda body: _all_digits(body, 10), "body is 10 ASCII digits", enabled=HOT)
@icontract.ensure(lambda result: 0 <= result <= 9, enabled=HOT)
def resident_code_check_digit(body: str) -> int:
    """ASSUMED check digit of a 住民票コード from its first 10 digits (RK-NUM-006).

    The official formula is not public in a form available here; this applies
    the 個人番号 weighting (mod 11) to the 10-digit body.  It is deliberately
    a single named function so that a deployment can replace it.
    """
    return _weighted_mod11_digit(body)


@icontract.ensure(
    lambda value, result: not result or _all_digits(value, 11),
    "only 11-digit strings are valid",
    enabled=HOT,
)
def is_valid_resident_code(value: str) -> bool:
    """True when ``value`` is 11 ASCII digits whose last digit checks (RK-NUM-006)."""
    if not _all_digits(value, 11):
        return False
    return resident_code_check_digit(value[:10]) == int(value[10])
