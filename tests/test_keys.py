"""Key rings and key custody (seed item 11; RK-KEY-001..003, RK-IDC-002, RK-LNK-005)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.errors import PermissionDeniedError
from renkei_reference.core.instant import SECOND, Instant, instant_of
from renkei_reference.core.keys import KeyPurpose, KeyRing
from renkei_reference.services.store.keystore import FileKeyStore, MemoryKeyStore

T0 = datetime(2030, 1, 1, tzinfo=UTC)
steps = st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), max_size=8)


@pytest.mark.requirement("RK-KEY-002", "RK-LNK-005", "RK-IDC-002")
@given(steps, st.integers(0, 3 * 10**6))
def test_rotation_keeps_old_versions_exactly_for_their_window(
    rotations: list[tuple[int, int]], probe: int
) -> None:
    start = instant_of(T0)
    ring = KeyRing.first(KeyPurpose.LINK_CODE, start)
    at = start
    windows: dict[int, int] = {}
    for gap, window in rotations:
        at = Instant(at + gap * SECOND)
        windows[ring.current] = at + window * SECOND
        ring = ring.rotate(at, window * SECOND)
    assert ring.current == len(rotations) + 1
    when = Instant(start + probe * SECOND)
    assert ring.accepts(ring.current, when)
    for version, until in windows.items():
        assert ring.accepts(version, when) == (when < until)
    assert not ring.accepts(ring.current + 1, when)
    assert not ring.accepts(0, when)


@pytest.mark.requirement("RK-LNK-005")
def test_a_retired_version_is_refused_specifically() -> None:
    at = instant_of(T0)
    ring = KeyRing.first(KeyPurpose.LINK_CODE, at).rotate(at, 0)
    with pytest.raises(PermissionDeniedError) as err:
        ring.require(1, at, "RK-LNK-005")
    assert err.value.problem == "unknown-key-version"
    assert err.value.requirement == "RK-LNK-005"


@pytest.mark.requirement("RK-KEY-001", "RK-KEY-003")
def test_file_key_store_is_private_durable_and_never_shows_secrets(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    store = FileKeyStore(path, T0)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    cipher = store.cipher(KeyPurpose.LINK_CODE, 1)
    token = cipher.encrypt(b"x" * 28, [b"ad"])
    store.rotate(KeyPurpose.LINK_CODE, T0 + timedelta(days=1), timedelta(days=30))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = FileKeyStore(path, T0 + timedelta(days=2))
    assert again.ring(KeyPurpose.LINK_CODE).current == 2
    assert again.cipher(KeyPurpose.LINK_CODE, 1).decrypt(token, [b"ad"]) == b"x" * 28
    secrets_hex = [
        v["secret"]
        for vs in __import__("json").loads(path.read_text())["rings"].values()
        for v in vs
    ]
    shown = repr(again) + repr(again.describe()) + repr(cipher)
    assert all(s not in shown for s in secrets_hex)
    assert "redacted" in repr(again)


@pytest.mark.requirement("RK-IDC-002")
def test_unknown_versions_are_refused_not_invented() -> None:
    store = MemoryKeyStore(T0)
    with pytest.raises(PermissionDeniedError):
        store.cipher(KeyPurpose.ID_CODE, 7)
