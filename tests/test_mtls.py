"""Mutual TLS 1.3 of ``renkei serve`` and its test PKI (RK-ARCH-003, seed items 2, 30).

The faults of issue 5 — a client without a certificate, with another agency's
certificate, with an expired one, with one of another CA — each against the
real server in a subprocess, plus the PKI itself.
"""

from __future__ import annotations

import json
import ssl
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509

from renkei_reference.core.errors import PermissionDeniedError, UnauthenticatedError
from renkei_reference.services.clock import ControllableClock
from renkei_reference.services.federation import Agency, Federation
from renkei_reference.services.web.pki import (
    AGENCY_URI_PREFIX,
    OPERATOR,
    Pki,
    certified_identity,
    ensure_pki,
    issue_client,
)

from .conftest import run_renkei, tls_client

pytestmark = pytest.mark.requirement("RK-ARCH-003")

AGENCIES = [
    {"agency_id": "kit.pension", "name": "年金（試験）", "role": "agency"},
    {"agency_id": "kit.city-a", "name": "試験市", "role": "agency"},
]


def _tls(target: Path) -> dict[str, Any]:
    tls: dict[str, Any] = json.loads(target.read_text())["tls"]
    return tls


def _parties(target: Path) -> dict[str, str]:
    parties: dict[str, str] = json.loads(target.read_text())["parties"]
    return parties


@pytest.fixture
def tokens(served_reference: Path) -> dict[str, str]:
    """A reset server with two agencies; their test-mode bearer credentials."""
    control = _parties(served_reference)["control"]
    with tls_client(served_reference) as c:
        c.post(control + "/reset").raise_for_status()
        reply = c.post(control + "/agencies", json={"agencies": AGENCIES})
        reply.raise_for_status()
        credentials: dict[str, str] = reply.json()["credentials"]
        return credentials


def _refused_at_handshake(client: httpx.Client, url: str) -> str:
    with client, pytest.raises(httpx.TransportError) as info:
        client.get(url)
    return str(info.value)


def _client_with(target: Path, cert: Path, key: Path) -> httpx.Client:
    ctx = ssl.create_default_context(cafile=_tls(target)["ca"])
    ctx.load_cert_chain(cert, key)
    return httpx.Client(verify=ctx, timeout=10)


# -- the server -----------------------------------------------------------------


def test_an_agency_certificate_alone_is_the_caller(
    served_reference: Path, tokens: dict[str, str]
) -> None:
    url = _parties(served_reference)["hub"] + "/deliveries"
    with tls_client(served_reference, "kit.city-a") as city:
        assert city.get(url).status_code == 200
        # its own credential on its own certificate is the same organisation
        own = city.get(url, headers={"Authorization": f"Bearer {tokens['kit.city-a']}"})
        assert own.status_code == 200


def test_another_agencys_credential_on_a_certificate_is_refused_with_problem_json(
    served_reference: Path, tokens: dict[str, str]
) -> None:
    url = _parties(served_reference)["hub"] + "/deliveries"
    with tls_client(served_reference, "kit.city-a") as city:
        resp = city.get(url, headers={"Authorization": f"Bearer {tokens['kit.pension']}"})
    assert resp.status_code == 403
    assert resp.headers["content-type"].startswith("application/problem+json")
    problem = resp.json()
    assert problem["type"] == "urn:renkei:problem:certificate-identity-mismatch"
    assert problem["requirement"] == "RK-ARCH-003"
    assert "kit.city-a" in problem["detail"]
    assert "kit.pension" in problem["detail"]


def test_a_query_claiming_another_requester_than_the_certificate_is_refused(
    served_reference: Path, tokens: dict[str, str]
) -> None:
    body = {
        "request_id": "cert-1",
        "requester": "kit.pension",
        "provider": "kit.city-a",
        "pattern_id": "P-1",
        "information_kind": "local-tax",
        "link_code": "A" * 43,
    }
    with tls_client(served_reference, "kit.city-a") as city:
        resp = city.post(_parties(served_reference)["hub"] + "/queries", json=body)
    assert resp.status_code == 403, resp.text
    assert resp.json()["type"] == "urn:renkei:problem:identity-mismatch"


def test_a_client_without_a_certificate_fails_the_handshake(served_reference: Path) -> None:
    ctx = ssl.create_default_context(cafile=_tls(served_reference)["ca"])
    url = _parties(served_reference)["control"] + "/health"
    _refused_at_handshake(httpx.Client(verify=ctx, timeout=10), url)


