"""The sealed state digest's text is canonical JSON and reads back as written."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.services.store.sealed_records import StateDigest

_SPACES = st.dictionaries(
    st.from_regex(r"[a-z][a-z0-9_-]{0,12}", fullmatch=True),
    st.tuples(st.integers(0, 10**9), st.integers(0, 2**256 - 1)),
    max_size=12,
)


@given(
    st.integers(0, 10**12),
    st.integers(0, 10**9),
    _SPACES,
    st.integers(0, 10**12),
    st.integers(0, 10**12),
)
def test_the_digest_text_is_json_with_sorted_keys_and_reads_back(
    access: int, admin: int, spaces: dict[str, tuple[int, int]], generation: int, floor: int
) -> None:
    digest = StateDigest(access, admin, spaces, generation, floor)
    body = {
        "access": access,
        "admin": admin,
        "floor": floor,
        "generation": generation,
        "spaces": {s: [n, f"{t:064x}"] for s, (n, t) in sorted(spaces.items())},
    }
    assert digest.text() == json.dumps(body, sort_keys=True, separators=(",", ":"))
    assert StateDigest.from_text(digest.text()) == digest
