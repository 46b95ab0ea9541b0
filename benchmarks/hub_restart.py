"""A full hub restart over a planted log: ``renkei serve`` from its start to serving (issue 17).

    python -m benchmarks.hub_restart --log /tmp/scale/log-N.db --state /tmp/scale/hub-N [--json]

The log is one planted by ``python -m benchmarks.scale --child log`` (N entries
as the hub makes them, signed by ``benchmarks.scale._signer``).  It is moved into
a state folder as the hub's store (``STATE/logs.sqlite3``) with that signing key
as the hub's (``log-signer.key``), and the state records are planted as the hub
keeps them beside such a log: the serial from which records are kept and the
sealed digest of the (empty) state records with the logs' sizes
(services/store/sealed_records.py) — no linkage in flight.  Then ``renkei
serve`` (test mode, no agency nodes) is started over it three times, each a
fresh process stopped before the next, each with ``--adopt-witness`` (the
planted store's checkpoint has no witness, and a hub that signs nothing new
writes none; the check against a witness is a file read): the first makes the
keys, the next two are restarts.  For each: the seconds from the process's start to
its target file (written once the hub serves), and the process's RSS then
(``/proc/PID/status``).  The store is left in the state folder (move it back by
hand to reuse it for another size).

The planted persons are random bytes, not ID codes under the hub's keys: the
process is ``renkei serve`` with one change, the resident behind a stored
person is the plant's constant one (``benchmarks.scale._resident``, as the
``log-reopen`` child does) instead of the ID code decrypted — which a start
does for the few entries it reads (the oldest one, whether it is due for
purging; the entries of the linkages in flight).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.scale import _signer

RUNS = 3
STARTUP_TIMEOUT = 3600.0


def plant_state(store_path: Path) -> int:
    """The records a hub keeps beside the planted log; the log's size."""
    from renkei_reference.core.record_seal import record_key
    from renkei_reference.services.hub.startup import CONTROL, COUNTED, RECORDS_FROM
    from renkei_reference.services.store.log_store import SqliteLogStore
    from renkei_reference.services.store.sealed_records import SealedRecords

    store = SqliteLogStore(store_path)
    try:
        size = store.committed("access")
        records = SealedRecords(store, record_key(_signer().private_bytes_raw()), counted=COUNTED)
        records.bind(lambda: (size, store.committed("admin")))
        records.put(CONTROL, RECORDS_FROM, "1")
        records.changed()
        store.barrier().result()
    finally:
        store.close()
    return size


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no VmRSS for {pid}")


def serve_once(state: Path, *, adopt_witness: bool) -> dict[str, Any]:
    """One ``renkei serve`` over ``state``: seconds to serving, RSS then."""
    target = state.parent / f"{state.name}.target.json"
    target.unlink(missing_ok=True)
    argv = [sys.executable, "-m", "benchmarks.hub_restart", "--serve", "--port", "0",
            "--state-dir", str(state), "--target-file", str(target),
            "--agency-nodes", "0", "--mode", "test"]  # fmt: skip
    if adopt_witness:
        argv.append("--adopt-witness")
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while not target.exists():
            if proc.poll() is not None:
                return {"error": (proc.stderr.read() if proc.stderr else "")[-2000:]}
            if time.perf_counter() - start > STARTUP_TIMEOUT:
                return {"error": "no target file"}
            time.sleep(0.02)
        seconds = time.perf_counter() - start
        time.sleep(0.5)  # the target is written as the hub starts serving
        return {"seconds_to_serving": round(seconds, 2), "rss_mb": _rss_mb(proc.pid)}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stderr is not None:
            proc.stderr.close()


def _planted_persons() -> None:
    """The plant's resident behind every stored person (see the module docstring)."""
    from benchmarks.scale import _resident

    from renkei_reference.services.hub import logs
    from renkei_reference.services.store.log_integrity import StoredLogCheck

    class PlantedCheck(StoredLogCheck):
        def __init__(self, signer: Any, resident_of: Any) -> None:
            super().__init__(signer, _resident)

    setattr(logs, "StoredLogCheck", PlantedCheck)  # noqa: B010  (replaced for the plant)


def rows_read_at_start(state: Path) -> int:
    """The log rows (leaves) a hub reads from its store while it starts over
    ``state`` — the federation made in this process as ``renkei serve`` makes it."""
    from datetime import UTC, datetime

    from renkei_reference.cli import _durable
    from renkei_reference.services.clock import ControllableClock
    from renkei_reference.services.store.log_store import SqliteLogStore

    _planted_persons()
    counted = [0]
    select, stream = SqliteLogStore._select, SqliteLogStore._stream

    def counted_select(self: Any, sql: str, args: Any) -> Any:
        rows = select(self, sql, args)
        if "FROM leaves" in sql:
            counted[0] += len(rows)
        return rows

    def counted_stream(self: Any, sql: str, args: Any, *more: Any) -> Any:
        for row in stream(self, sql, args, *more):
            if "FROM leaves" in sql:
                counted[0] += 1
            yield row

    witness = state.parent / f"{state.name}.witness"
    try:
        setattr(SqliteLogStore, "_select", counted_select)  # noqa: B010
        setattr(SqliteLogStore, "_stream", counted_stream)  # noqa: B010
        make = _durable(state, None, witness, adopt_witness=True)
        make(ControllableClock(datetime.now(UTC))).close()
    finally:
        setattr(SqliteLogStore, "_select", select)  # noqa: B010
        setattr(SqliteLogStore, "_stream", stream)  # noqa: B010
    return counted[0]


def serve(argv: list[str]) -> int:
    """``renkei serve ARGV`` with the plant's resident behind every stored person."""
    from renkei_conformance.cli import main as renkei

    _planted_persons()
    return renkei(["serve", *argv])


def main(argv: list[str] | None = None) -> int:
    args_in = sys.argv[1:] if argv is None else argv
    if args_in[:1] == ["--serve"]:
        return serve(args_in[1:])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hub_restart", description=__doc__)
    parser.add_argument("--log", type=Path, required=True, help="a planted log (scale --child log)")
    parser.add_argument("--state", type=Path, required=True, help="the state folder to make")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(args_in)
    out = restart(args.log, args.state)
    print(json.dumps(out) if args.json else json.dumps(out, indent=2))
    return 0 if all("error" not in r for r in out["runs"]) else 1


def restart(log: Path, state: Path, runs: int = RUNS) -> dict[str, Any]:
    """The planted ``log`` moved into ``state`` as the hub's store, and ``runs``
    starts of ``renkei serve`` over it."""
    witness = state.parent / f"{state.name}.witness"
    shutil.rmtree(witness, ignore_errors=True)
    state.mkdir(parents=True, exist_ok=True)
    state.chmod(0o700)
    store = state / "logs.sqlite3"
    if not store.exists():
        os.replace(log, store)
        for suffix in ("-wal", "-shm"):
            side = Path(f"{log}{suffix}")
            if side.exists():
                os.replace(side, Path(f"{store}{suffix}"))
    key = state / "log-signer.key"
    key.write_text(_signer().private_bytes_raw().hex() + "\n")
    key.chmod(0o600)
    started = time.perf_counter()
    size = plant_state(store)
    out: dict[str, Any] = {
        "entries": size,
        "plant_state_seconds": round(time.perf_counter() - started, 2),
    }
    out["runs"] = [serve_once(state, adopt_witness=True) for _ in range(runs)]
    return out


if __name__ == "__main__":
    raise SystemExit(main())
