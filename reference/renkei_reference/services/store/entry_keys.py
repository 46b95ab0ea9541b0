"""Log entries sealed at rest under keys kept outside the store (RK-RET-003, RK-LOG-010).

A purged entry must not be recoverable from anything the hub keeps.  A database
does not forget on update: the blanked row's old text stays in SQLite's
write-ahead log (a reader's open transaction keeps it from being reset), in
PostgreSQL's old tuple versions and WAL segments, and in every backup.  So the
store never holds an entry's text — its salt, which keys the person digest bound
into the leaf, included — in the clear: each entry is sealed (AES-256-GCM) under a
key of its own, and the key lives in a key file of its log in the state folder
(``access-log.keys``, ``admin-log.keys``), outside the database.  Purging an entry
overwrites its key with zeros: whatever copy of the sealed entry remains can no
longer be opened (crypto-shredding).

* **Key file.**  Slot ``serial`` (32 bytes at offset ``32 × serial``) holds the key
  of the log's entry ``serial``; slot 0 holds the file's header.  One key an
  entry, because retention purges entry by entry and a legal hold keeps one entry
  past its period (RK-RET-001): a held entry keeps its key, nothing is re-keyed.
  The file grows by 32 bytes an entry (0.3 GB at 10⁷ entries).
* **Order (kill -9 at any instant).**  The store's writer seals a batch before it
  commits it, and the key file is ``fdatasync``-ed before the commit whenever keys
  were written: a committed entry always has its key on disk.  Keys are made
  ``AHEAD`` serials at a time (one ``pwrite``, one ``fdatasync`` for 1024 entries,
  not one a batch); the keys of serials not committed yet, or never (a crash), are
  orphan slots, replaced when the serial is appended after a start.  A purge lists
  its serials in ``log-keys.shred`` (fsynced) before its batch commits; once the
  batch is committed the slots are overwritten with zeros and the file is
  ``fdatasync``-ed before anyone waiting on the commit is answered, and the list is
  removed.  Killed in between, the next start overwrites the keys of the listed
  entries the store holds purged.
* **Stored form.**  ``{"sealed":"<base64 nonce ‖ ciphertext>","linkage_id":…,
  "person":…,"request_id":…}``: the record's indexed members (services.store
  ``INDEXED``) are replaced by keyed 64-bit tags (BLAKE2b under a key derived from
  the log signing key), so the store's indexes still find an entry by linkage id,
  person or request id without holding any of them.  The associated data binds the
  log, the serial and the tags.  Each key is fresh, so an entry's first seal
  uses the zero nonce; a rewrite (an ID-key rotation re-making the person) seals
  again under the same key with a random nonce.
* **Checked on read.**  A stored form that is not exactly what the hub writes, a
  zeroed or changed key, or a changed byte of the ciphertext, serial or tags fails
  to open: the row is handed to the hub's checks as it is stored, which refuse it
  as any changed entry (500 ``log-tampered``, recorded; no start where the start
  reads it).  A key file that is missing or cut short while the store holds
  entries sealed under its keys stops the start (``StateFileError``).
* **Cost.**  About 8 µs of CPU a sealed access entry in a tight loop (AES-GCM,
  base64, the tags).  In benchmarks.hub_flow_cost under callgrind the hub does
  0.64 M more instructions a linkage than without sealing (9.58 M against 8.95 M,
  +7 %), 0.53 M of them on the store's writer: besides sealing, SQLite handles a
  stored form about 1.5 times the record's size, which no longer fits in a leaf
  page of the ``WITHOUT ROWID`` table (overflow pages).  The ciphertext in a BLOB
  column of its own (no base64) would keep rows under that limit.
* **Older stores.**  A row written before entries were sealed is read as it is
  (its leaf hash vouches for it); it is found through the index by its own text.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import stat
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ...core.log_integrity import StateFileError

__all__ = [
    "INDEXED_MEMBERS",
    "KEY",
    "SEALED_START",
    "SHRED_FILE",
    "EntryKeys",
    "associated_data",
    "index_tag_key",
    "key_file",
]

SEALED_START = '{"sealed":"'
"""How a sealed entry's stored form begins (a record in the clear begins otherwise)."""
SHRED_FILE = "log-keys.shred"
"""The serials whose purge is being committed, whose keys are overwritten next."""
KEY = 32
AHEAD = 1024
"""Keys made (and made durable) at a time, for the next serials of a log (32 KiB)."""
_ZERO = bytes(KEY)
_MAGIC = b"renkei log entry keys v1".ljust(24, b"\0")
"""Slot 0: this, then the first serial sealed (8 bytes, big-endian): the rows before
it were written in the clear by a hub from before entries were sealed."""
_NONCE = 12
_FIRST = bytes(_NONCE)
_KNOWN = 4096
"""Recent tags remembered: a linkage's entries share its id, person and request id."""
_TAG_INFO = b"renkei log entry index tags v1"
INDEXED_MEMBERS = ("linkage_id", "person", "request_id")
"""The record members the store indexes (services.store.log_store ``INDEXED``)."""

