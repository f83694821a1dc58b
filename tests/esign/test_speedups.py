"""The drop-ins in esign.pyhanko_speedups must agree with the pyhanko functions they replace."""

from __future__ import annotations

import asyncio
import io
import random
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, core, tsp, x509
from pyhanko.pdf_utils import generic, misc
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.xref import XRefCache
from pyhanko.sign.ades.api import CAdESSignedAttrSpec, GenericCommitment
from pyhanko.sign.general import as_signing_certificate_v2
from pyhanko.sign.signers import Signer
from pyhanko.sign.signers.pdf_cms import PdfCMSSignedAttributes
from pyhanko.sign.timestamps import TimeStamper

from esign import pyhanko_speedups as speedups
from esign.sign import SignOptions, sign
from esign.signers import KeySigner, to_asn1
from tests.pki import TestPki


def _outcome(reader, data: bytes):
    stream = io.BytesIO(data)
    try:
        value = reader(stream)
    except misc.PdfStreamError as e:
        return ("error", type(e).__name__)
    return (bytes(value.original_bytes), stream.tell())


CASES = [
    b"<>",
    b"<48656c6c6f>rest",
    b"<48 65\n6c\r6c\t6f\x00>",
    b"<486>",
    b"<abcDEF09>",
    b"<48656x6c6f>",
    b"<4865",
    b"<48 % a comment\n 65>",
    b"<" + b"0" * 20000 + b">trailing",
    b"<" + b"a1" * 70000 + b"  >",
]


@pytest.mark.parametrize("data", CASES)
def test_hex_strings_read_the_same(data: bytes) -> None:
    assert _outcome(speedups.read_hex_string, data) == _outcome(speedups._original_read_hex_string, data)


