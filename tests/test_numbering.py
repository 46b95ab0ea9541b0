"""The numbering authority's conversion table (seed items 6, 8, 11, 32).

Pure rules (core.numbering) and the durable table (services.numbering.table):
no double issue, a revoked Number never comes back, re-issue and resident-code
change keep their history, corporate numbers follow the published vectors, every
refusal is specific, and a refused or failed operation changes nothing.  A
stateful property test runs random operation sequences against a dict model.
"""

from __future__ import annotations

import functools
import random
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import icontract
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from renkei_conformance.spec import load_vectors
from renkei_reference.core.check_digit import (
    is_valid_individual_number,
    resident_code_check_digit,
)
from renkei_reference.core.errors import (
    CallerError,
    ConflictError,
    NotFoundError,
    RenkeiError,
    StateError,
)
from renkei_reference.core.identifiers import IndividualNumber, ResidentCode
from renkei_reference.core.numbering import (
    MAX_DRAWS,
    NUMBER_SPACE,
    CorporateNumber,
    NumberEvent,
    NumberEventKind,
    NumberStatus,
    ReissueReason,
    ResidentCodeState,
    decide_corporate_issue,
    decide_issue,
    decide_reissue,
    decide_resident_code_change,
    issue_number,
    normalize_time,
    number_from_draw,
    number_value,
)
from renkei_reference.services.numbering.table import (
    CsprngDraw,
    InMemoryNumberingTable,
    NumberingTable,
    SqliteNumberingTable,
)

AT = datetime(2026, 4, 1, 9, 30, tzinfo=UTC)
LATER = AT + timedelta(days=30)


def rc(n: int) -> ResidentCode:
    """The resident code with 10-digit body ``n``."""
    body = f"{n:010d}"
    return ResidentCode(body + str(resident_code_check_digit(body)))


def body_of(number: IndividualNumber | str) -> int:
    """The draw that yields ``number``."""
    value = number if isinstance(number, str) else number.value
    return int(value[:11])


class Scripted:
    """A draw returning the given bodies in order, then a seeded PRNG's."""

    def __init__(self, *bodies: int, seed: int = 0, space: int = NUMBER_SPACE) -> None:
        self.bodies = list(bodies)
        self.calls = 0
        self._rnd = random.Random(seed)
        self._space = space

    def __call__(self) -> int:
        self.calls += 1
        if self.bodies:
            return self.bodies.pop(0)
        return self._rnd.randrange(self._space)


def _never(_: str) -> bool:
    return False


@pytest.fixture(params=["memory", "file"])
def table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqliteNumberingTable]:
    """The table in memory and in a file; same behaviour required of both."""
    made = (
        InMemoryNumberingTable(max_chunk=3)
        if request.param == "memory"
        else SqliteNumberingTable(tmp_path / "numbering.db", max_chunk=3)
    )
    yield made
    made.close()


def _refused(
    table: SqliteNumberingTable,
    call: Callable[[], object],
    kind: type[RenkeiError],
    problem: str,
    requirement: str,
) -> RenkeiError:
    """``call`` raises exactly this error and leaves every store as it was."""
    before = table.dump_stores()
    count = table.count()
    with pytest.raises(kind) as err:
        call()
    assert type(err.value) is kind
    assert (err.value.problem, err.value.requirement) == (problem, requirement), err.value
    assert table.dump_stores() == before, "a refused operation changed the table"
    assert table.count() == count
    return err.value


# -- Numbers from draws (pure) ---------------------------------------------------------------


@pytest.mark.requirement("RK-NUM-004", "RK-NUM-001")
@given(st.integers(0, NUMBER_SPACE - 1))
def test_number_value_is_the_spec_check_digit(body: int) -> None:
    """The fast integer form equals the spec-literal string form for every body."""
    assert number_value(body) == int(number_from_draw(body).value)
    assert is_valid_individual_number(f"{number_value(body):012d}")


@pytest.mark.requirement("RK-NUM-004")
@pytest.mark.parametrize("body", [0, 1, 10, 98320567321, NUMBER_SPACE - 1])
def test_number_value_edges(body: int) -> None:
    assert number_value(body) == int(number_from_draw(body).value)
    assert number_value(98320567321) == 983205673214  # the published example


