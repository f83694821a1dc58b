"""Long-term validation material added to a signed PDF: DSS updates and document time-stamps.

ETSI EN 319 142-1 §5.4 (PAdES B-LT, B-LTA) puts the validation data into the document security store and
protects it with document time-stamps. What a later verifier can accept is decided by ETSI EN 319 102-1:
revocation data is fresh when it was issued after the time it vouches for (§5.2.5.4, the "best signature
time" of the signature or time-stamp made with the certificate, as EU DSS's default policy reads it), and
time-stamps are proofs of existence for everything they cover (§5.6.2.4). So every piece of revocation data
is produced *after* the time-stamp it has to cover, and the last of it is added after the last time-stamp:

1. a DSS update with revocation data, issued now, for the signer's chain and the signature time-stamp's unit;
2. a document time-stamp over it;
3. a DSS update with revocation data, issued after that document time-stamp, for its unit's chain.

:func:`add_archive_timestamp` makes steps 1–3 in two incremental updates: 1 and 2 share one, the DSS written
before the time-stamp's byte range is digested, so the time-stamp covers it (pyhanko's
``TimestampDSSContentSettings.update_before_ts``); a revision fewer to read and write. Archive renewal
repeats the steps before the last time-stamp's certificate expires. The revocation data comes from a
:class:`RevocationSource` (the service's own CA answers in-process; see ``keys.validation_data``), so nothing
here goes online.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Protocol

from asn1crypto import cms, core, crl, ocsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.validation import DocumentSecurityStore
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from . import pdf

ARCHIVE_TIMESTAMP_FIELD = "ArchiveTimeStamp"
"""Prefix of document time-stamp field names: ``ArchiveTimeStamp1``, ``ArchiveTimeStamp2``, …"""


@dataclass(frozen=True)
class ValidationData:
    """Certificates, CRLs and OCSP responses for one DSS update (ISO 32000-2 §12.8.4.3)."""

    certs: tuple[asn1_x509.Certificate, ...] = ()
    crls: tuple[crl.CertificateList, ...] = ()
    ocsps: tuple[ocsp.OCSPResponse, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.certs or self.crls or self.ocsps)


class RevocationSource(Protocol):
    def __call__(self, certs: Sequence[asn1_x509.Certificate]) -> ValidationData:
        """Revocation data issued now for ``certs`` and the CAs above them (trust anchors need none), with the
        certificates a verifier needs to check it."""
        ...


def timestamp_time(signed_data: cms.SignedData) -> datetime:
    """genTime of an RFC 3161 token's TSTInfo (RFC 3161 §2.4.2)."""
    gen_time: datetime = signed_data["encap_content_info"]["content"].parsed["gen_time"].native
    return gen_time


def certificates_of(signed_data: cms.SignedData) -> list[asn1_x509.Certificate]:
    return [choice.chosen for choice in signed_data["certificates"] if choice.name == "certificate"]


def signature_certificates(es: EmbeddedPdfSignature) -> list[asn1_x509.Certificate]:
    """The certificates a signature's validation depends on: its own container's and those of the time-stamp
    tokens it carries (signature time-stamp, content time-stamp)."""
    tokens: list[cms.ContentInfo] = []
    signer_info = es.signer_info
    for attrs in (signer_info["unsigned_attrs"], signer_info["signed_attrs"]):
        if isinstance(attrs, core.Void):
            continue
        for attr in attrs:
            if attr["type"].native in ("signature_time_stamp_token", "content_time_stamp"):
                tokens += attr["values"]
    return made_certificates(certificates_of(es.signed_data), tokens)


def made_certificates(
    container: Iterable[asn1_x509.Certificate], tokens: Iterable[cms.ContentInfo]
) -> list[asn1_x509.Certificate]:
    """``signature_certificates`` of a signature just made, from what went into it: the certificates its
    container embeds (pyhanko's signer's certificate and registry) and the time-stamp tokens it received, so
    the file need not be read back."""
    return _unique([*container, *(c for token in tokens for c in certificates_of(token["content"]))])


def _unique(certs: Iterable[asn1_x509.Certificate]) -> list[asn1_x509.Certificate]:
    seen: dict[bytes, asn1_x509.Certificate] = {}
    for cert in certs:
        seen.setdefault(cert.sha256, cert)
    return list(seen.values())


def _supply(writer: IncrementalPdfFileWriter, validation: ValidationData) -> None:
    DocumentSecurityStore.supply_dss_in_writer(
        writer,
        None,
        certs=list(validation.certs),
        crls=list(validation.crls),
        ocsps=list(validation.ocsps),
    )


