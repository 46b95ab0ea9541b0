"""Answers in transit sealed at rest and erased by their key (RK-FLOW-002, RK-LOG-010)."""

from __future__ import annotations

from concurrent.futures import Future
from pathlib import Path

import pytest

from renkei_reference.core.log_integrity import LogTamperedError
from renkei_reference.services.store.transit_vault import REFILL, SEALED_PREFIX, TransitVault

pytestmark = pytest.mark.requirement("RK-FLOW-002", "RK-LOG-010")


class Commits:
    """The store's barrier as the vault sees it: one future per queued state."""

    def __init__(self) -> None:
        self.pending: list[Future[None]] = []

    def barrier(self) -> Future[None]:
        f: Future[None] = Future()
        self.pending.append(f)
        return f

    def commit(self) -> None:
        for f in self.pending:
            f.set_result(None)
        self.pending = []


@pytest.fixture
def vault(tmp_path: Path) -> tuple[TransitVault, Commits]:
    commits = Commits()
    return TransitVault(tmp_path / "transit.keys", commits.barrier), commits


def test_an_answer_is_stored_sealed_and_read_back(vault: tuple[TransitVault, Commits]) -> None:
    v, _ = vault
    stored = v.seal("lk-1", "aGVsbG8=")
    assert stored.startswith(SEALED_PREFIX)
    assert "aGVsbG8=" not in stored
    assert v.open("lk-1", stored) == "aGVsbG8="
    assert v.open("lk-1", "aGVsbG8=") == "aGVsbG8=", "a payload stored before the vault"


def test_a_changed_byte_or_another_linkage_is_refused(
    vault: tuple[TransitVault, Commits], tmp_path: Path
) -> None:
    v, _ = vault
    stored = v.seal("lk-1", "aGVsbG8=")
    with pytest.raises(LogTamperedError):
        v.open("lk-2", stored)  # moved to another linkage
    head, _, body = stored.rpartition(":")
    flipped = body[:-3] + ("A" if body[-3] != "A" else "B") + body[-2:]
    with pytest.raises(LogTamperedError):
        v.open("lk-1", f"{head}:{flipped}")
    keys = tmp_path / "transit.keys"
    raw = bytearray(keys.read_bytes())
    raw[0] ^= 1
    keys.write_bytes(bytes(raw))
    with pytest.raises(LogTamperedError):
        v.open("lk-1", stored)


def test_an_erased_answer_cannot_be_opened_once_its_erasure_is_committed(
    vault: tuple[TransitVault, Commits],
) -> None:
    v, commits = vault
    first = v.seal("lk-1", "Zmlyc3Q=")
    v.retire("lk-1", first)
    v.step()  # the erasure is queued, not committed: the key stays, the slot is not free
    assert v.open("lk-1", first) == "Zmlyc3Q="
    second = v.seal("lk-2", "c2Vjb25k")
    assert second.split(":")[1] != first.split(":")[1], "a live key's slot was reused"
    commits.commit()
    v.step()
    with pytest.raises(LogTamperedError):
        v.open("lk-1", first)  # the key is overwritten: no copy of the answer opens
    assert v.open("lk-2", second) == "c2Vjb25k"


def test_slots_are_reused_once_free_and_keys_flushed_once_a_refill(
    vault: tuple[TransitVault, Commits], tmp_path: Path
) -> None:
    """Keys are written ahead, ``REFILL`` at a time, into free slots: answers erased
    and committed give their slots back, so the key file stays as large as the most
    answers ever in transit (plus the keys written ahead), and the writer flushes the
    key file once a refill, not once a commit."""
    v, commits = vault
    flushes = 0
    for n in range(4 * REFILL):
        stored = v.seal(f"lk-{n}", "aGVsbG8=")
        flushes += v.dirty()
        v.sync()
        v.retire(f"lk-{n}", stored)
        v.step()
        commits.commit()
        v.step()
    assert (tmp_path / "transit.keys").stat().st_size <= 2 * REFILL * 32
    assert flushes <= 5


def test_keys_of_answers_erased_before_a_crash_are_overwritten_at_start(
    vault: tuple[TransitVault, Commits], tmp_path: Path
) -> None:
    v, commits = vault
    kept = v.seal("lk-1", "a2VwdA==")
    gone = v.seal("lk-2", "Z29uZQ==")
    v.sync()
    v.close()  # killed: lk-2's erasure committed, its key not yet overwritten
    again = TransitVault(tmp_path / "transit.keys", commits.barrier)
    again.keep_only([("lk-1", kept)])
    assert again.open("lk-1", kept) == "a2VwdA=="
    with pytest.raises(LogTamperedError):
        again.open("lk-2", gone)
