"""A hub restart over its log holds nothing per entry and reads no entry per entry
(issue 17: memory flat in N, restart under 10 s).

Two logs, ``SMALL`` and ``LARGE`` entries (16 times more), are planted as the
hub writes them (benchmarks/scale.py ``log``: ``SignedLog`` over
``SqliteLogStore``).  First the hub's logs are restarted over each in a fresh
process (``log-reopen``: ``HubLogs`` as ``Hub.__init__`` opens it): the RSS
after the restart over the large log to the RSS over the small one must stay
within ``FLAT`` (10 %, the issue's bound), and the restart must issue as many
store queries whatever the size (give or take the tree's extra levels).  Then
the whole hub, ``renkei serve``, is started over each (benchmarks/hub_restart.py:
the state records planted beside the log as the hub keeps them): its RSS once
serving within ``FLAT`` again, and the log rows it reads while it starts (the
federation made in this process as ``renkei serve`` makes it) no more over the
large log than over the small one, give or take a block of ``2^CACHED_LEVEL``
leaves — a start that read every held entry (as RK-LOG-010's start checks did
before the sealed state digest) would read 16 times more.  Times to serving
are recorded, not compared (they follow the machine's load).  Held in memory per entry, as before
issue 17 (≈ 0.7 kB an entry), the large restart would hold ≈ 40 MB more.  The
figures go to the benchmark's ``extra_info``.

Run::

    python -m pytest benchmarks/test_restart_bench.py -s
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from benchmarks.hub_restart import restart, rows_read_at_start
from benchmarks.scale import measure

from renkei_reference.services.store.log_store import CACHED_LEVEL

SMALL, LARGE = 4_096, 65_536
FLAT = 1.10


@pytest.mark.slow
def test_restart_memory_is_flat_in_the_log_size(tmp_path: Path, benchmark: Any) -> None:
    rows, hubs, read = {}, {}, {}
    for size in (SMALL, LARGE):
        planted = measure("log", size, tmp_path, steps=2)
        assert "error" not in planted, planted
        rows[size] = measure("log-reopen", size, tmp_path)
        assert "error" not in rows[size], rows[size]
        hub = restart(tmp_path / f"log-{size}.db", tmp_path / f"hub-{size}", runs=2)
        assert all("error" not in r for r in hub["runs"]), hub
        hubs[size] = hub["runs"][-1]  # a restart (the first run made the keys)
        read[size] = rows_read_at_start(tmp_path / f"hub-{size}")
    small, large = rows[SMALL], rows[LARGE]
    ratio = large["rss_after_start_mb"] / small["rss_after_start_mb"]
    hub_ratio = hubs[LARGE]["rss_mb"] / hubs[SMALL]["rss_mb"]
    benchmark.extra_info.update(
        rss_ratio=round(ratio, 3),
        rss_after_start_mb={SMALL: small["rss_after_start_mb"], LARGE: large["rss_after_start_mb"]},
        queries_at_start={SMALL: small["queries_at_start"], LARGE: large["queries_at_start"]},
        hub_restart={SMALL: hubs[SMALL], LARGE: hubs[LARGE]},
        log_rows_read_at_start=read,
    )
    print(f"\nRSS after restart: {small['rss_after_start_mb']} MB over {SMALL:,} entries, "
          f"{large['rss_after_start_mb']} MB over {LARGE:,} (ratio {ratio:.3f}); "
          f"renkei serve: {hubs[SMALL]} and {hubs[LARGE]}; log rows read: {read}")  # fmt: skip
    assert ratio <= FLAT
    # the tree has 4 more levels: a few more queries, not more per entry
    assert large["queries_at_start"] <= small["queries_at_start"] + 8
    assert hub_ratio <= FLAT
    assert read[LARGE] <= read[SMALL] + 2**CACHED_LEVEL
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
