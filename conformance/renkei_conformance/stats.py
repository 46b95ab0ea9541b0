"""Statistical tests of independence, with stated thresholds and false-alarm rates.

Used by the kit to check that Numbers cannot be traced back to ID codes
(RK-NUM-001, RK-NUM-002) and that link codes of different agencies are
independent (RK-LNK-001), on ≥ 10,000 synthetic persons with consecutive
resident codes.  Every statistic takes its false-alarm budget ``false_alarm``
(default ``FALSE_ALARM``): the probability that it refuses a correct
implementation, whose values are independent of one another.  A kit test that
decides on several statistics splits 1e-6 among them, so that no kit test fails
a correct implementation with probability above 1e-6 per run.  Pure Python, no
numerical libraries; χ² tails are exact (regularized incomplete gamma).

* Spearman's ρ: under independence √(n−1)·ρ is ≈ N(0, 1) (its exact null law is
  symmetric with lighter tails than the normal's); refuse |z| beyond the
  two-sided normal quantile of the budget (5.0 at 5.7e-7).
* Kendall's τ for small samples (``kendall``): the number of discordant pairs of
  a random order has the Mahonian law, computed exactly; refuse when its
  two-sided p is below the budget.
* Digit uniformity: Pearson's χ² over the 10 digits of each free position
  (9 degrees of freedom); refuse when p < budget / positions (Bonferroni).
* Bit-level linear relations: for every pair (bit i of X, bit j of Y) the count
  of persons with both bits set is hypergeometric given the two columns' counts
  (the persons' values are exchangeable under independence, whatever the bias of
  a bit); refuse when Hoeffding's bound for sampling without replacement,
  2·exp(−2t²/m), puts the deviation t below budget / pairs — a rigorous bound,
  no normal approximation, and a constant column (m = 0) decides nothing.
* Mutual information on a 16×16 grid of the leading bits: reported, and decided
  by Pearson's χ² of the same table (≈ 2n·MI, 225 degrees of freedom); refuse
  when p < budget.
* Digit dependence: for every pair (digit position i of X, digit position j of Y)
  Pearson's χ² of the 10×10 contingency table (81 degrees of freedom) against
  independence; refuse when p < budget / (number of pairs) (Bonferroni).
  Simulated at the kit's sizes (600 and 2,000 persons, 10⁵ tables each) the
  χ² tail holds to within 10 % down to p = 1e-4.
* Growth of a cost (RK-PERF-002): one-sided Mann–Whitney U of the latencies after
  a history, divided by a margin, against the latencies on an empty log; under
  exchangeable samples at the margin's boundary (the later cost exactly ``margin``
  times the earlier) the standardised U is ≈ N(0, 1); refuse when its upper tail
  p < 1e-6.  A cost that does not grow is further from refusal still.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist

__all__ = [
    "FALSE_ALARM",
    "Finding",
    "bit_linear_relations",
    "chi2_sf",
    "digit_dependence",
    "digit_uniformity",
    "grows_beyond",
    "kendall",
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


def _two_sided_z(false_alarm: float) -> float:
    """The |z| a standard normal exceeds with probability ``false_alarm``."""
    return NormalDist().inv_cdf(1.0 - false_alarm / 2.0)


def chi2_sf(x: float, df: int) -> float:
    """Upper tail of χ²(df): the regularized upper incomplete gamma Q(df/2, x/2),
    by its series below a + 1 and Lentz's continued fraction above (relative
    error below 1e-12)."""
    if x <= 0:
        return 1.0
    a, y = df / 2.0, x / 2.0
    log_front = -y + a * math.log(y) - math.lgamma(a)
    if y < a + 1.0:
        term = total = 1.0 / a
        k = a
        while term > total * 1e-16:
            k += 1.0
            term *= y / k
            total += term
        return max(0.0, 1.0 - math.exp(log_front) * total)
    tiny = 1e-300
    b = y + 1.0 - a
    c, d = 1.0 / tiny, 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = b + an / c
        c = c if abs(c) > tiny else tiny
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-16:
            break
    return math.exp(log_front) * h


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


def spearman(
    name: str, xs: Sequence[int], ys: Sequence[int], *, false_alarm: float = FALSE_ALARM
) -> Finding:
    """Rank correlation; z = ρ·√(n−1), refused beyond the two-sided normal
    quantile of ``false_alarm`` (|z| > 4.89 at 1e-6, 5.0 at 5.7e-7)."""
    n = len(xs)
    z_max = _two_sided_z(false_alarm)
    rx, ry = _ranks(xs), _ranks(ys)
    mx, my = sum(rx) / n, sum(ry) / n
    cov = sum((a - mx) * (b - my) for a, b in zip(rx, ry, strict=True))
    var = math.sqrt(sum((a - mx) ** 2 for a in rx) * sum((b - my) ** 2 for b in ry))
    rho = cov / var if var else 1.0
    z = rho * math.sqrt(n - 1)
    return Finding(name, abs(z), z_max, abs(z) <= z_max, f"ρ = {rho:+.4f}, n = {n}")


def _mahonian(n: int) -> list[int]:
    """How many orders of n distinct items have k discordant pairs, k = 0 … n(n−1)/2."""
    counts = [1]
    for m in range(2, n + 1):  # the m-th item adds 0 … m−1 discordant pairs
        grown = [0] * (len(counts) + m - 1)
        window = 0
        for k in range(len(grown)):
            window += counts[k] if k < len(counts) else 0
            if k - m >= 0:
                window -= counts[k - m]
            grown[k] = window
        counts = grown
    return counts


def kendall(
    name: str, xs: Sequence[int], ys: Sequence[int], *, false_alarm: float = FALSE_ALARM
) -> Finding:
    """Kendall's τ of two orders of distinct values, for small samples: the number
    D of discordant pairs of a random order has the Mahonian law, computed exactly;
    refused when the two-sided p = 2·P(D ≤ min(D, M − D)) is below ``false_alarm``
    (M = n(n−1)/2).  A tie counts as half a discordant pair (rounded towards the
    middle: ties never make a refusal more likely)."""
    n = len(xs)
    pairs = n * (n - 1) // 2
    twice = 0  # twice the discordant pairs, ties counting one
    for i in range(n):
        for j in range(i + 1, n):
            s = (xs[i] - xs[j]) * (ys[i] - ys[j])
            twice += 2 if s < 0 else 1 if s == 0 else 0
    edge = min(twice, 2 * pairs - twice)
    low = edge // 2 + edge % 2  # discordant pairs to the nearer end, rounded to the middle
    counts = _mahonian(n)
    total = math.factorial(n)
    tails = list(itertools.accumulate(counts))
    p = min(1.0, 2 * tails[low] / total)
    refused = [k for k in range(len(tails)) if 2 * tails[k] / total < false_alarm]
    tau_max = 1 - 2 * (refused[-1] + 1) / pairs if refused and pairs else 1.0
    tau = 1 - twice / pairs if pairs else 0.0
    return Finding(
        name,
        abs(tau),
        tau_max,
        p >= false_alarm,
        f"τ = {tau:+.3f}, n = {n}, two-sided p = {p:.2e} (refused below {false_alarm:.0e})",
    )


def digit_uniformity(
    name: str, numbers: Sequence[str], positions: range, *, false_alarm: float = FALSE_ALARM
) -> Finding:
    """χ² of digit counts at each position; the worst position decides, against
    ``false_alarm`` divided by the number of positions (Bonferroni)."""
    p_min = false_alarm / max(len(positions), 1)
    worst_p, worst_pos, worst_x = 1.0, -1, 0.0
    n = len(numbers)
    for pos in positions:
        counts = Counter(s[pos] for s in numbers)
        expected = n / 10
        x = sum((counts.get(str(d), 0) - expected) ** 2 / expected for d in range(10))
        p = chi2_sf(x, 9)
        if p < worst_p:
            worst_p, worst_pos, worst_x = p, pos, x
    return Finding(
        name,
        worst_x,
        p_min,
        worst_p >= p_min,
        f"worst position {worst_pos}: p = {worst_p:.2e} (refused below {p_min:.1e}), n = {n}",
    )


def _columns(values: Sequence[int], bits: int) -> list[int]:
    """Bit-sliced: column i is an integer whose k-th bit is bit i of values[k]."""
    cols = [0] * bits
    for i in range(bits):
        cols[i] = int("".join("1" if (v >> i) & 1 else "0" for v in reversed(values)) or "0", 2)
    return cols


def bit_linear_relations(
    name: str,
    xs: Sequence[int],
    x_bits: int,
    ys: Sequence[int],
    y_bits: int,
    *,
    false_alarm: float = FALSE_ALARM,
) -> Finding:
    """Agreement of every bit pair (i of x, j of y); the largest deviation decides.

    Catches any output bit equal (or opposite) to an input bit or depending on
    it linearly — the trace a Number computed from the code by a weak mixing
    would leave.  For a pair whose columns hold a and b ones among n persons,
    the count c of persons with both set is hypergeometric under independence
    (mean ab/n); Hoeffding's inequality for sampling without replacement bounds
    P(|c − ab/n| ≥ t) by 2·exp(−2t²/m), m = min(a, n − a, b, n − b).  A pair is
    refused when that bound falls below ``false_alarm`` / (x_bits · y_bits).
    The statistic reported is t / √(m/4), the deviation in standard units of a
    fair coin's.
    """
    n = len(xs)
    per_pair = false_alarm / (x_bits * y_bits)
    z_max = math.sqrt(2 * math.log(2 / per_pair))  # 2·exp(−z²/2) = per_pair
    cols_x, cols_y = _columns(xs, x_bits), _columns(ys, y_bits)
    ones_y = [cy.bit_count() for cy in cols_y]
    worst, where = 0.0, (0, 0)
    for i, cx in enumerate(cols_x):
        a = cx.bit_count()
        for j, cy in enumerate(cols_y):
            b = ones_y[j]
            m = min(a, n - a, b, n - b)
            if m == 0:
                continue  # a constant column: no pairing can show
            t = abs((cx & cy).bit_count() - a * b / n)
            z = t / math.sqrt(m / 4)
            if z > worst:
                worst, where = z, (i, j)
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
    false_alarm: float = FALSE_ALARM,
) -> Finding:
    """Independence on the 16×16 table of the leading 4 bits of each value: the
    mutual information MI is reported; the decision is Pearson's χ² of the table
    (≈ 2n·MI, better calibrated in the tail: simulated at n = 10⁴, 10⁵ tables, the
    χ² tail holds within 5 % down to p = 1e-4, where the G-test's own runs 30 %
    high), refused when p < ``false_alarm``."""
    n = len(xs)
    cells = Counter((x >> (x_bits - 4), y >> (y_bits - 4)) for x, y in zip(xs, ys, strict=True))
    row = Counter(x >> (x_bits - 4) for x in xs)
    col = Counter(y >> (y_bits - 4) for y in ys)
    mi = sum(c / n * math.log(c * n / (row[a] * col[b])) for (a, b), c in cells.items())
    x2 = 0.0
    for a, ra in row.items():
        for b, cb in col.items():
            expected = ra * cb / n
            x2 += (cells.get((a, b), 0) - expected) ** 2 / expected
    df = (len(row) - 1) * (len(col) - 1) or 1
    p = chi2_sf(x2, df)
    return Finding(
        name,
        x2,
        false_alarm,
        p >= false_alarm,
        f"MI = {mi:.5f} nats (2n·MI = {2 * n * mi:.1f}), χ² = {x2:.1f}, df = {df}, p = {p:.2e}",
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
            p = chi2_sf(x2, df)
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
