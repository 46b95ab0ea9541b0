"""Retention, legal holds and purging of the access log (seed item 25; RK-RET-001..003).

(a) retention (RK-RET-001): an entry is never in a purge plan before its
    retention ends and always in it afterwards unless held — checked against an
    oracle written here; the boundary (7 years minus a day, minus a
    microsecond, exactly 7 years); 29 February; per-class periods; the legal
    minimum refused with ``retention-below-legal-minimum``;
(b) legal holds (RK-RET-002): a hold covers exactly its scope (each criterion
    and their conjunction), keeps every covered entry while it stands, and
    lifting it releases exactly the due entries no other hold keeps;
(c) purging (RK-RET-003), with the real MerkleLog: receipts and consistency
    proofs issued before a purge still verify after it, the log goes on
    growing, a log rebuilt from the stored slots has the same roots, and a
    purged leaf cannot be reproduced without its salt.
"""

from __future__ import annotations

import calendar
import itertools
from dataclasses import fields, replace
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import TypeVar

import icontract
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from renkei_reference.core.access_log import AccessLogEntry, Outcome, leaf_bytes
from renkei_reference.core.errors import CallerError
from renkei_reference.core.instant import Instant, datetime_of, instant_of
from renkei_reference.core.merkle import (
    MerkleLog,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from renkei_reference.core.retention import (
    DEFAULT_YEARS,
    LEGAL_MINIMUM_YEARS,
    MAX_YEARS,
    SALT_SIZE,
    HoldScope,
    LegalHold,
    LogClass,
    PurgedEntry,
    RetentionPolicy,
    StoredEntry,
    purge,
    purge_entry,
    purge_plan,
    retained_until,
    retention_due,
    retention_end,
    serial_ranges,
)

T = TypeVar("T")
T0 = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)
AUDITOR = "auditor.ppc"
AGENCIES = ("pension.nenkin", "city.sapporo", "tax.nta")
PATTERNS = ("P-001", "P-002", "P-003")
LINKAGES = ("lk-1", "lk-2", "lk-3")
PERSONS = (b"\x01" + b"\xaa" * 27, b"\x01" + b"\xbb" * 27)

