#!/usr/bin/env python3
"""Generate the language-neutral renkei test vectors (Wycheproof style).

Writes five files next to this script:

* ``individual-number-check-digit.json`` — 個人番号 check digit (RK-NUM-004), normative;
* ``corporate-number-check-digit.json`` — 法人番号 check digit (RK-CORP-001), normative;
* ``resident-code-check-digit.json`` — 住民票コード check digit under an *assumed*
  formula (RK-NUM-006), informative;
* ``pattern-decisions.json`` — the decision table of pattern approval (RK-PAT-001/002),
  normative;
* ``code-derivation.json`` — the reference implementation's own ID-code and link-code
  derivation (RK-IDC-001/002, RK-LNK-001/002/005), informative.

All five validate against ``../schemas/vectors.schema.json``.

This script is deliberately independent of the reference implementation: it uses
only the standard library and ``cryptography``, and every expected value is
computed here from the ordinance text, never by calling ``renkei_reference``.
Output is deterministic (no clock, no randomness: "random-looking" digit strings
come from SHA-256 of fixed labels), so running it twice gives byte-identical files.

Usage::

    python specs/vectors/generate.py            # (re)write the five files
    python specs/vectors/generate.py --check    # exit 1 if any file on disk differs
"""

# ruff: noqa: E501 -- vector comments, notes and header lines are kept one string per JSON line.
from __future__ import annotations

import base64
import hashlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import vector_files
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

HERE = Path(__file__).resolve().parent
SCHEMA_REF = "../schemas/vectors.schema.json"
GENERATOR = "specs/vectors/generate.py"

Json = dict[str, Any]

ASCII_DIGITS = "0123456789"


def _is_ascii_digit_string(value: str, length: int) -> bool:
    """Exactly ``length`` characters, each one of U+0030..U+0039."""
    return len(value) == length and all(ch in ASCII_DIGITS for ch in value)


def _digit_stream(label: str) -> Iterator[str]:
    """An endless, deterministic stream of decimal digits derived from ``label``."""
    counter = 0
    while True:
        for byte in hashlib.sha256(f"{label}#{counter}".encode()).digest():
            if byte < 250:  # reject to keep the digits uniform
                yield str(byte % 10)
        counter += 1


def _pick(label: str, length: int, wanted: Callable[[str], bool]) -> str:
    """The first ``length``-digit string of ``label``'s stream that satisfies ``wanted``."""
    stream = _digit_stream(label)
    while True:
        candidate = "".join(next(stream) for _ in range(length))
        if wanted(candidate):
            return candidate


def _has_check_digit(check_of: Callable[[str], int], digit: int) -> Callable[[str], bool]:
    return lambda body: check_of(body) == digit


# ---------------------------------------------------------------------------
# Check-digit formulas, written from the ordinances (not from the reference).
# ---------------------------------------------------------------------------

# 総務省令 平成26年第85号 第5条: P_n is the n-th digit of the first eleven digits
# counted from the right (n = 1 is the digit just left of the check digit);
# Q_n = n + 1 for 1 <= n <= 6 and n - 5 for 7 <= n <= 11.
MOD11_WEIGHTS: dict[int, int] = {1: 2, 2: 3, 3: 4, 4: 5, 5: 6, 6: 7, 7: 2, 8: 3, 9: 4, 10: 5, 11: 6}


def mod11_remainder(body: str) -> int:
    """Σ P_n·Q_n mod 11, P_n counted from the right of ``body``."""
    total = 0
    for n in range(1, len(body) + 1):
        total += int(body[len(body) - n]) * MOD11_WEIGHTS[n]
    return total % 11


def mod11_check_digit(body: str) -> int:
    """11 − remainder, or 0 when the remainder is 0 or 1."""
    remainder = mod11_remainder(body)
    if remainder in (0, 1):
        return 0
    return 11 - remainder


def individual_remainder(body: str) -> int:
    assert _is_ascii_digit_string(body, 11)
    return mod11_remainder(body)


def individual_check_digit(body: str) -> int:
    assert _is_ascii_digit_string(body, 11)
    return mod11_check_digit(body)


def individual_number(body: str) -> str:
    return body + str(individual_check_digit(body))


def individual_is_valid(value: str) -> bool:
    return _is_ascii_digit_string(value, 12) and individual_check_digit(value[:11]) == int(
        value[11]
    )


# 財務省令 平成26年第70号 第2条: the check digit is the *leading* digit;
# over the 12-digit base, P_n counted from the right, Q_n = 1 (n odd), 2 (n even);
# check digit = 9 − (Σ P_n·Q_n mod 9).
def corporate_remainder(base: str) -> int:
    assert _is_ascii_digit_string(base, 12)
    total = 0
    for n in range(1, 13):
        weight = 1 if n % 2 == 1 else 2
        total += int(base[12 - n]) * weight
    return total % 9


def corporate_check_digit(base: str) -> int:
    return 9 - corporate_remainder(base)


def corporate_number(base: str) -> str:
    return str(corporate_check_digit(base)) + base


def corporate_is_valid(value: str) -> bool:
    return _is_ascii_digit_string(value, 13) and corporate_check_digit(value[1:]) == int(value[0])


# 住民票コード — ASSUMED formula: the 個人番号 weighting applied to the 10-digit body
# (Q_1..Q_10 = 2,3,4,5,6,7,2,3,4,5), 0 when the remainder is 0 or 1.
def resident_remainder(body: str) -> int:
    assert _is_ascii_digit_string(body, 10)
    return mod11_remainder(body)


def resident_check_digit(body: str) -> int:
    assert _is_ascii_digit_string(body, 10)
    return mod11_check_digit(body)


def resident_code(body: str) -> str:
    return body + str(resident_check_digit(body))


def resident_is_valid(value: str) -> bool:
    return _is_ascii_digit_string(value, 11) and resident_check_digit(value[:10]) == int(value[10])


# ---------------------------------------------------------------------------
# Common envelope
# ---------------------------------------------------------------------------


def _envelope(
    *,
    topic: str,
    algorithm: str,
    status: str,
    source: str,
    header: list[str],
    notes: dict[str, Json],
    requirements: list[str],
    number_of_tests: int,
) -> Json:
    return {
        "$schema": SCHEMA_REF,
        "topic": topic,
        "algorithm": algorithm,
        "status": status,
        "source": source,
        "generator": GENERATOR,
        "numberOfTests": number_of_tests,
        "header": header,
        "notes": notes,
        "requirements": requirements,
    }


def _note(bug_type: str, description: str) -> Json:
    return {"bugType": bug_type, "description": description}


def _finish_flat(envelope: Json, tests: list[Json]) -> Json:
    if "value" in tests[0]:
        values = [test["value"] for test in tests]
        duplicates = sorted({v for v in values if values.count(v) > 1})
        if duplicates:
            raise AssertionError(f"duplicate values: {duplicates}")
    for index, test in enumerate(tests, start=1):
        test["tcId"] = index
    envelope["numberOfTests"] = len(tests)
    envelope["tests"] = [_order_test(t) for t in tests]
    _check_flags(envelope, tests)
    return envelope


def _order_test(test: Json) -> Json:
    """Put tcId, comment and flags first and result last, Wycheproof fashion."""
    ordered: Json = {"tcId": test["tcId"], "comment": test["comment"], "flags": test["flags"]}
    for key, value in test.items():
        if key not in ("tcId", "comment", "flags", "result"):
            ordered[key] = value
    ordered["result"] = test["result"]
    return ordered


def _check_flags(envelope: Json, tests: list[Json]) -> None:
    used = {flag for test in tests for flag in test["flags"]}
    notes = set(envelope["notes"])
    if used - notes:
        raise AssertionError(f"flags without a note: {sorted(used - notes)}")
    if notes - used:
        raise AssertionError(f"notes for unused flags: {sorted(notes - used)}")


# ---------------------------------------------------------------------------
# Check-digit vector files (shared shape)
# ---------------------------------------------------------------------------

SHAPE_NOTES: dict[str, Json] = {
    "wrong-length": _note(
        "MALFORMED_INPUT",
        "The value has too few or too many digits; it is invalid whatever its digits.",
    ),
    "int-parsing": _note(
        "MALFORMED_INPUT",
        "The value would be accepted by an implementation that parses it as an integer (which drops "
        "leading zeros and accepts a sign, surrounding whitespace or '_' separators) and then pads "
        "or re-formats it. The value must be checked as a string of ASCII digits.",
    ),
    "non-ascii-digits": _note(
        "MALFORMED_INPUT",
        "The value contains Unicode decimal digits other than U+0030..U+0039 (full-width ０-９, "
        "Arabic-Indic, Devanagari). Regex \\d and str.isdigit() accept them in many languages; "
        "the schemes allow ASCII digits only, and normalising (NFKC) is the caller's job, not "
        "the validator's.",
    ),
    "letters": _note("MALFORMED_INPUT", "The value contains a letter."),
    "whitespace": _note(
        "MALFORMED_INPUT",
        "The value contains whitespace (space, tab, U+00A0, U+3000 ideographic space). A validator "
        "must not trim.",
    ),
    "separator": _note(
        "MALFORMED_INPUT",
        "The value contains a display separator such as '-'. Only bare digits are valid.",
    ),
    "trailing-newline": _note(
        "MALFORMED_INPUT",
        "The value ends with a line feed. In many regex dialects '$' also matches before a final "
        "newline, so ^\\d{n}$ accepts it; use a full match (\\A..\\z, fullmatch).",
    ),
    "control-character": _note(
        "MALFORMED_INPUT", "The value contains a control character (U+0000)."
    ),
    "sign": _note("MALFORMED_INPUT", "The value has a leading '+' or '-'."),
    "empty": _note("MALFORMED_INPUT", "The value is the empty string."),
}


