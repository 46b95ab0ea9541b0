"""The kit's canary sweep: a disclosed secret is found in any encoding, where not entitled."""

from __future__ import annotations

import json

from hypothesis import example, given, settings
from hypothesis import strategies as st

from renkei_conformance.canary import Sweep, encodings_of
from renkei_conformance.client import Exchange, Reply


def _ex(
    path: str, body: object, *, token: str | None = None, sent: str = "", headers=()
) -> Exchange:
    text = json.dumps(body)
    reply = Reply("GET", "http://t" + path, 200, "application/json", body, text, tuple(headers))
    return Exchange(path, token, None, "http://t" + path + "\n" + sent, reply)


def _world(id_code: str) -> list[Exchange]:
    agencies = {"agencies": [{"agency_id": "a.one"}, {"agency_id": "a.two"}]}
    return [
        _ex(
            "/control/agencies",
            {"credentials": {"a.one": "tok-one", "a.two": "tok-two"}},
            sent=json.dumps(agencies),
        ),
        _ex("/control/id-codes", {"id_codes": {"12345678901": id_code}}),
    ]


@settings(max_examples=60, deadline=None)
@given(raw=st.binary(min_size=16, max_size=40), pick=st.integers(0, 100), in_header=st.booleans())
@example(raw=b'W             "*', pick=5, in_header=False)  # its text form travels JSON-escaped
def test_an_id_code_is_found_in_every_encoding_at_an_agency(
    raw: bytes, pick: int, in_header: bool
) -> None:
    forms = sorted(encodings_of(raw))
    form = forms[pick % len(forms)]
    leak = (
        _ex("/hub/deliveries", {"deliveries": []}, token="tok-one", headers=[("x-trace", form)])
        if in_header
        else _ex("/hub/deliveries", {"deliveries": [], "note": f"id {form}."}, token="tok-one")
    )
    leaks = Sweep().run([*_world(raw.hex()), leak])
    assert [(x.secret.kind, x.party) for x in leaks] == [("id-code", "agency:a.one")]


def test_entitled_receivers_and_echoes_are_no_leaks() -> None:
    code = bytes(range(45))
    link = encodings_of(code)
    text = sorted(f for f in link if len(f) == 60 and "=" not in f and "+" not in f)[0]
    bound = _ex(
        "/hub/bindings", {"results": [{"record_ref": "r", "link_code": text}]}, token="tok-one"
    )
    again = _ex("/hub/linkages/x", {"detail": text}, token="tok-one")
    echo = _ex("/hub/queries", {"detail": text}, token="tok-two", sent=json.dumps({"c": text}))
    stranger = _ex("/hub/deliveries", {"deliveries": [{"link_code": text}]}, token="tok-two")
    sweep = Sweep()
    leaks = sweep.run([*_world("00" * 28), bound, again, echo, stranger])
    assert [(x.secret.kind, x.party, x.where.split(",")[0]) for x in leaks] == [
        ("link-code", "agency:a.two", "GET /hub/deliveries → 200")
    ]


def test_key_material_derived_from_the_root_secret_is_found_even_at_the_operator() -> None:
    from renkei_reference.core.crypto import derive_key

    root = bytes(range(32))
    reset = _ex("/control/reset", None, sent=json.dumps({"root_secret": _b64(root)}))
    key = derive_key(root, "link-code", 1)
    dump = _ex("/control/state", {"stores": {"hub.keys": [{"k": key[32:].hex()}]}})
    leaks = Sweep().run([*_world("00" * 28), reset, dump])
    assert [(x.secret.kind, x.party) for x in leaks] == [("key", "operator")]


def _b64(raw: bytes) -> str:
    import base64

    return base64.b64encode(raw).decode()


def _residents(code: str) -> Exchange:
    sent = json.dumps({"residents": [{"resident_code": code}]})
    return _ex("/control/residents", {"loaded": 1}, sent=sent)


@settings(max_examples=40, deadline=None)
@given(
    head=st.text("0123456789abcdef", min_size=1, max_size=20),
    tail=st.text("0123456789abcdef", min_size=1, max_size=20),
)
@example(head="00000000", tail="e1f3a9b07c")  # CI 2026-12-07: a linkage id held 2540be4c5
def test_a_short_form_inside_a_random_identifier_is_chance_not_a_leak(head: str, tail: str) -> None:
    """The hex of an 11-digit resident code is 36 bits: a run of the kit meets it
    inside some random hex identifier by chance; as its own value it is a leak."""
    code = "10000000197"
    inside = _ex(
        "/hub/queries", {"linkage_id": head + format(int(code), "x") + tail}, token="tok-one"
    )
    alone = _ex("/hub/deliveries", {"note": "ref " + format(int(code), "x")}, token="tok-two")
    digits = _ex("/hub/linkages/x", {"detail": f"person {code}."}, token="tok-two")
    leaks = Sweep().run([*_world("00" * 28), _residents(code), inside, alone, digits])
    assert [(x.secret.kind, x.party, x.where.split(",")[0]) for x in leaks] == [
        ("resident-code", "agency:a.two", "GET /hub/deliveries → 200"),
        ("resident-code", "agency:a.two", "GET /hub/linkages/x → 200"),
    ]
