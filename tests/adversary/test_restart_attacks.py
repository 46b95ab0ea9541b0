"""Adversary tests of the hub's restart path and stored state, black box (issue 16).

The start no longer reads the whole log: it checks a sealed digest of the state
records (counts, keyed sums, log sizes), each linkage in flight and answer handed
out against the entry it names, and a new request id against the log's index of
request ids (RK-LOG-010's decision).  Each test starts `renkei serve` (plain HTTP,
test mode, hub application only) in a temporary state folder and changes that
folder as an operator, an attacker with disk access, a crash or a full disk would.
A test marked xfail(strict=True) demonstrates a violation of the requirement its
reason names: it asserts what the spec requires and fails today.

Runtime: each case starts the hub once or twice (about 3 s a start); the whole file
takes about 7 minutes on 2 cores, more than the CI's 30-minute budget has left.  So a
plain `pytest` runs only the findings (``FINDINGS``: the attacks the hub failed when
this file was written, about a minute; those fixed since run as regression tests of
their fix, the one still open as a strict xfail); the attacks the hub withstood from
the start (regression vectors) run with ``RENKEI_RESTART_ATTACKS=all``.  The
"Fails today" notes in the findings' docstrings describe the hub as the adversary
found it (session 10); the fixes are in RK-LOG-010's and RK-RET-003's decisions.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import contextlib
import hashlib
import json
import os
import random
import resource
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tests.adversary.harness import AUDITOR, PATTERN_ID, PROVIDER, REQUESTER, RESIDENTS, Hub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

ALL_ATTACKS = os.environ.get("RENKEI_RESTART_ATTACKS") == "all"


FINDINGS = frozenset(
    {
        "test_unparsable_entry_is_reported_not_denied",
        "test_damaged_state_file_is_refused_cleanly_and_loses_no_answer[keys-json-torn]",
        "test_damaged_state_file_is_refused_cleanly_and_loses_no_answer[signer-key-torn]",
        "test_damaged_state_file_is_refused_cleanly_and_loses_no_answer[wal-torn]",
        "test_replaced_credential_put_back_does_not_work_again",
        "test_copy_taken_before_an_accepted_answer_put_back_is_refused",
        "test_odd_stored_values_in_a_state_record_refuse_start_cleanly[value-blob]",
        "test_odd_stored_values_in_a_state_record_refuse_start_cleanly[key-blob]",
        "test_key_ring_secret_changed_by_one_byte_is_noticed",
        "test_purged_entry_leaves_no_salt_in_the_state_files",
    }
)
"""The attacks the hub failed when this file was written (session 10), by test or by
case: they always run, fixed (as regression tests of their fix) or not (strict xfail)."""


@pytest.fixture(autouse=True)
def _regressions_on_request(request: pytest.FixtureRequest) -> None:
    """Skips an attack the hub withstood from the start unless RENKEI_RESTART_ATTACKS=all
    (runtime, see the module's docstring); the findings always run."""
    node = request.node
    finding = node.name in FINDINGS or getattr(node, "originalname", "") in FINDINGS
    if not ALL_ATTACKS and not finding and node.get_closest_marker("xfail") is None:
        pytest.skip("regression vector of the restart path: RENKEI_RESTART_ATTACKS=all runs it")


SECOND_REQUESTER = "health.kenpo"


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    h = Hub(tmp_path / "state")
    h.start()
    try:
        yield h
    finally:
        h.close()


# -- disk helpers -------------------------------------------------------------------


def _sql(h: Hub, statement: str, *args: object) -> int:
    db = h.db()
    try:
        count: int = db.execute(statement, args).rowcount
    finally:
        db.close()
    return count


def _rows(h: Hub, statement: str, *args: object) -> list[tuple[Any, ...]]:
    db = h.db()
    try:
        return list(db.execute(statement, args).fetchall())
    finally:
        db.close()


def _entry_bytes(h: Hub, log: str, serial: int) -> bytes:
    ((entry,),) = _rows(h, "SELECT entry FROM leaves WHERE log = ? AND serial = ?", log, serial)
    assert isinstance(entry, str)
    return entry.encode()


def _put_entry_bytes(h: Hub, log: str, serial: int, data: bytes) -> None:
    """Store `data` as the entry's TEXT exactly as given (no UTF-8 check on the way)."""
    changed = _sql(
        h,
        "UPDATE leaves SET entry = CAST(? AS TEXT) WHERE log = ? AND serial = ?",
        data,
        log,
        serial,
    )
    assert changed == 1


_SEALED = b'{"sealed":"'


def _sealing(h: Hub, log: str, serial: int, data: bytes) -> tuple[AESGCM, bytes, bytes]:
    """How an attacker with the state folder opens a sealed entry: its key from the
    log's key file (32 bytes at 32 × serial), the associated data (log, serial and
    the stored index tags) and the nonce and ciphertext (RK-RET-003's decision)."""
    assert data.startswith(_SEALED), data[:40]
    with (h.state_dir / f"{log}-log.keys").open("rb") as f:
        f.seek(32 * serial)
        key = f.read(32)
    end = data.index(b'"', len(_SEALED))
    members = data[end + 1 : -1]
    return AESGCM(key), base64.b64decode(data[len(_SEALED) : end]), members


def _aad(log: str, serial: int, members: bytes) -> bytes:
    return f"renkei log entry\0{log}\0{serial}\0".encode() + members


def _entry_text(h: Hub, log: str, serial: int) -> bytes:
    """The entry's record in the clear, opened with the key file."""
    cipher, raw, members = _sealing(h, log, serial, _entry_bytes(h, log, serial))
    return cipher.decrypt(raw[:12], raw[12:], _aad(log, serial, members))


def _put_entry_text(
    h: Hub, log: str, serial: int, record: bytes, members: bytes | None = None
) -> None:
    """Store ``record`` sealed again under the entry's own key (with the stored
    index tags, or ``members`` in their place), as an attacker holding the key
    file can."""
    cipher, _, stored = _sealing(h, log, serial, _entry_bytes(h, log, serial))
    members = stored if members is None else members
    nonce = os.urandom(12)
    sealed = cipher.encrypt(nonce, record, _aad(log, serial, members))
    data = _SEALED + base64.b64encode(nonce + sealed) + b'"' + members + b"}"
    _put_entry_bytes(h, log, serial, data)


def _flip(data: bytes, at: int) -> bytes:
    """One byte changed: its lowest bit flipped (ASCII stays ASCII, a UTF-8
    continuation byte stays one)."""
    return data[:at] + bytes([data[at] ^ 1]) + data[at + 1 :]


def _tampered(response: httpx.Response) -> bool:
    """The request was refused as RK-LOG-010 says: 500 problem `log-tampered`."""
    if response.status_code != 500:
        return False
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and str(body.get("type", "")).endswith(":log-tampered")


def _refused_cleanly(h: Hub, requirement: str = "RK-LOG-010") -> bool:
    out = h.output()
    return requirement in out and "Traceback" not in out


def _outcomes(h: Hub) -> list[tuple[int, str, str | None, str | None]]:
    return [
        (e["serial"], e["outcome"], e.get("linkage_id"), e.get("request_id"))
        for e in h.access_log()
    ]


def _expire_all(h: Hub) -> None:
    assert h.ctl("POST", "/clock/advance", {"seconds": 2 * 3600}).status_code == 200


# =====================================================================================
# RK-FLOW-003 / RK-LOG-010: a used request id is never accepted again
# =====================================================================================


def _replay_setup(h: Hub) -> str:
    """req-1 approved, then expired (so no start check reads its entries); returns
    the link code."""
    link_code = h.build_world()
    linkage = h.approve(link_code, "req-1")
    _expire_all(h)
    assert [(o, lk) for _, o, lk, _ in _outcomes(h)] == [
        ("approved", linkage),
        ("expired", linkage),
    ]
    return link_code


def _assert_not_replayed(h: Hub, link_code: str) -> None:
    if not h.start(expect_ready=False):
        assert _refused_cleanly(h), h.output()[-2000:]
        return
    replay = h.query(link_code, "req-1")
    assert replay.status_code == 409 or _tampered(replay), (
        f"a used request id was accepted again: {replay.status_code} {replay.text[:300]}"
    )


def test_used_request_id_changed_in_its_entries_is_not_accepted_again(hub: Hub) -> None:
    """RK-FLOW-003 / RK-LOG-010: the `request` record of req-1 deleted and, in the two
    access entries that name it (approved, expired — no start check reads an ended
    linkage's entries), one byte of the request id (``"req-1"`` → ``"req-0"``, the
    entry sealed again under its key, and its stored index tag changed), so
    that the SQL index of request ids no longer finds them: req-1 is still refused
    (409, or 500 `log-tampered`) or the start refused, never accepted again."""
    link_code = _replay_setup(hub)
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 1
    for serial in (1, 2):
        data = _entry_text(hub, "access", serial)
        assert data.count(b'"request_id":"req-1"') == 1
        # the index keeps a keyed tag of the id: the attacker changes it too
        _, _, members = _sealing(hub, "access", serial, _entry_bytes(hub, "access", serial))
        at = members.index(b'"request_id":"') + len(b'"request_id":"')
        _put_entry_text(
            hub,
            "access",
            serial,
            data.replace(b'"request_id":"req-1"', b'"request_id":"req-0"'),
            _flip(members, at),
        )
    _assert_not_replayed(hub, link_code)


def test_used_request_id_whose_entries_do_not_parse_is_not_accepted_again(hub: Hub) -> None:
    """RK-FLOW-003 / RK-LOG-010: the `request` record of req-1 deleted and the last
    byte (``}``) of its two access entries replaced by a space, so that the stored
    text is no longer JSON and the SQL index of request ids (``json_valid``) leaves
    them out: req-1 is still refused or the start refused, never accepted again."""
    link_code = _replay_setup(hub)
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 1
    for serial in (1, 2):
        data = _entry_bytes(hub, "access", serial)
        assert data.endswith(b"}")
        _put_entry_bytes(hub, "access", serial, data[:-1] + b" ")
    _assert_not_replayed(hub, link_code)


def test_used_request_id_whose_entries_are_stored_as_blobs_is_not_accepted_again(
    hub: Hub,
) -> None:
    """RK-FLOW-003 / RK-LOG-010: the `request` record of req-1 deleted and its two
    access entries rewritten with the very same bytes as SQLite BLOBs
    (``CAST(entry AS BLOB)``), which the SQL index of request ids may read otherwise:
    req-1 is still refused or the start refused, never accepted again."""
    link_code = _replay_setup(hub)
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 1
    assert _sql(hub, "UPDATE leaves SET entry = CAST(entry AS BLOB) WHERE log = 'access'") == 2
    _assert_not_replayed(hub, link_code)


def test_dropped_request_id_index_still_finds_a_used_request_id(hub: Hub) -> None:
    """RK-FLOW-003 / RK-LOG-010: the SQL index of request ids dropped with the
    record: the used id is still found (409 or 500 `log-tampered`) or the start
    refused."""
    link_code = _replay_setup(hub)
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 1
    _sql(hub, "DROP INDEX leaves_request_id")
    _assert_not_replayed(hub, link_code)


def _second_requester(h: Hub) -> str:
    """Registers a second requester in P-0001 and binds the resident for it."""
    r = h.ctl(
        "POST",
        "/agencies",
        {"agencies": [{"agency_id": SECOND_REQUESTER, "name": "健保", "role": "agency"}]},
    )
    assert r.status_code == 200, r.text
    h.creds.update(r.json()["credentials"])
    r = h.ctl(
        "PUT",
        "/patterns",
        {
            "patterns": [
                {
                    "pattern_id": PATTERN_ID,
                    "legal_basis": "番号法 別表第二 項番1",
                    "purpose": "年金給付の支給に関する事務",
                    "requesters": [REQUESTER, SECOND_REQUESTER],
                    "providers": [PROVIDER],
                    "information_kinds": ["resident-tax"],
                    "valid_from": "2026-01-01T00:00:00Z",
                    "answer_within_seconds": 3600,
                }
            ]
        },
    )
    assert r.status_code == 200, r.text
    record = {k: v for k, v in RESIDENTS[0].items() if k != "resident_code"}
    r = h.hub("POST", "/bindings", SECOND_REQUESTER, {"records": [{"record_ref": "r", **record}]})
    assert r.status_code == 200, r.text
    code: str = r.json()["results"][0]["link_code"]
    return code


def _query_as(h: Hub, requester: str, link_code: str, request_id: str) -> httpx.Response:
    return h.hub(
        "POST",
        "/queries",
        requester,
        {
            "request_id": request_id,
            "requester": requester,
            "provider": PROVIDER,
            "pattern_id": PATTERN_ID,
            "information_kind": "resident-tax",
            "link_code": link_code,
        },
    )


def test_index_lookup_tells_requesters_and_whole_request_ids_apart(hub: Hub) -> None:
    """RK-FLOW-003: request ids are unique per requester.  The index lookup a new id
    goes through (RK-LOG-010) must not take another requester's id, nor an id
    sharing its last 16 characters, for this one — also after the records of the
    used ids were deleted (the lookup then finds those entries)."""
    link_code = hub.build_world()
    other_code = _second_requester(hub)
    shared = "alpha-0123456789abcdef"
    assert _query_as(hub, REQUESTER, link_code, shared).status_code == 202
    assert _query_as(hub, REQUESTER, link_code, "req-1").status_code == 202
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 2
    assert hub.start()
    same_tail = _query_as(hub, REQUESTER, link_code, "omega-0123456789abcdef")
    assert same_tail.status_code == 202, same_tail.text
    other = _query_as(hub, SECOND_REQUESTER, other_code, "req-1")
    assert other.status_code == 202, other.text
    again = _query_as(hub, REQUESTER, link_code, shared)
    assert again.status_code == 409 or _tampered(again), again.text


# =====================================================================================
# RK-LOG-010 / RK-LOG-004: a changed stored log field is never served
# =====================================================================================


def _views(h: Hub, linkage: str) -> tuple[httpx.Response, httpx.Response]:
    return (
        h.auditor("/access-logs", {"limit": 1000}),
        h.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER),
    )


