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

import contextlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ...core.log_integrity import LogBehindWitnessError

__all__ = [
    "CheckpointWitness",
    "WitnessFolderError",
    "check_witness_folder",
    "witness_dir_for",
]

_SUFFIX = ".checkpoint"
_MAX_NOTE = 64 * 1024  # a checkpoint note is a few hundred bytes


class WitnessFolderError(ValueError):
    """The witness folder cannot serve (RK-LOG-011): not a folder, or inside the
    state folder, so that restoring the state would restore the witness with it."""


def witness_dir_for(state_dir: Path) -> Path:
    """The default witness folder of a state folder: ``STATE.witness`` beside it."""
    return state_dir.parent / f"{state_dir.name}.witness"


def check_witness_folder(folder: Path, state_dir: Path) -> None:
    """RK-LOG-011: the witness lives apart from the state it witnesses.

    :raises WitnessFolderError: a path that is no folder, or one inside (or equal
        to) the state folder.
    """
    where, state = folder.resolve(), state_dir.resolve()
    if where == state or state in where.parents:
        raise WitnessFolderError(
            f"the witness folder {folder} is inside the state folder {state_dir}: a restore "
            "of the state folder would roll the witness back with the store it witnesses; "
            "give --witness a folder outside it (RK-LOG-011)"
        )
    if where.exists() and not where.is_dir():
        raise WitnessFolderError(f"the witness folder {folder} exists and is not a folder")


class CheckpointWitness:
    """The witness folder of one hub's logs.

    ``required``: a store that holds a signed checkpoint of a log refuses to
    start when the witness holds none of it (the witness lost, unmounted, or
    ``--witness`` pointed elsewhere); ``adopt`` lifts that once, for an
    operator who has checked the store and starts a new witness from it.
    """

    def __init__(self, folder: Path, *, adopt: bool = False) -> None:
        self.folder = folder
        self.adopt = adopt
        if folder.exists() and not folder.is_dir():
            raise WitnessFolderError(f"the witness folder {folder} exists and is not a folder")
        folder.mkdir(parents=True, exist_ok=True)

    def _file(self, log: str) -> Path:
        if not log.isidentifier():
            raise ValueError(f"not a log name: {log!r}")
        return self.folder / f"{log}{_SUFFIX}"

    def witnessed(self, log: str) -> str | None:
        """The latest checkpoint note witnessed for ``log``, or None if none was.

        The file is opened without following a symbolic link and without waiting
        on a FIFO; anything but a regular file of UTF-8 text is refused.

        :raises LogBehindWitnessError: the witness file cannot be read as a note.
        """
        path = self._file(log)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._unreadable(log, path, exc.strerror or str(exc)) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise self._unreadable(log, path, "it is not a regular file")
            data = os.read(fd, _MAX_NOTE + 1)
        finally:
            os.close(fd)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            raise self._unreadable(log, path, "it is not UTF-8 text") from None

    @staticmethod
    def _unreadable(log: str, path: Path, why: str) -> LogBehindWitnessError:
        return LogBehindWitnessError(log, f"the witness file {path.name} cannot be read ({why})")

    def record(self, notes: Mapping[str, str]) -> None:
        """Keep ``log → note`` for each log given, each file replaced atomically.

        The new file is created afresh (``O_EXCL | O_NOFOLLOW``, after removing any
        leftover of that name), so a symbolic link or FIFO planted in the folder is
        neither followed nor waited on.

        :raises OSError: the folder cannot be written (the store then refuses
            new work until it can, as for a failed commit).
        """
        for log, note in notes.items():
            target = self._file(log)
            fresh = target.with_name(f".{target.name}.new")
            with contextlib.suppress(FileNotFoundError):
                fresh.unlink()
            fd = os.open(fresh, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            try:
                os.write(fd, note.encode("utf-8"))
            finally:
                os.close(fd)
            os.replace(fresh, target)

    def clear(self) -> None:
        """Forget every witnessed checkpoint (a test-mode reset starts new logs)."""
        for path in self.folder.glob(f"*{_SUFFIX}"):
            path.unlink(missing_ok=True)
