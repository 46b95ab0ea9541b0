"""The hub's stored logs, checked as they are read back (RK-LOG-010; issue 16 item 3).

The pure checks are core.log_integrity's; this is where they meet the hub's
keys and the stored rows.  ``StoredLogCheck`` holds the person-digest key
(derived from the log signing key: the same custody and lifetime as the log
it protects, and a forger holding it could sign checkpoints anyway) and the
means to recover the resident code behind a stored ID code (the hub's
ID-code ciphers, every version it holds), and turns each stored row into an
entry only once it is checked:

* an access-log row (``access_entry``, when the hub reads it — not at start):
  its leaf hash is the tree's leaf (itself checked against the tree); with a
  record: ``check_access_record`` (canonical record,
  serial, leaf hash) and ``check_person`` (the stored person is the one
  ``person_digest`` binds);
* a purged access-log row: no record, and a ``purged_at`` that an
  administrative ``purge`` entry of that time covers (``check_purged``) —
  which is why the hub reads the administrative log first;
* an administrative-log row: ``check_admin_record``; it is never purged.

``check_anchored`` then refuses a non-empty log that keeps no signed
checkpoint unless every record predates the change (leaf version 1: a log
written before checkpoints were kept; it is anchored from this start on).

What the hub does with a ``LogTamperedError``: at start, it does not start
(``renkei serve`` prints the error and exits with status 3); while it runs (a
lower node read for a proof), the request gets 500 ``log-tampered`` and the
administrative log gets a ``log-tampered`` entry naming the log, the node and
the field, once per place (``TamperReports``) — that is how the auditor is told.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ...core.access_log import AccessLogEntry
from ...core.admin_log import AdminEvent, AdminLogEntry
from ...core.errors import RenkeiError
from ...core.identifiers import ResidentCode
from ...core.log_integrity import (
    LogTamperedError,
    check_access_record,
    check_admin_record,
    check_person,
    check_purged,
    person_digest,
    person_key,
    purge_times,
)
from ...core.retention import PurgedEntry, StoredEntry
from .log_store import LeafRow

__all__ = ["StoredLogCheck", "TamperReports", "check_anchored"]


@contextlib.contextmanager
def _closing(rows: Iterable[LeafRow]) -> Iterator[None]:
    """Close a row stream when its reader stops early (a mismatch), not when collected."""
    try:
        yield
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()


class StoredLogCheck:
    """Checks stored rows as they are read back, and makes the person's digest
    of new entries (see the module docstring)."""

    def __init__(
        self, signer: Ed25519PrivateKey, resident_of: Callable[[bytes], ResidentCode]
    ) -> None:
        self._key = person_key(signer.private_bytes_raw())
        self._resident_of = resident_of
        self._purges: dict[str, list[tuple[int, int]]] = {}
        self._shared: dict[str, str] = {}  # one string per agency, pattern and kind

    def digest(self, salt: bytes, person: bytes | None) -> bytes | None:
        """The ``person_digest`` of a new entry (None without a person)."""
        if person is None:
            return None
        return person_digest(self._key, salt, self._resident_of(person))

    def _resident(self, person: bytes) -> ResidentCode | None:
        try:
            return self._resident_of(person)
        except (RenkeiError, ValueError, IndexError):
            return None

    def admin_entries(self, rows: Iterable[LeafRow]) -> list[AdminLogEntry]:
        """The administrative log's entries, each row checked; remembers its purges."""
        out = []
        with _closing(rows):
            for row in rows:
                if row.purged_at is not None:
                    raise LogTamperedError(
                        log="admin",
                        where=f"serial {row.serial}",
                        field="purged_at",
                        why="never purged",
                    )
                out.append(check_admin_record("admin", row.serial, row.leaf_hash, row.entry))
        self._purges = purge_times(out)
        return out

    def note_admin(self, entry: AdminLogEntry) -> None:
        """A new administrative entry: a purge's time and ranges vouch for the
        rows it purged when they are read back."""
        for at, spans in purge_times([entry]).items():
            self._purges.setdefault(at, []).extend(spans)

    def access_entry(self, row: LeafRow, tree_leaf: bytes) -> StoredEntry:
        """One stored access-log row's entry, once checked (``tree_leaf``: the
        tree's leaf at its serial, itself checked against the tree); after
        ``admin_entries``."""
        if row.leaf_hash != tree_leaf:
            raise LogTamperedError(
                log="access",
                where=f"serial {row.serial}",
                field="leaf_hash",
                why="the leaves and the tree disagree",
            )
        if row.entry is None:
            at = check_purged("access", row.serial, row.purged_at, self._purges)
            return PurgedEntry(row.serial, row.leaf_hash, at)
        if row.purged_at is not None:
            raise LogTamperedError(
                log="access",
                where=f"serial {row.serial}",
                field="purged_at",
                why="set on an entry still held",
            )
        entry = check_access_record("access", row.serial, row.leaf_hash, row.entry, self._shared)
        bound = entry.person is not None and entry.leaf_version >= 2
        resident = self._resident(entry.person) if bound and entry.person else None
        check_person("access", entry, self._key, resident)
        return entry


def check_anchored(logs: Iterable[tuple[str, int, bool]], entries: Iterable[StoredEntry]) -> None:
    """Each non-empty log keeps a signed checkpoint, unless every access-log
    record predates the change (leaf version 1).

    Args:
        logs: (name, size, whether a stored checkpoint was found) of each log.
        entries: the access log's entries.

    :raises LogTamperedError: field ``checkpoint``.
    """
    missing = [name for name, size, anchored in logs if size and not anchored]
    if not missing:
        return
    if any(isinstance(e, AccessLogEntry) and e.leaf_version >= 2 for e in entries):
        raise LogTamperedError(missing[0], "checkpoint", "checkpoint", "it is gone")


class TamperReports:
    """Each place found changed while the hub runs, reported once: an
    administrative-log ``log-tampered`` entry by ``hub`` naming the log, the
    place and the field (``record`` is the hub's administrative-log append)."""

    def __init__(self, record: Callable[..., None], now: Callable[[], datetime]) -> None:
        self._record, self._now = record, now
        self._seen: set[tuple[str, str, str]] = set()

    def __call__(self, error: LogTamperedError) -> None:
        place = (error.log, error.where, error.field)
        if place not in self._seen:
            self._seen.add(place)
            self._record(
                AdminEvent.LOG_TAMPERED,
                "hub",
                self._now(),
                log=error.log,
                location=error.where,
                field=error.field,
            )
