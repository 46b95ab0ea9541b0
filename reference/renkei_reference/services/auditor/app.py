"""The auditor's dashboard (第三者機関の監査画面; seed items 23, 25, 27), server-rendered.

Mounted by ``app.create_app`` under ``/auditor/ui`` (``include_in_schema=False``:
not part of the wire protocol); ``renkei serve`` serves it with the rest of the
application.  Japanese first, English second on every label, as My Portal
(RK-PORT-006, RK-AUD-004).  No JavaScript at all: charts are inline SVG drawn
on the server; nothing is fetched from any network.

Sign-in (RK-AUD-004, after the portal's RK-AUTH-003: no password anywhere):

* **signed challenge** — the page shows a fresh challenge (32 random bytes,
  300 s, single use, bound to an HttpOnly pre-session cookie); the auditor's
  signing key (Ed25519, held by the third-party body, never typed into the
  page) signs ``"renkei/auditor-challenge/v1" ‖ 0x00 ‖ nonce``; the page
  posts the agency id and the signature.  The public key is registered for an
  agency of role ``auditor``: in test mode by ``POST /control/auditor-keys``,
  in a deployment by ``Dashboard.register_key`` (``renkei serve``);
* **the client certificate** — over mutual TLS (RK-ARCH-003) a connection whose
  verified certificate certifies an organisation of role ``auditor`` may sign
  in with it: the TLS 1.3 handshake has already proved possession of its key
  over a fresh transcript (CertificateVerify), which is the challenge.

Sessions live 900 s (in memory) in an HttpOnly, SameSite=Strict cookie scoped
to ``/auditor/ui``, ``Secure`` when served over HTTPS; registered keys are kept
in the state directory (``Dashboard``); every form carries the session's CSRF token (synchronizer
token), checked on every POST.  Every view is an ``auditor-read`` and every
sign-in, sign-out, placing and lifting of a hold an entry of the hub's
administrative log (RK-LOG-006).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...core.audit import AnomalyRules, Finding, anomalies, discrepancies, hourly, volume
from ...core.display import jst_day_start, kind_names
from ...core.errors import CallerError, NotFoundError, RenkeiError
from .. import hub_wire as wire
from ..federation import Agency, Federation
from ..hub import HoldScopeIn
from ..portal.app import OUTCOMES, PerFederation, _form, _t
from ..web.auth_first import AuthFirstRoute, authenticates
from ..web.models import Ident
from ..web.page import CertificateBinding, secure_page, time_html
from ..web.pki import certified_identity
from ..web.tls import delete_cookie, peer_certificate, require_operator, set_cookie

__all__ = ["CONTEXT", "Dashboard", "auditor_ui_router"]

CONTEXT = b"renkei/auditor-challenge/v1\x00"
SESSION_COOKIE = "renkei_auditor"
BINDING_COOKIE = "renkei_auditor_pre"
UI = "/auditor/ui"  # the cookies' path
CHALLENGE_SECONDS = 300
SESSION_SECONDS = 900
MAX_OPEN_CHALLENGES = 10_000
KEYS_FILE = "auditor-keys.json"
"""The dashboard's registered auditor keys, in the federation's state directory."""
MERGED_ROWS = 200  # the merged log shows the latest entries; the wire pages through all


@dataclass(frozen=True, slots=True)
class AuditorSession:
    token: str
    agency_id: str
    csrf: str
    expires_at: datetime
    channel: str  # signed-challenge | client-certificate


class Dashboard:
    """Keys, challenges and sessions of the dashboard of one federation.

    Registered keys are durable when the federation has a state directory
    (``KEYS_FILE`` there, mode 0600, rewritten whole on each registration):
    a restarted ``renkei serve`` still knows the third-party body's keys.
    Challenges (300 s) and sessions (900 s) expire and live in memory only: a
    restart signs every auditor out, which is the safe direction."""

    def __init__(self, fed: Federation) -> None:
        self._fed = fed
        self._lock = threading.Lock()
        self._keys_path = fed.state_dir / KEYS_FILE if fed.state_dir is not None else None
        self._keys: dict[str, Ed25519PublicKey] = self._load_keys()
        self._challenges: dict[str, tuple[bytes, datetime, str]] = {}
        self._sessions: dict[str, AuditorSession] = {}

    def _load_keys(self) -> dict[str, Ed25519PublicKey]:
        if self._keys_path is None or not self._keys_path.is_file():
            return {}
        stored = json.loads(self._keys_path.read_text(encoding="utf-8"))
        return {
            agency_id: Ed25519PublicKey.from_public_bytes(base64.b64decode(raw))
            for agency_id, raw in stored["keys"].items()
        }

    def _save_keys(self) -> None:
        if self._keys_path is None:
            return
        raw = {
            agency_id: base64.b64encode(
                key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            ).decode()
            for agency_id, key in sorted(self._keys.items())
        }
        partial = self._keys_path.with_name(self._keys_path.name + ".partial")
        partial.write_text(json.dumps({"keys": raw}, indent=2) + "\n", encoding="utf-8")
        partial.chmod(0o600)
        partial.replace(self._keys_path)

    def _auditor(self, agency_id: str) -> Agency | None:
        agency = self._fed.hub.agencies.get(agency_id)
        return agency if agency is not None and agency.role == "auditor" else None

    def register_key(self, agency_id: str, key: Ed25519PublicKey) -> None:
        """The third-party body's dashboard key (RK-AUD-004); only for role auditor."""
        if self._auditor(agency_id) is None:
            raise CallerError(
                "validation-error", f"{agency_id!r} is not an auditor agency", "RK-AUD-004"
            )
        with self._lock:
            self._keys[agency_id] = key
            self._save_keys()

    def challenge(self, binding: str) -> tuple[str, bytes, datetime]:
        now = self._fed.clock.now()
        cid, nonce = "ac-" + secrets.token_urlsafe(16), secrets.token_bytes(32)
        expires = now + timedelta(seconds=CHALLENGE_SECONDS)
        with self._lock:
            self._challenges = {k: c for k, c in self._challenges.items() if c[1] > now}
            while len(self._challenges) >= MAX_OPEN_CHALLENGES:
                del self._challenges[next(iter(self._challenges))]
            self._challenges[cid] = (nonce, expires, binding)
        return cid, nonce, expires

    def _open(self, agency: Agency, channel: str) -> AuditorSession:
        session = AuditorSession(
            token=secrets.token_urlsafe(32),
            agency_id=agency.agency_id,
            csrf=secrets.token_urlsafe(32),
            expires_at=self._fed.clock.now() + timedelta(seconds=SESSION_SECONDS),
            channel=channel,
        )
        with self._lock:
            self._sessions[session.token] = session
        self._fed.hub.log_auditor_session(agency, "sign-in", channel)
        return session

    def login(
        self, challenge_id: str, agency_id: str, signature: bytes, binding: str | None
    ) -> AuditorSession | None:
        """The signed challenge; ``None`` for every failure (one opaque answer)."""
        now = self._fed.clock.now()
        with self._lock:
            chal = self._challenges.pop(challenge_id, None)
            key = self._keys.get(agency_id)
        agency = self._auditor(agency_id)
        if chal is None or chal[1] <= now or chal[2] != binding or key is None or agency is None:
            return None
        try:
            key.verify(signature, CONTEXT + chal[0])
        except InvalidSignature:
            return None
        return self._open(agency, "signed-challenge")

    def login_certified(self, identity: str | None) -> AuditorSession | None:
        """Mutual TLS: the verified client certificate certifies an auditor."""
        agency = self._auditor(identity) if identity else None
        return self._open(agency, "client-certificate") if agency else None

    def session(self, token: str | None) -> AuditorSession | None:
        now = self._fed.clock.now()
        with self._lock:
            found = self._sessions.get(token or "")
            if found is None or found.expires_at <= now:
                self._sessions.pop(token or "", None)
                return None
            return found

    def logout(self, token: str) -> None:
        with self._lock:
            gone = self._sessions.pop(token, None)
        agency = self._auditor(gone.agency_id) if gone else None
        if gone and agency:
            self._fed.hub.log_auditor_session(agency, "sign-out", gone.channel)


class AuditorKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    agency_id: Ident


# -- charts: inline SVG, drawn on the server ----------------------------------------------
def _svg(width: int, height: int, label: str, body: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" aria-label="{html.escape(label)}">'
        f"<title>{html.escape(label)}</title>{body}</svg>"
    )


def hour_chart(series: Sequence[tuple[datetime, int, int]], label: str) -> str:
    """Queries (blue) and refusals (red) per hour, one bar pair per hour (JST labels)."""
    if not series:
        return f"<p>{_t('照会はまだありません。', 'No queries yet.')}</p>"
    w, h, left, bottom = 720, 220, 40, 30
    top = max(q for _, q, _ in series) or 1
    slot = (w - left - 10) / len(series)
    jst = timedelta(hours=9)
    parts = [
        f'<line x1="{left}" y1="{h - bottom}" x2="{w - 10}" y2="{h - bottom}" stroke="#444"/>',
        f'<text x="4" y="14" font-size="11">{top}</text>',
        f'<text x="4" y="{h - bottom}" font-size="11">0</text>',
    ]
    for i, (at, asked, refused) in enumerate(series):
        x = left + i * slot
        for value, colour, dx, cls in (
            (asked, "#2b6cb0", 0.0, "q"),
            (refused, "#c53030", 0.5, "r"),
        ):
            bar = (h - bottom - 20) * value / top
            parts.append(
                f'<rect class="{cls}" x="{x + dx * slot:.1f}" y="{h - bottom - bar:.1f}" '
                f'width="{max(slot / 2 - 1, 1):.1f}" height="{bar:.1f}" fill="{colour}">'
                f"<title>{(at + jst):%m-%d %H}時 JST: {asked} / {refused}</title></rect>"
            )
        if i % 6 == 0:
            parts.append(
                f'<text x="{x:.1f}" y="{h - 10}" font-size="10">{(at + jst):%d日%H時}</text>'
            )
    return _svg(w, h, label, "".join(parts))