def _same_or_refused(h: Hub, linkage: str, original: tuple[str, str], what: str) -> list[str]:
    """The views still show the original, or are refused as tampered."""
    bad: list[str] = []
    log_view, receipt = _views(h, linkage)
    if not _tampered(log_view) and _strip_reads(log_view) != original[0]:
        bad.append(f"{what}: access log served as {log_view.status_code} {log_view.text[:160]}")
    if not _tampered(receipt) and receipt.text != original[1] and not _denied(receipt):
        bad.append(f"{what}: receipt served as {receipt.status_code} {receipt.text[:160]}")
    return bad


def _denied(response: httpx.Response) -> bool:
    """404 `unknown-linkage`: not served altered, but the tampering not reported
    either (test_unparsable_entry_is_reported_not_denied)."""
    return response.status_code == 404 and "unknown-linkage" in response.text


def _strip_reads(response: httpx.Response) -> str:
    """The access log view without what changes between reads (nothing, today)."""
    if response.status_code != 200:
        return f"{response.status_code} {response.text}"
    body = response.json()
    return json.dumps(body.get("entries", body.get("items")), sort_keys=True)


def test_every_single_byte_change_of_an_entry_is_refused_or_unseen(hub: Hub) -> None:
    """RK-LOG-010 / RK-LOG-004, the issue's line "every single-byte change of every
    stored log field detected, none served".  While the hub runs, each byte of an
    ended linkage's approval entry in turn is changed on disk (lowest bit flipped);
    the auditor's view and the requester's receipt must then either be refused with
    500 `log-tampered` or show exactly the original (a change that does not reach
    them), never the altered entry.  (A change that stops the entry parsing makes the
    receipt a 404 today, which serves nothing altered: see
    test_unparsable_entry_is_reported_not_denied.)"""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    log_view, receipt = _views(hub, linkage)
    assert log_view.status_code == 200
    assert receipt.status_code == 200
    original = (_strip_reads(log_view), receipt.text)
    data = _entry_bytes(hub, "access", 1)
    bad: list[str] = []
    for at in range(0, len(data), 3):
        _put_entry_bytes(hub, "access", 1, _flip(data, at))
        bad += _same_or_refused(hub, linkage, original, f"byte {at} ({data[at : at + 1]!r})")
    _put_entry_bytes(hub, "access", 1, data)
    assert not bad, "\n".join(bad[:10])
    assert _strip_reads(hub.auditor("/access-logs", {"limit": 1000})) == original[0]


