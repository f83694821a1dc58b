"""What the engine needs from this PKI for PAdES B-T and above, and what verification needs to trust it.

Everything comes from this process: time-stamps from the local time-stamping unit and revocation data
from the current CRLs, so signing at B-LTA never makes an HTTP round trip to the service itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.ocsp import OCSPRequestBuilder
from pyhanko_certvalidator import ValidationContext
from sqlalchemy.orm import Session

from esign.settings import Settings
from esign.sign import PadesLevel
from esign.signers import to_asn1
from esign.trust import TrustSettings

from . import ca, certificates, identities, validation_data
from .authorities import ISSUING, ROOT, Pki
from .tsa import LocalTimeStamper


def timestamper(pki: Pki, settings: Settings) -> LocalTimeStamper:
    return LocalTimeStamper(tsa=pki.tsa, chain=pki.chain, policy=settings.tsa_policy)


def current_crls(session: Session, *, pki: Pki, settings: Settings) -> tuple[bytes, bytes]:
    return (
        certificates.crl(session, pki=pki, settings=settings, issuer=ISSUING),
        certificates.crl(session, pki=pki, settings=settings, issuer=ROOT),
    )


def engine_inputs(session: Session, *, pki: Pki, settings: Settings, level: PadesLevel) -> dict[str, Any]:
    """``SignOptions`` fields for ``level``: a time-stamp client from B-T on, revocation data from B-LT on."""
    if level is PadesLevel.B_B:
        return {}
    inputs: dict[str, Any] = {"timestamper": timestamper(pki, settings)}
    if level.rank >= PadesLevel.B_LT.rank:
        inputs["revocation"] = validation_data.local_revocation(session, pki=pki, settings=settings)
    return inputs


def level_for(session: Session, *, organisation_id: str, requested: PadesLevel | None) -> PadesLevel:
    """The level of a signature the service makes for an organisation: the one asked for, B-T at least, or the
    organisation's own (B-LTA unless it chose B-LT or B-T)."""
    if requested is not None:
        return identities.service_level(requested)
    return PadesLevel(identities.get_organisation(session, organisation_id).signature_level)


def trust_with_own_pki(session: Session, *, pki: Pki, settings: Settings, base: TrustSettings) -> TrustSettings:
    """``base`` plus this PKI's root and its current revocation data: the service knows its own CA."""
    return base.with_anchors(ca.pem(pki.root.cert)).with_revocation_data(
        crls=current_crls(session, pki=pki, settings=settings)
    )


def ocsp_response(session: Session, *, pki: Pki, settings: Settings, cert: x509.Certificate) -> bytes | None:
    """This PKI's OCSP answer about ``cert``, as ``POST /pki/ocsp`` would give it; None for a certificate the
    issuing CA did not sign."""
    if cert.issuer != pki.issuing.cert.subject:
        return None
    request = OCSPRequestBuilder().add_certificate(cert, pki.issuing.cert, hashes.SHA256()).build()
    return certificates.ocsp(session, pki=pki, settings=settings, request=request.public_bytes(Encoding.DER))


def archive_context(
    session: Session, *, pki: Pki, settings: Settings, covered: Sequence[asn1_x509.Certificate]
) -> ValidationContext:
    """What an archive time-stamp (``esign.archive``) is made and checked with: this PKI's root and the
    deployment's trust anchors, the current CRLs, and OCSP answers about ``covered``, so the DSS keeps the status
    of every time-stamping unit's certificate from a time it was valid (the new time-stamp's own unit gets its
    answers after that time-stamp, from ``keys.validation_data``). Other PKIs' revocation data is fetched only
    when ``ESIGN_ALLOW_FETCHING`` says so."""
    leaves = [x509.load_der_x509_certificate(c.dump()) for c in covered]
    answers = [ocsp_response(session, pki=pki, settings=settings, cert=c) for c in leaves]
    deployment = TrustSettings.from_files(settings.trust_anchors)
    return ValidationContext(
        trust_roots=[to_asn1(pki.root.cert), *deployment.anchors],
        other_certs=[to_asn1(pki.issuing.cert)],
        crls=list(current_crls(session, pki=pki, settings=settings)),
        ocsps=[a for a in answers if a is not None],
        allow_fetching=settings.allow_fetching,
        revocation_mode="hard-fail",
    )
