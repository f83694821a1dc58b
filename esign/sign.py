"""Signing PDFs: PAdES baseline signatures added as incremental updates (ETSI EN 319 142-1).

``sign`` works on bytes and never rewrites what it was given: the input is always a prefix of the output,
so every earlier signature stays valid.
"""

from __future__ import annotations

import enum
import io
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import BinaryIO

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import LayoutError
from pyhanko.pdf_utils.misc import PdfError as PyhankoPdfError
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.sign import fields
from pyhanko.sign.ades.api import CAdESSignedAttrSpec
from pyhanko.sign.general import SigningError as PyhankoSigningError
from pyhanko.sign.signers import PdfSignatureMetadata, PdfSigner, Signer, constants
from pyhanko.sign.timestamps import TimeStamper

from . import errors, ltv, pdf, pdfa
from .appearance import Appearance, stamp_style
from .errors import SigningError
from .fonts import cjk_font


class PadesLevel(enum.StrEnum):
    """PAdES baseline levels, ETSI EN 319 142-1 §6."""

    B_B = "B-B"
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"

    @property
    def rank(self) -> int:
        return list(PadesLevel).index(self)


class Certification(enum.StrEnum):
    """DocMDP permission of a certification signature (ISO 32000-1 §12.8.2.2, Table 254)."""

    NO_CHANGES = "no_changes"
    FORM_FILLING = "form_filling"
    ANNOTATIONS = "annotations"

    @property
    def mdp(self) -> fields.MDPPerm:
        return {
            Certification.NO_CHANGES: fields.MDPPerm.NO_CHANGES,
            Certification.FORM_FILLING: fields.MDPPerm.FILL_FORMS,
            Certification.ANNOTATIONS: fields.MDPPerm.ANNOTATE,
        }[self]


@dataclass(frozen=True)
class SignOptions:
    """Everything about one signature except the key.

    ``level`` B-T and above need ``timestamper`` (an RFC 3161 client); B-LT and B-LTA also need ``revocation``,
    which issues the revocation data put into the DSS after the signature time-stamp (``esign.ltv``). With a
    time-stamp authority at hand, ``content_timestamp`` also puts a CAdES content-time-stamp among the
    signed attributes (ETSI EN 319 122-1 §5.2.8): proof that the signature was made after that time, which
    is what lets a verifier say REVOKED rather than "cannot tell" for a signature made after revocation.
    ``certify`` makes this the document's certification signature with that DocMDP permission;
    ``None`` makes an approval signature. ``appearance`` ``None`` makes the signature invisible.
    """

    level: PadesLevel = PadesLevel.B_B
    field_name: str | None = None
    reason: str | None = None
    location: str | None = None
    contact: str | None = None
    signer_name: str | None = None
    certify: Certification | None = None
    appearance: Appearance | None = None
    digest_algorithm: str = "sha256"
    content_timestamp: bool = True
    timestamper: TimeStamper | None = field(default=None, compare=False)
    revocation: ltv.RevocationSource | None = field(default=None, compare=False)


# Signed attributes, SignerInfo and SignedData framing come to well under 1 KiB in practice.
_CMS_OVERHEAD = 1024
_TIMESTAMP_ALLOWANCE = 12288