_NAMES = tuple((field, f'"{field}":') for field in INDEXED_MEMBERS)
"""An indexed member's name as a canonical record writes it."""
_DECODER = json.JSONDecoder()

FirstSealed = Callable[[str, int], "int | None"]
"""The store's lowest serial of a log, from a given one on, holding a sealed entry."""


def index_tag_key(secret: bytes) -> bytes:
    """The key of the index tags: HKDF-SHA256 of the log signing key's private bytes."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_TAG_INFO).derive(secret)


def key_file(folder: Path, log: str) -> Path:
    """The key file of one log's entries."""
    return folder / f"{log}-log.keys"


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _KeyFile:
    """One log's key file: slot ``serial`` is its entry's key."""

    def __init__(
        self, path: Path, log: str, first_sealed: FirstSealed, stored: Callable[[str], int]
    ) -> None:
        self.path = path
        if not path.exists():
            held = first_sealed(log, 1)
            if held is not None:
                raise StateFileError(
                    str(path),
                    f"missing, while the store holds {log}-log entries sealed under its keys "
                    f"(serial {held} on; RK-RET-003 keeps every entry's key there)",
                )
            # written whole under another name, then renamed: a kill never leaves a
            # key file without its header
            fresh = path.with_name(path.name + ".new")
            fd = os.open(fresh, os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            os.pwrite(fd, _MAGIC + (stored(log) + 1).to_bytes(8, "big"), 0)
            os.fsync(fd)
            os.rename(fresh, path)
            _fsync_dir(path.parent)
        else:
            try:
                fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW)
            except OSError as exc:
                raise StateFileError(str(path), f"cannot be opened ({exc.strerror})") from None
            if not stat.S_ISREG(os.fstat(fd).st_mode) or os.pread(fd, 24, 0) != _MAGIC:
                os.close(fd)
                raise StateFileError(str(path), "not a key file of the log's entries")
        self._fd = fd
        self.sealed_from = int.from_bytes(os.pread(fd, KEY, 0)[24:], "big")
        slots = os.fstat(fd).st_size // KEY
        past = first_sealed(log, slots)
        if past is not None:
            os.close(fd)
            raise StateFileError(
                str(path),
                f"cut short: it holds keys up to serial {slots - 1}, the store holds "
                f"{log}-log entry {past} sealed under a key past its end",
            )
        self.dirty = False

    def write(self, first: int, keys: bytes) -> None:
        os.pwrite(self._fd, keys, first * KEY)
        self.dirty = True

    def read(self, serial: int) -> bytes:
        return os.pread(self._fd, KEY, serial * KEY)

    def sync(self) -> None:
        if self.dirty:
            self.dirty = False
            os.fdatasync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


