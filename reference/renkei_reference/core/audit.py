"""The third-party body's analysis of the logs (第三者機関; seed items 23, 27), pure.

``discrepancies`` merges the hub's entries with every agency node's entries by
the serial ① and reports what does not match (RK-AUD-002); ``anomalies`` runs
rules with configurable thresholds over the merged logs (RK-AUD-003).  Both
take the auditor views the parties serve (dicts, as on the wire) and return
``Finding`` values naming the rule and the entries concerned.

Hub entries: ``serial, at, requester_id, provider_id, information_kind,
outcome, linkage_id, person_ref …`` (``core.access_log.auditor_view``).
Agency entries: ``serial, hub_serial, linkage_id, side, at, requester,
provider, information_kind, operator, terminal, outcome …``
(``core.agency.AgencyLogEntry.auditor_view``).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import icontract

__all__ = [
    "ANOMALY_KINDS",
    "DESIGNATION_REFUSALS",
    "DISCREPANCY_KINDS",
    "AnomalyRules",
    "Finding",
    "anomalies",
    "discrepancies",
    "well_formed_agencies",
    "well_formed_denials",
    "well_formed_hub",
]

Entry = Mapping[str, Any]
JST = timezone(timedelta(hours=9))

DISCREPANCY_KINDS = (
    "serial-missing",
    "requester-entry-missing",
    "provider-entry-missing",
    "unknown-serial",
    "field-mismatch",
    "agency-log-unavailable",
    "outcome-missing",
)
"""RK-AUD-002: the discrepancy kinds, as the wire names them (``Discrepancy.kind``)."""

ANOMALY_KINDS = (
    "requester-volume",
    "operator-volume",
    "terminal-volume",
    "refusal-rate",
    "outside-operating-hours",
    "person-queried-by-many",
    "person-queried-repeatedly",
    "outside-designation",
    "provider-expiries",
)
"""RK-AUD-003: the anomaly kinds, as the wire names them (``Anomaly.kind``)."""

DESIGNATION_REFUSALS = frozenset(
    {
        # the hub: outside what law designates (item 17; RK-PAT-001/002)
        "unknown-pattern",
        "requester-not-designated",
        "provider-not-designated",
        "information-kind-not-covered",
        "outside-validity",
        # the agency node: outside its designated staff and terminals (item 19; RK-AGN-001)
        "staff-not-designated",
        "terminal-not-designated",
        "action-not-designated",
    }
)
"""Refusal reasons that mean use outside a designation (指定の範囲外の利用)."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One reported irregularity: the rule, what was found, and the entries."""

    rule: str
    detail: str
    hub_serials: tuple[int, ...] = ()
    agency_entries: tuple[tuple[str, int], ...] = ()  # (agency id, the node's serial)
    agency_id: str | None = None  # the agency the finding is about, when there is one
    agency_denials: tuple[tuple[str, int], ...] = ()  # (agency id, the node's refusal serial)

    def as_json(self) -> dict[str, Any]:
        """The wire form (``Discrepancy`` / ``Anomaly`` without their ids)."""
        out: dict[str, Any] = {
            "kind": self.rule,
            "detail": self.detail,
            "agency_id": self.agency_id,
            "hub_serials": list(self.hub_serials),
            "agency_entries": [{"agency_id": a, "serial": s} for a, s in self.agency_entries],
        }
        if self.agency_denials:
            out["agency_denials"] = [{"agency_id": a, "serial": s} for a, s in self.agency_denials]
        return out


_HUB_KEYS = {"serial": int, "at": str, "outcome": str, "requester_id": str, "provider_id": str}
_AGENCY_KEYS = {"serial": int, "at": str, "side": str, "outcome": str}
_DENIAL_KEYS = {"serial": int, "at": str, "staff_id": str, "terminal": str, "action": str,
                "reason": str}  # fmt: skip


def _aware(text: object) -> bool:
    try:
        return datetime.fromisoformat(str(text)).tzinfo is not None
    except ValueError:
        return False


