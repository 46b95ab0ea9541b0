"""Retention of the access logs and legal holds (seed item 25; RK-RET-001..003).

Theory of operation.

* **Retention (RK-RET-001).**  Every log class has a retention period in whole
  years, 7 by default — the period of 番号法施行令 第30条, equal to the 7-year
  limitation period for computer fraud the seed points to (刑法第246条の2,
  刑事訴訟法第250条).  An entry made at instant ``t`` is *retained* while
  ``now < retained_until(t, years)`` and *due* from that instant on.  The period
  can be configured per class (``RetentionPolicy``) but never below the legal
  minimum (``LEGAL_MINIMUM_YEARS``): such a setting is refused with
  ``retention-below-legal-minimum``.
* **Legal holds (RK-RET-002).**  The auditor places a ``LegalHold`` whose
  ``HoldScope`` names the entries it keeps.  While a hold is in force, no entry
  it covers is purged, however long past its retention; once lifted, the due
  entries it kept are purged by the next purge run.
* **Purging (RK-RET-003).**  ``purge_plan`` says which serials are due now and
  not held; ``purge`` replaces each of them by a ``PurgedEntry`` — the serial,
  the leaf hash and the purge time.  The entry's content and its random salt
  are gone, the leaf hash stays: the Merkle tree (core.merkle), every receipt and
  every consistency proof still verify, and since the hashed leaf held a
  256-bit salt (``SALT_SIZE``) nothing of the entry can be recovered or
  confirmed by guessing.  ``serial_ranges`` compresses a plan into the ranges
  the purge record names.

Everything here is a pure value or function: the clock is always passed in
(``now``, ``at``), as in core.keys.  All times are timezone-aware UTC; the
contracts require it, because "the same date 7 years later" depends on the
offset the date is read in.

Spec: specs/requirements.yaml RK-RET-001, RK-RET-002, RK-RET-003.
"""

from __future__ import annotations

import calendar
import enum
import itertools
import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import MAXYEAR, datetime, timedelta
from types import MappingProxyType
from typing import Any, Protocol, TypeAlias

import icontract

from .access_log import AccessLogEntry, leaf_bytes
from .canonical_json import canonical
from .errors import CallerError
from .instant import (
    DAY,
    MAX_INSTANT,
    MIN_INSTANT,
    Instant,
    datetime_of,
    instant_of,
    shift_years,
    year_of,
)
from .merkle import HASH_SIZE, leaf_hash

__all__ = [
    "DEFAULT_YEARS",
    "LEGAL_MINIMUM_YEARS",
    "MAX_YEARS",
    "SALT_SIZE",
    "HoldScope",
    "LegalHold",
    "LogClass",
    "PurgedEntry",
    "Retained",
    "RetentionPolicy",
    "StoredEntry",
    "due_for_purge",
    "hold_from_record",
    "hold_record",
    "purge",
    "purge_entry",
    "purge_plan",
    "retained_until",
    "retention_due",
    "retention_end",
    "serial_ranges",
]

SLOW = icontract.SLOW
"""Contracts that re-scan the whole log are checked when ICONTRACT_SLOW is set
(the test command sets it); a hub purging a large log would pay O(n) twice."""


class LogClass(enum.Enum):
    """The log classes with their own retention (RK-RET-001; OpenAPI ``LogClass``)."""

    HUB_ACCESS_LOG = "hub-access-log"  # the hub's ①–⑥ entries (item 23)
    AGENCY_ACCESS_LOG = "agency-access-log"  # the agency nodes' ⑦–⑫ share (item 24)
    PORTAL_LOG = "portal-log"  # My Portal's record of applications and sessions


DEFAULT_YEARS = 7
"""The retention of every class unless configured (番号法施行令 第30条)."""

LEGAL_MINIMUM_YEARS: Mapping[LogClass, int] = MappingProxyType(
    {
        LogClass.HUB_ACCESS_LOG: 7,  # 番号法施行令 第30条
        LogClass.AGENCY_ACCESS_LOG: 7,  # 番号法施行令 第30条
        LogClass.PORTAL_LOG: 7,  # renkei treats My Portal's log as an access log
    }
)
"""The shortest retention a class may be given, in years (RK-RET-001)."""