def test_random_hex_strings_read_the_same() -> None:
    rng = random.Random(20261123)
    alphabet = b"0123456789abcdefABCDEF \n\r\t\x00%gz>"
    for _ in range(2000):
        body = bytes(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        data = b"<" + body + (b">" if rng.random() < 0.9 else b"") + b"tail"
        assert _outcome(speedups.read_hex_string, data) == _outcome(speedups._original_read_hex_string, data), data


@pytest.fixture(scope="module")
def certs() -> list[x509.Certificate]:
    pki = TestPki.create()
    other = TestPki.create("another authority")
    return [to_asn1(c.cert) for c in (pki.signer("甲"), pki.signer("乙"), pki.issuing, other.signer("丙"), other.root)]


def test_issuer_serial_matching_agrees(certs: list[x509.Certificate], ec_signer: KeySigner) -> None:
    for expected_cert in certs:
        ias = cms.IssuerAndSerialNumber({"issuer": expected_cert.issuer, "serial_number": expected_cert.serial_number})
        ess = as_signing_certificate_v2(expected_cert)["certs"][0]["issuer_serial"]
        for candidate in certs:
            for expected in (ias, ess):
                assert speedups.match_issuer_serial(expected, candidate) == speedups._original_match_issuer_serial(
                    expected, candidate
                )
                assert speedups.match_issuer_serial(expected, candidate) == (candidate is expected_cert)


def test_issuer_serial_with_a_foreign_general_name_falls_back(certs: list[x509.Certificate]) -> None:
    cert = certs[0]
    odd = tsp.IssuerSerial(
        {
            "issuer": [x509.GeneralName({"dns_name": "example.org"})],
            "serial_number": cert.serial_number,
        }
    )
    assert speedups.match_issuer_serial(odd, cert) is False
    assert speedups._original_match_issuer_serial(odd, cert) is False


def _signed_cms(pdf: bytes, signer: KeySigner) -> bytes:
    from esign.sign import SignOptions, sign

    signed = sign(pdf, signer, SignOptions())
    [embedded] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    contents = bytes(embedded.sig_object["/Contents"])
    return cms.ContentInfo.load(contents).dump()  # without the zero padding


@pytest.mark.parametrize("parse", ["speedup", "asn1crypto"])
def test_a_parsed_structure_reads_and_dumps_the_same(
    parse: str, ec_signer: KeySigner, one_page_pdf: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    der = _signed_cms(one_page_pdf, ec_signer)
    expected = cms.ContentInfo.load(der).native  # as installed
    function = speedups.parse_children if parse == "speedup" else speedups._original_parse_children
    monkeypatch.setattr(core.Sequence, "_parse_children", function)
    info = cms.ContentInfo.load(der)
    assert info.native == expected
    [signer_info] = info["content"]["signer_infos"]
    [ess] = [a for a in signer_info["signed_attrs"] if a["type"].native == "signing_certificate_v2"]
    cert_id = ess["values"][0]["certs"][0]
    assert cert_id["hash_algorithm"]["algorithm"].native == "sha256"  # the DEFAULT, absent from the encoding
    assert cert_id["hash_algorithm"].dump() == algos.DigestAlgorithm({"algorithm": "sha256"}).dump()
    # asn1crypto alone counts the filled-in default as a change and re-encodes the whole structure.
    assert info._is_mutated() is (parse == "asn1crypto")
    assert info.dump() == der
    assert (
        signer_info["signed_attrs"].dump()
        == cms.ContentInfo.load(der)["content"]["signer_infos"][0]["signed_attrs"].dump()
    )


def test_a_filled_in_default_changed_afterwards_is_encoded(certs: list[x509.Certificate]) -> None:
    der = as_signing_certificate_v2(certs[0]).dump()
    value = tsp.SigningCertificateV2.load(der)
    assert value["certs"][0]["hash_algorithm"]["algorithm"].native == "sha256"
    assert value.dump() == der
    value["certs"][0]["hash_algorithm"]["algorithm"] = "sha512"
    changed = value.dump()
    assert changed != der
    assert tsp.SigningCertificateV2.load(changed)["certs"][0]["hash_algorithm"]["algorithm"].native == "sha512"


def test_the_engine_installs_them() -> None:
    import esign.sign  # noqa: F401  # installs them, through esign.pdf

    assert core.Sequence._parse_children is speedups.parse_children
    assert XRefCache.get_introducing_revision is speedups.introducing_revision


def test_introducing_revisions_agree(one_page_pdf: bytes, ec_signer: KeySigner) -> None:
    data = sign(sign(one_page_pdf, ec_signer, SignOptions()), ec_signer, SignOptions(field_name="Second"))
    reader = PdfFileReader(io.BytesIO(data))
    refs = {
        ref
        for revision in range(reader.xrefs.total_revisions)
        for ref in reader.xrefs.explicit_refs_in_revision(revision)
    }
    assert reader.xrefs.total_revisions == 3 and len(refs) > 10
    for _ in range(2):  # the second time from what was kept
        for ref in refs:
            assert speedups.introducing_revision(reader.xrefs, ref) == speedups._original_introducing_revision(
                reader.xrefs, ref
            )
    unknown = generic.Reference(10_000, 0)
    for _ in range(2):
        with pytest.raises(KeyError):
            speedups.introducing_revision(reader.xrefs, unknown)


class _FixedTokens(TimeStamper):
    """Always the same token: the content time-stamp attribute is then the same in both encodings."""

    def __init__(self, token: cms.ContentInfo) -> None:
        super().__init__()
        self._token = token

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        return self._token

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        return self._token


@pytest.mark.parametrize("pades", [True, False])
@pytest.mark.parametrize("content_timestamp", [False, True])
def test_the_signed_attributes_are_pyhankos_byte_for_byte(
    pades: bool, content_timestamp: bool, ec_signer: KeySigner, one_page_pdf: bytes
) -> None:
    """``ReusedAttributes.signed_attrs`` encodes what pyhanko's ``Signer.signed_attrs`` does, from the same
    providers: signing-certificate-v2, the signing time outside PAdES, commitment type, content time-stamp."""
    signed = sign(one_page_pdf, ec_signer, SignOptions())
    [embedded] = PdfFileReader(io.BytesIO(signed)).embedded_signatures
    token = cms.ContentInfo.load(bytes(embedded.sig_object["/Contents"]).rstrip(b"\0"))
    settings = PdfCMSSignedAttributes(
        signing_time=datetime(2026, 12, 6, 8, 0, tzinfo=UTC),
        cades_signed_attrs=CAdESSignedAttrSpec(
            timestamp_content=content_timestamp,
            commitment_type=GenericCommitment.PROOF_OF_APPROVAL.asn1,
        ),
    )
    arguments = {
        "data_digest": bytes(range(32)),
        "digest_algorithm": "sha256",
        "attr_settings": settings,
        "use_pades": pades,
        "timestamper": _FixedTokens(token),
    }
    ours = asyncio.run(ec_signer.signed_attrs(**arguments))
    theirs = asyncio.run(Signer.signed_attrs(ec_signer, **arguments))
    assert ours.dump() == theirs.dump()
    kinds = {attr["type"].native for attr in ours}
    assert {"content_type", "message_digest", "signing_certificate_v2", "commitment_type"} <= kinds
    assert ("signing_time" in kinds) is not pades
    assert ("content_time_stamp" in kinds) is content_timestamp
