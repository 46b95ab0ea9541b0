"""The binding matcher (紐付け, seed items 13, 14, 20): blocking plus comparison.

A record of an agency carries the 4 items (name, address, date of birth,
sex).  The matcher decides ``bound`` (one resident), ``review`` (with
reasons) or ``rejected`` against an index of the resident registry.

Rules, each with its requirement:

* RK-BND-003 — a record with an item absent or blank is not matched at all:
  review ``name-missing`` / ``address-missing`` / ``birth-date-missing`` /
  ``sex-missing``.
* RK-BND-005 — a record with a placeholder (●, 〓, U+FFFD, private use) never
  binds: review ``unrepresentable-character``.
* RK-BND-001 — only the *latest* 4 items bind.  A record that fits a
  resident only through an earlier state (old address before a move, name
  before marriage) goes to review ``address-not-latest`` / ``name-not-latest``
  so the agency updates its items through the registry (RK-BND-006).
* RK-BND-002 — all four items must agree (never three) — the addresses *fit*
  (``addresses_fit``: place and number equal, building, room and Kyoto street
  locator each equal or not given on one side), and an address that leaves out the prefecture before
  a name of several municipalities (府中市) is tried with each of their
  prefectures (``address_readings``); two or more residents
  that fit (through latest *or* earlier items, and under folding) give
  review ``ambiguous-match``; a resident who differs from the record by a
  single slip (one character of one item, the sex, or the day and month of
  the birth date transposed) makes the record ``near-match`` — one typo away
  from somebody else is not unambiguous.
  A kana reading, when the record gives one, is evidence too: a resident
  whose registered reading (folded, ``fold_kana``) differs does not bind —
  review ``kana-differs`` — and a resident whose registered reading the
  record's contradicts is no near neighbour when the record's reading agrees
  with the resident it fits (twins 優太/優大 read ユウタ/ユウダイ).  A reading
  never stands in for the name; an unknown reading (the record's or the
  registry's) neither confirms nor separates.
* RK-BND-009 — a resident removed from the registry (除票: deceased,
  emigrated, struck off) stays in every index, so that a record fitting him
  still makes others ``ambiguous-match`` or ``near-match``, but is never bound:
  a record that would bind a removed resident goes to review
  ``resident-removed`` instead.  Only a record that fits the removed resident
  on all four items learns it; a partial match names items only.
* RK-BND-003 — otherwise review ``partial-match`` with item-level reasons
  when a resident agrees on three items, else rejected ``no-match``.
  Reasons name items, never a candidate.

Policies: ``FOLDED`` — the hub's (RK-BND-005) — binds on the folded forms of
``binding_normalise`` (specs/binding-normalisation.md), and a record bound
only through that folding (its NFKC forms differ from the resident's latest
items) carries the notice ``variant-form`` so that the agency brings its
items up to date (RK-BND-006).  ``STRICT`` binds only on NFKC and white space
and sends such records to review ``variant-form``; it is kept to measure what
folding buys (benchmarks/BINDING.md) and is what a private body's exact match
(RK-BND-004) compares.

Blocking: every index is a hash join on exact (folded) keys (``key_items``:
the address without its building and room, compared after the look-up) — the
full 4-item key, and the four "all but one item" keys that find partial and
near matches (``blocking_keys``).  The matcher reads them through the
``BlockingIndex`` protocol: ``RegistryIndex`` holds them in memory, the
resident registry's store (services.registry.store) in indexed SQLite
tables, keyed by ``block_hash``.  The three-item indexes are keyed by a
hash of the key; a hash collision can only add a candidate and so only
turn a bind into a review, never cause a wrong bind (a full-key hit is the
resident's own folded items: ``RegistryIndex`` keeps the strings, the store
checks the candidate's items).
"""

from __future__ import annotations

import hashlib
from collections.abc import Hashable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from enum import Enum
from typing import Literal, Protocol, TypeVar

import icontract

from .binding_normalise import (
    address_locator,
    address_parts,
    address_place,
    address_readings,
    addresses_fit,
    fold_address,
    fold_name,
    has_placeholder,
    kana_reading,
    strict_text,
)

