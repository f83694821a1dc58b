"""Tokens spliced from pre-encoded DER are the tokens asn1crypto builds, and the quick request reader agrees
with the full decoding on every request it takes (``openssl ts -verify`` and pyhanko: ``test_tsa.py``)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.signers.pdf_cms import select_suitable_signing_md

from esign.signers import KeySigner
from keys import ca, tsa_request
from keys.ca import Authority, KeyKind, PkiUrls, Profile
from keys.tsa import TimeStampingUnit

URLS = PkiUrls("http://127.0.0.1:8000")
ORG = "测试省人民政府"
POLICY = "2.25.171802334187214520950305633593547016405"
POLICY_OID = bytes(core.ObjectIdentifier(POLICY).contents)


@pytest.fixture(scope="module")
def chain() -> tuple[Authority, Authority]:
    root = ca.new_root("Test Root CA", organisation=ORG, urls=URLS)
    issuing = ca.new_subordinate(
        root, profile=Profile.ISSUING_CA, common_name="Test Issuing CA", organisation=ORG, urls=URLS
    )
    return issuing, root


@pytest.fixture(scope="module", params=["ec", "rsa"])
def tsa(chain: tuple[Authority, Authority], request: pytest.FixtureRequest) -> Authority:
    kind: KeyKind = request.param
    return ca.new_subordinate(
        chain[0], profile=Profile.TSA, common_name=f"Test TSA {kind}", organisation=ORG, urls=URLS, kind=kind
    )


def _request(
    *,
    nonce: int | None = 0x1234567890ABCDEF,
    cert_req: bool = True,
    policy: str | None = None,
    algorithm: str = "sha256",
) -> bytes:
    fields: dict[str, object] = {
        "version": 1,
        "message_imprint": {
            "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
            "hashed_message": hashlib.new(algorithm, b"x").digest(),
        },
        "cert_req": cert_req,
    }
    if nonce is not None:
        fields["nonce"] = nonce
    if policy is not None:
        fields["req_policy"] = policy
    return tsp.TimeStampReq(fields).dump()


def _reference(
    request_der: bytes,
    response_der: bytes,
    *,
    tsa: Authority,
    chain: tuple[Authority, Authority],
    gen_time: datetime,
    serial: int,
    accuracy: tsp.Accuracy | None,
) -> bytes:
    """The TimeStampResp asn1crypto builds from the same fields, with the signature of ``response_der``."""
    request = tsp.TimeStampReq.load(request_der)
    tsa_cert = asn1_x509.Certificate.load(ca.der(tsa.cert))
    fields: dict[str, object] = {
        "version": "v1",
        "policy": POLICY,
        "message_imprint": request["message_imprint"],
        "serial_number": serial,
        "gen_time": gen_time,
        "tsa": asn1_x509.GeneralName(name="directory_name", value=tsa_cert.subject),
    }
    if accuracy is not None:
        fields["accuracy"] = accuracy
    if request["nonce"].native is not None:
        fields["nonce"] = request["nonce"]
    content = tsp.TSTInfo(fields).dump()
    digest_algorithm = select_suitable_signing_md(tsa_cert.public_key)
    signing_time = (
        cms.Time(name="utc_time", value=core.UTCTime(gen_time))
        if gen_time.year < 2050
        else cms.Time(name="generalized_time", value=core.GeneralizedTime(gen_time))
    )
    signed_attrs = cms.CMSAttributes(
        [
            simple_cms_attribute("content_type", "tst_info"),
            simple_cms_attribute("message_digest", hashlib.new(digest_algorithm, content).digest()),
            simple_cms_attribute("signing_time", signing_time),
            simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(tsa_cert)),
        ]
    )
    served = tsp.TimeStampResp.load(response_der)["time_stamp_token"]["content"]
    [served_signer] = served["signer_infos"]
    signer_info = KeySigner(tsa.key, tsa_cert).signer_info(
        digest_algorithm, signed_attrs, served_signer["signature"].native
    )
    signed_data: dict[str, object] = {
        "version": "v3",
        "digest_algorithms": [algos.DigestAlgorithm({"algorithm": digest_algorithm})],
        "encap_content_info": {"content_type": "tst_info", "content": cms.ParsableOctetString(content)},
        "signer_infos": [signer_info],
    }
    if request["cert_req"].native:
        certs = [tsa_cert, *(asn1_x509.Certificate.load(ca.der(a.cert)) for a in chain)]
        signed_data["certificates"] = [cms.CertificateChoices(name="certificate", value=c) for c in certs]
    token = cms.ContentInfo({"content_type": "signed_data", "content": cms.SignedData(signed_data)})
    return bytes(tsp.TimeStampResp({"status": {"status": "granted"}, "time_stamp_token": token}).dump())


@pytest.mark.parametrize(
    ("request_der", "gen_time", "accuracy"),
    [
        (_request(), datetime(2026, 11, 23, 9, 30, 1, 250_000, tzinfo=UTC), timedelta(seconds=1)),
        (_request(nonce=None, cert_req=False), datetime(2026, 1, 1, tzinfo=UTC), timedelta(seconds=1)),
        (_request(policy=POLICY, algorithm="sha512"), datetime(2030, 6, 1, tzinfo=UTC), timedelta(seconds=2)),
        (_request(nonce=-5), datetime(2026, 3, 4, 5, 6, 7, 891_230, tzinfo=UTC), timedelta(milliseconds=1)),
        (_request(), datetime(2051, 2, 3, 4, 5, 6, tzinfo=UTC), timedelta(seconds=1)),
    ],
    ids=["usual", "bare", "policy_sha512", "fine_accuracy", "year_2051"],
)
def test_a_token_is_byte_for_byte_what_asn1crypto_builds(
    tsa: Authority,
    chain: tuple[Authority, Authority],
    request_der: bytes,
    gen_time: datetime,
    accuracy: timedelta,
) -> None:
    unit = TimeStampingUnit(tsa, [a.cert for a in chain], policy=POLICY, accuracy=accuracy)
    response = unit.respond(request_der, now=gen_time, serial=0x7F_0102)
    whole = accuracy >= timedelta(seconds=1)
    expected_time = gen_time.replace(microsecond=0) if whole else gen_time
    seconds, rest = divmod(accuracy, timedelta(seconds=1))
    present = {
        name: value
        for name, value in (
            ("seconds", seconds),
            ("millis", rest.microseconds // 1000),
            ("micros", rest.microseconds % 1000),
        )
        if value
    }
    reference = _reference(
        request_der,
        response,
        tsa=tsa,
        chain=chain,
        gen_time=expected_time,
        serial=0x7F_0102,
        accuracy=tsp.Accuracy(present),
    )
    assert response == reference
    assert tsp.TimeStampResp.load(response).dump(force=True) == response, "DER throughout"


def _variants(request: bytes) -> list[bytes]:
    cut = [request[:n] for n in range(len(request))]
    flipped = [request[:i] + bytes([request[i] ^ b]) + request[i + 1 :] for i in range(len(request)) for b in (1, 0x80)]
    return [request, *cut, *flipped, request + b"\x00"]


@pytest.mark.parametrize(
    "request_der",
    [
        _request(),
        _request(nonce=None, cert_req=False),
        _request(policy=POLICY, algorithm="sha384"),
        _request(policy="1.2.3.4"),
        _request(algorithm="sha1"),
    ],
    ids=["usual", "bare", "policy", "foreign_policy", "sha1"],
)
def test_the_quick_reader_takes_only_what_the_full_decoding_grants_alike(request_der: bytes) -> None:
    """Every request ``_walk`` reads, ``_decode`` grants with the same fields; the rest goes to ``_decode``."""
    quick = 0
    for variant in _variants(request_der):
        walked = tsa_request._walk(variant, POLICY_OID)
        if walked is not None:
            quick += 1
            assert tsa_request._decode(variant, POLICY) == walked, variant.hex()
    assert quick > 0 or tsa_request._walk(request_der, POLICY_OID) is None


def test_the_usual_requests_take_the_quick_way() -> None:
    """openssl writes NULL digest parameters, asn1crypto (and so pyhanko) none."""
    with_null = tsp.TimeStampReq.load(_request())
    with_null["message_imprint"]["hash_algorithm"] = algos.DigestAlgorithm(
        {"algorithm": "sha256", "parameters": core.Null()}
    )
    usual = [
        with_null.dump(force=True),
        _request(),
        _request(nonce=None),
        _request(policy=POLICY),
        _request(cert_req=False),
    ]
    for request_der in usual:
        assert isinstance(tsa_request._walk(request_der, POLICY_OID), tsa_request.Request)
    assert tsa_request._walk(_request(policy="1.2.3.4"), POLICY_OID) is None, "refused by the full decoding"