@pytest.mark.parametrize("at", ["first-byte", "linkage-id-key"])
def test_unparsable_entry_is_reported_not_denied(hub: Hub, at: str) -> None:
    """RK-LOG-010 / RK-LOG-004.  Changed under the running hub: one byte of the
    approval entry of a linkage in flight — its opening ``{`` (the text no longer
    parses) or a letter of its ``"linkage_id"`` member's name.  The requester's
    ``GET /hub/linkages/{id}/receipt`` then answers 404 `unknown-linkage` ("no linkage
    in which you took part"): the receipt is looked up through the SQL index of
    entries by linkage id, which leaves out an entry whose text does not parse or has
    no such member (inferred from the store's schema: `leaves_linkage_id` is an index
    on ``json_extract(entry, '$.linkage_id')`` where ``json_valid(entry)``), so the
    linkage is denied to the party that holds its id instead of the tampering being
    reported.  (The auditor's access-log view stays refused as tampered or
    unchanged: test_every_single_byte_change_of_an_entry_is_refused_or_unseen.)  The spec
    requires a view built on a changed entry refused with 500 `log-tampered` naming
    the log, place and field, and a `log-tampered` entry in the administrative log."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    assert hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER).status_code == 200
    data = _entry_bytes(hub, "access", 1)
    where = 0 if at == "first-byte" else data.index(b'"linkage_id"') + 1
    _put_entry_bytes(hub, "access", 1, _flip(data, where))
    receipt = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER)
    assert _tampered(receipt), f"{receipt.status_code} {receipt.text[:300]}"
    assert "log-tampered" in hub.auditor("/admin-logs", {"limit": 1000}).text


def test_every_single_byte_change_of_a_leaf_hash_or_node_is_refused(hub: Hub) -> None:
    """RK-LOG-010: each byte of a stored leaf hash and of a stored level-1 or level-2
    node changed in turn under the running hub: the receipt and the consistency proof
    (which prove through them) are refused with 500 `log-tampered` or unchanged, never
    served with a different proof."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    for i in range(2, 6):
        hub.approve(link_code, f"req-{i}")
    receipt = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER)
    assert receipt.status_code == 200

    def consistency() -> httpx.Response:
        return hub.client.get(
            hub.base["hub"] + "/checkpoints/consistency",
            params={"first": 3, "second": 5},
            headers=hub.h(AUDITOR),
        )

    proof = consistency()
    assert proof.status_code == 200, proof.text
    bad: list[str] = []
    targets = [
        ("leaves", "leaf_hash", "log = 'access' AND serial = 2"),
        ("nodes", "hash", "log = 'access' AND level = 1 AND idx = 1"),
        ("nodes", "hash", "log = 'access' AND level = 2 AND idx = 0"),
    ]
    for table, column, where in targets:
        ((stored,),) = _rows(hub, f"SELECT {column} FROM {table} WHERE {where}")
        for at in range(0, 32, 2):
            _sql(hub, f"UPDATE {table} SET {column} = ? WHERE {where}", _flip(stored, at))
            again = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER)
            if not _tampered(again) and again.text != receipt.text:
                bad.append(f"{table}.{column} byte {at}: {again.status_code} {again.text[:120]}")
            other = consistency()
            if not _tampered(other) and other.text != proof.text:
                bad.append(
                    f"{table}.{column} byte {at}: proof {other.status_code} {other.text[:99]}"
                )
        _sql(hub, f"UPDATE {table} SET {column} = ? WHERE {where}", stored)
    assert not bad, "\n".join(bad[:10])


@pytest.mark.parametrize(
    "damage",
    [
        "invalid-utf8",
        "blob",
        "integer",
        "hash-as-text",
        "short-hash",
        "purged-but-kept",
        "leaf-version-1",
        "node-deleted",
        "leaf-deleted",
        "leaf-renumbered",
    ],
)
def test_odd_stored_values_in_a_leaf_are_a_clear_refusal(hub: Hub, damage: str) -> None:
    """RK-LOG-010 and the house rule "never a 500 or traceback": a leaf row whose
    stored value is not of the kind the hub wrote — an entry with a byte that is not
    UTF-8, an entry stored as a BLOB or an integer, a leaf hash stored as hex text or
    31 bytes, a purge time set on an entry still held, the entry's leaf version
    changed from 2 to 1, a stored tree node or leaf row deleted, a leaf moved to
    another serial — is served unchanged or
    refused with the problem `log-tampered`, at start (naming RK-LOG-010) or on the
    read, never with a bare 500."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    log_view, receipt = _views(hub, linkage)
    original = (_strip_reads(log_view), receipt.text)
    hub.kill()
    where = "WHERE log = 'access' AND serial = 1"
    if damage == "invalid-utf8":
        record = _entry_text(hub, "access", 1)
        at = record.index("番".encode())
        _put_entry_text(hub, "access", 1, record[:at] + b"\xff" + record[at + 1 :])
    elif damage == "blob":
        _sql(hub, f"UPDATE leaves SET entry = CAST(entry AS BLOB) {where}")
    elif damage == "integer":
        _sql(hub, f"UPDATE leaves SET entry = 7 {where}")
    elif damage == "hash-as-text":
        _sql(hub, f"UPDATE leaves SET leaf_hash = hex(leaf_hash) {where}")
    elif damage == "short-hash":
        _sql(hub, f"UPDATE leaves SET leaf_hash = substr(leaf_hash, 1, 31) {where}")
    elif damage == "purged-but-kept":
        _sql(hub, f"UPDATE leaves SET purged_at = '2026-04-01T09:30:00+00:00' {where}")
    elif damage == "leaf-version-1":
        record = _entry_text(hub, "access", 1)
        assert record.count(b'"leaf_version":2') == 1
        _put_entry_text(hub, "access", 1, record.replace(b'"leaf_version":2', b'"leaf_version":1'))
    elif damage == "node-deleted":
        _sql(hub, "DELETE FROM nodes WHERE log = 'access' AND level = 1 AND idx = 0")
    elif damage == "leaf-deleted":
        _sql(hub, f"DELETE FROM leaves {where}")
    else:
        _sql(hub, f"UPDATE leaves SET serial = 9 {where}")
    if not hub.start(expect_ready=False):
        assert _refused_cleanly(hub), hub.output()[-2000:]
        return
    bad = _same_or_refused(hub, linkage, original, damage)
    assert not bad, "\n".join(bad)


# =====================================================================================
# RK-LOG-010 / RK-LOG-011: checkpoints, witness, digest
# =====================================================================================


def _leaf_hash(entry: dict[str, Any]) -> bytes:
    leaf = {k: v for k, v in entry.items() if k != "person"}
    text = json.dumps(leaf, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(b"\x00" + text.encode()).digest()


def test_rewritten_log_without_checkpoints_or_witness_is_not_signed(hub: Hub) -> None:
    """RK-LOG-011 / RK-LOG-010 / RK-LOG-004: an access entry's requester name
    rewritten (opened and sealed again with the key file), its leaf hash and the
    level-1 node recomputed (RFC 9162; every salt is stored in its entry), and both
    stored signed checkpoints (`state` rows) and both witness files deleted.  The
    hub must not sign a second root for the size it already signed (a receipt that
    verifies for the altered entry): it refuses to start, or its receipt still
    carries the checkpoint signed before."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    before = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER).json()
    hub.kill()
    entries = {s: json.loads(_entry_text(hub, "access", s)) for s in (1, 2)}
    stored = dict(_rows(hub, "SELECT serial, leaf_hash FROM leaves WHERE log = 'access'"))
    assert all(_leaf_hash(entries[s]) == stored[s] for s in (1, 2))  # the harness's model
    entries[1]["requester_name"] = "偽"
    forged = _leaf_hash(entries[1])
    text = json.dumps(entries[1], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    _put_entry_text(hub, "access", 1, text.encode())
    _sql(hub, "UPDATE leaves SET leaf_hash = ? WHERE log = 'access' AND serial = 1", forged)
    _sql(
        hub,
        "UPDATE nodes SET hash = ? WHERE log = 'access' AND level = 1 AND idx = 0",
        hashlib.sha256(b"\x01" + forged + stored[2]).digest(),
    )
    _sql(hub, "DELETE FROM state WHERE key LIKE 'checkpoint:%'")
    witness = hub.state_dir.parent / f"{hub.state_dir.name}.witness"
    for f in witness.iterdir():
        f.unlink()
    if not hub.start(expect_ready=False):
        assert "RK-LOG-01" in hub.output()
        assert "Traceback" not in hub.output()
        return
    after = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER)
    assert _tampered(after) or after.json()["checkpoint"] == before["checkpoint"], (
        "a second root signed for a size already signed: " + after.text[:300]
    )


