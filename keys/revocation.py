"""Revocation services of the deployment's CA: CRLs (RFC 5280 §5) and OCSP responses (RFC 6960).

Pure functions over the CA's keys and a view of which serials are revoked; the database and HTTP layers
decide where those come from and where the bytes go.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias

from asn1crypto import keys as asn1_keys
from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from . import ca
from .ca import Authority, CertificationAuthority

_MAX_SERIAL_OCTETS = 20
_MAX_NONCE_OCTETS = 32
_CERTID_HASHES: tuple[type[hashes.HashAlgorithm], ...] = (
    hashes.SHA1,
    hashes.SHA224,
    hashes.SHA256,
    hashes.SHA384,
    hashes.SHA512,
)


@dataclass(frozen=True)
class Revoked:
    """One revoked certificate of an issuer, and when the certificate expires (None: not known here).

    ``remove_from_crl`` is refused: it only appears in delta CRLs (RFC 5280 §5.3.1), which this CA does
    not publish.
    """

    serial: int
    revoked_at: datetime
    reason: x509.ReasonFlags = x509.ReasonFlags.unspecified
    expires_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.reason is x509.ReasonFlags.remove_from_crl:
            raise ValueError("removeFromCRL is only meaningful in a delta CRL")


@dataclass(frozen=True)
class Good:
    """The certificate was issued by the issuer in question and is not revoked (RFC 6960 §2.2)."""


CertStatus: TypeAlias = Good | Revoked | None
"""What a lookup knows of a serial: good, revoked, or ``None`` when the issuer never issued it."""

StatusLookup: TypeAlias = Callable[[int], CertStatus]
"""The status of a serial number issued by the responder's issuing CA."""


def _authority_key_identifier(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    try:
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    except x509.ExtensionNotFound:
        return x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.public_key())  # type: ignore[arg-type]
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def _reason_extension(reason: x509.ReasonFlags) -> x509.CRLReason | None:
    """RFC 5280 §5.3.1: the reason code ``unspecified`` SHOULD be left out rather than written."""
    return None if reason is x509.ReasonFlags.unspecified else x509.CRLReason(reason)


