"""The hub's wire views written member by member say what the records say, whole."""

from __future__ import annotations

from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st

from renkei_reference.core.instant import iso_of
from renkei_reference.services import hub_wire as wire
from renkei_reference.services.hub.linkages import Delivery
from renkei_reference.services.hub.logs import Receipt


@given(st.builds(Receipt, inclusion_proof=st.lists(st.text()).map(tuple)))
def test_a_receipt_view_has_every_member_of_the_receipt(r: Receipt) -> None:
    assert wire.receipt(r) == {**asdict(r), "inclusion_proof": list(r.inclusion_proof)}


@given(st.builds(Delivery, deadline=st.integers(0, 2**52)))
def test_a_delivery_view_has_every_member_of_the_delivery(d: Delivery) -> None:
    assert wire.delivery(d) == {**asdict(d), "deadline": iso_of(d.deadline)}
