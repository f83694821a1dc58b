"""esign.ltv: the archive time-stamp's revocation data is for the unit of the token actually embedded."""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import x509 as asn1_x509

from esign import ltv
from esign.sign import SignOptions, sign
from esign.signers import KeySigner
from tests.esign.test_verify import _timestamper
from tests.pki import TestPki


def test_the_archive_time_stamps_unit_gets_the_last_revocation_data(
    ec_signer: KeySigner, one_page_pdf: bytes, pki: TestPki
) -> None:
    signed = sign(one_page_pdf, ec_signer, SignOptions())
    asked: list[list[bytes]] = []

    def revocation(certs: Sequence[asn1_x509.Certificate]) -> ltv.ValidationData:
        asked.append(sorted(c.sha256 for c in certs))
        return ltv.ValidationData()

    archived = ltv.add_archive_timestamp(
        signed, timestamper=_timestamper(pki), revocation=revocation, certs=[ec_signer.signing_cert]
    )
    assert archived.startswith(signed)
    stamp = ltv.last_document_timestamp(archived)
    assert stamp.field_name == f"{ltv.ARCHIVE_TIMESTAMP_FIELD}1"
    assert asked == [
        [ec_signer.signing_cert.sha256],
        sorted(c.sha256 for c in ltv.certificates_of(stamp.signed_data)),  # read back from the document
    ]
