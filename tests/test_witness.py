"""The checkpoint witness (RK-LOG-011): a store behind what the hub signed is refused.

* After every commit that stored a signed checkpoint, and before the requests
  waiting on that commit are answered, the witness holds that checkpoint.
* A hub restarted on a copy of its store taken before its last checkpoint
  (shorter), on a different store of the same key (another root at the
  witnessed size), or under another key, refuses to start naming RK-LOG-011;
  on the store it left (or one that grew from it) it starts.
* A witness that cannot be written fails the waiting requests with 503
  ``log-store-unavailable`` — what they did is committed — and refuses new
  work until a retry succeeds.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from renkei_reference.core.checkpoint import open_checkpoint
from renkei_reference.core.errors import UnavailableError
from renkei_reference.core.log_integrity import LogBehindWitnessError
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Federation
from renkei_reference.services.store.keystore import MemoryKeyStore
from renkei_reference.services.store.log_store import SqliteLogStore
from renkei_reference.services.store.witness import CheckpointWitness, witness_dir_for

from .postgres import Backend
from .test_log_store import ROOT_SECRET, T0, _populate, _query

pytestmark = pytest.mark.requirement("RK-LOG-011")


class BrokenWitness(CheckpointWitness):
    """A witness whose volume fails on demand."""

    broken = False

    def record(self, notes: dict[str, str]) -> None:  # type: ignore[override]
        if self.broken:
            raise OSError(28, "No space left on device")
        super().record(notes)


def _open(
    state: Path, signer: Ed25519PrivateKey, witness: CheckpointWitness | None = None
) -> Federation:
    store = SqliteLogStore(
        state / "logs.sqlite3",
        retry_seconds=0.05,
        witness=witness or CheckpointWitness(witness_dir_for(state)),
    )
    try:
        return Federation(
            ControllableClock(T0),
            MemoryKeyStore(T0, ROOT_SECRET),
            log_store=store,
            log_signer=signer,
        )
    except BaseException:
        store.close()
        raise


def _copy_store(state: Path, to: Path) -> None:
    """A consistent copy of the SQLite store (what a backup tool takes), in place
    of whatever store ``to`` held."""
    to.mkdir(parents=True, exist_ok=True)
    for old in to.glob("logs.sqlite3*"):
        old.unlink()
    src, dst = sqlite3.connect(state / "logs.sqlite3"), sqlite3.connect(to / "logs.sqlite3")
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def _run(fed: Federation, links: dict[str, str], tag: str, n: int) -> None:
    """``n`` queries, then the checkpoint of the log they made handed out."""
    for i in range(n):
        _query(fed, links[f"r{i % 3}"], f"{tag}-{i}")
    fed.hub.latest_checkpoint()
    fed.hub.log_barrier().result(10)


def test_the_witness_holds_each_committed_checkpoint(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    signer = Ed25519PrivateKey.generate()
    fed = _open(state, signer)
    try:
        links = _populate(fed)
        _run(fed, links, "q", 3)
        latest = fed.hub.latest_checkpoint()
        fed.hub.log_barrier().result(10)
        witness = CheckpointWitness(witness_dir_for(state))
        note = witness.witnessed("access")
        assert note is not None
        cp = open_checkpoint(note, latest.origin, signer.public_key())
        assert cp.size == latest.tree_size
        assert witness.witnessed("admin") is not None
        # one note, written in place: no temporary file, nothing but NUL padding after it
        assert sorted(p.name for p in witness_dir_for(state).iterdir()) == [
            "access.checkpoint",
            "admin.checkpoint",
            "state_digest.checkpoint",
        ]
        raw = (witness_dir_for(state) / "access.checkpoint").read_bytes()
        assert raw.rstrip(b"\0") == note.encode()
    finally:
        fed.close()


@settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(before=st.integers(0, 4), after=st.integers(1, 4))
def test_a_store_restored_from_before_the_last_checkpoint_is_refused(
    tmp_path_factory: pytest.TempPathFactory, before: int, after: int
) -> None:
    root = tmp_path_factory.mktemp("restore")
    state, backup = root / "state", root / "backup"
    state.mkdir()
    signer = Ed25519PrivateKey.generate()
    fed = _open(state, signer)
    links = _populate(fed)
    _run(fed, links, "early", before)
    fed.close()
    _copy_store(state, backup)
    fed = _open(state, signer)
    _run(fed, links, "late", after)
    fed.hub.latest_checkpoint()
    fed.close()

    _copy_store(backup, state)
    with pytest.raises(LogBehindWitnessError) as refused:
        _open(state, signer)
    assert refused.value.requirement == "RK-LOG-011"
    assert "access" in refused.value.detail


def test_another_store_of_the_same_size_is_refused(tmp_path: Path) -> None:
    """Same key, same number of entries, different entries: a fork at the witnessed size."""
    signer = Ed25519PrivateKey.generate()
    first, second = tmp_path / "first", tmp_path / "second"
    for state, tag in ((first, "x"), (second, "y")):
        state.mkdir()
        fed = _open(state, signer)
        _run(fed, _populate(fed), tag, 2)
        fed.close()
    _copy_store(second, first)
    with pytest.raises(LogBehindWitnessError, match="differs from the witnessed root"):
        _open(first, signer)


def test_a_checkpoint_witnessed_under_another_key_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    fed = _open(state, Ed25519PrivateKey.generate())
    _run(fed, _populate(fed), "q", 1)
    fed.close()
    (state / "logs.sqlite3").unlink()  # store and key replaced, witness kept
    with pytest.raises(LogBehindWitnessError, match="not signed by this log's key"):
        _open(state, Ed25519PrivateKey.generate())


def test_the_store_it_left_or_one_grown_from_it_starts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    signer = Ed25519PrivateKey.generate()
    fed = _open(state, signer)
    links = _populate(fed)
    _run(fed, links, "a", 2)
    size = fed.hub.latest_checkpoint().tree_size
    fed.close()
    fed = _open(state, signer)
    try:
        assert fed.hub.latest_checkpoint().tree_size == size
        _run(fed, links, "b", 2)
    finally:
        fed.close()
    _open(state, signer).close()


def test_a_witness_that_cannot_be_written_refuses_new_work_until_it_can(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    signer = Ed25519PrivateKey.generate()
    witness = BrokenWitness(witness_dir_for(state))
    fed = _open(state, signer, witness)
    try:
        links = _populate(fed)
        fed.hub.log_barrier().result(10)
        witness.broken = True
        _query(fed, links["r0"], "while-broken")
        fed.hub.latest_checkpoint()
        with pytest.raises(UnavailableError):
            fed.hub.log_barrier().result(10)
        with pytest.raises(UnavailableError):
            _query(fed, links["r1"], "refused-while-broken")
        witness.broken = False
        for _ in range(200):  # the writer retries every 0.05 s
            if fed.hub._store.refusal() is None:
                break
            time.sleep(0.01)
        assert fed.hub._store.refusal() is None
        _query(fed, links["r1"], "after")
        fed.hub.latest_checkpoint()
        fed.hub.log_barrier().result(10)
        note = witness.witnessed("access")
        assert note is not None
        assert open_checkpoint(
            note, fed.hub.latest_checkpoint().origin, signer.public_key()
        ).size == (fed.hub.latest_checkpoint().tree_size)
    finally:
        fed.close()
    _open(state, signer).close()  # what was acknowledged before the failure is all there


def test_each_store_tells_the_witness_before_it_acknowledges(
    backend: Backend, tmp_path: Path
) -> None:
    """Both stores (SQLite, PostgreSQL): the commit that stores a checkpoint
    completes its barrier only once the witness holds it, and a hub reopened on
    its store after the witness saw a later checkpoint of another store refuses."""
    signer = Ed25519PrivateKey.generate()
    witness = CheckpointWitness(tmp_path / "witness")
    fed = Federation(
        ControllableClock(T0),
        MemoryKeyStore(T0, ROOT_SECRET),
        log_store=backend.open(retry_seconds=0.05, witness=witness),
        log_signer=signer,
    )
    try:
        links = _populate(fed)
        _run(fed, links, "q", 2)
        latest = fed.hub.latest_checkpoint()
        note = witness.witnessed("access")
        assert note is not None
        assert open_checkpoint(note, latest.origin, signer.public_key()).size == (latest.tree_size)
    finally:
        fed.close()
    witness.record({"access": _later_note(note, signer)})
    with pytest.raises(LogBehindWitnessError):
        Federation(
            ControllableClock(T0),
            MemoryKeyStore(T0, ROOT_SECRET),
            log_store=backend.open(retry_seconds=0.05, witness=witness),
            log_signer=signer,
        )


def _later_note(note: str, signer: Ed25519PrivateKey) -> str:
    """A checkpoint of one more entry than ``note``'s, signed by the same key."""
    from renkei_reference.core.checkpoint import Checkpoint, sign_checkpoint

    cp = open_checkpoint(note, note.split("\n", 1)[0], signer.public_key())
    later = Checkpoint(cp.origin, cp.size + 1, b"\x00" * 32)
    return sign_checkpoint(later, cp.origin, signer)