MAX_YEARS = 100
"""The longest retention (the OpenAPI ``RetentionRequest`` maximum)."""

SALT_SIZE = 32
"""Bytes of random salt in each hub log leaf: 256 bits (RK-RET-003)."""


_ZERO = timedelta(0)


def _is_utc(t: object) -> bool:
    """A timezone-aware datetime at offset zero (a naive one has no offset: None)."""
    return isinstance(t, datetime) and t.utcoffset() == _ZERO


# ---------------------------------------------------------------------------
# Retention periods (RK-RET-001)
# ---------------------------------------------------------------------------


def _representable(made: int, years: int) -> bool:
    return MIN_INSTANT <= made <= MAX_INSTANT and year_of(made) + years <= MAXYEAR


@icontract.require(lambda years: 1 <= years <= MAX_YEARS, "1 to MAX_YEARS years")
@icontract.require(_representable, "the end is a representable instant")
@icontract.ensure(
    lambda made, result: (result - made) % DAY == 0, "whole days later: the same time of day"
)
@icontract.ensure(
    lambda made, years, result: 365 * years * DAY <= result - made <= 366 * years * DAY,
    "365 or 366 days a year",
)
def retention_end(made: Instant, years: int) -> Instant:
    """The first instant at which an entry made at ``made`` is no longer retained
    (RK-RET-001): the same month, day and time of day ``years`` years later on
    the UTC calendar, 29 February becoming 28 February (``instant.add_years``)."""
    return shift_years(made, years)


@icontract.require(lambda years: 1 <= years <= MAX_YEARS, "1 to MAX_YEARS years")
@icontract.require(lambda made: MIN_INSTANT <= made <= MAX_INSTANT)
@icontract.ensure(
    lambda made, years, now, result: not result or now - made >= 365 * years * DAY,
    "never due before 365 days a year have passed",
)
@icontract.ensure(
    lambda made, years, now, result: (
        result or now - made < 366 * years * DAY or (not _representable(made, years))
    ),
    "always due once 366 days a year have passed (unless beyond year 9999)",
)
def retention_due(made: Instant, years: int, now: Instant) -> bool:
    """True when an entry made at ``made``, kept ``years`` years, is past its
    retention at ``now`` (RK-RET-001): from ``retention_end(made, years)`` on; an
    end beyond year 9999 is never reached."""
    if year_of(made) + years > MAXYEAR:
        return False
    return now >= shift_years(made, years)


def _same_date_later(made_at: datetime, years: int, result: datetime) -> bool:
    leap_day_moved = (made_at.month, made_at.day, result.day) == (2, 29, 28) and not (
        calendar.isleap(result.year)
    )
    return (
        result.year == made_at.year + years
        and result.month == made_at.month
        and (result.day == made_at.day or leap_day_moved)
        and result.time() == made_at.time()
    )


@icontract.require(lambda made_at: made_at.utcoffset() == _ZERO, "made_at is timezone-aware UTC")
@icontract.require(lambda years: 1 <= years <= MAX_YEARS, "1 to MAX_YEARS years")
@icontract.require(
    lambda made_at, years: made_at.year + years <= MAXYEAR, "the end is a representable date"
)
@icontract.ensure(lambda made_at, result: _is_utc(result) and result > made_at)
@icontract.ensure(
    _same_date_later,
    "the same month, day and time of day, `years` years later",
)
def retained_until(made_at: datetime, years: int) -> datetime:
    """The first instant at which an entry made at ``made_at`` is no longer retained.

    RK-RET-001: an entry is kept "for 7 years from its date" (番号法施行令 第30条),
    read as calendar years in UTC: it is retained while ``now < retained_until(t, 7)``,
    which is ``t`` with the year increased by 7 and the same month, day and time
    of day.  An entry made on 29 February is retained until 28 February of a
    target year that has no 29 February (the last day of February, never
    1 March), and until 29 February of a leap target year.  So an entry is still
    present at 7 years minus a day and due exactly 7 years on.

    Args:
        made_at: the entry's time (``AccessLogEntry.at``), timezone-aware UTC.
        years: the retention period of its class.

    Returns:
        The instant the retention ends, timezone-aware UTC.
    """
    return datetime_of(shift_years(instant_of(made_at), years))  # retention_end's rule