def bar_chart(rows: Sequence[tuple[str, int]], label: str, limit: int = 12) -> str:
    """Horizontal bars, largest first (volume per agency, operator or terminal)."""
    rows = list(rows)[:limit]
    if not rows:
        return f"<p>{_t('データはありません。', 'No data.')}</p>"
    w, row_h, left = 720, 22, 300
    top = max(v for _, v in rows) or 1
    parts = []
    for i, (name, value) in enumerate(rows):
        y = 4 + i * row_h
        bar = (w - left - 60) * value / top
        parts.append(
            f'<text x="4" y="{y + 14}" font-size="12">{html.escape(name[:48])}</text>'
            f'<rect x="{left}" y="{y}" width="{bar:.1f}" height="{row_h - 6}" fill="#2f855a">'
            f"<title>{html.escape(name)}: {value}</title></rect>"
            f'<text x="{left + bar + 4:.1f}" y="{y + 14}" font-size="12">{value}</text>'
        )
    return _svg(w, 8 + len(rows) * row_h, label, "".join(parts))


# -- pages ----------------------------------------------------------------------------------
_PAGE = """<!DOCTYPE html>
<html lang="ja">
<head><meta charset="utf-8"><title>{title_ja} ／ {title_en} — 第三者機関</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="{nonce}">
body{{font-family:"Noto Sans CJK JP","Noto Sans JP","IPAPGothic",sans-serif;margin:2em;color:#222;
max-width:90em}}
h1{{font-size:1.5em;border-bottom:3px solid #2b6cb0;padding-bottom:.2em}}
h2{{font-size:1.2em;margin-top:1.6em}}
.en{{color:#666;font-size:.85em;display:block}}
table{{border-collapse:collapse;margin:1em 0;font-size:.9em}}
th,td{{border:1px solid #aaa;padding:.25em .5em;text-align:left;vertical-align:top}}
th{{background:#ebf4ff}} tr.flag td{{background:#fff5f5}}
.note{{background:#fffbe6;padding:.5em}} textarea{{width:100%;font-family:monospace}}
time{{white-space:nowrap}}
.legend .q{{color:#2b6cb0}} .legend .r{{color:#c53030}}
.legend span{{display:inline-block;margin-right:1.5em}}
#place-hold label{{display:inline-block;vertical-align:top;margin:0 1.2em .6em 0}}
#place-hold input{{display:block;margin-top:.2em}}
</style></head>
<body><header><strong>第三者機関 監査画面</strong>
<span class="en">Third-party body — audit dashboard (renkei reference)</span></header>
<h1 lang="ja">{title_ja}<span class="en" lang="en">{title_en}</span></h1>
{body}
</body></html>"""