__all__ = [
    "BINDING_REASONS",
    "BindingOutcome",
    "BlockingIndex",
    "Items",
    "Policy",
    "RegistryIndex",
    "block_hash",
    "blocking_keys",
    "day_month_swapped",
    "decide",
    "decide_many",
    "fold_items",
    "items_fit",
    "key_items",
    "one_slip",
]

Decision = Literal["bound", "review", "rejected"]
Items = tuple[str, str, str, str]  # (name, address, birth_date, sex)
_SEP = "\x1f"
K = TypeVar("K", bound=Hashable)
_ITEM_NAMES = ("name", "address", "birth-date", "sex")

BINDING_REASONS = (
    *(f"{item}-missing" for item in _ITEM_NAMES),  # RK-BND-003: an item absent or blank
    "unrepresentable-character",  # RK-BND-005
    "ambiguous-match",  # RK-BND-002
    "near-match",  # RK-BND-002
    "kana-differs",  # RK-BND-002: the given kana reading is not the registry's
    "resident-removed",  # RK-BND-009: fits a resident removed from the registry (除票)
    "variant-form",  # RK-BND-005: fits only after folding (on a bound record, a notice)
    *(f"{item}-not-latest" for item in _ITEM_NAMES),  # RK-BND-001: an earlier state only
    "not-latest",  # an earlier state only, no single item out of date
    "partial-match",  # RK-BND-003: three of four
    *(f"{item}-differs" for item in _ITEM_NAMES),
    "no-match",
)
"""Every reason the matcher gives (OpenAPI ``BindingReason``, RK-BND-003).  A private
body's missing consent is no per-record reason: its request is refused 403
``consent-required`` or ``consent-withdrawn`` (RK-BND-004)."""


class Policy(Enum):
    STRICT = "strict"
    FOLDED = "folded"


@dataclass(frozen=True, slots=True)
class BindingOutcome:
    """A decision with its reasons; ``person`` is the registry row when bound."""

    decision: Decision
    reasons: tuple[str, ...]
    person: int | None = None


def fold_items(items: Items) -> Items:
    """The folded 4 items (RK-BND-005): name and address folded, date and sex as given."""
    return (fold_name(items[0]), fold_address(items[1]), items[2], items[3])


_fold = fold_items


def key_items(folded: Items) -> Items:
    """What the blocking keys hold of folded 4 items: the address without its
    building and room (``address_parts``), which a record may leave out and which
    the matcher compares after the look-up (``addresses_fit``, RK-BND-002)."""
    place = address_place(folded[1])
    return folded if place == folded[1] else (folded[0], place, folded[2], folded[3])


def blocking_keys(folded: Items) -> tuple[str, str, str, str, str]:
    """The five blocking keys of folded 4 items (``key_items``): the full key, then
    the key without item 0, 1, 2 and 3 (a partial or near match agrees on those)."""
    folded = key_items(folded)
    full = _SEP.join(folded)
    drops = tuple(_SEP.join((str(i), *folded[:i], *folded[i + 1 :])) for i in range(4))
    return (full, drops[0], drops[1], drops[2], drops[3])


def block_hash(key: str) -> tuple[int, int]:
    """A blocking key as two signed 64-bit integers, one for latest items and one
    for earlier states (the halves of a 128-bit BLAKE2b, stable across processes
    and machines): what a store indexes."""
    digest = hashlib.blake2b(key.encode(), digest_size=16).digest()
    return (
        int.from_bytes(digest[:8], "big", signed=True),
        int.from_bytes(digest[8:], "big", signed=True),
    )


def _strict(items: Items) -> str:
    return _SEP.join((strict_text(items[0]), strict_text(items[1]), items[2], items[3]))


def _drop(key: Items, i: int) -> int:
    return hash((i, *key[:i], *key[i + 1 :]))


def items_fit(ours: Items, theirs: Items) -> bool:
    """Folded 4 items agree: name, date and sex equal, addresses that fit (the
    building and the room equal or not given on one side: ``addresses_fit``)."""
    return (
        ours[0] == theirs[0]
        and ours[2] == theirs[2]
        and ours[3] == theirs[3]
        and addresses_fit(ours[1], theirs[1])
    )


