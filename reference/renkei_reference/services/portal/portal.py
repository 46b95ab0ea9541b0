"""My Portal (マイポータル): card-key login, applications and the person's own log (items 26, 31).

The portal faces the internet (item 26), so it holds as little as it can:

* challenges (32 random bytes, 300 s, single use — RK-AUTH-002);
* sessions (900 s), each holding the portal's own link code for the person,
  obtained by binding the 4 items of the verified card certificate at login
  (RK-PORT-003) and dropped with the session — never a Number (RK-AUTH-003),
  never an ID code;
* applications (period, kinds, 24 h — RK-PORT-002) and agency applications for
  ⑪/⑫ (RK-PORT-004);
* its own access record (RK-LOG-006: "My Portal MUST log every access it makes
  to logs"), keyed by a keyed hash of the link code so the person can be shown
  their own record later — including counter-service use (RK-PORT-005).

The portal reaches the hub only through its ``HubPort`` (services.portal.port):
the login's binding is the portal's own binding request, logged and refused
while the hub's store cannot write; log entries are fetched from the hub for
every read and never kept (RK-PORT-002); :meth:`Portal._record` forwards each
disclosure to the hub's administrative log (RK-LOG-006).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import httpx

from ...core.access_log import AccessLogEntry, person_view
from ...core.codes import AgencyId
from ...core.errors import (
    CallerError,
    NotFoundError,
    PermissionDeniedError,
    RenkeiError,
    UnauthenticatedError,
)
from ..clock import Clock
from ..hub.agencies import Agency
from .cards import CardAuthority, CardRejected
from .port import PORTAL_AGENCY, HubPort

__all__ = [
    "APPLICATION_SECONDS",
    "CHALLENGE_SECONDS",
    "PORTAL_AGENCY",
    "SESSION_SECONDS",
    "AgencyDisclosures",
    "AgencyNodeDirectory",
    "NodeLink",
    "Portal",
    "PortalSession",
]

CHALLENGE_SECONDS = 300  # RK-AUTH-002: no more than 5 minutes
SESSION_SECONDS = 900
APPLICATION_SECONDS = 24 * 3600
MAX_OPEN_CHALLENGES = 100_000  # an unauthenticated caller cannot grow memory without bound


def _card_failed() -> UnauthenticatedError:
    return UnauthenticatedError(
        "card-authentication-failed",
        "card authentication failed",  # one opaque answer for every cause (RK-PORT-001)
        "RK-PORT-001",
    )


def _unauthenticated() -> UnauthenticatedError:
    return UnauthenticatedError(
        "unauthenticated", "a My Portal session is required (RK-PORT-001)", "RK-PORT-001"
    )


@dataclass(frozen=True, slots=True)
class _Challenge:
    nonce: bytes
    expires_at: datetime
    binding: str | None  # the browser pre-session it was issued to, if any


@dataclass(frozen=True, slots=True)
class PortalSession:
    token: str
    expires_at: datetime
    channel: str
    link_code: str  # the portal's link code for the person; lives only with the session
    person_ref: str  # keyed hash of the link code, for the portal's own access record
    counter_agency: str | None = None
    counter_agency_name: str | None = None
    counter_operator: str | None = None


@dataclass(frozen=True, slots=True)
class _Application:
    application_id: str
    person_ref: str
    period_from: datetime | None
    period_to: datetime | None
    information_kinds: tuple[str, ...]
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class _AgencyApplication:
    application_id: str
    person_ref: str
    agency_id: str
    serials: tuple[int, ...]
    items: tuple[str, ...]
    state: str
    submitted_at: datetime
    released: dict[int, dict[str, Any]] = field(default_factory=dict)  # serial -> agency items
    linkage_ids: tuple[str, ...] = ()  # in the order of ``serials``
    at_node: bool = False  # decided by the agency's node: fetched from it at each read


class AgencyGrantor(Protocol):
    """A simulated agency that decides at once (test mode, no node of its own)."""

    def grant(
        self, agency_id: str, application_id: str, linkage_ids: list[str], items: list[str]
    ) -> tuple[str, dict[str, dict[str, Any]]]:
        """Return the decision and, per linkage id, the released ⑪/⑫ items."""
        ...


class AgencyNodeUnavailable(RenkeiError):
    """The agency's node did not take or answer the application."""

    status_hint = 503


