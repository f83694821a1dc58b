"""Documents and their revisions: every change to a document's PDF is a new, immutable revision."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from esign.db import Base
from esign.ids import new_id, now

from .render.content import Kind
from .states import DocumentState

__all__ = ["CHINA", "Direction", "Document", "Kind", "NumberSequence", "Reason", "Revision"]


CHINA = ZoneInfo("Asia/Shanghai")
"""Official dates (document numbers' years, deadlines) are Beijing dates."""


class Direction(enum.StrEnum):
    OUTGOING = "outgoing"
    INCOMING = "incoming"


class Reason(enum.StrEnum):
    """Why a revision exists."""

    RENDERED = "rendered"
    UPLOADED = "uploaded"
    NUMBERED = "numbered"
    SIGNED = "signed"
    SEALED = "sealed"
    RECEIVED = "received"
    PRESERVED = "preserved"
    """A DSS update and a document time-stamp extending the archive (``documents.preservation``)."""


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        UniqueConstraint("organisation_id", "number"),
        Index("ix_documents_protected_until", "protected_until"),
        Index("ix_documents_preservation", "preservation"),
        Index("ix_documents_register", "organisation_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    direction: Mapped[str] = mapped_column(String(20))
    title: Mapped[str] = mapped_column(String(500))
    number: Mapped[str | None] = mapped_column(String(100))
    secrecy: Mapped[str | None] = mapped_column(String(20))
    urgency: Mapped[str | None] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(30), default=DocumentState.DRAFT.value, doc="a DocumentState")
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    layout: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="where the number and the seal go")
    revision_count: Mapped[int] = mapped_column(Integer, default=0)
    flagged: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), doc="received with signatures that do not verify"
    )
    flag_override: Mapped[str | None] = mapped_column(String(500), doc="who registered it anyway, and why")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)
    updated_at: Mapped[datetime] = mapped_column(default=now)
    preservation: Mapped[str | None] = mapped_column(
        String(20), doc="an esign.archive.Preservation of the latest revision; None until assessed"
    )
    protected_until: Mapped[datetime | None] = mapped_column(
        doc="notAfter of the unit certificate of the latest revision's last document time-stamp"
    )
    archive_digest: Mapped[str | None] = mapped_column(String(20), doc="that time-stamp's weakest digest")
    archive_key_type: Mapped[str | None] = mapped_column(String(10), doc="its unit's key: rsa, ec, ...")
    archive_key_bits: Mapped[int | None] = mapped_column(Integer)
    archive_claimed_until: Mapped[datetime | None] = mapped_column(
        doc="a preservation worker's lease: others skip the document until then"
    )
    answer_to_id: Mapped[str | None] = mapped_column(
        String(36), unique=True, doc="a combined answer (``circulation.answers``): the request document it answers"
    )


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("document_id", "seq"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    seq: Mapped[int] = mapped_column(Integer, doc="1, 2, ... within the document")
    parent_id: Mapped[str | None] = mapped_column(ForeignKey("revisions.id"))
    sha256: Mapped[str] = mapped_column(String(64), doc="the PDF in the blob store")
    size: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(20))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    verification: Mapped[dict[str, Any] | None] = mapped_column(JSON, doc="report stored when received")
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)

    @property
    def has_verification(self) -> bool:
        return self.verification is not None


class NumberSequence(Base):
    """The last number given per organisation, prefix (机关代字) and year: the row lock makes numbers gap-free."""

    __tablename__ = "number_sequences"

    organisation_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    prefix: Mapped[str] = mapped_column(String(50), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)
