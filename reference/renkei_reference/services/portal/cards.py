"""Simulated JPKI: a test certification authority and the persons' IC cards (item 31).

In production the person's card carries the private key of the JPKI
user-authentication certificate (利用者証明用電子証明書), which never leaves the
card, and the portal trusts the public individual-authentication service (公的個人
認証サービス) as its trust anchor (RK-AUTH-001).  In test mode renkei simulates
that with software: this module generates an Ed25519 test CA with
``cryptography`` and issues each card as an Ed25519 key pair plus an X.509
certificate naming the person's 4 items (name, address, date of birth, sex), so
that My Portal can identify the person by binding those items (RK-PORT-003)
without any Number (RK-AUTH-003).  The PIN is checked by the card and never
reaches the portal; the simulation has no PIN — it is honest about that.

The verifier (:meth:`CardAuthority.verify`) checks, at each authentication,
the certificate path (issued and signed by the configured CA), the validity
period against the deployment clock, and the revocation list (RK-AUTH-001).
Any failure raises one opaque :class:`CardRejected` (RK-PORT-001).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID, ObjectIdentifier

from ..registry.registry import FourItems

__all__ = [
    "CHALLENGE_CONTEXT",
    "CardAuthority",
    "CardRejected",
    "IssuedCard",
    "challenge_message",
]

CHALLENGE_CONTEXT = b"renkei/portal-challenge/v1"
"""Domain separation: a card signature over a portal challenge is good for
nothing else (RK-AUTH-002: bound to the service that issued it)."""

# RFC 3739 / PKIX personal-data attribute OIDs, carried in the subject name.
OID_DATE_OF_BIRTH = ObjectIdentifier("1.3.6.1.5.5.7.9.1")
OID_GENDER = ObjectIdentifier("1.3.6.1.5.5.7.9.3")
_SEX_CODES = {"male": "M", "female": "F", "other": "X"}
_SEX_NAMES = {v: k for k, v in _SEX_CODES.items()}


def challenge_message(nonce: bytes) -> bytes:
    """The bytes the card signs: ``"renkei/portal-challenge/v1" ‖ 0x00 ‖ nonce``."""
    return CHALLENGE_CONTEXT + b"\x00" + nonce


class CardRejected(Exception):
    """The card or its certificate did not pass; deliberately without a cause."""


@dataclass(frozen=True, slots=True)
class IssuedCard:
    """A simulated card: the key stays 'on the card' (with the test driver)."""

    serial: int
    certificate_der: bytes
    private_key: Ed25519PrivateKey

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


class CardAuthority:
    """The test CA (trust anchor) and its revocation list."""

    def __init__(self, now: datetime, name: str = "renkei test JPKI CA") -> None:
        self._lock = threading.Lock()
        self._key = Ed25519PrivateKey.generate()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        self.certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self._key, None)
        )
        self._revoked: set[int] = set()

    def issue(
        self,
        items: FourItems,
        not_before: datetime,
        not_after: datetime,
    ) -> IssuedCard:
        """Issue a card for a person's current 4 items (test mode, RK-CTL-001)."""
        key = Ed25519PrivateKey.generate()
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, items.name),
                x509.NameAttribute(NameOID.STREET_ADDRESS, items.address),
                x509.NameAttribute(OID_DATE_OF_BIRTH, items.birth_date),
                x509.NameAttribute(OID_GENDER, _SEX_CODES[items.sex]),
            ]
        )
        serial = x509.random_serial_number()
        cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(self.certificate.subject)
            .public_key(key.public_key())
            .serial_number(serial)
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=False,
                    crl_sign=False,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, None)
        )
        return IssuedCard(serial, cert.public_bytes(serialization.Encoding.DER), key)

    def revoke(self, serial: int) -> None:
        """Put a card on the revocation list (失効リスト)."""
        with self._lock:
            self._revoked.add(serial)

    def is_revoked(self, serial: int) -> bool:
        with self._lock:
            return serial in self._revoked

    def verify(
        self, certificate_der: bytes, signature: bytes, nonce: bytes, now: datetime
    ) -> FourItems:
        """RK-AUTH-001: path, validity, revocation and the signature over the challenge.

        Returns the 4 items the certificate names; raises :class:`CardRejected`
        for every failure, without saying which (RK-PORT-001)."""
        try:
            cert = x509.load_der_x509_certificate(certificate_der)
            if cert.issuer != self.certificate.subject:
                raise CardRejected
            cert.verify_directly_issued_by(self.certificate)  # the path to the anchor
            if not (cert.not_valid_before_utc <= now < cert.not_valid_after_utc):
                raise CardRejected
            if self.is_revoked(cert.serial_number):
                raise CardRejected
            constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            if constraints.ca:
                raise CardRejected
            public = cert.public_key()
            if not isinstance(public, Ed25519PublicKey):
                raise CardRejected
            public.verify(signature, challenge_message(nonce))
            return _four_items(cert.subject)
        except CardRejected:
            raise
        except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound, KeyError) as exc:
            raise CardRejected from exc


def _four_items(subject: x509.Name) -> FourItems:
    def one(oid: ObjectIdentifier) -> str:
        values = subject.get_attributes_for_oid(oid)
        if len(values) != 1 or not isinstance(values[0].value, str):
            raise CardRejected
        return values[0].value

    return FourItems(
        name=one(NameOID.COMMON_NAME),
        address=one(NameOID.STREET_ADDRESS),
        birth_date=one(OID_DATE_OF_BIRTH),
        sex=_SEX_NAMES[one(OID_GENDER)],
    )
