"""``renkei demo``: a narrated walk through the linkage hub, over the wire.

Runs against a fresh in-process reference federation in test mode and shows
each step of seed items 8, 13–16, 18–23: a Number is issued, two agencies bind
their records, one queries the other under a legal pattern, the answer comes
back through the hub, a query outside the pattern table is refused, the
auditor reads the access log, the person reads hers at My Portal, and the
demo ends with the auditor's report (items 23, 27): the hub's log merged by ①
with the agencies' shares, the discrepancies and the anomalies found.
"""

from __future__ import annotations

import base64
import sys
from typing import Any

__all__ = ["run_demo"]


def run_demo(*, quiet: bool = False) -> int:
    import asyncio

    return asyncio.run(_demo(quiet))


async def _demo(quiet: bool) -> int:
    import httpx

    from .services.app import create_app

    def say(text: str) -> None:
        if not quiet:
            print(text)
            sys.stdout.flush()

    steps = 9
    transport = httpx.ASGITransport(app=create_app(test_mode=True), raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://reference")

    async def call(method: str, path: str, token: str | None = None, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        resp = await client.request(method, path, json=body, headers=headers)
        if resp.status_code >= 500:
            raise RuntimeError(f"{method} {path}: HTTP {resp.status_code}")
        return resp.json() if resp.content else None

    resident = {
        "resident_code": "12345678903",
        "name": "連携 花子",
        "name_kana": "レンケイ ハナコ",
        "address": "東京都千代田区霞が関1丁目1番1号",
        "birth_date": "1980-04-01",
        "sex": "female",
    }
    say(
        f"[1/{steps}] 住基ネット: a synthetic resident is registered "
        f"(住民票コード {resident['resident_code']})"
    )
    await call("POST", "/control/residents", body={"residents": [resident]})
    tokens = (
        await call(
            "POST",
            "/control/agencies",
            body={
                "agencies": [
                    {"agency_id": "pension", "name": "日本年金機構", "role": "agency"},
                    {"agency_id": "city", "name": "千代田区", "role": "agency"},
                    {
                        "agency_id": "city-registry",
                        "name": "千代田区（付番事務）",
                        "role": "municipality",
                    },
                    {"agency_id": "auditor", "name": "個人情報保護委員会", "role": "auditor"},
                ]
            },
        )
    )["credentials"]
    await call(
        "PUT",
        "/control/patterns",
        body={
            "patterns": [
                {
                    "pattern_id": "P-001",
                    "legal_basis": "番号法 別表第二 項番（例）",
                    "purpose": "年金給付の支給に関する事務",
                    "requesters": ["pension"],
                    "providers": ["city"],
                    "information_kinds": ["local-tax"],
                }
            ]
        },
    )
    number = (
        await call(
            "POST",
            "/numbering/numbers",
            tokens["city-registry"],
            {"resident_code": resident["resident_code"]},
        )
    )["number"]
    say(
        f"[2/{steps}] 付番機関: Number {number} issued from the random conversion table "
        "(no way back to the ID code)"
    )
    four = {k: resident[k] for k in ("name", "name_kana", "address", "birth_date", "sex")}
    link_p = (
        await call(
            "POST",
            "/hub/bindings",
            tokens["pension"],
            {"records": [{"record_ref": "P-0001", **four}]},
        )
    )["results"][0]
    link_c = (
        await call(
            "POST", "/hub/bindings", tokens["city"], {"records": [{"record_ref": "C-0001", **four}]}
        )
    )["results"][0]
    say(
        f"[3/{steps}] 紐付け: both agencies matched the latest 4 items; "
        "link codes differ per agency"
    )
    say(f"        pension: {link_p['link_code'][:20]}…  city: {link_c['link_code'][:20]}…")
    q = await call(
        "POST",
        "/hub/queries",
        tokens["pension"],
        {
            "request_id": "demo-1",
            "requester": "pension",
            "provider": "city",
            "pattern_id": "P-001",
            "information_kind": "local-tax",
            "link_code": link_p["link_code"],
        },
    )
    say(
        f"[4/{steps}] 照会: pension asks city under P-001 → approved, "
        f"linkage {q['linkage_id'][:8]}…"
    )
    delivery = (await call("GET", "/hub/deliveries", tokens["city"]))["deliveries"][0]
    same = delivery["link_code"] == link_c["link_code"]
    say(
        "        city pulls the delivery with its own link code "
        f"({'matches' if same else 'DIFFERS'})"
    )
    answer = base64.b64encode("令和6年度 課税所得 3,200,000円（例）".encode()).decode()
    await call(
        "POST", f"/hub/linkages/{q['linkage_id']}/answer", tokens["city"], {"payload": answer}
    )
    got = await call("GET", f"/hub/linkages/{q['linkage_id']}", tokens["pension"])
    text = base64.b64decode(got["answer"]["payload"]).decode()
    await call("DELETE", f"/hub/linkages/{q['linkage_id']}/answer", tokens["pension"])
    say(f"[5/{steps}] 回答: relayed through the hub, acknowledged, not kept there: {text}")
    refused = await call(
        "POST",
        "/hub/queries",
        tokens["city"],
        {
            "request_id": "demo-2",
            "requester": "city",
            "provider": "pension",
            "pattern_id": "P-001",
            "information_kind": "local-tax",
            "link_code": link_c["link_code"],
        },
    )
    problem = refused
    say(
        f"[6/{steps}] 拒否: city → pension is not in the table: HTTP {problem['status']} "
        f"{problem['type']} ({problem.get('requirement')})"
    )
    log = (await call("GET", "/auditor/access-logs", tokens["auditor"]))["entries"]
    say(f"[7/{steps}] 第三者機関: the access log holds {len(log)} entries")
    for e in log:
        say(
            f"        ①{e['serial']} ②{e['at'][:19]} ③{e['pattern_id']} ④{e['requester']} "
            f"⑤{e['provider']} ⑥{e['information_kind']} → {e['outcome']}"
        )
    # Step 8: the person, at My Portal, with the (simulated) IC card (items 26, 31).
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    card = await call("POST", "/control/cards", body={"resident_code": resident["resident_code"]})
    card_key = load_pem_private_key(card["private_key"].encode(), None)
    challenge = await call("POST", "/portal/challenges")
    message = b"renkei/portal-challenge/v1\x00" + base64.b64decode(challenge["nonce"])
    if not isinstance(card_key, Ed25519PrivateKey):
        raise RuntimeError("the simulated card key is Ed25519")
    signature = card_key.sign(message)  # the card signs inside itself
    session = await call(
        "POST",
        "/portal/sessions",
        body={
            "challenge_id": challenge["challenge_id"],
            "certificate": card["certificate"],
            "signature": base64.b64encode(signature).decode(),
        },
    )
    person = session["session_token"]
    application = await call("POST", "/portal/applications", person, {})
    own = (
        await call(
            "GET", f"/portal/access-logs?application_id={application['application_id']}", person
        )
    )["entries"]
    say(
        f"[8/{steps}] マイポータル: the person signs in with the card (no password, no Number), "
        f"applies, and sees {len(own)} entries about herself"
    )
    for e in own:
        say(f"        ①{e['serial']} ④{e['requester']} ⑤{e['provider']} → {e['outcome']}")
    portal_ok = len(own) == 2 and all(e["requester"] == "日本年金機構" for e in own)
    findings = await _audit_report(call, say, tokens["auditor"], log, steps)
    ok = same and text.startswith("令和6年度") and problem["status"] == 403 and len(log) == 3
    ok = ok and portal_ok and findings
    print("demo: OK" if ok else "demo: FAILED — the reference did not behave as specified")
    return 0 if ok else 1


async def _audit_report(call: Any, say: Any, auditor: str, log: list[Any], steps: int) -> bool:
    """Step 9: the agencies' shares (⑦–⑫) meet the hub's log (items 23, 24, 27).

    The pension's node recorded its query faithfully; the city's node recorded its
    refused query but lost the entry of the answer it gave.  The auditor's report
    names that gap and the query outside the designation."""
    by_outcome = {e["outcome"]: e for e in log}
    approved, refused = by_outcome["approved"], by_outcome["refused"]

    def share(e: Any, side: str, **kw: Any) -> dict[str, Any]:
        return {"hub_serial": e["serial"], "linkage_id": e["linkage_id"], "side": side,
                "at": e["at"], "requester": e["requester_id"], "provider": e["provider_id"],
                "pattern_id": e["pattern_id"], "information_kind": e["information_kind"],
                "outcome": e["outcome"], **kw}  # fmt: skip

    await call("POST", "/control/agency-log-entries", body={"agency_id": "pension", "entries": [
        share(approved, "requester", operator="年金給付課 担当A", terminal="nenkin-017",
              use="年金額の決定"),
    ]})  # fmt: skip
    await call("POST", "/control/agency-log-entries", body={"agency_id": "city", "entries": [
        share(refused, "requester", operator="税務課 担当B", terminal="chiyoda-tax-003",
              reason=refused["reason"]),
    ]})  # fmt: skip
    gaps = (await call("GET", "/auditor/discrepancies", auditor))["discrepancies"]
    odd = (await call("GET", "/auditor/anomalies", auditor))["anomalies"]
    say(
        f"[9/{steps}] 監査: hub log merged by ① with both agencies' shares (⑦–⑫) — "
        f"{len(gaps)} discrepancies, {len(odd)} anomalies"
    )
    for f in gaps + odd:
        say(f"        {f['kind']}: {f['detail']} (① {f['hub_serials']})")
    kinds = {f["kind"] for f in gaps} | {f["kind"] for f in odd}
    return {"provider-entry-missing", "outside-designation"} <= kinds
