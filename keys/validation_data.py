"""The service's own CA as a :class:`esign.ltv.RevocationSource`: CRLs and OCSP responses made in-process.

A :class:`LocalRevocation` is read in a signing's first transaction (which certificates are revoked, ``esign.phases``)
and answers while the signature is made, outside any transaction: each call issues CRLs (RFC 5280 §5) and OCSP
responses (RFC 6960) dated at that moment, so data asked for after a time-stamp is dated after it, which is
what makes it fresh for that time-stamp (ETSI EN 319 102-1 §5.2.5.4). The revocation status is the one read in
the first transaction, moments earlier; a revocation committed in between is in every CRL and OCSP answer from
then on, so a verifier who asks the responder later still learns of it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.x509 import ocsp
from sqlalchemy.orm import Session

from esign.errors import SigningError
from esign.ids import now
from esign.ltv import ValidationData
from esign.settings import Settings

from . import ca, certificates, revocation
from .authorities import ISSUING, ROOT, Pki
from .ca import CertificationAuthority


@dataclass(frozen=True)
class LocalRevocation:
    """Revocation data of ``pki`` for certificates it issued; ``revoked`` by issuer (``issuing``, ``root``)."""

    pki: Pki
    revoked: dict[str, tuple[revocation.Revoked, ...]]
    crl_validity: timedelta
    ocsp_validity: timedelta
    clock: Callable[[], datetime] = field(default=now, compare=False)

    def _issuers(self) -> dict[str, CertificationAuthority]:
        return {ISSUING: self.pki.issuing, ROOT: self.pki.root}

    def _issuer_of(self, cert: x509.Certificate) -> str | None:
        for name, authority in self._issuers().items():
            if _issued_by(cert, authority.cert):
                return name
        return None

    def _crl(self, issuer: str, moment: datetime) -> bytes:
        return revocation.build_crl(
            self._issuers()[issuer],
            self.revoked[issuer],
            number=int(moment.timestamp()),
            this_update=moment,
            next_update=moment + self.crl_validity,
        )

    @functools.cached_property
    def _issuing_revoked(self) -> dict[int, revocation.Revoked]:
        return {r.serial: r for r in self.revoked[ISSUING]}

    def _ocsp(self, cert: x509.Certificate, moment: datetime) -> bytes:
        status: revocation.CertStatus = self._issuing_revoked.get(cert.serial_number, revocation.Good())
        return revocation.signed_ocsp_response(
            _cert_id(cert, self.pki.issuing.cert),
            status,
            responder=self.pki.ocsp,
            this_update=moment,
            next_update=moment + self.ocsp_validity,
        )

    def __call__(self, certs: Sequence[asn1_x509.Certificate]) -> ValidationData:
        """A CRL of each CA that issued one of ``certs`` or a CA above them, and an OCSP response for each
        end-entity certificate of the issuing CA (the responder's own carries id-pkix-ocsp-nocheck). A certificate
        of another CA raises ``SigningError``: a B-LT file without its revocation data would claim too much."""
        moment = self.clock()
        issuers: set[str] = set()
        ocsps: list[bytes] = []
        for asn1_cert in certs:
            cert = _pyca(asn1_cert.dump())
            if cert == self.pki.root.cert:
                continue
            issuer = self._issuer_of(cert)
            if issuer is None:
                raise SigningError(
                    f"this service's CA did not issue {cert.subject.rfc4514_string()}, so it has no revocation "
                    "data to embed for it: sign at B-T"
                )
            issuers.add(issuer)
            if issuer == ISSUING:
                issuers.add(ROOT)
                if cert != self.pki.ocsp.cert:
                    ocsps.append(self._ocsp(cert, moment))
        chain = (self.pki.issuing.cert, self.pki.root.cert, self.pki.ocsp.cert)
        return ValidationData(
            certs=tuple(map(_asn1, chain)),
            crls=tuple(asn1_crl.CertificateList.load(self._crl(i, moment)) for i in sorted(issuers)),
            ocsps=tuple(asn1_ocsp.OCSPResponse.load(o) for o in ocsps),
        )


@functools.lru_cache(maxsize=1024)
def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    """Whether ``issuer`` signed ``cert`` (kept: a signature's chain is the same from one signature to the next)."""
    if cert.issuer != issuer.subject or cert == issuer:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@functools.lru_cache(maxsize=1024)
def _pyca(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


@functools.lru_cache(maxsize=64)
def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(ca.der(cert))


@functools.lru_cache(maxsize=1024)
def _cert_id(cert: x509.Certificate, issuer: x509.Certificate) -> revocation.CertId:
    """The CertID of ``cert`` with SHA-256 (RFC 6960 §4.1.1), as a client that asked about it would send."""
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA256()).build()
    return revocation.CertId(
        algorithm=hashes.SHA256(),
        name_hash=request.issuer_name_hash,
        key_hash=request.issuer_key_hash,
        serial=request.serial_number,
    )


def local_revocation(session: Session, *, pki: Pki, settings: Settings) -> LocalRevocation:
    """The revocation status of every certificate ``pki`` issued, as it stands in this transaction."""
    return LocalRevocation(
        pki=pki,
        revoked=certificates.revocations(session, issuers=[ISSUING, ROOT]),
        crl_validity=timedelta(hours=settings.crl_validity_hours),
        ocsp_validity=timedelta(minutes=settings.ocsp_validity_minutes),
    )
