"""What makes the file PDF/A-2b (ISO 19005-2, level B): identification and metadata in XMP, an sRGB output intent.

The rest of the level-B rules are kept by how ``pdffile`` writes the file: every font embedded (subset TrueType,
symbolic, one cmap subtable, no Encoding entry), only DeviceRGB colours (allowed with an RGB output intent), no
transparency, annotations, actions or encryption, a document ID in the trailer, an EOL before every
``endstream``, an unfiltered metadata stream. The XMP packet and the Info dictionary are written by pyhanko's
metadata model from one ``DocumentMetadata``, so they agree entry by entry (§6.6.3), and pyhanko keeps them
agreeing when it signs the file later (the identification survives; ModifyDate and Producer are updated in both,
and the Info dictionary has no ModDate to fall behind). Keywords are left out: pyhanko writes them as
``pdf:keywords``, a property the PDF schema does not define.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from PIL import ImageCms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.metadata import model
from pyhanko.pdf_utils.writer import BasePdfFileWriter

PART = "2"
CONFORMANCE = "B"
OUTPUT_CONDITION = "sRGB IEC61966-2.1"


@dataclass(frozen=True)
class Metadata:
    """The document-level facts recorded in XMP and in the Info dictionary."""

    title: str
    author: str
    subject: str
    created: datetime
    language: str = "zh-CN"
    creator: str = "esign"


@lru_cache(maxsize=1)
def srgb_profile() -> bytes:
    """An sRGB ICC profile (display class, version 4, built by LittleCMS through Pillow)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _pdfaid(name: str) -> model.ExpandedName:
    return model.ExpandedName(ns=model.NS["pdfaid"], local_name=name)


def make_archival(writer: BasePdfFileWriter, metadata: Metadata) -> None:
    """Add the output intent, the language and the metadata to a document about to be written."""
    profile = generic.StreamObject({pdf_name("/N"): generic.NumberObject(3)}, stream_data=srgb_profile())
    profile.compress()
    writer.root[pdf_name("/OutputIntents")] = generic.ArrayObject(
        [
            generic.DictionaryObject(
                {
                    pdf_name("/Type"): pdf_name("/OutputIntent"),
                    pdf_name("/S"): pdf_name("/GTS_PDFA1"),
                    pdf_name("/OutputConditionIdentifier"): generic.TextStringObject(OUTPUT_CONDITION),
                    pdf_name("/RegistryName"): generic.TextStringObject("http://www.color.org"),
                    pdf_name("/Info"): generic.TextStringObject(OUTPUT_CONDITION),
                    pdf_name("/DestOutputProfile"): writer.add_object(profile),
                }
            )
        ]
    )
    writer.root[pdf_name("/Lang")] = generic.TextStringObject(metadata.language)

    created = metadata.created.replace(microsecond=0)
    writer.set_info(
        generic.DictionaryObject(
            {
                pdf_name("/Title"): generic.TextStringObject(metadata.title),
                pdf_name("/Author"): generic.TextStringObject(metadata.author),
                pdf_name("/Subject"): generic.TextStringObject(metadata.subject),
                pdf_name("/Creator"): generic.TextStringObject(metadata.creator),
                pdf_name("/CreationDate"): generic.pdf_date(created),
            }
        )
    )
    meta = writer.document_meta
    meta.title = metadata.title
    meta.author = metadata.author
    meta.subject = metadata.subject
    meta.creator = metadata.creator
    meta.created = created
    meta.xmp_extra = [
        model.XmpStructure.of(
            (_pdfaid("part"), model.XmpValue(PART)),
            (_pdfaid("conformance"), model.XmpValue(CONFORMANCE)),
        ),
        model.XmpStructure.of(
            (
                model.ExpandedName(ns=model.NS["dc"], local_name="language"),
                model.XmpValue(model.XmpArray.unordered([model.XmpValue(metadata.language)])),
            ),
        ),
    ]
