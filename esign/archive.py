"""Archive time-stamps of a PDF: what the last one protects, and adding the next (PAdES B-LTA renewal).

A signature stays provable only as long as the last time-stamp that gives it proof of existence can itself be
validated (ETSI EN 319 102-1 §5.6.2.4): until its time-stamping unit's certificate expires, or until one of its
algorithms is no longer trusted. Before either happens, ETSI EN 319 142-1 §5.5 (B-LTA) and ETSI TS 119 511
(preservation by augmentation) have the archive extended: the validation material of the last time-stamp is
added to the document security store and a new document time-stamp covers it all, so every earlier time-stamp,
certificate, CRL and OCSP response gets proof of existence from the new one. This is what ``pyhanko sign
ltaupdate`` does to one file.

:func:`assess` reads what the last document time-stamp protects; :func:`append_archive_timestamp` is the one
function that adds the DSS update and the document time-stamp.
"""

from __future__ import annotations

import asyncio
import enum
import io
import logging
from dataclasses import dataclass
from datetime import datetime

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign.general import SigningError, extract_certificate_info
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.validation import DocumentSecurityStore, EmbeddedPdfSignature
from pyhanko.sign.validation.dss import collect_validation_info
from pyhanko.sign.validation.generic_cms import extract_tst_data_iter
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.errors import PathBuildingError, PathValidationError, ValidationError
from pyhanko_certvalidator.path import ValidationPath

from . import ltv, pdf
from .errors import EsignError

logger = logging.getLogger("esign.archive")

ARCHIVE_DIGEST = "sha256"
"""Digest of every archive time-stamp this service adds, whatever the last one used (a weak one is replaced)."""

_UNREADABLE: tuple[type[BaseException], ...] = (EsignError, *pdf.PARSE_ERRORS)

_DIGEST_STRENGTH = {"md2": 0, "md5": 1, "sha1": 2, "sha224": 3, "sha256": 4, "sha384": 5, "sha512": 6}


class Preservation(enum.StrEnum):
    """Where a document stands for long-term preservation."""

    UNSIGNED = "unsigned"
    """No signature and no document time-stamp: nothing to preserve."""
    UNPROTECTED = "unprotected"
    """Signed, but no document time-stamp covers every signature yet (B-B, B-T, B-LT, or signed after the last
    archive time-stamp)."""
    PROTECTED = "protected"
    """The last document time-stamp covers every signature and gives them proof of existence until its unit's
    certificate expires."""
    UNREADABLE = "unreadable"
    """The PDF cannot be parsed: nothing can be said or done."""


@dataclass(frozen=True)
class ArchiveStamp:
    """The last document time-stamp of a PDF: until when it protects, and with which algorithms."""

    protected_until: datetime
    """notAfter of its time-stamping unit's certificate."""
    digest: str
    """The weaker of its message imprint's and its signature's digest algorithm (``sha256``)."""
    key_type: str
    """The unit's key: ``rsa``, ``ec``, ``ed25519``..."""
    key_bits: int


@dataclass(frozen=True)
class Assessment:
    state: Preservation
    stamp: ArchiveStamp | None = None

    @property
    def protected_until(self) -> datetime | None:
        return self.stamp.protected_until if self.stamp else None


class RenewalError(EsignError):
    """The archive cannot be extended: its last time-stamp no longer validates (expired, revoked, unknown unit),
    or the time-stamping unit refused."""

    code = "archive_renewal_failed"


def _weaker(*digests: str) -> str:
    return min(digests, key=lambda d: _DIGEST_STRENGTH.get(d, -1))


def _stamp(timestamp: EmbeddedPdfSignature) -> ArchiveStamp:
    signed_data = timestamp.signed_data
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert isinstance(tst_info, tsp.TSTInfo)
    signer_info: cms.SignerInfo = signed_data["signer_infos"][0]
    cert = timestamp.signer_cert
    return ArchiveStamp(
        protected_until=cert.not_valid_after,
        digest=_weaker(
            tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native,
            signer_info["digest_algorithm"]["algorithm"].native,
        ),
        key_type=cert.public_key.algorithm,
        key_bits=cert.public_key.bit_size,
    )