def _cd_test(
    comment: str,
    flags: list[str],
    value: str,
    result: str,
    *,
    length: int,
    split: Callable[[str], str],
    check_of: Callable[[str], int],
    remainder_of: Callable[[str], int],
    is_valid: Callable[[str], bool],
    remainder_flags: dict[int, str],
) -> Json:
    """One check-digit vector; ``expectedCheckDigit``/``remainder`` only for well-formed values.

    A well-formed value whose remainder is special (0, or 1 for mod 11) always carries
    that remainder's flag, so the edge cases can be selected by flag.
    """
    well_formed = _is_ascii_digit_string(value, length)
    expected = check_of(split(value)) if well_formed else None
    remainder = remainder_of(split(value)) if well_formed else None
    if remainder in remainder_flags and remainder_flags[remainder] not in flags:
        flags = [*flags, remainder_flags[remainder]]
    if (result == "valid") != is_valid(value):
        raise AssertionError(f"vector {value!r} marked {result} disagrees with the formula")
    return {
        "comment": comment,
        "flags": flags,
        "value": value,
        "expectedCheckDigit": expected,
        "remainder": remainder,
        "result": result,
    }


# ---------------------------------------------------------------------------
# 1. 個人番号
# ---------------------------------------------------------------------------


def individual_vectors() -> Json:
    def t(comment: str, flags: list[str], value: str, result: str) -> Json:
        return _cd_test(
            comment,
            flags,
            value,
            result,
            length=12,
            split=lambda v: v[:11],
            check_of=individual_check_digit,
            remainder_of=individual_remainder,
            is_valid=individual_is_valid,
            remainder_flags={0: "remainder-zero", 1: "remainder-one"},
        )

    tests: list[Json] = []
    published = "983205673214"
    assert individual_is_valid(published)

    # --- valid ---------------------------------------------------------------
    tests.append(
        t("published example of a valid 個人番号", ["published-example"], published, "valid")
    )
    rem0 = [
        _pick(f"individual/remainder-0/{i}", 11, lambda b: individual_remainder(b) == 0)
        for i in range(2)
    ]
    rem1 = [
        _pick(f"individual/remainder-1/{i}", 11, lambda b: individual_remainder(b) == 1)
        for i in range(2)
    ]
    for body in rem0:
        tests.append(
            t(
                "Σ P_n·Q_n ≡ 0 (mod 11): check digit 0",
                ["remainder-zero"],
                individual_number(body),
                "valid",
            )
        )
    for body in rem1:
        tests.append(
            t(
                "Σ P_n·Q_n ≡ 1 (mod 11): check digit 0",
                ["remainder-one"],
                individual_number(body),
                "valid",
            )
        )
    for digit in range(1, 10):
        body = _pick(
            f"individual/check-digit-{digit}", 11, _has_check_digit(individual_check_digit, digit)
        )
        tests.append(
            t(
                f"valid Number whose check digit is {digit}",
                ["normal"],
                individual_number(body),
                "valid",
            )
        )
    leading = _pick("individual/leading-zero", 11, lambda b: b.startswith("0") and b[1] != "0")
    leading_number = individual_number(leading)
    tests.append(
        t(
            "valid Number beginning with 0 (keep it a string)",
            ["leading-zero"],
            leading_number,
            "valid",
        )
    )
    double_leading = _pick(
        "individual/leading-zeros", 11, lambda b: b.startswith("000") and b[3] != "0"
    )
    tests.append(
        t(
            "valid Number beginning with 000",
            ["leading-zero"],
            individual_number(double_leading),
            "valid",
        )
    )
    tests.append(
        t(
            "all zeros: Σ = 0, remainder 0, check digit 0 — valid by the check-digit rule alone",
            ["all-zeros", "remainder-zero"],
            "000000000000",
            "valid",
        )
    )

    # --- every wrong check digit for three bodies ---------------------------
    for body, label, extra in (
        (published[:11], "published example", []),
        (rem0[0], "remainder-0 body", ["remainder-zero"]),
        (rem1[0], "remainder-1 body", ["remainder-one"]),
    ):
        right = individual_check_digit(body)
        for wrong in range(10):
            if wrong == right:
                continue
            comment = f"{label} with check digit {wrong} instead of {right}"
            if extra == ["remainder-zero"] and wrong == 1:
                comment += " ((11 − r) mod 10 gives 1 when r = 0)"
            tests.append(t(comment, ["wrong-check-digit", *extra], body + str(wrong), "invalid"))

    # --- formula mistakes -----------------------------------------------------
    def left_to_right(body: str) -> int:
        total = sum(int(body[i]) * MOD11_WEIGHTS[i + 1] for i in range(11))
        r = total % 11
        return 0 if r <= 1 else 11 - r

    ltr_body = _pick(
        "individual/left-to-right",
        11,
        lambda b: left_to_right(b) != individual_check_digit(b),
    )
    tests.append(
        t(
            "check digit computed with P_n counted from the left (wrong direction)",
            ["left-to-right-weights"],
            ltr_body + str(left_to_right(ltr_body)),
            "invalid",
        )
    )
    # adjacent transpositions of the published example that the check digit detects
    for i in (0, 5):
        digits = list(published)
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
        swapped = "".join(digits)
        assert not individual_is_valid(swapped)
        tests.append(
            t(
                f"published example with digits {i + 1} and {i + 2} transposed",
                ["transposed-digits"],
                swapped,
                "invalid",
            )
        )

    # --- wrong shape ----------------------------------------------------------
    tests.append(
        t(
            "11 digits: the body without its check digit",
            ["wrong-length"],
            published[:11],
            "invalid",
        )
    )
    tests.append(
        t("13 digits: a valid Number followed by 0", ["wrong-length"], published + "0", "invalid")
    )
    tests.append(
        t(
            "13 digits: a valid Number preceded by 0 (valid if leading zeros are dropped)",
            ["wrong-length", "int-parsing"],
            "0" + published,
            "invalid",
        )
    )
    tests.append(
        t(
            "11 digits: a valid Number beginning with 0 with the 0 dropped (as an integer round trip would)",
            ["wrong-length", "int-parsing"],
            leading_number[1:],
            "invalid",
        )
    )
    tests.append(t("16 digits", ["wrong-length"], published + "0000", "invalid"))
    fullwidth = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in published)
    tests.append(
        t(
            "full-width digits (U+FF10..U+FF19) of the published example",
            ["non-ascii-digits"],
            fullwidth,
            "invalid",
        )
    )
    tests.append(
        t(
            "published example with its last digit full-width",
            ["non-ascii-digits"],
            published[:11] + chr(0xFF10 + int(published[11])),
            "invalid",
        )
    )
    arabic = "".join(chr(ord(c) - ord("0") + 0x0660) for c in published)
    tests.append(t("Arabic-Indic digits (U+0660..U+0669)", ["non-ascii-digits"], arabic, "invalid"))
    devanagari = "".join(chr(ord(c) - ord("0") + 0x0966) for c in published)
    tests.append(
        t("Devanagari digits (U+0966..U+096F)", ["non-ascii-digits"], devanagari, "invalid")
    )
    tests.append(
        t("letter in place of the check digit", ["letters"], published[:11] + "A", "invalid")
    )
    tests.append(
        t("letter 'O' in place of a 0", ["letters"], published.replace("0", "O"), "invalid")
    )
    tests.append(t("twelve letters", ["letters"], "ABCDEFGHIJKL", "invalid"))
    tests.append(t("leading space", ["whitespace"], " " + published, "invalid"))
    tests.append(t("trailing space", ["whitespace"], published + " ", "invalid"))
    tests.append(
        t(
            "grouped with spaces as printed on the card",
            ["whitespace"],
            f"{published[:4]} {published[4:8]} {published[8:]}",
            "invalid",
        )
    )
    tests.append(t("leading tab", ["whitespace"], "\t" + published, "invalid"))
    tests.append(
        t("trailing U+00A0 no-break space", ["whitespace"], published + "\u00a0", "invalid")
    )
    tests.append(
        t("leading U+3000 ideographic space", ["whitespace"], "\u3000" + published, "invalid")
    )
    tests.append(
        t(
            "a space and 11 digits: int() accepts it, zero-padding then gives a valid Number",
            ["whitespace", "int-parsing"],
            " " + leading_number[1:],
            "invalid",
        )
    )
    tests.append(
        t(
            "grouped with hyphens",
            ["separator"],
            f"{published[:4]}-{published[4:8]}-{published[8:]}",
            "invalid",
        )
    )
    tests.append(
        t(
            "grouped with underscores (Python int() accepts them)",
            ["separator", "int-parsing"],
            f"{published[:3]}_{published[3:6]}_{published[6:9]}_{published[9:]}",
            "invalid",
        )
    )
    tests.append(t("trailing line feed", ["trailing-newline"], published + "\n", "invalid"))
    tests.append(t("trailing NUL", ["control-character"], published + "\u0000", "invalid"))
    tests.append(t("leading '+'", ["sign"], "+" + published, "invalid"))
    tests.append(t("leading '-'", ["sign"], "-" + published, "invalid"))
    tests.append(
        t(
            "'+' and 11 digits: 12 characters, and int() then zero-padding gives a valid Number",
            ["sign", "int-parsing"],
            "+" + leading_number[1:],
            "invalid",
        )
    )
    tests.append(t("empty string", ["empty"], "", "invalid"))

    notes: dict[str, Json] = {
        "published-example": _note(
            "BASIC", "The example Number 983205673214 published with the formula."
        ),
        "normal": _note(
            "BASIC",
            "An ordinary valid Number; together these cover every check digit value 1..9.",
        ),
        "remainder-zero": _note(
            "EDGE_CASE",
            "Σ P_n·Q_n mod 11 = 0, so the check digit is 0 (not 11). Catches 11 − r without the "
            "special case, and (11 − r) mod 10, which yields 1.",
        ),
        "remainder-one": _note(
            "EDGE_CASE",
            "Σ P_n·Q_n mod 11 = 1, so the check digit is 0 (not 10). Catches 11 − r without the "
            "special case.",
        ),
        "leading-zero": _note(
            "EDGE_CASE",
            "The value begins with 0; it must be handled as a string, never as an integer.",
        ),
        "all-zeros": _note(
            "EDGE_CASE",
            "000000000000 passes the check-digit rule (Σ = 0, check digit 0). Whether such a Number "
            "is ever issued is not a matter for the check-digit function.",
        ),
        "wrong-check-digit": _note(
            "WRONG_CHECK_DIGIT",
            "Twelve ASCII digits whose last digit is not the check digit of the first eleven.",
        ),
        "left-to-right-weights": _note(
            "WRONG_CHECK_DIGIT",
            "The last digit is what the formula gives when P_n is counted from the left instead of "
            "from the right.",
        ),
        "transposed-digits": _note(
            "WRONG_CHECK_DIGIT",
            "Two adjacent digits of a valid Number swapped; the check digit detects it.",
        ),
        **SHAPE_NOTES,
    }
    envelope = _envelope(
        topic="individual-number-check-digit",
        algorithm="個人番号 check digit (mod 11, weights 2..7,2..6 from the right)",
        status="normative",
        source="総務省令 平成26年第85号 第5条",
        header=[
            "A 個人番号 (individual Number) is 12 ASCII digits; the 12th is the check digit of the first 11.",
            "With P_n the n-th of the first 11 digits counted from the right and Q_n = n + 1 (1 ≤ n ≤ 6),",
            "n − 5 (7 ≤ n ≤ 11): check digit = 11 − (Σ P_n·Q_n mod 11), or 0 when that remainder is 0 or 1.",
            "'value' is the whole input string; 'result' says whether it is a valid Number.",
            "'expectedCheckDigit' and 'remainder' (Σ P_n·Q_n mod 11) are given for the first 11 digits",
            "when 'value' is 12 ASCII digits, and are null otherwise.",
        ],
        notes=notes,
        requirements=["RK-NUM-004"],
        number_of_tests=0,
    )
    return _finish_flat(envelope, tests)


