"""Draws for the numbering authority: the CSPRNG source and the replay of taken draws."""

from __future__ import annotations

import secrets
from array import array

from ....core.numbering import NUMBER_SPACE, Draw

__all__ = ["CsprngDraw", "Replay"]


class CsprngDraw:
    """Uniform draws in [0, NUMBER_SPACE) from the operating system's CSPRNG (RK-NUM-001).

    Reads 64-bit words from ``secrets.token_bytes`` in blocks, keeps the low 37
    bits (2³⁷ > 10¹¹) and rejects values ≥ 10¹¹: rejection sampling, so every
    11-digit body is equally likely and nothing but the CSPRNG decides it.
    Buffered because ``secrets.randbelow`` per draw costs about 1.3 µs, close to
    half of what storing a Number costs.  Not thread-safe: a table calls its
    draw under its own lock.
    """

    __slots__ = ("_block", "_buffer")

    _MASK = (1 << 37) - 1

    def __init__(self, block: int = 4096) -> None:
        self._block = block
        self._buffer: list[int] = []

    def __call__(self) -> int:
        while not self._buffer:
            words = array("Q", secrets.token_bytes(8 * self._block))
            mask = self._MASK
            self._buffer = [w & mask for w in words if w & mask < NUMBER_SPACE]
        return self._buffer.pop()


class Replay:
    """A draw that first returns recorded values, then falls through to ``draw``."""

    __slots__ = ("_draw", "_next", "_recorded")

    def __init__(self, recorded: list[int], draw: Draw) -> None:
        self._recorded = recorded
        self._next = 0
        self._draw = draw

    def __call__(self) -> int:
        if self._next < len(self._recorded):
            self._next += 1
            return self._recorded[self._next - 1]
        return self._draw()

    def left_over(self) -> list[int]:
        """The recorded values not yet returned."""
        return self._recorded[self._next :]
