"""The structured content of an official document (公文), element by element as GB/T 9704-2012 §7 names them."""

from __future__ import annotations

import datetime as dt
import enum
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Format(enum.StrEnum):
    """The layouts of GB/T 9704-2012: the general one (§7) and two of the special ones (§10)."""

    FILE = "file"
    """文件格式: mark 35 mm below the type area's top, red separator line under the number (§7.2)."""
    LETTER = "letter"
    """信函格式 (§10.1): mark 30 mm below the paper's top edge between red double lines, no page number on page 1."""
    MINUTES = "minutes"
    """纪要格式 (§10.3): the mark reads "×××纪要"; attendance lists after the body."""


class Kind(enum.StrEnum):
    NOTICE = "notice"
    REQUEST = "request"
    REPORT = "report"
    REPLY = "reply"
    LETTER = "letter"
    MINUTES = "minutes"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]

    @property
    def upward(self) -> bool:
        """上行文: sent to a superior body, so it names its 签发人 (§7.2.6)."""
        return self in (Kind.REQUEST, Kind.REPORT)

    @property
    def default_format(self) -> Format:
        if self is Kind.LETTER:
            return Format.LETTER
        if self is Kind.MINUTES:
            return Format.MINUTES
        return Format.FILE


_KIND_LABELS = {
    Kind.NOTICE: "通知",
    Kind.REQUEST: "请示",
    Kind.REPORT: "报告",
    Kind.REPLY: "批复",
    Kind.LETTER: "函",
    Kind.MINUTES: "纪要",
}

Secrecy = Literal["秘密", "机密", "绝密"]
Urgency = Literal["特急", "加急"]

_NUMBER = re.compile(r"^[^\s〔〕]+〔\d{4}〕[1-9]\d*号$")
_TRAILING_PUNCTUATION = tuple("，。、；：？！,.;:?!")


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)


class Paragraph(_Model):
    """A body paragraph: indented two characters, continuation lines flush left (§7.3.3)."""

    type: Literal["paragraph"] = "paragraph"
    text: str = Field(min_length=1, pattern=r"^[^\n]*$")


class Heading(_Model):
    """A numbered heading (§7.3.3): 一、 in Hei, （一） in Kai, 1． and （1） in the body face, numbered in order.

    ``body`` is text that runs on in the body face after the heading, in the same paragraph.
    """

    type: Literal["heading"] = "heading"
    level: int = Field(ge=1, le=4)
    text: str = Field(min_length=1, pattern=r"^[^\n]*$")
    body: str = Field(default="", pattern=r"^[^\n]*$")


class Table(_Model):
    """A table laid across the type area; its rows flow over pages, the first ``header_rows`` repeated on each."""

    type: Literal["table"] = "table"
    rows: list[list[str]] = Field(min_length=1)
    header_rows: int = Field(default=1, ge=0)
    widths: list[float] | None = Field(default=None, description="relative column widths; from the content if absent")

    @model_validator(mode="after")
    def _rectangular(self) -> Table:
        columns = len(self.rows[0])
        if columns == 0 or any(len(row) != columns for row in self.rows):
            raise ValueError("every table row needs the same, non-zero number of cells")
        if self.header_rows >= len(self.rows) and len(self.rows) > 1:
            raise ValueError("a table needs at least one row that is not a header")
        if self.widths is not None and (len(self.widths) != columns or any(w <= 0 for w in self.widths)):
            raise ValueError("widths needs one positive number per column")
        return self


Block = Annotated[Paragraph | Heading | Table, Field(discriminator="type")]


class Attachment(_Model):
    """An attachment: named in the attachment list (附件说明, §7.3.4); with ``blocks``, also laid out on pages of its
    own after the signature (§7.3.7)."""

    title: str = Field(min_length=1, pattern=r"^[^\n]*$")
    blocks: list[Block] = Field(default_factory=list)

    @model_validator(mode="after")
    def _no_final_punctuation(self) -> Attachment:
        if self.title.endswith(_TRAILING_PUNCTUATION):
            raise ValueError(f"attachment name {self.title!r} must not end with punctuation (GB/T 9704 §7.3.4)")
        return self


class Colophon(_Model):
    """版记 (§7.4): copy-to bodies (抄送), and the printing office (印发机关) and date (印发日期).

    The letter format prints only the copy-to line (§10.1).
    """

    copy_to: list[str] = Field(default_factory=list)
    printed_by: str | None = None
    printed_on: dt.date | None = None

    @model_validator(mode="after")
    def _printing_together(self) -> Colophon:
        if (self.printed_by is None) != (self.printed_on is None):
            raise ValueError("printed_by and printed_on go together")
        return self


