"""My Portal on the wire (``/portal``), its web pages and its test-mode control.

Three routers, mounted by ``app.create_app``:

* ``/portal/*`` — the JSON wire operations of tag ``my-portal`` in
  specs/openapi/renkei.yaml (RK-PORT-001..005, RK-AUTH-001..003);
* ``/portal/ui/*`` — the server-rendered web application, Japanese first and
  English second on every page (RK-PORT-006); not part of the wire protocol
  (``include_in_schema=False``);
* ``/control/cards`` and friends — test-mode only: issue and revoke simulated
  IC cards and record agency-held ⑪/⑫ (RK-CTL-001).

No password field exists anywhere (RK-AUTH-003): the only way in is the
card's signature over a fresh challenge.  In the browser the card reader is
simulated: the login page shows the challenge, and the card (a software key
held by the test driver — the Playwright test, or a person pasting the output
of a local signer) supplies the certificate and the signature.
"""

from __future__ import annotations

import base64
import html
import secrets
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Generic, Literal, TypeVar
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Header, Query, Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, RedirectResponse, Response

from ...core.codes import ResidentCode
from ...core.display import jst_day_start, kind_names
from ...core.errors import CallerError, PermissionDeniedError, RenkeiError, UnauthenticatedError
from ..federation import Agency, Federation
from ..web.auth_first import AuthFirstRoute, authenticates
from ..web.models import Ident, Int, Text, Timestamp
from ..web.page import CertificateBinding, secure_page, time_html
from ..web.tls import delete_cookie, set_cookie
from .port import InProcessHubPort
from .portal import SESSION_SECONDS, AgencyNodeDirectory, Portal, PortalSession

__all__ = ["PerFederation", "PortalBox", "control_router", "portal_router", "ui_router"]

T = TypeVar("T")

SESSION_COOKIE = "renkei_portal"
BINDING_COOKIE = "renkei_portal_pre"
UI = "/portal/ui"  # the cookies' path
B64 = Annotated[str, StringConstraints(min_length=1, max_length=16_384)]
CARD_EARLIEST = datetime(1950, 1, 1, tzinfo=UTC)  # the earliest X.509 validity (RFC 5280)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SessionIn(_Strict):
    challenge_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    certificate: B64
    signature: B64
    channel: Literal["internet", "kiosk", "counter"] = "internet"
    counter_operator: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None


class PeriodIn(_Strict):
    from_: Annotated[Timestamp | None, Field(alias="from")] = None
    to: Timestamp | None = None
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ApplicationIn(_Strict):
    period: PeriodIn | None = None
    information_kinds: Annotated[list[Text], Field(max_length=100)] = []


class AgencyApplicationIn(_Strict):
    agency_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    serials: Annotated[list[Annotated[Int, Field(ge=1)]], Field(min_length=1, max_length=1000)]
    items: Annotated[list[Literal["content", "use"]], Field(min_length=1, max_length=2)]


class CardIn(_Strict):
    resident_code: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    not_before: Timestamp | None = None
    not_after: Timestamp | None = None


class CardRevocationIn(_Strict):
    serial: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,64}$")]


class AgencyItemIn(_Strict):
    agency_id: Ident
    linkage_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    side: Literal["requester", "provider"]
    text: Text
    withheld: Annotated[bool, Field(strict=True)] = False


def _b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise CallerError("validation-error", "not strict base64", "RK-WIRE-001") from exc


def _bearer(authorization: str | None) -> str | None:
    if authorization and authorization.lower().startswith("bearer "):
        return authorization[7:].strip()
    return None


def _utc(t: datetime | None) -> datetime | None:
    try:
        return t.astimezone(UTC) if t else None
    except OverflowError as exc:  # e.g. 0001-01-01T00:00:00+09:00: no year 0
        raise CallerError("validation-error", f"{t} has no UTC instant", "RK-WIRE-001") from exc