@pytest.mark.requirement("RK-NUM-001")
@pytest.mark.parametrize("bad", [-1, NUMBER_SPACE, 2**64, True])
def test_a_broken_draw_is_refused_not_wrapped(bad: int) -> None:
    """A draw outside [0, 10¹¹) is a broken random source, never reduced into range."""
    with pytest.raises(ValueError, match="draw"):
        number_value(bad)
    with pytest.raises(ValueError, match="draw"):
        issue_number(lambda: bad, _never)


@pytest.mark.requirement("RK-NUM-001", "RK-NUM-005")
def test_issue_number_redraws_past_every_number_ever_issued() -> None:
    taken = {number_from_draw(5).value, number_from_draw(6).value}
    draw = Scripted(5, 6, 7)
    assert issue_number(draw, taken.__contains__) == number_from_draw(7)
    assert draw.calls == 3


@pytest.mark.requirement("RK-NUM-005")
def test_issue_number_gives_up_after_max_draws() -> None:
    draw = Scripted(*([5] * (MAX_DRAWS + 1)))
    with pytest.raises(StateError) as err:
        issue_number(draw, lambda _: True)
    assert (err.value.problem, err.value.requirement) == ("number-space-exhausted", "RK-NUM-005")
    assert draw.calls == MAX_DRAWS