@icontract.require(lambda a, b: len(a) < 10_000 and len(b) < 10_000)
def one_slip(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by exactly one keystroke: one character
    substituted, inserted or deleted, or two adjacent characters swapped."""
    if a == b:
        return False
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def _add(index: dict[K, int | tuple[int, ...]], key: K, person: int) -> None:
    """Add ``person`` under ``key``; one person is stored as an int, more as a tuple."""
    have: int | tuple[int, ...] | None = index.get(key)
    if have is None:
        index[key] = person
    elif isinstance(have, int):
        if have != person:
            index[key] = (have, person)
    elif person not in have:
        index[key] = (*have, person)


def _members(value: int | tuple[int, ...] | None) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return value


class BlockingIndex(Protocol):
    """What the matcher reads of a registry: blocking look-ups and the items of a
    candidate (``person`` is a registry row).  ``RegistryIndex`` is the in-memory
    one; the resident registry's store answers the same from SQLite."""

    @property
    def policy(self) -> Policy: ...

    def fits(self, folded: Items) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Residents whose latest / earlier folded 4 items equal ``folded`` but for
        the address's building and room (``key_items``)."""
        ...

    def three(self, folded: Items, i: int, *, earlier: bool = False) -> tuple[int, ...]:
        """Residents agreeing with ``folded`` on every item but item ``i`` (latest
        items; with ``earlier``, an earlier state)."""
        ...

    def reading(self, person: int) -> str | None:
        """Resident ``person``'s folded kana reading, or None when not known."""
        ...

    def items(self, person: int) -> Items:
        """Resident ``person``'s latest 4 items (as registered)."""
        ...

    def earlier_states(self, person: int) -> Sequence[Items]:
        """Resident ``person``'s earlier 4 items (as registered)."""
        ...

    def is_removed(self, person: int) -> bool:
        """True when resident ``person`` was removed from the registry (RK-BND-009)."""
        ...


class RegistryIndex:
    """Blocking indexes over the registry's latest and earlier 4 items.

    Row ``i`` of ``latest`` is resident ``i``; ``history[i]`` holds the earlier
    states of resident ``i`` (each a full 4-item tuple); ``kana[i]``, when
    given, is resident ``i``'s registered reading (None: not known).  Earlier
    states carry no reading here: they never bind, and an unknown reading never
    separates (RK-BND-002).  ``removed`` holds the rows of residents removed
    from the registry (除票): indexed like everyone, never bound (RK-BND-009)."""

    @icontract.require(
        lambda latest, history: all(0 <= row < len(latest) for row in (history or {})),
        "earlier items belong to residents of the registry",
    )
    @icontract.require(
        lambda latest, kana: kana is None or len(kana) == len(latest), "one reading per resident"
    )
    @icontract.require(
        lambda latest, removed: all(0 <= row < len(latest) for row in removed),
        "removed rows are residents of the registry",
    )
    def __init__(
        self,
        latest: Sequence[Items],
        history: Mapping[int, Sequence[Items]] | None = None,
        policy: Policy = Policy.FOLDED,
        kana: Sequence[str | None] | None = None,
        removed: AbstractSet[int] = frozenset(),
    ) -> None:
        self._policy = policy
        self.removed: AbstractSet[int] = removed
        self.latest = latest
        self.kana: Sequence[str | None] = kana or ()
        self.history: Mapping[int, Sequence[Items]] = history or {}
        self.size = len(latest)
        self._latest: dict[str, int | tuple[int, ...]] = {}
        self._earlier: dict[str, int | tuple[int, ...]] = {}
        self._three: tuple[dict[int, int | tuple[int, ...]], ...] = ({}, {}, {}, {})
        self._earlier_three: tuple[dict[int, int | tuple[int, ...]], ...] = ({}, {}, {}, {})
        self._memo: tuple[Items | None, str, tuple[int, int, int, int]] = (None, "", (0, 0, 0, 0))
        for person, items in enumerate(latest):
            self._put_latest(person, items)
        for person, states in self.history.items():
            for items in states:
                self._put_earlier(person, items)

    def _put_latest(self, person: int, items: Items) -> None:
        key = key_items(_fold(items))
        _add(self._latest, _SEP.join(key), person)
        for i in range(4):
            _add(self._three[i], _drop(key, i), person)

    def _put_earlier(self, person: int, items: Items) -> None:
        key = key_items(_fold(items))
        _add(self._earlier, _SEP.join(key), person)
        for i in range(4):
            _add(self._earlier_three[i], _drop(key, i), person)

    @property
    def policy(self) -> Policy:
        return self._policy

    def items(self, person: int) -> Items:
        return self.latest[person]

    def earlier_states(self, person: int) -> Sequence[Items]:
        return self.history.get(person, ())

    def is_removed(self, person: int) -> bool:
        return person in self.removed

    def _keys(self, folded: Items) -> tuple[str, tuple[int, int, int, int]]:
        """The full key and the four drop keys of ``folded``; those of the record
        last asked for are kept (one tuple, replaced whole: safe across threads)."""
        memo = self._memo
        if memo[0] is folded:
            return memo[1], memo[2]
        key = key_items(folded)
        drops = (_drop(key, 0), _drop(key, 1), _drop(key, 2), _drop(key, 3))
        self._memo = (folded, _SEP.join(key), drops)
        return self._memo[1], drops

    def fits(self, folded: Items) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """Residents whose latest / earlier folded 4 items equal ``folded`` but for
        the address's building and room (``key_items``)."""
        key = self._keys(folded)[0]
        return _members(self._latest.get(key)), _members(self._earlier.get(key))

    def reading(self, person: int) -> str | None:
        """Resident ``person``'s folded kana reading, or None when not known."""
        return kana_reading(self.kana[person] if person < len(self.kana) else None)

    def three(self, folded: Items, i: int, *, earlier: bool = False) -> tuple[int, ...]:
        """Residents agreeing with ``folded`` on every item but item ``i``."""
        table = self._earlier_three if earlier else self._three
        memo = self._memo
        drops = memo[2] if memo[0] is folded else self._keys(folded)[1]
        return _members(table[i].get(drops[i]))


def _one_slip_away(
    index: BlockingIndex, folded: Items, person: int, reading: str | None = None
) -> bool:
    """Another resident (latest or earlier items) agrees with the record on three
    items and is one slip (``one_slip``) away on the fourth (RK-BND-002).  With
    ``reading`` (the record's folded kana, known to agree with ``person``'s), a
    resident whose registered reading differs from it is no neighbour."""
    for i in range(4):
        for other in index.three(folded, i):
            if other == person or not _neighbour(folded, _fold(index.items(other)), i):
                continue
            theirs = index.reading(other) if reading is not None else None
            if theirs is None or theirs == reading:
                return True
        for other in index.three(folded, i, earlier=True):
            if other != person and any(
                _neighbour(folded, _fold(state), i) for state in index.earlier_states(other)
            ):
                return True
    return False


def _neighbour(ours: Items, theirs: Items, i: int) -> bool:
    """``theirs`` (found by the key without item ``i``) agrees with ``ours`` on the
    other items — addresses fitting — and is one slip away on item ``i``; on the
    address, one slip in the parts both give (place and number, building, room,
    Kyoto street locator)."""
    if i == 1:
        return _address_slip(ours[1], theirs[1])
    return addresses_fit(ours[1], theirs[1]) and _slip(ours[i], theirs[i], i)


def _address_slip(ours: str, theirs: str) -> bool:
    a = (*address_parts(ours), address_locator(ours))
    b = (*address_parts(theirs), address_locator(theirs))
    pairs = [(a[0], b[0])] + [(x, y) for x, y in zip(a[1:], b[1:], strict=True) if x and y]
    if len(pairs) == 1:
        return one_slip(a[0], b[0])
    return one_slip("\x1e".join(x for x, _ in pairs), "\x1e".join(y for _, y in pairs))


def _slip(ours: str, theirs: str, item: int) -> bool:
    if item == 2:
        return one_slip(ours, theirs) or day_month_swapped(ours, theirs)
    return item == 3 or one_slip(ours, theirs)


def day_month_swapped(a: str, b: str) -> bool:
    """True when the ISO dates ``a`` and ``b`` differ and each is the other with
    its day and month transposed (1998-01-02 / 1998-02-01): the slip of a date
    read or written day-first (DD/MM) into month-first, or back (RK-BND-002)."""
    return (
        len(a) == len(b) == 10
        and a[:5] == b[:5]
        and a[5:7] == b[8:10]
        and a[8:10] == b[5:7]
        and a != b
        and a[4] == a[7] == b[7] == "-"
    )


@icontract.ensure(
    lambda result: (result.person is not None) == (result.decision == "bound"),
    "only a bound decision names a person",
)
@icontract.ensure(
    lambda result: result.decision == "bound" or bool(result.reasons),
    "every decision but bound carries a reason",
)
@icontract.ensure(
    lambda result: result.decision != "bound" or result.reasons in ((), ("variant-form",)),
    "a bound decision carries at most the notice variant-form",
)
@icontract.ensure(
    lambda result: set(result.reasons) <= set(BINDING_REASONS), "reasons are BINDING_REASONS"
)
@icontract.ensure(
    lambda index, kana, result: (
        result.decision != "bound"
        or _reading(kana) is None
        or index.reading(result.person or 0) in (None, _reading(kana))
    ),
    "a bound record's kana reading, when both are known, is the resident's",
)
@icontract.ensure(
    lambda index, result: result.person is None or not index.is_removed(result.person),
    "a resident removed from the registry is never bound (RK-BND-009)",
)
def decide(index: BlockingIndex, items: Items, kana: str | None = None) -> BindingOutcome:
    """Bind, review or reject one record's 4 items and, when given, its kana
    reading ``kana`` (RK-BND-001..003, RK-BND-005, RK-BND-009)."""
    return _decide(index, items, kana)


@icontract.require(
    lambda records, kana: kana is None or len(kana) == len(records), "one reading per record"
)
@icontract.ensure(lambda records, result: len(result) == len(records))
@icontract.ensure(
    lambda result: all((o.person is not None) == (o.decision == "bound") for o in result),
    "only a bound decision names a person",
)
@icontract.ensure(
    lambda index, result: all(o.person is None or not index.is_removed(o.person) for o in result),
    "a resident removed from the registry is never bound (RK-BND-009)",
)
def decide_many(
    index: BlockingIndex, records: Sequence[Items], kana: Sequence[str | None] | None = None
) -> list[BindingOutcome]:
    """``decide`` for each record (with ``kana[i]`` its reading, when given), in
    order (one contract check for the batch)."""
    if kana is None:
        return [_decide(index, items, None) for items in records]
    return [_decide(index, items, k) for items, k in zip(records, kana, strict=True)]


def _reading(kana: str | None) -> str | None:
    """The record's folded kana reading; None when not given (``kana_reading``)."""
    return kana_reading(kana)


def _decide(index: BlockingIndex, items: Items, kana: str | None) -> BindingOutcome:
    missing = tuple(f"{_ITEM_NAMES[i]}-missing" for i in range(4) if not items[i].strip())
    if missing:  # RK-BND-003: never matched, so the review says nothing of the registry
        return BindingOutcome("review", missing)
    if any(has_placeholder(text) for text in items[:2]):
        return BindingOutcome("review", ("unrepresentable-character",))
    name = fold_name(items[0])
    addresses = address_readings(items[1])
    if len(addresses) > 1:  # the prefecture left out before a name of several municipalities
        readings = tuple((name, a, items[2], items[3]) for a in addresses)
        return _decide_readings(index, items, kana, readings)
    folded = (name, addresses[0], items[2], items[3])
    latest, earlier = _fitting(index, folded)
    if len(latest) + len(earlier) >= 2 and len(set(latest) | set(earlier)) >= 2:
        return BindingOutcome("review", ("ambiguous-match",))
    if latest:
        return _fits_one(index, items, kana, latest[0], (folded,))
    if earlier:
        return BindingOutcome("review", _not_latest(index, folded, earlier[0]))
    return _partial(index, (folded,))


def _fitting(index: BlockingIndex, folded: Items) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Residents whose latest / earlier folded items fit ``folded`` (``items_fit``):
    the index finds them without building and room, which are compared here when
    the record gives one (an omitted building or room contradicts nothing)."""
    latest, earlier = index.fits(folded)
    if address_place(folded[1]) == folded[1]:
        return latest, earlier
    return (
        tuple(p for p in latest if addresses_fit(folded[1], fold_address(index.items(p)[1]))),
        tuple(
            p for p in earlier if any(items_fit(folded, _fold(s)) for s in index.earlier_states(p))
        ),
    )


def _decide_readings(
    index: BlockingIndex, items: Items, kana: str | None, readings: tuple[Items, ...]
) -> BindingOutcome:
    """``_decide`` for a record whose address has several readings (an omitted
    prefecture, binding-normalisation.md §2): every resident that fits one of
    them is a candidate (RK-BND-002)."""
    latest: dict[int, Items] = {}
    earlier: dict[int, Items] = {}
    for folded in readings:
        now, before = _fitting(index, folded)
        latest |= dict.fromkeys(now, folded)
        earlier |= dict.fromkeys(before, folded)
    if len(latest.keys() | earlier.keys()) >= 2:
        return BindingOutcome("review", ("ambiguous-match",))
    if latest:
        return _fits_one(index, items, kana, next(iter(latest)), readings)
    if earlier:
        ((person, folded),) = earlier.items()
        return BindingOutcome("review", _not_latest(index, folded, person))
    return _partial(index, readings)


def _fits_one(
    index: BlockingIndex, items: Items, kana: str | None, person: int, readings: Sequence[Items]
) -> BindingOutcome:
    """The record fits resident ``person``'s latest items and no one else's: bind
    unless the kana reading contradicts, another resident is one slip away from
    one of the record's ``readings``, the items are only folded under STRICT, or
    the resident was removed (RK-BND-002, RK-BND-005, RK-BND-009)."""
    given, held = _reading(kana), index.reading(person)
    agrees = given is not None and given == held
    theirs = given if agrees else None
    near = (
        _one_slip_away(index, readings[0], person, theirs)
        if len(readings) == 1
        else any(_one_slip_away(index, f, person, theirs) for f in readings)
    )
    if given is not None and held is not None and not agrees:
        return BindingOutcome("review", ("kana-differs", *(("near-match",) if near else ())))
    if near:
        return BindingOutcome("review", ("near-match",))
    exact = _strict(items) == _strict(index.items(person))
    if not exact and index.policy is Policy.STRICT:
        return BindingOutcome("review", ("variant-form",))
    if index.is_removed(person):  # RK-BND-009: 除票, no bind as a living resident
        return BindingOutcome("review", ("resident-removed",))
    return BindingOutcome("bound", () if exact else ("variant-form",), person)


def _not_latest(index: BlockingIndex, folded: Items, person: int) -> tuple[str, ...]:
    """Fits an earlier state only (RK-BND-001): name the items that are out of date."""
    now = _fold(index.items(person))
    return tuple(
        f"{_ITEM_NAMES[i]}-not-latest"
        for i in range(4)
        if (not addresses_fit(folded[1], now[1]) if i == 1 else folded[i] != now[i])
    ) or ("not-latest",)


def _partial(index: BlockingIndex, readings: Sequence[Items]) -> BindingOutcome:
    """RK-BND-003: three of four items agree with some resident (under one of the
    address's readings) → review, with the item that differs from a resident's
    latest items (an earlier state's partial agreement gives ``partial-match``
    alone)."""
    differs = tuple(
        f"{_ITEM_NAMES[i]}-differs"
        for i in range(4)
        if any(
            i == 1 or addresses_fit(f[1], fold_address(index.items(other)[1]))
            for f in readings
            for other in index.three(f, i)
        )
    )
    if differs or any(index.three(f, i, earlier=True) for f in readings for i in range(4)):
        return BindingOutcome("review", ("partial-match", *differs))
    return BindingOutcome("rejected", ("no-match",))