class PerFederation(Generic[T]):
    """One ``T`` per Federation, made anew when a ``/control/reset`` replaces it."""

    def __init__(self, fed: Callable[[], Federation], make: Callable[[Federation], T]) -> None:
        self._fed = fed
        self._make = make
        self._slot: tuple[Federation, T] | None = None

    def __call__(self) -> T:
        fed = self._fed()
        if self._slot is None or self._slot[0] is not fed:
            self._slot = (fed, self._make(fed))
        return self._slot[1]


class PortalBox(PerFederation[Portal]):
    """One Portal per Federation (a ``/control/reset`` makes both anew); the agency
    nodes it reaches (``nodes``) belong to the deployment and outlive a reset."""

    def __init__(
        self, fed: Callable[[], Federation], nodes: AgencyNodeDirectory | None = None
    ) -> None:
        self.nodes = nodes or AgencyNodeDirectory()
        super().__init__(fed, lambda f: Portal(InProcessHubPort(f.hub), f.clock, nodes=self.nodes))


def _session_view(s: PortalSession) -> dict[str, Any]:
    out: dict[str, Any] = {
        "session_token": s.token,
        "expires_at": s.expires_at.isoformat(),
        "channel": s.channel,
    }
    if s.counter_agency:
        out["counter_agency"] = s.counter_agency
    return out


def _login(
    portal: Portal,
    body: SessionIn,
    counter: Agency | None,
    binding: str | None = None,
) -> PortalSession:
    """A session for the card's holder; in counter mode ``counter`` is the
    caller authenticated as any caller is (the connection's certificate decides
    over mutual TLS), None when no caller could be authenticated."""
    if body.channel == "counter":
        # RK-PORT-005: the counter terminal authenticates as its municipality.
        if counter is None:
            raise UnauthenticatedError(
                "unauthenticated", "counter mode needs the municipality's credential", "RK-PORT-005"
            )
        if counter.role != "municipality":
            raise PermissionDeniedError(
                "forbidden-role",
                "only a municipality's counter may use counter mode",
                "RK-PORT-005",
            )
        if body.counter_operator is None:
            raise CallerError(
                "validation-error", "counter mode names the counter_operator", "RK-PORT-005"
            )
    elif body.counter_operator is not None:
        raise CallerError("validation-error", "counter_operator is for counter mode", "RK-PORT-005")
    try:
        cert, signature = _b64(body.certificate), _b64(body.signature)
    except RenkeiError:
        cert, signature = b"", b""  # still one opaque 401 below, never a hint
    return portal.login(
        body.challenge_id,
        cert,
        signature,
        channel=body.channel,
        binding=binding,
        counter=counter,
        counter_operator=body.counter_operator,
    )


Caller = Callable[[Request], Awaitable[Agency]]
"""The app's authentication of a caller from its request (certificate, Authorization)."""


