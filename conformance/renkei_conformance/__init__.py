"""renkei conformance kit (適合性試験キット).

Drives any implementation of the linkage hub through the wire protocol of
``specs/`` and the conformance control interface, and reports a verdict per
requirement.  It never imports the reference implementation: the reference is
reached like any vendor's, through a target.
"""

__all__ = ["SUITE_VERSION", "__version__"]

__version__ = "0.1.0"
SUITE_VERSION = __version__