class EntryKeys:
    """The key files of a store's logs (see the module docstring).

    ``seal`` and ``shred`` run on the store's writer thread; ``open`` on readers.
    """

    def __init__(self, folder: Path, tag_key: bytes) -> None:
        self.folder = folder
        self._mac = hashlib.blake2b(key=tag_key, digest_size=8)  # copied for each tag
        self._known: dict[tuple[str, str, str], str] = {}  # recent tags (a linkage's entries)
        self._files: dict[str, _KeyFile] = {}
        self._first_sealed: FirstSealed | None = None
        self._stored: Callable[[str], int] = lambda log: 0
        self._pending: dict[tuple[str, int], bytes] = {}  # keys of batches not yet committed
        self._ahead: dict[str, tuple[int, bytes]] = {}  # log → first serial, keys made ahead
        self._lock = threading.Lock()

    # -- opening ---------------------------------------------------------------
    def attach(
        self,
        logs: Iterable[str],
        first_sealed: FirstSealed,
        purged: Callable[[str, int], bool],
        stored: Callable[[str], int],
    ) -> None:
        """Open each log's key file (refusing a missing or short one, see
        ``_KeyFile``) and overwrite the keys of entries whose purge committed
        before the hub was stopped (``purged``: the store holds the row purged)."""
        self._first_sealed, self._stored = first_sealed, stored
        for log in logs:
            self._file(log)
        listed = self.folder / SHRED_FILE
        if listed.exists():
            for line in listed.read_text(encoding="ascii", errors="replace").splitlines():
                log, _, serial = line.partition(" ")
                if log in self._files and serial.isdigit() and purged(log, int(serial)):
                    self._files[log].write(int(serial), _ZERO)
            for f in self._files.values():
                f.sync()
            listed.unlink()

    def _file(self, log: str) -> _KeyFile:
        with self._lock:
            found = self._files.get(log)
            if found is None:
                if self._first_sealed is None:
                    raise RuntimeError("the entry keys are not attached to a store")
                path = key_file(self.folder, log)
                found = _KeyFile(path, log, self._first_sealed, self._stored)
                self._files[log] = found
            return found

    def in_the_clear(self, log: str) -> bool:
        """Whether the store may hold rows of ``log`` written in the clear (by a
        hub from before entries were sealed), which its index holds by their text."""
        return self._file(log).sealed_from > 1

    # -- the index tags ----------------------------------------------------------
    def tag(self, log: str, field: str, value: str) -> str:
        """The stored tag of an indexed member's value (16 hex digits)."""
        known = self._known.get((log, field, value))
        if known is not None:
            return known
        mac = self._mac.copy()
        mac.update(f"{log}\0{field}\0{value}".encode("utf-8", "surrogateescape"))
        tag = mac.hexdigest()
        if len(self._known) >= _KNOWN:
            self._known.clear()
        self._known[(log, field, value)] = tag
        return tag

    def _members(self, log: str, record: str) -> str:
        """The stored index members of an access-log record: each indexed member's
        tag, in ``INDEXED_MEMBERS`` order (found in its canonical text, as the store's
        indexes find a member: an unescaped ``"name":`` is a member's name, never
        part of a string)."""
        if log != "access":
            return ""  # only the access log is looked up through the indexes
        out = ""
        for field, name in _NAMES:
            at = record.find(name)
            if at < 0:
                continue
            at += len(name)
            end = record.find('"', at + 1) if record.startswith('"', at) else -1
            value: object = record[at + 1 : end]  # a string without escapes: most are
            if end < 0 or "\\" in record[at:end]:
                try:
                    value, _ = _DECODER.raw_decode(record, at)
                except ValueError:
                    continue
            if value is None:
                out += f',"{field}":null'
            elif isinstance(value, str):
                out += f',"{field}":"{self.tag(log, field, value)}"'
        return out

    # -- sealing (the writer) ----------------------------------------------------
    def seal(self, entries: Sequence[tuple[str, int, str]]) -> list[str]:
        """The stored forms of a batch's new entries ``(log, serial, record)``, each
        under its serial's key (``_key``; ``sync`` makes keys written durable before
        the commit).  A batch retried after a failed commit keeps the keys it had."""
        out = []
        for log, serial, record in entries:
            key = self._pending.get((log, serial))
            if key is None:
                key = self._pending[(log, serial)] = self._key(log, serial)
            out.append(self._sealed(log, serial, record, key))
        return out

    def _key(self, log: str, serial: int) -> bytes:
        """A fresh key for entry ``serial``: keys are made ``AHEAD`` serials at a time
        (one ``pwrite`` and, before the commit, one ``fdatasync`` for them all), so
        a key is on disk before any entry sealed under it is committed.  The keys of
        serials never committed (a crash) are orphans, replaced when the serial is
        appended again: the first key made after a start is at the serial appended."""
        first, material = self._ahead.get(log, (0, b""))
        at = (serial - first) * KEY
        if not 0 <= at < len(material):
            first, material, at = serial, os.urandom(KEY * AHEAD), 0
            self._file(log).write(serial, material)
            self._ahead[log] = (first, material)
        return material[at : at + KEY]

    def reseal(self, log: str, serial: int, record: str) -> str:
        """A rewritten entry's stored form, under the key its serial has and a
        random nonce (the first seal under a key used the zero nonce).  An entry
        written in the clear before entries were sealed has no key: it gets one
        now (durable before the rewrite commits; killed before, the row is still
        the one in the clear)."""
        key = self._pending.get((log, serial))
        if key is None:
            key = self._file(log).read(serial)
            if len(key) != KEY or key == _ZERO:
                key = os.urandom(KEY)
                self._file(log).write(serial, key)
            self._pending[(log, serial)] = key
        return self._sealed(log, serial, record, key, os.urandom(_NONCE))

    def _sealed(self, log: str, serial: int, record: str, key: bytes, nonce: bytes = _FIRST) -> str:
        """The stored form of ``record`` sealed under ``key`` with ``nonce``: the zero
        nonce for an entry's first seal, as each key is fresh (a batch sealed again
        after a failed commit is the same record, sealed the same)."""
        members = self._members(log, record)
        try:
            plain = record.encode()
        except UnicodeEncodeError:  # text read back with a byte that is not UTF-8
            plain = record.encode("utf-8", "surrogateescape")
        data = AESGCM(key).encrypt(nonce, plain, associated_data(log, serial, members))
        sealed = binascii.b2a_base64(nonce + data, newline=False).decode("ascii")
        return f'{SEALED_START}{sealed}"{members}}}'

    def sync(self) -> None:
        """Make the keys written so far durable (the writer, before each commit)."""
        for f in list(self._files.values()):
            f.sync()

    def committed(self) -> None:
        """The batch the pending keys were made for is committed."""
        self._pending.clear()

    # -- shredding (the writer) --------------------------------------------------
    def before_purge(self, purged: Sequence[tuple[str, int]]) -> None:
        """List the serials a batch purges, durably, before it commits."""
        listed = self.folder / SHRED_FILE
        fd = os.open(listed, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW, 0o600)
        try:
            os.write(fd, "".join(f"{log} {serial}\n" for log, serial in purged).encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(self.folder)

    def shred(self, purged: Sequence[tuple[str, int]]) -> None:
        """The purge is committed: overwrite its entries' keys, durably, then drop the list."""
        for log, serial in purged:
            self._file(log).write(serial, _ZERO)
        self.sync()
        (self.folder / SHRED_FILE).unlink(missing_ok=True)

    # -- reading -------------------------------------------------------------------
    def open(self, log: str, serial: int, stored: str | None) -> str | None:
        """The record a stored form holds; a record stored in the clear (before
        entries were sealed) as it is; a sealed form that does not open (changed,
        its key changed or shredded) as it is stored, which the hub's checks refuse."""
        if not isinstance(stored, str) or not stored.startswith(SEALED_START):
            return stored  # None (purged), in the clear, or not text (the checks refuse it)
        end = stored.find('"', len(SEALED_START))
        if end < 0 or not stored.endswith("}"):
            return stored
        sealed, members = stored[len(SEALED_START) : end], stored[end + 1 : -1]
        try:
            raw = base64.b64decode(sealed, validate=True)
            if base64.b64encode(raw).decode("ascii") != sealed:  # one encoding only
                return stored
            key = self._file(log).read(serial)
            if len(key) != KEY or key == _ZERO or len(raw) < _NONCE + 16:
                return stored
            record = AESGCM(key).decrypt(
                raw[:_NONCE], raw[_NONCE:], associated_data(log, serial, members)
            )
            text = record.decode("utf-8", "surrogateescape")
        except (ValueError, InvalidTag):
            return stored
        if self._members(log, text) != members:
            return stored
        return text

    def close(self) -> None:
        with self._lock:
            for f in self._files.values():
                f.close()
            self._files.clear()


def associated_data(log: str, serial: int, members: str) -> bytes:
    """The associated data of an entry's seal: the log, the serial and the stored tags."""
    return f"renkei log entry\0{log}\0{serial}\0{members}".encode("utf-8", "surrogateescape")
