"""A hub restart over its log holds nothing per entry (issue 17: memory flat in N).

Two logs, ``SMALL`` and ``LARGE`` entries (16 times more), are planted as the
hub writes them (benchmarks/scale.py ``log``: ``SignedLog`` over
``SqliteLogStore``), and the hub's logs are restarted over each in a fresh
process (``log-reopen``: ``HubLogs`` as ``Hub.__init__`` opens it).  What is
compared is a ratio, not a time: the RSS after the restart over the large log
to the RSS over the small one must stay within ``FLAT`` (10 %, the issue's
bound), and the restart must issue as many store queries whatever the size
(give or take the tree's extra levels).  Held in memory per entry, as before
issue 17 (≈ 0.7 kB an entry), the large restart would hold ≈ 40 MB more, a
ratio near 2.  The figures go to the benchmark's ``extra_info``.

Run::

    python -m pytest benchmarks/test_restart_bench.py -s
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmarks.scale import measure

SMALL, LARGE = 4_096, 65_536
FLAT = 1.10


@pytest.mark.slow
def test_restart_memory_is_flat_in_the_log_size(tmp_path: Path, benchmark: Any) -> None:
    rows = {}
    for size in (SMALL, LARGE):
        planted = measure("log", size, tmp_path, steps=2)
        assert "error" not in planted, planted
        rows[size] = measure("log-reopen", size, tmp_path)
        assert "error" not in rows[size], rows[size]
    small, large = rows[SMALL], rows[LARGE]
    ratio = large["rss_after_start_mb"] / small["rss_after_start_mb"]
    benchmark.extra_info.update(
        rss_ratio=round(ratio, 3),
        rss_after_start_mb={SMALL: small["rss_after_start_mb"], LARGE: large["rss_after_start_mb"]},
        queries_at_start={SMALL: small["queries_at_start"], LARGE: large["queries_at_start"]},
    )
    print(f"\nRSS after restart: {small['rss_after_start_mb']} MB over {SMALL:,} entries, "
          f"{large['rss_after_start_mb']} MB over {LARGE:,} (ratio {ratio:.3f})")  # fmt: skip
    assert ratio <= FLAT
    # the tree has 4 more levels: a few more queries, not more per entry
    assert large["queries_at_start"] <= small["queries_at_start"] + 8
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
