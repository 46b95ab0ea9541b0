"""Adversary tests of the checkpoint witness and of the answer's acknowledgement (issue 16).

Black box, like test_durability_attacks.py: `renkei serve` (plain HTTP, test mode, hub
application only) in a temporary state folder, with its witness folder (`--witness`,
RK-LOG-011) where each test puts it.  The tests talk to the hub over the wire and
touch the state and witness folders only as an unlucky operator or an attacker with
disk access would.  A test marked xfail(strict=True) demonstrates a violation of the
requirement its reason names: it asserts what the spec requires and fails today.

Spec ambiguities
----------------
* RK-LOG-011 names three reasons to refuse a start (the witnessed checkpoint not signed
  by the log's key, a store shorter than it, another root at its size).  It does not
  say what a witness folder that holds no checkpoint at all means — deleted, emptied,
  a file torn or garbled, `--witness` pointed at a fresh folder on a restart — while
  the store holds a signed log.  Read literally the hub compares with nothing and
  starts; then whoever can delete the witness (or an unmounted witness volume) lets
  the store roll back unnoticed.  The tests below hold a garbled or torn file to "not
  signed by the log's key" (refuse), and a store holding signed checkpoints beside a
  witness holding none to the same (its witness existed and is gone).
* RK-LOG-011 asks for a copy "apart from its store (another volume, host or party)",
  but its decision puts the default `STATE.witness` beside the state folder, i.e. on
  the same volume in almost every installation, and the hub cannot know volumes.
  Whether a witness inside the state folder itself (restored with it from any backup)
  must be refused is not said; the test below assumes it must.
* RK-LOG-011 cannot detect a store and witness restored together from one older copy
  (it then signs a second root for a size it signed, contrary to RK-LOG-009); the
  spec does not say so, nor what the operator must do (keep the witness out of the
  backup set).  No test: nothing the hub could do.
* RK-LOG-011 protects what a checkpoint that left the hub covers.  Administrative
  steps acknowledged on the wire without a checkpoint (a legal hold's 201, RK-RET-002;
  likewise rotations, registrations, pattern loads) are under no witnessed checkpoint
  until the auditor reads the administrative log, so a whole store put back to a copy
  from before them starts and forgets them.  Whether RK-LOG-011 (or RK-LOG-006's "same
  integrity protection as the access log", whose responses carry receipts) must cover
  them is not said; the legal-hold test below assumes it must.
* RK-LOG-011 orders commit → witness → answer, so a witness write that fails leaves a
  committed entry whose response is 503 `log-store-unavailable`.  The OpenAPI says a 503
  query was "refused before any change", yet its request id is consumed (RK-FLOW-003:
  the retry is 409 `duplicate-request-id`).  The test accepts either, as long as the
  log and the request id agree.  problems.yaml says of `log-store-unavailable` that
  entries "are written once the store can write"; the hub answers 503 to every request
  (reads included) until it is restarted, also after the witness was repaired, and its
  `detail` names the witness folder's path on the host.  Neither is a MUST; not tested.
* RK-LOG-011 allows the witness on "another volume, host or party", but no requirement
  says what whoever keeps it must not be able to do to the hub: overwrite files of the
  hub through a symlink it plants, or freeze the hub by a write that never returns (a
  FIFO, a hung network volume).  The two tests below assume the hub must withstand both.
* RK-FLOW-002 lets an acknowledged answer come back after a crash (the 204 "acknowledges
  no step that must survive a crash", OpenAPI acknowledgeAnswer), and nothing is
  logged by an acknowledgement, so a whole store restored from a copy taken between
  the hand-out and the acknowledgement passes RK-LOG-010 and RK-LOG-011 and hands the
  answer out again until the collection period ends.  Allowed as worded; tested as such.
* RK-FLOW-002 says the hub MUST NOT copy an answer into "any ... other store" and MUST
  delete it in the transaction of the acknowledgement; it does not say whether bytes
  left in the store's free pages or write-ahead log after that delete count as kept.
  README (issue 17) treats purged text left in PostgreSQL files as something to
  remove; the test below holds the same of an acknowledged answer in SQLite's files.
* RK-FLOW-002 forbids the hub to copy an answer into any cache, but says nothing of
  HTTP caches between hub and requester (a TLS-terminating proxy): the hand-out response
  carries no `Cache-Control: no-store`.  Not tested.
* RK-FLOW-002 answers 404 `unknown-linkage` to "every other caller"; the OpenAPI of
  acknowledgeAnswer also lists 403 `forbidden-role`.  An auditor's acknowledgement is
  accepted here as either, since the role check does not depend on the linkage.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import contextlib
import hashlib
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.adversary.harness import AUDITOR, PROVIDER, REQUESTER, RESIDENTS, Hub

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

OTHER = "city.minato"


class WitnessHub(Hub):
    """`renkei serve` with `--witness DIR` (None: the default `STATE.witness`)."""

    def __init__(self, state_dir: Path, witness: Path | None = None) -> None:
        super().__init__(state_dir)
        self.witness = witness
        self._adopt = False

    @property
    def witness_dir(self) -> Path:
        return self.witness or self.state_dir.parent / f"{self.state_dir.name}.witness"

    def serve_args(self) -> list[str]:
        extra = ["--witness", str(self.witness)] if self.witness is not None else []
        return [*extra, "--adopt-witness"] if self._adopt else extra

    def start(self, *, expect_ready: bool = True, timeout: float = 40, adopt: bool = False) -> bool:
        """``adopt``: ``--adopt-witness``, the operator's explicit start over a store
        whose witness holds nothing of it (RK-LOG-011)."""
        self._adopt = adopt
        return super().start(expect_ready=expect_ready, timeout=timeout)

    def output_since(self, mark: int) -> str:
        return self.output()[mark:]

    # -- witness as read from disk -------------------------------------------
    def witnessed(self, log: str = "access") -> tuple[int, str] | None:
        """(tree size, root) of the witness file of `log`, None when there is none."""
        path = self.witness_dir / f"{log}.checkpoint"
        try:
            lines = path.read_text().split("\n")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None
        return int(lines[1]), lines[2]

    def add_agency(self, agency_id: str) -> None:
        r = self.ctl(
            "POST",
            "/agencies",
            {"agencies": [{"agency_id": agency_id, "name": "港区", "role": "municipality"}]},
        )
        assert r.status_code == 200, r.text
        self.creds.update(r.json()["credentials"])


def _portal_outcomes(h: Hub) -> list[str]:
    """The outcomes My Portal shows the resident (card login, application, listing)."""
    card = h.ctl("POST", "/cards", {"resident_code": RESIDENTS[0]["resident_code"]})
    assert card.status_code == 201, card.text
    key = serialization.load_pem_private_key(card.json()["private_key"].encode(), None)
    assert isinstance(key, Ed25519PrivateKey)
    portal = h.base["portal"]
    challenge = h.client.post(portal + "/challenges").json()
    signature = key.sign(b"renkei/portal-challenge/v1\x00" + base64.b64decode(challenge["nonce"]))
    session = h.client.post(
        portal + "/sessions",
        json={
            "challenge_id": challenge["challenge_id"],
            "certificate": card.json()["certificate"],
            "signature": base64.b64encode(signature).decode(),
        },
    )
    assert session.status_code == 201, session.text
    bearer = {"Authorization": "Bearer " + session.json()["session_token"]}
    application = h.client.post(portal + "/applications", json={}, headers=bearer)
    assert application.status_code == 201, application.text
    listing = h.client.get(
        portal + "/access-logs",
        params={"application_id": application.json()["application_id"]},
        headers=bearer,
    )
    assert listing.status_code == 200, listing.text
    return [e["outcome"] for e in listing.json()["entries"]]


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[WitnessHub]:
    h = WitnessHub(tmp_path / "state")
    h.start()
    try:
        yield h
    finally:
        h.close()


def _copy_state(src: Path, dst: Path) -> None:
    shutil.rmtree(dst, ignore_errors=True)
    shutil.copytree(src, dst)


def _restore(h: WitnessHub, backup: Path) -> None:
    shutil.rmtree(h.state_dir)
    shutil.copytree(backup, h.state_dir)


def _refused_naming(h: WitnessHub, requirement: str) -> bool:
    """The server exited before serving and said why."""
    return not h.start(expect_ready=False) and requirement in h.output()


def _checkpoint_size(text: str) -> tuple[int, str]:
    lines = text.split("\n")
    return int(lines[1]), lines[2]


def _provided(h: Hub, linkage: str) -> list[int]:
    return [
        e["serial"]
        for e in h.access_log()
        if e.get("linkage_id") == linkage and e["outcome"] == "provided"
    ]


def _outcomes_of(h: Hub, linkage: str) -> list[str]:
    return [e["outcome"] for e in h.access_log() if e.get("linkage_id") == linkage]


def _answered(h: WitnessHub, payload: str = "aGVsbG8=", request_id: str = "req-1") -> str:
    link_code = h.build_world() if not h.creds else _link_code(h)
    linkage = h.approve(link_code, request_id)
    assert h.deliver_and_answer(linkage, payload).status_code == 202
    return linkage


def _link_code(h: WitnessHub) -> str:
    r = h.hub("POST", "/bindings", REQUESTER, {"records": [_record()]})
    assert r.status_code == 200, r.text
    code: str = r.json()["results"][0]["link_code"]
    return code


def _record() -> dict[str, str]:
    return {
        "record_ref": "r1",
        "name": "山田 太郎",
        "address": "東京都千代田区霞が関1-2-2",
        "birth_date": "1980-04-01",
        "sex": "male",
    }


def _leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _root_from_inclusion(index: int, size: int, leaf: bytes, proof: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: the root an inclusion proof leads to."""
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise AssertionError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    assert sn == 0, "inclusion proof too short"
    return r