def _due(made_at: datetime, years: int, now: datetime) -> bool:
    """``retention_due`` of an entry's time at ``now``."""
    return retention_due(instant_of(made_at), years, instant_of(now))


def _years_refusal(log_class: LogClass, years: object) -> CallerError | ValueError | None:
    """Why ``years`` cannot be the retention of ``log_class``, or None."""
    if not isinstance(years, int) or isinstance(years, bool) or not 1 <= years <= MAX_YEARS:
        return ValueError(f"a retention period is 1 to {MAX_YEARS} whole years; got {years!r}")
    minimum = LEGAL_MINIMUM_YEARS[log_class]
    if years < minimum:
        return CallerError(
            "retention-below-legal-minimum",
            f"{log_class.value} must be kept at least {minimum} years (番号法施行令 第30条); "
            f"{years} years is shorter",
            "RK-RET-001",
            {"log_class": log_class.value, "years": years, "minimum_years": minimum},
        )
    return None


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    """The retention period of each log class, in whole years (RK-RET-001).

    Every class defaults to ``DEFAULT_YEARS`` (7).  A pure value: ``with_years``
    returns a new policy.  Construction checks every class.

    :raises CallerError: ``retention-below-legal-minimum`` (RK-RET-001) when a
        class is given fewer years than ``LEGAL_MINIMUM_YEARS`` allows.
    :raises ValueError: a period that is not a whole number of years from 1 to
        ``MAX_YEARS`` (the wire schema refuses those before they get here).
    """

    hub_access_log: int = DEFAULT_YEARS
    agency_access_log: int = DEFAULT_YEARS
    portal_log: int = DEFAULT_YEARS

    def __post_init__(self) -> None:
        for log_class in LogClass:
            refusal = _years_refusal(log_class, self.years_for(log_class))
            if refusal is not None:
                raise refusal

    def years_for(self, log_class: LogClass) -> int:
        """The retention of ``log_class`` in years."""
        if log_class is LogClass.HUB_ACCESS_LOG:
            return self.hub_access_log
        if log_class is LogClass.AGENCY_ACCESS_LOG:
            return self.agency_access_log
        return self.portal_log

    def with_years(self, log_class: LogClass, years: int) -> RetentionPolicy:
        """This policy with ``log_class`` kept ``years`` years (``/control/retention``).

        :raises CallerError: ``retention-below-legal-minimum`` (RK-RET-001).
        :raises ValueError: ``years`` is not a whole number from 1 to ``MAX_YEARS``.
        """
        refusal = _years_refusal(log_class, years)
        if refusal is not None:
            raise refusal
        field = log_class.value.replace("-", "_")
        return replace(self, **{field: years})

    def as_dict(self) -> dict[str, int]:
        """``{"hub-access-log": 7, ...}`` — the wire form of every class."""
        return {c.value: self.years_for(c) for c in LogClass}


# ---------------------------------------------------------------------------
# Legal holds (RK-RET-002)
# ---------------------------------------------------------------------------


class Retained(Protocol):
    """What retention and holds read of a log entry of any class: the hub's
    ``AccessLogEntry`` and an agency node's ``AgencyLogEntry`` (RK-AGN-005)."""

    @property
    def serial(self) -> int: ...
    @property
    def at(self) -> datetime: ...
    @property
    def pattern_id(self) -> str: ...
    @property
    def requester(self) -> str: ...
    @property
    def provider(self) -> str: ...
    @property
    def linkage_id(self) -> str | None: ...
    @property
    def person(self) -> bytes | None: ...


