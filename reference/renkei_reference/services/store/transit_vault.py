"""Answers in transit, encrypted at rest under a key of their own (RK-FLOW-002).

The hub may hold an accepted answer in its durable store while it is in transit
(RK-FLOW-008), and must erase it when the requester acknowledges it or its
collection period ends.  A database does not forget on delete: the row's bytes
stay in its write-ahead log, free pages and backups.  So the store never holds
an answer in the clear: each answer is sealed (AES-256-GCM, the linkage id as
associated data) under a fresh random key, the sealed answer goes into the
store, and the key into a slot of the key file (``transit.keys`` in the state
folder), outside the database.  Erasing an answer overwrites its key: whatever
copy of the sealed answer remains can no longer be opened (crypto-shredding).

Order, so that a crash never loses an accepted answer nor reuses a live key:

* Keys are written ahead, ``REFILL`` at a time, into free slots (``_refill``:
  one pass of writes, and the key file marked to be flushed); ``seal`` takes the
  next of them, so a sealed answer's key was written before the answer was
  queued.  The store's writer calls ``sync`` (fdatasync of the key file, when
  keys were written since the last) before every commit, so a committed answer
  always has its key on disk — one flush for ``REFILL`` answers, not one a
  commit.  A key written ahead and never used is a random key no stored answer
  names: ``keep_only`` overwrites it at the next start.
* ``retire`` marks a key to be overwritten once the erasure is committed:
  ``step`` (called by every hub step) overwrites the keys whose erasure the
  store has committed, and only then frees their slots.  The overwrite is not
  flushed by itself: it reaches the disk with the next flush or the kernel's
  writeback.  Killed (or the power lost) in between, the erasure was either not
  committed (the answer is still in transit, its key intact) or committed (its
  key is orphaned, and ``keep_only`` at the next start overwrites every key no
  stored answer uses).

A sealed answer is read back only through its key: a changed byte of the
sealed answer, its key or its linkage id fails the GCM tag (RK-LOG-010).
"""

from __future__ import annotations

import base64
import os
import stat
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...core.log_integrity import LogTamperedError

__all__ = ["SEALED_PREFIX", "TransitVault"]

SEALED_PREFIX = "vault1:"
"""A sealed answer in the store: ``vault1:<slot>:<base64 nonce and ciphertext>``
(a payload in the clear is base64, which has no ``:``)."""
_KEY = 32
_ZERO = bytes(_KEY)
REFILL = 256
"""Keys written ahead at a time (8 KiB of the key file, one flush)."""


