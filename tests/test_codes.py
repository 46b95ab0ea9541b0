"""Properties of ID codes and link codes (seed items 4, 5, 7, 9, 10)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from renkei_reference.core.check_digit import resident_code_check_digit
from renkei_reference.core.codes import (
    AgencyId,
    LinkCode,
    ResidentCode,
    id_code_from_link_code,
    id_code_of,
    link_code_for,
    resident_code_of,
)
from renkei_reference.core.crypto import AesSivCipher
from renkei_reference.core.errors import CallerError, PermissionDeniedError
from renkei_reference.core.numbering import number_from_draw

SECRET = bytes(range(32))
ID = AesSivCipher.derived(SECRET, "id-code", 1)
LINK = AesSivCipher.derived(SECRET, "link-code", 1)

residents = st.integers(0, 10**10 - 1).map(
    lambda n: ResidentCode(f"{n:010d}" + str(resident_code_check_digit(f"{n:010d}")))
)
agencies = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,20}", fullmatch=True).map(AgencyId)


@pytest.mark.requirement("RK-IDC-001")
@given(residents)
def test_id_code_is_reversible_and_deterministic(resident: ResidentCode) -> None:
    code = id_code_of(ID, resident)
    assert code == id_code_of(ID, resident)
    assert resident_code_of(ID, code) == resident
    assert resident.value.encode() not in code.raw


@pytest.mark.requirement("RK-LNK-001", "RK-LNK-002")
@given(residents, agencies, agencies)
def test_link_codes_are_per_agency_and_refused_elsewhere(
    resident: ResidentCode, a: AgencyId, b: AgencyId
) -> None:
    id_code = id_code_of(ID, resident)
    la = link_code_for(LINK, id_code, a)
    assert id_code_from_link_code(LINK, la, a) == id_code
    assert LinkCode.parse(la.text()) == la
    if a != b:
        assert la != link_code_for(LINK, id_code, b)
        with pytest.raises(CallerError) as err:
            id_code_from_link_code(LINK, la, b)
        assert err.value.problem == "link-code-not-valid-for-agency"


@pytest.mark.requirement("RK-LNK-002", "RK-LNK-004")
@settings(max_examples=200)
@given(residents, st.integers(1, 44), st.integers(1, 255))
def test_any_altered_link_code_is_refused(resident: ResidentCode, pos: int, flip: int) -> None:
    unit = AgencyId("agency-a")
    raw = bytearray(link_code_for(LINK, id_code_of(ID, resident), unit).raw)
    raw[pos] ^= flip
    with pytest.raises(CallerError):
        id_code_from_link_code(LINK, LinkCode(bytes(raw)), unit)


@pytest.mark.requirement("RK-NUM-003", "RK-LNK-004")
@given(st.text(max_size=80))
def test_parsing_refuses_numbers_and_garbage_specifically(text: str) -> None:
    if len(text) == 12 and text.isascii() and text.isdigit():
        expected: str | None = "number-where-link-code-expected"
    elif len(text) == 60 and re.fullmatch(r"[A-Za-z0-9_-]+", text):
        expected = None
    else:
        expected = "malformed-link-code"
    if expected is None:
        assert LinkCode.parse(text).text() == text
    else:
        with pytest.raises(CallerError) as err:
            LinkCode.parse(text)
        assert err.value.problem == expected


@pytest.mark.requirement("RK-NUM-003")
@given(st.integers(0, 10**11 - 1))
def test_every_number_is_refused_as_a_link_code(body: int) -> None:
    number = number_from_draw(body).value
    with pytest.raises(CallerError) as err:
        LinkCode.parse(number)
    assert err.value.problem == "number-where-link-code-expected"
    assert err.value.requirement == "RK-NUM-003"


@pytest.mark.requirement("RK-LNK-005", "RK-IDC-002")
def test_link_code_of_another_key_version_is_refused_as_such() -> None:
    unit = AgencyId("agency-a")
    old = link_code_for(LINK, id_code_of(ID, ResidentCode("12345678903")), unit)
    newer = AesSivCipher.derived(SECRET, "link-code", 2)
    with pytest.raises(PermissionDeniedError) as err:
        id_code_from_link_code(newer, old, unit)
    assert err.value.problem == "unknown-key-version"


@pytest.mark.requirement("RK-KEY-001")
def test_ciphers_never_show_key_material() -> None:
    text = repr(LINK) + str(LINK)
    assert "redacted" in text
    assert SECRET.hex() not in text