# ---------------------------------------------------------------------------
# 2. 法人番号
# ---------------------------------------------------------------------------


def corporate_vectors() -> Json:
    def t(comment: str, flags: list[str], value: str, result: str) -> Json:
        return _cd_test(
            comment,
            flags,
            value,
            result,
            length=13,
            split=lambda v: v[1:],
            check_of=corporate_check_digit,
            remainder_of=corporate_remainder,
            is_valid=corporate_is_valid,
            remainder_flags={0: "remainder-zero"},
        )

    tests: list[Json] = []
    examples = ["7123456789012", "4011001098993"]
    for example in examples:
        assert corporate_is_valid(example), example
        tests.append(
            t("published example of a valid 法人番号", ["published-example"], example, "valid")
        )
    tests.append(
        t(
            "base of all zeros: Σ = 0, remainder 0, check digit 9",
            ["remainder-zero", "all-zeros"],
            "9000000000000",
            "valid",
        )
    )
    for i in range(2):
        base = _pick(
            f"corporate/remainder-0/{i}",
            12,
            lambda b: corporate_remainder(b) == 0 and b != "0" * 12,
        )
        tests.append(
            t(
                "Σ P_n·Q_n ≡ 0 (mod 9): check digit 9",
                ["remainder-zero"],
                corporate_number(base),
                "valid",
            )
        )
    for digit in range(1, 9):
        base = _pick(
            f"corporate/check-digit-{digit}", 12, _has_check_digit(corporate_check_digit, digit)
        )
        tests.append(
            t(
                f"valid 法人番号 whose check digit is {digit}",
                ["normal"],
                corporate_number(base),
                "valid",
            )
        )
    tests.append(
        t(
            "valid 法人番号 whose base begins with 000 (keep it a string)",
            ["leading-zero"],
            corporate_number("000" + _pick("corporate/leading-zero", 9, lambda b: b[0] != "0")),
            "valid",
        )
    )

    # 0 and 9 are congruent mod 9 under both weights: substituting one for the other, or
    # transposing adjacent 0 and 9, leaves the check digit unchanged.  A conforming
    # validator accepts these (the scheme does not detect such errors).
    base = examples[1][1:]
    first_zero = base.index("0")
    substituted = examples[1][0] + base[:first_zero] + "9" + base[first_zero + 1 :]
    assert corporate_is_valid(substituted)
    tests.append(
        t(
            "4011001098993 with one 0 of its base replaced by 9: still valid (undetected by mod 9)",
            ["zero-nine-substitution"],
            substituted,
            "valid",
        )
    )
    pos = base.index("09")
    transposed = examples[1][0] + base[:pos] + "90" + base[pos + 2 :]
    assert corporate_is_valid(transposed)
    tests.append(
        t(
            "4011001098993 with adjacent 0 and 9 of its base transposed: still valid (undetected by mod 9)",
            ["zero-nine-substitution"],
            transposed,
            "valid",
        )
    )

    # --- every wrong check digit for two bases ------------------------------
    for value, extra in ((examples[0], []), ("9000000000000", ["remainder-zero"])):
        base = value[1:]
        right = corporate_check_digit(base)
        for wrong in range(10):
            if wrong == right:
                continue
            comment = f"base {base} with check digit {wrong} instead of {right}"
            flags = ["wrong-check-digit", *extra]
            if wrong == 0:
                comment += " (0 is never a 法人番号 check digit: 9 − r is 1..9)"
                flags.append("check-digit-zero")
                if base == "0" * 12:
                    comment = (
                        "all zeros: (9 − r) mod 9 would give 0; the check digit of this base is 9"
                    )
                    flags.append("all-zeros")
            tests.append(t(comment, flags, str(wrong) + base, "invalid"))

    # --- formula mistakes -----------------------------------------------------
    def left_to_right(base: str) -> int:
        total = sum(int(base[i]) * (1 if (i + 1) % 2 == 1 else 2) for i in range(12))
        return 9 - total % 9

    ltr_base = _pick(
        "corporate/left-to-right", 12, lambda b: left_to_right(b) != corporate_check_digit(b)
    )
    tests.append(
        t(
            "check digit computed with P_n counted from the left (weights 1 and 2 swapped)",
            ["left-to-right-weights"],
            str(left_to_right(ltr_base)) + ltr_base,
            "invalid",
        )
    )
    at_end_base = _pick(
        "corporate/check-at-end",
        12,
        lambda b: not corporate_is_valid(b + str(corporate_check_digit(b))),
    )
    tests.append(
        t(
            "check digit appended at the end instead of leading",
            ["check-digit-at-end"],
            at_end_base + str(corporate_check_digit(at_end_base)),
            "invalid",
        )
    )

    # --- wrong shape ----------------------------------------------------------
    ex = examples[0]
    tests.append(
        t("12 digits: the base without its check digit", ["wrong-length"], ex[1:], "invalid")
    )
    tests.append(
        t(
            "12 digits: check digit and the first 11 digits of the base",
            ["wrong-length"],
            ex[:12],
            "invalid",
        )
    )
    tests.append(
        t("14 digits: a valid 法人番号 followed by 0", ["wrong-length"], ex + "0", "invalid")
    )
    tests.append(
        t(
            "14 digits: a valid 法人番号 preceded by 0 (valid if leading zeros are dropped)",
            ["wrong-length", "int-parsing"],
            "0" + ex,
            "invalid",
        )
    )
    tests.append(
        t(
            "a valid 個人番号 (12 digits) where a 法人番号 is expected",
            ["wrong-length"],
            "983205673214",
            "invalid",
        )
    )
    fullwidth = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in ex)
    tests.append(
        t("full-width digits (U+FF10..U+FF19)", ["non-ascii-digits"], fullwidth, "invalid")
    )
    tests.append(
        t(
            "'T' + 法人番号: the 適格請求書発行事業者登録番号 form, not a 法人番号",
            ["letters", "wrong-length"],
            "T" + ex,
            "invalid",
        )
    )
    tests.append(t("letter in place of the check digit", ["letters"], "X" + ex[1:], "invalid"))
    tests.append(
        t("grouped with hyphens", ["separator"], f"{ex[0]}-{ex[1:5]}-{ex[5:9]}-{ex[9:]}", "invalid")
    )
    tests.append(t("leading space", ["whitespace"], " " + ex, "invalid"))
    tests.append(t("trailing U+3000 ideographic space", ["whitespace"], ex + "\u3000", "invalid"))
    tests.append(t("trailing line feed", ["trailing-newline"], ex + "\n", "invalid"))
    tests.append(t("leading '+'", ["sign"], "+" + ex, "invalid"))
    tests.append(t("empty string", ["empty"], "", "invalid"))

    notes: dict[str, Json] = {
        "published-example": _note("BASIC", "A published example of a valid 法人番号."),
        "normal": _note(
            "BASIC", "An ordinary valid 法人番号; together these cover check digits 1..8."
        ),
        "remainder-zero": _note(
            "EDGE_CASE",
            "Σ P_n·Q_n mod 9 = 0 over the base, so the check digit is 9 (not 0). Catches (9 − r) mod 9.",
        ),
        "all-zeros": _note("EDGE_CASE", "The base is twelve zeros."),
        "leading-zero": _note(
            "EDGE_CASE", "The base begins with zeros; handle the value as a string."
        ),
        "zero-nine-substitution": _note(
            "EDGE_CASE",
            "Valid although made from another valid 法人番号 by changing 0 to 9 or transposing adjacent "
            "0 and 9: 9 ≡ 18 ≡ 0 (mod 9), so the scheme cannot detect it. A validator must accept it.",
        ),
        "wrong-check-digit": _note(
            "WRONG_CHECK_DIGIT",
            "Thirteen ASCII digits whose first digit is not the check digit of the other twelve.",
        ),
        "check-digit-zero": _note(
            "WRONG_CHECK_DIGIT",
            "The leading digit is 0, which 9 − (Σ mod 9) never yields (its range is 1..9).",
        ),
        "left-to-right-weights": _note(
            "WRONG_CHECK_DIGIT",
            "The leading digit is what the formula gives when P_n is counted from the left, i.e. with "
            "the weights 1 and 2 swapped.",
        ),
        "check-digit-at-end": _note(
            "WRONG_CHECK_DIGIT",
            "The check digit of the first twelve digits is appended at the end, as in most schemes; the "
            "法人番号 puts it first.",
        ),
        **{k: v for k, v in SHAPE_NOTES.items() if k not in ("control-character",)},
    }
    envelope = _envelope(
        topic="corporate-number-check-digit",
        algorithm="法人番号 check digit (leading; mod 9, weights 1,2 from the right)",
        status="normative",
        source="財務省令 平成26年第70号 第2条",
        header=[
            "A 法人番号 (corporate Number) is 13 ASCII digits; the FIRST is the check digit of the other 12 (the base).",
            "With P_n the n-th digit of the base counted from the right and Q_n = 1 for odd n, 2 for even n:",
            "check digit = 9 − (Σ P_n·Q_n mod 9), so it ranges over 1..9 and is never 0.",
            "'value' is the whole input string; 'result' says whether it is a valid 法人番号.",
            "'expectedCheckDigit' and 'remainder' (Σ P_n·Q_n mod 9) are given for the base when 'value' is",
            "13 ASCII digits, and are null otherwise.",
        ],
        notes=notes,
        requirements=["RK-CORP-001"],
        number_of_tests=0,
    )
    return _finish_flat(envelope, tests)


