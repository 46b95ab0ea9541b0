"""Checks of the hub's stored logs against themselves (RK-LOG-010; issue 16 item 3).

Theory of operation.  The durable store (services.log_store) holds, for each
log, one row a leaf — serial, leaf hash, the record (NULL once purged) and the
purge time — and the perfect-subtree node hashes of its Merkle tree; beside
them the latest signed checkpoint of each log.  Anyone able to write the file
could change any of it.  Nothing read back is believed until it is checked:

* **Record → leaf.**  The record is parsed and written again: it must be the
  very text the hub stored (records are canonical JSON, so one changed byte
  anywhere, even one that parses to the same value, is a mismatch).  The leaf
  recomputed from it (core.access_log ``leaf_bytes``: every member but the
  person's ID code, and ``person_digest`` for the person; the administrative
  record is its own leaf) must hash (RFC 9162) to the stored leaf hash, and
  its serial must be the row's.
* **Person → leaf.**  ``person_digest`` is HMAC-SHA256, under a key only the
  hub holds, of the entry's salt and the *resident code* behind the stored ID
  code.  The resident code is what stays fixed while the stored ID code does
  not: a key rotation re-makes the stored ID code under the new version, and a
  changed resident code keeps its first ID code through an alias (RK-IDC-003),
  so the digest checks after either.  Keyed, because a resident code has only
  10¹¹ values: a plain salted hash in a leaf, which agencies receive in
  receipts, would give the person away to a guess.  Salted, so that two leaves
  of one person share nothing.  A purge deletes the record and its salt: the
  digest left in the leaf hash then says nothing of anyone (RK-RET-003).
* **Leaf hash → tree.**  The stored leaf hashes are the tree's level 0; every
  stored node must be the hash of its two stored children, level by level up
  to the root, and the root at the size of the latest signed checkpoint must
  be that checkpoint's, whose signature is checked with the hub's own public
  key — so a consistent rewrite of records, hashes and nodes together is
  caught too, up to the last checkpoint signed.  ``check_tree`` does it for a
  whole tree in one streaming pass; a hub start does it for the levels it
  holds (``check_upper``: the levels from the cached one up and the block not
  yet complete, ≈ N / 2^cached hashes) and leaves the rest to:
* **Nodes read later.**  Lower levels are read from the store when a proof
  needs them or an entry is read against its leaf; each read recomputes the
  aligned block of leaves under a node held in memory (verified at start) and
  compares (``block_levels``).
* **Purge time.**  A purged row's ``purged_at`` must be the time of an
  administrative ``purge`` entry whose ranges cover its serial.

A mismatch raises ``LogTamperedError``, naming the log, the row or node and
the field; it is never served.
"""

from __future__ import annotations

import hashlib
import hmac as _stdlib_hmac
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .access_log import AccessLogEntry, entry_from_record, entry_record, leaf_bytes
from .admin_log import AdminEvent, AdminLogEntry, admin_entry_from_record, admin_leaf_bytes
from .errors import RenkeiError
from .identifiers import ResidentCode
from .merkle import HASH_SIZE

__all__ = [
    "PERSON_KEY_INFO",
    "BlockCheck",
    "LogBehindWitnessError",
    "LogTamperedError",
    "StateFileError",
    "VerifiedTree",
    "block_levels",
    "check_access_record",
    "check_admin_record",
    "check_person",
    "check_purged",
    "check_tree",
    "check_upper",
    "person_digest",
    "person_key",
    "purge_times",
]


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 §2.1.1 ``SHA-256(0x00 || leaf)``, as core.merkle's ``leaf_hash``
    without its contract: it runs for every stored row."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 ``SHA-256(0x01 || left || right)``, as core.merkle's
    ``node_hash`` without its contracts: it runs for every node of a stored tree."""
    return hashlib.sha256(b"\x01" + left + right).digest()


PERSON_KEY_INFO = b"renkei/hub/person-digest/v1"
"""HKDF info of the person-digest key, derived from the hub's log signing key."""


class LogTamperedError(RenkeiError):
    """A stored log row or tree node does not match what it must (HTTP 500).

    ``log`` (``access``, ``admin``), ``where`` (``serial 12``, ``node level 3
    index 5``, ``checkpoint``) and ``field`` (``entry``, ``leaf_hash``,
    ``purged_at``, ``hash``, ``person``…) say what was found changed.
    """

    status_hint = 500

    def __init__(self, log: str, where: str, field: str, why: str) -> None:
        super().__init__(
            "log-tampered",
            f"the stored {log} log was changed: {where}, {field}: {why}; nothing of it is served",
            "RK-LOG-010",
            {"log": log, "location": where, "field": field},
        )
        self.log, self.where, self.field = log, where, field


