"""Key versions and their lifecycle (seed item 11; RK-IDC-002, RK-KEY-002, RK-LNK-005).

The hub holds two keys per version: one for ID codes and one for link codes,
both derived from a root secret by HKDF with a purpose label (core.crypto).
Codes carry their key version in their first byte.  A ``KeyRing`` says, for
one purpose, which version is current and which older versions are still
accepted while agencies re-bind (the transition window, RK-KEY-002).  It is a
pure value: rotating returns a new ring, and "now" is always passed in.

Rotation (ＩＤコード・リンクコードの変更可能性, item 11): the new version becomes
current at once; the previous current version is accepted for reading until
``now + transition``; after that a code of that version is refused with
``unknown-key-version`` (RK-LNK-005).  A zero transition is the emergency
case: old codes stop working immediately.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

import icontract

from .errors import PermissionDeniedError
from .instant import DAY, MAX_INSTANT, MIN_INSTANT, Instant

__all__ = ["MAX_TRANSITION", "KeyPurpose", "KeyRing", "KeyVersion"]

MAX_TRANSITION = 3653 * DAY
"""The longest transition window, in microseconds (ten years)."""


class KeyPurpose(enum.Enum):
    ID_CODE = "id-code"
    LINK_CODE = "link-code"


@dataclass(frozen=True, slots=True)
class KeyVersion:
    """One version of a key: when it became current and until when it is accepted.

    ``accepted_until`` is None for the current version (accepted without end).
    """

    version: int
    activated_at: Instant
    accepted_until: Instant | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.version <= 255:
            raise ValueError("key versions are 1..255 (one byte in each code)")
        if self.accepted_until is not None and self.accepted_until < self.activated_at:
            raise ValueError("a key version cannot stop being accepted before it starts")


def _well_formed(versions: tuple[KeyVersion, ...]) -> bool:
    numbers = [v.version for v in versions]
    return (
        len(versions) >= 1
        and numbers == sorted(set(numbers))
        and versions[-1].accepted_until is None
        and all(v.accepted_until is not None for v in versions[:-1])
    )


@dataclass(frozen=True, slots=True)
class KeyRing:
    """The versions of one key purpose, oldest first; the last one is current."""

    purpose: KeyPurpose
    versions: tuple[KeyVersion, ...]

    def __post_init__(self) -> None:
        if not _well_formed(self.versions):
            raise ValueError("key versions must ascend and only the last may be open-ended")

    @classmethod
    def first(cls, purpose: KeyPurpose, at: Instant, version: int = 1) -> KeyRing:
        return cls(purpose, (KeyVersion(version, at),))

    @property
    def current(self) -> int:
        return self.versions[-1].version

    def accepts(self, version: int, at: Instant) -> bool:
        """True when a code of ``version`` is still accepted at ``at``."""
        for v in self.versions:
            if v.version == version:
                return v.accepted_until is None or at < v.accepted_until
        return False

    def require(self, version: int, at: Instant, requirement: str) -> None:
        """Raise ``unknown-key-version`` unless ``version`` is accepted at ``at``."""
        if not self.accepts(version, at):
            raise PermissionDeniedError(
                "unknown-key-version",
                f"the code was made under {self.purpose.value} key version {version}, "
                "which this hub does not accept (retired, or never issued)",
                requirement,
            )

    @icontract.require(lambda self: self.current < 255, "key version space exhausted")
    @icontract.require(
        lambda transition: 0 <= transition <= MAX_TRANSITION,
        "a transition window is between zero (emergency) and ten years (microseconds)",
    )
    @icontract.require(
        lambda at, transition: at >= MIN_INSTANT and at + transition <= MAX_INSTANT,
        "the clock is in a representable range",
    )
    @icontract.require(
        lambda self, at: at >= self.versions[-1].activated_at,
        "time moves forward: no rotation before the current version began",
    )
    @icontract.ensure(lambda self, result: result.current == self.current + 1)
    @icontract.ensure(lambda self, result: result.versions[:-2] == self.versions[:-1])
    @icontract.ensure(lambda at, result: result.versions[-1].activated_at == at)
    @icontract.ensure(
        lambda self, at, transition, result: all(
            result.accepts(self.current, t) == (t < at + transition)
            for t in (at, at + transition - 1, at + transition)
        ),
        "the old version is accepted exactly until at + transition (RK-KEY-002)",
    )
    @icontract.ensure(
        lambda self, at, result: (
            result.accepts(result.current, at) and not result.accepts(result.current + 1, at)
        )
    )
    def rotate(self, at: Instant, transition: int) -> KeyRing:
        """A new current version; the old one is accepted until ``at + transition``
        (``transition`` in microseconds; zero is the emergency rotation)."""
        old = replace(self.versions[-1], accepted_until=Instant(at + transition))
        return KeyRing(self.purpose, (*self.versions[:-1], old, KeyVersion(self.current + 1, at)))

    def accepted(self, at: Instant) -> tuple[int, ...]:
        return tuple(v.version for v in self.versions if self.accepts(v.version, at))
