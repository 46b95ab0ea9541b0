"""The tamper-evident log primitives: RFC 9162 Merkle trees and C2SP checkpoints.

(a) the reference against the published known-answer vectors
    (specs/vectors/merkle-rfc9162.json);
(b) Trillian's integration test, in miniature: 1,000 shuffled leaves appended,
    every root, many inclusion and consistency proofs compared byte for byte
    with a naive recursive RFC 9162 implementation written here, and
    out-of-range requests refused;
(c) properties (hypothesis): proofs do not transfer to other leaves, any
    flipped byte breaks a proof, a wrong old root breaks consistency;
(d) signed checkpoints: round trip and every kind of tampering.
"""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
from collections.abc import Callable, Sequence
from functools import cache
from hashlib import sha256
from typing import Any

import icontract
import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_reference.core.checkpoint import (
    Checkpoint,
    key_id,
    open_checkpoint,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    sign_checkpoint,
    sign_note,
    verifier_key,
)
from renkei_reference.core.errors import CallerError
from renkei_reference.core.merkle import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MerkleLog,
    ProofError,
    is_valid_consistency,
    is_valid_inclusion,
    leaf_hash,
    node_hash,
    verify_consistency,
    verify_inclusion,
)

from .conftest import ROOT

pytestmark = pytest.mark.requirement("RK-LOG-004", "RK-LOG-009")

VECTORS_PATH = ROOT / "specs" / "vectors" / "merkle-rfc9162.json"
SCHEMA_PATH = ROOT / "specs" / "schemas" / "merkle-vectors.schema.json"


# ---------------------------------------------------------------------------
# Naive RFC 9162, written from the text of §2.1 (independent of the reference)
# ---------------------------------------------------------------------------