def build_crl(
    issuer: CertificationAuthority,
    revoked: Iterable[Revoked],
    *,
    number: int,
    this_update: datetime,
    next_update: datetime,
) -> bytes:
    """A complete CRL of ``issuer`` in DER, signed by it (RFC 5280 §5).

    It carries the two extensions §5.2 requires of conforming CAs: the authority key identifier and a
    monotonically increasing CRL number (at most 20 octets, §5.2.3). Each serial may appear only once.

    A certificate that expired longer ago than this CRL's validity is left out (RFC 5280 §3.3 lets an entry go
    once it appeared on a CRL issued after the certificate's validity period): every CRL that was current when
    it expired has been superseded since, its successors listed it, and a relying party has no reason to ask
    about an expired certificate's status anew. So the CRL lists the revoked certificates still in use, and it
    does not grow with every official whose certificate was ever revoked.
    """
    if not 0 <= number < 1 << (8 * _MAX_SERIAL_OCTETS - 1):
        raise ValueError("a CRL number is a non-negative integer of at most 20 octets")
    if next_update <= this_update:
        raise ValueError("nextUpdate must come after thisUpdate")
    entries: list[x509.RevokedCertificate] = []
    seen: set[int] = set()
    forgotten_before = this_update - (next_update - this_update)
    for entry in revoked:
        if entry.expires_at is not None and entry.expires_at < forgotten_before:
            continue
        if entry.serial in seen:
            raise ValueError(f"serial {entry.serial:x} is listed twice")
        seen.add(entry.serial)
        revoked_builder = x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(entry.revoked_at)
        reason = _reason_extension(entry.reason)
        if reason is not None:
            revoked_builder = revoked_builder.add_extension(reason, critical=False)
        entries.append(revoked_builder.build())
    # All entries at once: each ``add_revoked_certificate`` copies the list so far, which made a CRL of
    # 100,000 entries take 12 s instead of a fraction of one.
    builder = x509.CertificateRevocationListBuilder(revoked_certificates=entries)
    builder = (
        builder.issuer_name(issuer.cert.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(_authority_key_identifier(issuer.cert), critical=False)
        .add_extension(x509.CRLNumber(number), critical=False)
    )
    return ca.signed(builder, issuer.key)


@dataclass(frozen=True)
class CertId:
    """The CertID of an OCSP request (RFC 6960 §4.1.1), echoed in the answer with its own hash algorithm."""

    algorithm: hashes.HashAlgorithm
    name_hash: bytes
    key_hash: bytes
    serial: int

    @property
    def key(self) -> tuple[str, bytes, bytes, int]:
        """What tells one CertID from another (hash algorithm objects do not compare by value)."""
        return (self.algorithm.name, self.name_hash, self.key_hash, self.serial)


@dataclass(frozen=True)
class OcspRequest:
    cert_id: CertId
    nonce: bytes | None


def malformed_response() -> bytes:
    response = ocsp.OCSPResponseBuilder.build_unsuccessful(ocsp.OCSPResponseStatus.MALFORMED_REQUEST)
    return response.public_bytes(serialization.Encoding.DER)


def parse_ocsp_request(request_der: bytes) -> OcspRequest | None:
    """The single CertID of an OCSP request, or ``None`` when the request cannot be answered as asked.

    cryptography refuses requests holding more than one CertID; a CertID hashed with an algorithm other
    than SHA-1 or SHA-2, with hashes of the wrong length or with a serial that is not positive (RFC 5280
    §4.1.2.2) cannot be echoed back. RFC 8954 §2.1: a nonce longer than 32 octets is rejected as
    malformed.
    """
    try:
        request = ocsp.load_der_ocsp_request(request_der)
        algorithm = request.hash_algorithm
        extensions = request.extensions
    except (ValueError, TypeError, NotImplementedError, UnsupportedAlgorithm):
        return None
    try:
        nonce: bytes | None = extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
    except x509.ExtensionNotFound:
        nonce = None
    if nonce is not None and not 0 < len(nonce) <= _MAX_NONCE_OCTETS:
        return None
    if not isinstance(algorithm, _CERTID_HASHES):
        return None
    if request.serial_number <= 0:
        return None
    if {len(request.issuer_name_hash), len(request.issuer_key_hash)} != {algorithm.digest_size}:
        return None
    cert_id = CertId(
        algorithm=algorithm,
        name_hash=request.issuer_name_hash,
        key_hash=request.issuer_key_hash,
        serial=request.serial_number,
    )
    return OcspRequest(cert_id=cert_id, nonce=nonce)


def _hash(algorithm: hashes.HashAlgorithm, data: bytes) -> bytes:
    digest = hashes.Hash(algorithm)
    digest.update(data)
    return digest.finalize()


def issuer_hashes(issuer: x509.Certificate) -> set[tuple[str, bytes, bytes]]:
    """(hash algorithm, issuerNameHash, issuerKeyHash) of ``issuer`` under every CertID hash we answer.

    RFC 6960 §4.1.1: issuerNameHash covers the DER of the issuer's name, issuerKeyHash the value of the
    BIT STRING subjectPublicKey in its certificate, both with the CertID's own hash algorithm.
    """
    spki = issuer.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    key_bits = bytes(asn1_keys.PublicKeyInfo.load(spki)["public_key"])
    name = issuer.subject.public_bytes()
    algorithms = [h() for h in _CERTID_HASHES]
    return {(a.name, _hash(a, name), _hash(a, key_bits)) for a in algorithms}


def signed_ocsp_response(
    cert_id: CertId,
    status: CertStatus,
    *,
    responder: Authority,
    this_update: datetime,
    next_update: datetime,
    nonce: bytes | None = None,
) -> bytes:
    """A successful, signed DER OCSP response with one SingleResponse about ``cert_id`` (RFC 6960 §4.2).

    ``responder`` is a delegated responder (id-kp-OCSPSigning, §4.2.2.2), identified by its key hash
    and sent along with the response. ``status`` None answers ``unknown``; a revocation reason of
    ``unspecified`` is left out (RFC 5280 §5.3.1). ``nonce`` is echoed (RFC 8954).
    """
    revoked_at = status.revoked_at if isinstance(status, Revoked) else None
    reason = None
    if isinstance(status, Revoked) and status.reason is not x509.ReasonFlags.unspecified:
        reason = status.reason
    if isinstance(status, Good):
        cert_status = ocsp.OCSPCertStatus.GOOD
    elif isinstance(status, Revoked):
        cert_status = ocsp.OCSPCertStatus.REVOKED
    else:
        cert_status = ocsp.OCSPCertStatus.UNKNOWN
    builder = (
        ocsp.OCSPResponseBuilder()
        .add_response_by_hash(
            issuer_name_hash=cert_id.name_hash,
            issuer_key_hash=cert_id.key_hash,
            serial_number=cert_id.serial,
            algorithm=cert_id.algorithm,
            cert_status=cert_status,
            this_update=this_update,
            next_update=next_update,
            revocation_time=revoked_at,
            revocation_reason=reason,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, responder.cert)
        .certificates([responder.cert])
    )
    if nonce is not None:
        builder = builder.add_extension(x509.OCSPNonce(nonce), critical=False)
    return builder.sign(responder.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def ocsp_response(
    request_der: bytes,
    *,
    issuer: x509.Certificate,
    responder: Authority,
    lookup: StatusLookup,
    now: datetime,
    validity: timedelta,
) -> bytes:
    """A DER OCSP response to ``request_der`` (RFC 6960 §4.2), signed by a delegated responder.

    ``responder`` holds a certificate issued by ``issuer`` with id-kp-OCSPSigning (§4.2.2.2), sent along
    in the response. The single response echoes the request's CertID, with its hash algorithm: ``good``
    or ``revoked`` (time and reason) as ``lookup`` says, ``unknown`` when the lookup does not know the
    serial or the CertID names another issuer. thisUpdate is ``now`` and nextUpdate ``now + validity``;
    a nonce in the request is echoed (RFC 8954). A request that cannot be parsed, or that holds more than
    one CertID, gets a ``malformedRequest`` response rather than an exception.

    Every call reads the status and signs: ``keys.responder`` is the server's pre-producing responder.
    """
    request = parse_ocsp_request(request_der)
    if request is None:
        return malformed_response()
    cert_id = request.cert_id
    ours = (cert_id.algorithm.name, cert_id.name_hash, cert_id.key_hash) in issuer_hashes(issuer)
    return signed_ocsp_response(
        cert_id,
        lookup(cert_id.serial) if ours else None,
        responder=responder,
        this_update=now,
        next_update=now + validity,
        nonce=request.nonce,
    )
