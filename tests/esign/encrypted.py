"""Encrypted PDFs signed the way other software signs them: pyhanko encrypts a PDF (ISO 32000 standard
security handler) and then signs it in an incremental update that keeps the encryption."""

from __future__ import annotations

import io
from typing import Literal

from pyhanko.pdf_utils.crypt import StandardSecurityHandler, StandardSecuritySettingsRevision
from pyhanko.pdf_utils.crypt.permissions import StandardPermissions
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.writer import copy_into_new_writer
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer

Scheme = Literal["aes256", "aes128"]
"""AES-256 (revision 6, PDF 2.0, with a PDF MAC) or AES-128 (revision 4, PDF 1.6), which most office software
still writes."""

OWNER_PASSWORD = "owner-secret"
# Print and read aloud, nothing else: what an office suite's "restrict editing" usually sets.
PERMISSIONS = (
    StandardPermissions.ALLOW_PRINTING
    | StandardPermissions.ALLOW_HIGH_QUALITY_PRINTING
    | StandardPermissions.ALLOW_ASSISTIVE_TECHNOLOGY
)


def encrypt(pdf: bytes, *, user_password: str, scheme: Scheme) -> bytes:
    """``pdf`` encrypted with the owner password and ``user_password`` ("" opens without one)."""
    writer = copy_into_new_writer(PdfFileReader(io.BytesIO(pdf)))
    if scheme == "aes256":
        writer.encrypt(OWNER_PASSWORD, user_password, perms=PERMISSIONS)
    else:
        handler = StandardSecurityHandler.build_from_pw_legacy(
            StandardSecuritySettingsRevision.RC4_OR_AES128,
            writer.document_id[0],
            OWNER_PASSWORD,
            user_password,
            keylen_bytes=16,
            use_aes128=True,
            # Legacy files set every undefined high bit of /P, bit 13 (no PDF MAC expected) among them.
            perms=PERMISSIONS | StandardPermissions.TOLERATE_MISSING_PDF_MAC,
        )
        writer._assign_security_handler(handler)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def signed_encrypted(pdf: bytes, signer: Signer, *, user_password: str, scheme: Scheme) -> bytes:
    """``pdf`` encrypted, then signed (PAdES B-B) in an update encrypted the same way (ISO 32000-1 §7.6.1)."""
    writer = IncrementalPdfFileWriter(io.BytesIO(encrypt(pdf, user_password=user_password, scheme=scheme)))
    writer.encrypt(user_password)
    meta = PdfSignatureMetadata(field_name="Signature1", subfilter=SigSeedSubFilter.PADES)
    return PdfSigner(meta, signer).sign_pdf(writer).getvalue()
