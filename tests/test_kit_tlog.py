"""The kit's own receipt verifier against the published RFC 9162 vectors.

The kit must catch a hub whose proofs do not verify, so its verifier is held
to the same known answers as the reference's log (specs/vectors/merkle-rfc9162.json).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from renkei_conformance.tlog import VerificationError, verify_consistency, verify_inclusion

from .conftest import ROOT

VECTORS = json.loads((ROOT / "specs/vectors/merkle-rfc9162.json").read_text(encoding="utf-8"))
GROUPS = {g["type"]: g["tests"] for g in VECTORS["testGroups"]}
h = bytes.fromhex


def _verdict(check: Any) -> bool:
    try:
        check()
    except VerificationError:
        return False
    return True


@pytest.mark.requirement("RK-LOG-009")
@pytest.mark.parametrize("v", GROUPS["InclusionProof"], ids=lambda v: f"tc{v['tcId']}")
def test_inclusion_vectors(v: dict[str, Any]) -> None:
    ok = _verdict(
        lambda: verify_inclusion(
            h(v["leafHash"]),
            v["leafIndex"],
            v["treeSize"],
            [h(p) for p in v["proof"]],
            h(v["rootHash"]),
        )
    )
    assert ok == (v["result"] == "valid")


@pytest.mark.requirement("RK-LOG-009")
@pytest.mark.parametrize("v", GROUPS["ConsistencyProof"], ids=lambda v: f"tc{v['tcId']}")
def test_consistency_vectors(v: dict[str, Any]) -> None:
    ok = _verdict(
        lambda: verify_consistency(
            v["size1"], v["size2"], [h(p) for p in v["proof"]], h(v["root1"]), h(v["root2"])
        )
    )
    assert ok == (v["result"] == "valid")