@pytest.mark.requirement("RK-NUM-001")
def test_csprng_draw_is_in_range_and_spread() -> None:
    draw = CsprngDraw(block=64)
    values = [draw() for _ in range(5000)]
    assert all(0 <= v < NUMBER_SPACE for v in values)
    assert len(set(values)) == len(values)
    # each decile of the body space gets its share (5000 draws: 500 ± 5σ)
    deciles = [0] * 10
    for v in values:
        deciles[v * 10 // NUMBER_SPACE] += 1
    assert all(390 < d < 610 for d in deciles), deciles


# -- the pure rules --------------------------------------------------------------------------


@pytest.mark.requirement("RK-NUM-005", "RK-NUM-007", "RK-NUM-008")
@pytest.mark.parametrize(
    ("call", "kind", "problem", "requirement"),
    [
        pytest.param(
            lambda: decide_issue(
                rc(1), ResidentCodeState(number_from_draw(1)), Scripted(), _never, AT
            ),
            ConflictError,
            "number-already-issued",
            "RK-NUM-005",
            id="issue-has-number",
        ),
        pytest.param(
            lambda: decide_issue(rc(1), ResidentCodeState(retired=True), Scripted(), _never, AT),
            NotFoundError,
            "unknown-resident",
            "RK-NUM-008",
            id="issue-retired",
        ),
        pytest.param(
            lambda: decide_reissue(rc(1), ResidentCodeState(), Scripted(), _never, AT),
            NotFoundError,
            "not-found",
            "RK-NUM-007",
            id="reissue-no-number",
        ),
        pytest.param(
            lambda: decide_reissue(rc(1), ResidentCodeState(retired=True), Scripted(), _never, AT),
            NotFoundError,
            "not-found",
            "RK-NUM-008",
            id="reissue-retired",
        ),
        pytest.param(
            lambda: decide_resident_code_change(
                rc(1), ResidentCodeState(number_from_draw(1)), rc(1), ResidentCodeState(), AT
            ),
            CallerError,
            "validation-error",
            "RK-NUM-008",
            id="change-same-code",
        ),
        pytest.param(
            lambda: decide_resident_code_change(
                rc(1), ResidentCodeState(), rc(2), ResidentCodeState(), AT
            ),
            NotFoundError,
            "not-found",
            "RK-NUM-008",
            id="change-old-no-number",
        ),
        pytest.param(
            lambda: decide_resident_code_change(
                rc(1),
                ResidentCodeState(number_from_draw(1)),
                rc(2),
                ResidentCodeState(number_from_draw(2)),
                AT,
            ),
            ConflictError,
            "number-already-issued",
            "RK-NUM-008",
            id="change-new-has-number",
        ),
        pytest.param(
            lambda: decide_resident_code_change(
                rc(1),
                ResidentCodeState(number_from_draw(1)),
                rc(2),
                ResidentCodeState(retired=True),
                AT,
            ),
            NotFoundError,
            "unknown-resident",
            "RK-NUM-008",
            id="change-new-retired",
        ),
        pytest.param(
            lambda: decide_corporate_issue("12345678901", False, AT),
            CallerError,
            "validation-error",
            "RK-CORP-001",
            id="corporate-short-base",
        ),
        pytest.param(
            lambda: decide_corporate_issue("123456789012", True, AT),
            ConflictError,
            "corporate-number-already-issued",
            "RK-CORP-002",
            id="corporate-twice",
        ),
    ],
)
def test_each_rule_refuses_specifically(
    call: Callable[[], object], kind: type[RenkeiError], problem: str, requirement: str
) -> None:
    with pytest.raises(kind) as err:
        call()
    assert type(err.value) is kind
    assert (err.value.problem, err.value.requirement) == (problem, requirement)


@pytest.mark.requirement("RK-NUM-007")
def test_decide_reissue_never_returns_the_current_number() -> None:
    current = number_from_draw(1)
    event = decide_reissue(rc(1), ResidentCodeState(current), Scripted(1, 1, 2), _never, AT)
    assert event.number == number_from_draw(2)
    assert event.old_number == current
    assert event.reason is ReissueReason.PERSON_REQUEST


@pytest.mark.requirement("RK-NUM-007", "RK-NUM-008")
def test_records_and_events_check_their_shape() -> None:
    n1, n2 = number_from_draw(1), number_from_draw(2)
    with pytest.raises(ValueError, match="whole seconds"):
        NumberEvent(NumberEventKind.ISSUED, AT.replace(microsecond=5), rc(1), n1)
    with pytest.raises(ValueError, match="REISSUED"):
        NumberEvent(NumberEventKind.ISSUED, AT, rc(1), n1, old_number=n2)
    with pytest.raises(ValueError, match="changes the Number"):
        NumberEvent(
            NumberEventKind.REISSUED,
            AT,
            rc(1),
            n1,
            old_number=n1,
            reason=ReissueReason.PERSON_REQUEST,
        )
    with pytest.raises(ValueError, match="RESIDENT_CODE_CHANGED"):
        NumberEvent(NumberEventKind.RESIDENT_CODE_CHANGED, AT, rc(1), n1)
    with pytest.raises(ValueError, match="changes the resident code"):
        NumberEvent(NumberEventKind.RESIDENT_CODE_CHANGED, AT, rc(1), n1, old_resident_code=rc(1))
    with pytest.raises(ValueError, match="retired"):
        ResidentCodeState(n1, retired=True)


@pytest.mark.requirement("RK-NUM-007")
def test_times_are_utc_seconds_and_must_be_aware() -> None:
    jst = timezone(timedelta(hours=9))
    assert normalize_time(datetime(2026, 4, 1, 18, 30, 0, 999_999, tzinfo=jst)) == AT
    with pytest.raises(icontract.ViolationError):
        normalize_time(datetime(2026, 4, 1, 9, 30))  # naive on purpose


# -- corporate numbers (seed item 32) ------------------------------------------------------


def _corporate_vectors() -> list[dict[str, Any]]:
    return list(load_vectors("corporate-number-check-digit")["tests"])


@pytest.mark.requirement("RK-CORP-001")
@pytest.mark.parametrize("vector", _corporate_vectors(), ids=lambda v: f"tc{v['tcId']}")
def test_corporate_number_vectors(vector: dict[str, Any]) -> None:
    value = vector["value"]
    if vector["result"] == "valid":
        number = CorporateNumber(value)
        assert CorporateNumber.from_base(value[1:]) == number
        assert number.base == value[1:]
        assert int(value[0]) == vector["expectedCheckDigit"]
    else:
        with pytest.raises(CallerError) as err:
            CorporateNumber(value)
        assert (err.value.problem, err.value.requirement) == (
            "malformed-corporate-number",
            "RK-CORP-001",
        )
    if vector["expectedCheckDigit"] is not None:
        made = CorporateNumber.from_base(value[1:])
        assert made.value[0] == str(vector["expectedCheckDigit"])


@pytest.mark.requirement("RK-CORP-001", "RK-CORP-002")
def test_corporate_numbers_are_issued_once_and_kept_apart(table: SqliteNumberingTable) -> None:
    for vector in _corporate_vectors():
        if vector["result"] == "valid":
            issued = table.issue_corporate(vector["value"][1:], AT)
            assert issued.value == vector["value"]
            assert table.lookup_corporate(issued).issued_at == AT
    _refused(
        table,
        lambda: table.issue_corporate("123456789012", LATER),
        ConflictError,
        "corporate-number-already-issued",
        "RK-CORP-002",
    )
    for bad in [
        "12345678901",
        "1234567890123",
        "１２３４５６７８９０１２",
        "",
        "1" * 30,
        "-12345678901",
    ]:
        _refused(
            table,
            functools.partial(table.issue_corporate, bad, AT),
            CallerError,
            "validation-error",
            "RK-CORP-001",
        )
    _refused(
        table,
        lambda: table.lookup_corporate(CorporateNumber.from_base("999999999999")),
        NotFoundError,
        "not-found",
        "RK-CORP-002",
    )
    stores = table.dump_stores()
    assert stores["numbering.table"] == [], "corporate numbers are not in the personal table"
    assert len(stores["numbering.corporate"]) == 16
    assert table.count() == 0


# -- the table: issue and look-up ----------------------------------------------------------


@pytest.mark.requirement("RK-NUM-001", "RK-NUM-004", "RK-NUM-007")
def test_issue_then_lookup(table: SqliteNumberingTable) -> None:
    jst = timezone(timedelta(hours=9))
    number = table.issue(rc(1), Scripted(98320567321), AT.astimezone(jst).replace(microsecond=7))
    assert number.value == "983205673214"
    record = table.lookup(rc(1))
    assert (record.number, record.resident_code, record.status) == (
        number,
        rc(1),
        NumberStatus.CURRENT,
    )
    assert record.issued_at == AT
    assert record.revoked_at is None
    assert table.ever_issued(number)
    assert not table.ever_issued(number_from_draw(1))
    assert table.count() == 1
    assert table.history(rc(1)) == [NumberEvent(NumberEventKind.ISSUED, AT, rc(1), number)]


@pytest.mark.requirement("RK-NUM-005")
def test_no_double_issue(table: SqliteNumberingTable) -> None:
    first = table.issue(rc(1), Scripted(), AT)
    _refused(
        table,
        lambda: table.issue(rc(1), Scripted(), LATER),
        ConflictError,
        "number-already-issued",
        "RK-NUM-005",
    )
    assert table.lookup(rc(1)).number == first


@pytest.mark.requirement("RK-NUM-005")
def test_a_drawn_number_already_issued_is_redrawn(table: SqliteNumberingTable) -> None:
    first = table.issue(rc(1), Scripted(10), AT)
    draw = Scripted(body_of(first), body_of(first), 11)
    second = table.issue(rc(2), draw, AT)
    assert second == number_from_draw(11)
    assert draw.calls == 3


@pytest.mark.requirement("RK-NUM-007", "RK-NUM-008")
@pytest.mark.parametrize("operation", ["lookup", "reissue", "history"])
def test_a_resident_code_without_number_is_not_found(
    table: SqliteNumberingTable, operation: str
) -> None:
    calls: dict[str, Callable[[], object]] = {
        "lookup": lambda: table.lookup(rc(7)),
        "reissue": lambda: table.reissue(rc(7), Scripted(), AT),
        "history": lambda: table.history(rc(7)),
    }
    _refused(table, calls[operation], NotFoundError, "not-found", "RK-NUM-007")


@pytest.mark.requirement("RK-NUM-005")
def test_exhausted_draws_change_nothing(table: SqliteNumberingTable) -> None:
    first = table.issue(rc(1), Scripted(3), AT)
    _refused(
        table,
        lambda: table.issue(rc(2), Scripted(*([body_of(first)] * MAX_DRAWS)), AT),
        StateError,
        "number-space-exhausted",
        "RK-NUM-005",
    )


# -- re-issue (RK-NUM-007) ---------------------------------------------------------------------


@pytest.mark.requirement("RK-NUM-007", "RK-NUM-005")
def test_reissue_revokes_the_old_number_and_keeps_history(table: SqliteNumberingTable) -> None:
    old = table.issue(rc(1), Scripted(100), AT)
    new = table.reissue(rc(1), Scripted(200), LATER, ReissueReason.SUSPECTED_LEAK)
    assert new != old
    record = table.lookup(rc(1))
    assert (record.number, record.status, record.issued_at) == (new, NumberStatus.CURRENT, LATER)
    assert table.ever_issued(old)
    assert table.ever_issued(new)
    assert table.count() == 2
    rows = {r["number"]: r for r in table.dump()}
    assert rows[old.value]["status"] == "revoked"
    assert rows[old.value]["revoked_at"] == LATER.isoformat()
    assert rows[new.value]["status"] == "current"
    assert table.history(rc(1)) == [
        NumberEvent(NumberEventKind.ISSUED, AT, rc(1), old),
        NumberEvent(
            NumberEventKind.REISSUED,
            LATER,
            rc(1),
            new,
            old_number=old,
            reason=ReissueReason.SUSPECTED_LEAK,
        ),
    ]


@pytest.mark.requirement("RK-NUM-005", "RK-NUM-007")
def test_a_revoked_number_is_never_issued_again(table: SqliteNumberingTable) -> None:
    """A draw that keeps offering the revoked Number (and the current one) is
    redrawn — in re-issue, issue and bulk issue alike."""
    old = table.issue(rc(1), Scripted(100), AT)
    new = table.reissue(rc(1), Scripted(100, 200), AT)
    assert new == number_from_draw(200)
    draw = Scripted(100, 200, 100, 300)
    assert table.issue(rc(2), draw, AT) == number_from_draw(300)
    assert draw.calls == 4
    bulk = Scripted(100, 200, 300, 400, 100, 500)
    assert table.issue_many([rc(3), rc(4)], bulk, AT) == 2
    assert table.lookup(rc(3)).number == number_from_draw(400)
    assert table.lookup(rc(4)).number == number_from_draw(500)
    again = table.reissue(rc(4), Scripted(100, 200, 500, 600), AT)
    assert again == number_from_draw(600)
    numbers = [r["number"] for r in table.dump()]
    assert len(numbers) == len(set(numbers)) == 6
    assert old.value in numbers


@pytest.mark.requirement("RK-NUM-007")
def test_a_failed_reissue_changes_nothing(table: SqliteNumberingTable) -> None:
    table.issue(rc(1), Scripted(100), AT)
    before = table.dump_stores()

    def broken() -> int:
        raise OSError("random source failed")

    with pytest.raises(OSError, match="random source"):
        table.reissue(rc(1), broken, LATER)
    assert table.dump_stores() == before
    _refused(
        table,
        lambda: table.reissue(rc(1), Scripted(*([100] * MAX_DRAWS)), LATER),
        StateError,
        "number-space-exhausted",
        "RK-NUM-005",
    )


# -- resident-code change (RK-NUM-008) ------------------------------------------------------


@pytest.mark.requirement("RK-NUM-008")
def test_the_number_follows_a_resident_code_change(table: SqliteNumberingTable) -> None:
    number = table.issue(rc(1), Scripted(100), AT)
    assert table.change_resident_code(rc(1), rc(2), LATER) == number
    record = table.lookup(rc(2))
    assert (record.number, record.status, record.issued_at) == (number, NumberStatus.CURRENT, AT)
    assert table.count() == 1, "a change is not a new issue"
    err = _refused(table, lambda: table.lookup(rc(1)), NotFoundError, "not-found", "RK-NUM-008")
    assert "replaced" in err.detail
    _refused(
        table,
        lambda: table.issue(rc(1), Scripted(), LATER),
        NotFoundError,
        "unknown-resident",
        "RK-NUM-008",
    )
    _refused(
        table,
        lambda: table.reissue(rc(1), Scripted(), LATER),
        NotFoundError,
        "not-found",
        "RK-NUM-008",
    )
    _refused(
        table,
        lambda: table.history(rc(1)),
        NotFoundError,
        "not-found",
        "RK-NUM-008",
    )
    _refused(
        table,
        lambda: table.issue(rc(2), Scripted(), LATER),
        ConflictError,
        "number-already-issued",
        "RK-NUM-005",
    )


@pytest.mark.requirement("RK-NUM-008")
def test_resident_code_change_refusals(table: SqliteNumberingTable) -> None:
    table.issue(rc(1), Scripted(100), AT)
    table.issue(rc(2), Scripted(200), AT)
    table.issue(rc(3), Scripted(300), AT)
    table.change_resident_code(rc(3), rc(4), AT)  # rc(3) is now retired
    cases: list[tuple[ResidentCode, ResidentCode, type[RenkeiError], str]] = [
        (rc(1), rc(1), CallerError, "validation-error"),
        (rc(9), rc(10), NotFoundError, "not-found"),
        (rc(1), rc(2), ConflictError, "number-already-issued"),
        (rc(3), rc(11), NotFoundError, "not-found"),
        (rc(1), rc(3), NotFoundError, "unknown-resident"),
    ]
    for old, new, kind, problem in cases:
        _refused(
            table,
            functools.partial(table.change_resident_code, old, new, LATER),
            kind,
            problem,
            "RK-NUM-008",
        )


@pytest.mark.requirement("RK-NUM-007", "RK-NUM-008")
def test_history_follows_the_person_through_every_change(table: SqliteNumberingTable) -> None:
    t = [AT + timedelta(days=i) for i in range(5)]
    n1 = table.issue(rc(1), Scripted(1), t[0])
    table.issue(rc(50), Scripted(50), t[0])  # a bystander
    n2 = table.reissue(rc(1), Scripted(2), t[1])
    assert table.change_resident_code(rc(1), rc(2), t[2]) == n2
    n3 = table.reissue(rc(2), Scripted(3), t[3], ReissueReason.SUSPECTED_LEAK)
    assert table.change_resident_code(rc(2), rc(3), t[4]) == n3
    table.reissue(rc(50), Scripted(51), t[4])
    expected = [
        NumberEvent(NumberEventKind.ISSUED, t[0], rc(1), n1),
        NumberEvent(
            NumberEventKind.REISSUED,
            t[1],
            rc(1),
            n2,
            old_number=n1,
            reason=ReissueReason.PERSON_REQUEST,
        ),
        NumberEvent(
            NumberEventKind.RESIDENT_CODE_CHANGED, t[2], rc(2), n2, old_resident_code=rc(1)
        ),
        NumberEvent(
            NumberEventKind.REISSUED,
            t[3],
            rc(2),
            n3,
            old_number=n2,
            reason=ReissueReason.SUSPECTED_LEAK,
        ),
        NumberEvent(
            NumberEventKind.RESIDENT_CODE_CHANGED, t[4], rc(3), n3, old_resident_code=rc(2)
        ),
    ]
    assert table.history(rc(3)) == expected
    assert table.lookup(rc(3)).number == n3
    assert [table.ever_issued(n) for n in (n1, n2, n3)] == [True, True, True]
    assert len(table.history(rc(50))) == 2


# -- bulk issue -----------------------------------------------------------------------------


@pytest.mark.requirement("RK-NUM-001", "RK-NUM-005")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    existing=st.lists(st.integers(0, 30), max_size=6, unique=True),
    batch=st.lists(st.integers(0, 30), max_size=25),
    seed=st.integers(0, 2**32),
    space=st.sampled_from([40, 200, NUMBER_SPACE]),
    max_chunk=st.integers(1, 8),
)
def test_issue_many_equals_repeated_issue(
    existing: list[int], batch: list[int], seed: int, space: int, max_chunk: int
) -> None:
    """Same draws, same table — collisions (a small draw space), duplicates and
    codes that already have a Number included.  When repeated ``issue`` would
    refuse a code, ``issue_many`` raises the same error and stores nothing."""
    bulk, single = InMemoryNumberingTable(max_chunk=max_chunk), InMemoryNumberingTable()
    try:
        for t in (bulk, single):
            setup = Scripted(seed=seed ^ 1, space=space)
            for n in existing:
                t.issue(rc(n), setup, AT)
        before = bulk.dump_stores()
        expected: RenkeiError | None = None
        draw_single = Scripted(seed=seed, space=space)
        for n in batch:
            try:
                single.issue(rc(n), draw_single, LATER)
            except RenkeiError as exc:
                expected = exc
                break
        draw_bulk = Scripted(seed=seed, space=space)
        if expected is None:
            assert bulk.issue_many([rc(n) for n in batch], draw_bulk, LATER) == len(batch)
            assert bulk.dump_stores() == single.dump_stores()
            assert bulk.count() == single.count()
        else:
            with pytest.raises(RenkeiError) as err:
                bulk.issue_many([rc(n) for n in batch], draw_bulk, LATER)
            assert type(err.value) is type(expected)
            assert (err.value.problem, err.value.requirement) == (
                expected.problem,
                expected.requirement,
            )
            assert bulk.dump_stores() == before
    finally:
        bulk.close()
        single.close()


