"""renkei reference implementation (連携 参照実装).

A minimal, contract-annotated implementation of the information-linkage hub
specified in ``specs/``.  ``renkei_reference.core`` is the pure core (no I/O,
no clock reads, no randomness, no globals); ``renkei_reference.services`` is the
thin imperative shell that serves the wire protocol.

PYTEST_DONT_REWRITE: the package is imported before the kit starts pytest, whose plugin
entry point then marks it for assertion rewriting; the marker keeps pytest from warning
that it is too late (PytestAssertRewriteWarning) in every run from an installed wheel.
"""

__all__ = ["__version__"]

__version__ = "0.1.0"
