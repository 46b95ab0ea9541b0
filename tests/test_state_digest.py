"""The sealed state digest's text is canonical JSON and reads back as written."""

from __future__ import annotations

import hmac
import json

from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.record_seal import _mac
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


@given(
    st.binary(min_size=32, max_size=32),
    st.lists(st.text(max_size=3000), min_size=1, max_size=4),
)
def test_a_record_tag_is_the_hmac_of_its_length_prefixed_parts(
    key: bytes, parts: list[str]
) -> None:
    """RK-LOG-010: a seal's tag is HMAC-SHA256 over each part as its 8-byte length
    and its UTF-8 bytes, however long (a long message is fed to OpenSSL in pieces
    that keep the interpreter lock: the same tag)."""
    message = b"".join(
        len(b := p.encode("utf-8", "surrogateescape")).to_bytes(8, "big") + b for p in parts
    )
    assert _mac(key, *parts) == hmac.digest(key, message, "sha256")