def test_older_sealed_digest_put_back_refuses_start(hub: Hub) -> None:
    """RK-LOG-010: the digest row replaced by the hub's own, validly sealed digest
    of an earlier moment (with a linkage record of that moment) refuses the start."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    old = _rows(hub, "SELECT space, key, value FROM records WHERE space IN ('digest', 'linkage')")
    assert hub.deliver_and_answer(linkage).status_code == 202
    hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    hub.kill()
    db = hub.db()
    try:
        db.execute("DELETE FROM records WHERE space IN ('relay', 'transit')")
        db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", old)
    finally:
        db.close()
    assert not hub.start(expect_ready=False)
    assert _refused_cleanly(hub)


class _Adopting(Hub):
    def serve_args(self) -> list[str]:
        return ["--adopt-state"]


def test_deleted_digest_refuses_start_unless_adopted(hub: Hub) -> None:
    """RK-LOG-010: a store whose logs hold entries and whose digest was deleted starts
    only with `--adopt-state`; adopted, its used request ids stay used."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'digest'") == 1
    assert not hub.start(expect_ready=False)
    assert _refused_cleanly(hub)

    adopting = _Adopting(hub.state_dir)
    try:
        assert adopting.start()
        adopting.creds = hub.creds
        assert adopting.query(link_code, "req-1").status_code == 409
    finally:
        adopting.close()


# =====================================================================================
# RK-RET-003 / RK-RET-002: purge
# =====================================================================================


def _place_hold(h: Hub, linkage: str) -> str:
    placed = h.client.post(
        h.base["auditor"] + "/legal-holds",
        headers=h.h(AUDITOR),
        json={"reason": "investigation", "scope": {"linkage_ids": [linkage]}},
    )
    assert placed.status_code == 201, placed.text
    hold_id: str = placed.json()["hold_id"]
    return hold_id


def test_held_entry_blanked_with_a_real_purge_time_is_refused(hub: Hub) -> None:
    """RK-RET-003 / RK-RET-002 / RK-LOG-010: after a real purge of the other entries,
    the held entry (serial 1) is blanked on disk and given the purge time of that
    real purge; it was never purged (the administrative purge entry does not cover
    a held entry), so the start or the read must refuse it, never show it as purged."""
    link_code = hub.build_world()
    held = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    _place_hold(hub, held)
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    purged = _rows(
        hub, "SELECT serial, purged_at FROM leaves WHERE log = 'access' AND entry IS NULL"
    )
    assert purged, "nothing purged"
    assert 1 not in {s for s, _ in purged}
    hub.kill()
    assert (
        _sql(
            hub,
            "UPDATE leaves SET entry = NULL, purged_at = ? WHERE log = 'access' AND serial = 1",
            purged[0][1],
        )
        == 1
    )
    if not hub.start(expect_ready=False):
        assert _refused_cleanly(hub), hub.output()[-2000:]
        return
    view = hub.auditor("/access-logs", {"limit": 1000})
    assert _tampered(view) or 1 in {e["serial"] for e in view.json()["entries"]}, view.text[:300]


