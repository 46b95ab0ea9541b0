"""Throughput of the tamper-evident log on a 1,000,000-entry tree (RK-LOG-004, RK-LOG-009).

Benchmarks, not assertions on time.  Each round handles a fixed batch of
``BATCH`` requests; every proof benchmark is paired, in the same run, with its
*floor*: raw ``hashlib.sha256`` over as many 65-byte node inputs
(``0x01 || left || right``) as the batch's proofs contain — the hashing a
verifier cannot avoid.  ``benchmark.extra_info`` records the rate and, as every
paired benchmark here (benchmarks/conftest.py), ``ratio = floor time / proof time``
(1.0 is the floor; the median over interleaved rounds on CPU time, with its
confidence interval: benchmarks/pairing.py), with its inverse
``path_over_floor``, so the overhead of the Python implementation (store reads,
contracts, bookkeeping) can be compared across machines and against the committed
baseline (``python -m benchmarks.compare``).

Run::

    python -m pytest benchmarks/test_merkle_bench.py --benchmark-only
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from benchmarks.pairing import measure

from renkei_reference.core.merkle import (
    MemoryNodeStore,
    MerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)

pytestmark = pytest.mark.requirement("RK-LOG-004", "RK-LOG-009")

LOG_SIZE = 1_000_000
BATCH = 256
ROUNDS = 21
SEED = 9162


@dataclass(frozen=True)
class Built:
    log: MerkleLog
    root: bytes
    build_seconds: float


@pytest.fixture(scope="module")
def million() -> Built:
    """A 1,000,000-leaf log in a ``MemoryNodeStore``, built once through the public API."""
    started = time.perf_counter()
    log = MerkleLog(MemoryNodeStore())
    log.extend([leaf_hash(i.to_bytes(8, "big")) for i in range(LOG_SIZE)])
    return Built(log, log.root(), time.perf_counter() - started)


def _floor_inputs(count: int) -> list[bytes]:
    rng = random.Random(SEED)
    return [b"\x01" + rng.randbytes(64) for _ in range(count)]


def _floor(inputs: list[bytes]) -> None:
    sha256 = hashlib.sha256
    for data in inputs:
        sha256(data).digest()


def _record(
    benchmark: Any,
    built: Built,
    work: Callable[[], object],
    hashes: int,
    what: str,
) -> None:
    """Rate (pytest-benchmark's median) and the paired ratio to the floor, in this run."""
    inputs = _floor_inputs(hashes)
    got = measure(lambda: _floor(inputs), work, number=1, floor_number=4, rounds=ROUNDS)
    info = benchmark.extra_info
    info["log_size"] = LOG_SIZE
    info["build_seconds"] = round(built.build_seconds, 2)
    info["requests_per_round"] = BATCH
    info["node_hashes_per_round"] = hashes
    info["floor_hashes_per_second"] = round(hashes / got.floor_s)
    info.update(got.info())  # ratio = floor / path, as benchmarks/compare.py reads it
    info["path_over_floor"] = round(1 / got.cpu.ratio, 2)
    stats = getattr(benchmark, "stats", None)
    if stats is not None:  # None under --benchmark-disable
        info[f"{what}_per_second"] = round(BATCH / stats.stats.median)


# ---------------------------------------------------------------------------
# Inclusion proofs: the latest tree, random leaves
# ---------------------------------------------------------------------------


def _inclusion_requests() -> list[int]:
    rng = random.Random(SEED + 1)
    return [rng.randrange(LOG_SIZE) for _ in range(BATCH)]


@pytest.mark.benchmark(group="inclusion-1M")
def test_inclusion_proof_generation(benchmark: Any, million: Built) -> None:
    log, indexes = million.log, _inclusion_requests()

    def generate() -> list[tuple[bytes, ...]]:
        return [log.inclusion_proof(index, LOG_SIZE) for index in indexes]

    proofs = benchmark(generate)
    _record(benchmark, million, generate, sum(len(proof) for proof in proofs), "proofs")


@pytest.mark.benchmark(group="inclusion-1M")
def test_inclusion_proof_verification(benchmark: Any, million: Built) -> None:
    log, root = million.log, million.root
    cases = [
        (leaf_hash(i.to_bytes(8, "big")), i, log.inclusion_proof(i, LOG_SIZE))
        for i in _inclusion_requests()
    ]

    def verify() -> None:
        for leaf, index, proof in cases:
            verify_inclusion(leaf, index, LOG_SIZE, proof, root)

    benchmark(verify)
    _record(benchmark, million, verify, sum(len(p) for _, _, p in cases), "verifications")


@pytest.mark.benchmark(group="inclusion-1M")
def test_inclusion_floor(benchmark: Any, million: Built) -> None:
    """The floor alone, for the table: sha256 over the batch's proof nodes."""
    hashes = sum(len(million.log.inclusion_proof(i, LOG_SIZE)) for i in _inclusion_requests())
    inputs = _floor_inputs(hashes)
    benchmark(_floor, inputs)
    benchmark.extra_info["node_hashes_per_round"] = hashes


# ---------------------------------------------------------------------------
# Consistency proofs: from a random earlier size to the latest tree
# ---------------------------------------------------------------------------


def _consistency_requests() -> list[int]:
    rng = random.Random(SEED + 2)
    return [rng.randrange(1, LOG_SIZE) for _ in range(BATCH)]


@pytest.mark.benchmark(group="consistency-1M")
def test_consistency_proof_generation(benchmark: Any, million: Built) -> None:
    log, sizes = million.log, _consistency_requests()

    def generate() -> list[tuple[bytes, ...]]:
        return [log.consistency_proof(m, LOG_SIZE) for m in sizes]

    proofs = benchmark(generate)
    _record(benchmark, million, generate, sum(len(proof) for proof in proofs), "proofs")


@pytest.mark.benchmark(group="consistency-1M")
def test_consistency_proof_verification(benchmark: Any, million: Built) -> None:
    log, root = million.log, million.root
    cases = [(m, log.consistency_proof(m, LOG_SIZE), log.root(m)) for m in _consistency_requests()]

    def verify() -> None:
        for m, proof, old_root in cases:
            verify_consistency(m, LOG_SIZE, proof, old_root, root)

    benchmark(verify)
    # A verifier hashes each node once for the new root and, left of the
    # path, once more for the old one; the floor counts the nodes, as for generation.
    _record(benchmark, million, verify, sum(len(p) for _, p, _ in cases), "verifications")


@pytest.mark.benchmark(group="consistency-1M")
def test_consistency_floor(benchmark: Any, million: Built) -> None:
    """The floor alone, for the table: sha256 over the batch's proof nodes."""
    hashes = sum(len(million.log.consistency_proof(m, LOG_SIZE)) for m in _consistency_requests())
    inputs = _floor_inputs(hashes)
    benchmark(_floor, inputs)
    benchmark.extra_info["node_hashes_per_round"] = hashes
