"""The canary sweep: every response searched for the secrets its receiver may not hold.

The kit knows every secret of its world because the world told it, on the
wire: residents' codes (loaded through the control interface), ID codes (the
control interface's test-mode disclosure, RK-CTL-003), each agency's link codes
(its binding and delivery responses), answer payloads (the provider's answer
requests), Numbers (the numbering authority's responses) and key material (the
root secret the kit supplies at reset and the code keys derived from it, the
private key of each simulated IC card, ``POST /control/cards``).  ``Sweep``
learns them from a list of exchanges, in order, with the party each was
disclosed to, then searches every header and body of every response for each
secret its receiver is not entitled to (RK-KEY-001, RK-IDC-001, RK-FLOW-001,
RK-LNK-002, RK-FLOW-002), in every encoding it could travel in: as sent, hex
(lower and upper case), base64 and base64url with and without padding, the
decimal integer of its bytes, and inside any base64 value of the response that
decodes to text.

A form found inside a longer run of letters and digits counts only if a chance
match there is negligible: its length times the bits per character of that run
(10 symbols for a run of digits, 16 for hex, 62 otherwise) reaches
``CHANCE_BITS``.  A shorter form — the hex of an 11-digit resident code is 36
bits — counts only where it stands as its own run, bordered by anything but a
letter or a digit: a random 32-hex-digit linkage id contains one given 9-digit
hex string with probability 2^-32, and a run of the kit searches ~10^4
responses for ~10^4 secrets, so a substring rule there would report leaks that
are not.

False-alarm bound of one sweep (a correct implementation reported by chance).
Inside a longer run: each (position searched, form) pair matches by chance with
probability at most 2^-64; a full kit run searches ~10^7 characters for ~5·10^5
forms, 2^42 pairs, so below 2^-22 ≈ 2.4e-7.  As its own run: a short form (the
9 hex digits of a resident code, the 11 or 12 digits of a resident code or a
Number) meets by chance only a value of exactly its length and alphabet that the
implementation shows a party on its own, with probability symbols^-length per
(value, form): 10^-12 × ~1.2·10^4 Numbers ≈ 1.2e-8 per random 12-digit value
shown.  The reference shows none (its identifiers are 32 hex digits, its serials
short integers); an implementation that shows ~100 random 12-digit or 9-hex-digit
identifiers per run stays below 1e-6, one that shows 10^4 of them does not — such
a finding names the form and the value, for the vendor to tell.

Entitlement: the conformance operator (``/control``) may hold everything but
key material; an agency its own unit's link codes and the payloads of its own
linkages; the requester and provider of a linkage its payload; the numbering
authority's callers Numbers and resident codes; a person (``/portal``) the
payloads, Numbers and resident codes of the world (the kit does not tell
persons apart); key material nobody but the response that issued it.  A value
the request itself carried is an echo, not a leak.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .client import Exchange

__all__ = ["Leak", "Secret", "Sweep", "encodings_of"]

KINDS = ("key", "id-code", "link-code", "payload", "number", "resident-code")
_MIN_FORM = 8  # shorter forms would match by chance
CHANCE_BITS = 64  # a form this unlikely to occur by chance may match inside a longer run
_HEX = frozenset("0123456789abcdefABCDEF")
_B64_TOKEN = re.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")


@dataclass(frozen=True)
class Secret:
    kind: str
    value: str
    forms: frozenset[str]
    owners: frozenset[str] = frozenset()  # parties entitled besides the issuing exchange
    source: int = -1  # the exchange that disclosed it


@dataclass(frozen=True)
class Leak:
    secret: Secret
    party: str
    where: str  # METHOD path → status, header NAME or body
    form: str

    def __str__(self) -> str:
        shown = self.secret.value[:12] + ("…" if len(self.secret.value) > 12 else "")
        return (
            f"{self.where}: a {self.secret.kind} ({shown}) reached {self.party}, "
            f"who is not entitled to it (as {self.form[:16]}…)"
        )


def encodings_of(raw: bytes, text: str | None = None) -> frozenset[str]:
    """The forms ``raw`` could travel in: hex, base64, base64url, decimal, text."""
    b64 = base64.b64encode(raw).decode()
    url = base64.urlsafe_b64encode(raw).decode()
    forms = {raw.hex(), raw.hex().upper(), b64, b64.rstrip("="), url, url.rstrip("=")}
    if len(raw) <= 64:
        forms.add(str(int.from_bytes(raw, "big")))
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        decoded = ""
    if decoded.isprintable():
        forms.add(decoded)
    if text is not None:
        forms.add(text)
    return frozenset(f for f in forms if len(f) >= _MIN_FORM)


def _digit_forms(digits: str) -> frozenset[str]:
    """A Number or resident code: as digits, base64 of its text, hex of its integer."""
    forms = set(encodings_of(digits.encode(), digits))
    forms |= {format(int(digits), "x"), format(int(digits), "X")}
    return frozenset(f for f in forms if len(f) >= _MIN_FORM)


def _b64(text: str) -> bytes | None:
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError):
        return None


def _json(text: str) -> Any:
    try:
        return json.loads(text.split("\n", 1)[1]) if "\n" in text else None
    except ValueError:
        return None


@dataclass
class Sweep:
    """Learns the secrets of a run from its exchanges and finds their leaks."""

    secrets: dict[str, Secret] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # credential → agency id
    units: dict[str, str] = field(default_factory=dict)  # agency id → link-code unit
    roles: dict[str, str] = field(default_factory=dict)  # agency id → role
    parties: dict[str, set[str]] = field(default_factory=dict)  # linkage → its agencies
    _index: _Index | None = None

    def run(self, exchanges: list[Exchange]) -> list[Leak]:
        for i, ex in enumerate(exchanges):
            self.learn(i, ex)
        return [leak for i, ex in enumerate(exchanges) for leak in self.check(i, ex)]

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(KINDS, 0)
        for s in self.secrets.values():
            out[s.kind] += 1
        return out

    # -- who receives a response ---------------------------------------------
    def party(self, ex: Exchange) -> str:
        if ex.path.startswith("/control"):  # a node's own control interface too
            return "operator"
        if ex.node is not None:
            return f"agency:{ex.node}"
        agency = self.tokens.get(ex.token or "")
        if agency is not None:
            return f"agency:{agency}"
        if ex.path.startswith("/portal"):
            return "person"
        return "anonymous"

    def entitled(self, secret: Secret, party: str, ex: Exchange) -> bool:
        if secret.kind == "key":
            return False
        if party == "operator" or party in secret.owners:
            return True
        if secret.kind == "link-code":
            unit = self.units.get(party.removeprefix("agency:"))
            return unit is not None and f"unit:{unit}" in secret.owners
        if secret.kind == "payload":
            return party == "person"
        if secret.kind in ("number", "resident-code"):
            return party == "person" or ex.path.startswith(("/numbering", "/registry"))
        return False

    # -- learning --------------------------------------------------------------
    def _add(self, secret: Secret) -> None:
        if secret.forms and secret.value not in self.secrets:
            self.secrets[secret.value] = secret

    def learn(self, index: int, ex: Exchange) -> None:
        reply, path = ex.reply, ex.path
        body = reply.body if isinstance(reply.body, dict) else {}
        sent = _json(ex.sent)
        caller = self.tokens.get(ex.token or "") or ex.node
        if path == "/control/agencies" and isinstance(sent, dict):
            for a in sent.get("agencies") or []:
                if isinstance(a, dict) and isinstance(a.get("agency_id"), str):
                    aid = a["agency_id"]
                    self.units[aid] = str(a.get("link_code_unit") or aid)
                    self.roles[aid] = str(a.get("role") or "agency")
            for aid, token in (body.get("credentials") or {}).items():
                self.tokens[str(token)] = str(aid)
        elif path == "/control/reset" and isinstance(sent, dict) and reply.ok:
            self._learn_root(index, str(sent.get("root_secret", "")))
        elif path == "/control/residents" and isinstance(sent, dict):
            for r in sent.get("residents") or []:
                code = str(r.get("resident_code", "")) if isinstance(r, dict) else ""
                if code.isdigit():
                    self._add(Secret("resident-code", code, _digit_forms(code), source=index))
        elif path == "/control/id-codes" and reply.ok:
            for code in (body.get("id_codes") or {}).values():
                raw = bytes.fromhex(str(code))
                self._add(Secret("id-code", str(code), encodings_of(raw, str(code)), source=index))
        elif path == "/control/cards" and reply.ok and "private_key" in body:
            self._learn_key(index, str(body["private_key"]))
        elif path.startswith("/numbering") and reply.ok:
            for key in ("number", "previous_number"):
                value = str(body.get(key) or "")
                if value.isdigit():
                    self._add(Secret("number", value, _digit_forms(value), source=index))
        elif caller is not None:
            self._learn_hub(index, ex, caller, body, sent)

    def _learn_root(self, index: int, root_b64: str) -> None:
        """The root secret the kit supplied at reset and the code keys derived
        from it (RK-IDC-002: HKDF-SHA256, info ``renkei/<purpose>/v1``, 64 bytes),
        each whole and as its two AES-SIV halves."""
        root = _b64(root_b64)
        if root is None or len(root) < 32:
            return
        self._add(Secret("key", root.hex(), encodings_of(root, root_b64), source=index))
        for purpose in ("id-code", "link-code"):
            key = HKDF(
                algorithm=hashes.SHA256(),
                length=64,
                salt=None,
                info=f"renkei/{purpose}/v1".encode(),
            ).derive(root)
            for part in (key, key[:32], key[32:]):
                self._add(Secret("key", part.hex(), encodings_of(part), source=index))

    def _learn_key(self, index: int, pem: str) -> None:
        key = serialization.load_pem_private_key(pem.encode(), None)
        raw = key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        der = key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        forms = encodings_of(raw) | encodings_of(der)
        self._add(Secret("key", raw.hex(), forms, source=index))

    def _link_code(self, index: int, code: Any, agency: str) -> None:
        raw = _b64(str(code or ""))
        if raw is not None and len(raw) >= 16:
            unit = f"unit:{self.units.get(agency, agency)}"
            owners = frozenset({unit, f"agency:{agency}"})
            self._add(Secret("link-code", str(code), encodings_of(raw, str(code)), owners, index))

    def _learn_hub(
        self, index: int, ex: Exchange, caller: str, body: dict[str, Any], sent: Any
    ) -> None:
        path = ex.path
        if path in ("/hub/bindings", "/hub/rebindings") and ex.reply.ok:
            for r in body.get("results") or []:
                if isinstance(r, dict):
                    self._link_code(index, r.get("link_code"), caller)
                    self._link_code(index, r.get("new_link_code"), caller)
        elif path == "/hub/deliveries" and ex.reply.ok:
            for d in body.get("deliveries") or []:
                if isinstance(d, dict):
                    self._link_code(index, d.get("link_code"), caller)
                    self.parties.setdefault(str(d.get("linkage_id")), set()).add(caller)
        elif path == "/hub/queries" and ex.reply.status == 202:
            self.parties.setdefault(str(body.get("linkage_id")), set()).add(caller)
        elif path.startswith("/hub/linkages/") and path.endswith("/answer") and ex.reply.ok:
            linkage = path.split("/")[3]
            payload = str(sent.get("payload", "")) if isinstance(sent, dict) else ""
            raw = _b64(payload)
            if raw is not None and len(raw) >= _MIN_FORM:
                owners = {f"agency:{a}" for a in self.parties.get(linkage, set()) | {caller}}
                known = self.secrets.get(payload)
                if known is not None:  # the same payload answered again: both linkages'
                    owners |= known.owners
                    del self.secrets[payload]
                forms = encodings_of(raw, payload)
                self._add(Secret("payload", payload, forms, frozenset(owners), index))

    # -- searching -------------------------------------------------------------
    def check(self, index: int, ex: Exchange) -> list[Leak]:
        if self._index is None or self._index.size != len(self.secrets):
            self._index = _Index(list(self.secrets.values()))
        party = self.party(ex)
        reply = ex.reply
        where = f"{reply.method} {ex.path} → {reply.status}"
        places = [(f"{where}, header {k}", f"{k}: {v}") for k, v in reply.headers]
        places.append((f"{where}, body", _searchable(reply.text)))
        out: list[Leak] = []
        seen: set[str] = set()
        sent: set[str] | None = None  # the request's tokens, made on the first need
        for place, text in places:
            for form, secret in self._index.find(text):
                if secret.value in seen or secret.source == index:
                    continue  # reported already, or its own disclosure
                if self.entitled(secret, party, ex):
                    continue
                if sent is None:
                    sent = set(_TOKEN.findall(ex.sent))
                if form in sent or form in ex.sent:
                    continue  # an echo of the request
                seen.add(secret.value)
                out.append(Leak(secret, party, place, form))
        return out


_TOKEN = re.compile(r"[A-Za-z0-9+/=_-]{" + str(_MIN_FORM) + ",}")


class _Index:
    """Every form of every secret, found in a text in one pass over its tokens."""

    def __init__(self, secrets: list[Secret]) -> None:
        self.size = len(secrets)
        self.prefix: dict[str, list[tuple[str, Secret]]] = {}
        self.plain: list[tuple[str, Secret]] = []
        for secret in secrets:
            for form in secret.forms:
                if _TOKEN.fullmatch(form):
                    self.prefix.setdefault(form[:_MIN_FORM], []).append((form, secret))
                else:
                    self.plain.append((form, secret))

    def find(self, text: str) -> list[tuple[str, Secret]]:
        hits = [(f, s) for f, s in self.plain if f in text]
        prefix = self.prefix
        for match in _TOKEN.finditer(text):
            token = match.group()
            for i in range(len(token) - _MIN_FORM + 1):
                for form, secret in prefix.get(token[i : i + _MIN_FORM], ()):
                    if token.startswith(form, i) and _beyond_chance(token, i, form):
                        hits.append((form, secret))
        return hits


def _beyond_chance(token: str, at: int, form: str) -> bool:
    """Whether ``form`` found at ``at`` in ``token`` is a finding, not a coincidence:
    it stands as its own run of letters and digits, or it is long enough that the
    run around it would hold it by chance with probability under 2^-CHANCE_BITS."""
    start, end = at, at + len(form)
    while start > 0 and token[start - 1].isalnum():
        start -= 1
    while end < len(token) and token[end].isalnum():
        end += 1
    if start == at and end == at + len(form):
        return True  # bordered by a separator or the token's ends
    run = token[start:end]
    symbols = 10 if run.isdigit() else 16 if _HEX.issuperset(run) else 62
    return len(form) * math.log2(symbols) >= CHANCE_BITS


def _searchable(text: str) -> str:
    """The body, followed by every base64 value in it that decodes to text."""
    extra: list[str] = []
    for token in _B64_TOKEN.findall(text):
        raw = _b64(token)
        if raw is None:
            continue
        try:
            extra.append(raw.decode("utf-8"))
        except UnicodeDecodeError:
            continue
    return "\n".join([text, *_json_strings(text), *extra])


def _json_strings(text: str) -> list[str]:
    """Every string of a JSON body as it reads unescaped: a secret's text form with a
    quote or a backslash in it travels escaped (``\\"``) and is found here."""
    if "\\" not in text:
        return []  # nothing is escaped: the body already reads as its strings do
    try:
        doc = json.loads(text)
    except ValueError:
        return []
    out: list[str] = []
    stack = [doc]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def sweep(exchanges: Iterable[Exchange]) -> tuple[Sweep, list[Leak]]:
    """Learn from ``exchanges`` and return the sweep and every leak found."""
    s = Sweep()
    leaks = s.run(list(exchanges))
    return s, leaks