def test_an_expired_certificate_fails_the_handshake(served_reference: Path) -> None:
    pair = _tls(served_reference)["fault_certificates"]["expired"]
    cert = x509.load_pem_x509_certificate(Path(pair["cert"]).read_bytes())
    assert cert.not_valid_after_utc < datetime.now(UTC)  # it really is expired
    assert (
        cert.issuer
        == x509.load_pem_x509_certificate(Path(_tls(served_reference)["ca"]).read_bytes()).subject
    )  # and issued by the federation CA: expiry alone is the fault
    url = _parties(served_reference)["hub"] + "/deliveries"
    _refused_at_handshake(_client_with(served_reference, pair["cert"], pair["key"]), url)


def test_a_certificate_of_another_ca_fails_the_handshake(served_reference: Path) -> None:
    root = Path(_tls(served_reference)["ca"]).parent
    cert, key = Pki(root).fault("foreign")
    assert certified_identity(cert.read_text()) == "kit.pension"  # claims a real agency
    url = _parties(served_reference)["hub"] + "/deliveries"
    _refused_at_handshake(_client_with(served_reference, cert, key), url)


def test_tls_1_2_is_refused(served_reference: Path) -> None:
    pair = _tls(served_reference)["client_certificates"]["kit.pension"]
    ctx = ssl.create_default_context(cafile=_tls(served_reference)["ca"])
    ctx.load_cert_chain(pair["cert"], pair["key"])
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    url = _parties(served_reference)["hub"] + "/deliveries"
    _refused_at_handshake(httpx.Client(verify=ctx, timeout=10), url)


