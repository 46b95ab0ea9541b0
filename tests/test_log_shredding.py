"""Purged log entries cannot be recovered from anything the hub keeps (RK-RET-003).

Each stored entry is sealed under a key of its own kept in its log's key file in
the state folder, outside the store (services.store.entry_keys); a purge
overwrites the key.  These tests run the hub in process over each store kind:
the sealed rows hold no salt, request id or person; after a purge the salt is in
no file, and the sealed copy taken before the purge opens under no key the hub
keeps; a changed key is a changed entry (RK-LOG-010); a missing or short key file
stops the start; a kill at the two instants that matter leaves a consistent state.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_reference.core.access_log import AccessLogEntry
from renkei_reference.core.canonical_json import canonical
from renkei_reference.core.keys import KeyPurpose
from renkei_reference.core.log_integrity import LogTamperedError, StateFileError
from renkei_reference.core.retention import PurgedEntry
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Federation
from renkei_reference.services.store.entry_keys import (
    KEY,
    SEALED_START,
    SHRED_FILE,
    EntryKeys,
    associated_data,
    key_file,
)
from renkei_reference.services.store.keystore import (
    FileKeyStore,
    KeyStore,
    MemoryKeyStore,
    load_or_create_log_signer,
)

from .postgres import Backend
from .test_log_store import A, _populate, _query
from .test_log_tamper import refused_start

T0 = datetime(2026, 4, 1, tzinfo=UTC)
ROOT = b"\x07" * 32
PURGE_AT = T0 + timedelta(days=8 * 366)


def _open(
    backend: Backend,
    state: Path,
    signer: Ed25519PrivateKey,
    clock: ControllableClock,
    keys: KeyStore | None = None,
) -> Federation:
    return Federation(
        clock,
        keys or MemoryKeyStore(T0, ROOT),
        log_store=backend.open(retry_seconds=0.05),
        log_signer=signer,
        state_dir=state,
    )


def _ended_linkage(fed: Federation, clock: ControllableClock) -> str:
    """One linkage approved and expired: access entries 1 and 2; returns its id."""
    linkage: str = _query(fed, _populate(fed)["r0"], "q1").linkage_id
    clock.set(T0 + timedelta(hours=2))
    fed.hub.expire_due()
    fed.log_store.barrier().result(10)
    return linkage


def _slots(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [data[i : i + KEY] for i in range(KEY, len(data) - KEY + 1, KEY)]


def _opens(stored: str, log: str, serial: int, key: bytes) -> bool:
    """Whether ``key`` opens the sealed stored form of entry ``serial``."""
    end = stored.index('"', len(SEALED_START))
    raw = base64.b64decode(stored[len(SEALED_START) : end])
    members = stored[end + 1 : -1]
    try:
        AESGCM(key).decrypt(raw[:12], raw[12:], associated_data(log, serial, members))
    except (InvalidTag, ValueError):
        return False
    return True


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes())


@pytest.mark.requirement("RK-RET-003")
def test_purged_entry_is_unrecoverable_from_the_store_and_the_state_folder(
    backend: Backend, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    fed = _open(backend, state, signer, clock)
    try:
        _ended_linkage(fed, clock)
        held = [fed.hub.logs.entry(s) for s in (1, 2)]
        assert all(isinstance(e, AccessLogEntry) for e in held)
        salts = [e.salt.hex().encode() for e in held if isinstance(e, AccessLogEntry)]
        person = (
            held[0].person.hex() if isinstance(held[0], AccessLogEntry) and held[0].person else ""
        )
        rows = dict(backend.rows("SELECT serial, entry FROM leaves WHERE log = 'access'"))
        for serial in (1, 2):  # sealed while held: none of the record is in the clear
            assert rows[serial].startswith(SEALED_START)
            for secret in (salts[serial - 1].decode(), '"q1"', person, '"outcome"'):
                assert secret not in rows[serial]
        keys = key_file(state, "access")
        assert all(_opens(rows[s], "access", s, _slots(keys)[s - 1]) for s in (1, 2))
        clock.set(PURGE_AT)
        fed.hub.expire_due()  # both entries' retention ended: purged
        fed.log_store.barrier().result(10)
        assert all(isinstance(fed.hub.logs.entry(s), PurgedEntry) for s in (1, 2))
    finally:
        fed.close()
    assert backend.rows("SELECT count(*) FROM leaves WHERE log = 'access' AND entry IS NULL") == [
        (2,)
    ]
    every_key = _slots(keys) + _slots(key_file(state, "admin"))
    assert _slots(keys)[:2] == [bytes(KEY)] * 2  # the keys are gone …
    for serial in (1, 2):  # … and no key the hub keeps opens the copy taken before
        assert not any(_opens(rows[serial], "access", serial, k) for k in every_key)
    assert not (state / SHRED_FILE).exists()
    if backend.kind == "sqlite":  # the store's files (WAL included) and the state folder
        for salt in salts:
            assert _files_holding(tmp_path, salt) == []
    fed = _open(backend, state, signer, clock)  # starts over the purged, shredded log
    try:
        assert [type(e) for e in fed.hub.logs.entries()] == [PurgedEntry, PurgedEntry]
    finally:
        fed.close()


@pytest.mark.requirement("RK-RET-003", "RK-LOG-010")
def test_a_key_changed_by_one_byte_is_a_changed_entry(backend: Backend, tmp_path: Path) -> None:
    """A changed key of a held access entry: reading it is 500 ``log-tampered``,
    reported to the auditor; of an administrative entry (read at start): no start."""
    state = tmp_path / "state"
    state.mkdir()
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    fed = _open(backend, state, signer, clock)
    linkage = _ended_linkage(fed, clock)
    fed.hub.latest_checkpoint()  # a step: the committed entries are read from the store
    keys = key_file(state, "access")
    with keys.open("r+b") as f:
        f.seek(KEY * 1 + 7)
        byte = f.read(1)
        f.seek(KEY * 1 + 7)
        f.write(bytes([byte[0] ^ 1]))
    try:
        with pytest.raises(LogTamperedError, match="serial 1, entry"):
            fed.hub.linkage_receipt(A, linkage, 1)
        assert "log-tampered" in [e.event.value for e in fed.hub.logs.admin_entries]
    finally:
        fed.close()
    admin = key_file(state, "admin")
    with admin.open("r+b") as f:
        f.seek(KEY * 2)
        byte = f.read(1)
        f.seek(KEY * 2)
        f.write(bytes([byte[0] ^ 0x80]))
    with pytest.raises(LogTamperedError, match="admin log was changed: serial 2, entry"):
        _open(backend, state, signer, clock).close()


@pytest.mark.requirement("RK-RET-003", "RK-LOG-010")
@pytest.mark.parametrize("damage", ["deleted", "cut-short", "header"])
def test_a_missing_or_short_key_file_stops_the_start(
    backend: Backend, tmp_path: Path, damage: str
) -> None:
    state = tmp_path / "state"
    state.mkdir()
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    fed = _open(backend, state, signer, clock)
    _ended_linkage(fed, clock)
    fed.close()
    keys = key_file(state, "access")
    if damage == "deleted":
        keys.unlink()
        why = r"missing, while the store holds access-log entries sealed under its keys"
    elif damage == "cut-short":
        os.truncate(keys, KEY * 2)
        why = r"cut short: .* entry 2 sealed under a key past its end"
    else:
        keys.write_bytes(b"\0" + keys.read_bytes()[1:])
        why = "not a key file of the log's entries"
    with pytest.raises(StateFileError, match=rf"access-log\.keys is damaged .*{why}") as caught:
        _open(backend, state, signer, clock).close()
    assert caught.value.requirement == "RK-LOG-010"


_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import timedelta
    from pathlib import Path

    from renkei_reference.services.clock import ControllableClock
    from renkei_reference.services.federation import Federation
    from renkei_reference.services.store import entry_keys, log_store
    from renkei_reference.services.store.keystore import MemoryKeyStore
    from renkei_reference.services.store.keystore import load_or_create_log_signer
    from tests.test_log_shredding import PURGE_AT, ROOT, T0
    from tests.test_log_store import _populate, _query

    state, instant = Path(sys.argv[1]), sys.argv[2]
    clock = ControllableClock(T0)
    fed = Federation(
        clock,
        MemoryKeyStore(T0, ROOT),
        log_store=log_store.SqliteLogStore(state / "logs.sqlite3"),
        log_signer=load_or_create_log_signer(state / "log-signer.key"),
        state_dir=state,
    )
    links = _populate(fed)
    _query(fed, links["r0"], "q1")
    clock.set(T0 + timedelta(hours=2))
    fed.hub.expire_due()
    fed.log_store.barrier().result(10)

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if instant == "keys-written":  # the batch's keys are durable, its commit never runs
        log_store.SqliteLogStore._write_batch = die
        _query(fed, links["r1"], "q2")
    else:  # the purge is committed, its keys not yet overwritten
        entry_keys.EntryKeys.shred = die
        clock.set(PURGE_AT)
        fed.hub.expire_due()
    fed.log_store.barrier().result(10)
    """
)


