"""The crash harness judges receipts and checkpoints with its own verifier
(benchmarks/crash/tlog.py): it accepts every RFC 9162 proof of a tree built here from
the RFC's definitions, and refuses each proof with one hash changed, a wrong index
or a changed root, and a checkpoint whose note or signature was altered."""

from __future__ import annotations

import base64
import hashlib

import pytest
from benchmarks.crash.tlog import (
    TlogError,
    leaf_hash,
    parse_checkpoint,
    verify_consistency,
    verify_inclusion,
)
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st


def _node(a: bytes, b: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + a + b).digest()


def _split(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH over leaf hashes."""
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(mth(leaves[:k]), mth(leaves[k:]))


def path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(m, D[n])."""
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if m < k:
        return [*path(m, leaves[:k]), mth(leaves[k:])]
    return [*path(m - k, leaves[k:]), mth(leaves[:k])]


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = _split(n)
    if m <= k:
        return [*subproof(m, leaves[:k], whole), mth(leaves[k:])]
    return [*subproof(m - k, leaves[k:], False), mth(leaves[:k])]


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(f"entry {i}".encode()) for i in range(n)]


def _flip(proof: list[bytes], i: int) -> list[bytes]:
    bad = list(proof)
    bad[i] = bytes([bad[i][0] ^ 1]) + bad[i][1:]
    return bad


@given(st.integers(1, 70), st.data())
def test_inclusion_proofs_verify_and_altered_ones_do_not(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    root = mth(leaves)
    m = data.draw(st.integers(0, n - 1))
    proof = path(m, leaves)
    assert verify_inclusion(leaves[m], m, n, proof, root)
    for i in range(len(proof)):
        assert not verify_inclusion(leaves[m], m, n, _flip(proof, i), root)
    assert not verify_inclusion(leaves[m], n, n, proof, root)
    assert not verify_inclusion(leaves[m], m, n, proof, _flip([root], 0)[0])
    if n > 1:
        assert not verify_inclusion(leaves[m], (m + 1) % n, n, proof, root)


@given(st.integers(1, 70), st.data())
def test_consistency_proofs_verify_and_altered_ones_do_not(n: int, data: st.DataObject) -> None:
    leaves = _leaves(n)
    m = data.draw(st.integers(1, n))
    first, second = mth(leaves[:m]), mth(leaves)
    proof = subproof(m, leaves, True)
    assert verify_consistency(m, n, first, second, proof)
    for i in range(len(proof)):
        assert not verify_consistency(m, n, first, second, _flip(proof, i))
    if m < n:
        forked = mth([*leaves[: m - 1], leaf_hash(b"other")])  # same size, another history
        assert not verify_consistency(m, n, forked, second, proof)
        assert not verify_consistency(m, n, first, second, [])


def _note(origin: str, size: int, root: bytes) -> tuple[str, str]:
    key = Ed25519PrivateKey.generate()
    raw = b"\x01" + key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    key_id = hashlib.sha256(origin.encode() + b"\n" + raw).digest()[:4]
    verifier = f"{origin}+{key_id.hex()}+{base64.b64encode(raw).decode()}"
    body = f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    sig = base64.b64encode(key_id + key.sign(body.encode())).decode()
    return body + f"\n— {origin} {sig}\n", verifier


def test_a_checkpoint_verifies_with_its_key_and_not_altered() -> None:
    root = mth(_leaves(5))
    text, verifier = _note("example.test/log", 5, root)
    cp = parse_checkpoint(text, verifier)
    assert (cp.origin, cp.size, cp.root) == ("example.test/log", 5, root)
    with pytest.raises(TlogError):
        parse_checkpoint(text.replace("\n5\n", "\n6\n", 1), verifier)
    _, other = _note("example.test/log", 5, root)
    with pytest.raises(TlogError):
        parse_checkpoint(text, other)
