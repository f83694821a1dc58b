"""The deployment's time-stamping unit (RFC 3161), as pure functions, and an in-process client of it.

``timestamp_response`` answers a DER ``TimeStampReq`` with a DER ``TimeStampResp``; the HTTP route
``POST /pki/tsa`` only moves bytes. ``LocalTimeStamper`` lets the signing engine, when it runs inside the
service, obtain signature time-stamps (PAdES B-T) from the same unit without an HTTP round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import select_suitable_signing_md
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from esign.signers import KeySigner

from . import ca
from .ca import Authority, PrivateKey

IMPRINT_LENGTHS = {"sha256": 32, "sha384": 48, "sha512": 64}
"""Hash algorithms accepted in a request's messageImprint, with their digest lengths.

SHA-1 is refused (badAlg): a time-stamp over a SHA-1 imprint proves little since chosen-prefix collisions
became practical, and every client we serve (pyhanko, OpenSSL 3) asks with SHA-256 by default.
"""

_MAX_SERIAL = 1 << 159
_PARSE_ERRORS = (ValueError, TypeError, AttributeError, IndexError)
"""What asn1crypto raises on malformed DER: besides ValueError, a mis-tagged field surfaces as an
AttributeError and an empty BIT STRING as an IndexError when the value is first read."""


class _TimeStampResp(core.Sequence):  # type: ignore[misc]  # asn1crypto is untyped
    """RFC 3161 §2.4.2 TimeStampResp. asn1crypto's ``tsp.TimeStampResp`` makes timeStampToken mandatory,
    so it can neither write nor read a rejection, where the token is absent."""

    _fields = [  # noqa: RUF012  (asn1crypto's declaration, which it edits in place)
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class _Rejection:
    failure: str
    text: str


def _rejection(reason: _Rejection) -> bytes:
    """RFC 3161 §2.4.2: a rejection carries a PKIFailureInfo bit and no token."""
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [reason.text],
            "fail_info": tsp.PKIFailureInfo({reason.failure}),
        }
    )
    return bytes(_TimeStampResp({"status": status}).dump())


def _parse(request_der: bytes) -> tsp.TimeStampReq | _Rejection:
    try:
        request = tsp.TimeStampReq.load(request_der, strict=True)
        _ = request.native
    except _PARSE_ERRORS:
        return _Rejection("bad_data_format", "the request is not a DER TimeStampReq")
    return request


def _check(request: tsp.TimeStampReq, policy: str) -> _Rejection | None:
    """The rules of RFC 3161 §2.4.1 a request must meet before a token is issued for it."""
    if request["version"].native != "v1":
        return _Rejection("bad_request", "only version 1 requests are understood")
    imprint = request["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in IMPRINT_LENGTHS:
        return _Rejection("bad_alg", f"hash algorithm {algorithm} is not accepted")
    if len(imprint["hashed_message"].native) != IMPRINT_LENGTHS[algorithm]:
        return _Rejection("bad_data_format", f"the imprint is not a {algorithm} digest")
    requested = request["req_policy"]
    if requested.native is not None and requested.dotted != policy:
        return _Rejection("unaccepted_policy", f"policy {requested.dotted} is not served")
    if request["extensions"].native:
        return _Rejection("unaccepted_extensions", "request extensions are not supported")
    return None


def _accuracy(accuracy: timedelta) -> tsp.Accuracy | None:
    """RFC 3161 §2.4.2: millis and micros range over 1..999; absent fields count as zero."""
    if accuracy < timedelta(0):
        raise ValueError("accuracy cannot be negative")
    seconds, rest = divmod(accuracy, timedelta(seconds=1))
    millis, micros = divmod(rest.microseconds, 1000)
    fields = {"seconds": seconds, "millis": millis, "micros": micros}
    present = {name: value for name, value in fields.items() if value}
    return tsp.Accuracy(present) if present else None


def _tst_info(
    request: tsp.TimeStampReq,
    *,
    tsa: asn1_x509.Certificate,
    policy: str,
    gen_time: datetime,
    serial: int,
    accuracy: timedelta,
) -> tsp.TSTInfo:
    """RFC 3161 §2.4.2 TSTInfo: ordering stays at its default, false; the nonce is echoed."""
    fields: dict[str, object] = {
        "version": "v1",
        "policy": policy,
        "message_imprint": request["message_imprint"],
        "serial_number": serial,
        "gen_time": gen_time,
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa.subject),
    }
    measured = _accuracy(accuracy)
    if measured is not None:
        fields["accuracy"] = measured
    if request["nonce"].native is not None:
        fields["nonce"] = request["nonce"]
    return tsp.TSTInfo(fields)


def _signing_time(moment: datetime) -> cms.Time:
    """RFC 5652 §11.3: UTCTime through 2049, GeneralizedTime from 2050."""
    if moment.year < 2050:
        return cms.Time(name="utc_time", value=core.UTCTime(moment))
    return cms.Time(name="generalized_time", value=core.GeneralizedTime(moment))


@dataclass(frozen=True)
class _Unit:
    """What does not change between one TSA's tokens, parsed once and kept DER-backed: asn1crypto
    re-serialises freshly built structures at every nesting level, which made a token cost ~50 ms."""

    cert: asn1_x509.Certificate
    signer: KeySigner
    digest_algorithm: str
    signing_certificate: cms.CMSAttribute
    certificates: cms.CertificateSet


@functools.lru_cache(maxsize=8)
def _unit(tsa_der: bytes, key: PrivateKey, chain_der: tuple[bytes, ...]) -> _Unit:
    tsa_cert = asn1_x509.Certificate.load(tsa_der)
    certs = [tsa_cert, *(asn1_x509.Certificate.load(c) for c in chain_der if c != tsa_der)]
    attribute = simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(tsa_cert))
    choices = cms.CertificateSet([cms.CertificateChoices(name="certificate", value=c) for c in certs])
    return _Unit(
        cert=tsa_cert,
        signer=KeySigner(key, tsa_cert),
        digest_algorithm=select_suitable_signing_md(tsa_cert.public_key),
        signing_certificate=cms.CMSAttribute.load(attribute.dump()),
        certificates=cms.CertificateSet.load(choices.dump()),
    )


def _token(
    tst_info: tsp.TSTInfo,
    *,
    unit: _Unit,
    signing_time: datetime,
    include_certs: bool,
) -> cms.ContentInfo:
    """The TimeStampToken: SignedData encapsulating the TSTInfo (RFC 3161 §2.4.2).

    Its signed attributes are contentType id-ct-TSTInfo, messageDigest, signingTime and the ESS
    signing-certificate-v2 attribute naming the TSA certificate by its SHA-256 hash (RFC 5816 §2.2.1).
    Certificates go along only when the request set certReq (RFC 3161 §2.4.1).
    """
    content = tst_info.dump()
    digest = hashes.Hash(get_pyca_cryptography_hash(unit.digest_algorithm))
    digest.update(content)
    signed_attrs = cms.CMSAttributes.load(
        cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("message_digest", digest.finalize()),
                simple_cms_attribute("signing_time", _signing_time(signing_time)),
                unit.signing_certificate,
            ]
        ).dump()
    )
    signature = unit.signer.sign_raw(signed_attrs.dump(), unit.digest_algorithm)
    signer_info = cms.SignerInfo.load(unit.signer.signer_info(unit.digest_algorithm, signed_attrs, signature).dump())
    signed_data: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": unit.digest_algorithm})],
        "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(content)},
        "signer_infos": [signer_info],
    }
    if include_certs:
        signed_data["certificates"] = unit.certificates
    return cms.ContentInfo.load(
        cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)}).dump()
    )


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
    if now.tzinfo is None:
        raise ValueError("the time of a time-stamp must be timezone-aware")
    if not 0 < serial < _MAX_SERIAL:
        raise ValueError("a time-stamp serial is a positive integer of at most 20 octets")
    parsed = _parse(request_der)
    if isinstance(parsed, _Rejection):
        return _rejection(parsed)
    rejection = _check(parsed, policy)
    if rejection is not None:
        return _rejection(rejection)
    gen_time = now.astimezone(UTC)
    if accuracy >= timedelta(seconds=1):
        gen_time = gen_time.replace(microsecond=0)
    unit = _unit(ca.der(tsa.cert), tsa.key, tuple(ca.der(c) for c in chain))
    tst_info = _tst_info(parsed, tsa=unit.cert, policy=policy, gen_time=gen_time, serial=serial, accuracy=accuracy)
    token = _token(tst_info, unit=unit, signing_time=gen_time, include_certs=bool(parsed["cert_req"].native))
    status = tsp.PKIStatusInfo({"status": "granted"})
    return bytes(tsp.TimeStampResp({"status": status, "time_stamp_token": token}).dump())


def _utc_now() -> datetime:
    return datetime.now(UTC)


class LocalTimeStamper(TimeStamper):
    """A pyhanko time-stamp client whose tokens come from ``timestamp_response`` in this process.

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
        status = _TimeStampResp.load(response)["status"]
        if status["status"].native != "granted":
            failures = ", ".join(sorted(status["fail_info"].native or ()))
            texts = "; ".join(status["status_string"].native or ())
            raise TimestampRequestError(f"the time-stamping unit refused the request ({failures}): {texts}")
        return tsp.TimeStampResp.load(response)