def test_the_server_negotiates_tls_1_3(served_reference: Path) -> None:
    import socket

    hub = httpx.URL(_parties(served_reference)["hub"])
    pair = _tls(served_reference)["client_certificates"]["kit.pension"]
    ctx = ssl.create_default_context(cafile=_tls(served_reference)["ca"])
    ctx.load_cert_chain(pair["cert"], pair["key"])
    assert hub.port is not None
    with (
        socket.create_connection((hub.host, hub.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=hub.host) as tls,
    ):
        assert tls.version() == "TLSv1.3"


# -- the Federation's decision (no sockets) ----------------------------------------


def _federation() -> tuple[Federation, dict[str, str]]:
    fed = Federation(ControllableClock())
    tokens = {a: fed.register(Agency(a, a, "agency", None)) for a in ("kit.pension", "kit.city-a")}
    return fed, tokens


def test_only_the_operator_certificate_lets_bearer_credentials_stand_in() -> None:
    fed, tokens = _federation()
    got = fed.authenticate_certified(OPERATOR, tokens["kit.pension"], bearer_stands_in=True)
    assert got.agency_id == "kit.pension"
    with pytest.raises(UnauthenticatedError):  # production: no stand-in
        fed.authenticate_certified(OPERATOR, tokens["kit.pension"], bearer_stands_in=False)
    with pytest.raises(UnauthenticatedError):  # a certificate certifying nobody
        fed.authenticate_certified(None, tokens["kit.pension"], bearer_stands_in=True)
    with pytest.raises(UnauthenticatedError):  # an organisation not registered
        fed.authenticate_certified("kit.insurer", None, bearer_stands_in=True)
    with pytest.raises(UnauthenticatedError):  # an unknown credential on a good certificate
        fed.authenticate_certified("kit.city-a", "forged", bearer_stands_in=True)
    with pytest.raises(PermissionDeniedError) as info:
        fed.authenticate_certified("kit.city-a", tokens["kit.pension"], bearer_stands_in=True)
    assert info.value.problem == "certificate-identity-mismatch"
    assert info.value.requirement == "RK-ARCH-003"
    assert fed.authenticate_certified("kit.city-a", None, bearer_stands_in=False).agency_id == (
        "kit.city-a"
    )


# -- the PKI ----------------------------------------------------------------------


def test_the_pki_certifies_each_agency_and_the_loopback_server(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path / "pki", ("kit.pension", "city.chiyoda"))
    ca = x509.load_pem_x509_certificate(pki.ca.read_bytes())
    for name, (cert_path, key_path) in pki.clients().items():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
        assert certified_identity(cert_path.read_text()) == name
        assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
        assert cert.not_valid_after_utc > datetime.now(UTC) + timedelta(days=300)
    assert set(pki.clients()) == {OPERATOR, "kit.pension", "city.chiyoda"}
    uris = (
        x509.load_pem_x509_certificate(pki.client("city.chiyoda")[0].read_bytes())
        .extensions.get_extension_for_class(x509.SubjectAlternativeName)
        .value.get_values_for_type(x509.UniformResourceIdentifier)
    )
    assert uris == [AGENCY_URI_PREFIX + "city.chiyoda"]
    server = x509.load_pem_x509_certificate(pki.server.read_bytes())
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert {str(ip) for ip in san.get_values_for_type(x509.IPAddress)} >= {"127.0.0.1"}
    assert stat.S_IMODE(pki.root.stat().st_mode) == 0o700


def test_the_pki_is_created_once_and_grows_by_agency(tmp_path: Path) -> None:
    first = ensure_pki(tmp_path, ("kit.pension",))
    ca = first.ca.read_bytes()
    pension = first.client("kit.pension")[0].read_bytes()
    again = ensure_pki(tmp_path, ("kit.pension", "kit.city-a"))
    assert again.ca.read_bytes() == ca
    assert again.client("kit.pension")[0].read_bytes() == pension
    assert again.client("kit.city-a")[0].exists()


def test_an_issued_certificate_expires(tmp_path: Path) -> None:
    pki = ensure_pki(tmp_path, ())
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert_path, _ = issue_client(pki, "kit.town-m", not_before=start, lifetime=timedelta(days=7))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert cert.not_valid_before_utc == start
    assert cert.not_valid_after_utc == start + timedelta(days=7)


def test_certified_identity_reads_only_renkei_identities() -> None:
    assert certified_identity("not a certificate") is None


def test_pki_init_command(tmp_path: Path) -> None:
    result = run_renkei("pki", "init", str(tmp_path / "p"), "--agency", "city.chiyoda")
    assert result.returncode == 0, result.stderr
    assert "city.chiyoda" in result.stdout
    assert Pki(tmp_path / "p").client("city.chiyoda")[0].exists()
    bad = run_renkei("pki", "init", str(tmp_path / "q"), "--agency", "Not An Id")
    assert bad.returncode == 2
    assert "agency id" in bad.stderr
    assert not (tmp_path / "q" / "ca.pem").exists()


# -- the kit's side: target files with mutual-TLS material ---------------------------


def test_a_target_file_may_give_tls_paths_relative_to_itself(
    served_reference: Path, tmp_path: Path
) -> None:
    from renkei_conformance.target import resolve_target

    data = json.loads(served_reference.read_text())
    pki = Path(data["tls"]["ca"]).parent
    moved = pki.parent / "relative-target.json"

    def rel(p: str) -> str:
        return str(Path(p).relative_to(pki.parent))

    tls = data["tls"]
    tls["ca"] = rel(tls["ca"])
    for pair in [tls["operator"], *tls["client_certificates"].values()]:
        pair["cert"], pair["key"] = rel(pair["cert"]), rel(pair["key"])
    moved.write_text(json.dumps(data))
    target = resolve_target(str(moved))  # probes /control/health with the operator's certificate
    assert target.tls is not None
    assert target.tls.ca == pki / "ca.pem"
    assert target.tls.agencies["kit.city-a"][0].is_file()
    with target.client() as c:
        assert c.get(data["parties"]["control"] + "/health").status_code == 200


def test_a_target_file_with_a_missing_client_certificate_is_a_usage_error(
    served_reference: Path, tmp_path: Path
) -> None:
    data = json.loads(served_reference.read_text())
    data["tls"]["operator"]["cert"] = str(tmp_path / "nowhere.pem")
    bad = tmp_path / "target.json"
    bad.write_text(json.dumps(data))
    result = run_renkei("conformance", "run", "--target", str(bad))
    assert result.returncode == 2, result.stdout[-2000:]
    assert "nowhere.pem" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_https_target_with_mutual_tls_from_the_command_line(
    served_reference: Path, tmp_path: Path
) -> None:
    """No target file: the URL, the CA and the operator's certificate and key as
    options (issue 15); the kit reaches the target over mutual TLS and reports it so."""
    data = json.loads(served_reference.read_text())
    base = data["parties"]["hub"].removesuffix("/hub")
    operator = data["tls"]["operator"]
    report = tmp_path / "r.json"
    ran = run_renkei(
        "conformance", "run", "--target", base, "--ca", data["tls"]["ca"],
        "--cert", operator["cert"], "--key", operator["key"], "-q",
        "--report-json", str(report), "-k", "test_number_responses_carry_no_invisible_code",
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert "(https, mutual TLS)" in ran.stdout
    assert json.loads(report.read_text())["target"]["transport"] == "https, mutual TLS"
    half = run_renkei("conformance", "run", "--target", base, "--cert", operator["cert"])
    assert half.returncode == 2
    assert "--ca is needed" in half.stderr
    plain = run_renkei("conformance", "run", "--target", "reference", "--ca", data["tls"]["ca"])
    assert plain.returncode == 2
    assert "go with an https:// target" in plain.stderr