def _signature_length(signer: Signer) -> int:
    key = signer.signing_cert.public_key if signer.signing_cert is not None else None
    if key is None:
        return 512
    if key.algorithm == "rsa":
        return int(key.bit_size) // 8
    if key.algorithm == "ec":
        return 2 * ((int(key.bit_size) + 7) // 8) + 9  # DER SEQUENCE of two INTEGERs, at most
    return 512


def reserved_size(signer: Signer, level: PadesLevel, *, content_timestamp: bool = False) -> int:
    """Bytes to reserve for the signature container, from the certificates it will embed.

    Computing it avoids pyhanko's dry-run signature (a second private-key operation per document).
    The hex encoding in /Contents doubles every byte.
    """
    size = sum(len(c.dump()) for c in _container_certificates(signer)) + _signature_length(signer) + _CMS_OVERHEAD
    if level.rank >= PadesLevel.B_T.rank:
        size += _TIMESTAMP_ALLOWANCE * (2 if content_timestamp else 1)
    return 2 * size


class _Pdf17Signer(PdfSigner):
    """A ``PdfSigner`` that keeps a PDF/A-1/2/3 document on PDF 1.7.

    pyhanko declares ISO/TS 32001 (SHA-3) and ISO/TS 32002 (ECDSA curves, EdDSA), both extensions of PDF 2.0,
    whenever the algorithms allow, and raises the catalogue's ``/Version`` to 2.0 for them: an ECDSA P-256
    signature made a PDF/A-2b file claim PDF 2.0. ETSI EN 319 142-1 §5.1 builds PAdES on ISO 32000-1 and has
    it announced by the ESIC developer extension (``/Extensions /ESIC``, base version 1.7), with algorithms
    from ETSI TS 119 312, so on such a file only that extension is declared and ``/Version`` stays at 1.7.
    """

    def register_extensions(self, pdf_out: BasePdfFileWriter, *, md_algorithm: str) -> None:
        pdf_out.ensure_output_version(version=(1, 7))
        pdf_out.register_extension(constants.ESIC_EXTENSION_1)


def _next_field_name(reader_fields: list[str]) -> str:
    taken = set(reader_fields)
    n = 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def sign(data: bytes, signer: Signer, options: SignOptions = SignOptions()) -> bytes:
    """Sign ``data`` with ``signer``; the result is ``data`` followed by one incremental update."""
    out = io.BytesIO()
    sign_into(data, out, signer, options, scratch=io.BytesIO)
    return out.getvalue()


def sign_file(source: BinaryIO, output: BinaryIO, signer: Signer, options: SignOptions = SignOptions()) -> None:
    """``sign`` from a file to a file: pyhanko reads ``source`` and writes ``output`` in chunks, and the
    revisions B-LT and B-LTA add go through temporary files, so no copy of the document is held in memory."""
    sign_into(source, output, signer, options, scratch=tempfile.TemporaryFile)


def sign_into(
    data: pdf.Source,
    output: BinaryIO,
    signer: Signer,
    options: SignOptions,
    *,
    scratch: Callable[[], BinaryIO],
) -> None:
    """``sign`` writing to ``output``; ``scratch`` makes the streams that hold the revisions in between."""
    if options.level.rank >= PadesLevel.B_T.rank and options.timestamper is None:
        raise SigningError(f"PAdES {options.level} needs a time-stamp authority")
    if options.level.rank >= PadesLevel.B_LT.rank and options.revocation is None:
        raise SigningError(f"PAdES {options.level} needs a source of revocation data")

    writer = pdf.incremental_writer(data)
    try:
        existing = {name: value for name, value, _ in fields.enumerate_sig_fields(writer.prev)}
    except pdf.PARSE_ERRORS as e:
        raise errors.PdfMalformed(f"the PDF's form fields cannot be read: {e}") from e
    field_name = options.field_name or _next_field_name(list(existing))
    if existing.get(field_name) is not None:
        raise SigningError(f"signature field {field_name!r} is already signed")

    field_spec = None
    style = None
    if options.appearance is not None:
        appearance = options.appearance
        page_count = int(writer.prev.root["/Pages"]["/Count"])
        page = appearance.page - 1 if appearance.page > 0 else page_count + appearance.page
        if not 0 <= page < page_count:
            raise SigningError(f"page {appearance.page} does not exist; the document has {page_count}")
        if field_name not in existing:
            field_spec = fields.SigFieldSpec(
                sig_field_name=field_name,
                on_page=page,
                box=tuple(round(v) for v in appearance.box),  # type: ignore[arg-type]
            )
        style = stamp_style(appearance, font_path=cjk_font(), reason=options.reason)

    timestamped = options.level.rank >= PadesLevel.B_T.rank
    stamped_content = timestamped and options.content_timestamp
    meta = PdfSignatureMetadata(
        field_name=field_name,
        md_algorithm=options.digest_algorithm,
        reason=options.reason,
        location=options.location,
        contact_info=options.contact,
        name=options.signer_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        certify=options.certify is not None,
        docmdp_permissions=options.certify.mdp if options.certify else fields.MDPPerm.FILL_FORMS,
        cades_signed_attr_spec=CAdESSignedAttrSpec(timestamp_content=True) if stamped_content else None,
    )
    archival = pdfa.identification(writer.prev)
    tokens = ltv.KeptTokens(options.timestamper) if timestamped and options.timestamper is not None else None
    pdf_signer = (_Pdf17Signer if archival is not None and archival.on_pdf_1 else PdfSigner)(
        meta,
        signer,
        timestamper=tokens,
        stamp_style=style,
        new_field_spec=field_spec,
    )
    params = _text_params(signer)
    long_term = options.level.rank >= PadesLevel.B_LT.rank
    with ExitStack() as streams:
        signed = streams.enter_context(scratch()) if long_term else output
        try:
            _sign_pdf(
                pdf_signer,
                writer,
                signed,
                reserved_size(signer, options.level, content_timestamp=stamped_content),
                params,
            )
        except PyhankoSigningError as e:
            if not str(e).startswith("Final ByteRange payload larger than expected"):
                raise SigningError(str(e)) from e
            # The container outgrew the computed reservation (an unusually large time-stamp token, say):
            # sign again and let pyhanko size it with a dry run.
            signed.seek(0)
            signed.truncate()
            if tokens is not None:
                tokens.tokens.clear()
            _sign_pdf(pdf_signer, pdf.incremental_writer(data), signed, None, params)
        if long_term:
            assert tokens is not None
            certs = ltv.made_certificates(_container_certificates(signer), tokens.tokens)
            _long_term(signed, output, streams.enter_context(scratch()), certs, options)


def _container_certificates(signer: Signer) -> list[asn1_x509.Certificate]:
    """The certificates pyhanko puts into the signature's container (``Signer._package_signature``)."""
    registry = [c for c in signer.cert_registry if signer.embed_roots or c.self_signed == "no"]
    return [c for c in (signer.signing_cert, *registry) if c is not None]


def _long_term(
    signed: BinaryIO, output: BinaryIO, scratch: BinaryIO, certs: list[asn1_x509.Certificate], options: SignOptions
) -> None:
    """B-LT: revocation data issued after the signature time-stamp in a DSS update; B-LTA: that, a document
    time-stamp, and revocation data for its unit issued after it (``esign.ltv``). ``certs``: those the new
    signature's validation depends on (``ltv.made_certificates``)."""
    assert options.revocation is not None and options.timestamper is not None
    try:
        if options.level is PadesLevel.B_LT:
            ltv.write_validation_data(signed, options.revocation(certs), output)
            return
        ltv.write_archive_timestamp(
            signed,
            output,
            scratch,
            timestamper=options.timestamper,
            revocation=options.revocation,
            certs=certs,
            md_algorithm=options.digest_algorithm,
        )
    except PyhankoPdfError as e:
        raise SigningError(f"the validation data cannot be added: {e}") from e


def _text_params(signer: Signer) -> dict[str, str]:
    """What the signature block prints beside pyhanko's ``signer`` and ``ts``: the certificate's organisation."""
    subject = signer.signing_cert.subject.native if signer.signing_cert is not None else {}
    organisation = subject.get("organization_name")
    if isinstance(organisation, list):
        organisation = " ".join(organisation)
    return {"organisation": organisation} if organisation else {}


def _sign_pdf(
    pdf_signer: PdfSigner,
    writer: IncrementalPdfFileWriter,
    out: BinaryIO,
    bytes_reserved: int | None,
    params: dict[str, str],
) -> None:
    try:
        pdf_signer.sign_pdf(
            writer, output=out, bytes_reserved=bytes_reserved, in_place=False, appearance_text_params=params
        )
    except LayoutError as e:
        raise SigningError(f"the signature appearance does not fit: {e}") from e
    except PyhankoPdfError as e:
        raise SigningError(f"the PDF cannot be signed: {e}") from e