@pytest.mark.requirement("RK-NUM-005", "RK-NUM-008")
def test_issue_many_refusals_store_nothing(table: SqliteNumberingTable) -> None:
    table.issue(rc(1), Scripted(), AT)
    table.issue(rc(2), Scripted(), AT)
    table.change_resident_code(rc(2), rc(3), AT)
    fresh = [rc(n) for n in range(10, 20)]
    _refused(
        table,
        lambda: table.issue_many([*fresh, rc(1)], Scripted(), LATER),
        ConflictError,
        "number-already-issued",
        "RK-NUM-005",
    )
    _refused(
        table,
        lambda: table.issue_many([*fresh, rc(10)], Scripted(), LATER),
        ConflictError,
        "number-already-issued",
        "RK-NUM-005",
    )
    _refused(
        table,
        lambda: table.issue_many([*fresh, rc(2)], Scripted(), LATER),
        NotFoundError,
        "unknown-resident",
        "RK-NUM-008",
    )
    _refused(
        table,
        lambda: table.issue_many([*fresh, rc(3)], Scripted(), LATER),
        ConflictError,
        "number-already-issued",
        "RK-NUM-005",
    )
    assert table.issue_many([], Scripted(), LATER) == 0
    assert table.issue_many(iter(fresh), Scripted(), LATER) == 10


