"""CrossHair checks the icontract contracts of the pure core, symbolically.

Fixed budget: each condition gets ``PER_CONDITION`` seconds.  A counterexample
fails the test (and CI).  Modules whose functions call ``cryptography`` (C
code CrossHair cannot see into) are covered by hypothesis properties instead:
``codes`` and ``crypto`` in tests/test_codes.py.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import pytest

from .background import Job
from .conftest import BACKGROUND, ROOT

PER_CONDITION = "5"
MODULES = [
    "renkei_reference.core.check_digit",
    "renkei_reference.core.instant",
    "renkei_reference.core.patterns",
    "renkei_reference.core.linkage",
    "renkei_reference.core.keys",
    "renkei_reference.core.merkle",
    "renkei_reference.core.checkpoint",
    "renkei_reference.core.pattern_document",
    "renkei_reference.core.numbering",
    "renkei_reference.core.retention",
    "renkei_reference.core.agency",
    "renkei_reference.core.audit",
    "renkei_reference.core.binding_normalise",
    "renkei_reference.core.binding_match",
    "renkei_reference.core.legacy_formats",
]


def crosshair_job(module: str) -> Job:
    """CrossHair on one module of the core, with its fixed budget."""
    crosshair = Path(sys.executable).parent / "crosshair"
    argv = (
        str(crosshair),
        "check",
        "--analysis_kind=icontract",
        "--report_all",
        f"--per_condition_timeout={PER_CONDITION}",
        module,
    )
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "ICONTRACT_SLOW": "1"}
    return Job(argv, ROOT, env, timeout=900)


for _module in MODULES:
    BACKGROUND.define(f"crosshair:{_module}", crosshair_job(_module))


@pytest.mark.slow
@pytest.mark.requirement("RK-NUM-004", "RK-CORP-001", "RK-PAT-001", "RK-FLOW-003")
@pytest.mark.parametrize("module", MODULES)
def test_crosshair_finds_no_counterexample(module: str) -> None:
    # started in the background once collected (tests/background.py, conftest.py)
    result = BACKGROUND.result(f"crosshair:{module}")
    lines = [ln for ln in result.stdout.splitlines() if re.search(r":\d+: (error|info):", ln)]
    errors = [ln for ln in lines if ": error:" in ln]
    assert not errors, "\n".join(errors)
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