# ---------------------------------------------------------------------------
# 3. 住民票コード (assumed formula)
# ---------------------------------------------------------------------------


def resident_vectors() -> Json:
    def t(comment: str, flags: list[str], value: str, result: str) -> Json:
        return _cd_test(
            comment,
            flags,
            value,
            result,
            length=11,
            split=lambda v: v[:10],
            check_of=resident_check_digit,
            remainder_of=resident_remainder,
            is_valid=resident_is_valid,
            remainder_flags={0: "remainder-zero", 1: "remainder-one"},
        )

    assumed = "assumed-formula"
    independent = "formula-independent"
    tests: list[Json] = []
    normal = []
    for i in range(4):
        body = _pick(f"resident/normal/{i}", 10, lambda b: resident_remainder(b) > 1)
        normal.append(body)
        tests.append(
            t("valid under the assumed formula", [assumed, "normal"], resident_code(body), "valid")
        )
    rem0 = _pick("resident/remainder-0", 10, lambda b: resident_remainder(b) == 0 and b != "0" * 10)
    rem1 = _pick("resident/remainder-1", 10, lambda b: resident_remainder(b) == 1)
    tests.append(
        t(
            "Σ ≡ 0 (mod 11): check digit 0",
            [assumed, "remainder-zero"],
            resident_code(rem0),
            "valid",
        )
    )
    tests.append(
        t("Σ ≡ 1 (mod 11): check digit 0", [assumed, "remainder-one"], resident_code(rem1), "valid")
    )
    tests.append(t("all zeros", [assumed, "all-zeros", "remainder-zero"], "00000000000", "valid"))
    lead = _pick("resident/leading-zero", 10, lambda b: b.startswith("00") and b[2] != "0")
    tests.append(
        t(
            "valid code beginning with 00 (keep it a string)",
            [assumed, "leading-zero"],
            resident_code(lead),
            "valid",
        )
    )

    body = normal[0]
    right = resident_check_digit(body)
    for wrong in range(10):
        if wrong != right:
            tests.append(
                t(
                    f"check digit {wrong} instead of {right}",
                    [assumed, "wrong-check-digit"],
                    body + str(wrong),
                    "invalid",
                )
            )
    tests.append(
        t(
            "remainder-0 body with check digit 1 ((11 − r) mod 10 gives 1 when r = 0)",
            [assumed, "wrong-check-digit", "remainder-zero"],
            rem0 + "1",
            "invalid",
        )
    )
    tests.append(
        t(
            "remainder-1 body with check digit 1",
            [assumed, "wrong-check-digit", "remainder-one"],
            rem1 + "1",
            "invalid",
        )
    )

    code = resident_code(normal[1])
    tests.append(
        t(
            "10 digits: the body without its check digit",
            [independent, "wrong-length"],
            code[:10],
            "invalid",
        )
    )
    tests.append(
        t(
            "12 digits: a valid 個人番号 is not a resident code",
            [independent, "wrong-length"],
            "983205673214",
            "invalid",
        )
    )
    tests.append(
        t(
            "12 digits: a valid code preceded by 0",
            [independent, "wrong-length", "int-parsing"],
            "0" + code,
            "invalid",
        )
    )
    fullwidth = "".join(chr(ord(c) - ord("0") + 0xFF10) for c in code)
    tests.append(
        t(
            "full-width digits (U+FF10..U+FF19)",
            [independent, "non-ascii-digits"],
            fullwidth,
            "invalid",
        )
    )
    tests.append(
        t(
            "letter in place of the check digit",
            [independent, "letters"],
            code[:10] + "A",
            "invalid",
        )
    )
    tests.append(t("trailing space", [independent, "whitespace"], code + " ", "invalid"))
    tests.append(
        t("grouped with a hyphen", [independent, "separator"], code[:5] + "-" + code[5:], "invalid")
    )
    tests.append(t("trailing line feed", [independent, "trailing-newline"], code + "\n", "invalid"))
    tests.append(t("leading '+'", [independent, "sign"], "+" + code, "invalid"))
    tests.append(t("empty string", [independent, "empty"], "", "invalid"))

    notes: dict[str, Json] = {
        assumed: _note(
            "ASSUMPTION",
            "The expected result depends on the ASSUMED check-digit formula (the 個人番号 weighting on "
            "the 10-digit body). The official formula, 総務省告示 平成14年第436号, is not available to "
            "this project; RK-NUM-006 makes the check a named, replaceable function. A vendor that "
            "replaces it with the official formula replaces these vectors too.",
        ),
        independent: _note(
            "MALFORMED_INPUT",
            "The value is not 11 ASCII digits, so it is invalid whatever the check-digit formula; these "
            "vectors hold even where the formula is replaced.",
        ),
        "normal": _note("BASIC", "An ordinary code valid under the assumed formula."),
        "remainder-zero": _note(
            "EDGE_CASE", "Σ P_n·Q_n mod 11 = 0: check digit 0 under the assumed formula."
        ),
        "remainder-one": _note(
            "EDGE_CASE", "Σ P_n·Q_n mod 11 = 1: check digit 0 under the assumed formula."
        ),
        "all-zeros": _note("EDGE_CASE", "00000000000 passes the assumed check (Σ = 0)."),
        "leading-zero": _note("EDGE_CASE", "The value begins with zeros; handle it as a string."),
        "wrong-check-digit": _note(
            "WRONG_CHECK_DIGIT",
            "Eleven ASCII digits whose last digit is not the assumed check digit of the first ten.",
        ),
        **{k: v for k, v in SHAPE_NOTES.items() if k not in ("control-character",)},
    }
    envelope = _envelope(
        topic="resident-code-check-digit",
        algorithm="住民票コード check digit (ASSUMED: mod 11, weights 2..7,2..5 from the right)",
        status="informative",
        source="総務省告示 平成14年第436号 (not available; formula assumed, see notes)",
        header=[
            "INFORMATIVE. A 住民票コード (resident code) is 11 ASCII digits: a 10-digit body and a check digit.",
            "The official check-digit formula (総務省告示 平成14年第436号) is not available to this project.",
            "These vectors ASSUME the 個人番号 weighting: P_n the n-th body digit from the right (n = 1..10),",
            "Q_n = n + 1 (1 ≤ n ≤ 6), n − 5 (7 ≤ n ≤ 10); check digit = 11 − (Σ P_n·Q_n mod 11), or 0 when",
            "that remainder is 0 or 1. RK-NUM-006 makes the check replaceable; vendors replace the formula",
            "and the vectors flagged 'assumed-formula' with it. Vectors flagged 'formula-independent' hold",
            "whatever the formula. 'expectedCheckDigit' and 'remainder' are null unless 'value' is 11 ASCII digits.",
        ],
        notes=notes,
        requirements=["RK-NUM-006"],
        number_of_tests=0,
    )
    return _finish_flat(envelope, tests)


