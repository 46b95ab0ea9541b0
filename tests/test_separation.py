"""Numbers and the invisible codes are kept apart (seed items 3, 6, 9; RK-NUM-002, RK-NUM-009).

Structural checks over the reference itself; the kit checks the same from
outside (CT-NUM-001, CT-KEY-001).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import typing
from types import ModuleType

import pytest

import renkei_reference
from renkei_reference.core.codes import IdCode, IndividualNumber, LinkCode, ResidentCode

INVISIBLE = {IdCode, LinkCode}


def _modules() -> list[ModuleType]:
    found = []
    for info in pkgutil.walk_packages(renkei_reference.__path__, "renkei_reference."):
        found.append(importlib.import_module(info.name))
    return found


def _callables(module: ModuleType) -> list[typing.Any]:
    out = []
    for _, obj in inspect.getmembers(module):
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            out.append(obj)
        elif inspect.isclass(obj):
            out += [m for _, m in inspect.getmembers(obj, inspect.isfunction)]
    return out


def _mentions(hint: typing.Any, types: set[type]) -> bool:
    if isinstance(hint, type) and hint in types:
        return True
    args = typing.get_args(hint)
    return any(_mentions(arg, types) for arg in args if not isinstance(arg, list | tuple)) or any(
        _mentions(a, types) for arg in args if isinstance(arg, list | tuple) for a in arg
    )


@pytest.mark.requirement("RK-NUM-002", "RK-NUM-009")
def test_no_function_of_the_reference_maps_a_number_to_an_invisible_code() -> None:
    """No function takes a Number and returns an ID code or a link code, and no
    function takes an ID code or link code and returns a Number."""
    offenders = []
    checked = 0
    for module in _modules():
        for fn in _callables(module):
            try:
                hints = typing.get_type_hints(fn)
            except Exception:
                continue
            checked += 1
            ret = hints.pop("return", None)
            params = list(hints.values())
            takes_number = any(_mentions(h, {IndividualNumber}) for h in params)
            takes_code = any(_mentions(h, INVISIBLE) for h in params)
            if (takes_number and _mentions(ret, INVISIBLE)) or (
                takes_code and _mentions(ret, {IndividualNumber})
            ):
                offenders.append(f"{fn.__module__}.{fn.__qualname__}")
    assert checked > 50
    assert not offenders, offenders


@pytest.mark.requirement("RK-NUM-001", "RK-NUM-009")
def test_numbers_are_drawn_not_derived() -> None:
    """The same resident code gets unrelated Numbers from two authorities:
    a Number is a draw from the table, not a function of the resident code."""
    from renkei_reference.services.clock import SystemClock
    from renkei_reference.services.numbering.authority import NumberingAuthority

    resident = ResidentCode("12345678903")
    numbers = {NumberingAuthority(SystemClock()).issue(resident).value for _ in range(20)}
    assert len(numbers) == 20