@dataclass(frozen=True, slots=True)
class HoldScope:
    """Which entries a legal hold covers: those that meet *every* criterion given.

    A scope with no criterion covers all entries.  The criteria follow the
    catalog (serial range, agency, person reference; RK-RET-002), the brief
    (pattern) and the OpenAPI ``LegalHoldScope`` (linkage ids, period
    ``from``/``to``, which may be combined, e.g. an agency over a period).

    Attributes:
        serials: ``(first, last)``, inclusive, ``1 ≤ first ≤ last``.
        pattern_id: the entry's linkage pattern (③).
        agency: an agency id that is the entry's requester (④) or provider (⑤).
        linkage_ids: the entry's linkage is one of these (non-empty).
        person: the person's canonical ID code as stored in the entry
            (hub-internal; the shell resolves the auditor's ``person_ref`` to it
            and re-keys it with the entries when the ID-code key rotates).
        not_before: the entry was made at or after this instant (OpenAPI ``from``).
        before: the entry was made before this instant (OpenAPI ``to``).

    :raises ValueError: on construction, for an empty or reversed serial range,
        empty ``linkage_ids``, a time that is not timezone-aware UTC, or
        ``not_before`` not before ``before``.
    """

    serials: tuple[int, int] | None = None
    pattern_id: str | None = None
    agency: str | None = None
    linkage_ids: frozenset[str] | None = None
    person: bytes | None = None
    not_before: datetime | None = None
    before: datetime | None = None

    def __post_init__(self) -> None:
        if self.serials is not None:
            first, last = self.serials
            if not 1 <= first <= last:
                raise ValueError(f"a serial range is 1 ≤ first ≤ last; got {self.serials}")
        if self.linkage_ids is not None and not self.linkage_ids:
            raise ValueError("linkage_ids, when given, names at least one linkage")
        for t in (self.not_before, self.before):
            if t is not None and not _is_utc(t):
                raise ValueError("hold periods are timezone-aware UTC")
        if (
            self.not_before is not None
            and self.before is not None
            and self.not_before >= self.before
        ):
            raise ValueError("a hold period's start must be before its end")

    def covers(self, entry: Retained) -> bool:
        """True when ``entry`` meets every criterion of the scope."""
        if self.serials is not None and not self.serials[0] <= entry.serial <= self.serials[1]:
            return False
        if self.pattern_id is not None and entry.pattern_id != self.pattern_id:
            return False
        if self.agency is not None and self.agency not in (entry.requester, entry.provider):
            return False
        if self.linkage_ids is not None and entry.linkage_id not in self.linkage_ids:
            return False
        if self.person is not None and entry.person != self.person:
            return False
        if self.not_before is not None and entry.at < self.not_before:
            return False
        return self.before is None or entry.at < self.before


@dataclass(frozen=True, slots=True)
class LegalHold:
    """A legal hold placed by the auditor (RK-RET-002, OpenAPI ``LegalHold``).

    While in force it stops the purging of every entry its ``scope`` covers.
    A hold is lifted explicitly (``lift``), never by time; the lifted value is
    kept for the record; the shell logs placing and lifting in its administrative log.

    :raises ValueError: on construction, for an empty ``hold_id``, ``reason`` or
        ``placed_by``, or a time that is not timezone-aware UTC.
    """

    hold_id: str
    scope: HoldScope
    reason: str
    placed_by: str
    placed_at: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    case_reference: str | None = None

    def __post_init__(self) -> None:
        if not (self.hold_id and self.reason and self.placed_by):
            raise ValueError("a legal hold has an id, a reason and who placed it")
        if not _is_utc(self.placed_at) or not (self.lifted_at is None or _is_utc(self.lifted_at)):
            raise ValueError("legal-hold times are timezone-aware UTC")
        if (self.lifted_at is None) != (self.lifted_by is None) or self.lifted_by == "":
            raise ValueError("a lifted hold says when and by whom")

    def covers(self, entry: Retained) -> bool:
        """True when ``entry`` is in the hold's scope (whether or not it is in force)."""
        return self.scope.covers(entry)

    def in_force(self, at: datetime) -> bool:
        """True unless the hold was lifted at or before ``at``.

        A hold is in force from the moment it is placed; it is not checked
        against ``placed_at``, so a test clock set backwards never releases it.
        """
        return self.lifted_at is None or at < self.lifted_at

    @icontract.require(lambda self: self.lifted_at is None, "a hold is lifted once")
    @icontract.require(lambda at: at.utcoffset() == _ZERO, "at is timezone-aware UTC")
    @icontract.ensure(lambda at, result: not result.in_force(at))
    @icontract.ensure(
        lambda self, result: (
            (result.hold_id, result.scope, result.placed_at)
            == (self.hold_id, self.scope, self.placed_at)
        )
    )
    def lift(self, at: datetime, by: str) -> LegalHold:
        """This hold, lifted at ``at`` by ``by`` (the auditor; RK-RET-002).

        :raises ValueError: ``by`` is empty.
        """
        return replace(self, lifted_at=at, lifted_by=by)


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t is not None else None


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text is not None else None