def test_request_id_of_a_purged_entry_is_not_accepted_again(hub: Hub) -> None:
    """RK-FLOW-003 / RK-RET-003: req-1 approved and expired, then the retention period
    passes and its entries are purged (the index of request ids no longer holds
    them): a repeated request id is refused with 409 with no limit in time."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    _expire_all(hub)
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    assert not [e for e in hub.access_log() if e.get("request_id") == "req-1"]
    again = hub.query(link_code, "req-1")
    assert again.status_code == 409, again.text[:300]


# =====================================================================================
# RK-FLOW-008 / RK-FLOW-002: key files, partial writes, crashes, a full disk
# =====================================================================================


def _answered(h: Hub) -> tuple[str, str]:
    link_code = h.build_world()
    linkage = h.approve(link_code, "req-1")
    assert h.deliver_and_answer(linkage).status_code == 202
    return link_code, linkage


def _traceback(reason: str) -> Any:
    return pytest.mark.xfail(strict=True, reason=f"issue 16: {reason}")


@pytest.mark.parametrize(
    "damage",
    [
        "transit-keys-deleted",
        "transit-keys-torn",
        "transit-keys-byte",
        "keys-json-torn",
        "signer-key-torn",
        "signer-key-deleted",
        "database-header-byte",
        "wal-torn",
        "entry-keys-deleted",
        "entry-keys-torn",
        "entry-key-byte",
    ],
)
def test_damaged_state_file_is_refused_cleanly_and_loses_no_answer(hub: Hub, damage: str) -> None:
    """RK-FLOW-008 / RK-FLOW-002 / RK-LOG-010 / RK-LOG-011: a state file damaged as a
    partial write or an operator would (deleted, cut short, one byte changed) while
    an answer is in transit.  The hub refuses to start with a message (no Python
    traceback), or starts and still relays that very answer (or refuses the read
    with `log-tampered`) — it never serves the linkage without its answer.

    Fails today (xfail per case):
    - keys-json-torn: `keys.json` cut to half its length; the start dies with a
      Python traceback (``json.decoder.JSONDecodeError`` from the key store) instead
      of a refusal naming the file (house rule; RK-LOG-010 "refuse to start").
    - signer-key-torn: `log-signer.key` cut to 20 bytes; the start dies with a
      traceback (``ValueError: An Ed25519 private key is 32 bytes long``).
    - wal-torn: the last 1000 bytes of `logs.sqlite3-wal` cut off (the last
      transaction lost, as a copy made while the hub wrote or a disk dropping its
      last writes): that transaction was the provider's answer, acknowledged 202,
      which writes no log entry.  Digest and records roll back together, the logs and
      the witness are unchanged, so the hub starts and serves the linkage as
      `delivered` with no answer: an accepted answer lost with nothing reported
      (RK-FLOW-008 / RK-FLOW-002; RK-LOG-010's checks only catch copies older than the
      latest log entry)."""
    _, linkage = _answered(hub)
    hub.kill()
    state = hub.state_dir
    if damage == "transit-keys-deleted":
        (state / "transit.keys").unlink()
    elif damage == "transit-keys-torn":
        data = (state / "transit.keys").read_bytes()
        (state / "transit.keys").write_bytes(data[: len(data) // 2])
    elif damage == "transit-keys-byte":
        data = (state / "transit.keys").read_bytes()
        (state / "transit.keys").write_bytes(_flip(data, 5))
    elif damage == "keys-json-torn":
        data = (state / "keys.json").read_bytes()
        (state / "keys.json").write_bytes(data[: len(data) // 2])
    elif damage == "signer-key-torn":
        data = (state / "log-signer.key").read_bytes()
        (state / "log-signer.key").write_bytes(data[:20])
    elif damage == "signer-key-deleted":
        (state / "log-signer.key").unlink()
    elif damage == "entry-keys-deleted":
        (state / "access-log.keys").unlink()
    elif damage == "entry-keys-torn":
        os.truncate(state / "access-log.keys", 32 + 16)  # the header and half a key
    elif damage == "entry-key-byte":  # the key of the approval of the linkage in flight
        with (state / "access-log.keys").open("r+b") as f:
            f.seek(32 + 5)
            byte = f.read(1)
            f.seek(32 + 5)
            f.write(bytes([byte[0] ^ 1]))
    elif damage == "database-header-byte":
        with (state / "logs.sqlite3").open("r+b") as f:
            f.seek(3)
            f.write(b"X")
    else:
        wal = state / "logs.sqlite3-wal"
        with wal.open("r+b") as f:
            f.truncate(wal.stat().st_size - 1000)
    if not hub.start(expect_ready=False):
        out = hub.output()
        assert "Traceback" not in out, out[-3000:]
        assert out.strip(), "refused without a word"
        return
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert _tampered(read) or (
        read.status_code == 200 and read.json().get("answer", {}).get("payload") == "aGVsbG8="
    ), f"{read.status_code} {read.text[:300]}"


def _burst(h: Hub, link_code: str, prefix: str, n: int, acks: dict[str, int]) -> dict[str, int]:
    """n linkages driven as far as they get: query, answer, read, acknowledge."""
    statuses: dict[str, int] = {}

    def one(i: int) -> None:
        rid = f"{prefix}-{i}"
        with contextlib.suppress(httpx.HTTPError), httpx.Client(timeout=5) as c:
            r = c.post(
                h.base["hub"] + "/queries",
                headers=h.h(REQUESTER),
                json={
                    "request_id": rid,
                    "requester": REQUESTER,
                    "provider": PROVIDER,
                    "pattern_id": PATTERN_ID,
                    "information_kind": "resident-tax",
                    "link_code": link_code,
                },
            )
            statuses[rid] = r.status_code
            if r.status_code != 202:
                return
            lk = r.json()["linkage_id"]
            c.get(h.base["hub"] + "/deliveries", headers=h.h(PROVIDER))
            url = h.base["hub"] + f"/linkages/{lk}/answer"
            answered = c.post(url, headers=h.h(PROVIDER), json={"payload": "YQ=="})
            acks[lk] = answered.status_code
            if answered.status_code != 202:
                return
            c.get(h.base["hub"] + f"/linkages/{lk}", headers=h.h(REQUESTER))
            if c.delete(url, headers=h.h(REQUESTER)).status_code == 204:
                acks[lk] = 204

    with cf.ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(n)))
    return statuses


def _burst_into(
    h: Hub, link_code: str, prefix: str, statuses: dict[str, int], acks: dict[str, int]
) -> None:
    statuses.update(_burst(h, link_code, prefix, 12, acks))


def test_kills_at_random_instants_lose_and_replay_nothing(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-003 / RK-FLOW-002 / RK-LOG-004: two rounds of linkages
    driven concurrently (query, answer, read, acknowledge) and SIGKILL at a random
    instant.  After each restart: every request id answered 202 is refused again
    (409) and logged once; every answer accepted (202) and not acknowledged is still
    relayed, every acknowledged one never again; serials have no gap, the checkpoint
    covers the whole log and is consistent with the one signed before."""
    link_code = hub.build_world()
    rng = random.Random(16)
    previous = hub.checkpoint()
    for round_ in range(2):
        acks: dict[str, int] = {}
        statuses: dict[str, int] = {}
        worker = threading.Thread(
            target=_burst_into, args=(hub, link_code, f"k{round_}", statuses, acks)
        )
        worker.start()
        time.sleep(rng.uniform(0.05, 0.6))
        hub.kill()
        worker.join()
        assert hub.start()
        log = hub.access_log()
        serials = [e["serial"] for e in log]
        assert serials == list(range(1, len(serials) + 1)), serials
        by_request: dict[str, list[str]] = {}
        for e in log:
            if e["outcome"] == "approved":
                by_request.setdefault(e["request_id"], []).append(e["linkage_id"])
        assert all(len(v) == 1 for v in by_request.values()), by_request
        for rid, status in statuses.items():
            if status == 202:
                assert rid in by_request, f"{rid} acknowledged with 202 and not logged"
        for rid in [f"k{round_}-{i}" for i in range(12)]:
            again = hub.query(link_code, rid)
            assert again.status_code == (409 if rid in by_request else 202), (rid, again.text)
        for lk, status in acks.items():
            read = hub.hub("GET", f"/linkages/{lk}", REQUESTER)
            if status == 202:
                assert read.json().get("answer", {}).get("payload") == "YQ==", (lk, read.text)
            elif status == 204:
                assert "answer" not in read.json(), (lk, read.text)
        now = hub.checkpoint()
        assert now["tree_size"] == len(hub.access_log())
        if previous["tree_size"] == 0:
            previous = now
            continue
        proof = hub.client.get(
            hub.base["hub"] + "/checkpoints/consistency",
            params={"first": previous["tree_size"], "second": now["tree_size"]},
            headers=hub.h(AUDITOR),
        )
        assert proof.status_code == 200, proof.text
        previous = now