class LogBehindWitnessError(LogTamperedError):
    """The stored log is behind, or apart from, the checkpoint its witness holds
    (RK-LOG-011): restored from an older copy, or its latest writes lost."""

    def __init__(self, log: str, why: str) -> None:
        super().__init__(log, "witnessed checkpoint", "tree", why)
        self.requirement = "RK-LOG-011"
        self.detail = (
            f"the stored {log} log is not the one whose checkpoint was witnessed: {why}; "
            "the hub does not start on a store older than a checkpoint it signed"
        )
        self.args = (self.problem, self.detail, self.requirement)


class StateFileError(LogTamperedError):
    """A file of the hub's state folder beside the store (``keys.json``,
    ``log-signer.key``) that cannot be read as the hub wrote it — cut short,
    garbled, missing while the state it keys exists, or its seal not verifying
    (RK-LOG-010): the hub refuses to start on it, naming the file."""

    def __init__(self, path: str, why: str) -> None:
        super().__init__("state", path, "file", why)
        self.detail = (
            f"the hub's state file {path} is damaged or was changed: {why}; "
            "the hub does not start on it"
        )
        self.args = (self.problem, self.detail, self.requirement)


# -- the person, bound into the leaf ----------------------------------------


def person_key(secret: bytes) -> bytes:
    """The 256-bit key of ``person_digest``: HKDF-SHA256 of a hub-held secret
    (the log signing key's private bytes) with ``PERSON_KEY_INFO``."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PERSON_KEY_INFO).derive(
        secret
    )


def person_digest(key: bytes, salt: bytes, resident: ResidentCode) -> bytes:
    """HMAC-SHA256(key, salt ‖ resident code): the person as the leaf holds it."""
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(salt)
    mac.update(resident.value.encode("ascii"))
    return mac.finalize()


def check_person(
    log: str, entry: AccessLogEntry, key: bytes, resident: ResidentCode | None
) -> None:
    """The stored person is the one the leaf binds (``resident``: the resident
    code behind ``entry.person``, None if it could not be recovered).

    :raises LogTamperedError: field ``person``.
    """
    if entry.leaf_version < 2:
        return  # a version-1 leaf does not bind the person
    where = f"serial {entry.serial}"
    if (entry.person is None) != (entry.person_digest is None):
        raise LogTamperedError(log, where, "person", "a person without its digest or the reverse")
    if entry.person is None or entry.person_digest is None:
        return
    if resident is None:
        raise LogTamperedError(log, where, "person", "the stored ID code does not authenticate")
    if not _stdlib_hmac.compare_digest(
        person_digest(key, entry.salt, resident), entry.person_digest
    ):
        raise LogTamperedError(log, where, "person", "not the person the leaf binds")


# -- records → leaves --------------------------------------------------------


def _text(log: str, where: str, column: str, value: object) -> str:
    if not isinstance(value, str):
        raise LogTamperedError(log, where, column, "not text")
    return value


def _same_hash(log: str, where: str, computed: bytes, stored: object) -> None:
    """The record's leaf hashes to the stored leaf hash — which ``SignedLog.rows``
    has already found equal to the tree's leaf, so a mismatch is the record's."""
    if not isinstance(stored, bytes) or not _stdlib_hmac.compare_digest(computed, stored):
        raise LogTamperedError(log, where, "entry", "does not hash to its leaf in the tree")


_Entry = TypeVar("_Entry", AccessLogEntry, AdminLogEntry)


def check_access_record(
    log: str,
    serial: int,
    stored_hash: object,
    record: object,
    shared: dict[str, str] | None = None,
) -> AccessLogEntry:
    """The entry of a stored access-log row, once its record is found to be
    exactly ``entry_record`` of it and its leaf to hash to ``stored_hash``.

    :raises LogTamperedError: field ``entry``.
    """

    def parse(text: str) -> tuple[AccessLogEntry, bool, bytes]:
        entry = entry_from_record(text, shared)
        return entry, entry_record(entry) == text, leaf_bytes(entry)

    return _checked_record(log, serial, stored_hash, record, parse)


def _checked_record(
    log: str,
    serial: int,
    stored_hash: object,
    record: object,
    parse: Callable[[str], tuple[_Entry, bool, bytes]],
) -> _Entry:
    """``parse`` gives the entry of a record, whether the record is its canonical
    text, and its leaf; the entry is returned once all of that holds."""
    where = f"serial {serial}"
    text = _text(log, where, "entry", record)
    try:
        entry, canonical, leaf = parse(text)
    except (ValueError, TypeError, UnicodeError) as exc:
        raise LogTamperedError(log, where, "entry", f"not a record ({exc})") from None
    if not canonical:
        raise LogTamperedError(log, where, "entry", "not the text the hub wrote")
    if entry.serial != serial:
        raise LogTamperedError(log, where, "entry", f"holds serial {entry.serial}")
    _same_hash(log, where, leaf_hash(leaf), stored_hash)
    return entry


def check_admin_record(log: str, serial: int, stored_hash: object, record: object) -> AdminLogEntry:
    """The entry of a stored administrative-log row, checked as
    ``check_access_record`` checks an access-log row (the record is the leaf).

    :raises LogTamperedError: field ``entry``.
    """

    def parse(text: str) -> tuple[AdminLogEntry, bool, bytes]:
        entry, leaf = admin_entry_from_record(text), text.encode()
        return entry, admin_leaf_bytes(entry) == leaf, leaf

    return _checked_record(log, serial, stored_hash, record, parse)


def purge_times(admin: Sequence[AdminLogEntry]) -> dict[str, list[tuple[int, int]]]:
    """``purged_at`` text → the serial ranges purged then, from the
    administrative log's ``purge`` entries (the only source of a purge)."""
    out: dict[str, list[tuple[int, int]]] = {}
    for e in admin:
        if e.event is AdminEvent.PURGE and e.details.get("log_class") == "hub-access-log":
            ranges = e.details.get("ranges")
            if isinstance(ranges, list):
                spans = out.setdefault(e.at.isoformat(), [])
                for r in ranges:
                    if isinstance(r, list) and len(r) == 2 and all(isinstance(x, int) for x in r):
                        spans.append((r[0], r[1]))
    return out


