"""What the engine needs from this PKI for PAdES B-T and above, and what verification needs to trust it.

Everything comes from this process: time-stamps from the local time-stamping unit and revocation data
from the current CRLs, so signing at B-LTA never makes an HTTP round trip to the service itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from esign.settings import Settings
from esign.sign import PadesLevel
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