# ---------------------------------------------------------------------------
# 4. Pattern decisions
# ---------------------------------------------------------------------------

DECISION_ORDER = (
    "identity-mismatch",
    "unknown-pattern",
    "requester-not-designated",
    "provider-not-designated",
    "information-kind-not-covered",
    "outside-validity",
)


def _instant(text: str | None) -> tuple[int, ...] | None:
    """Parse the restricted RFC 3339 UTC form used here into a comparable tuple.

    ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` → (Y, M, D, h, m, s, microseconds).  Kept
    independent of ``datetime`` so the comparison rule is visible.
    """
    if text is None:
        return None
    assert text.endswith("Z"), text
    assert text[10] == "T", text
    date, time = text[:10], text[11:-1]
    year, month, day = (int(x) for x in date.split("-"))
    if "." in time:
        hms, frac = time.split(".")
        micro = int((frac + "000000")[:6])
    else:
        hms, micro = time, 0
    hour, minute, second = (int(x) for x in hms.split(":"))
    return (year, month, day, hour, minute, second, micro)


def decide(patterns: list[Json], query: Json) -> str | None:
    """This generator's own statement of the decision order; None means approved."""
    if query["authenticated_requester"] != query["requester"]:
        return "identity-mismatch"
    matching = [p for p in patterns if p["pattern_id"] == query["pattern_id"]]
    if not matching:
        return "unknown-pattern"
    (pattern,) = matching
    if query["requester"] not in pattern["requesters"]:
        return "requester-not-designated"
    if query["provider"] not in pattern["providers"]:
        return "provider-not-designated"
    if query["information_kind"] not in pattern["information_kinds"]:
        return "information-kind-not-covered"
    at = _instant(query["at"])
    start = _instant(pattern["valid_from"])
    end = _instant(pattern["valid_until"])
    assert at is not None
    if (start is not None and at < start) or (end is not None and at >= end):
        return "outside-validity"
    return None


def _applicable_reasons(patterns: list[Json], query: Json) -> list[str]:
    """Every reason that applies on its own (used to label precedence vectors)."""
    reasons = []
    if query["authenticated_requester"] != query["requester"]:
        reasons.append("identity-mismatch")
    matching = [p for p in patterns if p["pattern_id"] == query["pattern_id"]]
    if not matching:
        reasons.append("unknown-pattern")
        return reasons
    pattern = matching[0]
    if query["requester"] not in pattern["requesters"]:
        reasons.append("requester-not-designated")
    if query["provider"] not in pattern["providers"]:
        reasons.append("provider-not-designated")
    if query["information_kind"] not in pattern["information_kinds"]:
        reasons.append("information-kind-not-covered")
    at = _instant(query["at"])
    start, end = _instant(pattern["valid_from"]), _instant(pattern["valid_until"])
    assert at is not None
    if (start is not None and at < start) or (end is not None and at >= end):
        reasons.append("outside-validity")
    return reasons


KYOKAI = "kyokai-kenpo"
NENKIN = "nenkin-kiko"
MHLW = "mhlw"
CHIYODA = "city.131016"
OSAKA = "city.271004"
SAPPORO = "city.011002"

INCOME = "local-tax.income"
HOUSEHOLD = "resident.household"
PENSION = "pension.benefit"
MEDICAL = "medical-insurance.benefit"

START = "2017-11-13T00:00:00Z"
SWITCH = "2024-04-01T00:00:00Z"
P5_END = "2026-04-01T00:00:00Z"
P6_START = "2025-10-01T09:00:00.250Z"
P6_END = "2025-10-01T09:00:01.750Z"


QUERY_FIELDS = (
    "authenticated_requester",
    "requester",
    "provider",
    "pattern_id",
    "information_kind",
    "at",
)
PATTERN_FIELDS = (
    "pattern_id",
    "legal_basis",
    "purpose",
    "requesters",
    "providers",
    "information_kinds",
    "valid_from",
    "valid_until",
)


def _table() -> list[Json]:
    """The illustrative legal pattern table most vectors use (one row per pattern)."""
    # fmt: off
    rows: list[tuple[str, str, str, list[str], list[str], list[str], str | None, str | None]] = [
        ("P-0001", "番号法 別表第二 第1項（例示）", "健康保険法による保険給付の支給に関する事務（例示）",
         [KYOKAI], [CHIYODA, OSAKA], [INCOME, HOUSEHOLD], START, None),
        ("P-0002", "番号法 別表第二 第2項（例示）", "国民年金法による年金である給付の支給に関する事務（例示・旧）",
         [NENKIN], [CHIYODA, OSAKA, SAPPORO], [INCOME], START, SWITCH),
        ("P-0003", "番号法 別表第二 第3項（例示）", "国民年金法による年金である給付の支給に関する事務（例示・新）",
         [NENKIN], [CHIYODA, OSAKA, SAPPORO], [INCOME, HOUSEHOLD], SWITCH, None),
        ("P-0004", "番号法 別表第二 第4項（例示）", "地方公共団体間の年金給付関係情報の照会（例示）",
         [CHIYODA, OSAKA], [CHIYODA, OSAKA, NENKIN], [PENSION], None, None),
        ("P-0005", "番号法 別表第二 第5項（例示）", "医療保険給付関係情報の照会（例示・期限付）",
         [MHLW], [KYOKAI], [MEDICAL], None, P5_END),
        ("P-0006", "番号法 別表第二 第6項（例示）", "時刻比較の精度を検査するための架空の項（例示）",
         [OSAKA], [SAPPORO], [HOUSEHOLD], P6_START, P6_END),
    ]
    # fmt: on
    return [dict(zip(PATTERN_FIELDS, row, strict=True)) for row in rows]