@pytest.mark.requirement("RK-RET-003", "RK-LOG-004")
@pytest.mark.parametrize("instant", ["keys-written", "purge-committed"])
def test_a_kill_mid_batch_leaves_a_consistent_state(tmp_path: Path, instant: str) -> None:
    """``kill -9`` after a batch's keys are written but before it commits: the
    entries are not there, their orphan keys harm nothing, and the serials are
    appended again under new keys.  After a purge commits but before its keys are
    overwritten: the start overwrites them."""
    state = tmp_path / "state"
    state.mkdir()
    root = Path(__file__).resolve().parents[1]
    path = [str(root / "reference"), str(root / "conformance"), str(root)]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(path))
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(state), instant],
        env=env,
        cwd=root,
        check=False,
        capture_output=True,
        timeout=120,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    keys = key_file(state, "access")
    clock = ControllableClock(T0 + timedelta(hours=2))
    signer = load_or_create_log_signer(state / "log-signer.key")
    backend = Backend("sqlite", state, None)
    if instant == "keys-written":
        assert len(_slots(keys)) >= 3
        assert _slots(keys)[2] != bytes(KEY)  # an orphan key
    else:
        assert (state / SHRED_FILE).read_text() == "access 1\naccess 2\n"
        assert _slots(keys)[:2] != [bytes(KEY)] * 2  # committed purge, keys still there
    fed = _open(backend, state, signer, clock)
    try:
        entries = list(fed.hub.logs.entries())
        if instant == "keys-written":
            assert [type(e) for e in entries] == [AccessLogEntry, AccessLogEntry]
            linkage = _query(fed, _populate(fed)["r1"], "q2").linkage_id  # serial 3 again
            fed.log_store.barrier().result(10)
            fed.hub.latest_checkpoint()
            assert fed.hub.linkage_receipt(A, linkage, None).serial == 3
            assert isinstance(fed.hub.logs.entry(3), AccessLogEntry)
        else:
            assert [type(e) for e in entries] == [PurgedEntry, PurgedEntry]
            assert _slots(keys)[:2] == [bytes(KEY)] * 2
            assert not (state / SHRED_FILE).exists()
    finally:
        fed.close()