def hold_record(hold: LegalHold) -> str:
    """The stored form of a hold (JSON), so holds outlive a restart of the hub."""
    sc = hold.scope
    body: dict[str, Any] = {
        "hold_id": hold.hold_id,
        "reason": hold.reason,
        "placed_by": hold.placed_by,
        "placed_at": _iso(hold.placed_at),
        "lifted_at": _iso(hold.lifted_at),
        "lifted_by": hold.lifted_by,
        "case_reference": hold.case_reference,
        "scope": {
            "serials": list(sc.serials) if sc.serials else None,
            "pattern_id": sc.pattern_id,
            "agency": sc.agency,
            "linkage_ids": sorted(sc.linkage_ids) if sc.linkage_ids else None,
            "person": sc.person.hex() if sc.person is not None else None,
            "not_before": _iso(sc.not_before),
            "before": _iso(sc.before),
        },
    }
    return canonical(body)


def hold_from_record(record: str) -> LegalHold:
    """The hold ``hold_record`` stored.  :raises ValueError: a malformed record."""
    try:
        d = json.loads(record)
        sc = d["scope"]
        placed_at = _time(d["placed_at"])
        if placed_at is None:
            raise ValueError("a hold has a placing time")
        return LegalHold(
            hold_id=d["hold_id"],
            reason=d["reason"],
            placed_by=d["placed_by"],
            placed_at=placed_at,
            lifted_at=_time(d["lifted_at"]),
            lifted_by=d["lifted_by"],
            case_reference=d["case_reference"],
            scope=HoldScope(
                serials=(sc["serials"][0], sc["serials"][1]) if sc["serials"] else None,
                pattern_id=sc["pattern_id"],
                agency=sc["agency"],
                linkage_ids=frozenset(sc["linkage_ids"]) if sc["linkage_ids"] else None,
                person=bytes.fromhex(sc["person"]) if sc["person"] is not None else None,
                not_before=_time(sc["not_before"]),
                before=_time(sc["before"]),
            ),
        )
    except (KeyError, TypeError, IndexError, json.JSONDecodeError) as exc:
        raise ValueError(f"not a legal-hold record: {exc}") from exc


# ---------------------------------------------------------------------------
# Purging (RK-RET-001, RK-RET-003)
# ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PurgedEntry:
    """What remains of an access-log entry after its purge (RK-RET-003).

    Only the serial, the Merkle leaf hash (which the tree holds anyway) and the
    purge time: content and salt are gone, so the hash proves the tree but
    reveals nothing of the entry.

    :raises ValueError: on construction, for a serial below 1, a leaf hash that
        is not 32 bytes, or a time that is not timezone-aware UTC.
    """

    serial: int
    leaf_hash: bytes
    purged_at: datetime

    def __post_init__(self) -> None:
        if self.serial < 1:
            raise ValueError("serials start at 1")
        if len(self.leaf_hash) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        if not _is_utc(self.purged_at):
            raise ValueError("purged_at is timezone-aware UTC")


StoredEntry: TypeAlias = AccessLogEntry | PurgedEntry
"""A slot of the hub's access log: the entry, or what is left after its purge."""


def _entry_leaf_hash(entry: StoredEntry) -> bytes:
    if isinstance(entry, PurgedEntry):
        return entry.leaf_hash
    return leaf_hash(leaf_bytes(entry))


