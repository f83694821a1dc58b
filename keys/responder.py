"""The OCSP responder as the service runs it: pre-produced responses (RFC 6960 §2.4), kept in each process.

RFC 6960 §2.4 and §4.2.2.1 let a responder sign a response once and serve it until its nextUpdate; a
relying party may cache it that long anyway. Here:

- A response is kept per CertID with the status it states and the epoch of the revocation signal
  (``keys.revocation_signal``) under which that status was read. It is served while the epoch stays the
  same, and for at most a tenth of its validity window: a relying party always gets nine tenths of the
  window ahead of it, and a status changed behind the signal's back (an UPDATE typed into the database)
  shows within that tenth — six minutes by default, inside the nextUpdate any earlier answer carried.
- Under a new epoch the status is read again (one primary-key read). Unchanged, the kept response stays;
  changed — a revocation — a new one is signed at once.
- ``unknown`` is never kept: a serial not issued yet may be issued soon, and made-up CertIDs would fill
  memory. Neither is anything while the signal cannot tell (epoch ``None``).
- A request with a nonce (RFC 8954) gets a response signed for it, echoing the nonce, with producedAt and
  thisUpdate now, from the kept status: its sender asked for proof that the answer is fresh, which a
  pre-produced response cannot give. RFC 8954 §2.1 would allow answering without the nonce, but OpenSSL then
  warns, and a client that insists on its nonce fails. thisUpdate is now because the kept status is known to
  be correct now (the signal says nothing changed; RFC 6960 §4.2.2.1), and because a signer gathering
  validation data right after its time-stamp needs data issued after it (EN 319 102-1 §5.2.5.4): with the
  kept thisUpdate, pyhanko's LTV signing produced documents our verifier rightly found INDETERMINATE. It
  costs one signature and no database read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from asn1crypto import ocsp as asn1_ocsp
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from . import der, revocation
from .ca import Authority
from .revocation import CertId, CertStatus, Good, OcspRequest, Revoked
from .revocation_signal import RevocationSignal

_SUCCESSFUL = asn1_ocsp.OCSPResponseStatus("successful").dump()
_BASIC = asn1_ocsp.ResponseType("basic_ocsp_response").dump()
_NONCE = asn1_ocsp.ResponseDataExtensionId("nonce").dump()
_REFRESHES_PER_WINDOW = 10


@dataclass(frozen=True)
class Pending:
    """A request the kept responses cannot answer: the status of its serial has to be read first."""

    request: OcspRequest
    epoch: int | None
    """The signal's epoch before the read: a revocation committed after it makes the answer stale."""

    @property
    def serial(self) -> int:
        return self.request.cert_id.serial


@dataclass(frozen=True)
class _Kept:
    status: Good | Revoked
    epoch: int | None
    refresh_at: datetime
    response: bytes
    cert_id: bytes
    cert_status: bytes
    """certID and certStatus of ``response``'s SingleResponse, as encoded there."""


@dataclass(frozen=True)
class _Constant:
    """The parts of this responder's signed responses that never change (RFC 6960 §4.2.1)."""

    responder_id: bytes
    signature_algorithm: bytes
    certs: bytes

    @classmethod
    def of(cls, response: bytes) -> _Constant:
        basic = _basic(response)
        return cls(
            responder_id=basic["tbs_response_data"]["responder_id"].dump(),
            signature_algorithm=basic["signature_algorithm"].dump(),
            certs=basic["certs"].dump(),
        )


def _basic(response: bytes) -> asn1_ocsp.BasicOCSPResponse:
    return asn1_ocsp.OCSPResponse.load(response)["response_bytes"]["response"].parsed


def _signature_function(authority: Authority) -> Callable[[bytes], bytes]:
    """SHA-256 with the responder's key, as ``revocation.signed_ocsp_response`` signs."""
    key = authority.key
    if isinstance(key, ec.EllipticCurvePrivateKey):
        scheme = ec.ECDSA(hashes.SHA256())
        return lambda data: key.sign(data, scheme)
    assert isinstance(key, rsa.RSAPrivateKey)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
    return lambda data: key.sign(data, pkcs1, sha256)