def check_purged(
    log: str, serial: int, purged_at: object, times: dict[str, list[tuple[int, int]]]
) -> datetime:
    """The purge time of a purged row, once an administrative ``purge`` entry of
    that time covers its serial.  :raises LogTamperedError: field ``purged_at``."""
    where = f"serial {serial}"
    text = _text(log, where, "purged_at", purged_at)
    spans = times.get(text, [])
    if not any(first <= serial <= last for first, last in spans):
        raise LogTamperedError(
            log, where, "purged_at", "no administrative purge entry of that time covers it"
        )
    return datetime.fromisoformat(text)


# -- the tree -----------------------------------------------------------------


@dataclass
class VerifiedTree:
    """A stored tree after ``check_tree``: the node count of each level, the
    levels from the cached level up, and below it the nodes of the block not
    yet complete (every other lower node has an ancestor among ``upper``)."""

    counts: list[int] = field(default_factory=list)
    upper: list[bytes] = field(default_factory=list)
    tail: list[bytes] = field(default_factory=list)


def check_tree(
    log: str,
    size: int,
    cached_level: int,
    stored: Callable[[int], Iterator[tuple[int, object]]],
) -> VerifiedTree:
    """Recompute a stored tree bottom-up from its stored leaf hashes, checking
    every stored node against the hash of its children as it goes.

    Args:
        log: the log's name (for the error).
        size: the tree size (the number of stored leaves).
        cached_level: levels from this one up are returned whole.
        stored: level → the stored ``(index, hash)`` rows of that level in
            index order (streamed; one pass a level, a pending node a level).

    :raises LogTamperedError: a node missing, extra, out of place or not the
        hash of its children (fields ``nodes``, ``idx``, ``hash``).
    """
    top = size.bit_length()  # levels 0 .. top-1 hold nodes
    streams = [stored(level) for level in range(top + 1)]
    counts = [size >> level for level in range(top)]
    upper = [bytearray() for _ in range(max(0, top - cached_level))]
    tail = [bytearray() for _ in range(min(top, cached_level))]
    left: list[bytes] = [b""] * (top + 1)
    complete = size >> cached_level  # blocks below the cached level that are whole

    def read(level: int, index: int) -> bytes:
        where = f"node level {level} index {index}"
        row = next(streams[level], None)
        if row is None:
            raise LogTamperedError(log, where, "nodes", "missing")
        found, digest = row
        if found != index:
            raise LogTamperedError(log, where, "idx", f"found index {found} in its place")
        if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
            raise LogTamperedError(log, where, "hash", "not a 32-byte hash")
        return digest

    def keep(level: int, index: int, digest: bytes) -> None:
        if level >= cached_level:
            upper[level - cached_level] += digest
        elif index >= complete << (cached_level - level):
            tail[level] += digest

    try:
        for i in range(size):
            digest, level, index = read(0, i), 0, i
            keep(0, i, digest)
            while index & 1:  # a right child: its parent is complete
                parent = node_hash(left[level], digest)
                level, index = level + 1, index >> 1
                if not _stdlib_hmac.compare_digest(parent, read(level, index)):
                    raise LogTamperedError(
                        log, f"node level {level} index {index}", "hash", "not its children's hash"
                    )
                digest = parent
                keep(level, index, digest)
            left[level] = digest
        for level, stream in enumerate(streams):  # nothing stored beyond the tree
            extra = next(stream, None)
            if extra is not None:
                raise LogTamperedError(
                    log, f"node level {level} index {extra[0]}", "nodes", "not in the tree"
                )
    finally:
        for stream in streams:
            close = getattr(stream, "close", None)
            if close is not None:
                close()
    return VerifiedTree(counts, [bytes(r) for r in upper], [bytes(r) for r in tail])