KINDS: dict[str, tuple[str, str]] = {
    "serial-missing": ("シリアル番号の欠番", "serial missing from the hub's sequence"),
    "requester-entry-missing": ("照会元の記録なし", "requester's entry missing"),
    "provider-entry-missing": ("照会先の記録なし", "provider's entry missing"),
    "unknown-serial": ("情報連携基盤にないシリアル番号", "serial unknown to the hub"),
    "field-mismatch": ("記録内容の不一致", "fields differ"),
    "agency-log-unavailable": ("機関のログを取得できない", "agency log unavailable"),
    "outcome-missing": ("期限後も結果の記録なし", "approved, no outcome after its deadline"),
    "requester-volume": ("照会元ごとの件数超過", "volume per requester"),
    "operator-volume": ("操作者ごとの件数超過", "volume per operator"),
    "terminal-volume": ("端末ごとの件数超過", "volume per terminal"),
    "refusal-rate": ("拒否率の超過", "refusal rate"),
    "outside-operating-hours": ("業務時間外の利用", "use outside business hours"),
    "person-queried-by-many": ("一人への多数機関からの照会", "one person, many requesters"),
    "person-queried-repeatedly": ("同一人物への反復照会", "repeated queries on one person"),
    "outside-designation": ("指定の範囲外の利用", "use outside the designation"),
    "provider-expiries": ("照会先の期限切れ", "expired linkages per provider"),
}


def _page(title_ja: str, title_en: str, body: str, status: int = 200) -> HTMLResponse:
    """A page with the web applications' security headers (strict CSP, nonce'd style)."""
    return secure_page(
        lambda nonce: _PAGE.format(
            title_ja=html.escape(title_ja), title_en=html.escape(title_en), body=body, nonce=nonce
        ),
        status,
    )