def _limit_file_size(limit: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_full_disk_when_the_start_must_expire_is_clean_and_loses_nothing(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-004 / RK-LOG-001: deadlines passed while the hub was down,
    and it starts with the disk full (no file may grow), so the expiries it must log
    at start cannot be written.  It refuses to start with a message (no traceback) or
    starts and answers 503 `log-store-unavailable`; once the disk has room, each
    linkage is expired exactly once and serials have no gap."""
    link_code = hub.build_world(answer_within=2)
    pending = [hub.approve(link_code, f"req-{i}") for i in range(3)]
    hub.kill()
    time.sleep(3)
    biggest = max(p.stat().st_size for p in hub.state_dir.iterdir() if p.is_file())
    hub.preexec = _limit_file_size(biggest)
    if not hub.start(expect_ready=False, timeout=5):
        assert "Traceback" not in hub.output(), hub.output()[-3000:]
        if hub.proc is not None and hub.proc.poll() is None:  # up, and says why it waits
            hub.base = json.loads(hub.target.read_text())["parties"]
            health = hub.ctl("GET", "/health")
            assert health.status_code == 503, health.text
            assert health.json()["type"].endswith(":log-store-unavailable")
            view = hub.auditor("/access-logs", {"limit": 100})
            assert view.status_code == 503, view.text
    hub.preexec = None
    assert hub.restart()
    log = hub.access_log()
    assert [e["serial"] for e in log] == list(range(1, len(log) + 1))
    expired = [e["linkage_id"] for e in log if e["outcome"] == "expired"]
    assert sorted(expired) == sorted(pending)
    assert hub.checkpoint()["tree_size"] == len(log)


def test_receipt_handed_out_verifies_only_for_the_served_entry(hub: Hub) -> None:
    """RK-LOG-004: a receipt's leaf is the served entry's; with the stored entry changed
    on disk the hub serves no receipt whose leaf hash covers other content."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.approve(link_code, "req-2")
    hub.kill()
    data = _entry_text(hub, "access", 1)
    assert data.count(b'"outcome":"approved"') == 1
    _put_entry_text(hub, "access", 1, data.replace(b'"outcome":"approved"', b'"outcome":"refused"'))
    if not hub.start(expect_ready=False):
        assert _refused_cleanly(hub)
        return
    receipt = hub.hub("GET", f"/linkages/{linkage}/receipt", REQUESTER)
    if _tampered(receipt):
        return
    assert receipt.status_code == 200, receipt.text
    body = receipt.json()
    leaf = base64.b64decode(body["leaf"])
    assert base64.b64decode(body["leaf_hash"]) == hashlib.sha256(b"\x00" + leaf).digest()
    assert b'"outcome":"refused"' not in leaf


def test_replaced_credential_put_back_does_not_work_again(hub: Hub) -> None:
    """RK-LOG-010 / RK-ARCH-003 (registrations are state the hub verifies).  Changed: the
    requester re-registered (a new credential; the OpenAPI says "the old one stops
    working", and the admin log records `agency-registered`), then, with the hub
    stopped, the old credential's sealed `credential` record put back beside the new
    one (INSERT of the row copied before).  The hub starts and accepts a query under
    the old credential (202): the `credential` space is not among the spaces the
    sealed digest counts and sums, so a record put back from a copy taken before the
    latest administrative entry goes unnoticed.  The spec requires refusing the start
    (RK-LOG-010: state records as a whole the ones last written — none added or put
    back), or the old credential refused (401).  The `control` space (test clock
    offset) is outside the digest too."""
    link_code = hub.build_world()
    old_credential = hub.creds[REQUESTER]
    old = _rows(hub, "SELECT space, key, value FROM records WHERE space = 'credential'")
    r = hub.ctl(
        "POST",
        "/agencies",
        {"agencies": [{"agency_id": REQUESTER, "name": "年金", "role": "agency"}]},
    )
    assert r.status_code == 200, r.text
    hub.creds.update(r.json()["credentials"])
    assert hub.creds[REQUESTER] != old_credential
    hub.kill()
    db = hub.db()
    try:
        db.executemany("INSERT OR IGNORE INTO records VALUES (?, ?, ?)", old)
    finally:
        db.close()
    if not hub.start(expect_ready=False):
        assert _refused_cleanly(hub), hub.output()[-2000:]
        return
    hub.creds[REQUESTER] = old_credential
    replay = hub.query(link_code, "req-old-credential")
    assert replay.status_code == 401, f"{replay.status_code} {replay.text[:300]}"


def test_every_single_byte_change_of_an_administrative_entry_is_refused_or_unseen(
    hub: Hub,
) -> None:
    """RK-LOG-006 / RK-LOG-010: the administrative log has "the same integrity
    protection"; each byte of its pattern-document-loaded entry changed in turn under
    the running hub (lowest bit flipped): the auditor's view of the administrative log
    is refused with 500 `log-tampered` or shows the original entry, never the altered
    one."""
    hub.build_world()

    def view() -> tuple[httpx.Response, str | None]:
        r = hub.auditor("/admin-logs", {"limit": 1000})
        if r.status_code != 200:
            return r, None
        body = r.json()
        entries = body.get("entries", body.get("items", []))
        shown = [e for e in entries if e.get("serial") == 4]
        return r, json.dumps(shown, sort_keys=True)

    _, original = view()
    assert original is not None
    assert "pattern-document-loaded" in original
    data = _entry_bytes(hub, "admin", 4)
    bad: list[str] = []
    for at in range(0, len(data), 2):
        _put_entry_bytes(hub, "admin", 4, _flip(data, at))
        r, shown = view()
        if not _tampered(r) and shown != original:
            bad.append(
                f"byte {at} ({data[at : at + 1]!r}): {r.status_code} {shown or r.text}"[:200]
            )
    _put_entry_bytes(hub, "admin", 4, data)
    assert not bad, "\n".join(bad[:10])


def test_lifted_hold_put_back_from_a_copy_refuses_start(hub: Hub) -> None:
    """RK-LOG-010 / RK-RET-002: a hold's sealed record copied while it was in force and
    put back after the auditor lifted it (the lift is in the administrative log):
    the start is refused — the hub does not keep an entry past its retention for a
    hold that no longer exists, nor forget the lift."""
    link_code = hub.build_world()
    held = hub.approve(link_code, "req-1")
    hold_id = _place_hold(hub, held)
    copied = _rows(hub, "SELECT space, key, value FROM records WHERE space = 'hold'")
    assert len(copied) == 1
    lifted = hub.client.delete(
        hub.base["auditor"] + f"/legal-holds/{hold_id}", headers=hub.h(AUDITOR)
    )
    assert lifted.status_code in (200, 204), lifted.text
    hub.kill()
    db = hub.db()
    try:
        db.executemany("INSERT OR REPLACE INTO records VALUES (?, ?, ?)", copied)
    finally:
        db.close()
    assert not hub.start(expect_ready=False)
    assert _refused_cleanly(hub), hub.output()[-2000:]


def test_copy_taken_before_an_accepted_answer_put_back_is_refused(hub: Hub, tmp_path: Path) -> None:
    """RK-FLOW-008 / RK-FLOW-002 / RK-LOG-010.  Changed: the whole state folder copied
    (hub stopped) after the approval and before the provider's answer, the answer
    then accepted (202) and the folder put back.  Accepting an answer writes no log
    entry, so the sealed digest's log sizes, the logs and the witness all still match:
    the hub starts, the linkage is `delivered` again, the provider's acknowledged
    answer is gone, and a second, different answer is accepted (202) and relayed to
    the requester.  RK-FLOW-008 requires everything acknowledged to survive, and
    RK-FLOW-003 one answer per linkage; RK-LOG-010's start checks catch only copies
    taken before the latest log entry (the decision's known gap), so the hub has to
    refuse this start some other way (e.g. the accepted answer witnessed or logged)."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    hub.hub("GET", "/deliveries", PROVIDER)
    hub.kill()
    shutil.copytree(hub.state_dir, tmp_path / "copy")
    assert hub.start()
    answered = hub.hub("POST", f"/linkages/{linkage}/answer", PROVIDER, {"payload": "aGVsbG8="})
    assert answered.status_code == 202
    hub.kill()
    shutil.rmtree(hub.state_dir)
    shutil.copytree(tmp_path / "copy", hub.state_dir)
    if not hub.start(expect_ready=False):
        assert "Traceback" not in hub.output()
        return
    second = hub.hub("POST", f"/linkages/{linkage}/answer", PROVIDER, {"payload": "Zm9yZ2Vk"})
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert second.status_code == 409, f"a second answer accepted: {second.text[:200]}"
    assert read.json().get("answer", {}).get("payload") == "aGVsbG8=", read.text[:300]


@pytest.mark.parametrize(
    "damage",
    [
        "value-blob",
        "value-invalid-utf8",
        "value-empty",
        "key-blob",
        "space-renamed",
    ],
)
def test_odd_stored_values_in_a_state_record_refuse_start_cleanly(hub: Hub, damage: str) -> None:
    """RK-LOG-010 / RK-FLOW-008: the record of a linkage in flight stored as the hub
    never writes it — its value as a BLOB (same bytes), with a byte that is not UTF-8,
    empty; its key as a BLOB; its space renamed (``linkage`` → ``linkage ``) — is
    refused at start naming RK-LOG-010 without a traceback, or the hub starts and
    still serves that linkage unchanged (or refuses it with `log-tampered`).

    Fails today (xfail per case): the value or the key rewritten with the very same
    bytes as an SQLite BLOB (``CAST(value AS BLOB)``, ``CAST(key AS BLOB)``) makes the
    start, while it counts and sums the records against the sealed digest, die with
    a Python traceback (``TypeError: a bytes-like object is required, not 'str'``,
    ``AttributeError: 'bytes' object has no attribute 'encode'``) instead of a refusal
    naming RK-LOG-010 (house rule: never a traceback)."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    before = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert before.status_code == 200
    hub.kill()
    where = "WHERE space = 'linkage' AND key = ?"
    if damage == "value-blob":
        changed = _sql(hub, f"UPDATE records SET value = CAST(value AS BLOB) {where}", linkage)
    elif damage == "value-invalid-utf8":
        ((value,),) = _rows(hub, f"SELECT value FROM records {where}", linkage)
        raw = str(value).encode()
        at = raw.index(b'"state"')
        changed = _sql(
            hub,
            f"UPDATE records SET value = CAST(? AS TEXT) {where}",
            raw[:at] + b"\xff" + raw[at + 1 :],
            linkage,
        )
    elif damage == "value-empty":
        changed = _sql(hub, f"UPDATE records SET value = '' {where}", linkage)
    elif damage == "key-blob":
        changed = _sql(hub, f"UPDATE records SET key = CAST(key AS BLOB) {where}", linkage)
    else:
        changed = _sql(hub, f"UPDATE records SET space = 'linkage ' {where}", linkage)
    assert changed == 1
    if not hub.start(expect_ready=False):
        assert _refused_cleanly(hub), hub.output()[-3000:]
        return
    after = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert _tampered(after) or after.text == before.text, f"{after.status_code} {after.text[:300]}"


@pytest.mark.parametrize("damage", ["deleted", "logs-swapped", "torn", "other-value"])
def test_stored_checkpoint_row_damaged_is_refused_or_harmless(hub: Hub, damage: str) -> None:
    """RK-LOG-010 / RK-LOG-011: the `state` rows holding each log's latest signed
    checkpoint deleted, swapped between the two logs, cut short, or replaced by a
    non-checkpoint text: the hub refuses to start naming the requirement (no
    traceback), or starts and signs nothing behind or beside what it signed (its
    checkpoint is the one signed before, at the same size)."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    signed = hub.checkpoint()
    hub.kill()
    rows = dict(_rows(hub, "SELECT key, value FROM state WHERE key LIKE 'checkpoint:%'"))
    assert set(rows) == {"checkpoint:access", "checkpoint:admin"}
    if damage == "deleted":
        _sql(hub, "DELETE FROM state WHERE key = 'checkpoint:access'")
    elif damage == "logs-swapped":
        _sql(
            hub,
            "UPDATE state SET value = ? WHERE key = ?",
            rows["checkpoint:admin"],
            "checkpoint:access",
        )
        _sql(
            hub,
            "UPDATE state SET value = ? WHERE key = ?",
            rows["checkpoint:access"],
            "checkpoint:admin",
        )
    elif damage == "torn":
        cut = rows["checkpoint:access"][: len(rows["checkpoint:access"]) // 2]
        _sql(hub, "UPDATE state SET value = ? WHERE key = 'checkpoint:access'", cut)
    else:
        _sql(hub, "UPDATE state SET value = 'x' WHERE key = 'checkpoint:access'")
    if not hub.start(expect_ready=False):
        assert "Traceback" not in hub.output(), hub.output()[-3000:]
        assert "RK-LOG-01" in hub.output()
        return
    now = hub.checkpoint()
    assert now["tree_size"] == signed["tree_size"]
    assert now["root_hash"] == signed["root_hash"]


@pytest.mark.parametrize("member", ["link-code-secret", "id-code-secret"])
def test_key_ring_secret_changed_by_one_byte_is_noticed(hub: Hub, member: str) -> None:
    """RK-LOG-010 / RK-FLOW-008 / RK-LNK-002.  Changed while the hub is stopped: the
    first hex digit of the `link-code` (or `id-code`) ring's secret in `keys.json`,
    same version and dates.  The hub starts without a word; the link code it issued
    to the requester is then refused with 422 `link-code-not-valid-for-agency`
    ("issued to another agency, forged or altered") — and that refusal is logged as
    the requester's — or, with the id-code secret changed, 422 `forged-id-code`.
    Every binding the agencies hold is silently void and the log blames them.  The
    spec makes the hub check what it reads back of its own state at start (RK-LOG-010:
    "no key ring behind the last rotation" — a ring whose secret is not the one
    rotated in is as much behind it) and keep everything it acknowledged (RK-FLOW-008):
    refuse the start naming the key file, or keep honouring the link code."""
    link_code = hub.build_world()
    hub.kill()
    path = hub.state_dir / "keys.json"
    keys = json.loads(path.read_text())
    ring = keys["rings"][member.removesuffix("-secret")]
    secret = ring[0]["secret"]
    ring[0]["secret"] = ("1" if secret[0] != "1" else "2") + secret[1:]
    path.write_text(json.dumps(keys))
    if not hub.start(expect_ready=False):
        assert "Traceback" not in hub.output(), hub.output()[-3000:]
        return
    r = hub.query(link_code, "req-1")
    assert r.status_code == 202, f"{r.status_code} {r.text[:300]}"


def test_kills_during_the_start_that_expires_overdue_linkages(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-004: deadlines passed while the hub was down, and the
    start that expires them is itself killed (SIGKILL) at two random instants; the
    start after that expires each linkage exactly once, with no gap in serials and a
    checkpoint over the whole log."""
    link_code = hub.build_world(answer_within=1)
    pending = [hub.approve(link_code, f"req-{i}") for i in range(6)]
    hub.kill()
    time.sleep(1.5)
    rng = random.Random(10)
    for _ in range(2):
        hub.start(expect_ready=False, timeout=rng.uniform(0.8, 3.0))
        hub.kill()
    assert hub.start()
    log = hub.access_log()
    assert [e["serial"] for e in log] == list(range(1, len(log) + 1))
    expired = sorted(e["linkage_id"] for e in log if e["outcome"] == "expired")
    assert expired == sorted(pending)
    assert hub.checkpoint()["tree_size"] == len(log)


def test_full_disk_at_answer_and_acknowledgement_loses_and_doubles_nothing(hub: Hub) -> None:
    """RK-FLOW-008 / RK-FLOW-002 / RK-LOG-001: with the disk full, the provider's answer
    and the requester's acknowledgement are each either refused (503, nothing done)
    or done for good: an answer accepted with 202 is relayed after a restart with room,
    an acknowledgement answered 204 never lets the answer out again."""
    link_code = hub.build_world()
    first = hub.approve(link_code, "req-1")
    second = hub.approve(link_code, "req-2")
    assert hub.deliver_and_answer(second).status_code == 202
    hub.kill()
    biggest = max(p.stat().st_size for p in hub.state_dir.iterdir() if p.is_file())
    hub.preexec = _limit_file_size(biggest + 40_000)
    assert hub.start()
    for i in range(200):
        if hub.query(link_code, f"fill-{i}").status_code != 202:
            break
    hub.hub("GET", "/deliveries", PROVIDER)
    answer = hub.hub("POST", f"/linkages/{first}/answer", PROVIDER, {"payload": "YQ=="})
    assert answer.status_code in (202, 503), answer.text
    ack = hub.hub("DELETE", f"/linkages/{second}/answer", REQUESTER)
    assert ack.status_code in (204, 404, 503), ack.text
    hub.preexec = None
    assert hub.restart()
    read_first = hub.hub("GET", f"/linkages/{first}", REQUESTER).json()
    if answer.status_code == 202:
        assert read_first.get("answer", {}).get("payload") == "YQ==", read_first
    else:
        assert "answer" not in read_first, read_first
        retry = hub.hub("POST", f"/linkages/{first}/answer", PROVIDER, {"payload": "YQ=="})
        assert retry.status_code == 202, retry.text
    read_second = hub.hub("GET", f"/linkages/{second}", REQUESTER).json()
    if ack.status_code == 204:
        assert "answer" not in read_second, read_second
    else:
        assert read_second.get("answer", {}).get("payload") == "aGVsbG8=", read_second


def _files_holding(folder: Path, needle: bytes) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if p.is_file() and needle in p.read_bytes())


def _receipt_salt(h: Hub, linkage_id: str, serial: int) -> bytes:
    """The salt of the linkage's entry ``serial``, from its receipt's leaf (RK-LOG-004)."""
    r = h.hub("GET", f"/linkages/{linkage_id}/receipt?serial={serial}", REQUESTER)
    assert r.status_code == 200, r.text
    leaf = json.loads(base64.b64decode(r.json()["leaf"]))
    assert leaf["serial"] == serial
    salt: str = leaf["salt"]
    return salt.encode()


def test_purged_entry_leaves_no_salt_in_the_state_files(hub: Hub) -> None:
    """RK-RET-003.  No change on disk; an operator's backup tool holds a read
    transaction on `logs.sqlite3` while the 7-year purge of an ended linkage's two
    entries runs.  The purge answers 200 and blanks both rows.  Fails today (session
    10): both entries' salts (with the whole entry text around them) were still in
    `logs.sqlite3-wal`, and still there after a SIGKILL and restart: the write-ahead
    log is not truncated or overwritten once the reader has gone.  (Without the
    reader it happened in most runs too, 3 of 4.)  The spec: "Purging MUST delete the
    entry and its salt ... so that the purged content cannot be recovered from the
    hash" — with the salt on disk, a low-entropy entry is recovered by guessing it
    against its leaf hash, and its text is there in clear anyway.  Fixed by sealing
    each entry under a key of its own kept outside the database and overwriting the
    key at purge: the salt is never in a state file in the clear, and the sealed
    copies left in the WAL have no key any more."""
    link_code = hub.build_world()
    linkage_id = hub.approve(link_code, "req-1")
    _expire_all(hub)
    salts = [_receipt_salt(hub, linkage_id, s) for s in (1, 2)]
    sealed = [_entry_bytes(hub, "access", s)[:200] for s in (1, 2)]  # a page holds this much
    assert not any(_files_holding(hub.state_dir, salt) for salt in salts)  # sealed while held
    assert all(_files_holding(hub.state_dir, copy) for copy in sealed)  # the probe sees rows
    keys = hub.state_dir / "access-log.keys"
    assert all(_slot(keys, s) != bytes(32) for s in (1, 2))
    reader = hub.db()  # an operator's backup tool reading the store meanwhile
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM leaves").fetchone()
        purge = hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400})
        assert purge.status_code == 200, purge.text
    finally:
        reader.execute("COMMIT")
        reader.close()
    assert _rows(hub, "SELECT count(*) FROM leaves WHERE log = 'access' AND entry IS NULL") == [
        (2,)
    ]
    left = [_files_holding(hub.state_dir, salt) for salt in salts]
    shredded = [_slot(keys, s) == bytes(32) for s in (1, 2)]
    assert hub.restart()
    left += [_files_holding(hub.state_dir, salt) for salt in salts]
    shredded += [_slot(keys, s) == bytes(32) for s in (1, 2)]
    assert not any(left), f"purged salts still on disk (after the purge, after a restart): {left}"
    assert all(shredded), "a purged entry's key is still in the key file"


