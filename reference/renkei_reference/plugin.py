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

__all__ = [
    "create_node_test_app",
    "create_test_app",
    "known_bad_catalog",
    "known_bad_node_catalog",
    "register_commands",
]


def create_test_app(variant: str | None = None) -> ASGIApp:
    """A fresh reference federation in test mode (control interface enabled).

    ``variant`` names a known-bad variant (``renkei_reference.known_bad``) for
    the kit's self-validation: target ``reference@<variant>``.
    """
    from .services.app import create_app

    if variant is None:
        return create_app(test_mode=True)
    from .known_bad import federation_factory, wrap_app
    from .services.federation import Federation

    built: list[Federation] = []
    app = create_app(test_mode=True, federation_factory=federation_factory(variant, built))
    return wrap_app(variant, app, built)  # type: ignore[no-any-return]


def create_node_test_app(variant: str | None = None) -> ASGIApp:
    """The reference's agency node alone, in test mode (target ``reference-node``): the
    kit plays the hub and points the node at it (RK-CTL-008); ``variant`` names a
    known-bad node (``renkei_reference.known_bad_nodes``)."""
    from .node_target import create_node_app

    return create_node_app(variant)  # type: ignore[no-any-return]


create_node_test_app.role = "agency-node"  # type: ignore[attr-defined]
create_node_test_app.agency_id = "ref.node"  # type: ignore[attr-defined]
create_node_test_app.node_credentials = {  # type: ignore[attr-defined]
    "kit.auditor": "ref-node-auditor-credential",
    "kit.pension": "ref-node-agency",
}


def known_bad_node_catalog() -> list[dict[str, str]]:
    """The ``renkei.known_bad`` entry point ``reference-node``."""
    from .known_bad_nodes import node_catalog

    return node_catalog()


def known_bad_catalog() -> list[dict[str, str]]:
    """The ``renkei.known_bad`` entry point: variants the kit must catch."""
    from .known_bad import catalog

    return catalog()


def register_commands(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
) -> dict[str, Callable[[argparse.Namespace], int]]:
    """Add ``serve``, ``demo`` and ``number`` to the ``renkei`` CLI."""
    from . import cli

    return cli.register(subparsers)
