"""RFC 9162 Merkle trees for the hub's tamper-evident log (RK-LOG-004, RK-LOG-009).

Theory of operation.  The log is the ordered list of leaf hashes
``D[0:n]``; its head is the Merkle Tree Hash of RFC 9162 §2.1.1:

* ``MTH({}) = SHA-256()``, the hash of the empty string;
* ``MTH({d(0)}) = SHA-256(0x00 || d(0))`` (the *leaf hash*);
* ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` with ``k`` the
  largest power of two smaller than ``n`` (a *node hash*).

Every subtree this recursion visits covers a range ``D[a:b]`` whose start is
a multiple of the largest power of two not above ``b − a``, so it is a run of
*perfect* subtrees — complete binary trees of ``2^level`` leaves at aligned
positions — folded from the right.  A perfect subtree never changes once its
last leaf is appended, which is what makes the log append-only and lets a
``NodeStore`` keep exactly those nodes: the node at ``(level, index)`` is
``MTH(D[index·2^level : (index+1)·2^level])``.  ``MerkleLog.append`` writes the
leaf and the perfect subtrees it completes (amortised two writes a leaf, no
reads: the right border, the "compact range", is kept in memory).  Any root of
a size ``≤ n``, any inclusion proof (§2.1.3.1) and any consistency proof
(§2.1.4.1) then needs O(log n) reads of the store.

Verification (§2.1.3.2 and §2.1.4.2) is pure and opaque, like Fernet's
``InvalidToken``: ``verify_inclusion`` and ``verify_consistency`` return
``None`` or raise ``ProofError`` whatever went wrong; ``is_valid_inclusion``
and ``is_valid_consistency`` are the ``bool`` forms.

Profile of RFC 9162 used by renkei (RK-LOG-009): consistency between sizes
``1 ≤ m ≤ n``; for ``m = n`` the proof is empty and verifies exactly when the
two roots are equal (RFC 9162 §2.1.4.1 defines proofs for ``0 < m < n`` only);
``m = 0`` is refused.

Spec: https://www.rfc-editor.org/rfc/rfc9162#section-2.1
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Protocol

import icontract

from .contract_levels import HOT
from .errors import CallerError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MAX_TREE_SIZE",
    "MemoryNodeStore",
    "MerkleLog",
    "NodeStore",
    "ProofError",
    "is_valid_consistency",
    "is_valid_inclusion",
    "leaf_hash",
    "node_hash",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
"""Output size of SHA-256, the hash of every node."""

EMPTY_ROOT = hashlib.sha256(b"").digest()
"""``MTH({})``: the root of the empty tree (RFC 9162 §2.1.1)."""

MAX_TREE_SIZE = (1 << 64) - 1
"""RFC 9162 tree sizes are uint64 (§4.1); no log is larger."""

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_sha256 = hashlib.sha256


class ProofError(CallerError):
    """An inclusion or consistency proof does not verify (one opaque failure).

    Whether the sizes, the proof length, a proof node or a root was wrong is
    deliberately not said; the caller only learns that the claim is unproven.
    """

    def __init__(self, detail: str = "the proof does not verify against the given root") -> None:
        super().__init__("invalid-proof", detail, "RK-LOG-009")


def _out_of_range(detail: str) -> CallerError:
    return CallerError("tree-size-out-of-range", detail, "RK-LOG-009")


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(_NODE_PREFIX + left + right).digest()


@icontract.ensure(lambda result: len(result) == HASH_SIZE, enabled=HOT)
def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1: the leaf hash ``SHA-256(0x00 || data)``."""
    return _sha256(_LEAF_PREFIX + data).digest()


