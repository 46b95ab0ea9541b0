"""The checkpoint witness: each log's latest signed checkpoint, kept apart from the store.

RK-LOG-011.  Every check of RK-LOG-010 compares the store with itself; a whole
store restored from an older copy, or one whose write-ahead log was deleted,
passes them all.  The witness is a folder outside the store holding one file
per log, ``<log>.checkpoint``, with the latest signed checkpoint note the
store committed for it.  The store writes it after the transaction that
stored the note commits and before the requests waiting on that commit are
answered (services.store.log_store), so a checkpoint that left the hub is
never newer than the witness.  The write is a new file renamed over the old:
it survives the process being killed; it is not flushed to the disk, so after
a power loss the witness may lag the store, never lead it.

``SignedLog`` asks ``witnessed(log)`` at start and refuses a store behind it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["CheckpointWitness", "witness_dir_for"]

_SUFFIX = ".checkpoint"


def witness_dir_for(state_dir: Path) -> Path:
    """The default witness folder of a state folder: ``STATE.witness`` beside it."""
    return state_dir.parent / f"{state_dir.name}.witness"


class CheckpointWitness:
    """The witness folder of one hub's logs."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def _file(self, log: str) -> Path:
        if not log.isidentifier():
            raise ValueError(f"not a log name: {log!r}")
        return self.folder / f"{log}{_SUFFIX}"

    def witnessed(self, log: str) -> str | None:
        """The latest checkpoint note witnessed for ``log``, or None if none was."""
        try:
            return self._file(log).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def record(self, notes: Mapping[str, str]) -> None:
        """Keep ``log → note`` for each log given, each file replaced atomically.

        :raises OSError: the folder cannot be written (the store then refuses
            new work until it can, as for a failed commit).
        """
        for log, note in notes.items():
            target = self._file(log)
            fresh = target.with_name(f".{target.name}.new")
            fresh.write_text(note, encoding="utf-8")
            os.replace(fresh, target)

    def clear(self) -> None:
        """Forget every witnessed checkpoint (a test-mode reset starts new logs)."""
        for path in self.folder.glob(f"*{_SUFFIX}"):
            path.unlink(missing_ok=True)