def _purgeable(
    entry: StoredEntry,
    years: int,
    holds: Sequence[LegalHold],
    now: datetime,
) -> bool:
    """Not yet purged, past its retention at ``now`` and covered by no hold in force."""
    return (
        isinstance(entry, AccessLogEntry)
        and _due(entry.at, years, now)
        and not any(h.in_force(now) and h.covers(entry) for h in holds)
    )


def _times_are_utc(entries: Sequence[StoredEntry], holds: Sequence[LegalHold]) -> bool:
    return all(_is_utc(e.at) for e in entries if isinstance(e, AccessLogEntry)) and all(
        _is_utc(h.placed_at) and (h.lifted_at is None or _is_utc(h.lifted_at)) for h in holds
    )


def _distinct_serials(entries: Sequence[StoredEntry]) -> bool:
    return len({e.serial for e in entries}) == len(entries)


def _in(serials: Iterable[int]) -> frozenset[int]:
    return frozenset(serials)


def _planned(entries: Sequence[StoredEntry], plan: Iterable[int]) -> list[StoredEntry]:
    chosen = _in(plan)
    return [e for e in entries if e.serial in chosen]


@icontract.require(lambda now: now.utcoffset() == _ZERO, "now is timezone-aware UTC")
@icontract.require(_times_are_utc, "all times are timezone-aware UTC")
@icontract.require(_distinct_serials, "serials are distinct")
@icontract.ensure(
    lambda result: all(a < b for a, b in itertools.pairwise(result)),
    "serials in ascending order, each once",
)
@icontract.ensure(
    lambda entries, result: _in(result) <= {e.serial for e in entries}, "only serials of entries"
)
@icontract.ensure(
    lambda entries, policy, holds, now, log_class, result: all(
        isinstance(e, AccessLogEntry)
        and now >= retained_until(e.at, policy.years_for(log_class))
        and not any(h.in_force(now) and h.covers(e) for h in holds)
        for e in _planned(entries, result)
    ),
    "nothing held, not yet due or already purged is ever in the plan",
)
@icontract.ensure(
    lambda entries, policy, holds, now, log_class, result: (
        {e.serial for e in entries if _purgeable(e, policy.years_for(log_class), holds, now)}
        <= _in(result)
    ),
    "every due entry that no hold covers is in the plan",
    enabled=SLOW,
)
def purge_plan(
    entries: Sequence[StoredEntry],
    policy: RetentionPolicy,
    holds: Sequence[LegalHold],
    now: datetime,
    log_class: LogClass = LogClass.HUB_ACCESS_LOG,
) -> tuple[int, ...]:
    """The serials of ``entries`` to purge at ``now`` (RK-RET-001, RK-RET-002).

    An entry is in the plan exactly when it is not purged yet, its retention
    has ended (``now >= retained_until(entry.at, policy.years_for(log_class))``)
    and no hold in force at ``now`` covers it.  Holds that are lifted are
    ignored, so an entry a hold kept past its retention is in the first plan
    after the lift.

    Args:
        entries: the log of one class, entries and purged entries, in any order
            (a sequence, since the contracts read it twice).
        policy: the retention periods in force.
        holds: all legal holds, in force or lifted.
        now: the hub's clock, timezone-aware UTC.
        log_class: the class of ``entries``.

    Returns:
        The serials to purge, ascending.
    """
    years = policy.years_for(log_class)
    return tuple(sorted(e.serial for e in entries if _purgeable(e, years, holds, now)))


@icontract.require(lambda now: now.utcoffset() == _ZERO, "now is timezone-aware UTC")
@icontract.ensure(
    lambda entries, years, holds, now, result: all(
        _due(e.at, years, now) and not any(h.in_force(now) and h.covers(e) for h in holds)
        for e in entries
        if e.serial in _in(result)
    ),
    "nothing held or not yet due is ever in the plan",
)
def due_for_purge(
    entries: Sequence[Retained], years: int, holds: Sequence[LegalHold], now: datetime
) -> tuple[int, ...]:
    """The serials of ``entries`` (all retained, of one class kept ``years``
    years) whose retention has ended at ``now`` and that no hold in force covers
    (RK-RET-001, RK-RET-002) — the rule of ``purge_plan`` for a log that keeps no
    Merkle leaves, such as an agency node's (RK-AGN-005).  Ascending."""
    return tuple(
        sorted(
            e.serial
            for e in entries
            if _due(e.at, years, now) and not any(h.in_force(now) and h.covers(e) for h in holds)
        )
    )


