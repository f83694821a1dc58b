"""The service's own CA as a :class:`esign.ltv.RevocationSource`: CRLs and OCSP responses made in-process.

A :class:`LocalRevocation` is read in a signing's first transaction (which certificates are revoked, ``esign.phases``)
and answers while the signature is made, outside any transaction: each call issues CRLs (RFC 5280 §5) and OCSP
responses (RFC 6960) dated at that moment, so data asked for after a time-stamp is dated after it, which is
what makes it fresh for that time-stamp (ETSI EN 319 102-1 §5.2.5.4). The revocation status is the one read in
the first transaction, moments earlier; a revocation committed in between is in every CRL and OCSP answer from
then on, so a verifier who asks the responder later still learns of it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from asn1crypto import crl as asn1_crl
from asn1crypto import ocsp as asn1_ocsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from sqlalchemy.orm import Session

from esign.errors import SigningError
from esign.ids import now
from esign.ltv import ValidationData
from esign.settings import Settings

from . import ca, certificates, revocation
from .authorities import ISSUING, ROOT, Pki
from .ca import Authority


@dataclass(frozen=True)
class LocalRevocation:
    """Revocation data of ``pki`` for certificates it issued; ``revoked`` by issuer (``issuing``, ``root``)."""

    pki: Pki
    revoked: dict[str, tuple[revocation.Revoked, ...]]
    crl_validity: timedelta
    ocsp_validity: timedelta
    clock: Callable[[], datetime] = field(default=now, compare=False)

    def _issuers(self) -> dict[str, Authority]:
        return {ISSUING: self.pki.issuing, ROOT: self.pki.root}

    def _issuer_of(self, cert: x509.Certificate) -> str | None:
        for name, authority in self._issuers().items():
            if cert.issuer == authority.cert.subject and cert != authority.cert:
                try:
                    cert.verify_directly_issued_by(authority.cert)
                except (ValueError, TypeError, InvalidSignature):
                    continue
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

    def _ocsp(self, cert: x509.Certificate, moment: datetime) -> bytes:
        request = (
            ocsp.OCSPRequestBuilder().add_certificate(cert, self.pki.issuing.cert, hashes.SHA256()).build()
        ).public_bytes(serialization.Encoding.DER)
        entries = {r.serial: r for r in self.revoked[ISSUING]}

        def lookup(serial: int) -> revocation.CertStatus:
            return entries.get(serial, revocation.Good())

        return revocation.ocsp_response(
            request,
            issuer=self.pki.issuing.cert,
            responder=self.pki.ocsp,
            lookup=lookup,
            now=moment,
            validity=self.ocsp_validity,
        )

    def __call__(self, certs: Sequence[asn1_x509.Certificate]) -> ValidationData:
        """A CRL of each CA that issued one of ``certs`` or a CA above them, and an OCSP response for each
        end-entity certificate of the issuing CA (the responder's own carries id-pkix-ocsp-nocheck). A certificate
        of another CA raises ``SigningError``: a B-LT file without its revocation data would claim too much."""
        moment = self.clock()
        issuers: set[str] = set()
        ocsps: list[bytes] = []
        for asn1_cert in certs:
            cert = x509.load_der_x509_certificate(asn1_cert.dump())
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
        chain = [self.pki.issuing.cert, self.pki.root.cert, self.pki.ocsp.cert]
        return ValidationData(
            certs=tuple(asn1_x509.Certificate.load(ca.der(c)) for c in chain),
            crls=tuple(asn1_crl.CertificateList.load(self._crl(i, moment)) for i in sorted(issuers)),
            ocsps=tuple(asn1_ocsp.OCSPResponse.load(o) for o in ocsps),
        )


def local_revocation(session: Session, *, pki: Pki, settings: Settings) -> LocalRevocation:
    """The revocation status of every certificate ``pki`` issued, as it stands in this transaction."""
    revoked = {
        issuer: tuple(
            entry
            for entry in map(certificates.status_of, certificates.revoked(session, issuer=issuer))
            if isinstance(entry, revocation.Revoked)
        )
        for issuer in (ISSUING, ROOT)
    }
    return LocalRevocation(
        pki=pki,
        revoked=revoked,
        crl_validity=timedelta(hours=settings.crl_validity_hours),
        ocsp_validity=timedelta(minutes=settings.ocsp_validity_minutes),
    )