def _consistent(
    first: int, first_root: bytes, second: int, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: the tree of size `first` is a prefix of that of size `second`."""
    if first == second:
        return not proof and first_root == second_root
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    if not proof:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = _node(c, fr), _node(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == first_root and sr == second_root


def _receipt_root(receipt: dict[str, Any]) -> str:
    leaf = base64.b64decode(receipt["leaf"])
    assert base64.b64encode(_leaf_hash(leaf)).decode() == receipt["leaf_hash"]
    root = _root_from_inclusion(
        receipt["leaf_index"],
        receipt["tree_size"],
        _leaf_hash(leaf),
        [base64.b64decode(p) for p in receipt["inclusion_proof"]],
    )
    return base64.b64encode(root).decode()


# --------------------------------------------------------------------------------------
# RK-LOG-011: the witness is written before a checkpoint leaves the hub
# --------------------------------------------------------------------------------------


def test_every_checkpoint_handed_out_is_already_witnessed(hub: WitnessHub) -> None:
    """RK-LOG-011: 24 queries from 8 threads, a relay, a checkpoint read and an admin-log
    page; each checkpoint a response carries is in the witness when the response arrives
    (the same root at its size when the witness holds that size)."""
    link_code = hub.build_world()
    seen: list[tuple[int, str, tuple[int, str] | None, str]] = []
    lock = threading.Lock()

    def record(text: str, log: str) -> None:
        size, root = _checkpoint_size(text)
        witnessed = hub.witnessed(log)
        with lock:
            seen.append((size, root, witnessed, log))

    def one(i: int) -> None:
        with httpx.Client(timeout=20) as client:
            r = client.post(
                hub.base["hub"] + "/queries",
                headers=hub.h(REQUESTER),
                json={
                    "request_id": f"w-{i}",
                    "requester": REQUESTER,
                    "provider": PROVIDER,
                    "pattern_id": "P-0001",
                    "information_kind": "resident-tax",
                    "link_code": link_code,
                },
            )
        assert r.status_code == 202, r.text
        record(r.json()["receipt"]["checkpoint"], "access")

    with cf.ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(24)))
    linkage = hub.approve(link_code, "w-relay")
    assert hub.deliver_and_answer(linkage).status_code == 202
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    record(read.json()["receipt"]["checkpoint"], "access")
    record(hub.checkpoint()["checkpoint"], "access")
    receipt = hub.hub("GET", f"/linkages/{linkage}/receipt", PROVIDER)
    assert receipt.status_code == 200, receipt.text
    record(receipt.json()["checkpoint"], "access")
    page = hub.auditor("/admin-logs", {"limit": 1000})
    assert page.status_code == 200, page.text
    record(page.json()["checkpoint"]["checkpoint"], "admin")

    assert len(seen) == 28
    for size, root, witnessed, log in seen:
        assert witnessed is not None, f"no {log} witness while a checkpoint was handed out"
        assert witnessed[0] >= size, f"{log} checkpoint of size {size} left, witness {witnessed}"
        if witnessed[0] == size:
            assert witnessed[1] == root


def test_witness_unwritable_while_serving_lets_no_unwitnessed_checkpoint_out(
    hub: WitnessHub,
) -> None:
    """RK-LOG-011: the witness file cannot be replaced (a directory took its name, as a
    full or read-only witness volume would); no response may carry, and no reader may
    get, a checkpoint beyond the witnessed one; a 5xx is problem+json.  Repaired and
    restarted, the hub starts and the request id agrees with the log (RK-FLOW-003)."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    witnessed = hub.witnessed()
    assert witnessed is not None
    target = hub.witness_dir / "access.checkpoint"
    target.unlink()
    target.mkdir()
    (target / "keep").write_text("x")  # a non-empty directory: no rename can replace it

    blocked = hub.query(link_code, "req-2")
    latest = hub.hub("GET", "/checkpoints/latest", AUDITOR)
    for r in (blocked, latest):
        if r.status_code < 300:
            text = r.json().get("checkpoint") or r.json()["receipt"]["checkpoint"]
            assert _checkpoint_size(text)[0] <= witnessed[0], "an unwitnessed checkpoint left"
        else:
            assert r.status_code in (500, 503), r.text
            assert r.headers["content-type"].startswith("application/problem+json")
    assert blocked.status_code != 202

    hub.kill()
    shutil.rmtree(target)  # the repair leaves the witness without the access log's file:
    assert _refused_naming(hub, "RK-LOG-011")  # a lost witness refuses the start,
    assert hub.start(adopt=True)  # until the operator adopts the store's checkpoint
    logged = [e for e in hub.access_log() if e.get("request_id") == "req-2"]
    again = hub.query(link_code, "req-2")
    assert again.status_code == (409 if logged else 202), again.text


# The names a hub may write in the witness folder: the witness file itself, and the
# temporary name of a write that renames a new file over it.
PLANTED = ["access.checkpoint", ".access.checkpoint.new"]


@pytest.mark.parametrize("name", PLANTED)
def test_symlink_planted_in_the_witness_folder_writes_nothing_outside(
    hub: WitnessHub, name: str
) -> None:
    """Whoever may write the witness folder (RK-LOG-011 allows another host or party)
    plants the witness file, or the temporary name a hub writing a new file would use
    (named on the wire by its 503 detail), as a symlink to the hub's log signing key."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    victim = hub.state_dir / "log-signer.key"
    before = victim.read_bytes()
    (hub.witness_dir / name).unlink(missing_ok=True)
    (hub.witness_dir / name).symlink_to(victim)
    hub.query(link_code, "req-2")
    assert victim.read_bytes() == before, "the log signing key was overwritten"


@pytest.mark.parametrize("name", PLANTED)
def test_stalled_witness_write_does_not_freeze_the_hub(hub: WitnessHub, name: str) -> None:
    """A witness write that never returns (a FIFO planted as the witness file or under
    the temporary name; a hung network volume behaves alike): the hub may refuse what
    needs the witness, but it must keep answering — a query within 10 s, its health
    check within 5 s (503 `log-store-unavailable` while the witness file itself cannot
    be written: nothing is acknowledged unwitnessed)."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    (hub.witness_dir / name).unlink(missing_ok=True)
    os.mkfifo(hub.witness_dir / name)
    outcome: list[str] = []
    try:
        r = hub.client.post(
            hub.base["hub"] + "/queries",
            headers=hub.h(REQUESTER),
            timeout=10,
            json={
                "request_id": "req-2",
                "requester": REQUESTER,
                "provider": PROVIDER,
                "pattern_id": "P-0001",
                "information_kind": "resident-tax",
                "link_code": link_code,
            },
        )
        outcome.append(f"query {r.status_code}")
    except httpx.TimeoutException:
        outcome.append("query hung")
    try:
        health = hub.client.get(hub.base["control"] + "/health", timeout=5)
        outcome.append(f"health {health.status_code}")
    except httpx.TimeoutException:
        outcome.append("health hung")
    assert "query hung" not in outcome
    if name.startswith("."):  # a name the hub need not use: nothing stops
        assert "health 200" in outcome
    else:  # the witness itself cannot be written: the hub says so at once (RK-LOG-011)
        assert "health hung" not in outcome
        assert outcome[-1] == "health 200" or "log-store-unavailable" in health.text, outcome


def test_kills_during_bursts_never_leave_the_witness_ahead(hub: WitnessHub) -> None:
    """RK-LOG-011 decision / RK-FLOW-008: the witness is written after the commit, so a
    SIGKILL at any moment of a burst of queries (4 threads) leaves it at or behind the
    store, never ahead: every restart succeeds, and the store's checkpoint reaches what
    the witness holds with the same root at that size (a consistency proof exists)."""
    link_code = hub.build_world()
    stop = threading.Event()

    def burst(worker: int) -> None:
        i = 0
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                i += 1
                with contextlib.suppress(httpx.HTTPError):
                    client.post(
                        hub.base["hub"] + "/queries",
                        headers=hub.h(REQUESTER),
                        json={
                            "request_id": f"b-{worker}-{i}-{time.monotonic_ns()}",
                            "requester": REQUESTER,
                            "provider": PROVIDER,
                            "pattern_id": "P-0001",
                            "information_kind": "resident-tax",
                            "link_code": link_code,
                        },
                    )

    for delay in (0.05, 0.13, 0.21, 0.34, 0.55):
        stop.clear()
        threads = [threading.Thread(target=burst, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        time.sleep(delay)
        hub.kill()
        stop.set()
        for t in threads:
            t.join()
        witnessed = hub.witnessed()
        assert hub.start(), hub.output()[-2000:]
        assert witnessed is not None
        latest = hub.checkpoint()
        assert latest["tree_size"] >= witnessed[0]
        if witnessed[0] and witnessed[0] < latest["tree_size"]:
            proof = hub.client.get(
                hub.base["hub"] + "/checkpoints/consistency",
                params={"first": witnessed[0], "second": latest["tree_size"]},
                headers=hub.h(AUDITOR),
            )
            assert proof.status_code == 200, proof.text
            assert _consistent(
                witnessed[0],
                base64.b64decode(witnessed[1]),
                latest["tree_size"],
                base64.b64decode(latest["root_hash"]),
                [base64.b64decode(p) for p in proof.json()["proof"]],
            ), "the witnessed tree is not a prefix of the store's"
        elif witnessed[0] == latest["tree_size"]:
            assert witnessed[1] == latest["root_hash"]
    assert len(hub.access_log()) == hub.checkpoint()["tree_size"]


def test_hand_out_with_the_witness_broken_is_not_lost_nor_doubled(hub: WitnessHub) -> None:
    """RK-LOG-011 / RK-FLOW-002: the first read of an answer while the witness cannot be
    written: no answer leaves with an unwitnessed receipt; repaired and restarted, the
    same answer is handed out with `provided` logged once, then acknowledged."""
    linkage = _answered(hub)
    witnessed = hub.witnessed()
    assert witnessed is not None
    target = hub.witness_dir / "access.checkpoint"
    target.unlink()
    target.mkdir()
    (target / "keep").write_text("x")
    blocked = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    if blocked.status_code == 200:
        receipt = blocked.json()["receipt"]
        assert _checkpoint_size(receipt["checkpoint"])[0] <= witnessed[0]
    else:
        assert blocked.status_code in (500, 503), blocked.text
        assert "aGVsbG8=" not in blocked.text
    hub.kill()
    shutil.rmtree(target)  # the witness lost the access log's file: the operator adopts
    assert hub.start(adopt=True)
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()
    assert read["answer"]["payload"] == "aGVsbG8="
    assert _provided(hub, linkage) == [read["receipt"]["serial"]]
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]


def test_two_hubs_on_one_state_folder_never_sign_two_roots_for_one_size(
    hub: WitnessHub, tmp_path: Path
) -> None:
    """RK-LOG-009 / RK-LOG-011: the operator starts a second `renkei serve` on the same
    state and witness folders by mistake.  Whether it refuses to start or the two take
    turns, no tree size is ever signed with two roots, and one hub restarted alone
    afterwards starts on the store and the witness they left."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    twin = WitnessHub(hub.state_dir)
    twin.target = tmp_path / "twin-target.json"
    signed: dict[int, set[str]] = {}

    def note(r: httpx.Response) -> None:
        if r.status_code in (200, 202):
            body = r.json()
            text = body.get("checkpoint") or body["receipt"]["checkpoint"]
            size, root = _checkpoint_size(text)
            signed.setdefault(size, set()).add(root)

    try:
        if twin.start(expect_ready=False):
            twin.creds = hub.creds
            for i in range(3):
                for h, name in ((twin, "twin"), (hub, "hub")):
                    note(h.query(link_code, f"{name}-{i}"))
                    note(h.hub("GET", "/checkpoints/latest", AUDITOR))
    finally:
        twin.close()
    assert {size: roots for size, roots in signed.items() if len(roots) > 1} == {}
    assert hub.restart(), hub.output()[-2000:]
    assert len(hub.access_log()) == hub.checkpoint()["tree_size"]


# --------------------------------------------------------------------------------------
# RK-LOG-011: a start refused when the witness shows the store behind, forked or foreign
# --------------------------------------------------------------------------------------


def test_fresh_store_beside_an_old_witness_refuses_start(tmp_path: Path) -> None:
    """RK-LOG-011: the hub reinstalled (new state folder, new key) while the witness
    folder of its predecessor is kept: the witness is another key's and ahead."""
    old = WitnessHub(tmp_path / "old", witness=tmp_path / "witness")
    try:
        old.start()
        old.approve(old.build_world(), "req-1")
    finally:
        old.close()
    new = WitnessHub(tmp_path / "new", witness=tmp_path / "witness")
    try:
        assert _refused_naming(new, "RK-LOG-011")
    finally:
        new.close()


def test_witness_of_another_deployment_refuses_start(tmp_path: Path) -> None:
    """RK-LOG-011: a witness file copied from another hub, of the same size."""
    hubs = [WitnessHub(tmp_path / name) for name in ("a", "b")]
    try:
        for h in hubs:
            h.start()
            h.approve(h.build_world(), "req-1")
            h.kill()
        a, b = hubs
        assert a.witnessed() is not None
        shutil.copy(b.witness_dir / "access.checkpoint", a.witness_dir / "access.checkpoint")
        assert _refused_naming(a, "RK-LOG-011")
    finally:
        for h in hubs:
            h.close()


def test_store_forked_at_the_witnessed_size_refuses_start(hub: WitnessHub, tmp_path: Path) -> None:
    """RK-LOG-011: the store put back to an older copy and grown again to the size the
    witness holds, under another witness folder: the same size, another root."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    hub.approve(link_code, "req-2")
    hub.approve(link_code, "req-3")
    witnessed = hub.witnessed()
    assert witnessed is not None
    assert witnessed[0] == 3
    hub.kill()

    _restore(hub, tmp_path / "backup")
    kept = hub.witness
    hub.witness = tmp_path / "elsewhere"
    assert hub.start(adopt=True)  # the operator adopts the restored store under a new witness
    hub.approve(link_code, "req-x")
    hub.approve(link_code, "req-y")
    assert hub.checkpoint()["tree_size"] == 3
    assert hub.checkpoint()["root_hash"] != witnessed[1]
    hub.kill()
    hub.witness = kept
    assert _refused_naming(hub, "RK-LOG-011")


def test_other_logs_checkpoint_as_witness_does_not_hide_a_rollback(
    hub: WitnessHub, tmp_path: Path
) -> None:
    """RK-LOG-011: the store rolled back, and the access log's witness replaced by a
    checkpoint of the administrative log kept from earlier — validly signed by the hub's
    key, but under the other log's origin (an empty tree's root is the same for both)."""
    link_code = hub.build_world()
    other = (hub.witness_dir / "admin.checkpoint").read_bytes()
    hub.approve(link_code, "req-1")
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    for i in range(2, 6):
        hub.approve(link_code, f"req-{i}")
    hub.kill()
    _restore(hub, tmp_path / "backup")
    (hub.witness_dir / "access.checkpoint").write_bytes(other)
    assert _refused_naming(hub, "RK-LOG-011")


@pytest.mark.parametrize("damage", ["empty", "torn", "garbage"])
def test_damaged_witness_file_refuses_start(hub: WitnessHub, tmp_path: Path, damage: str) -> None:
    """RK-LOG-011: a witness file emptied, cut in half or overwritten holds no checkpoint
    signed by the log's key; with the store rolled back behind it, starting would sign
    a second root for a size already signed."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    hub.approve(link_code, "req-2")
    hub.kill()
    _restore(hub, tmp_path / "backup")
    path = hub.witness_dir / "access.checkpoint"
    text = path.read_bytes()
    damaged = {
        "empty": b"",
        "torn": text[: len(text) // 2],
        "garbage": b"\x00" * 64,
    }
    path.write_bytes(damaged[damage])
    assert _refused_naming(hub, "RK-LOG-011")


@pytest.mark.parametrize("damage", ["directory", "non-utf8"])
def test_unreadable_witness_file_refuses_start_naming_it(hub: WitnessHub, damage: str) -> None:
    """RK-LOG-011: the witness file replaced by a directory (a botched restore of the
    witness volume) or by bytes that are not text holds no checkpoint: the start is
    refused, naming the requirement."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    path = hub.witness_dir / "access.checkpoint"
    text = path.read_bytes()
    path.unlink()
    if damage == "directory":
        path.mkdir()
        (path / "access.checkpoint").write_bytes(text)
    else:
        path.write_bytes(b"\xff\xfe" + text)
    assert _refused_naming(hub, "RK-LOG-011")
    assert "Traceback" not in hub.output()


@pytest.mark.parametrize("loss", ["deleted", "emptied", "moved"])
def test_lost_witness_with_a_rolled_back_store_refuses_start(
    hub: WitnessHub, tmp_path: Path, loss: str
) -> None:
    """RK-LOG-011 (see "Spec ambiguities"): the store holds signed checkpoints, so a
    witness of them existed; a witness that now holds none cannot vouch for the store,
    which here is rolled back behind what was signed and witnessed."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    hub.approve(link_code, "req-2")
    signed = hub.checkpoint()
    hub.kill()
    _restore(hub, tmp_path / "backup")
    if loss == "deleted":
        shutil.rmtree(hub.witness_dir)
    elif loss == "emptied":
        for path in hub.witness_dir.iterdir():
            path.unlink()
    else:
        hub.witness = tmp_path / "fresh-witness"
    if hub.start(expect_ready=False):
        hub.approve(link_code, "req-3")
        forked = hub.checkpoint()
        assert forked["tree_size"] != signed["tree_size"], (
            f"started, and signed root {forked['root_hash']} for tree size "
            f"{signed['tree_size']}, already signed with root {signed['root_hash']}"
        )
    assert "RK-LOG-011" in hub.output()


def test_hot_copy_of_the_state_folder_restored_later_is_refused(
    hub: WitnessHub, tmp_path: Path
) -> None:
    """RK-LOG-011 / RK-LOG-010: an operator's `cp -r` of the state folder while the hub
    runs a burst of queries (the database and its write-ahead log copied at different
    moments), put back after more queries: the start is refused naming the requirement
    (the witness is ahead of any such copy), never a traceback."""
    link_code = hub.build_world()
    stop = threading.Event()

    def burst() -> None:
        i = 0
        with httpx.Client(timeout=5) as client:
            while not stop.is_set():
                i += 1
                with contextlib.suppress(httpx.HTTPError):
                    client.post(
                        hub.base["hub"] + "/queries",
                        headers=hub.h(REQUESTER),
                        json={
                            "request_id": f"hot-{i}",
                            "requester": REQUESTER,
                            "provider": PROVIDER,
                            "pattern_id": "P-0001",
                            "information_kind": "resident-tax",
                            "link_code": link_code,
                        },
                    )

    worker = threading.Thread(target=burst)
    worker.start()
    try:
        time.sleep(0.3)
        _copy_state(hub.state_dir, tmp_path / "hot-copy")
    finally:
        stop.set()
        worker.join()
    hub.approve(link_code, "after-the-copy")
    hub.kill()
    _restore(hub, tmp_path / "hot-copy")
    started = hub.start(expect_ready=False)
    assert "Traceback" not in hub.output(), hub.output()[-3000:]
    assert not started
    assert "RK-LOG-011" in hub.output() or "RK-LOG-010" in hub.output()


def test_administrative_log_rolled_back_behind_its_witness_refuses_start(
    hub: WitnessHub, tmp_path: Path
) -> None:
    """RK-LOG-011 applies to each log: the access log is unchanged, but the store is put
    back to before administrative entries whose checkpoint the auditor was given."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    hub.add_agency(OTHER)  # an administrative entry, no access entry
    page = hub.auditor("/admin-logs", {"limit": 1000})
    assert page.status_code == 200, page.text
    handed = page.json()["checkpoint"]["tree_size"]
    witnessed = hub.witnessed("admin")
    assert witnessed is not None
    assert witnessed[0] >= handed
    hub.kill()
    _restore(hub, tmp_path / "backup")
    assert _refused_naming(hub, "RK-LOG-011")


def test_witness_lagging_the_store_does_not_refuse_start(hub: WitnessHub) -> None:
    """RK-LOG-011 decision: after a power loss the witness may lag the store, never lead
    it.  A witness put back to an older checkpoint of the same log (the store intact) is
    no reason to refuse; the next checkpoint is witnessed again."""
    link_code = hub.build_world()
    hub.approve(link_code, "req-1")
    older = (hub.witness_dir / "access.checkpoint").read_bytes()
    hub.approve(link_code, "req-2")
    hub.approve(link_code, "req-3")
    hub.kill()
    (hub.witness_dir / "access.checkpoint").write_bytes(older)
    assert hub.start()
    hub.approve(link_code, "req-4")
    assert hub.witnessed() == (4, hub.checkpoint()["root_hash"])
    assert hub.query(link_code, "req-2").status_code == 409


def test_witness_path_that_is_a_file_is_refused_cleanly(tmp_path: Path) -> None:
    """RK-LOG-011: `--witness` naming a regular file: the hub cannot keep a witness, so it
    does not start, and says so without a traceback."""
    (tmp_path / "not-a-folder").write_text("x")
    h = WitnessHub(tmp_path / "state", witness=tmp_path / "not-a-folder")
    try:
        assert not h.start(expect_ready=False)
        assert "Traceback" not in h.output(), h.output()[-2000:]
        assert "not-a-folder" in h.output()
    finally:
        h.close()


def test_store_restored_to_before_a_legal_hold(hub: WitnessHub, tmp_path: Path) -> None:
    """A whole store put back to a copy taken before a hold the auditor was told was
    placed: the hub must refuse to start or still know the hold."""
    link_code = hub.build_world()
    held = hub.approve(link_code, "req-1")
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    placed = hub.client.post(
        hub.base["auditor"] + "/legal-holds",
        headers=hub.h(AUDITOR),
        json={"reason": "investigation", "scope": {"linkage_ids": [held]}},
    )
    assert placed.status_code == 201, placed.text
    hub.kill()
    _restore(hub, tmp_path / "backup")
    if not hub.start(expect_ready=False):
        assert "RK-LOG-011" in hub.output() or "RK-LOG-010" in hub.output()
        return
    assert hub.ctl("POST", "/clock/advance", {"seconds": 8 * 366 * 86400}).status_code == 200
    assert 1 in {e["serial"] for e in hub.access_log()}, "the held entry was purged"


def test_witness_inside_the_state_folder_is_refused(tmp_path: Path) -> None:
    """RK-LOG-011: the witness must be apart from the store; one inside the state
    folder is restored with it from any backup of that folder."""
    state = tmp_path / "state"
    h = WitnessHub(state, witness=state / "witness")
    try:
        if h.start(expect_ready=False):  # then show what it costs
            link_code = h.build_world()
            h.approve(link_code, "req-1")
            h.kill()
            _copy_state(state, tmp_path / "backup")  # the witness is in the copy
            assert h.start()
            h.approve(link_code, "req-2")
            signed = h.checkpoint()
            h.kill()
            _restore(h, tmp_path / "backup")
            assert h.start(), "refused the restored folder"
            h.approve(link_code, "req-3")
            forked = h.checkpoint()
            assert forked["tree_size"] != signed["tree_size"], (
                f"tree size {signed['tree_size']} signed with root {signed['root_hash']} "
                f"and with root {forked['root_hash']}"
            )
        assert "RK-LOG-011" in h.output()
    finally:
        h.close()


# --------------------------------------------------------------------------------------
# RK-FLOW-002: who may acknowledge, when, and what an acknowledgement leaves behind
# --------------------------------------------------------------------------------------


def _is_unknown_linkage(r: httpx.Response) -> bool:
    return r.status_code == 404 and r.json().get("type", "").endswith(":unknown-linkage")


def test_nobody_but_the_requester_reads_or_acknowledges(hub: WitnessHub) -> None:
    """RK-FLOW-002: the provider, a third agency and the auditor neither read nor
    acknowledge the answer, before or after the requester's first read; to them it
    looks like a linkage that does not exist; the requester still gets the answer, and
    once it acknowledged, a second answer of the provider does not reopen the linkage."""
    linkage = _answered(hub)
    hub.add_agency(OTHER)
    ghost = "0" * len(linkage)

    def strangers() -> None:
        for agency in (PROVIDER, OTHER):
            for path in (f"/linkages/{linkage}", f"/linkages/{linkage}/answer"):
                method = "GET" if path.endswith(linkage) else "DELETE"
                real = hub.hub(method, path, agency)
                fake = hub.hub(method, path.replace(linkage, ghost), agency)
                assert _is_unknown_linkage(real), (agency, method, real.text)
                assert _is_unknown_linkage(fake), (agency, method, fake.text)
        audit = hub.hub("DELETE", f"/linkages/{linkage}/answer", AUDITOR)
        assert _is_unknown_linkage(audit) or audit.status_code == 403, audit.text

    strangers()
    assert _outcomes_of(hub, linkage) == ["approved"]  # no stranger's read handed it out
    first = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert first.json()["answer"]["payload"] == "aGVsbG8="
    strangers()
    again = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert again.json()["answer"] == first.json()["answer"]
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    reanswer = hub.hub("POST", f"/linkages/{linkage}/answer", PROVIDER, {"payload": "Yg=="})
    assert reanswer.status_code in (404, 409), reanswer.text
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]


def test_acknowledgement_before_any_hand_out_erases_nothing(hub: WitnessHub) -> None:
    """RK-FLOW-002 / RK-FLOW-003: acknowledging a pending linkage, an answered one not yet
    read (or only its receipt read) and an expired one is 404 `unknown-linkage`; the first
    can still be answered, the second is still handed out, and `provided` is logged by
    the read, not the acknowledgement."""
    link_code = hub.build_world()
    pending = hub.approve(link_code, "req-1")
    assert _is_unknown_linkage(hub.hub("DELETE", f"/linkages/{pending}/answer", REQUESTER))
    answered = hub.approve(link_code, "req-2")
    assert hub.deliver_and_answer(answered).status_code == 202
    for _ in range(2):
        assert _is_unknown_linkage(hub.hub("DELETE", f"/linkages/{answered}/answer", REQUESTER))
    receipt = hub.hub("GET", f"/linkages/{answered}/receipt", REQUESTER)
    assert receipt.status_code == 200, receipt.text
    assert "aGVsbG8=" not in receipt.text  # the receipt is no hand-out
    assert _outcomes_of(hub, answered) == ["approved"]
    read = hub.hub("GET", f"/linkages/{answered}", REQUESTER)
    assert read.json()["answer"]["payload"] == "aGVsbG8="
    assert _outcomes_of(hub, answered) == ["approved", "provided"]
    late = hub.hub("POST", f"/linkages/{pending}/answer", PROVIDER, {"payload": "YQ=="})
    assert late.status_code == 202, late.text
    unanswered = hub.approve(link_code, "req-3")
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3601}).status_code == 200
    assert _outcomes_of(hub, unanswered) == ["approved", "expired"]
    assert _is_unknown_linkage(hub.hub("DELETE", f"/linkages/{unanswered}/answer", REQUESTER))


def test_acknowledgement_after_the_collection_period(hub: WitnessHub) -> None:
    """RK-FLOW-007 / RK-FLOW-002: an answer handed out and not acknowledged is erased
    when the collection period ends, with no further entry; the late acknowledgement is
    404, and the clock set back does not bring the answer back."""
    linkage = _answered(hub)
    assert hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()["answer"]
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3601}).status_code == 200
    gone = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert "answer" not in gone.text
    assert _is_unknown_linkage(hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER))
    assert hub.ctl("PUT", "/clock", {"now": "2026-04-01T09:00:30Z"}).status_code == 200
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]
    assert "aGVsbG8=" not in hub.ctl("GET", "/state").text


@pytest.mark.parametrize("restart", [False, True])
def test_answer_near_the_deadline_is_collectable_after_it(hub: WitnessHub, restart: bool) -> None:
    """RK-FLOW-007 / RK-FLOW-004 / RK-FLOW-008: the collection period counts from the
    answer, not from the deadline: an answer accepted 10 minutes before the deadline is
    handed out 10 minutes after it (also when the hub was restarted in between)."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3000}).status_code == 200
    assert hub.deliver_and_answer(linkage).status_code == 202
    assert hub.ctl("POST", "/clock/advance", {"seconds": 1200}).status_code == 200
    if restart:
        assert hub.restart()
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert read.status_code == 200, read.text
    assert read.json().get("answer", {}).get("payload") == "aGVsbG8=", read.text
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]


def test_acknowledgement_racing_the_end_of_the_collection_period(hub: WitnessHub) -> None:
    """RK-FLOW-002 / RK-FLOW-007: the acknowledgement and the clock passing the end of the
    collection period at once: one of them erases the answer, neither logs an entry, no
    5xx, and the answer is never handed out again."""
    linkage = _answered(hub)
    assert hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()["answer"]

    def acknowledge(_: int) -> int:
        with httpx.Client(timeout=20) as client:
            url = hub.base["hub"] + f"/linkages/{linkage}/answer"
            return client.delete(url, headers=hub.h(REQUESTER)).status_code

    def advance(_: int) -> int:
        with httpx.Client(timeout=20) as client:
            url = hub.base["control"] + "/clock/advance"
            return client.post(url, json={"seconds": 3601}).status_code

    with cf.ThreadPoolExecutor(4) as pool:
        acks = [pool.submit(acknowledge, i) for i in range(3)]
        clock = pool.submit(advance, 0)
        codes = sorted(f.result() for f in acks)
    assert clock.result() == 200
    assert codes.count(204) <= 1
    assert set(codes) <= {204, 404}
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]


