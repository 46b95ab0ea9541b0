"""Statistical tests of independence, with stated thresholds and false-alarm rates.

Used by the kit to check that Numbers cannot be traced back to ID codes
(RK-NUM-001, RK-NUM-002) and that link codes of different agencies are
independent (RK-LNK-001), on ≥ 10,000 synthetic persons with consecutive
resident codes.  Every test is calibrated so that a correct implementation
fails it with probability below ``FALSE_ALARM`` per test; pure Python, no
numerical libraries.

* Spearman's ρ: under independence √(n−1)·ρ is ≈ N(0, 1); refuse |z| > 5.
* Digit uniformity: Pearson's χ² over the 10 digits of each free position
  (9 degrees of freedom); refuse when p < 1e-7 per position.
* Bit-level linear relations: for every pair (bit i of X, bit j of Y) the
  agreement count is Binomial(n, ½) under independence; refuse |z| > 6.5
  (two-sided 8e-11 per pair; with ≤ 10⁴ pairs below 1e-6).
* Mutual information on a 16×16 grid of the leading bits: 2n·MI (nats) is
  ≈ χ² with 225 degrees of freedom (G-test); refuse when p < 1e-7.
* Digit dependence: for every pair (digit position i of X, digit position j of Y)
  Pearson's χ² of the 10×10 contingency table (81 degrees of freedom) against
  independence; refuse when p < 1e-6 / (number of pairs) (Bonferroni: below 1e-6
  for the whole table of pairs).
* Growth of a cost (RK-PERF-002): one-sided Mann–Whitney U of the latencies after
  a history, divided by a margin, against the latencies on an empty log; under
  exchangeable samples at the margin's boundary (the later cost exactly ``margin``
  times the earlier) the standardised U is ≈ N(0, 1); refuse when its upper tail
  p < 1e-6.  A cost that does not grow is further from refusal still.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "FALSE_ALARM",
    "Finding",
    "bit_linear_relations",
    "digit_dependence",
    "digit_uniformity",
    "grows_beyond",
    "mutual_information",
    "spearman",
]

FALSE_ALARM = 1e-6
"""Upper bound of the probability that one test refuses a correct implementation."""


@dataclass(frozen=True)
class Finding:
    name: str
    statistic: float
    threshold: float
    passed: bool
    detail: str

    def __str__(self) -> str:
        verdict = "ok" if self.passed else "DEPENDENT"
        return (
            f"{self.name}: {verdict} (statistic {self.statistic:.3f}, "
            f"threshold {self.threshold:.3f}; {self.detail})"
        )


def _normal_two_sided(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def _chi2_sf(x: float, df: int) -> float:
    """Upper tail of χ²(df) by the Wilson–Hilferty cube-root approximation."""
    if x <= 0:
        return 1.0
    z = ((x / df) ** (1 / 3) - (1 - 2 / (9 * df))) / math.sqrt(2 / (9 * df))
    return 0.5 * math.erfc(z / math.sqrt(2))


def _ranks(values: Sequence[int]) -> list[float]:
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2
        i = j + 1
    return ranks


def spearman(name: str, xs: Sequence[int], ys: Sequence[int], z_max: float = 5.0) -> Finding:
    """Rank correlation; z = ρ·√(n−1), refuse |z| > 5 (false alarm 5.7e-7)."""
    n = len(xs)
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    rho = cov / var if var else 1.0
    z = rho * math.sqrt(n - 1)
    return Finding(name, abs(z), z_max, abs(z) <= z_max, f"ρ = {rho:+.4f}, n = {n}")


def digit_uniformity(
    name: str, numbers: Sequence[str], positions: range, p_min: float = 1e-7
) -> Finding:
    """χ² of digit counts at each position; the worst position decides."""
    worst_p, worst_pos, worst_x = 1.0, -1, 0.0
    n = len(numbers)
    for pos in positions:
        counts = Counter(s[pos] for s in numbers)
        expected = n / 10
        x = sum((counts.get(str(d), 0) - expected) ** 2 / expected for d in range(10))
        p = _chi2_sf(x, 9)
        if p < worst_p:
            worst_p, worst_pos, worst_x = p, pos, x
    return Finding(
        name,
        worst_x,
        p_min,
        worst_p >= p_min,
        f"worst position {worst_pos}: p = {worst_p:.2e}, n = {n}",
    )


def _columns(values: Sequence[int], bits: int) -> list[int]:
    """Bit-sliced: column i is an integer whose k-th bit is bit i of values[k]."""
    cols = [0] * bits
    for i in range(bits):
        cols[i] = int("".join("1" if (v >> i) & 1 else "0" for v in reversed(values)) or "0", 2)
    return cols


def bit_linear_relations(
    name: str, xs: Sequence[int], x_bits: int, ys: Sequence[int], y_bits: int, *, z_max: float = 6.5
) -> Finding:
    """Agreement of every bit pair (i of x, j of y); the largest |z| decides.

    Catches any output bit equal (or opposite) to an input bit or depending on
    it linearly — the trace a Number computed from the code by a weak mixing
    would leave.
    """
    n = len(xs)
    cols_x, cols_y = _columns(xs, x_bits), _columns(ys, y_bits)
    worst, where = 0.0, (0, 0)
    for i, cx in enumerate(cols_x):
        for j, cy in enumerate(cols_y):
            agree = n - (cx ^ cy).bit_count()
            z = (agree - n / 2) / math.sqrt(n / 4)
            if abs(z) > worst:
                worst, where = abs(z), (i, j)
    return Finding(
        name,
        worst,
        z_max,
        worst <= z_max,
        f"worst pair bit {where[0]} ~ bit {where[1]}, {x_bits}×{y_bits} pairs, n = {n}",
    )


def mutual_information(
    name: str,
    xs: Sequence[int],
    x_bits: int,
    ys: Sequence[int],
    y_bits: int,
    *,
    p_min: float = 1e-7,
) -> Finding:
    """G-test on the 16×16 table of the leading 4 bits of each value."""
    n = len(xs)
    cells = Counter((x >> (x_bits - 4), y >> (y_bits - 4)) for x, y in zip(xs, ys, strict=True))
    row = Counter(x >> (x_bits - 4) for x in xs)
    col = Counter(y >> (y_bits - 4) for y in ys)
    mi = sum(c / n * math.log(c * n / (row[a] * col[b])) for (a, b), c in cells.items())
    g = 2 * n * mi
    df = (len(row) - 1) * (len(col) - 1) or 1
    p = _chi2_sf(g, df)
    return Finding(
        name, g, p_min, p >= p_min, f"MI = {mi:.5f} nats, G = {g:.1f}, df = {df}, p = {p:.2e}"
    )


def digit_dependence(
    name: str,
    xs: Sequence[str],
    x_positions: Sequence[int],
    ys: Sequence[str],
    y_positions: Sequence[int],
    *,
    false_alarm: float = FALSE_ALARM,
) -> Finding:
    """Does any digit of Y depend on any digit of X?  χ² of independence of every
    pair of positions (10×10 table, 81 df); the worst pair decides, against
    ``false_alarm`` divided by the number of pairs (Bonferroni)."""
    n = len(xs)
    pairs = len(x_positions) * len(y_positions)
    p_min = false_alarm / pairs
    worst_p, worst, worst_x = 1.0, (-1, -1), 0.0
    ycols = {j: [int(y[j]) for y in ys] for j in y_positions}
    ycounts = {j: Counter(col) for j, col in ycols.items()}
    for i in x_positions:
        xcol = [int(x[i]) for x in xs]
        rows = Counter(xcol)
        for j in y_positions:
            ycol, cols = ycols[j], ycounts[j]
            cells = Counter(zip(xcol, ycol, strict=True))
            x2 = 0.0
            for a, ra in rows.items():
                for b, cb in cols.items():
                    expected = ra * cb / n
                    x2 += (cells.get((a, b), 0) - expected) ** 2 / expected
            df = max((len(rows) - 1) * (len(cols) - 1), 1)
            p = _chi2_sf(x2, df)
            if p < worst_p:
                worst_p, worst, worst_x = p, (i, j), x2
    return Finding(
        name,
        worst_x,
        p_min,
        worst_p >= p_min,
        f"worst pair: position {worst[0]} ~ position {worst[1]}, p = {worst_p:.2e} "
        f"(refused below {p_min:.1e}), n = {n}, {pairs} pairs",
    )


def grows_beyond(
    name: str,
    before: Sequence[float],
    after: Sequence[float],
    margin: float,
    *,
    false_alarm: float = FALSE_ALARM,
) -> Finding:
    """Is ``after`` stochastically larger than ``margin`` × ``before``?  One-sided
    Mann–Whitney U of ``after / margin`` against ``before`` (normal approximation
    with continuity correction; latencies are continuous, ties count one half).
    Passes unless the upper-tail p is below ``false_alarm``: at most that
    probability of refusing a cost that grows by no more than ``margin`` when the
    samples of each size are exchangeable (a machine whose load does not drift
    between the two measurements)."""
    n1, n2 = len(before), len(after)
    scaled = [x / margin for x in after]
    tagged = sorted([(x, 0) for x in before] + [(x, 1) for x in scaled])
    rank_sum = 0.0  # the 1-based ranks of after / margin, midranks over ties
    i = 0
    while i < len(tagged):
        j = i
        while j + 1 < len(tagged) and tagged[j + 1][0] == tagged[i][0]:
            j += 1
        rank_sum += (i + j + 2) / 2 * sum(1 for k in range(i, j + 1) if tagged[k][1] == 1)
        i = j + 1
    u = rank_sum - n2 * (n2 + 1) / 2  # pairs (before, after/margin) won by after
    sd = math.sqrt(n1 * n2 * (n1 + n2 + 1) / 12)
    z = (u - n1 * n2 / 2 - 0.5) / sd if sd else 0.0
    p = 0.5 * math.erfc(z / math.sqrt(2))

    def median(xs: Sequence[float]) -> float:
        ordered = sorted(xs)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2

    ratio = median(after) / median(before) if before and median(before) > 0 else math.inf
    return Finding(
        name,
        z,
        false_alarm,
        p >= false_alarm,
        f"median {median(before):.2f} → {median(after):.2f} (×{ratio:.2f}, margin ×{margin:g}); "
        f"one-sided p = {p:.2e} (refused below {false_alarm:.0e}), n = {n1} + {n2}",
    )
