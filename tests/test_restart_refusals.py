"""The hub's state files beside the store, checked when read (RK-LOG-010; issue 16).

A damaged or changed ``keys.json`` or ``log-signer.key`` is a ``StateFileError``
naming the file (``renkei serve`` refuses to start with it, exit status 3),
never a traceback, never a key ring silently different from the one written.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from renkei_reference.core.keys import KeyPurpose
from renkei_reference.core.log_integrity import LogTamperedError, StateFileError
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Federation
from renkei_reference.services.store.keystore import (
    FileKeyStore,
    MemoryKeyStore,
    load_or_create_log_signer,
)
from renkei_reference.services.store.sealed_records import DIGEST_WITNESS
from renkei_reference.services.store.witness import witness_dir_for

from .postgres import Backend

T0 = datetime(2026, 4, 1, tzinfo=UTC)
SEAL = bytes(range(32))


def _sealed(path: Path) -> FileKeyStore:
    return FileKeyStore(path, T0, seal_key=SEAL)


@pytest.mark.requirement("RK-LOG-010", "RK-KEY-003")
def test_sealed_key_file_survives_rotation_and_refuses_one_changed_digit(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = _sealed(path)
    token = store.cipher(KeyPurpose.LINK_CODE, 1).encrypt(b"x" * 28, [b"ad"])
    store.rotate(KeyPurpose.LINK_CODE, T0 + timedelta(days=1), timedelta(days=30))
    again = _sealed(path)
    assert again.ring(KeyPurpose.LINK_CODE).current == 2
    assert again.cipher(KeyPurpose.LINK_CODE, 1).decrypt(token, [b"ad"]) == b"x" * 28
    data = json.loads(path.read_text())
    for purpose in ("link-code", "id-code"):
        changed = json.loads(json.dumps(data))
        secret = changed["rings"][purpose][0]["secret"]
        changed["rings"][purpose][0]["secret"] = ("1" if secret[0] != "1" else "2") + secret[1:]
        path.write_text(json.dumps(changed))
        with pytest.raises(StateFileError, match=r"keys\.json .*seal does not verify"):
            _sealed(path)
    changed = json.loads(json.dumps(data))
    changed["rings"]["link-code"][0]["accepted_until"] = None  # a retired version revived
    path.write_text(json.dumps(changed))
    with pytest.raises(StateFileError, match="seal does not verify"):
        _sealed(path)
    path.write_text(json.dumps(data))
    with pytest.raises(StateFileError, match="seal does not verify"):
        FileKeyStore(path, T0, seal_key=bytes(32))  # another hub's seal key


@pytest.mark.requirement("RK-LOG-010")
def test_unsealed_key_file_is_refused_unless_adopted_then_sealed(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    FileKeyStore(path, T0)  # written without a seal (as before key files were sealed)
    assert "seal" not in json.loads(path.read_text())
    with pytest.raises(StateFileError, match=r"no seal.*--adopt-state"):
        _sealed(path)
    FileKeyStore(path, T0, seal_key=SEAL, adopt=True)
    assert "seal" in json.loads(path.read_text())
    assert _sealed(path).ring(KeyPurpose.ID_CODE).current == 1


@pytest.mark.requirement("RK-LOG-010")
@pytest.mark.parametrize(
    "damage",
    ["torn", "not-json", "invalid-utf8", "list", "short-secret", "odd-hex", "bad-purpose"],
)
def test_damaged_key_file_is_a_refusal_naming_it(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "keys.json"
    _sealed(path)
    text = path.read_text()
    data = json.loads(text)
    ring = data["rings"]["link-code"][0]
    if damage == "torn":
        path.write_text(text[: len(text) // 2])
    elif damage == "not-json":
        path.write_text("x" + text[1:])
    elif damage == "invalid-utf8":
        path.write_bytes(b"\xff" + text.encode()[1:])
    elif damage == "list":
        path.write_text("[]")
    elif damage == "short-secret":
        ring["secret"] = ring["secret"][:8]
        path.write_text(json.dumps(data))
    elif damage == "odd-hex":
        ring["secret"] = ring["secret"][:-1]
        path.write_text(json.dumps(data))
    else:
        data["rings"]["no-such-purpose"] = data["rings"].pop("link-code")
        path.write_text(json.dumps(data))
    for seal in (SEAL, None):  # checked as a file whether or not it is sealed
        with pytest.raises(StateFileError, match=r"keys\.json is damaged or was changed"):
            FileKeyStore(path, T0, seal_key=seal)


@pytest.mark.requirement("RK-LOG-010")
@pytest.mark.parametrize("content", [b"", b"abc", b"\xff" * 64, b"00" * 20])
def test_damaged_log_signer_is_a_refusal_naming_it(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "log-signer.key"
    key = load_or_create_log_signer(path)
    assert load_or_create_log_signer(path).private_bytes_raw() == key.private_bytes_raw()
    path.write_bytes(content)
    with pytest.raises(StateFileError, match=r"log-signer\.key is damaged"):
        load_or_create_log_signer(path)


# -- an entry the log's indexes cannot read (RK-LOG-010) -------------------------


def _write(backend: Backend, sql: str, *args: object) -> None:
    """One change to the store behind the hub's back, committed."""
    if backend.kind == "postgresql":
        backend.rows(sql, args)
        return
    db = sqlite3.connect(backend.place(), isolation_level=None)
    try:
        db.execute(sql, args)
    finally:
        db.close()