def portal_router(fed: Callable[[], Federation], portal: PortalBox, caller: Caller) -> APIRouter:
    """The wire operations of tag my-portal; a counter terminal is authenticated
    by ``caller`` like every other caller (RK-ARCH-003, RK-PORT-005)."""
    r = APIRouter(prefix="/portal", tags=["my-portal"], route_class=AuthFirstRoute)

    def session(authorization: str | None) -> PortalSession:
        return portal().session(_bearer(authorization))

    @authenticates  # RK-ARCH-002: the person's session (401) before the body is judged
    async def person(request: Request) -> PortalSession:
        return session(request.headers.get("authorization"))

    a_person = [Depends(person)]

    @r.post("/challenges", status_code=201)
    async def create_challenge() -> dict[str, str]:
        cid, nonce, expires = portal().challenge()
        return {
            "challenge_id": cid,
            "nonce": base64.b64encode(nonce).decode(),
            "expires_at": expires.isoformat(),
        }

    @r.post("/sessions", status_code=201)
    async def create_session(request: Request, body: SessionIn) -> dict[str, Any]:
        counter = await caller(request) if body.channel == "counter" else None
        return _session_view(_login(portal(), body, counter))

    @r.post("/applications", status_code=201, dependencies=a_person)
    async def apply(
        body: ApplicationIn, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        s = session(authorization)
        period = body.period or PeriodIn()
        return portal().apply(s, _utc(period.from_), _utc(period.to), list(body.information_kinds))

    @r.get("/access-logs", dependencies=a_person)
    async def access_logs(
        application_id: Annotated[str, Query(min_length=1, max_length=128)],
        authorization: Annotated[str | None, Header()] = None,
        after: Annotated[int, Query(ge=0)] = 0,
        limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
    ) -> dict[str, Any]:
        # off the event loop: ⑪/⑫ may be fetched from agency nodes it also serves
        return await run_in_threadpool(
            portal().access_logs, session(authorization), application_id, after, limit
        )

    @r.post("/agency-applications", status_code=202, dependencies=a_person)
    async def agency_application(
        body: AgencyApplicationIn, authorization: Annotated[str | None, Header()] = None
    ) -> dict[str, Any]:
        s = session(authorization)
        if len(set(body.items)) != len(body.items) or len(set(body.serials)) != len(body.serials):
            raise CallerError("validation-error", "items and serials are sets", "RK-WIRE-001")
        return await run_in_threadpool(
            portal().apply_to_agency, s, body.agency_id, list(body.serials), list(body.items)
        )

    @r.get("/usage", dependencies=a_person)
    async def usage(authorization: Annotated[str | None, Header()] = None) -> dict[str, Any]:
        return {"records": portal().usage(session(authorization))}

    return r


def control_router(fed: Callable[[], Federation], portal: PortalBox) -> APIRouter:
    """Test-mode control for My Portal (RK-CTL-001): simulated cards, agency ⑪/⑫."""
    r = APIRouter(prefix="/control", tags=["control"], route_class=AuthFirstRoute)

    @r.post("/cards", status_code=201)
    async def issue_card(body: CardIn) -> dict[str, Any]:
        p, federation = portal(), fed()
        code = ResidentCode(body.resident_code)
        items = federation.registry.latest(code)  # unknown → 404 unknown-resident
        now = federation.clock.now()
        not_before = _utc(body.not_before) or now - timedelta(minutes=5)
        not_after = _utc(body.not_after) or now + timedelta(days=365 * 5)
        if not CARD_EARLIEST <= not_before < not_after:
            raise CallerError(
                "validation-error",
                "a card is valid from 1950 on (X.509 validity), and not_after follows "
                f"not_before; got {not_before.isoformat()} to {not_after.isoformat()}",
                "RK-AUTH-001",
            )
        card = p.cards.issue(items, not_before, not_after)
        return {
            "serial": str(card.serial),
            "certificate": base64.b64encode(card.certificate_der).decode(),
            "private_key": card.private_key_pem().decode(),
            "ca_certificate": base64.b64encode(p.cards.certificate.public_bytes(_der())).decode(),
        }

    @r.post("/cards/revocations", status_code=204)
    async def revoke_card(body: CardRevocationIn) -> Response:
        portal().cards.revoke(int(body.serial))
        return Response(status_code=204)

    @r.post("/agency-log-items", status_code=204)
    async def agency_items(body: AgencyItemIn) -> Response:
        portal().disclosures.record(
            body.agency_id, body.linkage_id, body.side, body.text, body.withheld
        )
        return Response(status_code=204)

    return r


def _der() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


# ---------------------------------------------------------------------------
# The web application (RK-PORT-006: Japanese first, English second)
# ---------------------------------------------------------------------------

FIELD_LABELS: list[tuple[str, str, str]] = [
    ("serial", "① 管理用のシリアル番号", "Serial number"),
    ("at", "② 照会等のアクセスを行った日時", "Date and time of the access (JST)"),
    ("legal_basis", "③ 情報連携の根拠", "Legal basis (pattern)"),
    ("requester", "④ 照会元情報保有機関の名称", "Requesting agency"),
    ("provider", "⑤ 照会先情報保有機関の名称", "Providing agency"),
    ("information_kind", "⑥ 情報連携対象個人情報の種類", "Kind of information"),
    ("outcome", "結果", "Outcome"),
    ("agency_items", "⑪ 提供された内容 ／ ⑫ 用途", "Content provided / use"),
]
OUTCOMES = {
    "approved": ("承認", "approved"),
    "provided": ("提供済み", "provided"),
    "expired": ("期限切れ", "expired"),
    "refused": ("拒否", "refused"),
}
ACTIONS = {
    "login": ("ログイン", "login"),
    "application": ("閲覧の申請", "application to view"),
    "access-logs": ("アクセスログの閲覧", "access logs viewed"),
    "agency-application": ("機関への開示申請", "application to an agency"),
}
JST_NOTE = "Times are shown in Japan Standard Time (JST, UTC+9)."
CHANNELS = {
    "internet": ("インターネット", "internet"),
    "kiosk": ("キオスク端末", "kiosk"),
    "counter": ("窓口", "counter"),
}

_PAGE = """<!DOCTYPE html>
<html lang="ja">
<head><meta charset="utf-8"><title>{title_ja} ／ {title_en} — マイポータル</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style nonce="{nonce}">
body{{font-family:"Noto Sans CJK JP","Noto Sans JP","IPAPGothic",sans-serif;margin:2em;color:#222;
max-width:70em}}
h1{{font-size:1.5em;border-bottom:3px solid #0b5;padding-bottom:.2em}}
.en{{color:#666;font-size:.85em;display:block}}
table{{border-collapse:collapse;margin:1em 0}}
th,td{{border:1px solid #aaa;padding:.3em .6em;text-align:left;vertical-align:top}}
th{{background:#eef7f0}} .counter{{color:#a40;font-weight:bold}}
textarea{{width:100%;font-family:monospace}} .note{{background:#fffbe6;padding:.5em}}
time{{white-space:nowrap}}
</style></head>
<body><header><strong>マイポータル</strong>
<span class="en">My Portal (renkei reference)</span></header>
<h1 lang="ja">{title_ja}<span class="en" lang="en">{title_en}</span></h1>
{body}
</body></html>"""


def _t(ja: str, en: str) -> str:
    """One label, Japanese first (authoritative), English second."""
    return (
        f'<span lang="ja">{html.escape(ja)}</span>'
        f'<span class="en" lang="en">{html.escape(en)}</span>'
    )


def _page(title_ja: str, title_en: str, body: str, status: int = 200) -> HTMLResponse:
    """A page with the web applications' security headers (strict CSP, nonce'd style)."""
    return secure_page(
        lambda nonce: _PAGE.format(
            title_ja=html.escape(title_ja), title_en=html.escape(title_en), body=body, nonce=nonce
        ),
        status,
    )


async def _form(request: Request) -> dict[str, str]:
    raw = (await request.body()).decode("utf-8", errors="replace")
    return {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}


def _entries_table(entries: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{_t(ja, en)}</th>" for _, ja, en in FIELD_LABELS)
    rows = []
    for e in entries:
        cells = []
        for key, _, _ in FIELD_LABELS:
            value = e.get(key)
            if key == "outcome":
                ja, en = OUTCOMES.get(str(value), (str(value), str(value)))
                cells.append(f"<td>{_t(ja, en)}</td>")
            elif key == "agency_items":
                parts = []
                for item in value or []:
                    if item.get("withheld"):
                        text = "非開示 (withheld)"
                    else:
                        text = item.get("content") or item.get("use") or ""
                    parts.append(f"{html.escape(str(item.get('agency')))}: {html.escape(text)}")
                cells.append(f"<td>{'<br>'.join(parts)}</td>")
            elif key == "legal_basis":
                text = f"{value or ''}（{e.get('pattern_id')}）"
                cells.append(f"<td>{html.escape(text)}</td>")
            elif key == "at":
                cells.append(f"<td>{time_html(value)}</td>")
            elif key == "information_kind":
                cells.append(f"<td>{_t(*kind_names(str(value)))}</td>")
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        rows.append(f'<tr class="entry" data-serial="{e["serial"]}">{"".join(cells)}</tr>')
    if not rows:
        colspan = len(FIELD_LABELS)
        msg = _t("該当する記録はありません。", "No entries.")
        rows.append(f'<tr><td colspan="{colspan}">{msg}</td></tr>')
    return (
        f'<table id="entries"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _usage_table(records: list[dict[str, Any]]) -> str:
    rows = []
    for r in records:
        ja, en = ACTIONS.get(r["action"], (r["action"], r["action"]))
        cja, cen = CHANNELS.get(r["channel"], (r["channel"], r["channel"]))
        who = ""
        if r["channel"] == "counter":
            who = (
                f'<span class="counter">{html.escape(str(r["counter_agency_name"]))} '
                f"{html.escape(str(r['counter_operator']))}</span>"
            )
        rows.append(
            f"<tr><td>{time_html(r['at'])}</td><td>{_t(ja, en)}</td>"
            f"<td>{_t(cja, cen)}</td><td>{who}</td></tr>"
        )
    head = (
        f"<tr><th>{_t('日時（日本時間）', 'Time (JST)')}</th><th>{_t('操作', 'Action')}</th>"
        f"<th>{_t('利用方法', 'Channel')}</th><th>{_t('窓口・担当者', 'Counter / staff')}</th></tr>"
    )
    return f'<table id="usage"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def ui_router(fed: Callable[[], Federation], portal: PortalBox) -> APIRouter:
    """The browser pages (RK-PORT-006).  Session in an HttpOnly, SameSite=Strict cookie."""
    r = APIRouter(prefix="/portal/ui", include_in_schema=False, route_class=AuthFirstRoute)
    bound = CertificateBinding(SESSION_SECONDS)  # a session stays on its certificate

    def current(request: Request) -> PortalSession | None:
        token = request.cookies.get(SESSION_COOKIE)
        if not bound.holds(token, request.scope):
            return None
        try:
            return portal().session(token)
        except RenkeiError:
            return None

    @r.get("")
    @r.get("/")
    async def login_page(request: Request) -> Response:
        # RK-AUTH-002: the challenge is bound to this browser's pre-session cookie.
        binding = secrets.token_urlsafe(24)
        cid, nonce, expires = portal().challenge(binding)
        nonce_b64 = base64.b64encode(nonce).decode()
        body = f"""
<p>{
            _t(
                "ＩＣカードで本人確認をします。パスワードによるログインはありません。",
                "Sign in with your IC card. There is no password login.",
            )
        }</p>
<p class="note">{
            _t(
                "この試験環境ではカードリーダーを模擬しています。カードの秘密鍵は画面に入力せず、"
                "カード（試験用の署名器）が下のチャレンジに署名します。",
                "This test deployment simulates the card reader: the card's private key "
                "is never typed here; the card (a test signer) signs the challenge below.",
            )
        }</p>
<form method="post" action="/portal/ui/login" id="login">
<input type="hidden" name="challenge_id" value="{html.escape(cid)}">
<p>{_t("チャレンジ", "Challenge")}<code id="nonce">{html.escape(nonce_b64)}</code>
 <small>({_t("有効期限", "expires")} {time_html(expires)})</small></p>
<p><label for="certificate">{_t("カードの証明書", "Card certificate")}</label>
<textarea id="certificate" name="certificate" rows="4"></textarea></p>
<p><label for="signature">{_t("カードの署名", "Card signature")}</label>
<textarea id="signature" name="signature" rows="2"></textarea></p>
<button type="submit" id="login-button">{_t("カードでログイン", "Sign in with card")}</button>
</form>"""
        resp = _page("ログイン", "Sign in", body)
        set_cookie(resp, request, BINDING_COOKIE, binding, max_age=300, path=UI)
        return resp

    @r.post("/login")
    async def login(request: Request) -> Response:
        form = await _form(request)
        try:
            body = SessionIn(
                challenge_id=form.get("challenge_id", "") or "-",
                certificate=form.get("certificate", "").strip() or "-",
                signature=form.get("signature", "").strip() or "-",
            )
            session = _login(portal(), body, None, request.cookies.get(BINDING_COOKIE))
        except (RenkeiError, ValueError):
            back = f'<p><a href="/portal/ui/">{_t("もう一度ログインする", "Sign in again")}</a></p>'
            return _page("カード認証に失敗しました", "Card authentication failed", back, 401)
        bound.bind(session.token, request.scope)
        resp = RedirectResponse("/portal/ui/logs", status_code=303)
        set_cookie(resp, request, SESSION_COOKIE, session.token, max_age=SESSION_SECONDS, path=UI)
        delete_cookie(resp, request, BINDING_COOKIE, path=UI)
        return resp

    @r.get("/logs")
    async def logs_page(request: Request, application_id: str | None = None) -> Response:
        s = current(request)
        if s is None:
            return RedirectResponse("/portal/ui/", status_code=303)
        p = portal()
        apply_form = f"""
<form method="post" action="/portal/ui/applications" id="apply">
<p>{
            _t(
                "アクセスログの閲覧を申請します（期間を指定できます）。",
                "Apply to view your access log (you may limit the period).",
            )
        }</p>
<label>{_t("開始日", "From")}<input type="date" name="from"></label>
<label>{_t("終了日", "To")}<input type="date" name="to"></label>
<button type="submit" id="apply-button">{_t("閲覧を申請する", "Apply to view")}</button>
</form>"""
        section = ""
        if application_id:
            try:
                page = await run_in_threadpool(p.access_logs, s, application_id, 0, 10_000)
                section = (
                    "<h2>"
                    + _t(
                        "あなたのアクセスログ（情報連携基盤が保有するもの）",
                        "Your access log (held by the hub)",
                    )
                    + "</h2>"
                    + _entries_table(page["entries"])
                    + f'<p class="note">{_t("日時は日本時間で表示しています。", JST_NOTE)}</p>'
                )
            except RenkeiError:
                section = f"<p>{_t('申請が必要です。', 'An application is required.')}</p>"
        usage = f"<h2>{_t('マイポータルの利用記録', 'Your use of My Portal')}</h2>" + _usage_table(
            p.usage(s)
        )
        logout = (
            '<form method="post" action="/portal/ui/logout">'
            f'<button type="submit">{_t("ログアウト", "Sign out")}</button></form>'
        )
        return _page("アクセスログの確認", "Your access log", apply_form + section + usage + logout)

    @r.post("/applications")
    async def apply_page(request: Request) -> Response:
        s = current(request)
        if s is None:
            return RedirectResponse("/portal/ui/", status_code=303)
        form = await _form(request)
        try:
            start = form.get("from") or None
            end = form.get("to") or None
            app = portal().apply(
                s,
                # the days a person enters are days in Japan (RK-PORT-006)
                jst_day_start(date.fromisoformat(start)) if start else None,
                jst_day_start(date.fromisoformat(end)) + timedelta(days=1) if end else None,
                [],
            )
        except (RenkeiError, ValueError):
            return RedirectResponse("/portal/ui/logs", status_code=303)
        return RedirectResponse(
            f"/portal/ui/logs?application_id={quote(app['application_id'])}", status_code=303
        )

    @r.post("/logout")
    async def logout(request: Request) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token and bound.holds(token, request.scope):
            portal().logout(token)
            bound.drop(token)
        resp = RedirectResponse("/portal/ui/", status_code=303)
        delete_cookie(resp, request, SESSION_COOKIE, path=UI)
        return resp

    return r
