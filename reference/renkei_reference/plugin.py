"""Entry points through which the kit and the CLI reach the reference.

The conformance kit never imports the reference (import-linter contract
``kit-is-black-box``); it finds in-process targets by the ``renkei.targets``
entry-point group, where any vendor with a Python implementation may register
one too.  ``renkei.commands`` adds the reference's own CLI commands.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from starlette.types import ASGIApp

__all__ = ["create_test_app", "register_commands"]


def create_test_app() -> ASGIApp:
    """A fresh reference federation in test mode (control interface enabled)."""
    from .services.app import create_app

    return create_app(test_mode=True)


def register_commands(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``serve``, ``demo`` and ``number`` to the ``renkei`` CLI."""
    from . import cli

    return cli.register(subparsers)