@icontract.require(lambda left, right: _is_hash(left) and _is_hash(right), "32-byte children")
@icontract.ensure(lambda result: len(result) == HASH_SIZE)
def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: the interior node hash ``SHA-256(0x01 || left || right)``."""
    return _node(left, right)


# ---------------------------------------------------------------------------
# Storage of perfect subtrees
# ---------------------------------------------------------------------------


class NodeStore(Protocol):
    """Append-only storage of perfect-subtree hashes, keyed by ``(level, index)``.

    The node at ``(level, index)`` is the root of the perfect subtree over
    leaves ``index·2^level`` to ``(index+1)·2^level − 1``; level 0 holds the
    leaf hashes.  Each level is written strictly in index order and never
    rewritten, so ``count(0)`` is the tree size.  A persistent implementation
    belongs to the service shell; the core only needs these three calls.
    """

    def get(self, level: int, index: int) -> bytes:
        """The stored hash; ``KeyError`` if it was never put."""
        ...

    def put(self, level: int, index: int, digest: bytes) -> None:
        """Store ``digest``; ``index`` must equal ``count(level)``."""
        ...

    def count(self, level: int) -> int:
        """How many nodes are stored at ``level``."""
        ...


class MemoryNodeStore:
    """``NodeStore`` in memory: one ``bytearray`` of packed 32-byte hashes a level.

    About 64 bytes a leaf in total (32 for the leaf, 32 for all the levels above),
    so a log of a million entries takes some 64 MB.
    """

    __slots__ = ("_levels",)

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def get(self, level: int, index: int) -> bytes:
        if 0 <= level < len(self._levels) and index >= 0:
            row = self._levels[level]
            start = index * HASH_SIZE
            if start + HASH_SIZE <= len(row):
                return bytes(row[start : start + HASH_SIZE])
        raise KeyError((level, index))

    def put(self, level: int, index: int, digest: bytes) -> None:
        if len(digest) != HASH_SIZE:
            raise ValueError("a node hash is 32 bytes")
        while len(self._levels) <= level:
            self._levels.append(bytearray())
        row = self._levels[level]
        if index != len(row) // HASH_SIZE:
            raise RuntimeError(
                f"node store is append-only: level {level} has {len(row) // HASH_SIZE} "
                f"nodes, cannot put index {index}"
            )
        row += digest

    def count(self, level: int) -> int:
        return len(self._levels[level]) // HASH_SIZE if 0 <= level < len(self._levels) else 0


# ---------------------------------------------------------------------------
# The log
# ---------------------------------------------------------------------------


def _largest_power_of_two_below(n: int) -> int:
    """``k`` of RFC 9162 §2.1.1: the largest power of two smaller than ``n`` (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect_subtrees(begin: int, end: int) -> list[tuple[int, int]]:
    """``(level, index)`` of the perfect subtrees that make up ``D[begin:end]``, left first.

    Valid for the ranges the RFC 9162 recursion visits, whose start is aligned to
    the largest power of two not above their length.
    """
    nodes = []
    while begin < end:
        level = (end - begin).bit_length() - 1
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


class MerkleLog:
    """An append-only RFC 9162 Merkle tree over a ``NodeStore`` (RK-LOG-004).

    ``append`` adds a leaf hash; ``root``, ``inclusion_proof`` and
    ``consistency_proof`` answer for the current size or any earlier one
    (RK-LOG-009), each with O(log n) store reads.  Sizes outside the log are
    refused with ``tree-size-out-of-range``.

    Opening an existing store resumes it: the size is ``store.count(0)`` and
    parents missing after an interrupted ``append`` are recomputed.  If the
    store fails during ``append``, discard the object and open the store again.
    """

    __slots__ = ("_frontier", "_size", "_store")

    def __init__(self, store: NodeStore | None = None) -> None:
        self._store: NodeStore = MemoryNodeStore() if store is None else store
        self._size = self._store.count(0)
        self._complete_parents()
        # The right border: roots of the perfect subtrees of D[0:size], left first.
        self._frontier = [self._store.get(lv, ix) for lv, ix in _perfect_subtrees(0, self._size)]

    def _complete_parents(self) -> None:
        level = 0
        while (below := self._store.count(level)) > 1:
            for index in range(self._store.count(level + 1), below // 2):
                parent = _node(
                    self._store.get(level, 2 * index), self._store.get(level, 2 * index + 1)
                )
                self._store.put(level + 1, index, parent)
            level += 1

    @property
    def size(self) -> int:
        """The number of leaves (the current tree size)."""
        return self._size

    @icontract.require(
        lambda leaf: isinstance(leaf, bytes) and len(leaf) == HASH_SIZE,
        "a 32-byte leaf hash (see leaf_hash)",
        enabled=HOT,
    )
    @icontract.ensure(lambda self, result: self.size == result + 1, enabled=HOT)
    def append(self, leaf: bytes) -> int:
        """Append one leaf hash; return its index.

        Args:
            leaf: ``leaf_hash(entry)`` — the hash, not the entry itself.

        Returns:
            The index of the new leaf, which is the tree size before the call.
        """
        return self._append(leaf)

    @icontract.require(
        lambda leaves: all(isinstance(leaf, bytes) and len(leaf) == HASH_SIZE for leaf in leaves),
        "32-byte leaf hashes (see leaf_hash)",
    )
    @icontract.snapshot(lambda self: self.size, name="size")
    @icontract.ensure(
        lambda OLD, self, leaves, result: result == OLD.size and self.size == OLD.size + len(leaves)
    )
    def extend(self, leaves: Sequence[bytes]) -> int:
        """Append leaf hashes in order (a batch); return the index of the first.

        The same as ``append`` for each, with the contracts checked once per batch.
        """
        first = self._size
        for leaf in leaves:
            self._append(leaf)
        return first

    def _append(self, leaf: bytes) -> int:
        index = self._size
        if index >= MAX_TREE_SIZE:
            raise _out_of_range("the log is full (2^64 − 1 leaves)")
        store, frontier = self._store, self._frontier
        store.put(0, index, leaf)
        node, level, position = leaf, 0, index
        while position & 1:  # the new leaf completes the perfect subtree to its left
            level += 1
            node = _node(frontier[-level], node)
            position >>= 1
            store.put(level, position, node)
        # Only now, with every node stored, does the in-memory state move on.
        del frontier[len(frontier) - level :]
        frontier.append(node)
        self._size = index + 1
        return index

    def _subtree_hash(self, begin: int, end: int) -> bytes:
        """``MTH(D[begin:end])`` for a range of the RFC 9162 recursion (end > begin)."""
        get = self._store.get
        nodes = [get(level, index) for level, index in _perfect_subtrees(begin, end)]
        digest = nodes.pop()
        while nodes:
            digest = _node(nodes.pop(), digest)
        return digest

    def _check_size(self, size: int | None) -> int:
        if size is None:
            return self._size
        if not 0 <= size <= self._size:
            raise _out_of_range(f"tree size {size} is not between 0 and {self._size}")
        return size

    @icontract.ensure(lambda result: len(result) == HASH_SIZE, enabled=HOT)
    def root(self, size: int | None = None) -> bytes:
        """RFC 9162 §2.1.1: ``MTH(D[0:size])``, by default for the current size.

        :raises CallerError: ``tree-size-out-of-range`` unless ``0 ≤ size ≤ self.size``.
        """
        size = self._check_size(size)
        if size == 0:
            return EMPTY_ROOT
        if size == self._size:
            nodes = list(self._frontier)
            digest = nodes.pop()
            while nodes:
                digest = _node(nodes.pop(), digest)
            return digest
        return self._subtree_hash(0, size)

    @icontract.ensure(lambda result: all(len(node) == HASH_SIZE for node in result), enabled=HOT)
    @icontract.ensure(lambda result: len(result) <= 64, enabled=HOT)
    def inclusion_proof(self, index: int, size: int | None = None) -> tuple[bytes, ...]:
        """RFC 9162 §2.1.3.1: ``PATH(index, D[0:size])``, leaf to root.

        Args:
            index: the leaf, ``0 ≤ index < size``.
            size: the tree size the proof is for; by default the current size.

        :raises CallerError: ``tree-size-out-of-range`` unless ``0 ≤ index < size ≤ self.size``.
        """
        size = self._check_size(size)
        if not 0 <= index < size:
            raise _out_of_range(f"leaf index {index} is not below tree size {size}")
        path: list[bytes] = []
        begin, end = 0, size
        while end - begin > 1:  # PATH(m, D[n]) for the subtree D[begin:end]
            split = begin + _largest_power_of_two_below(end - begin)
            if index < split:  # PATH(m, D[0:k]) : MTH(D[k:n])
                path.append(self._subtree_hash(split, end))
                end = split
            else:  # PATH(m − k, D[k:n]) : MTH(D[0:k])
                path.append(self._subtree_hash(begin, split))
                begin = split
        path.reverse()
        return tuple(path)

    @icontract.ensure(lambda result: all(len(node) == HASH_SIZE for node in result))
    @icontract.ensure(
        lambda self, old_size, new_size, result: (
            (len(result) == 0) == (old_size == (self.size if new_size is None else new_size))
        ),
        "empty exactly when the sizes are equal",
    )
    def consistency_proof(self, old_size: int, new_size: int | None = None) -> tuple[bytes, ...]:
        """RFC 9162 §2.1.4.1: ``PROOF(old_size, D[0:new_size])``.

        Args:
            old_size: the earlier tree size ``m``, ``1 ≤ m ≤ new_size``.
            new_size: the later tree size ``n``; by default the current size.

        Returns:
            The proof nodes; empty when ``m = n`` (renkei's profile, RK-LOG-009).

        :raises CallerError: ``tree-size-out-of-range`` unless ``1 ≤ m ≤ n ≤ self.size``.
        """
        new_size = self._check_size(new_size)
        if not 1 <= old_size <= new_size:
            raise _out_of_range(
                f"consistency needs 1 ≤ first ≤ second; got first {old_size}, second {new_size}"
            )
        if old_size == new_size:
            return ()
        proof: list[bytes] = []
        begin, end, complete = 0, new_size, True  # SUBPROOF(m, D[begin:end], b)
        while old_size != end:
            split = begin + _largest_power_of_two_below(end - begin)
            if old_size <= split:  # SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
                proof.append(self._subtree_hash(split, end))
                end = split
            else:  # SUBPROOF(m − k, D[k:n], false) : MTH(D[0:k])
                proof.append(self._subtree_hash(begin, split))
                begin, complete = split, False
        if not complete:  # SUBPROOF(m, D[m], false) = {MTH(D[m])}
            proof.append(self._subtree_hash(begin, end))
        proof.reverse()
        return tuple(proof)


# ---------------------------------------------------------------------------
# Verification (pure)
# ---------------------------------------------------------------------------


def _valid_nodes(proof: Sequence[bytes]) -> bool:
    return all(_is_hash(node) for node in proof)


@icontract.ensure(lambda index, size: 0 <= index < size, "only in-range claims verify")
def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2: check that ``leaf`` is at ``index`` in the tree ``(size, root)``.

    Args:
        leaf: the leaf hash (``leaf_hash(entry)``).
        index: its index, ``0 ≤ index < size``.
        size: the tree size of ``root``.
        proof: the inclusion path, leaf to root.
        root: the tree head to check against.

    :raises ProofError: for any failure — the one opaque error.
    """
    if not (
        isinstance(index, int)
        and isinstance(size, int)
        and 0 <= index < size <= MAX_TREE_SIZE
        and _is_hash(leaf)
        and _is_hash(root)
        and _valid_nodes(proof)
    ):
        raise ProofError()
    fn, sn, r = index, size - 1, leaf  # steps 2 and 3
    for p in proof:  # step 4
        if sn == 0:
            raise ProofError()
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or not hmac.compare_digest(r, root):  # step 5
        raise ProofError()


@icontract.ensure(lambda old_size, new_size: 1 <= old_size <= new_size, "only 1 ≤ m ≤ n verify")
def verify_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> None:
    """RFC 9162 §2.1.4.2: check that tree ``(new_size, new_root)`` extends ``(old_size, old_root)``.

    renkei's profile (RK-LOG-009): ``1 ≤ old_size ≤ new_size``; for equal sizes
    the proof must be empty and the roots equal.

    :raises ProofError: for any failure — the one opaque error.
    """
    if not (
        isinstance(old_size, int)
        and isinstance(new_size, int)
        and 1 <= old_size <= new_size <= MAX_TREE_SIZE
        and _is_hash(old_root)
        and _is_hash(new_root)
        and _valid_nodes(proof)
    ):
        raise ProofError()
    if old_size == new_size:
        if proof or not hmac.compare_digest(old_root, new_root):
            raise ProofError()
        return
    if not proof:  # step 1
        raise ProofError()
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # step 2: first is an exact power of 2
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1  # step 3
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]  # step 5
    for c in path[1:]:  # step 6
        if sn == 0:
            raise ProofError()
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    # step 7
    if sn != 0 or not (hmac.compare_digest(fr, old_root) & hmac.compare_digest(sr, new_root)):
        raise ProofError()


@icontract.ensure(lambda index, size, result: not result or 0 <= index < size)
def is_valid_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> bool:
    """``verify_inclusion`` as a ``bool``."""
    try:
        verify_inclusion(leaf, index, size, proof, root)
    except ProofError:
        return False
    return True


@icontract.ensure(lambda old_size, new_size, result: not result or 1 <= old_size <= new_size)
def is_valid_consistency(
    old_size: int, new_size: int, proof: Sequence[bytes], old_root: bytes, new_root: bytes
) -> bool:
    """``verify_consistency`` as a ``bool``."""
    try:
        verify_consistency(old_size, new_size, proof, old_root, new_root)
    except ProofError:
        return False
    return True