@pytest.fixture(scope="module")
def entry_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntryKeys]:
    keys = EntryKeys(tmp_path_factory.mktemp("keys"), b"\x05" * 32)
    keys.attach(("access", "admin"), lambda log, first: None, lambda log, s: False, lambda log: 0)
    yield keys
    keys.close()


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@pytest.mark.requirement("RK-RET-003", "RK-LOG-010")
@settings(max_examples=60, deadline=None)
@given(
    serial=st.integers(1, 5000),
    request_id=_TEXT,
    linkage_id=st.none() | st.text("0123456789abcdef", min_size=1, max_size=32),
    detail=st.none() | _TEXT,
)
def test_a_sealed_record_opens_to_itself_and_is_indexed_by_its_tags(
    entry_keys: EntryKeys, serial: int, request_id: str, linkage_id: str | None, detail: str | None
) -> None:
    """Any canonical record — a request id with quotes, backslashes or member
    names in it included — opens back to itself, holds none of its values in the
    clear, and is stored under the tags ``find`` looks its values up by; under
    another serial, or with a tag changed, it does not open."""
    record = canonical(
        {"detail": detail, "linkage_id": linkage_id, "person": "0a1b", "request_id": request_id}
    )
    (stored,) = entry_keys.seal([("access", serial, record)])
    entry_keys.committed()
    assert stored.startswith(SEALED_START)
    assert entry_keys.open("access", serial, stored) == record
    tags = {
        "linkage_id": None
        if linkage_id is None
        else entry_keys.tag("access", "linkage_id", linkage_id),
        "person": entry_keys.tag("access", "person", "0a1b"),
        "request_id": entry_keys.tag("access", "request_id", request_id),
    }
    members = stored[stored.index('"', len(SEALED_START)) + 1 : -1]
    assert members == "".join(
        f',"{k}":' + ("null" if v is None else f'"{v}"') for k, v in tags.items()
    )
    if len(request_id) >= 8:
        assert canonical(request_id)[1:-1] not in stored.replace(members, "")
    assert entry_keys.open("access", serial + 1, stored) == stored  # another serial
    assert entry_keys.open("admin", serial, stored) == stored  # another log
    changed = stored.replace(tags["person"] or "", "0" * 16)
    assert entry_keys.open("access", serial, changed) == changed


