"""The hub's state records, sealed when written and verified when read (RK-LOG-010).

``SealedRecords`` seals each record (core.record_seal) and, for the spaces it
is told to count, keeps a **sealed digest** beside them: for each space the
count of its records and the sum of their keyed elements
(``core.record_seal.record_element``), with the sizes of the hub's two logs,
sealed under the record key and written in the same transaction as every
change it covers (a record put or deleted, an entry appended).  A seal cannot
tell a record deleted or put back from an earlier copy; the digest can: at
start the records are counted and summed again and compared with it, and its
log sizes with the stored logs' (which the witness holds the store to,
RK-LOG-011) — a check whose cost is the records', not the log's
(services.hub.startup).  The digest carries a generation, one more with every
write, and the store hands each committed digest to the checkpoint witness
(``DIGEST_WITNESS``, services.store.group_commit): a store put back to an
earlier copy — also one taken after the latest log entry, before a step that
writes none — has a digest behind the witnessed one.  ``RecordMap`` is one
space read from the store when asked (the used request ids: one a linkage,
never counted)."""

from __future__ import annotations

import contextlib
import json
import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ...core.log_integrity import LogTamperedError
from ...core.record_seal import DIGEST_MODULUS, open_record, record_element, seal_record

if TYPE_CHECKING:
    from .log_store import LogStore

__all__ = [
    "DIGEST_NAME",
    "DIGEST_SPACE",
    "DIGEST_WITNESS",
    "RecordMap",
    "SealedRecords",
    "StateDigest",
]

_IN_BATCH = contextlib.nullcontext()
"""The block of a put inside a ``batch`` (the batch holds the store's atomic block)."""

_PLAIN = re.compile(r"[a-z][a-z0-9_-]*")
DIGEST_SPACE, DIGEST_NAME = "digest", "state"
"""Where the sealed digest of the counted spaces is kept (itself a sealed record)."""


DIGEST_WITNESS = "state_digest"
"""The name under which the checkpoint witness keeps the latest committed digest
(``state_digest.checkpoint`` beside the logs' checkpoints, RK-LOG-011)."""


@dataclass(frozen=True, slots=True)
class StateDigest:
    """The sizes of the access and administrative logs and, for each counted
    space, ``(count, sum of elements)`` of its records; ``generation`` counts the
    digests written to the store (one more with every write), so that of two
    digests of one store the later is the one with the higher generation, and
    ``floor`` is the generation of the latest step that must survive a restore
    (every step but those marked ``revertible``: an answer's acknowledgement)."""

    access: int
    admin: int
    spaces: dict[str, tuple[int, int]]
    generation: int = 0
    floor: int = 0

    def text(self) -> str:
        """Canonical JSON (sorted keys, no white space), as ``json.dumps`` would
        write it, put together directly: it is written at every step of the hub.
        Space names are plain ASCII names (``_PLAIN``), so nothing in them needs
        escaping."""
        spaces = ",".join(
            f'"{s}":[{n},"{total:064x}"]' for s, (n, total) in sorted(self.spaces.items())
        )
        head = (
            f'{{"access":{self.access},"admin":{self.admin},"floor":{self.floor},'
            f'"generation":{self.generation},"spaces":{{'
        )
        return head + spaces + "}}"

    @classmethod
    def from_text(cls, text: str) -> StateDigest:
        """Raises ``ValueError`` (or ``KeyError``/``TypeError``) on a malformed text,
        which a verified seal makes a bug, not a tampering."""
        body = json.loads(text)
        spaces = {str(s): (int(n), int(total, 16)) for s, (n, total) in body["spaces"].items()}
        generation = int(body.get("generation", 0))  # 0: written before generations
        floor = int(body.get("floor", 0))
        return cls(int(body["access"]), int(body["admin"]), spaces, generation, floor)