class TransitVault:
    """The key file of the answers in transit (one 32-byte slot per answer)."""

    def __init__(self, path: Path, barrier: Callable[[], Future[None]]) -> None:
        self.path = path
        self._barrier = barrier  # the store's: completes once all queued is committed
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise LogTamperedError(
                log="state", where=str(path), field="transit keys", why="not a regular file"
            )
        self._fd = fd
        self._slots = os.fstat(fd).st_size // _KEY
        self._free: list[int] = []
        self._ahead: list[tuple[int, bytes]] = []  # keys written ahead, unused (next last)
        self._retired: list[int] = []  # erased, not yet known committed
        self._waiting: list[tuple[Future[None], list[int]]] = []  # erasure committed → free
        self._dirty = False
        self._lock = threading.Lock()  # ``sync`` runs on the store's writer thread

    # -- the answer ------------------------------------------------------------
    def seal(self, linkage_id: str, payload: str) -> str:
        """The answer's stored form; its key is written to a free slot first."""
        if not self._ahead:
            self._refill()
        slot, key = self._ahead.pop()
        nonce = os.urandom(12)
        sealed = AESGCM(key).encrypt(nonce, payload.encode("ascii"), linkage_id.encode())
        return f"{SEALED_PREFIX}{slot}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, linkage_id: str, stored: str) -> str:
        """The answer a ``seal`` stored (a payload stored in the clear before the
        vault existed is returned as it is).

        :raises LogTamperedError: the sealed answer, its key or its linkage changed.
        """
        if not stored.startswith(SEALED_PREFIX):
            return stored
        slot, data = self._parse(linkage_id, stored)
        key = os.pread(self._fd, _KEY, slot * _KEY)
        try:
            if len(key) != _KEY or key == _ZERO:
                raise InvalidTag
            return AESGCM(key).decrypt(data[:12], data[12:], linkage_id.encode()).decode("ascii")
        except (InvalidTag, UnicodeDecodeError):
            raise self._tampered(linkage_id, "its key or its sealed form changed") from None

    def retire(self, linkage_id: str, stored: str) -> None:
        """The answer is being erased: its key is overwritten once that is committed."""
        if stored.startswith(SEALED_PREFIX):
            self._retired.append(self._parse(linkage_id, stored)[0])

    def step(self) -> None:
        """Overwrite the keys whose erasure the store has committed, and free their
        slots; keys retired since the last step wait for the commit queued now."""
        if self._retired:
            self._waiting.append((self._barrier(), self._retired))
            self._retired = []
        while self._waiting and self._waiting[0][0].done():
            done, slots = self._waiting.pop(0)
            if done.exception() is not None:  # not committed: wait for the retry
                self._waiting.insert(0, (self._barrier(), slots))
                return
            for slot in slots:
                os.pwrite(self._fd, _ZERO, slot * _KEY)
            self._free.extend(slots)

    # -- durability ------------------------------------------------------------
    def sync(self) -> None:
        """Flush the key file (the store's writer, before each commit)."""
        with self._lock:
            dirty, self._dirty = self._dirty, False
        if dirty:
            os.fdatasync(self._fd)

    def dirty(self) -> bool:
        """Whether keys were written since the last flush (the next ``sync`` flushes)."""
        with self._lock:
            return self._dirty

    def keep_only(self, stored: Iterable[tuple[str, str]]) -> None:
        """At start: overwrite every key no stored answer ``(linkage_id, stored)``
        uses (erasures committed before a crash), and free those slots."""
        used = {self._parse(lid, s)[0] for lid, s in stored if s.startswith(SEALED_PREFIX)}
        for slot in range(self._slots):
            if slot in used:
                continue
            if os.pread(self._fd, _KEY, slot * _KEY) != _ZERO:
                os.pwrite(self._fd, _ZERO, slot * _KEY)
                self._dirty = True
            self._free.append(slot)
        self._free.reverse()  # the lowest slots first
        self.sync()

    def close(self) -> None:
        os.close(self._fd)

    # -- slots -------------------------------------------------------------------
    def _refill(self) -> None:
        """Write ``REFILL`` fresh keys into free slots (the lowest first), to be
        flushed by the writer before the commit of any answer sealed under them."""
        slots = [self._take() for _ in range(REFILL)]
        keys = [AESGCM.generate_key(bit_length=256) for _ in slots]
        if slots == list(range(slots[0], slots[0] + len(slots))):
            os.pwrite(self._fd, b"".join(keys), slots[0] * _KEY)
        else:
            for slot, key in zip(slots, keys, strict=True):
                os.pwrite(self._fd, key, slot * _KEY)
        with self._lock:
            self._dirty = True
        self._ahead = list(zip(slots, keys, strict=True))[::-1]

    def _take(self) -> int:
        if self._free:
            return self._free.pop()
        self._slots += 1
        return self._slots - 1

    def _parse(self, linkage_id: str, stored: str) -> tuple[int, bytes]:
        try:
            slot_text, _, data = stored[len(SEALED_PREFIX) :].partition(":")
            slot = int(slot_text)
            raw = base64.b64decode(data, validate=True)
        except ValueError:
            raise self._tampered(linkage_id, "its sealed form is malformed") from None
        if not 0 <= slot < self._slots or len(raw) < 12 + 16:
            raise self._tampered(linkage_id, "its sealed form is malformed")
        return slot, raw

    @staticmethod
    def _tampered(linkage_id: str, why: str) -> LogTamperedError:
        return LogTamperedError(
            log="state", where=f"answer of linkage {linkage_id}", field="transit", why=why
        )