def block_levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    """Every perfect-subtree node over ``leaves`` (a block aligned to its
    length, a power of two), level by level from the leaves to the block's root."""
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


@dataclass(frozen=True)
class BlockCheck:
    """A verified block below the cached level: ``levels[l][i]`` is the node
    ``(l, first >> l + i)``."""

    first: int
    levels: list[list[bytes]]

    def get(self, level: int, index: int) -> bytes | None:
        i = index - (self.first >> level)
        if 0 <= level < len(self.levels) and 0 <= i < len(self.levels[level]):
            return self.levels[level][i]
        return None


def check_upper(
    log: str,
    size: int,
    cached_level: int,
    upper: Sequence[bytes],
    tail: Callable[[int, int], Iterator[tuple[int, object]]],
) -> VerifiedTree:
    """Check a stored tree at start without reading its lower levels whole:
    the levels from ``cached_level`` up (``upper``, packed hashes as stored)
    must each be the hashes of the level below, and the nodes below it in the
    block of ``2^cached_level`` leaves not yet complete (``tail(level, first)``:
    the stored ``(index, hash)`` rows of ``level`` from index ``first`` on)
    must be the hashes of the stored tail leaves.  Every other lower node has
    an ancestor in ``upper`` and is checked against it when it is read
    (``BlockCheck``); the root, from ``upper`` and the tail, is checked against
    the signed checkpoint by the caller (RK-LOG-010).

    :raises LogTamperedError: a node missing, extra, out of place or not the
        hash of its children (fields ``nodes``, ``idx``, ``hash``).
    """
    top = size.bit_length()
    counts = [size >> level for level in range(top)]
    if len(upper) != max(0, top - cached_level):
        raise LogTamperedError(log, f"node level {cached_level}", "nodes", "levels missing")
    for k, row in enumerate(upper):
        level = cached_level + k
        if len(row) != counts[level] * HASH_SIZE:
            raise LogTamperedError(log, f"node level {level}", "nodes", "missing or extra")
        if k == 0:
            continue
        below = upper[k - 1]
        for i in range(counts[level]):
            at, mid = 2 * i * HASH_SIZE, (2 * i + 1) * HASH_SIZE
            parent = node_hash(below[at:mid], below[mid : mid + HASH_SIZE])
            if not _stdlib_hmac.compare_digest(parent, row[i * HASH_SIZE : (i + 1) * HASH_SIZE]):
                raise LogTamperedError(
                    log, f"node level {level} index {i}", "hash", "not its children's hash"
                )
    first = (size >> cached_level) << cached_level  # the first leaf of the incomplete block
    held: list[bytes] = []
    below_nodes: list[bytes] = []
    for level in range(min(top, cached_level)):
        start, end = first >> level, counts[level]
        rows = tail(level, start)
        nodes: list[bytes] = []
        try:
            for index in range(start, end):
                where = f"node level {level} index {index}"
                got = next(rows, None)
                if got is None:
                    raise LogTamperedError(log, where, "nodes", "missing")
                found, digest = got
                if found != index:
                    raise LogTamperedError(log, where, "idx", f"found index {found} in its place")
                if not isinstance(digest, bytes) or len(digest) != HASH_SIZE:
                    raise LogTamperedError(log, where, "hash", "not a 32-byte hash")
                left = 2 * (index - start)
                if level and not _stdlib_hmac.compare_digest(
                    digest, node_hash(below_nodes[left], below_nodes[left + 1])
                ):
                    raise LogTamperedError(log, where, "hash", "not its children's hash")
                nodes.append(digest)
            extra = next(rows, None)
            if extra is not None:
                raise LogTamperedError(
                    log, f"node level {level} index {extra[0]}", "nodes", "not in the tree"
                )
        finally:
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        below_nodes = nodes
        held.append(b"".join(nodes))
    return VerifiedTree(counts, [bytes(r) for r in upper], held)