def well_formed_hub(hub: Sequence[Entry]) -> bool:
    """Hub auditor entries as the wire gives them: typed keys, RFC 3339 times."""
    return all(
        isinstance(e, Mapping)
        and all(isinstance(e.get(k), t) and not isinstance(e.get(k), bool)
                for k, t in _HUB_KEYS.items())
        and e["serial"] >= 1
        and _aware(e["at"])
        for e in hub
    )  # fmt: skip


def well_formed_agencies(agencies: Mapping[str, Sequence[Entry]]) -> bool:
    """Agency auditor entries (``AgencyLogEntry.auditor_view``) per agency id."""
    return all(
        isinstance(entries, list | tuple)
        and all(
            isinstance(e, Mapping)
            and all(isinstance(e.get(k), t) and not isinstance(e.get(k), bool)
                    for k, t in _AGENCY_KEYS.items())
            and (e.get("hub_serial") is None
                 or (isinstance(e["hub_serial"], int) and not isinstance(e["hub_serial"], bool)))
            and _aware(e["at"])
            for e in entries
        )
        for entries in agencies.values()
    )  # fmt: skip


def well_formed_denials(denials: Mapping[str, Sequence[Entry]] | None) -> bool:
    """Agency nodes' refusals (OpenAPI ``AgencyDenial``, RK-AGN-001) per agency id."""
    return denials is None or all(
        isinstance(rows, list | tuple)
        and all(
            isinstance(d, Mapping)
            and all(isinstance(d.get(k), t) and not isinstance(d.get(k), bool)
                    for k, t in _DENIAL_KEYS.items())
            and _aware(d["at"])
            for d in rows
        )
        for rows in denials.values()
    )  # fmt: skip


def _at(entry: Entry) -> datetime:
    value = entry["at"]
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


@icontract.require(well_formed_hub)
@icontract.require(well_formed_agencies)
@icontract.ensure(lambda result: all(f.rule for f in result))
def discrepancies(
    hub: Sequence[Entry],
    agencies: Mapping[str, Sequence[Entry]],
    *,
    purged: Iterable[int] = (),
    unavailable: Iterable[str] = (),
    clock_tolerance: timedelta = timedelta(minutes=5),
    outcome_due: Mapping[int, datetime] | None = None,
    now: datetime | None = None,
) -> list[Finding]:
    """RK-AUD-002: what the merge of the hub's and the agencies' logs by ① shows.

    * ``serial-missing`` — a serial absent from the hub's sequence (and not purged);
    * ``requester-entry-missing`` — an approved query without the requester's entry;
    * ``provider-entry-missing`` — a provided answer without the provider's entry;
    * ``unknown-serial`` — an agency entry naming a serial the hub does not have;
    * ``field-mismatch`` — ② (beyond ``clock_tolerance``), ④, ⑤ or ⑥ differ;
    * ``agency-log-unavailable`` — an agency whose log could not be read
      (``unavailable``: its node did not answer), or a party of a linkage whose
      log was not given: the merge is incomplete, and says so;
    * ``outcome-missing`` — an approved linkage with neither a ``provided`` nor
      an ``expired`` entry although ``now`` is past the time its outcome was
      due (``outcome_due``, per approved serial: its deadline and collection
      period, RK-FLOW-004, RK-FLOW-007) — both times the hub's, so no tolerance.

    Args:
        hub: the hub's auditor view, every entry still held.
        agencies: per agency id, the node's auditor view (its share, ⑦–⑫).
        purged: serials the retention sweep removed (not holes in the sequence).
        unavailable: agencies whose node was asked and did not give its log.
        clock_tolerance: how far ② may differ between hub and agency.
        outcome_due: per approved serial, when its linkage must have ended.
        now: the time of the analysis (no ``outcome-missing`` without it).
    """
    findings: list[Finding] = []
    gone = set(purged)
    by_serial = {int(e["serial"]): e for e in hub}
    top = max([*by_serial, *gone], default=0)
    missing = [s for s in range(1, top + 1) if s not in by_serial and s not in gone]
    if missing:
        findings.append(
            Finding("serial-missing", f"{len(missing)} serial(s) absent", tuple(missing))
        )
    side_index: dict[tuple[str, str, int | str], list[tuple[str, Entry]]] = defaultdict(list)
    for agency, entries in agencies.items():
        for e in entries:
            if e.get("hub_serial") is not None:
                side_index[(agency, str(e["side"]), int(e["hub_serial"]))].append((agency, e))
            if e.get("linkage_id"):
                side_index[(agency, str(e["side"]), str(e["linkage_id"]))].append((agency, e))
            hs = e.get("hub_serial")
            if hs is None or int(hs) in gone:
                continue
            ref = by_serial.get(int(hs))
            where = ((agency, int(e["serial"])),)
            if ref is None:
                findings.append(
                    Finding(
                        "unknown-serial", f"{agency} names serial {hs}", (int(hs),), where, agency
                    )
                )
                continue
            differ = [
                name
                for name, hub_key, agency_key in (
                    ("④ requester", "requester_id", "requester"),
                    ("⑤ provider", "provider_id", "provider"),
                    ("⑥ information kind", "information_kind", "information_kind"),
                )
                if ref.get(hub_key) != e.get(agency_key)
            ]
            if e.get("outcome") in ("approved", "refused") and (
                abs(_at(ref) - _at(e)) > clock_tolerance
            ):
                differ.append("② time")
            if differ:
                findings.append(
                    Finding("field-mismatch", ", ".join(differ), (int(hs),), where, agency)
                )
    missing_logs: set[str] = set(unavailable)
    for serial, e in sorted(by_serial.items()):
        key: int | str
        if e.get("outcome") == "approved":
            party, side, key = str(e["requester_id"]), "requester", serial
            rule = "requester-entry-missing"
        elif e.get("outcome") == "provided":
            party, side, key = str(e["provider_id"]), "provider", str(e.get("linkage_id"))
            rule = "provider-entry-missing"
        else:
            continue
        if party not in agencies or party in missing_logs:
            missing_logs.add(party)
            continue
        if not side_index.get((party, side, key)):
            findings.append(Finding(rule, f"{party} has no {side} entry", (serial,), (), party))
    findings += [
        Finding("agency-log-unavailable", f"no log from {a} to merge", agency_id=a)
        for a in sorted(missing_logs)
    ]
    if now is not None and outcome_due:
        findings += _outcomes_missing(by_serial, outcome_due, now)
    return findings