@pytest.mark.requirement("RK-NUM-001")
def test_a_draw_failing_mid_batch_stores_nothing(table: SqliteNumberingTable) -> None:
    """Earlier chunks of the batch were already written when the draw fails."""
    table.issue(rc(1), Scripted(), AT)
    before = table.dump_stores()
    source = Scripted(seed=3)

    def failing() -> int:
        if source.calls >= 7:
            raise OSError("random source failed")
        return source()

    with pytest.raises(OSError, match="random source"):
        table.issue_many([rc(n) for n in range(10, 30)], failing, LATER)
    assert table.dump_stores() == before
    with pytest.raises(ValueError, match="draw"):
        table.issue_many([rc(n) for n in range(10, 30)], lambda: -1, LATER)
    assert table.dump_stores() == before


# -- durability and layout ------------------------------------------------------------------


@pytest.mark.requirement("RK-NUM-001", "RK-NUM-005")
def test_the_table_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "numbering.db"
    with SqliteNumberingTable(path) as first:
        number = first.issue(rc(1), CsprngDraw(), AT)
        first.issue_many([rc(n) for n in range(2, 100)], CsprngDraw(), AT)
        old = first.reissue(rc(5), CsprngDraw(), LATER)
        dump = first.dump_stores()
    with SqliteNumberingTable(path) as again:
        assert again.lookup(rc(1)).number == number
        assert again.ever_issued(old)
        assert again.count() == 100
        assert again.dump_stores() == dump
        assert again.bytes_used() > 0