def _k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class NaiveTree:
    """MTH, PATH and PROOF of RFC 9162 §2.1.1, §2.1.3.1 and §2.1.4.1, recursively."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = tuple(leaves)

    @cache  # noqa: B019 -- instances live for one module; the cache is the point
    def mth(self, begin: int, end: int) -> bytes:
        n = end - begin
        if n == 0:
            return sha256(b"").digest()
        if n == 1:
            return sha256(b"\x00" + self.leaves[begin]).digest()
        k = _k(n)
        return sha256(b"\x01" + self.mth(begin, begin + k) + self.mth(begin + k, end)).digest()

    def path(self, m: int, begin: int, end: int) -> list[bytes]:
        n = end - begin
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, begin, begin + k), self.mth(begin + k, end)]
        return [*self.path(m - k, begin + k, end), self.mth(begin, begin + k)]

    def subproof(self, m: int, begin: int, end: int, b: bool) -> list[bytes]:
        n = end - begin
        if m == n:
            return [] if b else [self.mth(begin, end)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, begin, begin + k, b), self.mth(begin + k, end)]
        return [*self.subproof(m - k, begin + k, end, False), self.mth(begin, begin + k)]

    def root(self, size: int) -> bytes:
        return self.mth(0, size)

    def inclusion(self, index: int, size: int) -> list[bytes]:
        return self.path(index, 0, size)

    def consistency(self, m: int, n: int) -> list[bytes]:
        return self.subproof(m, 0, n, True)


def _out_of_range(call: Callable[[], object]) -> None:
    with pytest.raises(CallerError) as info:
        call()
    assert info.value.problem == "tree-size-out-of-range"
    assert info.value.requirement == "RK-LOG-009"


# ---------------------------------------------------------------------------
# (a) Known-answer vectors
# ---------------------------------------------------------------------------


def _load_vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS_PATH.read_text(encoding="utf-8"))
    return data


VECTORS = _load_vectors()
GROUPS = {group["type"]: group["tests"] for group in VECTORS["testGroups"]}


def _ids(tests: list[dict[str, Any]]) -> list[str]:
    return [f"tc{t['tcId']}" for t in tests]


@cache
def _test_tree_log() -> MerkleLog:
    log = MerkleLog()
    for leaf in VECTORS["testLeaves"]:
        log.append(leaf_hash(bytes.fromhex(leaf)))
    return log


def _hexes(items: list[str]) -> list[bytes]:
    return [bytes.fromhex(x) for x in items]


def test_vector_file_validates_against_its_schema() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(VECTORS, schema, cls=jsonschema.Draft202012Validator)
    count = sum(len(tests) for tests in GROUPS.values())
    assert count == VECTORS["numberOfTests"]
    assert [t["tcId"] for g in GROUPS.values() for t in g] == list(range(1, count + 1))


def test_vector_file_is_what_its_generator_writes() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "specs" / "vectors" / "generate_merkle.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("vector", GROUPS["TreeHash"], ids=_ids(GROUPS["TreeHash"]))
def test_tree_hash_vectors(vector: dict[str, Any]) -> None:
    log = MerkleLog()
    for leaf in _hexes(vector["leaves"]):
        log.append(leaf_hash(leaf))
    assert log.root().hex() == vector["rootHash"]
    assert log.root(log.size).hex() == vector["rootHash"]


def test_roots_of_the_test_tree_at_every_size() -> None:
    """The published roots of sizes 1..8, from the store (past sizes) and the frontier."""
    log = _test_tree_log()
    published = {
        len(v["leaves"]): v["rootHash"]
        for v in GROUPS["TreeHash"]
        if v["source"] == "tdm-verify-test"
    }
    assert [log.root(n).hex() for n in range(9)] == [published[n] for n in range(9)]
    assert log.root(0) == EMPTY_ROOT


@pytest.mark.parametrize("vector", GROUPS["InclusionProof"], ids=_ids(GROUPS["InclusionProof"]))
def test_inclusion_vectors(vector: dict[str, Any]) -> None:
    args = (
        bytes.fromhex(vector["leafHash"]),
        vector["leafIndex"],
        vector["treeSize"],
        _hexes(vector["proof"]),
        bytes.fromhex(vector["rootHash"]),
    )
    if "leafInput" in vector:
        assert leaf_hash(bytes.fromhex(vector["leafInput"])).hex() == vector["leafHash"]
    if vector["result"] == "valid":
        verify_inclusion(*args)
        assert is_valid_inclusion(*args)
    else:
        with pytest.raises(ProofError) as info:
            verify_inclusion(*args)
        assert (info.value.problem, info.value.requirement) == ("invalid-proof", "RK-LOG-009")
        assert not is_valid_inclusion(*args)


@pytest.mark.parametrize("vector", GROUPS["ConsistencyProof"], ids=_ids(GROUPS["ConsistencyProof"]))
def test_consistency_vectors(vector: dict[str, Any]) -> None:
    args = (
        vector["size1"],
        vector["size2"],
        _hexes(vector["proof"]),
        bytes.fromhex(vector["root1"]),
        bytes.fromhex(vector["root2"]),
    )
    if vector["result"] == "valid":
        verify_consistency(*args)
        assert is_valid_consistency(*args)
    else:
        with pytest.raises(ProofError):
            verify_consistency(*args)
        assert not is_valid_consistency(*args)


def test_generated_proofs_equal_the_published_ones() -> None:
    """Proof generation over the 8-leaf tree gives exactly the published proofs."""
    log = _test_tree_log()
    checked = 0
    for v in GROUPS["InclusionProof"]:
        if v["result"] == "valid" and v["source"] == "tdm-verify-test":
            assert log.inclusion_proof(v["leafIndex"], v["treeSize"]) == tuple(_hexes(v["proof"]))
            checked += 1
    for v in GROUPS["ConsistencyProof"]:
        if v["result"] == "valid" and v["flags"] == ["published"] and v["size2"] <= 8:
            assert log.consistency_proof(v["size1"], v["size2"]) == tuple(_hexes(v["proof"]))
            checked += 1
    assert checked == 9


def _note_bytes(vector: dict[str, Any]) -> str | bytes:
    return str(vector["note"]) if "note" in vector else bytes.fromhex(vector["noteHex"])


@pytest.mark.parametrize("vector", GROUPS["SignedNote"], ids=_ids(GROUPS["SignedNote"]))
def test_signed_note_vectors(vector: dict[str, Any]) -> None:
    name, public_key = parse_verifier_key(vector["verifierKey"])
    assert verifier_key(name, public_key) == vector["verifierKey"]
    note = _note_bytes(vector)
    if vector["result"] == "valid":
        assert open_note(note, name, public_key) == vector["text"]
    else:  # invalid, or acceptable: the reference rejects (limit of 100 signature lines)
        with pytest.raises(CallerError) as info:
            open_note(note, name, public_key)
        assert info.value.problem == (vector["error"] or "malformed-checkpoint")
        assert info.value.requirement == "RK-LOG-009"
    if "signerKey" in vector:
        _, _, signer_name, hex_id, encoded = vector["signerKey"].split("+", 4)
        seed = base64.b64decode(encoded)
        private_key = Ed25519PrivateKey.from_private_bytes(seed[1:])
        assert key_id(signer_name, private_key.public_key()).hex() == hex_id
        assert sign_note(vector["text"], signer_name, private_key) == vector["note"]


@pytest.mark.parametrize("vector", GROUPS["CheckpointBody"], ids=_ids(GROUPS["CheckpointBody"]))
def test_checkpoint_body_vectors(vector: dict[str, Any]) -> None:
    if vector["result"] == "valid":
        checkpoint = parse_checkpoint(vector["body"])
        assert checkpoint.origin == vector["origin"]
        assert checkpoint.size == vector["treeSize"]
        assert checkpoint.root_hash.hex() == vector["rootHash"]
        assert list(checkpoint.extensions) == vector["extensions"]
        assert checkpoint.body() == vector["body"].encode("utf-8")
    else:
        with pytest.raises(CallerError) as info:
            parse_checkpoint(vector["body"])
        assert info.value.problem == vector["error"]


# ---------------------------------------------------------------------------
# (b) Trillian-style integration: 1,000 shuffled leaves against the naive tree
# ---------------------------------------------------------------------------

LEAF_COUNT = 1000
SEED = 20240601


@cache
def _shuffled_leaves() -> tuple[bytes, ...]:
    leaves = [f"renkei log entry {i:04d}".encode() for i in range(LEAF_COUNT)]
    random.Random(SEED).shuffle(leaves)
    return tuple(leaves)


class _Built:
    def __init__(self) -> None:
        self.leaves = _shuffled_leaves()
        self.naive = NaiveTree(self.leaves)
        self.store = MemoryNodeStore()
        self.log = MerkleLog(self.store)
        self.roots_while_growing: list[bytes] = []
        for leaf in self.leaves:
            self.log.append(leaf_hash(leaf))
            self.roots_while_growing.append(self.log.root())


@pytest.fixture(scope="module")
def built() -> _Built:
    return _Built()


def _sizes() -> list[int]:
    rng = random.Random(SEED + 1)
    sizes = set(range(1, 70)) | {127, 128, 129, 255, 256, 257, 511, 512, 513, 999, 1000}
    sizes |= {rng.randint(1, LEAF_COUNT) for _ in range(60)}
    return sorted(sizes)


def test_roots_at_every_size_match_the_naive_tree(built: _Built) -> None:
    assert len(built.leaves) == len(set(built.leaves)) == LEAF_COUNT
    assert built.log.size == LEAF_COUNT
    for size in range(1, LEAF_COUNT + 1):
        expected = built.naive.root(size)
        assert built.roots_while_growing[size - 1] == expected, size
        assert built.log.root(size) == expected, size
    assert built.log.root(0) == built.naive.root(0) == EMPTY_ROOT


def test_inclusion_proofs_match_the_naive_tree_and_verify(built: _Built) -> None:
    rng = random.Random(SEED + 2)
    checked = 0
    for size in _sizes():
        root = built.naive.root(size)
        indexes = {0, size - 1, size // 2} | {rng.randrange(size) for _ in range(6)}
        for index in sorted(indexes):
            proof = built.log.inclusion_proof(index, size)
            assert list(proof) == built.naive.inclusion(index, size), (index, size)
            verify_inclusion(leaf_hash(built.leaves[index]), index, size, proof, root)
            checked += 1
    assert checked > 800


def test_every_leaf_is_included_in_the_full_tree(built: _Built) -> None:
    root = built.log.root()
    for index, leaf in enumerate(built.leaves):
        proof = built.log.inclusion_proof(index)
        assert is_valid_inclusion(leaf_hash(leaf), index, LEAF_COUNT, proof, root)


def test_consistency_proofs_match_the_naive_tree_and_verify(built: _Built) -> None:
    sizes = _sizes()
    checked = 0
    for position, m in enumerate(sizes):
        for n in sizes[position::3]:
            proof = built.log.consistency_proof(m, n)
            assert list(proof) == (built.naive.consistency(m, n) if m < n else []), (m, n)
            verify_consistency(m, n, proof, built.naive.root(m), built.naive.root(n))
            checked += 1
    assert checked > 1000


def test_consistency_to_the_current_size_by_default(built: _Built) -> None:
    assert built.log.consistency_proof(700) == built.log.consistency_proof(700, LEAF_COUNT)
    assert built.log.inclusion_proof(5) == built.log.inclusion_proof(5, LEAF_COUNT)
    assert built.log.consistency_proof(LEAF_COUNT) == ()


def test_out_of_range_requests_are_refused(built: _Built) -> None:
    log = built.log
    n = log.size
    _out_of_range(lambda: log.root(n + 1))
    _out_of_range(lambda: log.root(-1))
    _out_of_range(lambda: log.inclusion_proof(n))  # index = size
    _out_of_range(lambda: log.inclusion_proof(n + 5))
    _out_of_range(lambda: log.inclusion_proof(-1))
    _out_of_range(lambda: log.inclusion_proof(3, 3))  # index = size of a past tree
    _out_of_range(lambda: log.inclusion_proof(0, 0))  # the empty tree has no leaves
    _out_of_range(lambda: log.inclusion_proof(0, n + 1))  # size beyond the log
    _out_of_range(lambda: log.consistency_proof(0, 10))  # m = 0
    _out_of_range(lambda: log.consistency_proof(11, 10))  # m > n
    _out_of_range(lambda: log.consistency_proof(10, n + 1))  # n beyond the log
    _out_of_range(lambda: log.consistency_proof(n + 1))
    _out_of_range(lambda: MerkleLog().consistency_proof(1))


class CountingStore:
    """A ``NodeStore`` that counts reads, around a ``MemoryNodeStore``."""

    def __init__(self, inner: MemoryNodeStore) -> None:
        self.inner = inner
        self.reads = 0

    def get(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.inner.get(level, index)

    def put(self, level: int, index: int, digest: bytes) -> None:
        self.inner.put(level, index, digest)

    def count(self, level: int) -> int:
        return self.inner.count(level)


def test_proofs_and_roots_take_logarithmic_reads(built: _Built) -> None:
    """O(log n) store reads per request; appends read nothing."""
    counting = CountingStore(built.store)
    log = MerkleLog(counting)  # resumes: reads only the right border
    assert counting.reads <= 10
    bound = 2 * (LEAF_COUNT.bit_length() + 1)
    for size in _sizes():
        requests: list[Callable[[], object]] = [
            lambda size=size: log.root(size),  # type: ignore[misc]
            lambda size=size: log.inclusion_proof(size // 3, size),  # type: ignore[misc]
            lambda size=size: log.consistency_proof(max(1, size // 3), size),  # type: ignore[misc]
        ]
        for request in requests:
            counting.reads = 0
            request()
            assert counting.reads <= bound, size
    grower = CountingStore(MemoryNodeStore())
    growing = MerkleLog(grower)
    for leaf in built.leaves[:100]:
        growing.append(leaf_hash(leaf))
    assert grower.reads == 0
    assert growing.root() == built.naive.root(100)


def test_a_store_is_resumed_and_an_interrupted_append_is_completed(built: _Built) -> None:
    store = MemoryNodeStore()
    log = MerkleLog(store)
    for leaf in built.leaves[:11]:
        log.append(leaf_hash(leaf))
    store.put(0, 11, leaf_hash(built.leaves[11]))  # crashed before writing the parents
    resumed = MerkleLog(store)
    assert resumed.size == 12
    assert resumed.root() == resumed.root(12) == built.naive.root(12)
    assert store.count(1) == 6
    assert store.count(2) == 3
    resumed.append(leaf_hash(built.leaves[12]))
    assert resumed.root() == built.naive.root(13)


def test_the_memory_store_is_append_only() -> None:
    store = MemoryNodeStore()
    store.put(0, 0, bytes(32))
    with pytest.raises(RuntimeError):
        store.put(0, 0, bytes(32))  # no rewriting
    with pytest.raises(RuntimeError):
        store.put(0, 2, bytes(32))  # no gaps
    with pytest.raises(ValueError, match="32 bytes"):
        store.put(0, 1, bytes(31))
    with pytest.raises(KeyError):
        store.get(0, 1)
    with pytest.raises(KeyError):
        store.get(3, 0)


def test_extend_is_append_in_a_batch(built: _Built) -> None:
    log = MerkleLog()
    assert log.extend([leaf_hash(leaf) for leaf in built.leaves[:300]]) == 0
    assert log.extend([]) == 300
    assert log.extend([leaf_hash(leaf) for leaf in built.leaves[300:333]]) == 300
    assert log.size == 333
    assert log.root() == built.naive.root(333)
    assert log.consistency_proof(100) == built.log.consistency_proof(100, 333)


def test_append_takes_leaf_hashes_only() -> None:
    with pytest.raises(icontract.ViolationError):
        MerkleLog().append(b"an entry, not its hash")
    with pytest.raises(icontract.ViolationError):
        MerkleLog().extend([bytes(32), b"an entry, not its hash"])
    with pytest.raises(icontract.ViolationError):
        node_hash(b"short", bytes(32))


# ---------------------------------------------------------------------------
# (c) Properties
# ---------------------------------------------------------------------------

PROPERTY_LEAVES = 300


@cache
def _property_tree() -> tuple[MerkleLog, NaiveTree]:
    leaves = [f"property leaf {i}".encode() for i in range(PROPERTY_LEAVES)]
    log = MerkleLog()
    for leaf in leaves:
        log.append(leaf_hash(leaf))
    return log, NaiveTree(leaves)


@st.composite
def _index_and_size(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(1, PROPERTY_LEAVES))
    return draw(st.integers(0, size - 1)), size


@settings(max_examples=300, deadline=None)
@given(_index_and_size(), st.integers(0, PROPERTY_LEAVES - 1), st.binary(max_size=40))
def test_a_proof_for_one_leaf_never_verifies_another(
    index_size: tuple[int, int], other: int, stranger: bytes
) -> None:
    log, naive = _property_tree()
    index, size = index_size
    proof, root = log.inclusion_proof(index, size), log.root(size)
    own = leaf_hash(naive.leaves[index])
    assert is_valid_inclusion(own, index, size, proof, root)
    if other != index:
        other_leaf = leaf_hash(naive.leaves[other])
        assert not is_valid_inclusion(other_leaf, index, size, proof, root)
        if other < size:
            assert not is_valid_inclusion(other_leaf, other, size, proof, root)
            assert not is_valid_inclusion(own, other, size, proof, root)
    if stranger != naive.leaves[index]:
        assert not is_valid_inclusion(leaf_hash(stranger), index, size, proof, root)


@settings(max_examples=300, deadline=None)
@given(_index_and_size(), st.data())
def test_a_flipped_byte_in_any_inclusion_proof_node_fails(
    index_size: tuple[int, int], data: st.DataObject
) -> None:
    log, naive = _property_tree()
    index, size = index_size
    proof = list(log.inclusion_proof(index, size))
    if not proof:
        return
    node = data.draw(st.integers(0, len(proof) - 1))
    byte = data.draw(st.integers(0, 31))
    mask = data.draw(st.integers(1, 255))
    damaged = bytearray(proof[node])
    damaged[byte] ^= mask
    proof[node] = bytes(damaged)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(naive.leaves[index]), index, size, proof, log.root(size))


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    n = draw(st.integers(1, PROPERTY_LEAVES))
    return draw(st.integers(1, n)), n


@settings(max_examples=300, deadline=None)
@given(_two_sizes(), st.data())
def test_a_flipped_byte_in_any_consistency_proof_node_fails(
    sizes: tuple[int, int], data: st.DataObject
) -> None:
    log, _ = _property_tree()
    m, n = sizes
    proof = list(log.consistency_proof(m, n))
    assert is_valid_consistency(m, n, proof, log.root(m), log.root(n))
    if not proof:
        assert m == n
        return
    node = data.draw(st.integers(0, len(proof) - 1))
    byte = data.draw(st.integers(0, 31))
    damaged = bytearray(proof[node])
    damaged[byte] ^= data.draw(st.integers(1, 255))
    proof[node] = bytes(damaged)
    with pytest.raises(ProofError):
        verify_consistency(m, n, proof, log.root(m), log.root(n))


@settings(max_examples=300, deadline=None)
@given(_two_sizes(), st.integers(0, 31), st.integers(1, 255), st.integers(0, PROPERTY_LEAVES))
def test_consistency_with_a_wrong_old_root_fails(
    sizes: tuple[int, int], byte: int, mask: int, other_size: int
) -> None:
    log, _ = _property_tree()
    m, n = sizes
    proof = log.consistency_proof(m, n)
    wrong = bytearray(log.root(m))
    wrong[byte] ^= mask
    assert not is_valid_consistency(m, n, proof, bytes(wrong), log.root(n))
    if other_size != m:
        assert not is_valid_consistency(m, n, proof, log.root(other_size), log.root(n))
    wrong_new = bytearray(log.root(n))
    wrong_new[byte] ^= mask
    assert not is_valid_consistency(m, n, proof, log.root(m), bytes(wrong_new))


@settings(max_examples=200, deadline=None)
@given(_two_sizes())
def test_a_consistency_proof_is_not_valid_for_other_sizes(sizes: tuple[int, int]) -> None:
    log, _ = _property_tree()
    m, n = sizes
    proof = log.consistency_proof(m, n)
    for m2, n2 in ((m + 1, n), (m - 1, n), (m, n + 1), (m, n - 1)):
        if (m2, n2) != (m, n) and 1 <= m2 <= n2 <= PROPERTY_LEAVES:
            if m2 == n2 and not proof:
                continue  # equal sizes with an empty proof need equal roots: checked below
            assert not is_valid_consistency(m2, n2, proof, log.root(m2), log.root(n2)) or (
                tuple(proof) == log.consistency_proof(m2, n2)
            )


def test_verifiers_reject_malformed_inputs_with_the_one_error() -> None:
    log = _test_tree_log()
    root, proof = log.root(8), list(log.inclusion_proof(2, 8))
    leaf = log.inclusion_proof(3, 8)[0]  # the leaf hash of index 2 is index 3's first sibling
    assert is_valid_inclusion(leaf, 2, 8, proof, root)
    for bad in (
        (leaf[:31], 2, 8, proof, root),
        (leaf, 2, 8, proof, root[:31]),
        (leaf, 2, 8, [*proof[:2], proof[2] + b"\x00"], root),
        (leaf, 2, 8, [], root),
        (leaf, 2, 8, [*proof, proof[0]], root),
        (leaf, -1, 8, proof, root),
        (leaf, 2, 2**64, proof, root),
        (leaf, 8, 8, proof, root),
    ):
        with pytest.raises(ProofError) as info:
            verify_inclusion(*bad)
        assert str(info.value) == str(ProofError())  # opaque: the same message for all
    for m, n in ((0, 8), (9, 8), (-1, 8), (8, 2**64)):
        with pytest.raises(ProofError):
            verify_consistency(m, n, [], root, root)


# ---------------------------------------------------------------------------
# (d) Checkpoints
# ---------------------------------------------------------------------------

LOG_NAME = "renkei.example/hub-log"


@pytest.fixture(scope="module")
def signing_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(sha256(b"renkei checkpoint test key").digest())


@pytest.fixture(scope="module")
def other_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(sha256(b"another key").digest())


def _checkpoint(size: int = 8, extensions: tuple[str, ...] = ()) -> Checkpoint:
    return Checkpoint(LOG_NAME, size, _test_tree_log().root(size), extensions)


def _invalid_signature(call: Callable[[], object]) -> None:
    with pytest.raises(CallerError) as info:
        call()
    assert (info.value.problem, info.value.requirement) == (
        "invalid-checkpoint-signature",
        "RK-LOG-009",
    )


def _malformed(call: Callable[[], object]) -> None:
    with pytest.raises(CallerError) as info:
        call()
    assert (info.value.problem, info.value.requirement) == ("malformed-checkpoint", "RK-LOG-009")


def test_sign_and_open_round_trip(signing_key: Ed25519PrivateKey) -> None:
    for checkpoint in (_checkpoint(), _checkpoint(0), _checkpoint(5, ("x-ext 1", "x-ext 2"))):
        note = sign_checkpoint(checkpoint, LOG_NAME, signing_key)
        assert note.startswith(checkpoint.body().decode() + "\n— " + LOG_NAME + " ")
        assert note.endswith("\n")
        assert open_checkpoint(note, LOG_NAME, signing_key.public_key()) == checkpoint
        assert open_checkpoint(note.encode(), LOG_NAME, signing_key.public_key()) == checkpoint
        assert sign_checkpoint(checkpoint, LOG_NAME, signing_key) == note  # deterministic


def test_checkpoint_body_format() -> None:
    checkpoint = _checkpoint()
    root = base64.b64encode(checkpoint.root_hash).decode()
    assert checkpoint.body() == f"{LOG_NAME}\n8\n{root}\n".encode()
    assert parse_checkpoint(checkpoint.body()) == checkpoint


def test_a_proof_against_a_signed_checkpoint(signing_key: Ed25519PrivateKey) -> None:
    """A receipt's chain: signed checkpoint → inclusion; two checkpoints → consistency."""
    log, public = _test_tree_log(), signing_key.public_key()
    old = open_checkpoint(sign_checkpoint(_checkpoint(5), LOG_NAME, signing_key), LOG_NAME, public)
    new = open_checkpoint(sign_checkpoint(_checkpoint(8), LOG_NAME, signing_key), LOG_NAME, public)
    leaf = leaf_hash(bytes.fromhex(VECTORS["testLeaves"][4]))
    verify_inclusion(leaf, 4, new.size, log.inclusion_proof(4, new.size), new.root_hash)
    proof = log.consistency_proof(old.size, new.size)
    verify_consistency(old.size, new.size, proof, old.root_hash, new.root_hash)


