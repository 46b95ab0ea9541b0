"""The reference against the published test vectors (specs/vectors)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from renkei_conformance.spec import load_vectors
from renkei_reference.core import check_digit as cd
from renkei_reference.core.codes import (
    AgencyId,
    IdCode,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
)
from renkei_reference.core.crypto import AesSivCipher, derive_key
from renkei_reference.core.errors import RenkeiError
from renkei_reference.core.patterns import LinkagePattern, Query, decide


def _tests(name: str) -> list[dict[str, Any]]:
    data = load_vectors(name)
    if "tests" in data:
        return list(data["tests"])
    return [t for g in data["testGroups"] for t in g["tests"]]


def _ids(tests: list[dict[str, Any]]) -> list[str]:
    return [f"tc{t['tcId']}" for t in tests]


CHECKS = {
    "individual-number-check-digit": cd.is_valid_individual_number,
    "corporate-number-check-digit": cd.is_valid_corporate_number,
    "resident-code-check-digit": cd.is_valid_resident_code,
}


@pytest.mark.requirement("RK-NUM-004", "RK-CORP-001", "RK-NUM-006")
@pytest.mark.parametrize("name", sorted(CHECKS))
def test_check_digit_vectors(name: str) -> None:
    check = CHECKS[name]
    wrong = [
        (t["tcId"], t["value"])
        for t in _tests(name)
        if check(t["value"]) != (t["result"] == "valid")
    ]
    assert not wrong, f"{name}: reference disagrees on {wrong}"


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text.replace("Z", "+00:00"))


PATTERN_TESTS = _tests("pattern-decisions")


@pytest.mark.requirement("RK-PAT-001", "RK-PAT-002")
@pytest.mark.parametrize("vector", PATTERN_TESTS, ids=_ids(PATTERN_TESTS))
def test_pattern_decision_vectors(vector: dict[str, Any]) -> None:
    table = {
        p["pattern_id"]: LinkagePattern(
            pattern_id=p["pattern_id"],
            legal_basis=p["legal_basis"],
            purpose=p["purpose"],
            requesters=frozenset(p["requesters"]),
            providers=frozenset(p["providers"]),
            information_kinds=frozenset(p["information_kinds"]),
            valid_from=_when(p["valid_from"]),
            valid_until=_when(p["valid_until"]),
        )
        for p in vector["patterns"]
    }
    q = vector["query"]
    at = _when(q["at"])
    assert at is not None
    decision = decide(
        table,
        Query(
            q["authenticated_requester"],
            q["requester"],
            q["provider"],
            q["pattern_id"],
            q["information_kind"],
            at,
        ),
    )
    expected = vector["expected"]
    assert decision.approved == (expected["decision"] == "approved")
    assert (decision.reason.value if decision.reason else None) == expected["reason"]


DERIVATIONS = load_vectors("code-derivation")["testGroups"]


@pytest.mark.requirement("RK-IDC-001", "RK-IDC-002", "RK-LNK-001")
@pytest.mark.parametrize("vector", DERIVATIONS[0]["tests"], ids=_ids(DERIVATIONS[0]["tests"]))
def test_code_derivation_vectors(vector: dict[str, Any]) -> None:
    secret, version = bytes.fromhex(vector["rootSecret"]), vector["keyVersion"]
    assert derive_key(secret, "id-code", version).hex() == vector["idCodeKey"]
    assert derive_key(secret, "link-code", version).hex() == vector["linkCodeKey"]
    id_cipher = AesSivCipher.derived(secret, "id-code", version)
    link_cipher = AesSivCipher.derived(secret, "link-code", version)
    id_code = id_code_of(id_cipher, ResidentCode(vector["residentCode"]))
    assert id_code.hex() == vector["idCode"]
    for lc in vector["linkCodes"]:
        assert (
            link_code_for(link_cipher, id_code, AgencyId(lc["agencyId"])).text() == lc["linkCode"]
        )


@pytest.mark.requirement("RK-LNK-002", "RK-LNK-005")
@pytest.mark.parametrize("vector", DERIVATIONS[1]["tests"], ids=_ids(DERIVATIONS[1]["tests"]))
def test_link_code_presentation_vectors(vector: dict[str, Any]) -> None:
    cipher = AesSivCipher.derived(
        bytes.fromhex(vector["rootSecret"]), "link-code", vector["currentKeyVersion"]
    )
    try:
        got: IdCode | None = id_code_from_link_code(
            cipher, LinkCode.parse(vector["linkCode"]), AgencyId(vector["agencyId"])
        )
    except RenkeiError:
        got = None
    if vector["result"] == "valid":
        assert got is not None
        assert got.hex() == vector["idCode"]
    else:
        assert got is None