def pattern_vectors() -> Json:
    tests: list[Json] = []

    def add(
        comment: str,
        flags: list[str],
        query: Json,
        reason: str | None,
        patterns: list[Json] | None = None,
    ) -> None:
        table = _table() if patterns is None else patterns
        ids = [p["pattern_id"] for p in table]
        assert len(ids) == len(set(ids)), "pattern ids are unique in a table"
        got = decide(table, query)
        if got != reason:
            raise AssertionError(f"{comment}: decide gives {got}, vector says {reason}")
        applicable = _applicable_reasons(table, query)
        if "precedence" in flags:
            assert len(applicable) >= 2, (comment, applicable)
        else:
            assert len(applicable) <= 1, (comment, applicable)
        expected_flag = "approved" if reason is None else reason
        assert expected_flag in flags, (comment, flags)
        tests.append(
            {
                "comment": comment,
                "flags": flags,
                "patterns": table,
                "query": query,
                "applicableReasons": applicable,
                "expected": {
                    "decision": "approved" if reason is None else "refused",
                    "reason": reason,
                },
                "result": "valid" if reason is None else "invalid",
            }
        )

    # One row per vector: comment, flags, query (authenticated requester, requester,
    # provider, pattern id, information kind, time), expected reason (None = approved).
    # The table is data; keep one row per line.
    # fmt: off
    day = "2024-06-03T09:30:00Z"
    before_start = "2017-11-12T23:59:59Z"
    cases: list[tuple[str, list[str], tuple[str, str, str, str, str, str], str | None]] = [
        # --- approvals ---------------------------------------------------------------
        ("designated requester, provider and kind, inside validity", ["approved"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", INCOME, day), None),
        ("second provider and second kind of the same pattern", ["approved"],
         (KYOKAI, KYOKAI, OSAKA, "P-0001", HOUSEHOLD, day), None),
        ("one of several designated requesters", ["approved"],
         (OSAKA, OSAKA, NENKIN, "P-0004", PENSION, day), None),
        # --- each reason alone -------------------------------------------------------
        ("authenticated as another designated requester of the same pattern (impersonation)",
         ["identity-mismatch"],
         (NENKIN, KYOKAI, CHIYODA, "P-0001", INCOME, day), "identity-mismatch"),
        ("authenticated as a provider of the pattern, naming a designated requester",
         ["identity-mismatch"],
         (CHIYODA, KYOKAI, OSAKA, "P-0001", INCOME, day), "identity-mismatch"),
        ("pattern id not in the table", ["unknown-pattern"],
         (KYOKAI, KYOKAI, CHIYODA, "P-9999", INCOME, day), "unknown-pattern"),
        ("pattern ids compare exactly: lower-case 'p-0001' is unknown",
         ["unknown-pattern", "exact-match"],
         (KYOKAI, KYOKAI, CHIYODA, "p-0001", INCOME, day), "unknown-pattern"),
        ("pattern ids compare exactly: trailing space", ["unknown-pattern", "exact-match"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001 ", INCOME, day), "unknown-pattern"),
        ("empty pattern table: nothing is approved", ["unknown-pattern", "empty-table"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", INCOME, day), "unknown-pattern"),
        ("requester designated only in other patterns (P-0002/P-0003), not in P-0001",
         ["requester-not-designated", "no-fallback"],
         (NENKIN, NENKIN, CHIYODA, "P-0001", INCOME, day), "requester-not-designated"),
        ("a provider of the pattern acting as its requester",
         ["requester-not-designated", "role-confusion"],
         (CHIYODA, CHIYODA, OSAKA, "P-0001", INCOME, day), "requester-not-designated"),
        ("provider designated only in other patterns (P-0002/P-0003)",
         ["provider-not-designated", "no-fallback"],
         (KYOKAI, KYOKAI, SAPPORO, "P-0001", INCOME, day), "provider-not-designated"),
        ("the requester named as provider of its own pattern",
         ["provider-not-designated", "role-confusion"],
         (KYOKAI, KYOKAI, KYOKAI, "P-0001", INCOME, day), "provider-not-designated"),
        ("information kind not covered by the pattern", ["information-kind-not-covered"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", PENSION, day), "information-kind-not-covered"),
        ("kind covered only by the successor P-0003; the query names P-0002 while it is in force",
         ["information-kind-not-covered", "no-fallback"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", HOUSEHOLD, "2020-01-01T00:00:00Z"),
         "information-kind-not-covered"),
        ("information kinds compare exactly: 'Local-tax.income'",
         ["information-kind-not-covered", "exact-match"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", "Local-tax.income", day),
         "information-kind-not-covered"),
        ("query before the pattern came into force", ["outside-validity"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", INCOME, "2016-01-01T00:00:00Z"), "outside-validity"),
        ("expired pattern P-0002, although its successor P-0003 would cover the query",
         ["outside-validity", "no-fallback"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", INCOME, day), "outside-validity"),
        # --- validity boundaries -------------------------------------------------------
        ("exactly at valid_from (inclusive)", ["approved", "boundary-valid-from"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", INCOME, START), None),
        ("one second before valid_from", ["outside-validity", "boundary-valid-from"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", INCOME, before_start), "outside-validity"),
        ("one microsecond before valid_from",
         ["outside-validity", "boundary-valid-from", "fractional-seconds"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", INCOME, "2017-11-12T23:59:59.999999Z"),
         "outside-validity"),
        ("one second before valid_until", ["approved", "boundary-valid-until"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", INCOME, "2024-03-31T23:59:59Z"), None),
        ("one millisecond before valid_until",
         ["approved", "boundary-valid-until", "fractional-seconds"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", INCOME, "2024-03-31T23:59:59.999Z"), None),
        ("exactly at valid_until (exclusive)", ["outside-validity", "boundary-valid-until"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", INCOME, SWITCH), "outside-validity"),
        ("exactly at valid_until, written with a zero fraction",
         ["outside-validity", "boundary-valid-until", "fractional-seconds"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", INCOME, "2024-04-01T00:00:00.000Z"),
         "outside-validity"),
        ("successor P-0003 exactly at its valid_from, the instant P-0002 ends",
         ["approved", "boundary-valid-from", "successor-pattern"],
         (NENKIN, NENKIN, CHIYODA, "P-0003", HOUSEHOLD, SWITCH), None),
        ("successor P-0003 one microsecond before its valid_from",
         ["outside-validity", "boundary-valid-from", "fractional-seconds", "successor-pattern"],
         (NENKIN, NENKIN, CHIYODA, "P-0003", INCOME, "2024-03-31T23:59:59.999999Z"),
         "outside-validity"),
        ("no valid_from and no valid_until: in force at 1970-01-01T00:00:00Z",
         ["approved", "open-validity"],
         (CHIYODA, CHIYODA, OSAKA, "P-0004", PENSION, "1970-01-01T00:00:00Z"), None),
        ("no valid_from and no valid_until: in force at 9999-12-31T23:59:59Z",
         ["approved", "open-validity"],
         (CHIYODA, CHIYODA, OSAKA, "P-0004", PENSION, "9999-12-31T23:59:59Z"), None),
        ("no valid_until: in force long after valid_from", ["approved", "open-validity"],
         (KYOKAI, KYOKAI, OSAKA, "P-0001", INCOME, "2099-12-31T23:59:59Z"), None),
        ("no valid_from: in force long before valid_until", ["approved", "open-validity"],
         (MHLW, MHLW, KYOKAI, "P-0005", MEDICAL, "2000-01-01T00:00:00Z"), None),
        ("no valid_from: one second before valid_until",
         ["approved", "open-validity", "boundary-valid-until"],
         (MHLW, MHLW, KYOKAI, "P-0005", MEDICAL, "2026-03-31T23:59:59Z"), None),
        ("no valid_from: exactly at valid_until",
         ["outside-validity", "open-validity", "boundary-valid-until"],
         (MHLW, MHLW, KYOKAI, "P-0005", MEDICAL, P5_END), "outside-validity"),
        ("sub-second period: inside, a quarter second after valid_from (truncation gives 'before')",
         ["approved", "fractional-seconds"],
         (OSAKA, OSAKA, SAPPORO, "P-0006", HOUSEHOLD, "2025-10-01T09:00:00.500Z"), None),
        ("sub-second period: exactly at valid_from written with fewer fraction digits ('.25')",
         ["approved", "boundary-valid-from", "fractional-seconds"],
         (OSAKA, OSAKA, SAPPORO, "P-0006", HOUSEHOLD, "2025-10-01T09:00:00.25Z"), None),
        ("sub-second period: one microsecond before valid_from",
         ["outside-validity", "boundary-valid-from", "fractional-seconds"],
         (OSAKA, OSAKA, SAPPORO, "P-0006", HOUSEHOLD, "2025-10-01T09:00:00.249999Z"),
         "outside-validity"),
        ("sub-second period: one microsecond before valid_until",
         ["approved", "boundary-valid-until", "fractional-seconds"],
         (OSAKA, OSAKA, SAPPORO, "P-0006", HOUSEHOLD, "2025-10-01T09:00:01.749999Z"), None),
        ("sub-second period: exactly at valid_until written with more fraction digits ('.750000')",
         ["outside-validity", "boundary-valid-until", "fractional-seconds"],
         (OSAKA, OSAKA, SAPPORO, "P-0006", HOUSEHOLD, "2025-10-01T09:00:01.750000Z"),
         "outside-validity"),
        ("an agency designated as both requester and provider queries itself: no rule forbids it",
         ["approved", "self-provision"],
         (CHIYODA, CHIYODA, CHIYODA, "P-0004", PENSION, day), None),
        # --- precedence: several reasons apply, the earliest in the order wins ----------
        ("identity mismatch and unknown pattern", ["identity-mismatch", "precedence"],
         (KYOKAI, NENKIN, CHIYODA, "P-9999", INCOME, day), "identity-mismatch"),
        ("identity mismatch and the named requester not designated",
         ["identity-mismatch", "precedence"],
         (KYOKAI, NENKIN, CHIYODA, "P-0001", INCOME, day), "identity-mismatch"),
        ("identity mismatch and every later reason (3, 4, 5 and 6)",
         ["identity-mismatch", "precedence"],
         (KYOKAI, SAPPORO, MHLW, "P-0002", PENSION, "2010-01-01T00:00:00Z"), "identity-mismatch"),
        ("unknown pattern; requester, provider and kind designated nowhere: rule 2 is judged "
         "before any designation", ["unknown-pattern"],
         (SAPPORO, SAPPORO, MHLW, "P-0000", "unknown.kind", "1900-01-01T00:00:00Z"),
         "unknown-pattern"),
        ("requester and provider both not designated", ["requester-not-designated", "precedence"],
         (NENKIN, NENKIN, MHLW, "P-0001", INCOME, day), "requester-not-designated"),
        ("requester not designated, kind not covered, before valid_from",
         ["requester-not-designated", "precedence"],
         (NENKIN, NENKIN, CHIYODA, "P-0001", PENSION, "2017-01-01T00:00:00Z"),
         "requester-not-designated"),
        ("requester, provider, kind and validity all fail",
         ["requester-not-designated", "precedence"],
         (MHLW, MHLW, SAPPORO, "P-0001", PENSION, "2017-01-01T00:00:00Z"),
         "requester-not-designated"),
        ("provider not designated and kind not covered", ["provider-not-designated", "precedence"],
         (KYOKAI, KYOKAI, NENKIN, "P-0001", PENSION, day), "provider-not-designated"),
        ("provider not designated and pattern expired", ["provider-not-designated", "precedence"],
         (NENKIN, NENKIN, KYOKAI, "P-0002", INCOME, day), "provider-not-designated"),
        ("kind not covered and exactly at valid_until",
         ["information-kind-not-covered", "precedence", "boundary-valid-until"],
         (NENKIN, NENKIN, CHIYODA, "P-0002", HOUSEHOLD, SWITCH), "information-kind-not-covered"),
        ("kind not covered and before valid_from",
         ["information-kind-not-covered", "precedence"],
         (KYOKAI, KYOKAI, CHIYODA, "P-0001", MEDICAL, before_start),
         "information-kind-not-covered"),
    ]
    # fmt: on
    for comment, flags, query, reason in cases:
        table: list[Json] | None = [] if "empty-table" in flags else None
        add(comment, flags, dict(zip(QUERY_FIELDS, query, strict=True)), reason, patterns=table)

    notes: dict[str, Json] = {
        "approved": _note("BASIC", "Every condition holds: the query is approved (reason null)."),
        "identity-mismatch": _note(
            "AUTHORIZATION",
            "Rule 1: the requester named in the query is not the agency the hub authenticated.",
        ),
        "unknown-pattern": _note(
            "AUTHORIZATION", "Rule 2: no pattern in the table has the query's pattern_id."
        ),
        "requester-not-designated": _note(
            "AUTHORIZATION",
            "Rule 3: the requester is not among the pattern's designated requesters.",
        ),
        "provider-not-designated": _note(
            "AUTHORIZATION", "Rule 4: the provider is not among the pattern's designated providers."
        ),
        "information-kind-not-covered": _note(
            "AUTHORIZATION",
            "Rule 5: the information kind is not among the pattern's information kinds.",
        ),
        "outside-validity": _note(
            "AUTHORIZATION",
            "Rule 6: the query time is outside the pattern's [valid_from, valid_until).",
        ),
        "precedence": _note(
            "EDGE_CASE",
            "Several reasons apply (listed in 'applicableReasons'); the refusal names the earliest in the "
            "decision order. An implementation that checks in another order reports another reason.",
        ),
        "boundary-valid-from": _note(
            "EDGE_CASE", "The query time is at or just before valid_from, which is inclusive."
        ),
        "boundary-valid-until": _note(
            "EDGE_CASE", "The query time is at or just before valid_until, which is exclusive."
        ),
        "fractional-seconds": _note(
            "EDGE_CASE",
            "The query time or a validity bound has a fractional second (1 to 6 digits). Times compare as "
            "instants with microsecond precision: truncating or rounding to whole seconds, or comparing "
            "the strings ('...00.000Z' sorts before '...00Z'), gives the wrong decision for some of these.",
        ),
        "open-validity": _note(
            "EDGE_CASE", "valid_from and/or valid_until is null: that side of the period is open."
        ),
        "successor-pattern": _note(
            "EDGE_CASE",
            "P-0003 begins at the instant P-0002 ends; exactly one of them is in force at any time.",
        ),
        "no-fallback": _note(
            "AUTHORIZATION",
            "Another pattern in the table would cover the query, but the query names this one. The hub "
            "judges the named pattern only; it does not search the table for one that fits.",
        ),
        "exact-match": _note(
            "AUTHORIZATION",
            "Identifiers compare as exact strings: no case folding, trimming or Unicode normalisation.",
        ),
        "role-confusion": _note(
            "AUTHORIZATION",
            "An agency designated in one role (requester or provider) used in the other role.",
        ),
        "empty-table": _note("EDGE_CASE", "The pattern table is empty."),
        "self-provision": _note(
            "EDGE_CASE",
            "Requester and provider are the same agency, designated in both roles. The decision order has "
            "no rule against it, so it is approved; a stricter policy would be a new rule and a new reason.",
        ),
    }
    envelope = _envelope(
        topic="pattern-decision",
        algorithm="linkage pattern approval (decision table)",
        status="normative",
        source=(
            "主要な論点リスト（案） 第１．５．（１）（項目17）, 第１．５．（２）（項目18）, 第１．５．（４）②（項目21）"
        ),
        header=[
            "The hub approves every query against the legal pattern table before any code conversion.",
            "Each vector is self-contained: 'patterns' is the whole table, 'query' the authenticated query.",
            "Decision order; the first rule that applies gives the refusal reason:",
            "1 identity-mismatch (authenticated_requester ≠ requester), 2 unknown-pattern,",
            "3 requester-not-designated, 4 provider-not-designated, 5 information-kind-not-covered,",
            "6 outside-validity (valid_from inclusive, valid_until exclusive, null = open); else approved.",
            "Times are RFC 3339 UTC ('Z'); compare them as instants. Identifiers compare as exact strings.",
            "'expected' is the decision; 'result' is 'valid' for an approval and 'invalid' for a refusal.",
            "'applicableReasons' lists every rule that fails on its own (rules 3-6 only when the pattern exists);",
            "it is informative, for diagnosing an implementation that checks in the wrong order.",
            "Agency ids, pattern contents and 別表 rows are illustrative, not quotations of the enacted table.",
        ],
        notes=notes,
        requirements=["RK-PAT-001", "RK-PAT-002"],
        number_of_tests=0,
    )
    return _finish_flat(envelope, tests)


# ---------------------------------------------------------------------------
# 5. Code derivation (informative: the reference's own algorithm)
# ---------------------------------------------------------------------------

ID_CODE_LABEL = "renkei/id-code/v1"
LINK_CODE_LABEL = "renkei/link-code/v1"


def _hkdf(root: bytes, purpose: str, version: int) -> tuple[str, bytes]:
    info = f"renkei/{purpose}/v{version}"
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=info.encode("ascii")).derive(
        root
    )
    return info, key


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _id_code(root: bytes, version: int, resident: str) -> bytes:
    _, key = _hkdf(root, "id-code", version)
    return bytes([version]) + AESSIV(key).encrypt(
        resident.encode("ascii"), [ID_CODE_LABEL.encode()]
    )


def _link_code(root: bytes, version: int, id_code: bytes, agency: str) -> bytes:
    _, key = _hkdf(root, "link-code", version)
    return bytes([version]) + AESSIV(key).encrypt(
        id_code, [LINK_CODE_LABEL.encode(), agency.encode("utf-8")]
    )


def _open_link_code(root: bytes, current_version: int, link: bytes, agency: str) -> bytes | None:
    """None for any failure: wrong version byte, wrong agency, altered code."""
    if len(link) != 45 or link[0] != current_version:
        return None
    _, key = _hkdf(root, "link-code", current_version)
    try:
        return AESSIV(key).decrypt(link[1:], [LINK_CODE_LABEL.encode(), agency.encode("utf-8")])
    except InvalidTag:
        return None


def code_vectors() -> Json:
    sequential = bytes(range(32))
    residents = [resident_code(_pick(f"code/resident/{i}", 10, lambda b: True)) for i in range(4)]
    residents.append("00000000000")
    assert all(resident_is_valid(r) for r in residents)
    long_agency = "a" + "0123456789abcdefghijklmnopqrstuvwxyz._-0123456789abcdefghijklm"[:62]
    assert len(long_agency) == 63

    cases: list[tuple[str, list[str], bytes, int, str, list[str]]] = [
        (
            "root secret 00..1f, key version 1",
            ["normal"],
            sequential,
            1,
            residents[0],
            [CHIYODA, NENKIN, KYOKAI],
        ),
        (
            "same root and version, another resident: another ID code",
            ["normal"],
            sequential,
            1,
            residents[1],
            [CHIYODA, NENKIN],
        ),
        (
            "same root and resident as tcId 1, key version 2: unrelated ID and link codes",
            ["key-rotation"],
            sequential,
            2,
            residents[0],
            [CHIYODA, NENKIN, KYOKAI],
        ),
        ("all-zero 32-byte root secret", ["normal"], bytes(32), 1, residents[2], [OSAKA, SAPPORO]),
        (
            "all-0xff root secret, key version 255 (the largest)",
            ["key-rotation"],
            b"\xff" * 32,
            255,
            residents[3],
            [MHLW],
        ),
        (
            "64-byte root secret (longer than the 32-byte minimum)",
            ["long-root-secret"],
            hashlib.sha512(b"renkei vector root 6").digest(),
            1,
            residents[1],
            [KYOKAI, CHIYODA],
        ),
        (
            "resident code 00000000000",
            ["normal"],
            hashlib.sha256(b"renkei vector root 7").digest(),
            1,
            residents[4],
            [NENKIN],
        ),
        (
            "agency ids of 1 and 63 characters",
            ["agency-id-length"],
            hashlib.sha256(b"renkei vector root 8").digest(),
            3,
            residents[0],
            ["a", long_agency],
        ),
    ]

    derivations: list[Json] = []
    for comment, flags, root, version, resident, agencies in cases:
        id_info, id_key = _hkdf(root, "id-code", version)
        link_info, link_key = _hkdf(root, "link-code", version)
        id_code = _id_code(root, version, resident)
        assert len(id_code) == 28
        links = []
        for agency in agencies:
            link = _link_code(root, version, id_code, agency)
            assert len(link) == 45
            assert len(_b64url(link)) == 60
            links.append(
                {
                    "agencyId": agency,
                    "associatedData": [LINK_CODE_LABEL, agency],
                    "linkCode": _b64url(link),
                }
            )
        derivations.append(
            {
                "comment": comment,
                "flags": ["informative", *flags],
                "rootSecret": root.hex(),
                "keyVersion": version,
                "residentCode": resident,
                "idCodeKeyInfo": id_info,
                "idCodeKey": id_key.hex(),
                "idCodeAssociatedData": [ID_CODE_LABEL],
                "idCode": id_code.hex(),
                "linkCodeKeyInfo": link_info,
                "linkCodeKey": link_key.hex(),
                "linkCodes": links,
                "result": "valid",
            }
        )

    # Decryption (presentation) vectors: the hub holds the key of 'currentKeyVersion'.
    root = sequential
    id1 = _id_code(root, 1, residents[0])
    link1 = _link_code(root, 1, id1, CHIYODA)
    id2 = _id_code(root, 2, residents[0])
    link2 = _link_code(root, 2, id2, CHIYODA)

    def flip(raw: bytes, index: int) -> bytes:
        out = bytearray(raw)
        out[index] ^= 0x01
        return bytes(out)

    presentations: list[tuple[str, list[str], int, bytes, str]] = [
        ("link code presented by the agency it was made for", ["normal"], 1, link1, CHIYODA),
        (
            "key version 2 link code presented under key version 2",
            ["key-rotation"],
            2,
            link2,
            CHIYODA,
        ),
        ("link code of city.131016 presented by nenkin-kiko", ["wrong-agency"], 1, link1, NENKIN),
        (
            "link code of city.131016 presented by city.131017 (one character apart)",
            ["wrong-agency"],
            1,
            link1,
            "city.131017",
        ),
        ("first byte of the SIV tag flipped", ["altered-code"], 1, flip(link1, 1), CHIYODA),
        ("last byte of the ciphertext flipped", ["altered-code"], 1, flip(link1, 44), CHIYODA),
        (
            "version byte changed from 1 to 2, hub at key version 1",
            ["unknown-key-version"],
            1,
            bytes([2]) + link1[1:],
            CHIYODA,
        ),
        (
            "key version 1 link code presented after rotation to key version 2",
            ["unknown-key-version", "key-rotation"],
            2,
            link1,
            CHIYODA,
        ),
        (
            "key version 2 code with its version byte rewritten to 1, hub at key version 1: the version check passes, authentication under the v1 key fails",
            ["altered-code"],
            1,
            bytes([1]) + link2[1:],
            CHIYODA,
        ),
    ]
    opened: list[Json] = []
    for comment, flags, current, link, agency in presentations:
        plain = _open_link_code(root, current, link, agency)
        opened.append(
            {
                "comment": comment,
                "flags": ["informative", *flags],
                "rootSecret": root.hex(),
                "currentKeyVersion": current,
                "agencyId": agency,
                "linkCode": _b64url(link),
                "idCode": None if plain is None else plain.hex(),
                "result": "invalid" if plain is None else "valid",
            }
        )
    assert opened[0]["idCode"] == id1.hex()
    assert opened[1]["idCode"] == id2.hex()
    assert [o["result"] for o in opened] == ["valid", "valid"] + ["invalid"] * 7

    tc = 0
    groups = []
    for group_type, tests in (("derivation", derivations), ("link-code-presentation", opened)):
        numbered = []
        for test in tests:
            tc += 1
            test["tcId"] = tc
            numbered.append(_order_test(test))
        groups.append({"type": group_type, "tests": numbered})
    all_tests = derivations + opened

    notes: dict[str, Json] = {
        "informative": _note(
            "INFORMATIVE",
            "The algorithm is the reference implementation's choice, not a requirement: a vendor may "
            "derive ID and link codes with any reversible, authenticated method meeting RK-IDC-001/002 "
            "and RK-LNK-001/002/005. Use these vectors only to check interoperability with the reference.",
        ),
        "normal": _note("BASIC", "An ordinary derivation or presentation."),
        "key-rotation": _note(
            "EDGE_CASE",
            "Another key version: HKDF info changes ('.../v2', '.../v255') and so do both keys; the "
            "associated-data labels stay 'renkei/id-code/v1' and 'renkei/link-code/v1' (they name the "
            "code format, not the key version).",
        ),
        "long-root-secret": _note("EDGE_CASE", "The root secret is 64 bytes; HKDF takes it whole."),
        "agency-id-length": _note(
            "EDGE_CASE", "Agency ids of the minimum (1) and maximum (63) length."
        ),
        "wrong-agency": _note(
            "AUTHORIZATION",
            "The link code was made for another agency; AES-SIV authentication over the agency id fails "
            "(RK-LNK-002).",
        ),
        "altered-code": _note(
            "MODIFIED_CIPHERTEXT", "A bit of the link code was changed; it no longer authenticates."
        ),
        "unknown-key-version": _note(
            "AUTHORIZATION",
            "The version byte does not name the hub's current key version, so the code is refused before "
            "decryption (RK-LNK-005).",
        ),
    }
    envelope = _envelope(
        topic="code-derivation",
        algorithm="HKDF-SHA256 + AES-SIV (RFC 5297) ID-code and link-code derivation",
        status="informative",
        source=(
            "主要な論点リスト（案） 第１．３．（２）（項目7 可逆暗号方式）, 第１．３．（４）（項目9）; "
            "reference design renkei_reference.core.crypto / codes"
        ),
        header=[
            "INFORMATIVE: the reference implementation's own derivation; vendors may use other algorithms.",
            "Keys: K_purpose = HKDF-SHA256(IKM = root secret, salt = none, info = 'renkei/<purpose>/v<keyVersion>', L = 64),",
            "purpose 'id-code' or 'link-code', both from the SAME root secret; each key is an AES-SIV (512-bit) key.",
            "ID code = keyVersion byte ‖ AES-SIV-Encrypt(K_id-code, plaintext = resident code in ASCII,",
            "AD = ['renkei/id-code/v1']) — 1 + 16 + 11 = 28 bytes, given in hex.",
            "Link code = keyVersion byte ‖ AES-SIV-Encrypt(K_link-code, plaintext = the 28 ID-code bytes,",
            "AD = ['renkei/link-code/v1', agency id in UTF-8]) — 45 bytes; wire form base64url without padding (60 chars).",
            "AD is a vector of separate strings (RFC 5297 S2V), not their concatenation.",
            "Group 'derivation': every intermediate value. Group 'link-code-presentation': a link code presented",
            "by 'agencyId' to a hub whose current key version is 'currentKeyVersion'; 'idCode' is the recovered",
            "ID code, or null when the hub must refuse (result 'invalid').",
        ],
        notes=notes,
        requirements=[
            "RK-IDC-001",
            "RK-IDC-002",
            "RK-LNK-001",
            "RK-LNK-002",
            "RK-LNK-004",
            "RK-LNK-005",
        ],
        number_of_tests=len(all_tests),
    )
    envelope["testGroups"] = groups
    _check_flags(envelope, all_tests)
    return envelope


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------

FILES: dict[str, Callable[[], Json]] = {
    "individual-number-check-digit.json": individual_vectors,
    "corporate-number-check-digit.json": corporate_vectors,
    "resident-code-check-digit.json": resident_vectors,
    "pattern-decisions.json": pattern_vectors,
    "code-derivation.json": code_vectors,
}


def main(argv: list[str] | None = None) -> int:
    return vector_files.main(FILES, __doc__, argv)


if __name__ == "__main__":
    sys.exit(main())
