"""The channel itself: mutual TLS 1.3, identity = client certificate (seed items 2, 30).

Applies to targets reached over HTTPS with mutual-TLS material in their target
file (``tls``: CA, the conformance operator's and each simulated agency's client
certificate).  In process or over plain HTTP the bearer stand-in of test mode
is all there is, and the test reports "not applicable".
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from renkei_conformance.client import Wire, WireError
from renkei_conformance.target import TlsMaterial
from renkei_conformance.world import World

MISMATCH = {"certificate-identity-mismatch", "unauthenticated"}


def _material(wire: Wire) -> TlsMaterial:
    tls = wire.target.tls
    if tls is None or not all(u.startswith("https://") for u in wire.target.parties.values()):
        pytest.skip(
            "not applicable: the target is not reached over mutual TLS (in process or plain "
            "HTTP, where the test-mode bearer credential stands in for the certificate)"
        )
    missing = {"kit.pension", "kit.city-a"} - set(tls.agencies)
    if missing:
        raise WireError(
            f"the target file's tls.client_certificates lacks {sorted(missing)}: the kit "
            "needs a client certificate for each agency it plays (RK-ARCH-003)"
        )
    return tls


def _foreign_identity(folder: Path, agency: str) -> tuple[Path, Path]:
    """A client certificate certifying ``agency`` from a CA the kit made up."""
    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "renkei kit: a foreign CA")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, agency)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.UniformResourceIdentifier(f"urn:renkei:agency:{agency}")]
            ),
            critical=False,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    cert_path, key_path = folder / "foreign.pem", folder / "foreign-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _refused_at_handshake(client: httpx.Client, url: str, what: str) -> None:
    """The connection must fail before any HTTP response (RK-ARCH-003)."""
    with client:
        try:
            resp = client.get(url)
        except httpx.TransportError:
            return
    raise WireError(
        f"{what}: the target answered HTTP {resp.status_code} instead of refusing the "
        f"TLS handshake (RK-ARCH-003): {resp.text[:200]}"
    )


@pytest.mark.conformance("CT-TLS-001", requirements=["RK-ARCH-003"], profiles=["hub"])
def test_mutual_tls_binds_identity_to_the_client_certificate(
    world: World, wire: Wire, tmp_path: Path
) -> None:
    """Over HTTPS, the hub accepts only mutual TLS 1.3 with a certificate of the
    federation CA, and the organisation on the protocol is the one the client
    certificate certifies: an agency's certificate alone acts as that agency
    (its query is logged under it); a credential or a requester naming another
    organisation is refused with problem+json; a client without a certificate,
    with a certificate of another CA, with an expired certificate (when the
    target file provides one) or offering only TLS 1.2 fails the handshake."""
    tls = _material(wire)
    url = wire.url("hub", "/deliveries")

    pension = wire.presenting(tls.agencies["kit.pension"])
    city = wire.presenting(tls.agencies["kit.city-a"])
    try:
        # the certificate alone is the identity: no bearer credential at all
        link = world.link("kit.pension", world.persons[0])
        body = {
            "request_id": "tls-1",
            "requester": "kit.pension",
            "provider": "kit.city-a",
            "pattern_id": "KIT-P-001",
            "information_kind": "local-tax",
            "link_code": link,
        }
        reply = pension.call("POST", "hub", "/queries", json_body=body).expect(202)
        linkage_id = reply["linkage_id"]
        delivered = city.call("GET", "hub", "/deliveries").expect(200)["deliveries"]
        assert any(d.get("linkage_id") == linkage_id for d in delivered), (
            "the provider's certificate alone did not reach its deliveries (RK-ARCH-003)"
        )
        entries = [e for e in world.audit_log() if e.get("linkage_id") == linkage_id]
        assert entries, f"linkage {linkage_id} made over mutual TLS is not in the access log"
        assert {e.get("requester_id") for e in entries} == {"kit.pension"}, entries

        # another organisation's credential on an agency's certificate
        city.call("GET", "hub", "/deliveries", token=world.tokens["kit.pension"]).expect_problem(
            MISMATCH, {401, 403}
        )
        # a requester other than the certified organisation (refused, in decision order)
        spoof = {**body, "request_id": "tls-2", "requester": "kit.city-a"}
        pension.call("POST", "hub", "/queries", json_body=spoof).expect_problem(
            "identity-mismatch", 403
        )
        city_spoof = {**body, "request_id": "tls-3"}
        city.call("POST", "hub", "/queries", json_body=city_spoof).expect_problem(
            {"identity-mismatch", "requester-not-designated"}, 403
        )
    finally:
        pension.close()
        city.close()

    _refused_at_handshake(wire.target.client_with(None), url, "a client without a certificate")
    foreign = _foreign_identity(tmp_path, "kit.pension")
    _refused_at_handshake(
        wire.target.client_with(foreign), url, "a client certificate of another CA"
    )
    if "expired" in tls.faults:
        _refused_at_handshake(
            wire.target.client_with(tls.faults["expired"]), url, "an expired client certificate"
        )
    old = tls.context(tls.agencies["kit.pension"])
    old.minimum_version = ssl.TLSVersion.TLSv1_2
    old.maximum_version = ssl.TLSVersion.TLSv1_2
    _refused_at_handshake(
        httpx.Client(verify=old, timeout=wire.target.timeout), url, "a TLS 1.2 client"
    )