class SealedRecords:
    """The hub's view of a ``LogStore``'s records: each sealed when written and
    verified when read (core.record_seal, RK-LOG-010), and the ``counted``
    spaces under a sealed digest.  Everything else is the store's, unchanged.

    ``digest_at_open`` is the stored digest (verified; None if there is none)
    and ``counted_at_open`` the counts and sums of the stored records, both as
    found before any write; ``bind`` gives the logs' sizes, from when on every
    change writes the digest."""

    def __init__(self, store: LogStore, key: bytes, *, counted: Iterable[str] = ()) -> None:
        self.store = store
        self._key = key
        self._elements: dict[tuple[str, str], int] = {}
        self._sums: dict[str, tuple[int, int]] = dict.fromkeys(counted, (0, 0))
        if not all(_PLAIN.fullmatch(space) for space in self._sums):
            raise ValueError(f"counted spaces must be plain names: {sorted(self._sums)}")
        for space in sorted(self._sums):
            for name, stored in store.records(space):
                self._count(space, name, stored)
        self.counted_at_open = dict(self._sums)
        self.digest_at_open = self._stored_digest() if self._sums else None
        self.generation = self.digest_at_open.generation if self.digest_at_open else 0
        self.floor = self.digest_at_open.floor if self.digest_at_open else 0
        self._revertible = False
        self._sizes: Callable[[], tuple[int, int]] | None = None
        self._depth, self._dirty = 0, False

    # -- the digest ------------------------------------------------------------
    def witnessed_digest(self) -> StateDigest | None:
        """The latest digest the checkpoint witness holds (verified: it is the
        sealed record as committed), or None if it holds none (RK-LOG-011)."""
        stored = self.store.witnessed(DIGEST_WITNESS)
        if stored is None:
            return None
        try:
            return StateDigest.from_text(open_record(self._key, DIGEST_SPACE, DIGEST_NAME, stored))
        except (ValueError, KeyError, TypeError) as exc:
            raise LogTamperedError(
                log="state", where="witnessed state digest", field="record", why=str(exc)
            ) from None

    def _stored_digest(self) -> StateDigest | None:
        found = None
        for name, stored in self.store.records(DIGEST_SPACE):
            if name != DIGEST_NAME:  # e.g. the digest's own key changed
                raise LogTamperedError(
                    log="state",
                    where=f"{DIGEST_SPACE} {name!r}",
                    field="record",
                    why="no such record is written",
                )
            found = StateDigest.from_text(open_record(self._key, DIGEST_SPACE, name, stored))
        return found

    def _count(self, space: str, name: str, stored: str | None) -> None:
        n, total = self._sums[space]
        old = self._elements.pop((space, name), None)
        if old is not None:
            n, total = n - 1, total - old
        if stored is not None:
            element = record_element(self._key, space, name, stored)
            self._elements[(space, name)] = element
            n, total = n + 1, total + element
        self._sums[space] = (n, total % DIGEST_MODULUS)

    def bind(self, sizes: Callable[[], tuple[int, int]]) -> None:
        """From now on every change writes the digest, with the logs' ``sizes``
        (access, administrative) as they are then."""
        self._sizes = sizes

    def digest(self) -> StateDigest | None:
        """The digest of the records as written so far (None before ``bind``)."""
        if self._sizes is None or not self._sums:
            return None
        access, admin = self._sizes()
        return StateDigest(access, admin, dict(self._sums), self.generation, self.floor)

    def changed(self) -> None:
        """Something the digest covers changed (a record, a log's size): the
        digest is queued now, or at the end of the enclosing ``batch`` (and sealed
        by the writer, ``put_record_later``)."""
        if self._depth:
            self._dirty = True
            return
        if self._sizes is not None and self._sums:
            self.generation += 1
            if not self._revertible:
                self.floor = self.generation
            self._revertible = False
        digest = self.digest()
        if digest is not None:
            # sealed by the store's writer, once for the last step of a commit: a
            # step takes a snapshot (StateDigest is immutable), not the text
            key = self._key
            self.store.put_record_later(
                DIGEST_SPACE,
                DIGEST_NAME,
                lambda: seal_record(key, DIGEST_SPACE, DIGEST_NAME, digest.text()),
            )

    def revertible(self) -> None:
        """The changes of the current step (up to the digest it writes) may be
        undone by a restore without loss: the witness's floor stays where it is
        (an acknowledgement, which RK-FLOW-002 lets come back after a crash)."""
        self._revertible = True

    def batch(self) -> contextlib.AbstractContextManager[None]:
        """Changes made inside write the digest once, at the end (to be used
        inside the store's ``atomic`` block that commits them)."""
        return _Batch(self)

    def _end_batch(self) -> None:
        self._depth -= 1
        if not self._depth and self._dirty:
            self._dirty = False
            self.changed()

    # -- the records -------------------------------------------------------------
    def put(self, space: str, name: str, value: str | None) -> None:
        sealed = None if value is None else seal_record(self._key, space, name, value)
        if space not in self._sums:
            self.store.put_record(space, name, sealed)
            return
        # the record and its digest in one transaction: in a ``batch``, the store's
        # ``atomic`` block is open already, and the digest is queued at its end
        with _IN_BATCH if self._depth else self.store.atomic():
            self._count(space, name, sealed)
            self.store.put_record(space, name, sealed)
            self.changed()

    def items(self, space: str) -> Iterator[tuple[str, str]]:
        for name, stored in self.store.records(space):
            yield name, open_record(self._key, space, name, stored)

    def get(self, space: str, name: str) -> str | None:
        """One committed record, verified; None if there is none."""
        stored = self.store.record(space, name)
        return None if stored is None else open_record(self._key, space, name, stored)