def _slot(keys: Path, serial: int) -> bytes:
    """The key of entry ``serial`` in a log's key file (32 bytes a serial)."""
    with keys.open("rb") as f:
        f.seek(32 * serial)
        return f.read(32)


@pytest.mark.parametrize("lost", ["in-flight-linkage", "answer-in-transit", "legal-hold"])
def test_adopting_a_store_with_a_record_deleted_is_refused(
    hub: Hub, tmp_path: Path, lost: str
) -> None:
    """RK-LOG-010: the operator is talked into `--adopt-state` after the digest was
    deleted — together with the record of a linkage in flight, of an answer in
    transit, or of a legal hold in force.  The adoption "checks every held entry":
    it must find the approved linkage not ended (the accepted answer, the hold not
    lifted) that has no record and refuse, never adopt the store without it and
    write a fresh digest that covers the loss."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    if lost == "answer-in-transit":
        assert hub.deliver_and_answer(linkage).status_code == 202
    if lost == "legal-hold":
        _place_hold(hub, linkage)
    hub.kill()
    space = {"in-flight-linkage": "linkage", "answer-in-transit": "transit", "legal-hold": "hold"}
    assert _sql(hub, "DELETE FROM records WHERE space = ?", space[lost]) == 1
    assert _sql(hub, "DELETE FROM records WHERE space = 'digest'") == 1
    adopting = _Adopting(hub.state_dir)
    try:
        adopted = adopting.start(expect_ready=False)
        assert "Traceback" not in adopting.output(), adopting.output()[-3000:]
        assert not adopted, f"store adopted without its {lost} record"
        assert "RK-LOG-010" in adopting.output()
    finally:
        adopting.close()


@pytest.mark.parametrize("table", ["records", "nodes", "state", "leaves"])
def test_dropped_table_refuses_start_cleanly(hub: Hub, table: str) -> None:
    """RK-LOG-010 / RK-FLOW-008: a whole table of `logs.sqlite3` dropped (state records,
    tree nodes, stored checkpoints, leaves) while the hub is stopped: the start is
    refused naming the requirement that catches it, without a traceback — never a
    hub that starts afresh on what is left."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    _sql(hub, f"DROP TABLE {table}")
    started = hub.start(expect_ready=False)
    out = hub.output()
    assert "Traceback" not in out, out[-3000:]
    assert not started
    assert "RK-LOG-010" in out or "RK-LOG-011" in out


