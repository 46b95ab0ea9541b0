"""Sealed answers: the hub relays an envelope it cannot read (seed item 22).

specs/sealed-answer.md has two independent implementations, the reference's and
the kit's.  Each must open what the other seals; every damaged envelope (any
flipped byte, truncation, extension, unknown version, wrong info, wrong aad,
wrong key) must fail with the one opaque error; the plaintext must not show in
the envelope; and the key expansion must match the draft-ietf-hpke-pq vector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from renkei_conformance import sealing as kit
from renkei_reference import sealing as ref

pytestmark = pytest.mark.requirement("RK-FLOW-006", "RK-FLOW-002")

IMPLEMENTATIONS = {"reference": ref, "kit": kit}
PAIRS = [(s, o) for s in IMPLEMENTATIONS for o in IMPLEMENTATIONS]
AAD = ref.answer_aad("lk-01J9Z3Q4W8", "P-0001")
MIB = 1 << 20


@pytest.fixture(scope="module")
def keys() -> dict[str, Any]:
    """One recipient key per implementation, and each loaded by the other."""
    r, k = ref.generate_recipient_key(), kit.generate_recipient_key()
    return {
        "reference": r,
        "kit": k,
        # the same key material, as the other implementation loads it
        "reference@kit": kit.RecipientKey.from_private_bytes(r.private_bytes()),
        "kit@reference": ref.RecipientKey.from_private_bytes(k.private_bytes()),
    }


def _opener_key(keys: dict[str, Any], opener: str) -> tuple[bytes, Any]:
    """The opener's public key (what the sealer is given) and its private key."""
    own = keys[opener]
    return own.public_bytes(), own


def _error(module: ModuleType) -> type[Exception]:
    err: type[Exception] = module.SealError
    return err


# ---------------------------------------------------------------------------
# Interoperability
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(("sealer", "opener"), PAIRS)
def test_each_implementation_opens_what_the_other_seals(
    keys: dict[str, Any], sealer: str, opener: str
) -> None:
    public, private = _opener_key(keys, opener)
    plaintext = b'{"kind":"resident-tax-certificate","year":2025}'
    envelope = IMPLEMENTATIONS[sealer].seal(public, plaintext, info=ref.ANSWER_INFO, aad=AAD)
    opened = IMPLEMENTATIONS[opener].open_sealed(private, envelope, info=kit.ANSWER_INFO, aad=AAD)
    assert opened == plaintext


def test_key_encodings_agree_between_implementations(keys: dict[str, Any]) -> None:
    """§3: the same seed gives the same public key in both implementations."""
    for name, other in (("reference", "reference@kit"), ("kit", "kit@reference")):
        assert keys[name].public_bytes() == keys[other].public_bytes()
        assert keys[name].private_bytes() == keys[other].private_bytes()
    assert len(keys["reference"].public_bytes()) == ref.PUBLIC_KEY_BYTES == 1217
    assert len(keys["reference"].private_bytes()) == ref.PRIVATE_KEY_BYTES == 33
    assert keys["reference"].public_bytes()[0] == keys["kit"].private_bytes()[0] == 0x01


def test_answer_aad_agrees_between_implementations() -> None:
    """§5.2: u16 ‖ linkage id ‖ u16 ‖ pattern id."""
    assert kit.answer_aad("lk-01J9Z3Q4W8", "P-0001") == AAD
    assert AAD == b"\x00\x0dlk-01J9Z3Q4W8\x00\x06P-0001"
    assert ref.answer_aad("ab", "c") != ref.answer_aad("a", "bc")
    for module in IMPLEMENTATIONS.values():
        with pytest.raises(ValueError, match="65535"):
            module.answer_aad("", "P-0001")


@pytest.mark.parametrize("module", IMPLEMENTATIONS.values(), ids=IMPLEMENTATIONS)
def test_key_expansion_matches_the_draft_ietf_hpke_pq_vector(module: ModuleType) -> None:
    """§3 known answer: KEM 0x647A test vector (skRm → pkRm) of draft-ietf-hpke-pq,
    as published in filippo.io/hpke testdata/hpke-pq.json."""
    seed = bytes.fromhex("447cfc23de31102101a1b5aec0897a31f24670946f8e67345df7099b7c26e626")
    key = module.RecipientKey.from_private_bytes(b"\x01" + seed)
    pk = key.public_bytes()
    assert pk[0] == 0x01
    assert len(pk) == 1217
    assert pk[1:17].hex() == "d9ac25bc9b3516188ead3a40cfe439f4"
    assert pk[-16:].hex() == "d89e91788afe88208fb423c3ef8cda69"
    assert (
        hashlib.sha256(pk[1:]).hexdigest()
        == "52d1a8113f889dafc850daeaf843911ce9d47a29cd8b359abd36b223341c2453"
    )


