"""A restarted log holds neither its stored rows nor its tree's lower levels.

(RK-LOG-004, RK-LOG-009; benchmarks/SCALE.md, "restart memory".)

* ``SignedLog`` over a ``SqliteLogStore`` keeps the Merkle levels from
  ``CACHED_LEVEL`` up in memory and reads the levels below from the stored
  node rows: roots and inclusion and consistency proofs at every size are
  those of the same tree held wholly in memory, before and after a restart,
  and while appends are queued but not yet committed.
* Nodes appended since the start are released once their batch is committed.
* ``rows`` streams the stored leaves once, checking each against the tree: a
  changed leaf hash, a missing or an extra row is refused as ``log-tampered``
  (RK-LOG-010).
"""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_reference.core.log_integrity import LogTamperedError
from renkei_reference.core.merkle import MerkleLog, leaf_hash
from renkei_reference.services.store.log_store import (
    CACHED_LEVEL,
    TAIL_BYTES,
    MemoryLogStore,
    SqliteLogStore,
)
from renkei_reference.services.store.signed_log import SignedLog

pytestmark = pytest.mark.requirement("RK-LOG-004", "RK-LOG-009")

SIGNER = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
ORIGIN = "renkei.test/access-log"
LEAVES = 5000  # levels 0 to 13: three above CACHED_LEVEL


def _leaf(serial: int) -> bytes:
    return f"entry {serial}".encode()


def _append(log: SignedLog, reference: MerkleLog, first: int, last: int) -> None:
    for serial in range(first, last + 1):
        log.append(serial, _leaf(serial), f'{{"serial": {serial}}}')
        reference.append(leaf_hash(_leaf(serial)))


def _same_tree(log: SignedLog, reference: MerkleLog, rng: random.Random) -> None:
    size = reference.size
    assert log.size == size
    for n in [1, 2, 255, 256, 257, size - 1, size, *rng.sample(range(1, size + 1), 40)]:
        assert log.tree.root(n) == reference.root(n)
        index = rng.randrange(n)
        assert log.tree.inclusion_proof(index, n) == reference.inclusion_proof(index, n)
        m = rng.randint(1, n)
        assert log.tree.consistency_proof(m, n) == reference.consistency_proof(m, n)


def test_a_reopened_log_proves_from_the_stored_nodes(tmp_path: Path) -> None:
    """The same roots and proofs as a tree held in memory, with the lower levels
    read from the store: only the upper levels are held after a restart."""
    assert 2**CACHED_LEVEL < LEAVES
    rng, reference = random.Random(1), MerkleLog()
    store = SqliteLogStore(tmp_path / "log.sqlite3")
    log = SignedLog("access", ORIGIN, SIGNER, store, trim_every=64)
    _append(log, reference, 1, LEAVES)
    _same_tree(log, reference, rng)  # partly queued: the uncommitted nodes are held
    store.flush()
    checkpoint = log.checkpoint()
    store.close()

    store = SqliteLogStore(tmp_path / "log.sqlite3")
    log = SignedLog("access", ORIGIN, SIGNER, store, trim_every=64)
    # the levels from CACHED_LEVEL up (64 B / 2¹⁰ a leaf) and the incomplete block below
    assert log.held_bytes < LEAVES + TAIL_BYTES
    assert [r.serial for r in log.rows()] == list(range(1, LEAVES + 1))
    _same_tree(log, reference, rng)
    assert log.checkpoint()[0] == checkpoint[0]

    # Appends after the restart: held until committed, then read from the store.
    _append(log, reference, LEAVES + 1, 2 * LEAVES)
    _same_tree(log, reference, rng)
    store.flush()
    _append(log, reference, 2 * LEAVES + 1, 2 * LEAVES + 64)  # the next trim
    assert log.held_bytes < 64 * 64 + LEAVES + TAIL_BYTES
    _same_tree(log, reference, rng)
    store.flush()
    store.close()

    store = SqliteLogStore(tmp_path / "log.sqlite3")
    log = SignedLog("access", ORIGIN, SIGNER, store)
    assert sum(1 for _ in log.rows()) == reference.size
    _same_tree(log, reference, rng)
    store.close()


def test_a_memory_store_holds_the_whole_tree() -> None:
    """With nothing stored, every node is held (and trimming releases none)."""
    rng, reference = random.Random(2), MerkleLog()
    log = SignedLog("access", ORIGIN, SIGNER, MemoryLogStore(), trim_every=8)
    assert list(log.rows()) == []
    _append(log, reference, 1, 600)
    assert log.held_bytes >= 600 * 32
    _same_tree(log, reference, rng)


def _tamper(path: Path, sql: str) -> None:
    db = sqlite3.connect(path)
    db.execute(sql)
    db.commit()
    db.close()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE leaves SET leaf_hash = zeroblob(32) WHERE serial = 7",
        "DELETE FROM leaves WHERE serial = 150",
        "DELETE FROM leaves WHERE serial = 300",
        "INSERT INTO leaves VALUES ('access', 301, zeroblob(32), '{}', NULL)",
    ],
    ids=["changed-hash", "missing-row", "missing-last", "extra-row"],
)
def test_rows_that_disagree_with_the_tree_are_refused(tmp_path: Path, sql: str) -> None:
    path = tmp_path / "log.sqlite3"
    store = SqliteLogStore(path)
    log = SignedLog("access", ORIGIN, SIGNER, store)
    _append(log, MerkleLog(), 1, 300)
    store.flush()
    store.close()
    _tamper(path, sql)
    store = SqliteLogStore(path)
    log = SignedLog("access", ORIGIN, SIGNER, store)
    with pytest.raises(LogTamperedError, match="leaves and the tree disagree"):
        list(log.rows())
    store.close()
