"""Private bodies' consents at the hub (seed item 20; RK-BND-004): durable, and
only an exact, latest 4-item match binds.  The kit checks the wire
(CT-BND-005, CT-BND-006); these check what it cannot see: a restarted hub
keeps every withdrawal, and the exactness property."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.check_digit import resident_code_check_digit
from renkei_reference.core.codes import ResidentCode
from renkei_reference.core.errors import PermissionDeniedError
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Agency, Federation, FourItems
from renkei_reference.services.hub import ConsentIn
from renkei_reference.services.store.keystore import MemoryKeyStore
from renkei_reference.services.store.log_store import SqliteLogStore

pytestmark = pytest.mark.requirement("RK-BND-004")

T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
CLUB = Agency("club", "共済会（民間）", "private-body")
ITEMS = FourItems(
    "山田 太郎", "東京都千代田区霞が関1丁目1番1号", "1980-04-01", "male", "ヤマダ タロウ"
)
CONSENT = ConsentIn(
    record_ref="m-1",
    purpose="資格確認",
    pattern_ids=(),
    obtained_at="2026-03-30T02:15:00+00:00",
    method="written",
)


def _rc(i: int) -> ResidentCode:
    body = f"{3_000_000_000 + i:010d}"
    return ResidentCode(body + str(resident_code_check_digit(body)))


def _federation(path: Path, signer: Ed25519PrivateKey) -> Federation:
    return Federation(
        ControllableClock(T0),
        MemoryKeyStore(T0, b"\x07" * 32),
        log_store=SqliteLogStore(path, retry_seconds=0.05),
        log_signer=signer,
    )


def test_a_restarted_hub_keeps_the_withdrawal(tmp_path: Path) -> None:
    signer = Ed25519PrivateKey.generate()
    fed = _federation(tmp_path / "hub.sqlite3", signer)
    fed.register(CLUB)
    fed.registry.load([(_rc(1), ITEMS)])
    consent = fed.hub.record_consent(CLUB, CONSENT).consent_id
    (bound,) = fed.hub.bind_all(CLUB, [("m-1", ITEMS)], [consent])
    assert bound.decision == "bound"
    fed.hub.withdraw_consent(CLUB, consent)
    fed.hub.log_barrier().result(10)
    fed.close()

    again = _federation(tmp_path / "hub.sqlite3", signer)
    again.register(CLUB)
    again.registry.load([(_rc(1), ITEMS)])
    with pytest.raises(PermissionDeniedError) as refused:
        again.hub.bind_all(CLUB, [("m-1", ITEMS)], [consent])
    assert refused.value.problem == "consent-withdrawn"
    fresh = again.hub.record_consent(CLUB, CONSENT).consent_id
    with pytest.raises(PermissionDeniedError) as still:
        again.hub.bind_all(CLUB, [("m-1", ITEMS)], [fresh])
    assert still.value.problem == "consent-withdrawn"
    again.close()


_EDITS = st.sampled_from(
    [
        ("name", "山田 太朗"),  # a variant spelling
        ("name", "ヤマダ タロウ"),  # the kana as the name
        ("address", "東京都千代田区霞が関一丁目1番1号"),  # address notation
        ("address", "東京都千代田区霞が関1-1-1"),
        ("birth_date", "1980-04-02"),
        ("sex", "female"),
        ("name_kana", "ヤマダ ジロウ"),
        ("address", ""),  # an item missing (RK-BND-003): rejected, no reason
        ("sex", " "),
    ]
)


@given(edit=_EDITS)
def test_a_private_body_binds_only_the_exact_latest_items(edit: tuple[str, str]) -> None:
    """Property: any change to the latest 4 items (or a kana reading that
    differs) is rejected for a private body, with no reason; the exact items
    bind; an earlier state of the same resident never binds."""
    fed = Federation(ControllableClock(T0))
    fed.register(CLUB)
    earlier = replace(ITEMS, address="大阪府大阪市北区梅田1丁目1番1号")
    fed.registry.load([(_rc(2), earlier)])
    fed.registry.load([(_rc(2), ITEMS)])
    field, value = edit
    records = [("exact", ITEMS), ("changed", replace(ITEMS, **{field: value})), ("old", earlier)]
    consents = [fed.hub.record_consent(CLUB, CONSENT).consent_id for _ in records]
    got = {r.record_ref: r for r in fed.hub.bind_all(CLUB, records, list(consents))}
    assert got["exact"].decision == "bound"
    for ref in ("changed", "old"):
        assert got[ref].decision == "rejected", got[ref]
        assert got[ref].reasons == ()
        assert not got[ref].link_code


def test_one_consent_is_one_persons() -> None:
    """A consent that bound one person cannot bind another (403 consent-required)."""
    fed = Federation(ControllableClock(T0))
    fed.register(CLUB)
    other = replace(ITEMS, name="山田 花子", name_kana="ヤマダ ハナコ", sex="female")
    fed.registry.load([(_rc(3), ITEMS), (_rc(4), other)])
    consent = fed.hub.record_consent(CLUB, CONSENT).consent_id
    assert fed.hub.bind_all(CLUB, [("a", ITEMS)], [consent])[0].decision == "bound"
    assert fed.hub.bind_all(CLUB, [("a", ITEMS)], [consent])[0].decision == "bound"
    with pytest.raises(PermissionDeniedError) as refused:
        fed.hub.bind_all(CLUB, [("b", other)], [consent])
    assert refused.value.problem == "consent-required"