def _table(table_id: str, head: str, rows: list[str], empty_ja: str, empty_en: str) -> str:
    if not rows:
        cols = head.count("<th>")
        rows = [f'<tr><td colspan="{cols}">{_t(empty_ja, empty_en)}</td></tr>']
    return (
        f'<table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _head(labels: Iterable[tuple[str, str]]) -> str:
    """A table's header row: each column Japanese first, English second."""
    return "".join(f"<th>{_t(ja, en)}</th>" for ja, en in labels)


def _cell(value: object) -> str:
    return f"<td>{html.escape('' if value is None else str(value))}</td>"


def _detail_ja(f: Finding, kind_ja: str) -> str:
    """The finding's detail in Japanese, first (RK-PORT-006's rule for the auditor's
    screen too): its kind, the agency and how many entries it concerns; the rule's
    own English sentence follows it."""
    where = f"{f.agency_id}：" if f.agency_id else ""
    counts = []
    if f.hub_serials:
        counts.append(f"情報連携基盤の記録{len(f.hub_serials)}件")
    if f.agency_entries:
        counts.append(f"機関の記録{len(f.agency_entries)}件")
    return f"{where}{kind_ja}" + (f"（{'、'.join(counts)}）" if counts else "")


def _findings_table(table_id: str, findings: Sequence[Finding]) -> str:
    head = _head(
        (
            ("種類", "Kind"),
            ("機関", "Agency"),
            ("内容", "Detail"),
            ("情報連携基盤のシリアル番号", "Hub serials"),
            ("機関の記録", "Agency entries"),
        )
    )
    rows = []
    for f in findings:
        ja, en = KINDS.get(f.rule, (f.rule, f.rule))
        agency_entries = ", ".join(f"{a}#{s}" for a, s in f.agency_entries[:20])
        serials = ", ".join(str(s) for s in f.hub_serials[:20])
        if len(f.hub_serials) > 20:
            serials += f" … ({len(f.hub_serials)})"
        rows.append(
            f'<tr class="finding" data-kind="{html.escape(f.rule)}"><td>{_t(ja, en)}'
            f"<code>{html.escape(f.rule)}</code></td>{_cell(f.agency_id)}"
            f"<td>{_t(_detail_ja(f, ja), f.detail)}</td>"
            f"{_cell(serials)}{_cell(agency_entries)}</tr>"
        )
    return _table(table_id, head, rows, "検出なし。", "None found.")


def _merged_table(
    hub: Sequence[dict[str, Any]],
    shares: dict[str, list[dict[str, Any]]],
    flagged: set[int],
) -> str:
    """The merged log by ①: the hub's ①–⑥ and outcome, each agency's ⑦–⑫ beside it."""
    sides: dict[int, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    for agency, entries in shares.items():
        for e in entries:
            if e.get("hub_serial") is not None:
                sides[int(e["hub_serial"])].append((agency, e))
    labels = (
        ("① シリアル番号", "Serial"),
        ("② 日時（日本時間）", "Date and time (JST)"),
        ("③ 根拠", "Legal basis"),
        ("④ 照会元", "Requester"),
        ("⑤ 照会先", "Provider"),
        ("⑥ 情報の種類", "Kind"),
        ("結果", "Outcome"),
        ("⑦⑨ 照会元の操作者・端末", "Requester operator / terminal"),
        ("⑧⑩ 照会先の操作者・端末", "Provider operator / terminal"),
        ("⑪ 提供内容 ／ ⑫ 用途", "Content / use"),
    )
    head = _head(labels)
    rows = []
    for e in list(hub)[-MERGED_ROWS:][::-1]:
        serial = int(e["serial"])
        req = [s for a, s in sides[serial] if s.get("side") == "requester"]
        prov = [s for a, s in sides[serial] if s.get("side") == "provider"]
        who = "; ".join(f"{s.get('operator')} @ {s.get('terminal')}" for s in req)
        whom = "; ".join(f"{s.get('operator')} @ {s.get('terminal')}" for s in prov)
        items = "; ".join(str(s.get("content") or s.get("use")) for s in req + prov
                          if s.get("content") or s.get("use"))  # fmt: skip
        cls = ' class="entry flag"' if serial in flagged else ' class="entry"'
        outcome = str(e.get("outcome"))
        rows.append(
            f'<tr{cls} data-serial="{serial}">{_cell(serial)}<td>{time_html(e.get("at"))}</td>'
            f"{_cell(e.get('pattern_id'))}{_cell(e.get('requester_id'))}"
            f"{_cell(e.get('provider_id'))}<td>{_t(*kind_names(str(e.get('information_kind'))))}</td>"
            f"<td>{_t(*OUTCOMES.get(outcome, (outcome, outcome)))}</td>"
            f"{_cell(who)}{_cell(whom)}{_cell(items)}</tr>"
        )
    if not rows:
        rows.append(f'<tr><td colspan="10">{_t("記録はありません。", "No entries.")}</td></tr>')
    return (
        f'<table id="merged"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _holds_section(holds: Sequence[dict[str, Any]], csrf: str) -> str:
    token = f'<input type="hidden" name="csrf" value="{html.escape(csrf)}">'
    rows = []
    for h in holds:
        hid = html.escape(h["hold_id"])
        scope = ", ".join(
            f"{html.escape(k)}={time_html(v) if k in ('from', 'to') else html.escape(str(v))}"
            for k, v in h["scope"].items()
        )
        rows.append(
            f'<tr class="hold" data-hold="{hid}">{_cell(h["hold_id"])}{_cell(h["reason"])}'
            f"{_cell(h.get('case_reference'))}<td>{scope}</td>{_cell(h['placed_by'])}"
            f"<td>{time_html(h['placed_at'])}</td><td>"
            f'<form method="post" action="/auditor/ui/holds/{hid}/lift">{token}'
            f'<button type="submit" class="lift">{_t("解除", "Lift")}</button></form></td></tr>'
        )
    head = _head(
        (
            ("保全措置の識別子", "Hold"),
            ("理由", "Reason"),
            ("事件番号", "Case"),
            ("範囲", "Scope"),
            ("設定者", "Placed by"),
            ("設定日時（日本時間）", "Placed at (JST)"),
            ("操作", "Action"),
        )
    )
    form = f"""
<form method="post" action="/auditor/ui/holds" id="place-hold">{token}
<p><label>{_t("理由（必須）", "Reason (required)")}
<input name="reason" id="hold-reason" required></label>
<label>{_t("事件番号", "Case reference")}<input name="case_reference" id="hold-case"></label></p>
<p><label>{_t("機関の識別子", "Agency id")}<input name="agency_id" id="hold-agency"></label>
<label>{_t("開始日", "From")}<input type="date" name="from"></label>
<label>{_t("終了日", "To")}<input type="date" name="to"></label>
<label>{_t("シリアル番号（から）", "Serials from")}
<input name="serial_first" inputmode="numeric"></label>
<label>{_t("（まで）", "to")}<input name="serial_last" inputmode="numeric"></label></p>
<button type="submit" id="place-hold-button">
{_t("保全措置を設定する", "Place a legal hold")}</button>
</form>"""
    table = (
        f'<table id="holds"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )
    return table + form


def _hold_scope(form: dict[str, str]) -> HoldScopeIn:
    period: dict[str, datetime] = {}
    for key, shift in (("from", 0), ("to", 1)):
        if form.get(key):
            day = jst_day_start(date.fromisoformat(form[key]))  # a day in Japan
            period[key] = day + timedelta(days=shift)
    first, last = form.get("serial_first", "").strip(), form.get("serial_last", "").strip()
    scope = HoldScopeIn(
        agency_id=form.get("agency_id", "").strip() or None,
        serials=(int(first or last), int(last or first)) if first or last else None,
        not_before=period.get("from"),
        before=period.get("to"),
    )
    if not scope.criteria():
        raise ValueError("a hold names an agency, a period or serials")
    return scope


def auditor_ui_router(fed: Callable[[], Federation], *, test_mode: bool) -> APIRouter:
    """The dashboard's pages, and in test mode ``POST /control/auditor-keys``."""
    r = APIRouter(include_in_schema=False, route_class=AuthFirstRoute)
    box = PerFederation(fed, Dashboard)  # a /control/reset makes a new one
    bound = CertificateBinding(SESSION_SECONDS)  # a session stays on its certificate

    def current(request: Request) -> AuditorSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        return box().session(token) if bound.holds(token, request.scope) else None

    def auditor_of(s: AuditorSession) -> Agency:
        return fed().hub.agencies[s.agency_id]

    def csrf_ok(s: AuditorSession, form: dict[str, str]) -> bool:
        return hmac.compare_digest(form.get("csrf", ""), s.csrf)

    def signed_in(session: AuditorSession, request: Request) -> Response:
        bound.bind(session.token, request.scope)
        resp = RedirectResponse("/auditor/ui/dashboard", status_code=303)
        set_cookie(resp, request, SESSION_COOKIE, session.token, max_age=SESSION_SECONDS, path=UI)
        delete_cookie(resp, request, BINDING_COOKIE, path=UI)
        return resp

    @r.get("/auditor/ui")
    @r.get("/auditor/ui/")
    async def login_page(request: Request) -> Response:
        binding = secrets.token_urlsafe(24)
        cid, nonce, expires = box().challenge(binding)
        cert = ""
        if peer_certificate(request.scope):
            cert = f"""
<form method="post" action="/auditor/ui/login/certificate" id="login-certificate">
<button type="submit">{
                _t(
                    "この接続のクライアント証明書でログイン",
                    "Sign in with this connection's client certificate",
                )
            }</button>
</form>"""
        body = f"""
<p>{_t("第三者機関の署名鍵でチャレンジに署名して本人確認をします。パスワードによるログインはありません。",
       "Sign the challenge with the third-party body's signing key. "
       "There is no password login.")}</p>
<p class="note">{_t("署名鍵は画面に入力しません。"
                    "署名器が下のチャレンジ（文脈 renkei/auditor-challenge/v1）に署名します。",
                    "The key is never typed here: a signer signs the challenge below "
                    "(context renkei/auditor-challenge/v1).")}</p>
<form method="post" action="/auditor/ui/login" id="login">
<input type="hidden" name="challenge_id" value="{html.escape(cid)}">
<p>{_t("チャレンジ", "Challenge")}<code id="nonce">{base64.b64encode(nonce).decode()}</code>
 <small>({_t("有効期限", "expires")} {time_html(expires)})</small></p>
<p><label for="agency_id">{_t("機関の識別子", "Agency id")}</label>
<input id="agency_id" name="agency_id"></p>
<p><label for="signature">{_t("署名", "Signature")}</label>
<textarea id="signature" name="signature" rows="2"></textarea></p>
<button type="submit" id="login-button">
{_t("署名でログイン", "Sign in with the signature")}</button>
</form>{cert}"""  # fmt: skip
        resp = _page("監査画面へのログイン", "Sign in to the audit dashboard", body)
        set_cookie(resp, request, BINDING_COOKIE, binding, max_age=CHALLENGE_SECONDS, path=UI)
        return resp

    def failed() -> Response:
        back = f'<p><a href="/auditor/ui/">{_t("もう一度ログインする", "Sign in again")}</a></p>'
        return _page("認証に失敗しました", "Authentication failed", back, 401)

    @r.post("/auditor/ui/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        try:
            signature = base64.b64decode(form.get("signature", "").strip(), validate=True)
        except ValueError:
            return failed()
        session = box().login(
            form.get("challenge_id", ""),
            form.get("agency_id", "").strip(),
            signature,
            request.cookies.get(BINDING_COOKIE),
        )
        return signed_in(session, request) if session else failed()

    @r.post("/auditor/ui/login/certificate")
    async def login_certificate(request: Request) -> Response:
        pem = peer_certificate(request.scope)
        session = box().login_certified(certified_identity(pem) if pem else None)
        return signed_in(session, request) if session else failed()

    @r.get("/auditor/ui/dashboard")
    async def dashboard(request: Request) -> Response:
        s = current(request)
        if s is None:
            return RedirectResponse("/auditor/ui/", status_code=303)
        federation = fed()
        hub, purged, read = await run_in_threadpool(
            federation.auditor.merged, auditor_of(s), "dashboard"
        )
        shares, unavailable = read.entries, read.unavailable
        gaps = discrepancies(hub, shares, purged=purged, unavailable=unavailable)
        odd = anomalies(hub, shares, AnomalyRules(), read.denials)
        flagged = {serial for f in gaps + odd for serial in f.hub_serials}
        holds = [wire.legal_hold(h) for h in federation.hub.legal_holds()]
        queries = sum(e.get("outcome") in ("approved", "refused") for e in hub)
        summary = f"""
<table id="summary"><tbody>
<tr><th>{_t("情報連携基盤の記録", "Hub entries")}</th><td id="n-entries">{len(hub)}</td>
<th>{_t("照会", "Queries")}</th><td>{queries}</td></tr>
<tr><th>{_t("機関のログ", "Agency logs")}</th><td>{len(shares)}</td>
<th>{_t("取得できない機関", "Unavailable")}</th>
<td id="unavailable">{html.escape(", ".join(unavailable)) or "—"}</td></tr>
<tr><th>{_t("不一致", "Discrepancies")}</th><td id="n-discrepancies">{len(gaps)}</td>
<th>{_t("異常", "Anomalies")}</th><td id="n-anomalies">{len(odd)}</td></tr>
</tbody></table>
<p>{_t("ログイン中", "Signed in as")} <code>{html.escape(s.agency_id)}</code></p>"""
        charts = f"""
<h2>{_t("時間ごとの照会と拒否", "Queries and refusals per hour")}</h2>
<p class="legend"><span class="q">■ {_t("照会", "queries")}</span>
<span class="r">■ {_t("拒否", "refusals")}</span></p>
<div id="chart-hourly">{hour_chart(hourly(hub), "queries and refusals per hour")}</div>
<h2>{_t("照会元ごとの件数", "Volume per requesting agency")}</h2>
<div id="chart-requester">
{bar_chart(volume(hub, shares, "requester"), "volume per requester")}</div>
<h2>{_t("照会先ごとの件数", "Volume per providing agency")}</h2>
<div id="chart-provider">{bar_chart(volume(hub, shares, "provider"), "volume per provider")}</div>
<h2>{_t("操作者ごとの件数", "Volume per operator")}</h2>
<div id="chart-operator">{bar_chart(volume(hub, shares, "operator"), "volume per operator")}</div>
<h2>{_t("端末ごとの件数", "Volume per terminal")}</h2>
<div id="chart-terminal">
{bar_chart(volume(hub, shares, "terminal"), "volume per terminal")}</div>"""
        token = html.escape(s.csrf)
        body = (
            summary
            + "<h2>"
            + _t(
                "不一致（情報連携基盤と情報保有機関のログの突合）",
                "Discrepancies (hub and agency logs merged by ①)",
            )
            + "</h2>"
            + _findings_table("discrepancies", gaps)
            + f"<h2>{_t('異常', 'Anomalies')}</h2>"
            + _findings_table("anomalies", odd)
            + charts
            + f"<h2>{_t('保全措置', 'Legal holds')}</h2>"
            + _holds_section(holds, s.csrf)
            + f"<h2>{_t('結合したアクセスログ（新しい順）', 'Merged log (newest first)')}</h2>"
            + _merged_table(hub, shares, flagged)
            + '<form method="post" action="/auditor/ui/logout">'
            + f'<input type="hidden" name="csrf" value="{token}">'
            + f'<button type="submit">{_t("ログアウト", "Sign out")}</button></form>'
        )
        return _page("監査画面", "Audit dashboard", body)

    def refused(message_ja: str, message_en: str, status: int) -> Response:
        back = f'<p><a href="/auditor/ui/dashboard">{_t("戻る", "Back")}</a></p>'
        return _page(message_ja, message_en, back, status)

    async def checked_form(request: Request) -> tuple[AuditorSession, dict[str, str]] | Response:
        """The session and the posted form, or where to send a POST without either."""
        s = current(request)
        if s is None:
            return RedirectResponse("/auditor/ui/", status_code=303)
        form = await _form(request)
        if not csrf_ok(s, form):
            return refused("不正な要求です", "Request refused (CSRF token)", 403)
        return s, form

    @r.post("/auditor/ui/holds")
    async def place_hold(request: Request) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        s, form = checked
        try:
            reason = form.get("reason", "").strip()
            if not reason:
                raise ValueError("a reason is required")
            fed().hub.place_hold(
                auditor_of(s), reason, form.get("case_reference", "").strip() or None,
                _hold_scope(form),
            )  # fmt: skip
        except (RenkeiError, ValueError):
            return refused("保全措置を設定できません", "The hold could not be placed", 422)
        return RedirectResponse("/auditor/ui/dashboard", status_code=303)

    @r.post("/auditor/ui/holds/{hold_id}/lift")
    async def lift_hold(hold_id: str, request: Request) -> Response:
        checked = await checked_form(request)
        if isinstance(checked, Response):
            return checked
        s, _ = checked
        try:
            fed().hub.lift_hold(auditor_of(s), hold_id)
        except NotFoundError:
            return refused("その保全措置は効力を有していません", "No such hold in force", 404)
        return RedirectResponse("/auditor/ui/dashboard", status_code=303)

    @r.post("/auditor/ui/logout")
    async def logout(request: Request) -> Response:
        s = current(request)
        form = await _form(request)
        if s is not None and csrf_ok(s, form):
            box().logout(s.token)
            bound.drop(s.token)
        resp = RedirectResponse("/auditor/ui/", status_code=303)
        delete_cookie(resp, request, SESSION_COOKIE, path=UI)
        return resp

    if not test_mode:
        return r

    @authenticates  # RK-ARCH-002: before the body is read
    async def operator_only(request: Request) -> None:
        require_operator(request.scope)  # RK-CTL-007, as every control operation

    # A router of its own: the pages' router keeps them out of the OpenAPI
    # document, and a route cannot opt back in (FastAPI ands the two flags).
    control = APIRouter(
        tags=["control"], dependencies=[Depends(operator_only)], route_class=AuthFirstRoute
    )

    @control.post("/control/auditor-keys", status_code=201)
    async def auditor_key(body: AuditorKeyIn) -> dict[str, str]:
        """Test mode (RK-CTL-001): a dashboard key for an auditor; the private
        key goes to the test driver, which plays the third-party body's signer."""
        key = Ed25519PrivateKey.generate()
        box().register_key(body.agency_id, key.public_key())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        raw = key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return {
            "agency_id": body.agency_id,
            "private_key": pem.decode(),
            "key_id": hashlib.sha256(raw).hexdigest()[:16],
        }

    outer = APIRouter()
    outer.include_router(r)
    outer.include_router(control)
    return outer
