"""Verdicts on time that a loaded machine's stall does not decide.

A kit test that bounds how long something takes, or how much load a target
carries, measures on the vendor's CI machine, shared and sometimes loaded: one
exchange can stall for seconds for reasons that are not the target's.  Such a
measurement is made up to ``TRIES`` times and is a finding only if every try
misses: a target that is slow misses every try, while a stall that hits one try
in q hits all of them with probability q^TRIES (q = 1/100 gives 1e-6).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

__all__ = ["TRIES", "retried"]

TRIES = 3
T = TypeVar("T")


def retried(attempt: Callable[[], T], ok: Callable[[T], bool], tries: int = TRIES) -> list[T]:
    """Every result of ``attempt``, made until one is ``ok`` or ``tries`` were made;
    the verdict is ``ok`` of the last one."""
    results: list[T] = []
    for _ in range(max(tries, 1)):
        results.append(attempt())
        if ok(results[-1]):
            break
    return results
