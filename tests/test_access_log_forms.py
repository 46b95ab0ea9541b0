"""An access-log entry's two stored forms: its Merkle leaf and its record (RK-LOG-004)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.access_log import (
    AccessLogEntry,
    Outcome,
    entry_record,
    leaf_and_record,
    leaf_bytes,
)

_TEXT = st.text(max_size=24)  # quotes, back-slashes, control and non-ASCII characters
_OPTIONAL = st.one_of(st.none(), _TEXT)

_ENTRIES = st.builds(
    AccessLogEntry,
    serial=st.integers(1, 2**53),
    at=st.integers(0, 10**15).map(
        lambda us: datetime(2000, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    ),
    pattern_id=_TEXT,
    legal_basis=_OPTIONAL,
    requester=_TEXT,
    requester_name=_TEXT,
    provider=_TEXT,
    provider_name=_TEXT,
    information_kind=_TEXT,
    outcome=st.sampled_from(Outcome),
    reason=_OPTIONAL,
    detail=_OPTIONAL,
    linkage_id=_OPTIONAL,
    request_id=_TEXT,
    person=st.one_of(st.none(), st.binary(min_size=28, max_size=28)),
    salt=st.binary(min_size=16, max_size=16),
    pattern_version=st.one_of(st.none(), st.integers(0, 10**6)),
    withheld=st.booleans(),
    person_digest=st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
    leaf_version=st.sampled_from((1, 2)),
)


@pytest.mark.requirement("RK-LOG-004")
@given(_ENTRIES)
def test_the_leaf_and_the_record_made_together_are_the_ones_made_apart(
    entry: AccessLogEntry,
) -> None:
    """The hub makes an entry's leaf from its record's text (one encoding, the
    ``person`` member cut out): byte for byte the leaf ``leaf_bytes`` writes, for
    any text in any member, with or without a person, in both leaf layouts."""
    assert leaf_and_record(entry) == (leaf_bytes(entry), entry_record(entry))