@icontract.require(
    lambda entry: len(entry.salt) == SALT_SIZE, "the leaf holds a 256-bit salt (RK-RET-003)"
)
@icontract.require(
    lambda purged_at: purged_at.utcoffset() == _ZERO, "purged_at is timezone-aware UTC"
)
@icontract.ensure(lambda entry, result: result.serial == entry.serial)
@icontract.ensure(
    lambda entry, result: result.leaf_hash == leaf_hash(leaf_bytes(entry)),
    "the leaf hash in the Merkle tree is kept",
)
def purge_entry(entry: AccessLogEntry, purged_at: datetime) -> PurgedEntry:
    """What replaces ``entry`` when it is purged at ``purged_at`` (RK-RET-003).

    Returns:
        A ``PurgedEntry`` with the serial and the leaf hash; content and salt
        are not in it.
    """
    return PurgedEntry(entry.serial, leaf_hash(leaf_bytes(entry)), purged_at)


@icontract.require(
    lambda purged_at: purged_at.utcoffset() == _ZERO, "purged_at is timezone-aware UTC"
)
@icontract.require(_distinct_serials, "serials are distinct")
@icontract.require(
    lambda entries, plan: _in(plan) <= {e.serial for e in entries if isinstance(e, AccessLogEntry)},
    "the plan names entries not yet purged",
)
@icontract.ensure(
    lambda entries, result: [e.serial for e in result] == [e.serial for e in entries],
    "the same slots in the same order",
)
@icontract.ensure(
    lambda entries, plan, result: all(
        isinstance(after, PurgedEntry)
        == (isinstance(before, PurgedEntry) or after.serial in _in(plan))
        for before, after in zip(entries, result, strict=True)
    ),
    "exactly the planned entries are purged",
)
@icontract.ensure(
    lambda entries, result: (
        [_entry_leaf_hash(e) for e in result] == [_entry_leaf_hash(e) for e in entries]
    ),
    "every leaf hash is kept, so every proof still verifies",
    enabled=SLOW,
)
def purge(
    entries: Sequence[StoredEntry], plan: Collection[int], purged_at: datetime
) -> tuple[StoredEntry, ...]:
    """``entries`` with every entry whose serial is in ``plan`` purged (RK-RET-003).

    Args:
        entries: the log, entries and purged entries.
        plan: serials of entries not yet purged (from ``purge_plan``).
        purged_at: the hub's clock.

    Returns:
        The log in the same order, the planned entries replaced by ``PurgedEntry``.
    """
    # crosshair: off
    # (CrossHair 0.0.11x fails internally here: it deep-copies a symbolic aware
    # datetime outside tracing, "Numeric operation on symbolic while not
    # tracing"; tests/test_retention.py covers purge() with hypothesis.)
    chosen = frozenset(plan)
    return tuple(
        purge_entry(e, purged_at) if isinstance(e, AccessLogEntry) and e.serial in chosen else e
        for e in entries
    )


def _expand(ranges: Sequence[tuple[int, int]]) -> list[int]:
    return [s for first, last in ranges for s in range(first, last + 1)]


@icontract.require(
    lambda serials: all(a < b for a, b in itertools.pairwise(serials)),
    "serials ascending, each once",
)
@icontract.ensure(lambda serials, result: _expand(result) == list(serials))
@icontract.ensure(
    lambda result: all(a[1] + 1 < b[0] for a, b in itertools.pairwise(result)),
    "maximal ranges: no two touch",
)
def serial_ranges(serials: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Ascending serials as maximal inclusive ranges, e.g. 1,2,3,7 → (1, 3), (7, 7).

    The purge record names the ranges purged (RK-RET-003).
    """
    ranges: list[tuple[int, int]] = []
    for s in serials:
        if ranges and ranges[-1][1] + 1 == s:
            ranges[-1] = (ranges[-1][0], s)
        else:
            ranges.append((s, s))
    return tuple(ranges)
