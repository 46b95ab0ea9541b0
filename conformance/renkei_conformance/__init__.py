"""renkei conformance kit (適合性試験キット).

Drives any implementation of the linkage hub through the wire protocol of
``specs/`` and the conformance control interface, and reports a verdict per
requirement.  It never imports the reference implementation: the reference is
reached like any vendor's, through a target.

PYTEST_DONT_REWRITE: the package is imported before the kit starts pytest, whose plugin
entry point then marks it for assertion rewriting; the marker keeps pytest from warning
that it is too late (PytestAssertRewriteWarning) in every run from an installed wheel.
"""

__all__ = ["SUITE_VERSION", "__version__"]

__version__ = "0.1.0"
SUITE_VERSION = __version__