class DocumentContent(_Model):
    """Everything printed on an official document, by the names GB/T 9704-2012 §7 gives its elements."""

    kind: Kind
    format: Format | None = Field(default=None, description="the layout; by default the kind's own")
    issuer: str = Field(min_length=1, max_length=80, description="发文机关")
    mark: str | None = Field(default=None, max_length=60, description="发文机关标志; derived from the issuer if absent")
    number: str | None = Field(
        default=None,
        description="发文字号, e.g. 粤府办〔2026〕12号; absent, its line stays blank for the registry's stamp",
    )
    copy_number: int | None = Field(default=None, ge=1, le=999999, description="份号")
    secrecy: Secrecy | None = Field(default=None, description="密级")
    secrecy_term: str | None = Field(default=None, max_length=20, description="保密期限, e.g. 1年")
    urgency: Urgency | None = Field(default=None, description="紧急程度")
    signers: list[str] = Field(default_factory=list, description="签发人, upward documents only")
    title: str = Field(min_length=1, max_length=200, description="标题; a newline forces a line break")
    recipients: list[str] = Field(default_factory=list, description="主送机关, joined with 、")
    body: list[Block] = Field(min_length=1, description="正文")
    attachments: list[Attachment] = Field(default_factory=list)
    signature: str | None = Field(default=None, max_length=80, description="发文机关署名; the issuer if absent")
    date: dt.date = Field(description="成文日期")
    notes: str | None = Field(default=None, pattern=r"^[^\n]*$", description="附注, printed in parentheses")
    colophon: Colophon | None = None
    attendees: list[str] = Field(default_factory=list, description="出席, minutes only")
    absentees: list[str] = Field(default_factory=list, description="请假, minutes only")
    observers: list[str] = Field(default_factory=list, description="列席, minutes only")

    @model_validator(mode="after")
    def _consistent(self) -> DocumentContent:
        layout = self.layout
        if self.kind.upward and not self.signers:
            raise ValueError(f"a {self.kind.label} (upward document) names its 签发人 (GB/T 9704 §7.2.6)")
        if not self.kind.upward and self.signers:
            raise ValueError("签发人 is printed on upward documents (请示, 报告) only")
        if self.kind is Kind.REQUEST and len(self.recipients) != 1:
            raise ValueError("a 请示 has exactly one primary recipient")
        if layout is not Format.MINUTES and not self.recipients:
            raise ValueError("the document needs its primary recipients (主送机关)")
        if layout is not Format.MINUTES and (self.attendees or self.absentees or self.observers):
            raise ValueError("出席, 请假 and 列席 lists belong to minutes")
        if self.number is not None and layout is not Format.MINUTES and not _NUMBER.match(self.number):
            raise ValueError(
                f"document number {self.number!r} is not of the form 代字〔2026〕12号 "
                "(full year in 〔〕, no leading zeros, GB/T 9704 §7.2.5)"
            )
        if self.secrecy_term is not None and self.secrecy is None:
            raise ValueError("a secrecy term needs a secrecy level")
        if self.secrecy is not None and self.copy_number is None:
            raise ValueError("a classified document carries its copy number (份号)")
        return self

    @property
    def layout(self) -> Format:
        return self.format or self.kind.default_format

    @property
    def mark_text(self) -> str:
        if self.mark:
            return self.mark
        if self.layout is Format.FILE:
            return self.issuer + "文件"
        if self.layout is Format.MINUTES:
            return self.issuer + "纪要"
        return self.issuer

    @property
    def signature_text(self) -> str:
        return self.signature or self.issuer

    @property
    def secrecy_text(self) -> str | None:
        """§7.2.2: the level, then ★ and the term when there is one (e.g. 机密★1年)."""
        if self.secrecy is None:
            return None
        return self.secrecy + (f"★{self.secrecy_term}" if self.secrecy_term else "")

    @property
    def copy_number_text(self) -> str | None:
        """§7.2.1: six Arabic digits."""
        return None if self.copy_number is None else f"{self.copy_number:06d}"


def date_text(value: dt.date) -> str:
    """§7.3.5.4: Arabic numerals, the full year, no leading zeros (2026年1月5日)."""
    return f"{value.year}年{value.month}月{value.day}日"