class _Batch:
    """``SealedRecords.batch``'s block (a class: it is entered at every step)."""

    __slots__ = ("_records",)

    def __init__(self, records: SealedRecords) -> None:
        self._records = records

    def __enter__(self) -> None:
        self._records._depth += 1

    def __exit__(self, *_: object) -> None:
        self._records._end_batch()  # also when the block raised


class RecordMap:
    """One space of sealed records as a mapping that is read from the store when
    asked, not held (the used request ids: one a linkage).  What the hub wrote
    and the store has not committed yet is held until ``settle`` finds it
    committed (with ``MemoryLogStore``, which keeps nothing, that is all of it).
    The caller writes the record itself (``SealedRecords.put``) and sets the
    key here."""

    def __init__(self, records: SealedRecords, space: str) -> None:
        self._records, self._space = records, space
        self._recent: dict[str, str | None] = {}
        self._writes: dict[str, int] = {}
        self._unsettled: deque[tuple[int | None, str]] = deque()

    def get(self, key: str) -> str | None:
        if key in self._recent:
            return self._recent[key]
        return self._records.get(self._space, key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key) is not None

    def __getitem__(self, key: str) -> str:
        value = self.get(key)
        if value is None:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: str) -> None:
        self._set(key, value)

    def pop(self, key: str, default: str | None = None) -> str | None:
        """Forget ``key`` here (the caller deletes its record)."""
        value = self.get(key)
        self._set(key, None)
        return default if value is None else value

    def _set(self, key: str, value: str | None) -> None:
        self._recent[key] = value
        self._writes[key] = self._writes.get(key, 0) + 1
        self._unsettled.append((None, key))

    def items(self) -> Iterator[tuple[str, str]]:
        """Every record of the space, in key order (the committed ones streamed)."""
        for key, value in self._records.items(self._space):
            if key not in self._recent:
                yield key, value
        for key in sorted(self._recent):
            recent = self._recent[key]
            if recent is not None:
                yield key, recent

    def settle(self) -> None:
        """Release what the store has committed (between the hub's steps)."""
        store = self._records.store
        mark = store.mark()
        if mark is None:
            return
        unsettled = self._unsettled
        for i in range(len(unsettled) - 1, -1, -1):
            if unsettled[i][0] is not None:
                break
            unsettled[i] = (mark, unsettled[i][1])
        while unsettled and (m := unsettled[0][0]) is not None and store.settled(m):
            _, key = unsettled.popleft()
            left = self._writes.pop(key) - 1
            if left:
                self._writes[key] = left
            else:
                del self._recent[key]