@pytest.mark.requirement("RK-RET-003", "RK-LOG-010", "RK-KEY-002")
def test_a_store_written_in_the_clear_opens_and_is_sealed_from_then_on(
    backend: Backend, tmp_path: Path
) -> None:
    """A store written before entries were sealed (no state folder: every entry in
    the clear) is read as it is and found through its indexes by the values'
    own text; entries written from then on are sealed; an ID-key rotation
    re-makes the persons of both kinds of entry (the sealed one sealed again under
    its key), which are found by the new person; the old rows are purged as before."""
    state = tmp_path / "state"
    state.mkdir()
    signer, clock = Ed25519PrivateKey.generate(), ControllableClock(T0)
    ring = tmp_path / "keys.json"  # the ID-key rotation outlives a restart
    fed = Federation(
        clock,
        FileKeyStore(ring, T0),
        log_store=backend.open(retry_seconds=0.05),
        log_signer=signer,
    )
    try:
        first = _ended_linkage(fed, clock)
        fed.hub.latest_checkpoint()
    finally:
        fed.close()
    rows = dict(backend.rows("SELECT serial, entry FROM leaves WHERE log = 'access'"))
    assert all(not e.startswith(SEALED_START) for e in rows.values())  # in the clear
    fed = _open(backend, state, signer, clock, FileKeyStore(ring, T0))
    try:
        assert [s for s, _ in backend.rows("SELECT serial, entry FROM leaves")] != []
        assert fed.hub.logs.linkage_serials(first) == [1, 2]  # the index, by the id's text
        links = _populate(fed)
        second = _query(fed, links["r0"], "q2").linkage_id
        fed.log_store.barrier().result(10)
        fed.hub.latest_checkpoint()
        ((third,),) = backend.rows("SELECT entry FROM leaves WHERE log = 'access' AND serial = 3")
        assert third.startswith(SEALED_START)
        assert fed.hub.logs.linkage_serials(second) == [3]  # the index, by the id's tag
        person = fed.hub.logs.entry(3)
        assert isinstance(person, AccessLogEntry)
        assert person.person is not None
        assert [e.serial for e in fed.hub.logs.person_entries(person.person)] == [1, 2, 3]
        fed.hub.rotate(KeyPurpose.ID_CODE, timedelta(days=30))  # persons re-made
        fed.log_store.barrier().result(10)
        fed.hub.latest_checkpoint()
        moved = fed.hub.logs.entry(3)
        assert isinstance(moved, AccessLogEntry)
        assert moved.person is not None
        assert moved.person != person.person
    finally:
        fed.close()
    ((again,),) = backend.rows("SELECT entry FROM leaves WHERE log = 'access' AND serial = 3")
    assert again.startswith(SEALED_START)
    assert again != third
    old = backend.rows("SELECT entry FROM leaves WHERE log = 'access' AND serial < 3")
    assert all(e.startswith(SEALED_START) for (e,) in old)  # re-made: sealed, own keys
    fed = _open(backend, state, signer, clock, FileKeyStore(ring, T0))  # read back from the store
    try:
        assert moved.person is not None
        assert [e.serial for e in fed.hub.logs.person_entries(moved.person)] == [1, 2, 3]
        assert fed.hub.logs.person_entries(person.person) == []
        assert fed.hub.logs.linkage_serials(second) == [3]
        clock.set(PURGE_AT)
        fed.hub.expire_due()
        fed.log_store.barrier().result(10)
        kinds = [(e.serial, type(e).__name__) for e in fed.hub.logs.entries()]
        assert kinds[:3] == [(1, "PurgedEntry"), (2, "PurgedEntry"), (3, "PurgedEntry")], kinds
    finally:
        fed.close()
    assert _slots(key_file(state, "access"))[2] == bytes(KEY)  # the sealed one shredded


@pytest.mark.requirement("RK-RET-003", "RK-LOG-010")
def test_renkei_serve_refuses_to_start_without_its_entry_key_file(
    tmp_path: Path, backend: Backend
) -> None:
    """The operator is told which file and why; exit status 3, no traceback."""
    from renkei_reference.cli import _durable
    from renkei_reference.services.store.stores import parse_store

    state = tmp_path / "state"
    place = backend.place()
    store = f"sqlite:{place}" if backend.kind == "sqlite" else place
    fed = _durable(state, parse_store(store, state / "logs.sqlite3"))(ControllableClock(T0))
    fed.register(A)
    fed.close()
    key_file(state, "admin").unlink()
    refused = refused_start(tmp_path, state, store)
    assert "admin-log.keys" in refused
    assert "missing, while the store holds admin-log entries sealed under its keys" in refused
