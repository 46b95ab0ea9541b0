"""``renkei bench``: linkage load against any target, with Locust as the engine.

The kit sets the target up once through the control interface
(:mod:`.setup`), writes what the simulated agencies need to a setup file, runs
Locust in subprocesses (one process, or one master and N workers) on the
shipped ``locustfile.py``, then summarises Locust's CSV output
(:mod:`.summary`) into sustained linkages/s, latency percentiles and the error
rate, judged against a national profile from specs/benchmarks.
"""

from __future__ import annotations

from pathlib import Path

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"

__all__ = ["LOCUSTFILE"]
