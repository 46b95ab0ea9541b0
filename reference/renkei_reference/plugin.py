"""Entry points through which the kit and the CLI reach the reference.

The conformance kit never imports the reference (import-linter contract
``kit-is-black-box``); it finds in-process targets by the ``renkei.targets``
entry-point group, where any vendor with a Python implementation may register
one too.  ``renkei.commands`` adds the reference's own CLI commands.
"""

from __future__ import annotations

import argparse
import itertools
import os
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp

__all__ = [
    "create_node_test_app",
    "create_test_app",
    "known_bad_catalog",
    "known_bad_node_catalog",
    "register_commands",
]


STORE_ENV = "RENKEI_STORE"
"""``RENKEI_STORE=postgresql://…``: the in-process reference keeps its hub's logs and
state in that PostgreSQL database (each application in a schema of its own, emptied
on reset) instead of in memory — to run the kit against a hub on PostgreSQL."""


def create_test_app(variant: str | None = None) -> ASGIApp:
    """A fresh reference federation in test mode (control interface enabled).

    ``variant`` names a known-bad variant (``renkei_reference.known_bad``) for
    the kit's self-validation: target ``reference@<variant>``.  ``RENKEI_STORE``
    (``STORE_ENV``) puts the hub on PostgreSQL.
    """
    from .services.app import create_app

    if variant is None:
        store = os.environ.get(STORE_ENV)
        return create_app(test_mode=True, federation_factory=_on_store(store) if store else None)
    from .known_bad import federation_factory, wrap_app
    from .services.federation import Federation

    built: list[Federation] = []
    app = create_app(test_mode=True, federation_factory=federation_factory(variant, built))
    return wrap_app(variant, app, built)  # type: ignore[no-any-return]


def _on_store(url: str) -> Callable[[Any], Any]:
    """Federations whose hub keeps its logs in a new schema of the database ``url``."""
    import psycopg
    from psycopg.conninfo import make_conninfo

    from .services.federation import Federation
    from .services.store.pg_store import PostgresLogStore, erase

    if not url.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"{STORE_ENV}={url!r}: expected postgresql://…")
    schema = f"renkei_app_{os.getpid()}_{next(_APPS)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    dsn = make_conninfo(url, options=f"-c search_path={schema}")
    current: list[Any] = []

    def make(clock: Any) -> Any:
        if current:  # a reset: the previous federation's logs go too
            current.pop().close()
            erase(dsn)
        fed = Federation(clock, log_store=PostgresLogStore(dsn))
        current.append(fed)
        return fed

    return make


_APPS = itertools.count(1)


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