class OcspResponder:
    """Answers OCSP requests about certificates of ``issuer``, signed by the delegated ``responder``.

    ``answer`` serves what it can from memory and otherwise returns ``Pending``; the caller reads the
    serial's status (``certificates.status``) and passes it to ``complete``. Both are cheap enough for an
    event loop; the read is the caller's, so that it can run off the loop.
    """

    def __init__(
        self,
        *,
        issuer: x509.Certificate,
        responder: Authority,
        validity: timedelta,
        signal: RevocationSignal,
        capacity: int = 20_000,
    ) -> None:
        if validity <= timedelta(0):
            raise ValueError("the validity of a response must be positive")
        self._issuer = revocation.issuer_hashes(issuer)
        self._responder = responder
        self._validity = validity
        self._refresh = validity / _REFRESHES_PER_WINDOW
        self._signal = signal
        self._capacity = capacity
        self._kept: dict[tuple[str, bytes, bytes, int], _Kept] = {}
        self._lock = threading.Lock()
        self._malformed = revocation.malformed_response()
        self._sign = _signature_function(responder)
        self._constant: _Constant | None = None

    def answer(self, request_der: bytes, *, now: datetime) -> bytes | Pending:
        request = revocation.parse_ocsp_request(request_der)
        if request is None:
            return self._malformed
        cert_id = request.cert_id
        if (cert_id.algorithm.name, cert_id.name_hash, cert_id.key_hash) not in self._issuer:
            return self._signed(request, None, now)
        epoch = self._signal.epoch()
        kept = self._kept.get(cert_id.key)
        if kept is not None and epoch is not None and kept.epoch == epoch and now < kept.refresh_at:
            return self._serve(kept, request.nonce, now)
        return Pending(request=request, epoch=epoch)

    def complete(self, pending: Pending, status: CertStatus, *, now: datetime) -> bytes:
        """The answer to ``pending``, the serial's status having been read after ``pending.epoch``."""
        request = pending.request
        if status is None:
            return self._signed(request, None, now)
        key = request.cert_id.key
        kept = self._kept.get(key)
        if kept is None or kept.status != status or now >= kept.refresh_at:
            kept = self._produce(request.cert_id, status, now, pending.epoch)
        else:
            kept = replace(kept, epoch=pending.epoch)
        if pending.epoch is not None:
            with self._lock:
                if key not in self._kept and len(self._kept) >= self._capacity:
                    del self._kept[next(iter(self._kept))]
                self._kept[key] = kept
        return self._serve(kept, request.nonce, now)

    def _signed(self, request: OcspRequest, status: CertStatus, now: datetime) -> bytes:
        return revocation.signed_ocsp_response(
            request.cert_id,
            status,
            responder=self._responder,
            this_update=now,
            next_update=now + self._validity,
            nonce=request.nonce,
        )

    def _produce(self, cert_id: CertId, status: Good | Revoked, now: datetime, epoch: int | None) -> _Kept:
        this_update = now.replace(microsecond=0)
        response = revocation.signed_ocsp_response(
            cert_id,
            status,
            responder=self._responder,
            this_update=this_update,
            next_update=this_update + self._validity,
        )
        if self._constant is None:
            self._constant = _Constant.of(response)
        [single] = _basic(response)["tbs_response_data"]["responses"]
        return _Kept(
            status=status,
            epoch=epoch,
            refresh_at=this_update + self._refresh,
            response=response,
            cert_id=single["cert_id"].dump(),
            cert_status=single["cert_status"].dump(),
        )

    def _serve(self, kept: _Kept, nonce: bytes | None, now: datetime) -> bytes:
        if nonce is None:
            return kept.response
        return self._with_nonce(kept, nonce, now)

    def _with_nonce(self, kept: _Kept, nonce: bytes, now: datetime) -> bytes:
        """``kept``'s status in a response issued and signed now, with the requester's nonce (RFC 6960 §4.2.1,
        RFC 8954 §2.1): what ``revocation.signed_ocsp_response`` writes, a test checks byte for byte."""
        constant = self._constant
        assert constant is not None
        nonce_extension = der.tlv(der.SEQUENCE, _NONCE, der.tlv(der.OCTET_STRING, der.tlv(der.OCTET_STRING, nonce)))
        this_update = now.replace(microsecond=0)
        single = der.tlv(
            der.SEQUENCE,
            kept.cert_id,
            kept.cert_status,
            der.generalized_time(this_update),
            der.tlv(der.context(0), der.generalized_time(this_update + self._validity)),
        )
        tbs = der.tlv(
            der.SEQUENCE,
            constant.responder_id,
            der.generalized_time(this_update),
            der.tlv(der.SEQUENCE, single),
            der.tlv(der.context(1), der.tlv(der.SEQUENCE, nonce_extension)),
        )
        basic = der.tlv(
            der.SEQUENCE,
            tbs,
            constant.signature_algorithm,
            der.tlv(der.BIT_STRING, b"\x00", self._sign(tbs)),
            constant.certs,
        )
        return der.tlv(
            der.SEQUENCE,
            _SUCCESSFUL,
            der.tlv(der.context(0), der.tlv(der.SEQUENCE, _BASIC, der.tlv(der.OCTET_STRING, basic))),
        )