def add_validation_data(data: bytes, validation: ValidationData) -> bytes:
    """``data`` with one more incremental update that adds ``validation`` to the document security store."""
    out = io.BytesIO()
    write_validation_data(data, validation, out)
    return out.getvalue()


def write_validation_data(data: pdf.Source, validation: ValidationData, output: BinaryIO) -> None:
    """``add_validation_data`` from a stream to a stream."""
    writer = pdf.incremental_writer(data, validation_data=True)
    _supply(writer, validation)
    writer.write(output)


def _next_timestamp_field(reader: PdfFileReader) -> str:
    taken = {name for name, _, _ in fields.enumerate_sig_fields(reader)}
    n = 1
    while f"{ARCHIVE_TIMESTAMP_FIELD}{n}" in taken:
        n += 1
    return f"{ARCHIVE_TIMESTAMP_FIELD}{n}"


class KeptTokens(TimeStamper):
    """``timestamper``, keeping the tokens it gave, so the document need not be read again to find them."""

    def __init__(self, timestamper: TimeStamper) -> None:
        super().__init__()  # type: ignore[no-untyped-call]  # pyhanko leaves it untyped
        self._timestamper = timestamper
        self.tokens: list[cms.ContentInfo] = []

    async def async_dummy_response(self, md_algorithm: str) -> cms.ContentInfo:
        return await self._timestamper.async_dummy_response(md_algorithm)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> cms.ContentInfo:
        token = await self._timestamper.async_timestamp(message_digest, md_algorithm)
        self.tokens.append(token)
        return token


def _timestamp_document(
    data: pdf.Source,
    timestamper: TimeStamper,
    md_algorithm: str,
    output: BinaryIO,
    validation: ValidationData | None = None,
) -> cms.SignedData:
    """``timestamp_document`` into ``output``, with ``validation`` added to the DSS in the same update under the
    time-stamp; the SignedData of the token it embedded."""
    kept = KeptTokens(timestamper)
    writer = pdf.incremental_writer(data, validation_data=True)
    if validation:
        _supply(writer, validation)
    stamper = PdfTimeStamper(kept, field_name=_next_timestamp_field(writer.prev))
    stamper.timestamp_pdf(writer, md_algorithm, output=output)
    assert kept.tokens, "pyhanko embedded a time-stamp it did not ask for"
    return kept.tokens[-1]["content"]


def timestamp_document(data: bytes, timestamper: TimeStamper, *, md_algorithm: str = "sha256") -> bytes:
    """``data`` with a document time-stamp (ISO 32000-2 §12.8.5) over all of it, and no DSS change."""
    out = io.BytesIO()
    _timestamp_document(data, timestamper, md_algorithm, out)
    return out.getvalue()


def last_document_timestamp(data: bytes) -> EmbeddedPdfSignature:
    stamps: list[EmbeddedPdfSignature] = pdf.read(data).embedded_timestamp_signatures
    if not stamps:
        raise ValueError("the document has no document time-stamp")
    return stamps[-1]


def add_archive_timestamp(
    data: bytes,
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    certs: Sequence[asn1_x509.Certificate],
    md_algorithm: str = "sha256",
) -> bytes:
    """Steps 1–3 above: revocation data for ``certs`` (and their issuers), a document time-stamp over it, and
    revocation data for that time-stamp's unit, each issued after what it covers.

    ``certs`` are the certificates whose status must be proven at this point: for a new signature its
    :func:`signature_certificates`; for a renewal, those of the last document time-stamp (the earlier ones
    were proven when they were still current, and the new time-stamp preserves that proof, EN 319 102-1
    §5.6.2.4). Two incremental updates are appended; ``data`` stays a prefix of the result.
    """
    out = io.BytesIO()
    write_archive_timestamp(
        data, out, io.BytesIO(), timestamper=timestamper, revocation=revocation, certs=certs, md_algorithm=md_algorithm
    )
    return out.getvalue()


def write_archive_timestamp(
    data: pdf.Source,
    output: BinaryIO,
    scratch: BinaryIO,
    *,
    timestamper: TimeStamper,
    revocation: RevocationSource,
    certs: Sequence[asn1_x509.Certificate],
    md_algorithm: str = "sha256",
) -> None:
    """``add_archive_timestamp`` from a stream to ``output``, through ``scratch`` (the time-stamped revision)."""
    stamp = _timestamp_document(data, timestamper, md_algorithm, scratch, revocation(certs))
    write_validation_data(scratch, revocation(certificates_of(stamp)), output)
