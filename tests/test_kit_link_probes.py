"""The kit presents link codes at every operation that accepts one (issue 14).

CT-LNK-009 finds the operations from the OpenAPI document; a new one that the kit has
no probe for (and no stated reason to leave out) fails here, not silently.
"""

from __future__ import annotations

import pytest

from renkei_conformance.suite.test_link_code_isolation import (
    NOT_PROBED,
    PROBES,
    _link_code_operations,
)


@pytest.mark.requirement("RK-LNK-002")
def test_the_kit_probes_every_operation_that_accepts_a_link_code() -> None:
    """The operations are found from the OpenAPI document, not listed by hand: a new
    one without a probe fails here until the kit presents codes at it too."""
    missing = sorted(set(_link_code_operations()) - set(PROBES) - set(NOT_PROBED))
    assert not missing, f"no probe for link-code operations {missing}"
    assert _link_code_operations(), "the OpenAPI document names no link-code operation"
    assert set(PROBES) <= set(_link_code_operations()), "a probe for an operation gone"