def assess(data: pdf.Source) -> Assessment:
    """What the PDF's last document time-stamp protects; parsing only, no validation (cheap enough to run when
    every revision is stored)."""
    try:
        reader = pdf.read(data)
        timestamps = reader.embedded_timestamp_signatures
        signatures = reader.embedded_regular_signatures
        last = timestamps[-1] if timestamps else None
        if last is not None and all(s.signed_revision < last.signed_revision for s in signatures):
            return Assessment(Preservation.PROTECTED, _stamp(last))
        if signatures:
            return Assessment(Preservation.UNPROTECTED)
        return Assessment(Preservation.UNSIGNED)
    except _UNREADABLE as e:
        logger.info("cannot assess a PDF for preservation: %s", e)
        return Assessment(Preservation.UNREADABLE)


def certificates_to_cover(data: bytes) -> list[asn1_x509.Certificate]:
    """The end-entity certificates whose revocation status the next archive time-stamp must capture: the unit's
    of the last document time-stamp, and those of every signer it does not cover yet and of their signature
    time-stamps' units. Their status goes in as OCSP responses: a past validation (EN 319 102-1 §5.6.2.1) needs
    revocation data about the leaf whose issuer has proof of existence, which pyhanko finds for OCSP responses."""
    try:
        reader = pdf.read(data)
        timestamps = reader.embedded_timestamp_signatures
        last = timestamps[-1] if timestamps else None
        certs: list[asn1_x509.Certificate] = [last.signer_cert] if last is not None else []
        for signature in reader.embedded_regular_signatures:
            if last is not None and signature.signed_revision < last.signed_revision:
                continue
            certs.append(signature.signer_cert)
            for signed in (False, True):
                for token in extract_tst_data_iter(signature.signer_info, signed=signed):
                    certs.append(extract_certificate_info(token).signer_cert)
        return certs
    except _UNREADABLE as e:
        raise RenewalError(f"the PDF cannot be read: {e}") from e


async def _paths(
    targets: list[EmbeddedPdfSignature], context: ValidationContext, *, strict: bool
) -> list[ValidationPath]:
    """The certification paths, with their revocation data gathered in ``context``, of what the new archive
    time-stamp must keep provable. ``strict``: a path that does not validate now stops the renewal (the last
    time-stamp must still be valid when it is renewed, EN 319 102-1 §5.6.2.4); otherwise it is left out (a
    received document's foreign signer this service cannot vouch for still gets proof of existence)."""
    paths: list[ValidationPath] = []
    for target in targets:
        try:
            paths.extend(await collect_validation_info(target, context))
        except (PathBuildingError, PathValidationError, ValidationError) as e:
            if strict:
                raise RenewalError(f"the last archive time-stamp {target.field_name!r} no longer validates: {e}") from e
            logger.info("no validation data for %s: %s", target.field_name, e)
    return paths


async def _dss_for_last_and_uncovered(data: bytes, context: ValidationContext) -> bytes:
    reader = pdf.read(data)
    timestamps = reader.embedded_timestamp_signatures
    last = timestamps[-1] if timestamps else None
    paths = await _paths([last], context, strict=True) if last is not None else []
    uncovered = [
        s for s in reader.embedded_regular_signatures if last is None or s.signed_revision > last.signed_revision
    ]
    paths.extend(await _paths(uncovered, context, strict=False))
    output = io.BytesIO(data)
    writer = IncrementalPdfFileWriter(output, strict=False)
    DocumentSecurityStore.supply_dss_in_writer(writer, None, paths=paths, validation_context=context)
    writer.write_in_place()
    return output.getvalue()


def append_archive_timestamp(
    data: bytes, *, timestamper: TimeStamper, context: ValidationContext, revocation: ltv.RevocationSource
) -> bytes:
    """``data`` extended as ``esign.ltv`` describes: a DSS update with the validation material of its last
    document time-stamp and of the signatures it does not cover (gathered in ``context``: trust roots and
    current revocation data, offline), a new document time-stamp, and a DSS update with ``revocation``'s data
    for that time-stamp's unit, issued after it (EN 319 142-1 §5.5: the next renewal needs it). Runs its own
    event loop: call it outside any transaction, from synchronous code.
    """
    try:
        data = asyncio.run(_dss_for_last_and_uncovered(data, context))
        data = ltv.timestamp_document(data, timestamper, md_algorithm=ARCHIVE_DIGEST)
        stamp = ltv.last_document_timestamp(data)
        return ltv.add_validation_data(data, revocation(ltv.certificates_of(stamp.signed_data)))
    except (SigningError, TimestampRequestError) as e:
        raise RenewalError(f"the archive time-stamp could not be made: {e}") from e
    except pdf.PARSE_ERRORS as e:
        raise RenewalError(f"the PDF cannot be read: {e}") from e
