"""The deployment's time-stamping unit (RFC 3161), and an in-process client of it.

``TimeStampingUnit.respond`` (or ``timestamp_response``, which keeps a unit per TSA) answers a DER
``TimeStampReq`` with a DER ``TimeStampResp``; the HTTP route ``POST /pki/tsa`` only moves bytes.
``LocalTimeStamper`` lets the signing engine, when it runs inside the service, obtain signature
time-stamps (PAdES B-T) from the same unit without an HTTP round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import select_suitable_signing_md
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from esign.signers import KeySigner

from . import ca, der, tsa_request
from .ca import Authority, PrivateKey

_MAX_SERIAL = 1 << 159
_VERSION_1 = der.integer(1)
_VERSION_3 = der.integer(3)
_GRANTED = tsp.PKIStatusInfo({"status": "granted"}).dump()
_TST_INFO = cms.ContentType("tst_info").dump()
_SIGNED_DATA = cms.ContentType("signed_data").dump()
_CONTENT_TYPE_TST_INFO = simple_cms_attribute("content_type", "tst_info").dump()
_MESSAGE_DIGEST = cms.CMSAttributeType("message_digest").dump()
_SIGNING_TIME = cms.CMSAttributeType("signing_time").dump()


def _accuracy(accuracy: timedelta) -> tsp.Accuracy | None:
    """RFC 3161 §2.4.2: millis and micros range over 1..999; absent fields count as zero."""
    if accuracy < timedelta(0):
        raise ValueError("accuracy cannot be negative")
    seconds, rest = divmod(accuracy, timedelta(seconds=1))
    millis, micros = divmod(rest.microseconds, 1000)
    fields = {"seconds": seconds, "millis": millis, "micros": micros}
    present = {name: value for name, value in fields.items() if value}
    return tsp.Accuracy(present) if present else None


def _signature_function(signer: KeySigner, digest_algorithm: str) -> Callable[[bytes], bytes]:
    """``signer.sign_raw`` with its signature mechanism chosen once rather than at every token."""
    mechanism = signer.get_signature_mechanism_for_digest(digest_algorithm)
    algorithm = mechanism.signature_algo
    digest = get_pyca_cryptography_hash(digest_algorithm)
    key = signer.key
    if algorithm == "ecdsa" and isinstance(key, ec.EllipticCurvePrivateKey):
        scheme = ec.ECDSA(digest)
        return lambda data: key.sign(data, scheme)
    if algorithm == "rsassa_pkcs1v15" and isinstance(key, rsa.RSAPrivateKey):
        pkcs1 = padding.PKCS1v15()
        return lambda data: key.sign(data, pkcs1, digest)
    return lambda data: signer.sign_raw(data, digest_algorithm)


class TimeStampingUnit:
    """One TSA answering requests under one policy: what is the same in every token is encoded here once.

    A token still gets its own genTime, serial number, nonce, messageDigest and signature; the rest of the
    TSTInfo (RFC 3161 §2.4.2) and of the SignedData around it (RFC 5652 §5) is spliced in as DER encoded
    by asn1crypto at construction. The output is byte for byte what asn1crypto builds from the same
    fields, which a test checks.
    """

    def __init__(
        self,
        tsa: Authority,
        chain: Sequence[x509.Certificate],
        *,
        policy: str,
        accuracy: timedelta = timedelta(seconds=1),
    ) -> None:
        tsa_cert = asn1_x509.Certificate.load(ca.der(tsa.cert))
        signer = KeySigner(tsa.key, tsa_cert)
        self.policy = policy
        self.accuracy = accuracy
        self._whole_seconds = accuracy >= timedelta(seconds=1)
        self._digest_algorithm = select_suitable_signing_md(tsa_cert.public_key)
        self._hash = get_pyca_cryptography_hash(self._digest_algorithm)
        self._sign = _signature_function(signer, self._digest_algorithm)

        measured = _accuracy(accuracy)
        policy_oid = core.ObjectIdentifier(policy)
        self._policy_oid = bytes(policy_oid.contents)
        self._tst_head = _VERSION_1 + policy_oid.dump()
        self._tst_accuracy = b"" if measured is None else measured.dump()
        self._tst_tsa = _explicit_general_name(tsa_cert)

        self._signing_certificate = simple_cms_attribute(
            "signing_certificate_v2", as_signing_certificate_v2(tsa_cert)
        ).dump()
        template = signer.signer_info(self._digest_algorithm, cms.CMSAttributes([]), b"")
        self._signer_info_head = b"".join(template[name].dump() for name in ("version", "sid", "digest_algorithm"))
        self._signature_algorithm = template["signature_algorithm"].dump()
        self._digest_algorithms = cms.DigestAlgorithms(
            [algos.DigestAlgorithm({"algorithm": self._digest_algorithm})]
        ).dump()
        certs = [tsa_cert, *(asn1_x509.Certificate.load(ca.der(c)) for c in chain if c != tsa.cert)]
        certificate_set = cms.CertificateSet([cms.CertificateChoices(name="certificate", value=c) for c in certs])
        self._certificates = der.tlv(der.context(0), certificate_set.contents)

    def respond(self, request_der: bytes, *, now: datetime, serial: int) -> bytes:
        """A DER TimeStampResp answering ``request_der``; see ``timestamp_response``."""
        if now.tzinfo is None:
            raise ValueError("the time of a time-stamp must be timezone-aware")
        if not 0 < serial < _MAX_SERIAL:
            raise ValueError("a time-stamp serial is a positive integer of at most 20 octets")
        request = tsa_request.read(request_der, policy=self.policy, policy_oid=self._policy_oid)
        if isinstance(request, tsa_request.Rejection):
            return tsa_request.rejection_response(request)
        return der.tlv(der.SEQUENCE, _GRANTED, self.token(request, now=now, serial=serial))

    def token(self, request: tsa_request.Request, *, now: datetime, serial: int) -> bytes:
        """The DER TimeStampToken granting ``request`` (already read and accepted)."""
        gen_time = now.astimezone(UTC)
        if self._whole_seconds:
            gen_time = gen_time.replace(microsecond=0)
        tst_info = der.tlv(
            der.SEQUENCE,
            self._tst_head,
            request.imprint,
            der.integer(serial),
            der.generalized_time(gen_time),
            self._tst_accuracy,
            request.nonce,
            self._tst_tsa,
        )
        return self._token(tst_info, signing_time=gen_time, include_certs=request.cert_req)

    def _token(self, tst_info: bytes, *, signing_time: datetime, include_certs: bool) -> bytes:
        """The TimeStampToken: SignedData encapsulating the TSTInfo (RFC 3161 §2.4.2).

        Its signed attributes are contentType id-ct-TSTInfo, messageDigest, signingTime and the ESS
        signing-certificate-v2 attribute naming the TSA certificate by its SHA-256 hash (RFC 5816 §2.2.1),
        in DER order (RFC 5652 §5.4: the signature covers the DER SET OF). Certificates go along only when
        the request set certReq (RFC 3161 §2.4.1).
        """
        digest = hashes.Hash(self._hash)
        digest.update(tst_info)
        attributes = [
            _CONTENT_TYPE_TST_INFO,
            der.tlv(der.SEQUENCE, _MESSAGE_DIGEST, der.tlv(der.SET, der.tlv(der.OCTET_STRING, digest.finalize()))),
            _signing_time(signing_time),
            self._signing_certificate,
        ]
        signed_attrs = der.set_of(attributes)
        signer_info = der.tlv(
            der.SEQUENCE,
            self._signer_info_head,
            der.retag(signed_attrs, der.context(0)),
            self._signature_algorithm,
            der.tlv(der.OCTET_STRING, self._sign(signed_attrs)),
        )
        signed_data = der.tlv(
            der.SEQUENCE,
            _VERSION_3,
            self._digest_algorithms,
            der.tlv(der.SEQUENCE, _TST_INFO, der.tlv(der.context(0), der.tlv(der.OCTET_STRING, tst_info))),
            self._certificates if include_certs else b"",
            der.tlv(der.SET, signer_info),
        )
        return der.tlv(der.SEQUENCE, _SIGNED_DATA, der.tlv(der.context(0), signed_data))


def _explicit_general_name(cert: asn1_x509.Certificate) -> bytes:
    """TSTInfo's ``tsa [0] GeneralName``: the directoryName of the TSA's certificate (RFC 3161 §2.4.2)."""
    holder = tsp.TSTInfo({"tsa": asn1_x509.GeneralName(name="directory_name", value=cert.subject)})
    return bytes(holder["tsa"].dump())


@functools.lru_cache(maxsize=4)
def _signing_time(moment: datetime) -> bytes:
    """The signingTime attribute: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5652 §11.3).
    Every token of one second has the same."""
    value = der.utc_time(moment) if moment.year < 2050 else der.generalized_time(moment)
    return der.tlv(der.SEQUENCE, _SIGNING_TIME, der.tlv(der.SET, value))


@functools.lru_cache(maxsize=8)
def _unit(
    tsa_der: bytes, key: PrivateKey, chain_der: tuple[bytes, ...], policy: str, accuracy: timedelta
) -> TimeStampingUnit:
    tsa = Authority(cert=x509.load_der_x509_certificate(tsa_der), key=key)
    chain = [x509.load_der_x509_certificate(c) for c in chain_der]
    return TimeStampingUnit(tsa, chain, policy=policy, accuracy=accuracy)


def timestamp_response(
    request_der: bytes,
    *,
    tsa: Authority,
    chain: Sequence[x509.Certificate],
    policy: str,
    now: datetime,
    serial: int,
    accuracy: timedelta = timedelta(seconds=1),
) -> bytes:
    """A DER TimeStampResp answering ``request_der`` (RFC 3161 §2.4.2).

    ``tsa`` signs; ``chain`` (its issuers) is embedded with its certificate when the request asks for
    certificates. ``policy`` is the one policy this unit serves: a request naming another is rejected
    with unacceptedPolicy. ``serial`` must be unique among the unit's tokens. genTime is ``now`` (an aware
    datetime), truncated to whole seconds when ``accuracy`` is a second or more. An unreadable request is
    answered with a badDataFormat rejection, never an exception.
    """
    return _unit_of(tsa, chain, policy, accuracy).respond(request_der, now=now, serial=serial)


def _unit_of(tsa: Authority, chain: Sequence[x509.Certificate], policy: str, accuracy: timedelta) -> TimeStampingUnit:
    return _unit(ca.der(tsa.cert), tsa.key, tuple(ca.der(c) for c in chain), policy, accuracy)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LocalTimeStamper(TimeStamper):
    """A pyhanko time-stamp client whose tokens come from the unit ``timestamp_response`` uses, in this process.

    ``clock`` gives genTime and ``serials`` a fresh serial number for every token (random 159-bit numbers
    by default, unique with overwhelming probability). A refusal raises pyhanko's ``TimestampRequestError``,
    as a refusal from a remote unit would.
    """

    def __init__(
        self,
        *,
        tsa: Authority,
        chain: Sequence[x509.Certificate],
        policy: str,
        accuracy: timedelta = timedelta(seconds=1),
        clock: Callable[[], datetime] = _utc_now,
        serials: Callable[[], int] = x509.random_serial_number,
        include_nonce: bool = True,
    ) -> None:
        super().__init__(include_nonce=include_nonce)  # type: ignore[no-untyped-call]  # pyhanko leaves it untyped
        self._tsa = tsa
        self._chain = tuple(chain)
        self._policy = policy
        self._accuracy = accuracy
        self._clock = clock
        self._serials = serials

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        """The token straight from the unit: the request and the response pyhanko would encode and parse again
        (with a nonce to match them) carry nothing between two parts of one process. The unit's rules still
        hold: only a SHA-2 imprint of the right length, certificates included."""
        if tsa_request.IMPRINT_LENGTHS.get(md_algorithm) != len(message_digest):
            raise TimestampRequestError(f"the time-stamping unit refused the request (bad_alg): {md_algorithm}")
        imprint = der.tlv(der.SEQUENCE, _digest_algorithm(md_algorithm), der.tlv(der.OCTET_STRING, message_digest))
        request = tsa_request.Request(imprint=imprint, nonce=b"", cert_req=True)
        unit = _unit_of(self._tsa, self._chain, self._policy, self._accuracy)
        return cms.ContentInfo.load(unit.token(request, now=self._clock(), serial=self._serials()))

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        response = timestamp_response(
            req.dump(),
            tsa=self._tsa,
            chain=self._chain,
            policy=self._policy,
            now=self._clock(),
            serial=self._serials(),
            accuracy=self._accuracy,
        )
        status = tsa_request.load_response(response)["status"]
        if status["status"].native != "granted":
            failures = ", ".join(sorted(status["fail_info"].native or ()))
            texts = "; ".join(status["status_string"].native or ())
            raise TimestampRequestError(f"the time-stamping unit refused the request ({failures}): {texts}")
        return tsp.TimeStampResp.load(response)

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        """A token of the size this unit's tokens have, for pyhanko to reserve room for the real one: made once per
        unit and digest in the process, not once per signature (this client is made for each). Its certificates
        are not registered for validation paths, which nothing here asks this client for."""
        key = (self._tsa.cert.fingerprint(hashes.SHA256()), len(self._chain), md_algorithm)
        dummy = _DUMMIES.get(key)
        if dummy is None:
            dummy = _DUMMIES[key] = await super().async_dummy_response(md_algorithm)
        return dummy


_DUMMIES: dict[tuple[bytes, int, str], cms.ContentInfo] = {}


@functools.lru_cache(maxsize=8)
def _digest_algorithm(md_algorithm: str) -> bytes:
    """MessageImprint's hashAlgorithm as pyhanko's requests encode it (RFC 3161 §2.4.1)."""
    return bytes(algos.DigestAlgorithm({"algorithm": md_algorithm}).dump())