def _outcomes_missing(
    by_serial: Mapping[int, Entry], outcome_due: Mapping[int, datetime], before: datetime
) -> list[Finding]:
    """Approved linkages whose outcome was due before ``before`` and never logged."""
    ended = {
        str(e.get("linkage_id"))
        for e in by_serial.values()
        if e.get("outcome") in ("provided", "expired")
    }
    return [
        Finding(
            "outcome-missing",
            f"linkage {e.get('linkage_id')} approved, no outcome logged by {due.isoformat()}",
            (serial,),
            (),
            str(e["provider_id"]),
        )
        for serial, e in sorted(by_serial.items())
        if e.get("outcome") == "approved"
        and e.get("linkage_id")
        and str(e["linkage_id"]) not in ended
        and (due := outcome_due.get(serial)) is not None
        and due < before
    ]


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    """Thresholds of the anomaly rules (RK-AUD-003); every one configurable."""

    period: timedelta = timedelta(days=1)
    max_queries_per_requester: int = 10_000
    max_queries_per_operator: int = 200
    max_queries_per_terminal: int = 500
    max_refusal_rate: float = 0.2
    min_queries_for_rate: int = 20
    operating_hours: tuple[int, int] = (8, 20)  # local hours [start, end)
    timezone: timezone = field(default=JST)
    max_requesters_per_person: int = 5
    max_queries_per_person: int = 10
    max_expired_per_provider: int = 10


