"""Large stream payloads of a PDF read from a file stay in the file until their bytes are used."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfReadError

from esign import pdf, pyhanko_lazy
from esign.sign import sign_file
from esign.signers import KeySigner
from esign.trust import TrustSettings
from esign.verify import verify
from tests.hostile import classic

PAYLOAD = os.urandom(pyhanko_lazy.LAZY_ABOVE + 4096)


def _with_image(payload: bytes = PAYLOAD, declared: int | None = None) -> bytes:
    page = b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >> >>"
    image = (
        b"<< /Type /XObject /Subtype /Image /Width 1 /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
        % (len(payload))
        + b"/Length %d >>\nstream\n" % (declared if declared is not None else len(payload))
        + payload
        + b"\nendstream"
    )
    return classic([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>", page, image])


def _image(reader: object) -> generic.StreamObject:
    stream = reader.get_object(generic.Reference(4, 0))  # type: ignore[attr-defined]
    assert isinstance(stream, generic.StreamObject)
    return stream


def test_a_large_payload_of_a_file_is_read_only_when_used(tmp_path: Path) -> None:
    path = tmp_path / "image.pdf"
    path.write_bytes(_with_image())
    with path.open("rb") as source:
        image = _image(pdf.read(source))
        assert isinstance(image.__dict__["_esign_encoded_data"], pyhanko_lazy.Deferred), "not read with the object"
        assert image["/Height"] == len(PAYLOAD)
        assert image.encoded_data == PAYLOAD and image.data == PAYLOAD


def test_from_memory_the_payload_is_read_with_the_object() -> None:
    image = _image(pdf.read(_with_image()))
    assert type(image.__dict__["_esign_encoded_data"]) is bytes
    assert image.data == PAYLOAD


@pytest.mark.parametrize("extra", [-1, 1, 2, 100])
def test_a_wrong_length_reads_as_pyhanko_reads_it_from_memory(tmp_path: Path, extra: int) -> None:
    """pyhanko takes a /Length that runs one byte into ``endstream`` one shorter, and refuses other misses."""
    data = _with_image(declared=len(PAYLOAD) + extra)
    path = tmp_path / "wrong.pdf"
    path.write_bytes(data)
    try:
        expected: bytes | None = _image(pdf.read(data)).data
    except PdfReadError:
        expected = None
    with path.open("rb") as source:
        if expected is None:
            with pytest.raises(PdfReadError):
                _image(pdf.read(source))
        else:
            assert _image(pdf.read(source)).data == expected


def test_a_file_with_a_large_image_signed_and_verified_as_streams(
    tmp_path: Path, ec_signer: KeySigner, root_pem_path: Path
) -> None:
    source, signed = tmp_path / "image.pdf", tmp_path / "signed.pdf"
    source.write_bytes(_with_image())
    with source.open("rb") as reading, signed.open("w+b") as writing:
        sign_file(reading, writing, ec_signer)
    with signed.open("rb") as reading:
        report = verify(reading, TrustSettings.from_files([root_pem_path]))
    assert report.valid, report.summary_en
    assert report.size == signed.stat().st_size
    assert signed.read_bytes().startswith(source.read_bytes())
    assert verify(io.BytesIO(signed.read_bytes()), TrustSettings.from_files([root_pem_path])).valid