def _tamper_body(note: str, old: str, new: str) -> str:
    split = note.rfind("\n\n") + 1  # the body keeps its final newline
    body, rest = note[:split], note[split:]
    assert old in body
    return body.replace(old, new, 1) + rest


def test_tampered_checkpoints_are_rejected(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    checkpoint = _checkpoint()
    note = sign_checkpoint(checkpoint, LOG_NAME, signing_key)
    public = signing_key.public_key()
    root = base64.b64encode(checkpoint.root_hash).decode()
    other_root = base64.b64encode(_test_tree_log().root(7)).decode()
    # The body: origin, size, root, an added extension line.
    _invalid_signature(
        lambda: open_checkpoint(_tamper_body(note, "hub-log", "hub-1og"), LOG_NAME, public)
    )
    _invalid_signature(
        lambda: open_checkpoint(_tamper_body(note, "\n8\n", "\n7\n"), LOG_NAME, public)
    )
    _invalid_signature(
        lambda: open_checkpoint(_tamper_body(note, root, other_root), LOG_NAME, public)
    )
    _invalid_signature(
        lambda: open_checkpoint(_tamper_body(note, root + "\n", root + "\nx\n"), LOG_NAME, public)
    )
    # The signature: every byte of the Ed25519 signature, and the key ID.
    prefix, encoded = note.rstrip("\n").rsplit(" ", 1)
    blob = base64.b64decode(encoded)
    for position in (4, 20, 40, 67):
        damaged = bytearray(blob)
        damaged[position] ^= 0x01
        forged = f"{prefix} {base64.b64encode(bytes(damaged)).decode()}\n"
        _invalid_signature(lambda forged=forged: open_checkpoint(forged, LOG_NAME, public))
    damaged = bytearray(blob)
    damaged[0] ^= 0x01  # another key ID: an unknown key, so no signature by the known one
    forged = f"{prefix} {base64.b64encode(bytes(damaged)).decode()}\n"
    _invalid_signature(lambda: open_checkpoint(forged, LOG_NAME, public))
    truncated = f"{prefix} {base64.b64encode(blob[:-1]).decode()}\n"
    _invalid_signature(lambda: open_checkpoint(truncated, LOG_NAME, public))
    # The name and the key.
    _invalid_signature(lambda: open_checkpoint(note, "renkei.example/other", public))
    _invalid_signature(lambda: open_checkpoint(note, LOG_NAME, other_key.public_key()))
    renamed = note.replace(f"— {LOG_NAME} ", "— renkei.example/other ")
    _invalid_signature(lambda: open_checkpoint(renamed, LOG_NAME, public))
    # Signed by someone else under the log's name.
    impostor = sign_checkpoint(checkpoint, LOG_NAME, other_key)
    _invalid_signature(lambda: open_checkpoint(impostor, LOG_NAME, public))


def test_unknown_signatures_are_ignored_but_a_bad_known_one_is_not(
    signing_key: Ed25519PrivateKey, other_key: Ed25519PrivateKey
) -> None:
    checkpoint = _checkpoint()
    body = checkpoint.body().decode()
    note = sign_checkpoint(checkpoint, LOG_NAME, signing_key)
    witness = sign_note(body, "witness.example/w1", other_key).split("\n\n")[1]
    cosigned = note + witness
    assert open_checkpoint(cosigned, LOG_NAME, signing_key.public_key()) == checkpoint
    assert open_note(cosigned, "witness.example/w1", other_key.public_key()) == body
    bad_own = _tamper_body(note, "\n8\n", "\n7\n")  # the log's signature fails on this body
    witness_on_bad = sign_note(
        bad_own.split("\n\n")[0] + "\n", "witness.example/w1", other_key
    ).split("\n\n")[1]
    _invalid_signature(
        lambda: open_checkpoint(bad_own + witness_on_bad, LOG_NAME, signing_key.public_key())
    )


def test_malformed_notes_are_rejected(signing_key: Ed25519PrivateKey) -> None:
    checkpoint = _checkpoint()
    note = sign_checkpoint(checkpoint, LOG_NAME, signing_key)
    public = signing_key.public_key()
    body = checkpoint.body().decode()
    signature_line = note.split("\n\n")[1]
    cases = [
        note.rstrip("\n"),  # no final newline
        body + signature_line,  # no blank line before the signatures
        body,  # no signatures
        body + "\n",  # a blank line and nothing
        note + "trailing line\n",  # a non-signature line
        note.replace("\u2014 ", "-- "),  # not an em dash
        note.replace("\n", "\r\n"),  # control characters
        "\x00" + note,
        note.replace(f" {LOG_NAME} ", f" {LOG_NAME}+x "),  # '+' in a key name
        note.replace(f"\u2014 {LOG_NAME} ", "\u2014  "),  # empty key name
        note[:-2] + "\n",  # base64 without its padding
        note.rstrip("\n") + "!\n",  # not base64
        body + "\n\u2014 " + LOG_NAME + " AAAA\n",  # too short to hold a key ID and signature
        body + "\n" + signature_line * 101,  # more than 100 signature lines
    ]
    for case in cases:
        _malformed(lambda case=case: open_checkpoint(case, LOG_NAME, public))
    _malformed(lambda: open_checkpoint(b"\xff" + note.encode(), LOG_NAME, public))
    _malformed(lambda: open_checkpoint(note.replace("hub-log", "hub-\ud800"), LOG_NAME, public))


def test_a_validly_signed_but_malformed_body_is_rejected(signing_key: Ed25519PrivateKey) -> None:
    """The signature is checked first, then the body must still be a checkpoint."""
    public = signing_key.public_key()
    for body in ("only one line\n", f"{LOG_NAME}\n08\n{'A' * 43}=\n", f"{LOG_NAME}\n8\nAAAA\n"):
        _malformed(
            lambda body=body: open_checkpoint(
                sign_note(body, LOG_NAME, signing_key), LOG_NAME, public
            )
        )


def test_checkpoint_fields_are_validated() -> None:
    root = bytes(32)
    for origin, size, root_hash, extensions in (
        ("", 1, root, ()),
        ("a\nb", 1, root, ()),
        ("o", -1, root, ()),
        ("o", 2**64, root, ()),
        ("o", True, root, ()),
        ("o", 1, root[:31], ()),
        ("o", 1, root, ("",)),
        ("o", 1, root, ("two\nlines",)),
        ("o", 1, root, ["not a tuple"]),
    ):
        args = (origin, size, root_hash, extensions)
        _malformed(lambda args=args: Checkpoint(*args))


def test_the_c2sp_example_checkpoint() -> None:
    """c2sp.org/tlog-checkpoint's example: its body parses; its key is not ours."""
    example = next(v for v in GROUPS["SignedNote"] if v["source"] == "c2sp-tlog-checkpoint")
    note = example["note"]
    checkpoint = parse_checkpoint(note.split("\n\n")[0] + "\n")
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    signature = base64.b64decode(note.rstrip("\n").rsplit(" ", 1)[1])
    assert len(signature) == 4 + 64  # a key ID and an Ed25519 signature
    name, public_key = parse_verifier_key(example["verifierKey"])
    _invalid_signature(lambda: open_checkpoint(note, name, public_key))


def test_key_ids_and_verifier_keys() -> None:
    vkey = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    name, public_key = parse_verifier_key(vkey)
    assert name == "PeterNeumann"
    assert key_id(name, public_key) == bytes.fromhex("c74f20a3")
    assert verifier_key(name, public_key) == vkey
    # sumdb/note TestNewVerifier: no substring and no single-character change parses.
    for i in range(len(vkey) + 1):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) != (0, len(vkey)):
                with pytest.raises(ValueError, match="key"):
                    parse_verifier_key(vkey[i:j])
    for i in range(len(vkey)):
        with pytest.raises(ValueError, match="key"):
            parse_verifier_key(vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :])
    for bad in (
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    ):
        with pytest.raises(ValueError, match="key"):
            parse_verifier_key(bad)


