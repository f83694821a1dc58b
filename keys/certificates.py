"""The certificates this PKI issued: finding them, revoking them, and their status for CRLs and OCSP."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from cryptography import x509
from sqlalchemy import select, update
from sqlalchemy.orm import Session, load_only

from esign import audit
from esign.errors import Conflict, InvalidInput, NotFound
from esign.identity import Actor
from esign.ids import now
from esign.settings import Settings

from . import revocation, revocation_signal
from .authorities import ISSUING, IssuedCertificate, Pki
from .credentials import Credential, Status

REASONS = {flag.value: flag for flag in x509.ReasonFlags if flag is not x509.ReasonFlags.remove_from_crl}


def parse_reason(reason: str) -> x509.ReasonFlags:
    try:
        return REASONS[reason]
    except KeyError:
        raise InvalidInput(f"unknown revocation reason {reason!r}; use one of {', '.join(REASONS)}") from None


def normalise_serial(serial: str) -> str:
    text = serial.strip().lower().removeprefix("0x").replace(":", "")
    try:
        return format(int(text, 16), "x")
    except ValueError:
        raise InvalidInput(f"{serial!r} is not a hexadecimal certificate serial number") from None


def find(session: Session, *, serial: str, organisation_id: str | None) -> IssuedCertificate:
    """``organisation_id`` None is the operator, who sees every certificate."""
    issued = session.get(IssuedCertificate, normalise_serial(serial))
    if issued is None or (organisation_id is not None and issued.organisation_id != organisation_id):
        raise NotFound(f"no certificate {serial}")
    return issued


def revoke(
    session: Session, *, serial: str, reason: str, actor: Actor | None, at: datetime | None = None
) -> IssuedCertificate:
    """Revoke a certificate at once (the next CRL and OCSP answer say so); its credential can no longer sign.

    An organisation's administrator revokes the certificates of their organisation; ``actor`` None is the
    operator (``esign pki revoke``), who can revoke any.
    """
    if actor is not None:
        actor.require_admin()
    flag = parse_reason(reason)
    issued = find(session, serial=serial, organisation_id=actor.organisation_id if actor else None)
    if issued.revoked_at is not None:
        raise Conflict(f"certificate {issued.serial} was revoked already, at {issued.revoked_at.isoformat()}")
    issued.revoked_at = at or now()
    issued.revocation_reason = flag.value
    session.execute(update(Credential).where(Credential.serial == issued.serial).values(status=Status.REVOKED.value))
    revocation_signal.announce(session, issued.serial)
    audit.append(
        session,
        actor=actor or Actor.operator(),
        action="certificate.revoked",
        subject=f"certificate:{issued.serial}",
        chain=issued.organisation_id or "system",
        payload={"reason": flag.value, "revoked_at": issued.revoked_at.isoformat()},
    )
    session.flush()
    return issued


def revocations(session: Session, *, issuers: Sequence[str]) -> dict[str, tuple[revocation.Revoked, ...]]:
    """The entries of each of ``issuers``' revoked certificates, read in one query: what its CRL may list."""
    query = (
        select(IssuedCertificate)
        .where(IssuedCertificate.issuer.in_(issuers), IssuedCertificate.revoked_at.is_not(None))
        .options(
            load_only(
                IssuedCertificate.issuer,
                IssuedCertificate.revoked_at,
                IssuedCertificate.revocation_reason,
                IssuedCertificate.not_after,
            )
        )
    )
    found: dict[str, list[revocation.Revoked]] = {issuer: [] for issuer in issuers}
    for issued in session.scalars(query):
        if isinstance(entry := status_of(issued), revocation.Revoked):
            found[issued.issuer].append(entry)
    return {issuer: tuple(entries) for issuer, entries in found.items()}


def status_of(issued: IssuedCertificate) -> revocation.CertStatus:
    if issued.revoked_at is None:
        return revocation.Good()
    return revocation.Revoked(
        serial=int(issued.serial, 16),
        revoked_at=issued.revoked_at,
        reason=parse_reason(issued.revocation_reason or "unspecified"),
        expires_at=issued.not_after,
    )


def crl(session: Session, *, pki: Pki, settings: Settings, issuer: str = ISSUING) -> bytes:
    """The current CRL of ``issuer`` (``issuing`` or ``root``), made on request so a revocation shows at once.

    The CRL number is the issue time in seconds, which only grows (RFC 5280 §5.2.3 asks for a monotonically
    increasing number, not consecutive ones).
    """
    authority = pki.issuing if issuer == ISSUING else pki.root
    this_update = now()
    return revocation.build_crl(
        authority,
        revocations(session, issuers=[issuer])[issuer],
        number=int(this_update.timestamp()),
        this_update=this_update,
        next_update=this_update + timedelta(hours=settings.crl_validity_hours),
    )


def status(session: Session, *, serial: int) -> revocation.CertStatus:
    """What the OCSP responder says of ``serial``: ``None`` unless the issuing CA issued it (RFC 6960 §2.2)."""
    issued = session.get(IssuedCertificate, format(serial, "x"))
    if issued is None or issued.issuer != ISSUING:
        return None
    return status_of(issued)


def ocsp(session: Session, *, pki: Pki, settings: Settings, request: bytes) -> bytes:
    """The OCSP responder's answer about a certificate of the issuing CA (RFC 6960), made now."""
    return revocation.ocsp_response(
        request,
        issuer=pki.issuing.cert,
        responder=pki.ocsp,
        lookup=lambda serial: status(session, serial=serial),
        now=now(),
        validity=timedelta(minutes=settings.ocsp_validity_minutes),
    )