def test_envelope_layout(keys: dict[str, Any]) -> None:
    """§4: 0x01 ‖ enc (1120) ‖ ct (len + 16); fresh randomness every seal."""
    public = keys["reference"].public_bytes()
    for module in IMPLEMENTATIONS.values():
        for size in (0, 1, 1024):
            a = module.seal(public, bytes(size), info=ref.ANSWER_INFO, aad=AAD)
            b = module.seal(public, bytes(size), info=ref.ANSWER_INFO, aad=AAD)
            assert a[0] == 0x01
            assert len(a) == len(b) == size + ref.ENVELOPE_OVERHEAD == size + 1137
            assert a[1:1121] != b[1:1121]
            assert a != b


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    size=st.integers(min_value=0, max_value=MIB),
    pattern=st.binary(min_size=1, max_size=64),
    pair=st.sampled_from(PAIRS),
)
@example(size=0, pattern=b"\x00", pair=("reference", "kit"))
@example(size=MIB, pattern=b"\xa5", pair=("kit", "reference"))
@example(size=MIB, pattern=b"renkei", pair=("reference", "reference"))
def test_round_trip_for_any_payload_up_to_1_mib(
    keys: dict[str, Any], size: int, pattern: bytes, pair: tuple[str, str]
) -> None:
    """RK-FLOW-006: payloads of at least 1 MiB travel sealed, in both directions."""
    sealer, opener = pair
    plaintext = (pattern * (size // len(pattern) + 1))[:size]
    public, private = _opener_key(keys, opener)
    envelope = IMPLEMENTATIONS[sealer].seal(public, plaintext, info=ref.ANSWER_INFO, aad=AAD)
    assert len(envelope) == size + 1137
    assert IMPLEMENTATIONS[opener].open_sealed(
        private, envelope, info=ref.ANSWER_INFO, aad=AAD
    ) == (plaintext)


# ---------------------------------------------------------------------------
# One opaque failure
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sealed(keys: dict[str, Any]) -> bytes:
    return ref.seal(keys["reference"].public_bytes(), b"x" * 100, info=ref.ANSWER_INFO, aad=AAD)


def _each_opener(keys: dict[str, Any]) -> list[tuple[ModuleType, Any]]:
    return [(ref, keys["reference"]), (kit, keys["reference@kit"])]


def test_every_single_flipped_byte_fails_opaquely(keys: dict[str, Any], sealed: bytes) -> None:
    """Any bit of the version, the KEM ciphertext, the AEAD ciphertext or the tag."""
    for module, key in _each_opener(keys):
        assert module.open_sealed(key, sealed, info=ref.ANSWER_INFO, aad=AAD) == b"x" * 100
        for i in range(len(sealed)):
            for bit in (0x01, 0x80):
                damaged = bytearray(sealed)
                damaged[i] ^= bit
                with pytest.raises(_error(module)):
                    module.open_sealed(key, bytes(damaged), info=ref.ANSWER_INFO, aad=AAD)


def test_every_truncation_and_extension_fails_opaquely(keys: dict[str, Any], sealed: bytes) -> None:
    cuts = sorted({0, 1, 2, 1120, 1121, 1122, 1136, 1137, *range(len(sealed) - 20, len(sealed))})
    for module, key in _each_opener(keys):
        for n in cuts:
            with pytest.raises(_error(module)):
                module.open_sealed(key, sealed[:n], info=ref.ANSWER_INFO, aad=AAD)
        for extra in (b"\x00", b"\x00" * 16, sealed[-16:]):
            with pytest.raises(_error(module)):
                module.open_sealed(key, sealed + extra, info=ref.ANSWER_INFO, aad=AAD)


@pytest.mark.parametrize(
    ("info", "aad"),
    [
        (b"renkei/answer/v2", AAD),
        (b"", AAD),
        (b"renkei/answer/v1\x00", AAD),
        (ref.ANSWER_INFO, ref.answer_aad("lk-01J9Z3Q4W9", "P-0001")),  # another linkage
        (ref.ANSWER_INFO, ref.answer_aad("lk-01J9Z3Q4W8", "P-0002")),  # another pattern
        (ref.ANSWER_INFO, b""),
        (ref.ANSWER_INFO + AAD, b""),  # moving bytes between info and aad
    ],
    ids=["info-v2", "info-empty", "info-extended", "linkage", "pattern", "aad-empty", "shifted"],
)
def test_wrong_info_or_aad_fails_opaquely(
    keys: dict[str, Any], sealed: bytes, info: bytes, aad: bytes
) -> None:
    """§5: an answer sealed for one linkage does not open as another's."""
    for module, key in _each_opener(keys):
        with pytest.raises(_error(module)):
            module.open_sealed(key, sealed, info=info, aad=aad)


def test_wrong_key_fails_opaquely(keys: dict[str, Any], sealed: bytes) -> None:
    for module, key in ((ref, keys["kit@reference"]), (kit, keys["kit"])):
        with pytest.raises(_error(module)):
            module.open_sealed(key, sealed, info=ref.ANSWER_INFO, aad=AAD)


def test_the_failure_says_nothing(keys: dict[str, Any], sealed: bytes) -> None:
    """Fernet-style: same type and same message whatever went wrong, no cause chained."""
    key = keys["reference"]
    attempts: list[Callable[[], bytes]] = [
        lambda: ref.open_sealed(key, sealed[:-1], info=ref.ANSWER_INFO, aad=AAD),
        lambda: ref.open_sealed(key, b"\x02" + sealed[1:], info=ref.ANSWER_INFO, aad=AAD),
        lambda: ref.open_sealed(key, sealed, info=ref.ANSWER_INFO, aad=b""),
        lambda: ref.open_sealed(keys["kit@reference"], sealed, info=ref.ANSWER_INFO, aad=AAD),
    ]
    seen = set()
    for attempt in attempts:
        with pytest.raises(ref.SealError) as caught:
            attempt()
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__ or caught.value.__context__ is None
        seen.add((type(caught.value), str(caught.value)))
    assert len(seen) == 1


def test_misuse_fails_loudly_not_opaquely(keys: dict[str, Any], sealed: bytes) -> None:
    """Wrong argument types and malformed public keys are the caller's bug."""
    key, public = keys["reference"], keys["reference"].public_bytes()
    for module in IMPLEMENTATIONS.values():
        with pytest.raises(TypeError):
            module.seal(public, "text", info=ref.ANSWER_INFO, aad=AAD)
        with pytest.raises(TypeError):
            module.seal(public, b"x", info="renkei/answer/v1", aad=AAD)
        with pytest.raises(ValueError, match="public key"):
            module.seal(public[:-1], b"x", info=ref.ANSWER_INFO, aad=AAD)
        with pytest.raises(ValueError, match="public key"):
            module.seal(b"\x02" + public[1:], b"x", info=ref.ANSWER_INFO, aad=AAD)
        with pytest.raises(ValueError, match="ML-KEM"):  # coefficient ≥ q: FIPS 203 check
            module.seal(public[:1] + b"\xff\xff" + public[3:], b"x", info=ref.ANSWER_INFO, aad=AAD)
        with pytest.raises(ValueError, match="private key"):
            module.RecipientKey.from_private_bytes(key.private_bytes()[:-1])
    with pytest.raises(TypeError):
        ref.open_sealed(key, bytearray(sealed), info=ref.ANSWER_INFO, aad=AAD)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------
# The hub sees no content
# ---------------------------------------------------------------------------


def test_canary_plaintext_does_not_occur_in_the_envelope(keys: dict[str, Any]) -> None:
    """The bytes the hub relays contain no trace of the answer (RK-FLOW-006)."""
    canary = b"CANARY-renkei-1234567890-" + "山田太郎".encode()
    plaintext = canary * 64
    public = keys["reference"].public_bytes()
    for module in IMPLEMENTATIONS.values():
        envelope = module.seal(public, plaintext, info=ref.ANSWER_INFO, aad=AAD)
        for probe in (canary, canary[:12], "山田太郎".encode(), plaintext[:64]):
            assert probe not in envelope
        # neither are the linkage and pattern ids (the hub knows them anyway)
        assert b"lk-01J9Z3Q4W8" not in envelope
        assert ref.open_sealed(keys["reference"], envelope, info=ref.ANSWER_INFO, aad=AAD) == (
            plaintext
        )


def test_repr_shows_no_key_material(keys: dict[str, Any]) -> None:
    """RK-KEY-001: a recipient key in a log line shows no secret."""
    for name in ("reference", "kit"):
        key = keys[name]
        secret = key.private_bytes()[1:]
        text = repr(key)
        assert "redacted" in text
        assert secret.hex() not in text
        assert secret.hex()[:8] not in text


def test_loaded_public_key_seals_like_the_bytes(keys: dict[str, Any]) -> None:
    """The reference can parse a public key once and reuse it."""
    public = keys["reference"].public_bytes()
    loaded = ref.load_public_key(public)
    assert loaded == keys["reference"].public_key()
    assert loaded.public_bytes() == public
    envelope = ref.seal(loaded, b"hello", info=ref.ANSWER_INFO, aad=AAD)
    assert kit.open_sealed(keys["reference@kit"], envelope, info=ref.ANSWER_INFO, aad=AAD) == (
        b"hello"
    )