@dataclass(frozen=True)
class NodeLink:
    """How My Portal reaches one agency's node: its URL and a client (mutual TLS
    with the portal's certificate under ``renkei serve``), or a credential."""

    url: str
    client: httpx.Client
    credential: str | None = None

    def call(self, method: str, path: str, body: Any = None) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.credential}"} if self.credential else {}
        try:
            return self.client.request(
                method, self.url.rstrip("/") + path, json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise AgencyNodeUnavailable(
                "agency-node-unavailable",
                f"the agency's node cannot be reached: {type(exc).__name__}",
                "RK-PORT-004",
            ) from exc


class AgencyNodeDirectory:
    """Where My Portal reaches the agency nodes (RK-PORT-004).  It belongs to the
    deployment, not to one federation: a test-mode reset keeps it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nodes: dict[str, NodeLink] = {}

    def register(self, agency_id: str, link: NodeLink) -> None:
        with self._lock:
            self._nodes[agency_id] = link

    def get(self, agency_id: str) -> NodeLink | None:
        with self._lock:
            return self._nodes.get(agency_id)


class AgencyDisclosures:
    """A simulated agency for test mode, where an agency has no node of its own:
    the control interface records, per agency and linkage, the agency-held ⑪
    (content, provider side) and ⑫ (use, requester side) (``POST
    /control/agency-log-items``), and the simulated agency decides the person's
    application at once, releasing them for the items applied for; with nothing
    recorded for a linkage it refuses.  An agency with a node
    (``AgencyNodeDirectory``) is asked there instead, and its staff decide.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[tuple[str, str], dict[str, Any]] = {}

    def record(self, agency_id: str, linkage_id: str, side: str, text: str, withheld: bool) -> None:
        with self._lock:
            self._items[(agency_id, linkage_id)] = {
                "side": side,
                "content" if side == "provider" else "use": text,
                "withheld": withheld,
            }

    def grant(
        self, agency_id: str, application_id: str, linkage_ids: list[str], items: list[str]
    ) -> tuple[str, dict[str, dict[str, Any]]]:
        wanted = {"provider": "content", "requester": "use"}
        released: dict[str, dict[str, Any]] = {}
        with self._lock:
            for lid in linkage_ids:
                held = self._items.get((agency_id, lid))
                if held is None or wanted[held["side"]] not in items:
                    continue
                if held["withheld"]:
                    released[lid] = {"side": held["side"], "withheld": True}
                else:
                    released[lid] = dict(held)
        if not released:
            return "refused", {}
        return ("granted" if len(released) == len(linkage_ids) else "partially-granted"), released


class Portal:
    """マイポータル for one federation (RK-PORT-001..006, RK-AUTH-001..003)."""

    def __init__(
        self,
        hub: HubPort,
        clock: Clock,
        cards: CardAuthority | None = None,
        grantor: AgencyGrantor | None = None,
        nodes: AgencyNodeDirectory | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._hub = hub
        self._clock = clock
        self.cards = cards or CardAuthority(clock.now())
        self.disclosures = AgencyDisclosures()
        self._grantor: AgencyGrantor = grantor or self.disclosures
        self._nodes = nodes or AgencyNodeDirectory()
        self._ref_key = secrets.token_bytes(32)
        self._challenges: dict[str, _Challenge] = {}
        self._sessions: dict[str, PortalSession] = {}
        self._applications: dict[str, _Application] = {}
        self._agency_applications: dict[str, _AgencyApplication] = {}
        self.access_record: list[dict[str, Any]] = []  # RK-LOG-006, the portal's own log

    # -- authentication (RK-PORT-001, RK-AUTH-001..003) -----------------------
    def challenge(self, binding: str | None = None) -> tuple[str, bytes, datetime]:
        """A fresh challenge: 256 bits from the OS CSPRNG, 300 s, single use (RK-AUTH-002)."""
        now = self._clock.now()
        challenge_id = "ch-" + secrets.token_urlsafe(16)
        nonce = secrets.token_bytes(32)
        expires = now + timedelta(seconds=CHALLENGE_SECONDS)
        with self._lock:
            self._challenges = {k: c for k, c in self._challenges.items() if c.expires_at > now}
            while len(self._challenges) >= MAX_OPEN_CHALLENGES:  # bounded memory: oldest go
                del self._challenges[next(iter(self._challenges))]
            self._challenges[challenge_id] = _Challenge(nonce, expires, binding)
        return challenge_id, nonce, expires

    def login(
        self,
        challenge_id: str,
        certificate_der: bytes,
        signature: bytes,
        *,
        channel: str = "internet",
        binding: str | None = None,
        counter: Agency | None = None,
        counter_operator: str | None = None,
    ) -> PortalSession:
        """Verify the card's signature over the challenge and open a session.

        The challenge is consumed whatever the outcome (single use).  Every
        failure is the same 401 ``card-authentication-failed`` (RK-PORT-001)."""
        now = self._clock.now()
        with self._lock:
            chal = self._challenges.pop(challenge_id, None)
        if chal is None or chal.expires_at <= now or chal.binding != binding:
            raise _card_failed()
        try:
            items = self.cards.verify(certificate_der, signature, chal.nonce, now)
        except CardRejected:
            raise _card_failed() from None
        # RK-PORT-003: the person is the one the registry's latest 4 items name,
        # found by an exact, unique binding (RK-BND-002) to the portal's link code.
        link_code = self._hub.bind_person(items)
        if link_code is None:
            raise _card_failed()
        session = PortalSession(
            token=secrets.token_urlsafe(32),
            expires_at=now + timedelta(seconds=SESSION_SECONDS),
            channel=channel,
            link_code=link_code,
            person_ref=self._ref(link_code),
            counter_agency=counter.agency_id if counter else None,
            counter_agency_name=counter.name if counter else None,
            counter_operator=counter_operator,
        )
        with self._lock:
            self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
            self._sessions[session.token] = session
        self._record(session, "login", {})
        return session

    def session(self, token: str | None) -> PortalSession:
        """The live session of a bearer token; anything else is 401 ``unauthenticated``."""
        now = self._clock.now()
        with self._lock:
            found = self._sessions.get(token or "")
            if found is None or found.expires_at <= now:
                self._sessions.pop(token or "", None)
                raise _unauthenticated()
            return found

    def logout(self, token: str) -> None:
        with self._lock:
            self._sessions.pop(token, None)

    def _ref(self, link_code: str) -> str:
        """A keyed pseudonym for the portal's own record; reveals no code."""
        return hmac.new(self._ref_key, link_code.encode(), hashlib.sha256).hexdigest()[:32]

    # -- the portal's own access record (RK-LOG-006, RK-PORT-005) --------------
    def _record(self, session: PortalSession, action: str, detail: dict[str, Any]) -> None:
        """Record one access of the portal; counter use names counter and staff.
        Each disclosure also goes to the hub's administrative log (RK-LOG-006)."""
        row = {
            "at": self._clock.now().isoformat(),
            "action": action,
            "channel": session.channel,
            "counter_agency": session.counter_agency,
            "counter_agency_name": session.counter_agency_name,
            "counter_operator": session.counter_operator,
            **detail,
        }
        with self._lock:
            self.access_record.append({"person_ref": session.person_ref, **row})
        if action in ("access-logs", "agency-application"):
            self._hub.log_disclosure({k: v for k, v in row.items() if v is not None})

    def usage(self, session: PortalSession) -> list[dict[str, Any]]:
        """The person's own portal use, counter use marked as such (RK-PORT-005)."""
        with self._lock:
            rows = [dict(r) for r in self.access_record if r["person_ref"] == session.person_ref]
        for r in rows:
            del r["person_ref"]
        return rows

    # -- applications (RK-PORT-002) --------------------------------------------
    def apply(
        self,
        session: PortalSession,
        period_from: datetime | None,
        period_to: datetime | None,
        information_kinds: list[str],
    ) -> dict[str, Any]:
        if period_from and period_to and period_to < period_from:
            raise CallerError("validation-error", "period.to is before period.from", "RK-WIRE-001")
        now = self._clock.now()
        app = _Application(
            application_id="ap-" + secrets.token_urlsafe(12),
            person_ref=session.person_ref,
            period_from=period_from,
            period_to=period_to,
            information_kinds=tuple(information_kinds),
            expires_at=now + timedelta(seconds=APPLICATION_SECONDS),
        )
        with self._lock:
            self._applications[app.application_id] = app
        self._record(session, "application", {"application_id": app.application_id})
        return self._application_view(app)

    @staticmethod
    def _application_view(app: _Application) -> dict[str, Any]:
        period: dict[str, Any] = {}
        if app.period_from:
            period["from"] = app.period_from.isoformat()
        if app.period_to:
            period["to"] = app.period_to.isoformat()
        return {
            "application_id": app.application_id,
            "state": "granted",
            "period": period,
            "information_kinds": list(app.information_kinds),
            "expires_at": app.expires_at.isoformat(),
        }

    def _granted(self, session: PortalSession, application_id: str) -> _Application:
        now = self._clock.now()
        with self._lock:
            app = self._applications.get(application_id)
        if app is None or app.person_ref != session.person_ref or app.expires_at <= now:
            raise PermissionDeniedError(
                "application-required",
                "no granted application of yours under this id",
                "RK-PORT-002",
            )
        return app

    def _own_entries(self, session: PortalSession) -> list[AccessLogEntry]:
        """Fetched from the hub for each request, never kept (RK-PORT-002/003)."""
        return self._hub.person_entries(session.link_code)

    def access_logs(
        self, session: PortalSession, application_id: str, after: int, limit: int
    ) -> dict[str, Any]:
        """The person's own hub-held entries within the application (RK-PORT-002/003)."""
        app = self._granted(session, application_id)
        kinds = set(app.information_kinds)
        selected = [
            e
            for e in self._own_entries(session)
            if e.serial > after
            and (app.period_from is None or e.at >= app.period_from)
            and (app.period_to is None or e.at < app.period_to)
            and (not kinds or e.information_kind in kinds)
        ]
        page = selected[:limit]
        released = self._released(session)
        entries = []
        for e in page:
            view = person_view(e)
            extra = released.get(e.serial)
            if extra:
                view["agency_items"] = extra
            entries.append(view)
        out: dict[str, Any] = {"application_id": app.application_id, "entries": entries}
        if len(selected) > limit and page:
            out["next_after"] = page[-1].serial
        self._record(
            session,
            "access-logs",
            {"application_id": app.application_id, "entries": len(entries)},
        )
        return out

    # -- agency applications for ⑪/⑫ (RK-PORT-004) ----------------------------
    def apply_to_agency(
        self, session: PortalSession, agency_id: str, serials: list[int], items: list[str]
    ) -> dict[str, Any]:
        AgencyId(agency_id)
        own = {e.serial: e for e in self._own_entries(session)}
        linkage_ids: list[str] = []
        for serial in serials:
            entry = own.get(serial)
            if (
                entry is None
                or entry.linkage_id is None
                or agency_id not in (entry.requester, entry.provider)
            ):
                # The person cannot probe others' serials (RK-PORT-002).
                raise NotFoundError(
                    "not-found", "no entry of yours with that agency under a serial", "RK-PORT-004"
                )
            linkage_ids.append(entry.linkage_id)
        application_id = "aa-" + secrets.token_urlsafe(12)
        node = self._nodes.get(agency_id)
        released: dict[int, dict[str, Any]] = {}
        if node is not None:  # the agency's own node: its staff decide later
            state = self._submit(node, session, application_id, linkage_ids, items)
        else:  # test mode's simulated agency decides at once
            state, by_linkage = self._grantor.grant(agency_id, application_id, linkage_ids, items)
            name = self._agency_name(agency_id)
            released = {
                serial: {"agency": name, **by_linkage[lid]}
                for serial, lid in zip(serials, linkage_ids, strict=True)
                if lid in by_linkage
            }
        app = _AgencyApplication(
            application_id=application_id,
            person_ref=session.person_ref,
            agency_id=agency_id,
            serials=tuple(serials),
            items=tuple(items),
            state=state,
            submitted_at=self._clock.now(),
            released=released,
            linkage_ids=tuple(linkage_ids),
            at_node=node is not None,
        )
        with self._lock:
            self._agency_applications[application_id] = app
        self._record(
            session,
            "agency-application",
            {"application_id": application_id, "agency_id": agency_id, "state": state},
        )
        return {
            "application_id": application_id,
            "agency_id": agency_id,
            "serials": list(serials),
            "items": list(items),
            "state": state,
            "submitted_at": app.submitted_at.isoformat(),
        }

    def _agency_name(self, agency_id: str) -> str:
        return self._hub.agency_name(agency_id)

    def _submit(
        self,
        node: NodeLink,
        session: PortalSession,
        application_id: str,
        linkage_ids: list[str],
        items: list[str],
    ) -> str:
        """The person's separate application, brought to the agency's node."""
        body = {
            "application_id": application_id,
            "linkage_ids": linkage_ids,
            "items": sorted(set(items)),
            "channel": "counter" if session.channel == "counter" else "portal",
        }
        resp = node.call("POST", "/agency/applications", body)
        if resp.status_code == 404:  # the agency holds no entry of it
            return "refused"
        if resp.status_code != 202:
            raise AgencyNodeUnavailable(
                "agency-node-unavailable",
                f"the agency's node did not take the application (HTTP {resp.status_code})",
                "RK-PORT-004",
            )
        return str(resp.json().get("state", "submitted"))

    def _released(self, session: PortalSession) -> dict[int, list[dict[str, Any]]]:
        """⑪/⑫ the agencies released to this person.  Those of an agency with a
        node are fetched from it at every read, never kept (RK-PORT-002), and
        appear only once its staff granted the application (RK-PORT-004)."""
        out: dict[int, list[dict[str, Any]]] = {}
        with self._lock:
            apps = [
                a for a in self._agency_applications.values() if a.person_ref == session.person_ref
            ]
        for app in apps:
            released = self._from_node(app) if app.at_node else app.released
            for serial, item in released.items():
                out.setdefault(serial, []).append(item)
        return out

    def _from_node(self, app: _AgencyApplication) -> dict[int, dict[str, Any]]:
        node = self._nodes.get(app.agency_id)
        if node is None:
            return {}
        try:
            resp = node.call("GET", f"/agency/applications/{app.application_id}")
        except AgencyNodeUnavailable:
            return {}  # shown without ⑪/⑫ this time; the hub-held entries still are
        if resp.status_code != 200:
            return {}
        view = resp.json()
        if view.get("state") not in ("granted", "partially-granted", "refused"):
            return {}
        name = self._agency_name(app.agency_id)
        serial_of = dict(zip(app.linkage_ids, app.serials, strict=True))
        out: dict[int, dict[str, Any]] = {}
        for entry in view.get("entries") or []:
            serial = serial_of.get(str(entry.get("linkage_id")))
            if serial is None:
                continue
            item = {"agency": name, "side": entry.get("side"),
                    "withheld": bool(entry.get("withheld"))}  # fmt: skip
            for key in ("content", "use"):
                if entry.get(key):
                    item[key] = entry[key]
            out[serial] = item
        return out

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """What the portal stores (RK-CTL-006): no log entries, no codes, no keys."""
        with self._lock:
            return {
                "portal.sessions": [
                    {"expires_at": s.expires_at.isoformat(), "channel": s.channel}
                    for s in self._sessions.values()
                ],
                "portal.applications": [
                    {"application_id": a.application_id, "expires_at": a.expires_at.isoformat()}
                    for a in self._applications.values()
                ],
                "portal.access_record": [dict(r) for r in self.access_record],
            }
