"""The kit's statistical tests have power and a low false-alarm rate.

Each statistic must pass independent random data and catch the dependence a
careless implementation would leave (a Number derived from the code, a link
code derived from another agency's).
"""

from __future__ import annotations

import random

import pytest

from renkei_conformance.stats import (
    bit_linear_relations,
    digit_uniformity,
    mutual_information,
    spearman,
)

N = 10_000
rng = random.Random(20261126)
CODES = list(range(1_000_000_000, 1_000_000_000 + N))
INDEPENDENT = [rng.getrandbits(64) for _ in range(N)]
OTHER = [rng.getrandbits(64) for _ in range(N)]


@pytest.mark.requirement("RK-NUM-002", "RK-LNK-001")
def test_independent_data_passes_every_statistic() -> None:
    numbers = [f"{rng.randrange(10**11):011d}" for _ in range(N)]
    assert spearman("s", INDEPENDENT, CODES).passed
    assert bit_linear_relations("b", INDEPENDENT, 64, OTHER, 64).passed
    assert mutual_information("m", INDEPENDENT, 64, OTHER, 64).passed
    assert digit_uniformity("d", numbers, range(11)).passed


@pytest.mark.requirement("RK-NUM-002")
def test_a_number_made_from_the_code_is_caught() -> None:
    scrambled = [(c * 2654435761) % 2**32 for c in CODES]  # multiplicative hashing
    assert not bit_linear_relations("b", scrambled, 32, CODES, 34).passed
    monotone = [c * 7 + 3 for c in CODES]
    assert not spearman("s", monotone, CODES).passed


@pytest.mark.requirement("RK-LNK-001")
def test_link_codes_sharing_bits_or_structure_are_caught() -> None:
    leaky = [x ^ ((y & 1) << 5) ^ (x & 1 << 5) for x, y in zip(OTHER, INDEPENDENT, strict=True)]
    assert not bit_linear_relations("b", leaky, 64, INDEPENDENT, 64).passed
    coarse = [(y >> 60) << 60 | (x & (2**60 - 1)) for x, y in zip(OTHER, INDEPENDENT, strict=True)]
    assert not mutual_information("m", coarse, 64, INDEPENDENT, 64).passed
    skewed = [f"{(rng.randrange(10**10)):010d}1" for _ in range(N)]
    assert not digit_uniformity("d", skewed, range(11)).passed