ODD_IDS = [
    "x" * 129,
    "x" * 5000,
    "%2e%2e",
    "..%2Fqueries",
    "' OR '1'='1",
    "%00",
    "%20",
    "連携",
    "*",
]


def test_odd_ids_acknowledge_nothing(hub: WitnessHub) -> None:
    """RK-FLOW-002: acknowledgements with odd ids, the linkage id in upper case or with a
    suffix, the id of a refused query: each 404 `unknown-linkage` or 422, never 5xx,
    and the requester's answer is still handed out afterwards."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    refused = hub.hub(
        "POST",
        "/queries",
        REQUESTER,
        {
            "request_id": "refused-1",
            "requester": REQUESTER,
            "provider": PROVIDER,
            "pattern_id": "P-9999",
            "information_kind": "resident-tax",
            "link_code": link_code,
        },
    )
    assert refused.status_code == 403, refused.text
    assert hub.deliver_and_answer(linkage).status_code == 202
    first = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
    assert first.json()["answer"]["payload"] == "aGVsbG8="
    near = [linkage.upper(), linkage + "x", linkage[:-1], "req-1", "refused-1"]
    for odd in [*ODD_IDS, *near, f"{linkage}%2F", f"%2E%2E/{linkage}"]:
        r = hub.client.delete(hub.base["hub"] + f"/linkages/{odd}/answer", headers=hub.h(REQUESTER))
        if odd in near:
            assert _is_unknown_linkage(r), (odd, r.status_code, r.text)
        else:  # another route, or none: any 4xx problem
            assert r.status_code in (404, 405, 422), (odd, r.status_code, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
    assert (
        hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()["answer"] == first.json()["answer"]
    )
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204


def test_rereads_carry_the_same_answer_and_receipt_as_the_tree_grows(hub: WitnessHub) -> None:
    """RK-FLOW-002 / RK-LOG-004: every read before the acknowledgement carries the same
    answer with the receipt of the one `provided` entry; each receipt proves that entry
    against a checkpoint that is witnessed (RK-LOG-011), while other queries grow the log."""
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    assert hub.deliver_and_answer(linkage).status_code == 202
    receipts = []
    for i in range(4):
        read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()
        assert read["answer"]["payload"] == "aGVsbG8="
        assert read["state"] == "closed"
        receipts.append(read["receipt"])
        hub.approve(link_code, f"grow-{i}")
    assert len({(r["serial"], r["leaf"]) for r in receipts}) == 1
    assert _provided(hub, linkage) == [receipts[0]["serial"]]
    witnessed = hub.witnessed()
    assert witnessed is not None
    for receipt in receipts:
        size, root = _checkpoint_size(receipt["checkpoint"])
        assert size == receipt["tree_size"]
        assert _receipt_root(receipt) == root
        assert size <= witnessed[0]


def test_concurrent_first_reads_and_acknowledgements(hub: WitnessHub) -> None:
    """RK-FLOW-002: 8 reads and 8 acknowledgements at once on an answered linkage never
    read: one `provided` entry iff a read got the answer, all reads that got it got the
    same, at most one 204, only after a hand-out, and none after the erasure."""
    linkage = _answered(hub)

    def read(_: int) -> str | None:
        with httpx.Client(timeout=20) as client:
            r = client.get(hub.base["hub"] + f"/linkages/{linkage}", headers=hub.h(REQUESTER))
            if _is_unknown_linkage(r):
                return None  # a final linkage may be forgotten (OpenAPI getLinkage)
            assert r.status_code == 200, r.text
            payload: str | None = (r.json().get("answer") or {}).get("payload")
            return payload

    def acknowledge(_: int) -> int:
        with httpx.Client(timeout=20) as client:
            url = hub.base["hub"] + f"/linkages/{linkage}/answer"
            return client.delete(url, headers=hub.h(REQUESTER)).status_code

    with cf.ThreadPoolExecutor(16) as pool:
        reads = [pool.submit(read, i) for i in range(8)]
        acks = [pool.submit(acknowledge, i) for i in range(8)]
        payloads = [f.result() for f in reads]
        codes = sorted(f.result() for f in acks)
    handed = [p for p in payloads if p is not None]
    assert set(handed) <= {"aGVsbG8="}
    assert handed, "no read handed the answer out"
    assert len(_provided(hub, linkage)) == 1
    assert codes.count(204) <= 1
    assert set(codes) <= {204, 404}
    final = read(0)
    ack = acknowledge(0)
    if 204 in codes:
        assert final is None
        assert ack == 404
    else:
        assert final == "aGVsbG8="
        assert ack == 204
        assert read(0) is None
    assert len(_provided(hub, linkage)) == 1


PAYLOADS = {
    "largest": base64.b64encode(secrets.token_bytes(1024 * 1024)).decode(),
    "non-canonical": "aGVsbG9=",  # the padding bits set: decodes as "hello" too
    "empty": "",
}


@pytest.mark.parametrize("kind", list(PAYLOADS))
def test_payload_is_handed_out_unchanged_across_kills(hub: WitnessHub, kind: str) -> None:
    """RK-FLOW-002 / RK-FLOW-008: the largest answer the interface allows (1 MiB), one in
    non-canonical base64 and an empty one, each accepted with 202 (or refused with 422),
    are handed out character for character the same after a kill before the first read
    and after a kill between two reads, with `provided` logged once."""
    payload = PAYLOADS[kind]
    link_code = hub.build_world()
    linkage = hub.approve(link_code, "req-1")
    accepted = hub.deliver_and_answer(linkage, payload)
    if accepted.status_code == 422:
        assert kind != "largest", accepted.text
        return
    assert accepted.status_code == 202, accepted.text
    for _ in range(2):
        assert hub.restart()
        read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER)
        assert read.status_code == 200, read.text[:500]
        assert read.json()["answer"]["payload"] == payload
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204


@pytest.mark.parametrize("delay", [0.0, 0.004, 0.015])
def test_kill_during_the_first_hand_out(hub: WitnessHub, delay: float) -> None:
    """RK-FLOW-002 / RK-FLOW-008: SIGKILL while the first read is answered; restarted,
    the answer is handed out unchanged, with `provided` logged exactly once."""
    linkage = _answered(hub)
    sent = threading.Thread(target=_quietly, args=(hub, "GET", f"/linkages/{linkage}"))
    sent.start()
    time.sleep(delay)
    hub.kill()
    sent.join()
    assert hub.start()
    for _ in range(2):
        read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()
        assert read["answer"]["payload"] == "aGVsbG8="
        assert _provided(hub, linkage) == [read["receipt"]["serial"]]
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]
    assert _portal_outcomes(hub) == ["approved", "provided"]


@pytest.mark.parametrize("delay", [0.0, 0.004, 0.015])
def test_kill_around_the_acknowledgement(hub: WitnessHub, delay: float) -> None:
    """RK-FLOW-002 / RK-FLOW-008: SIGKILL while the acknowledgement is committed.
    Restarted, the answer is either gone or handed out unchanged (an erasure lost in a
    crash is allowed); `provided` stays logged once, and a later acknowledgement ends it."""
    linkage = _answered(hub)
    assert hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()["answer"]
    sent = threading.Thread(target=_quietly, args=(hub, "DELETE", f"/linkages/{linkage}/answer"))
    sent.start()
    time.sleep(delay)
    hub.kill()
    sent.join()
    assert hub.start()
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()
    ack = hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER)
    if "answer" in read:
        assert read["answer"]["payload"] == "aGVsbG8="
        assert ack.status_code == 204, ack.text
    else:
        assert _is_unknown_linkage(ack), ack.text
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]


def _quietly(hub: Hub, method: str, path: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.request(method, hub.base["hub"] + path, headers=hub.h(REQUESTER), timeout=20)


def test_store_restored_between_hand_out_and_acknowledgement(
    hub: WitnessHub, tmp_path: Path
) -> None:
    """RK-FLOW-002 / RK-LOG-011 (see the docstring): the whole store put back to a copy
    taken after the hand-out and before the acknowledgement.  The log is unchanged, so
    the hub starts; it hands out the same answer, logs no second `provided`, and erases
    it when the collection period ends, with no further entry."""
    linkage = _answered(hub)
    assert hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()["answer"]
    hub.kill()
    _copy_state(hub.state_dir, tmp_path / "backup")
    assert hub.start()
    assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    hub.kill()
    _restore(hub, tmp_path / "backup")
    assert hub.start()
    read = hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()
    assert read["answer"]["payload"] == "aGVsbG8="
    assert hub.ctl("POST", "/clock/advance", {"seconds": 3601}).status_code == 200
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text
    assert _outcomes_of(hub, linkage) == ["approved", "provided"]


def _traces(folder: Path, secret: bytes) -> list[str]:
    """Files under `folder` that hold `secret` raw, in base64, base64url or hex."""
    forms = {
        "raw": secret,
        "base64": base64.b64encode(secret),
        "base64url": base64.urlsafe_b64encode(secret).rstrip(b"="),
        "hex": secret.hex().encode(),
        "HEX": secret.hex().upper().encode(),
    }
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            data = path.read_bytes()
            found += [f"{path.name} ({name})" for name, form in forms.items() if form in data]
    return found


@pytest.mark.parametrize("ending", ["acknowledged", "collection-period", "never-read"])
def test_nothing_of_the_answer_remains_on_disk(
    hub: WitnessHub, tmp_path: Path, ending: str
) -> None:
    """RK-FLOW-002 / RK-FLOW-007: once the answer is acknowledged or its collection
    period ended (handed out or never read), no file the hub writes (state folder with
    the store's write-ahead log, witness, its own output) holds the payload in any
    encoding, after a SIGKILL and after a restart."""
    secret = secrets.token_bytes(48)
    linkage = _answered(hub, base64.b64encode(secret).decode())
    if ending != "never-read":
        assert hub.hub("GET", f"/linkages/{linkage}", REQUESTER).json()["answer"]
    if ending == "acknowledged":
        assert hub.hub("DELETE", f"/linkages/{linkage}/answer", REQUESTER).status_code == 204
    else:
        assert hub.ctl("POST", "/clock/advance", {"seconds": 3601}).status_code == 200
    assert "answer" not in hub.hub("GET", f"/linkages/{linkage}", REQUESTER).text
    hub.kill()
    found = _traces(tmp_path, secret)
    assert hub.start()  # the store recovers its write-ahead log into its main file
    hub.kill()
    found += [f"after a restart: {trace}" for trace in _traces(tmp_path, secret)]
    assert found == []