@pytest.mark.parametrize("damage", ["slots-swapped", "bytes-appended"])
def test_transit_keys_rearranged_never_open_another_answer(hub: Hub, damage: str) -> None:
    """RK-FLOW-002 / RK-LOG-010: two answers in transit, each sealed under its own key
    in `transit.keys`; the two 32-byte keys swapped, or bytes appended to the file,
    while the hub is stopped.  Each linkage then relays its own answer or is refused
    (start refused without a traceback, or 500 `log-tampered`) — never the other
    linkage's answer, never a bare 500."""
    link_code = hub.build_world()
    first = hub.approve(link_code, "req-1")
    second = hub.approve(link_code, "req-2")
    hub.hub("GET", "/deliveries", PROVIDER)
    for linkage, payload in ((first, "Zmlyc3Q="), (second, "c2Vjb25k")):
        url = f"/linkages/{linkage}/answer"
        assert hub.hub("POST", url, PROVIDER, {"payload": payload}).status_code == 202
    hub.kill()
    path = hub.state_dir / "transit.keys"
    data = path.read_bytes()
    if damage == "slots-swapped":
        assert len(data) >= 64, len(data)
        path.write_bytes(data[32:64] + data[:32] + data[64:])
    else:
        path.write_bytes(data + b"\x00" * 16)
    if not hub.start(expect_ready=False):
        assert "Traceback" not in hub.output(), hub.output()[-3000:]
        return
    for linkage, payload in ((first, "Zmlyc3Q="), (second, "c2Vjb25k")):
        read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
        assert _tampered(read) or (
            read.status_code == 200 and read.json().get("answer", {}).get("payload") == payload
        ), f"{linkage}: {read.status_code} {read.text[:300]}"


@pytest.mark.parametrize("record", ["records-from", "clock-offset"])
def test_deleted_control_record_does_not_reopen_a_used_request_id(hub: Hub, record: str) -> None:
    """RK-FLOW-003 / RK-LOG-010: the `control` space is outside the sealed digest; one of
    its records deleted together with the `request` records while the hub is
    stopped: the used request id is still refused (409 or 500 `log-tampered`) or the
    start refused."""
    link_code = _replay_setup(hub)
    hub.kill()
    assert _sql(hub, "DELETE FROM records WHERE space = 'request'") == 1
    assert _sql(hub, "DELETE FROM records WHERE space = 'control' AND key = ?", record) == 1
    _assert_not_replayed(hub, link_code)