@settings(max_examples=40, deadline=None)
@given(
    notes=st.lists(
        st.text(min_size=1, max_size=300).map(lambda t: t.replace("\0", "")).filter(bool),
        min_size=1,
        max_size=6,
    )
)
def test_a_witness_file_holds_the_latest_note_whatever_came_before(notes: list[str]) -> None:
    """RK-LOG-011: each write is one note over the file in place, padded to the file's
    length; what is read back is the latest note exactly, after longer or shorter ones."""
    with tempfile.TemporaryDirectory() as folder:
        witness = CheckpointWitness(Path(folder) / "w")
        for note in notes:
            witness.record({"access": note})
            assert witness.witnessed("access") == note


def test_a_witness_file_that_is_not_the_hubs_is_never_written_through(tmp_path: Path) -> None:
    """A FIFO, a symbolic link or a directory planted as the witness file: the write fails
    at once (the store refuses new work until it can write, RK-LOG-011); a huge regular
    file is written over, not padded to its size."""
    witness = CheckpointWitness(tmp_path / "w")
    target = tmp_path / "w" / "access.checkpoint"
    victim = tmp_path / "victim"
    victim.write_text("keep")
    os.mkfifo(target)
    with pytest.raises(OSError, match="not a regular file"):
        witness.record({"access": "note"})
    target.unlink()
    target.symlink_to(victim)
    with pytest.raises(OSError, match="symbolic links"):
        witness.record({"access": "note"})
    assert victim.read_text() == "keep"
    target.unlink()
    target.mkdir()
    with pytest.raises(OSError, match="directory"):
        witness.record({"access": "note"})
    target.rmdir()
    target.write_bytes(b"x" * (1 << 20))
    witness.record({"access": "note"})
    assert target.read_bytes() == b"note"
    assert witness.witnessed("access") == "note"
