"""The checkpoint witness: each log's latest signed checkpoint, kept apart from the store.

RK-LOG-011.  Every check of RK-LOG-010 compares the store with itself; a whole
store restored from an older copy, or one whose write-ahead log was deleted,
passes them all.  The witness is a folder outside the store holding one file
per log, ``<log>.checkpoint``, with the latest signed checkpoint note the
store committed for it.  The store writes it after the transaction that
stored the note commits and before the requests waiting on that commit are
answered (services.store.log_store), so a checkpoint that left the hub is
never newer than the witness.  The write is one ``pwrite`` of the note over the
file in place, padded with NUL bytes to the file's length (which ``witnessed``
drops), so the file never holds a mix of two notes and is never truncated: a
killed process leaves the old note or the new one.  It costs a few
microseconds, where a new file renamed over the old cost a quarter to three
quarters of a millisecond of every commit on ext4.  It is not flushed to the
disk: after a power loss the witness may lag the store, never lead it, and a
page torn by the power loss is not a note — the start is refused until the
operator removes that file and starts once with ``--adopt-witness``.

``SignedLog`` asks ``witnessed(log)`` at start and refuses a store behind it.
"""

from __future__ import annotations

import errno
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
        on a FIFO; anything but a regular file of UTF-8 text is refused.  The NUL
        bytes that pad a note shorter than the one it overwrote are dropped.

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
            return data.rstrip(b"\0").decode("utf-8")
        except UnicodeDecodeError:
            raise self._unreadable(log, path, "it is not UTF-8 text") from None

    @staticmethod
    def _unreadable(log: str, path: Path, why: str) -> LogBehindWitnessError:
        return LogBehindWitnessError(log, f"the witness file {path.name} cannot be read ({why})")

    def record(self, notes: Mapping[str, str]) -> None:
        """Keep ``log → note`` for each log given, each written over its file in
        one ``pwrite`` (NUL-padded to the file's length).

        The file is opened without following a symbolic link and without waiting
        on a FIFO, and written only if it is a regular file.

        :raises OSError: the folder or a file cannot be written (the store then
            refuses new work until it can, as for a failed commit).
        """
        for log, note in notes.items():
            data = note.encode("utf-8")
            flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
            fd = os.open(self._file(log), flags, 0o600)
            try:
                held = os.fstat(fd)
                if not stat.S_ISREG(held.st_mode):
                    raise OSError(errno.EINVAL, f"{self._file(log)} is not a regular file")
                size = held.st_size
                if size > _MAX_NOTE:  # not written by the hub: padding it would cost its size
                    os.ftruncate(fd, 0)
                    size = 0
                os.pwrite(fd, data + b"\0" * (size - len(data)), 0)
            finally:
                os.close(fd)

    def clear(self) -> None:
        """Forget every witnessed checkpoint (a test-mode reset starts new logs)."""
        for path in self.folder.glob(f"*{_SUFFIX}"):
            path.unlink(missing_ok=True)