@pytest.mark.requirement("RK-LOG-010", "RK-FLOW-003")
@pytest.mark.parametrize("damage", ["not-json", "member-renamed"])
def test_lookup_missing_an_unreadable_entry_is_refused_and_reported(
    backend: Backend, damage: str
) -> None:
    """An ended (expired) linkage of request id ``q1``; while the hub runs, its two
    entries changed behind its back so that the index by linkage no longer holds
    them (and, not JSON, the index by request id neither), and the used request
    id's record deleted.  A receipt lookup that finds nothing — for that linkage
    or any other — and the request id looked up again are refused as
    ``log-tampered`` (never 404 or "unused"), and the auditor is told in the
    administrative log."""
    from .test_log_store import AUDITOR, A, _populate, _query

    clock = ControllableClock(T0)
    fed = Federation(
        clock,
        MemoryKeyStore(T0, b"\x07" * 32),
        log_store=backend.open(retry_seconds=0.05),
        log_signer=Ed25519PrivateKey.generate(),
    )
    links = _populate(fed)
    linkage = _query(fed, links["r0"], "q1").linkage_id
    clock.set(T0 + timedelta(hours=2))
    fed.hub.expire_due()
    fed.log_store.barrier().result(10)
    fed.hub.latest_checkpoint()  # a step: what is committed is read from the store again
    rows = backend.rows("SELECT serial, entry FROM leaves WHERE log = 'access'")
    assert len(rows) == 2
    for serial, entry in rows:  # changed under the running hub
        changed = (
            "x" + entry[1:]
            if damage == "not-json"
            else entry.replace('"linkage_id"', '"linkagE_id"')
        )
        _write(
            backend,
            "UPDATE leaves SET entry = ? WHERE log = 'access' AND serial = ?",
            changed,
            serial,
        )
    _write(backend, "DELETE FROM records WHERE space = 'request'")
    assert not backend.rows("SELECT key FROM records WHERE space = 'request'")
    try:
        with pytest.raises(LogTamperedError, match="serial 1"):
            fed.hub.linkage_receipt(A, linkage, None)
        with pytest.raises(LogTamperedError, match="serial 1"):
            fed.hub.linkage_receipt(AUDITOR, "0" * 32, None)  # any miss, while it stands
        with pytest.raises(LogTamperedError):
            _query(fed, links["r0"], "q1")
        events = [e.event.value for e in fed.hub.logs.admin_entries]
        assert "log-tampered" in events  # the auditor is told
    finally:
        fed.close()


# -- the state digest, witnessed (RK-LOG-010 / RK-LOG-011) -------------------------


@pytest.mark.requirement("RK-LOG-010", "RK-LOG-011", "RK-FLOW-008")
def test_store_put_back_to_before_an_accepted_answer_is_refused(tmp_path: Path) -> None:
    """An answer accepted writes no log entry; a store copied before it and put
    back has the logs the witness holds, but a state digest of an earlier
    generation than the witnessed one: the hub refuses to start.  A witness that
    lags the store (written without a flush, a power loss) does not stop it."""
    from .test_log_store import B, _populate, _query
    from .test_witness import _copy_store, _open

    state, copy = tmp_path / "state", tmp_path / "copy"
    state.mkdir()
    signer = Ed25519PrivateKey.generate()
    fed = _open(state, signer)
    try:
        linkage = _query(fed, _populate(fed)["r0"], "q1").linkage_id
        fed.hub.deliveries(B)
        fed.hub.log_barrier().result(10)
        _copy_store(state, copy)
        lagging = (witness_dir_for(state) / f"{DIGEST_WITNESS}.checkpoint").read_text()
        fed.hub.answer(B, linkage, "c2VhbGVk")
        fed.hub.log_barrier().result(10)
    finally:
        fed.close()
    _copy_store(state, tmp_path / "after")
    _copy_store(copy, state)
    with pytest.raises(LogTamperedError, match=r"state digest.*generation .* is behind"):
        _open(state, signer)
    _copy_store(tmp_path / "after", state)  # the store as it was left …
    (witness_dir_for(state) / f"{DIGEST_WITNESS}.checkpoint").write_text(lagging)
    _open(state, signer).close()  # … ahead of a witness that lags it: starts