def test_invalid_key_names_are_local_errors(signing_key: Ed25519PrivateKey) -> None:
    for name in ("", "a b", "a+b", "tab\there", "nbsp\u00a0here"):
        with pytest.raises(ValueError, match="key name"):
            sign_checkpoint(_checkpoint(), name, signing_key)
        with pytest.raises(ValueError, match="key name"):
            key_id(name, signing_key.public_key())
        with pytest.raises(ValueError, match="key name"):
            open_checkpoint("x\n\n\u2014 a AAAA\n", name, signing_key.public_key())


def test_the_naive_tree_agrees_with_the_published_vectors() -> None:
    """The test's own oracle is checked against the published roots and proofs too."""
    naive = NaiveTree([bytes.fromhex(x) for x in VECTORS["testLeaves"]])
    published = {
        len(v["leaves"]): v["rootHash"]
        for v in GROUPS["TreeHash"]
        if v["source"] == "tdm-verify-test"
    }
    assert [naive.root(n).hex() for n in range(9)] == [published[n] for n in range(9)]
    for v in GROUPS["InclusionProof"]:
        if v["result"] == "valid" and v["source"] == "tdm-verify-test":
            assert naive.inclusion(v["leafIndex"], v["treeSize"]) == _hexes(v["proof"])
    for v in GROUPS["ConsistencyProof"]:
        if v["flags"] == ["published"] and v["size2"] <= 8:
            assert naive.consistency(v["size1"], v["size2"]) == _hexes(v["proof"])