@pytest.mark.requirement("RK-NUM-001")
def test_another_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "numbering.db"
    SqliteNumberingTable(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(RuntimeError, match="schema version 99"):
        SqliteNumberingTable(path)


@pytest.mark.requirement("RK-NUM-005", "RK-NUM-007")
def test_layout_probes_are_index_searches(tmp_path: Path) -> None:
    """'Ever issued?' is a rowid search, a look-up a search of the partial index,
    and the store is WAL-journalled with codes stored as integers."""
    path = tmp_path / "numbering.db"
    with SqliteNumberingTable(path) as made:
        made.issue_many([rc(n) for n in range(50)], CsprngDraw(), AT)
        db = sqlite3.connect(path)
        try:

            def plan(sql: str, *args: int) -> str:
                return " | ".join(r[-1] for r in db.execute(f"EXPLAIN QUERY PLAN {sql}", args))

            assert "INTEGER PRIMARY KEY" in plan("SELECT 1 FROM number WHERE number = ?", 1)
            lookup = plan(
                "SELECT number FROM number WHERE resident_code = ? AND revoked_at IS NULL", 1
            )
            assert "USING INDEX number_current (resident_code=?)" in lookup
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            types = db.execute(
                "SELECT DISTINCT typeof(number), typeof(resident_code), typeof(issued_at) "
                "FROM number"
            ).fetchall()
            assert types == [("integer", "integer", "integer")]
        finally:
            db.close()


@pytest.mark.requirement("RK-NUM-001")
def test_the_table_meets_the_protocol() -> None:
    made: NumberingTable = InMemoryNumberingTable()
    made.close()


# -- stateful: random operation sequences against a dict model -------------------------


class NumberingMachine(RuleBasedStateMachine):
    """Model: current Number per resident code, every Number ever issued,
    retired codes, and each person's event count.  Draws come from a tiny body
    space (60 values), so collisions with current and revoked Numbers are
    constant; the table must redraw past every one of them."""

    codes = Bundle("codes")

    def __init__(self) -> None:
        super().__init__()
        self.table = InMemoryNumberingTable(max_chunk=2)
        self.current: dict[ResidentCode, IndividualNumber] = {}
        self.ever: set[IndividualNumber] = set()
        self.retired: set[ResidentCode] = set()
        self.events: dict[ResidentCode, int] = {}
        self.draw = Scripted(space=60)
        self.now = AT

    def teardown(self) -> None:
        self.table.close()

    @initialize(seed=st.integers(0, 2**32))
    def seed(self, seed: int) -> None:
        self.draw = Scripted(seed=seed, space=60)

    def _tick(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now

    def _expect_refusal(self, call: Callable[[], object], problem: str, requirement: str) -> None:
        before = self.table.dump_stores()
        with pytest.raises(RenkeiError) as err:
            call()
        assert (err.value.problem, err.value.requirement) == (problem, requirement)
        assert self.table.dump_stores() == before

    @rule(target=codes, n=st.integers(0, 12))
    def resident(self, n: int) -> ResidentCode:
        return rc(n)

    @rule(code=codes)
    def issue(self, code: ResidentCode) -> None:
        at = self._tick()
        if code in self.retired:
            self._expect_refusal(
                lambda: self.table.issue(code, self.draw, at), "unknown-resident", "RK-NUM-008"
            )
        elif code in self.current:
            self._expect_refusal(
                lambda: self.table.issue(code, self.draw, at), "number-already-issued", "RK-NUM-005"
            )
        else:
            number = self.table.issue(code, self.draw, at)
            assert number not in self.ever
            self.current[code] = number
            self.ever.add(number)
            self.events[code] = 1

    @rule(batch=st.lists(codes, max_size=6))
    def issue_many(self, batch: list[ResidentCode]) -> None:
        at = self._tick()
        ok = (
            len(set(batch)) == len(batch)
            and not set(batch) & self.retired
            and not set(batch) & set(self.current)
        )
        if not ok:
            before = self.table.dump_stores()
            with pytest.raises(RenkeiError):
                self.table.issue_many(batch, self.draw, at)
            assert self.table.dump_stores() == before
            return
        assert self.table.issue_many(batch, self.draw, at) == len(batch)
        for code in batch:
            number = self.table.lookup(code).number
            assert number not in self.ever
            self.current[code] = number
            self.ever.add(number)
            self.events[code] = 1

    @rule(code=codes)
    def reissue(self, code: ResidentCode) -> None:
        at = self._tick()
        if code in self.retired:
            self._expect_refusal(
                lambda: self.table.reissue(code, self.draw, at), "not-found", "RK-NUM-008"
            )
        elif code not in self.current:
            self._expect_refusal(
                lambda: self.table.reissue(code, self.draw, at), "not-found", "RK-NUM-007"
            )
        else:
            number = self.table.reissue(code, self.draw, at)
            assert number not in self.ever
            self.current[code] = number
            self.ever.add(number)
            self.events[code] += 1

    @rule(old=codes, new=codes)
    def change(self, old: ResidentCode, new: ResidentCode) -> None:
        at = self._tick()
        call = functools.partial(self.table.change_resident_code, old, new, at)
        if old == new:
            self._expect_refusal(call, "validation-error", "RK-NUM-008")
        elif old in self.retired or old not in self.current:
            self._expect_refusal(call, "not-found", "RK-NUM-008")
        elif new in self.retired:
            self._expect_refusal(call, "unknown-resident", "RK-NUM-008")
        elif new in self.current:
            self._expect_refusal(call, "number-already-issued", "RK-NUM-008")
        else:
            assert call() == self.current[old]
            self.current[new] = self.current.pop(old)
            self.events[new] = self.events.pop(old) + 1
            self.retired.add(old)

    @rule(code=codes)
    def lookup_and_history(self, code: ResidentCode) -> None:
        if code in self.current:
            assert self.table.lookup(code).number == self.current[code]
            history = self.table.history(code)
            assert len(history) == self.events[code]
            assert history[0].kind is NumberEventKind.ISSUED
            assert history[-1].number == self.current[code]
            assert history[-1].resident_code == code
        else:
            with pytest.raises(NotFoundError):
                self.table.lookup(code)

    @invariant()
    def table_matches_model(self) -> None:
        rows = self.table.dump()
        numbers = [r["number"] for r in rows]
        assert len(numbers) == len(set(numbers)), "a Number was issued twice"
        assert set(numbers) == {n.value for n in self.ever}
        current = {r["resident_code"]: r["number"] for r in rows if r["status"] == "current"}
        assert current == {c.value: n.value for c, n in self.current.items()}
        assert self.table.count() == len(self.ever)


NumberingMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=30, deadline=None
)


@pytest.mark.requirement("RK-NUM-001", "RK-NUM-005", "RK-NUM-007", "RK-NUM-008")
class TestNumberingMachine(NumberingMachine.TestCase):  # type: ignore[misc, valid-type]
    """Random sequences of issue, bulk issue, re-issue, resident-code change and
    look-up never issue a Number twice and agree with the model."""