def _bucket(at: datetime, period: timedelta) -> int:
    return int(at.timestamp() // period.total_seconds())


@icontract.require(lambda rules: rules.period > timedelta(0))
@icontract.require(well_formed_hub)
@icontract.require(well_formed_agencies)
@icontract.require(well_formed_denials)
def anomalies(
    hub: Sequence[Entry],
    agencies: Mapping[str, Sequence[Entry]],
    rules: AnomalyRules,
    denials: Mapping[str, Sequence[Entry]] | None = None,
) -> list[Finding]:
    """RK-AUD-003: volume per requester, operator and terminal; refusal rate;
    use outside operating hours; one person queried by many requesters or too
    often; use outside the designation (the pattern's, or the agency's staff and
    terminals); expired linkages per provider — each finding naming its rule and
    entries.  ``ANOMALY_KINDS`` lists the rules.

    ``denials``: per agency id, the refusals its node logged (``AgencyDenial``,
    RK-AGN-001): each agency's refusals for a designation reason are one
    ``outside-designation`` finding naming them (``agency_denials``)."""
    findings: list[Finding] = []
    queries = [e for e in hub if e.get("outcome") in ("approved", "refused")]

    def over(key_of: Any, entries: Sequence[Entry], limit: int, rule: str, what: str) -> None:
        groups: dict[tuple[Any, int], list[Entry]] = defaultdict(list)
        for e in entries:
            groups[(key_of(e), _bucket(_at(e), rules.period))].append(e)
        for (key, _), group in sorted(groups.items(), key=lambda kv: str(kv[0])):
            if len(group) > limit:
                first = group[0]
                findings.append(
                    Finding(
                        rule,
                        f"{what} {key}: {len(group)} in one period (threshold {limit})",
                        tuple(int(e["serial"]) for e in group if "_agency" not in e),
                        tuple(
                            (str(e["_agency"]), int(e["serial"])) for e in group if "_agency" in e
                        ),
                        str(first.get("_agency") or first.get("requester_id")),
                    )
                )

    over(lambda e: e["requester_id"], queries, rules.max_queries_per_requester,
         "requester-volume", "requester")  # fmt: skip
    asked = [
        {**e, "_agency": agency}
        for agency, entries in agencies.items()
        for e in entries
        if e.get("side") == "requester" and e.get("outcome") in ("approved", "refused")
    ]
    over(lambda e: (e["_agency"], e["operator"]), asked, rules.max_queries_per_operator,
         "operator-volume", "operator")  # fmt: skip
    over(lambda e: (e["_agency"], e["terminal"]), asked, rules.max_queries_per_terminal,
         "terminal-volume", "terminal")  # fmt: skip
    per_requester = Counter(str(e["requester_id"]) for e in queries)
    refused = Counter(str(e["requester_id"]) for e in queries if e["outcome"] == "refused")
    for requester, total in sorted(per_requester.items()):
        rate = refused[requester] / total
        if total >= rules.min_queries_for_rate and rate > rules.max_refusal_rate:
            findings.append(
                Finding(
                    "refusal-rate",
                    f"requester {requester}: {rate:.0%} of {total} queries refused",
                    tuple(
                        int(e["serial"])
                        for e in queries
                        if e["requester_id"] == requester and e["outcome"] == "refused"
                    ),
                    agency_id=requester,
                )
            )
    start, end = rules.operating_hours
    late = [e for e in queries if not start <= _at(e).astimezone(rules.timezone).hour < end]
    if late:
        findings.append(
            Finding(
                "outside-operating-hours",
                f"{len(late)} queries outside {start}:00–{end}:00",
                tuple(int(e["serial"]) for e in late),
            )
        )
    people: dict[tuple[str, int], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for e in queries:
        if e.get("person_ref"):
            key = (str(e["person_ref"]), _bucket(_at(e), rules.period))
            people[key][str(e["requester_id"])].append(int(e["serial"]))
    for (_person, _), by_requester in sorted(people.items()):
        serials = tuple(sorted(s for group in by_requester.values() for s in group))
        if len(by_requester) > rules.max_requesters_per_person:
            findings.append(
                Finding(
                    "person-queried-by-many",
                    f"one person queried by {len(by_requester)} requesters in one period",
                    serials,
                )
            )
        if len(serials) > rules.max_queries_per_person:  # 同一人物への反復照会
            findings.append(
                Finding(
                    "person-queried-repeatedly",
                    f"one person queried {len(serials)} times in one period "
                    f"(threshold {rules.max_queries_per_person})",
                    serials,
                    agency_id=next(iter(by_requester)) if len(by_requester) == 1 else None,
                )
            )
    # 指定の範囲外の利用: refusals because the use lies outside what law designates
    # (item 17, at the hub) or outside the agency's designated staff and terminals
    # (item 19, at the node).
    refused_hub = [e for e in queries if e.get("reason") in DESIGNATION_REFUSALS]
    for requester in sorted({str(e["requester_id"]) for e in refused_hub}):
        mine = [int(e["serial"]) for e in refused_hub if e["requester_id"] == requester]
        findings.append(
            Finding(
                "outside-designation",
                f"requester {requester}: {len(mine)} queries outside its designation",
                tuple(mine),
                agency_id=requester,
            )
        )
    for agency, entries in sorted(agencies.items()):
        denied = [
            int(e["serial"]) for e in entries if e.get("reason") in DESIGNATION_REFUSALS
            and e.get("hub_serial") is None
        ]  # fmt: skip
        if denied:
            findings.append(
                Finding(
                    "outside-designation",
                    f"{agency}: {len(denied)} attempts by undesignated staff or terminals",
                    (),
                    tuple((agency, s) for s in denied),
                    agency,
                )
            )
    for agency, rows in sorted((denials or {}).items()):
        refused_here = [int(d["serial"]) for d in rows if d.get("reason") in DESIGNATION_REFUSALS]
        if refused_here:
            who = sorted({f"{d['staff_id']} @ {d['terminal']}" for d in rows
                          if d.get("reason") in DESIGNATION_REFUSALS})  # fmt: skip
            findings.append(
                Finding(
                    "outside-designation",
                    f"{agency}: {len(refused_here)} actions refused to staff or terminals "
                    f"outside the designation ({', '.join(who[:5])})",
                    agency_id=agency,
                    agency_denials=tuple((agency, s) for s in refused_here),
                )
            )
    expired = [e for e in hub if e.get("outcome") == "expired"]
    per_provider: dict[str, list[int]] = defaultdict(list)
    for e in expired:
        per_provider[str(e["provider_id"])].append(int(e["serial"]))
    for provider, late_serials in sorted(per_provider.items()):
        if len(late_serials) > rules.max_expired_per_provider:
            findings.append(
                Finding(
                    "provider-expiries",
                    f"provider {provider}: {len(late_serials)} linkages expired",
                    tuple(late_serials),
                    agency_id=provider,
                )
            )
    return findings


# -- the dashboard's series (RK-AUD-004), pure -------------------------------------------
def hourly(hub: Sequence[Entry], hours: int = 48) -> list[tuple[datetime, int, int]]:
    """Queries and refusals per hour: ``(hour start UTC, queries, refused)`` for the
    ``hours`` hours up to the latest query (zero-filled); empty without queries."""
    queries = [e for e in hub if e.get("outcome") in ("approved", "refused")]
    if not queries:
        return []
    hour = timedelta(hours=1)

    def floor(t: datetime) -> datetime:
        t = t.astimezone(UTC)
        return t.replace(minute=0, second=0, microsecond=0)

    last = max(floor(_at(e)) for e in queries)
    first = last - (hours - 1) * hour
    asked: Counter[datetime] = Counter()
    refused: Counter[datetime] = Counter()
    for e in queries:
        slot = floor(_at(e))
        if slot >= first:
            asked[slot] += 1
            refused[slot] += e["outcome"] == "refused"
    return [(first + i * hour, asked[first + i * hour], refused[first + i * hour])
            for i in range(hours)]  # fmt: skip


def volume(
    hub: Sequence[Entry], agencies: Mapping[str, Sequence[Entry]], by: str
) -> list[tuple[str, int]]:
    """Query volume, largest first: ``by`` is ``requester`` or ``provider`` (the hub's
    queries), or ``operator`` / ``terminal`` (the requesters' shares, named
    ``agency / operator``)."""
    counts: Counter[str] = Counter()
    if by in ("requester", "provider"):
        for e in hub:
            if e.get("outcome") in ("approved", "refused"):
                counts[str(e[f"{by}_id"])] += 1
    else:
        for agency, entries in agencies.items():
            for e in entries:
                if e.get("side") == "requester" and e.get("outcome") in ("approved", "refused"):
                    counts[f"{agency} / {e.get(by)}"] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