utc_times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2200, 12, 31), timezones=st.just(UTC)
)
# Entries made within three years and clocks 6 to 11 years later: plans are mixed.
made_times = st.datetimes(
    min_value=datetime(2026, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
clock_times = st.datetimes(
    min_value=datetime(2032, 6, 1), max_value=datetime(2039, 12, 31), timezones=st.just(UTC)
)
salts = st.binary(min_size=SALT_SIZE, max_size=SALT_SIZE)


def entry(
    serial: int,
    at: datetime,
    *,
    pattern_id: str = PATTERNS[0],
    requester: str = AGENCIES[0],
    provider: str = AGENCIES[1],
    linkage_id: str | None = LINKAGES[0],
    person: bytes | None = PERSONS[0],
    salt: bytes = b"\x5a" * SALT_SIZE,
) -> AccessLogEntry:
    return AccessLogEntry(
        serial=serial,
        at=at,
        pattern_id=pattern_id,
        legal_basis="番号法 別表第二 1",
        requester=requester,
        requester_name=requester,
        provider=provider,
        provider_name=provider,
        information_kind="income",
        outcome=Outcome.PROVIDED,
        reason=None,
        detail=None,
        linkage_id=linkage_id,
        request_id=f"rq-{serial}",
        person=person,
        salt=salt,
    )


@st.composite
def logs(draw: st.DrawFn, max_size: int = 25) -> list[AccessLogEntry]:
    """A log of entries with serials 1..n (times in any order: the clock may be set back)."""
    n = draw(st.integers(0, max_size))
    return [
        entry(
            serial,
            draw(made_times),
            pattern_id=draw(st.sampled_from(PATTERNS)),
            requester=draw(st.sampled_from(AGENCIES)),
            provider=draw(st.sampled_from(AGENCIES)),
            linkage_id=draw(st.none() | st.sampled_from(LINKAGES)),
            person=draw(st.none() | st.sampled_from(PERSONS)),
            salt=draw(salts),
        )
        for serial in range(1, n + 1)
    ]


def _maybe(strategy: st.SearchStrategy[T]) -> st.SearchStrategy[T | None]:
    """None two times in three, so that scopes have few criteria."""
    return st.one_of(st.none(), st.none(), strategy)


@st.composite
def scopes(draw: st.DrawFn) -> HoldScope:
    first = draw(st.integers(1, 25))
    period = sorted(draw(st.lists(made_times, min_size=2, max_size=2, unique=True)))
    not_before = draw(_maybe(st.just(period[0])))
    before = draw(_maybe(st.just(period[1])))
    return HoldScope(
        serials=draw(_maybe(st.integers(0, 10).map(lambda k: (first, first + k)))),
        pattern_id=draw(_maybe(st.sampled_from(PATTERNS))),
        agency=draw(_maybe(st.sampled_from(AGENCIES))),
        linkage_ids=draw(_maybe(st.frozensets(st.sampled_from(LINKAGES), min_size=1))),
        person=draw(_maybe(st.sampled_from(PERSONS))),
        not_before=not_before,
        before=before,
    )


@st.composite
def holds(draw: st.DrawFn, min_size: int = 0, max_size: int = 3) -> list[LegalHold]:
    n = draw(st.integers(min_size, max_size))
    return [
        LegalHold(f"lh-{i}", draw(scopes()), "不正アクセスの疑いに関する調査", AUDITOR, T0)
        for i in range(n)
    ]


def oracle_until(made_at: datetime, years: int) -> datetime:
    """Same month and time of day ``years`` later; the day capped at the month's end."""
    year = made_at.year + years
    day = min(made_at.day, calendar.monthrange(year, made_at.month)[1])
    return datetime.combine(date(year, made_at.month, day), made_at.timetz())


def oracle_covers(scope: HoldScope, e: AccessLogEntry) -> bool:
    """The OpenAPI ``LegalHoldScope`` reading: every given criterion holds; period [from, to)."""
    checks = [
        scope.serials is None or scope.serials[0] <= e.serial <= scope.serials[1],
        scope.pattern_id is None or scope.pattern_id == e.pattern_id,
        scope.agency is None or scope.agency in {e.requester, e.provider},
        scope.linkage_ids is None or e.linkage_id in scope.linkage_ids,
        scope.person is None or scope.person == e.person,
        scope.not_before is None or scope.not_before <= e.at,
        scope.before is None or e.at < scope.before,
    ]
    return all(checks)


def slot_hash(slot: StoredEntry) -> bytes:
    return slot.leaf_hash if isinstance(slot, PurgedEntry) else leaf_hash(leaf_bytes(slot))


# ---------------------------------------------------------------------------
# (a) Retention (RK-RET-001)
# ---------------------------------------------------------------------------


@pytest.mark.requirement("RK-RET-001")
@given(utc_times, st.integers(1, MAX_YEARS))
def test_retention_ends_on_the_same_date_and_time_years_later(
    made_at: datetime, years: int
) -> None:
    until = retained_until(made_at, years)
    assert until == oracle_until(made_at, years)
    assert until.tzinfo is not None
    assert until.utcoffset() == timedelta(0)
    assert (until.month, until.time()) == (made_at.month, made_at.time())


@pytest.mark.requirement("RK-RET-001")
@given(logs(), clock_times, st.integers(DEFAULT_YEARS, 9))
def test_an_entry_is_purged_exactly_when_its_retention_has_ended(
    log: list[AccessLogEntry], now: datetime, years: int
) -> None:
    """Never before ``made_at + years``, always from then on (no holds)."""
    policy = RetentionPolicy(hub_access_log=years)
    plan = purge_plan(log, policy, [], now)
    assert list(plan) == sorted(set(plan))
    assert set(plan) == {e.serial for e in log if now >= oracle_until(e.at, years)}


@pytest.mark.requirement("RK-RET-001")
@given(made_times)
def test_an_entry_is_present_at_seven_years_minus_a_day_and_purged_after(
    made_at: datetime,
) -> None:
    log = [entry(1, made_at)]
    seven = oracle_until(made_at, 7)
    policy = RetentionPolicy()

    def planned(now: datetime) -> bool:
        return purge_plan(log, policy, [], now) == (1,)

    assert not planned(made_at)
    assert not planned(seven - timedelta(days=1))
    assert not planned(seven - timedelta(microseconds=1))
    assert planned(seven)
    assert planned(seven + timedelta(microseconds=1))
    assert planned(seven + timedelta(days=1))


@pytest.mark.requirement("RK-RET-001")
@pytest.mark.parametrize(
    ("made_at", "years", "until"),
    [
        # 29 February → 28 February when the target year has none, never 1 March.
        (datetime(2024, 2, 29, 12, 0, tzinfo=UTC), 7, datetime(2031, 2, 28, 12, 0, tzinfo=UTC)),
        (datetime(2024, 2, 29, 12, 0, tzinfo=UTC), 8, datetime(2032, 2, 29, 12, 0, tzinfo=UTC)),
        (datetime(2024, 2, 29, 0, 0, tzinfo=UTC), 76, datetime(2100, 2, 28, 0, 0, tzinfo=UTC)),
        (datetime(2024, 2, 28, 23, 59, tzinfo=UTC), 7, datetime(2031, 2, 28, 23, 59, tzinfo=UTC)),
        (datetime(2024, 3, 1, 0, 0, tzinfo=UTC), 7, datetime(2031, 3, 1, 0, 0, tzinfo=UTC)),
        (datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), 7,
         datetime(2032, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)  # fmt: skip
def test_leap_day_and_edge_dates(made_at: datetime, years: int, until: datetime) -> None:
    assert retained_until(made_at, years) == until
    log = [entry(1, made_at)]
    policy = RetentionPolicy(hub_access_log=years)
    assert purge_plan(log, policy, [], until - timedelta(microseconds=1)) == ()
    assert purge_plan(log, policy, [], until) == (1,)


@pytest.mark.requirement("RK-RET-001")
@given(st.integers(1992, 2196).filter(calendar.isleap), st.integers(1, MAX_YEARS))
def test_a_leap_day_entry_is_kept_to_the_last_day_of_february(year: int, years: int) -> None:
    made_at = datetime(year, 2, 29, 8, 30, tzinfo=UTC)
    until = retained_until(made_at, years)
    assert (until.month, until.day) == (2, 29 if calendar.isleap(year + years) else 28)
    assert until.time() == made_at.time()


class _ShiftingZone(tzinfo):
    """A zone at offset zero before 2030 and one hour ahead from then on (like GMT/BST)."""

    def utcoffset(self, dt: datetime | None) -> timedelta:
        return timedelta(hours=1 if dt is not None and dt.year >= 2030 else 0)

    def dst(self, dt: datetime | None) -> timedelta:
        return timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return "ZZ"


@pytest.mark.requirement("RK-RET-001")
def test_any_zone_at_offset_zero_is_read_as_utc() -> None:
    """The end is computed on the UTC calendar and stays at offset zero, even when
    the entry's zone would be at another offset 7 years later."""
    made_at = datetime(2026, 3, 28, 12, 0, tzinfo=_ShiftingZone())
    assert made_at.utcoffset() == timedelta(0)
    until = retained_until(made_at, 7)
    assert until == datetime(2033, 3, 28, 12, 0, tzinfo=UTC)
    assert until.utcoffset() == timedelta(0)
    gmt = timezone(timedelta(0), "GMT")
    assert retained_until(datetime(2024, 2, 29, tzinfo=gmt), 7) == datetime(2031, 2, 28, tzinfo=UTC)


@pytest.mark.requirement("RK-RET-001")
@pytest.mark.parametrize("log_class", list(LogClass))
def test_every_class_defaults_to_seven_years_the_legal_minimum(log_class: LogClass) -> None:
    assert RetentionPolicy().years_for(log_class) == DEFAULT_YEARS == 7
    assert LEGAL_MINIMUM_YEARS[log_class] == 7
    assert RetentionPolicy().as_dict() == {c.value: 7 for c in LogClass}


@pytest.mark.requirement("RK-RET-001")
@pytest.mark.parametrize("log_class", list(LogClass))
@pytest.mark.parametrize("years", range(1, 7))
def test_a_retention_below_the_legal_minimum_is_refused(log_class: LogClass, years: int) -> None:
    with pytest.raises(CallerError) as err:
        RetentionPolicy().with_years(log_class, years)
    assert err.value.problem == "retention-below-legal-minimum"
    assert err.value.requirement == "RK-RET-001"
    assert err.value.status_hint == 422
    assert err.value.extensions == {
        "log_class": log_class.value,
        "years": years,
        "minimum_years": 7,
    }
    with pytest.raises(CallerError, match="retention-below-legal-minimum"):
        RetentionPolicy(**{log_class.value.replace("-", "_"): years})


@pytest.mark.requirement("RK-RET-001")
@given(st.sampled_from(list(LogClass)), st.integers(7, MAX_YEARS))
def test_each_class_is_configurable_on_its_own(log_class: LogClass, years: int) -> None:
    policy = RetentionPolicy().with_years(log_class, years)
    assert policy.years_for(log_class) == years
    assert all(policy.years_for(c) == 7 for c in LogClass if c is not log_class)
    assert policy.as_dict()[log_class.value] == years


@pytest.mark.requirement("RK-RET-001")
@pytest.mark.parametrize("years", [0, -7, MAX_YEARS + 1, True, 7.5])
def test_a_period_outside_whole_years_1_to_100_is_a_value_error(years: object) -> None:
    with pytest.raises(ValueError, match="whole years"):
        RetentionPolicy().with_years(LogClass.HUB_ACCESS_LOG, years)  # type: ignore[arg-type]


@pytest.mark.requirement("RK-RET-001")
def test_the_plan_uses_the_period_of_the_log_class() -> None:
    log = [entry(1, T0)]
    policy = RetentionPolicy().with_years(LogClass.AGENCY_ACCESS_LOG, 10)
    eight = oracle_until(T0, 8)
    assert purge_plan(log, policy, [], eight) == (1,)
    assert purge_plan(log, policy, [], eight, LogClass.HUB_ACCESS_LOG) == (1,)
    assert purge_plan(log, policy, [], eight, LogClass.AGENCY_ACCESS_LOG) == ()
    assert purge_plan(log, policy, [], oracle_until(T0, 10), LogClass.AGENCY_ACCESS_LOG) == (1,)


@pytest.mark.requirement("RK-RET-001")
@pytest.mark.parametrize(
    "now",
    [datetime(2040, 1, 1), datetime(2040, 1, 1, tzinfo=timezone(timedelta(hours=9)))],
    ids=["naive", "JST"],
)
def test_times_must_be_timezone_aware_utc(now: datetime) -> None:
    with pytest.raises(icontract.ViolationError):
        purge_plan([entry(1, T0)], RetentionPolicy(), [], now)
    with pytest.raises(icontract.ViolationError):
        purge_plan([entry(1, now)], RetentionPolicy(), [], T0)
    with pytest.raises(icontract.ViolationError):
        retained_until(now, 7)


# ---------------------------------------------------------------------------
# (b) Legal holds (RK-RET-002)
# ---------------------------------------------------------------------------


@pytest.mark.requirement("RK-RET-002")
@given(scopes(), logs())
def test_a_hold_covers_exactly_its_scope(scope: HoldScope, log: list[AccessLogEntry]) -> None:
    hold = LegalHold("lh-1", scope, "捜査関係事項照会", AUDITOR, T0)
    criteria = {
        name: getattr(scope, name)
        for name in ("serials", "pattern_id", "agency", "linkage_ids", "person")
        if getattr(scope, name) is not None
    }
    for e in log:
        assert hold.covers(e) == oracle_covers(scope, e)
        # the scope is the conjunction of its criteria, each a scope of its own
        alone = [HoldScope(**{name: value}).covers(e) for name, value in criteria.items()]
        if scope.not_before is not None or scope.before is not None:
            period = HoldScope(not_before=scope.not_before, before=scope.before)
            alone.append(period.covers(e))
        assert hold.covers(e) == all(alone)
        assert HoldScope().covers(e)  # no criterion: all entries


@pytest.mark.requirement("RK-RET-002")
@given(logs(), holds(), clock_times)
def test_no_entry_a_standing_hold_covers_is_ever_planned(
    log: list[AccessLogEntry], hs: list[LegalHold], now: datetime
) -> None:
    plan = set(purge_plan(log, RetentionPolicy(), hs, now))
    due = {e.serial for e in log if now >= oracle_until(e.at, 7)}
    held = {e.serial for e in log if any(oracle_covers(h.scope, e) for h in hs)}
    assert plan == due - held


@pytest.mark.requirement("RK-RET-002")
@given(logs(), holds(min_size=1), st.data(), clock_times)
def test_lifting_a_hold_releases_exactly_the_due_entries_it_alone_kept(
    log: list[AccessLogEntry], hs: list[LegalHold], data: st.DataObject, now: datetime
) -> None:
    k = data.draw(st.integers(0, len(hs) - 1))
    policy = RetentionPolicy()
    before = set(purge_plan(log, policy, hs, now))
    lifted = hs[k].lift(now, AUDITOR)
    after = set(purge_plan(log, policy, [*hs[:k], lifted, *hs[k + 1 :]], now))
    others = hs[:k] + hs[k + 1 :]
    released = {
        e.serial
        for e in log
        if now >= oracle_until(e.at, 7) and hs[k].covers(e) and not any(h.covers(e) for h in others)
    }
    assert before.isdisjoint(released)
    assert after == before | released


@pytest.mark.requirement("RK-RET-002")
def test_a_hold_keeps_entries_past_retention_until_lifted_then_the_next_run_purges() -> None:
    """Seven years pass under a hold; the due entry is kept until the lift, then purged."""
    log = [
        entry(1, T0, requester=AGENCIES[0]),
        entry(2, T0, requester=AGENCIES[2], provider=AGENCIES[2]),
        entry(3, T0 + timedelta(days=400), requester=AGENCIES[0]),
    ]
    hold = LegalHold(
        "lh-01",
        HoldScope(agency=AGENCIES[0]),
        "不正アクセスの疑いに関する調査",
        AUDITOR,
        T0 + timedelta(days=30),
        case_reference="2026-監-0042",
    )
    policy = RetentionPolicy()
    eight_years = oracle_until(T0, 8)
    assert purge_plan(log, policy, [hold], eight_years) == (2,)
    assert hold.in_force(eight_years)
    lifted = hold.lift(eight_years, AUDITOR)
    assert not lifted.in_force(eight_years)
    assert lifted.in_force(eight_years - timedelta(microseconds=1))
    assert (lifted.lifted_at, lifted.lifted_by) == (eight_years, AUDITOR)
    # the next purge run: 1 is due and released; 2 is already purged; 3 is not due
    stored = purge(log, purge_plan(log, policy, [hold], eight_years), eight_years)
    assert purge_plan(stored, policy, [lifted], eight_years) == (1,)
    three = oracle_until(log[2].at, 7)
    assert purge_plan(stored, policy, [lifted], three - timedelta(days=1)) == (1,)
    assert purge_plan(stored, policy, [lifted], three) == (1, 3)
    # a lifted hold no longer protects entries that fall due later
    young = [entry(4, eight_years, requester=AGENCIES[0])]
    assert purge_plan(young, policy, [lifted], oracle_until(eight_years, 7)) == (4,)


@pytest.mark.requirement("RK-RET-002")
def test_a_hold_is_lifted_once_and_is_a_validated_value() -> None:
    hold = LegalHold("lh-1", HoldScope(), "reason", AUDITOR, T0)
    lifted = hold.lift(T0, AUDITOR)
    with pytest.raises(icontract.ViolationError):
        lifted.lift(T0, AUDITOR)
    with pytest.raises(ValueError, match="when and by whom"):
        hold.lift(T0, "")
    with pytest.raises(ValueError, match="an id, a reason"):
        LegalHold("lh-1", HoldScope(), "", AUDITOR, T0)
    with pytest.raises(ValueError, match="timezone-aware UTC"):
        LegalHold("lh-1", HoldScope(), "reason", AUDITOR, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="serial range"):
        HoldScope(serials=(5, 4))
    with pytest.raises(ValueError, match="serial range"):
        HoldScope(serials=(0, 4))
    with pytest.raises(ValueError, match="at least one linkage"):
        HoldScope(linkage_ids=frozenset())
    with pytest.raises(ValueError, match="start must be before"):
        HoldScope(not_before=T0, before=T0)


# ---------------------------------------------------------------------------
# (c) Purging keeps the log verifiable and reveals nothing (RK-RET-003)
# ---------------------------------------------------------------------------


@pytest.mark.requirement("RK-RET-003", "RK-RET-001", "RK-RET-002")
@settings(max_examples=40, deadline=None)
@given(logs(max_size=40), holds(), clock_times, st.data())
def test_purging_keeps_every_receipt_and_consistency_proof_valid(
    log: list[AccessLogEntry], hs: list[LegalHold], now: datetime, data: st.DataObject
) -> None:
    assume(log)
    n = len(log)
    tree = MerkleLog()
    roots: dict[int, bytes] = {}
    for e in log:  # the hub appends one salted leaf per entry
        tree.append(leaf_hash(leaf_bytes(e)))
        roots[tree.size] = tree.root()
    receipts = {e.serial: tree.inclusion_proof(e.serial - 1, n) for e in log}

    plan = purge_plan(log, RetentionPolicy(), hs, now)
    stored = purge(log, plan, now)

    assert [s.serial for s in stored] == [e.serial for e in log]
    assert {s.serial for s in stored if isinstance(s, PurgedEntry)} == set(plan)
    assert all(s == e for s, e in zip(stored, log, strict=True) if s.serial not in plan)
    assert purge_plan(stored, RetentionPolicy(), hs, now) == ()  # a second run finds nothing

    # The log goes on after the purge.
    extra = [entry(n + i, now, salt=data.draw(salts)) for i in range(1, 4)]
    for e in extra:
        tree.append(leaf_hash(leaf_bytes(e)))
        roots[tree.size] = tree.root()
    size = tree.size

    # A log rebuilt from the stored slots alone has the same roots.
    rebuilt = MerkleLog()
    rebuilt.extend([slot_hash(s) for s in (*stored, *extra)])
    assert all(rebuilt.root(m) == roots[m] for m in roots)

    for s in stored:
        h = slot_hash(s)
        # receipts issued before the purge still verify ...
        verify_inclusion(h, s.serial - 1, n, receipts[s.serial], roots[n])
        # ... and new proofs too, purged leaf or not
        verify_inclusion(h, s.serial - 1, size, rebuilt.inclusion_proof(s.serial - 1), roots[size])
    for m in range(1, size + 1):  # every checkpoint, before and after the purge
        verify_consistency(m, size, rebuilt.consistency_proof(m, size), roots[m], roots[size])

    for s in stored:
        if isinstance(s, PurgedEntry):
            original = log[s.serial - 1]
            assert s.leaf_hash == leaf_hash(leaf_bytes(original))
            assert s.purged_at == now
            # Knowing every field but the salt does not reproduce the leaf.
            guess = data.draw(salts.filter(original.salt.__ne__))
            for salt in {guess, b"", b"\x00" * SALT_SIZE} - {original.salt}:
                assert leaf_hash(leaf_bytes(replace(original, salt=salt))) != s.leaf_hash


@pytest.mark.requirement("RK-RET-003")
@given(made_times, salts)
def test_a_purged_entry_keeps_only_serial_leaf_hash_and_time(
    made_at: datetime, salt: bytes
) -> None:
    e = entry(7, made_at, salt=salt)
    purged = purge_entry(e, T0)
    assert [f.name for f in fields(PurgedEntry)] == ["serial", "leaf_hash", "purged_at"]
    assert (purged.serial, purged.leaf_hash) == (7, leaf_hash(leaf_bytes(e)))
    shown = repr(purged)
    for secret in (salt.hex(), e.request_id, e.pattern_id, AGENCIES[0], e.at.isoformat()):
        assert secret not in shown


@pytest.mark.requirement("RK-RET-003")
def test_the_leaf_must_carry_a_256_bit_salt() -> None:
    with pytest.raises(icontract.ViolationError):
        purge_entry(entry(1, T0, salt=b"\x01" * 16), T0)
    with pytest.raises(icontract.ViolationError):
        purge_entry(entry(1, T0, salt=b""), T0)


@pytest.mark.requirement("RK-RET-003")
def test_a_plan_must_name_entries_not_yet_purged() -> None:
    log = [entry(1, T0), entry(2, T0)]
    stored = purge(log, (1,), T0)
    with pytest.raises(icontract.ViolationError):
        purge(stored, (1,), T0)
    with pytest.raises(icontract.ViolationError):
        purge(log, (3,), T0)


@pytest.mark.requirement("RK-RET-003")
@given(st.sets(st.integers(1, 200)))
def test_the_purge_record_names_maximal_serial_ranges(serials: set[int]) -> None:
    plan = sorted(serials)
    ranges = serial_ranges(plan)
    assert [s for first, last in ranges for s in range(first, last + 1)] == plan
    assert all(a[1] + 1 < b[0] for a, b in itertools.pairwise(ranges))
    assert serial_ranges([1, 2, 3, 7, 9, 10]) == ((1, 3), (7, 7), (9, 10))


@pytest.mark.requirement("RK-RET-001")
@given(utc_times, st.integers(1, MAX_YEARS), st.integers(-(10**6), 10**6))
def test_retention_on_instants_is_the_datetime_rule(
    made_at: datetime, years: int, offset_us: int
) -> None:
    """``retention_end``/``retention_due`` on integer instants give the boundary of
    ``retained_until``; due from that instant on, to the microsecond."""
    made = instant_of(made_at)
    end = retention_end(made, years)
    assert datetime_of(end) == retained_until(made_at, years) == oracle_until(made_at, years)
    now = Instant(end + offset_us)
    assert retention_due(made, years, now) == (offset_us >= 0)
    assert retention_due(made, years, now) == (datetime_of(now) >= oracle_until(made_at, years))


@pytest.mark.requirement("RK-RET-001")
def test_an_end_beyond_year_9999_is_never_due() -> None:
    made = instant_of(datetime(9990, 6, 1, tzinfo=UTC))
    assert not retention_due(made, 10, instant_of(datetime(9999, 12, 31, tzinfo=UTC)))
