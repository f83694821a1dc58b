"""The verification report as a PDF a clerk can file or print.

Times are printed as the report carries them: pass a report already in the organisation's time zone
(:meth:`VerificationReport.localised`), and each time shows its UTC offset.
"""

from __future__ import annotations

import io
from datetime import datetime
from functools import lru_cache
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .errors import AppearanceError
from .fonts import cjk_font
from .report import DocumentTimestampReport, SignatureReport, Verdict, VerificationReport

_VERDICT_COLOUR = {
    Verdict.VALID: colors.HexColor("#1a7f37"),
    Verdict.INVALID: colors.HexColor("#cf222e"),
    Verdict.INDETERMINATE: colors.HexColor("#9a6700"),
    Verdict.UNSIGNED: colors.HexColor("#57606a"),
}
_VERDICT_TEXT = {
    Verdict.VALID: "VALID 有效",
    Verdict.INVALID: "INVALID 无效",
    Verdict.INDETERMINATE: "INDETERMINATE 无法确定",
    Verdict.UNSIGNED: "UNSIGNED 未签名",
}


@lru_cache(maxsize=1)
def _font() -> str:
    """An embedded CJK TrueType face when installed; otherwise reportlab's built-in CID font."""
    try:
        path = cjk_font()
    except AppearanceError:
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
        return "STSong-Light"
    pdfmetrics.registerFont(TTFont("esign-report", str(path)))
    return "esign-report"


_PERMITTED: dict[bool | None, str] = {True: "permitted", False: "NOT permitted"}


def _when(value: datetime | None) -> str:
    return value.isoformat(sep=" ", timespec="seconds") if value else "—"


def _signature_rows(sig: SignatureReport) -> list[tuple[str, str]]:
    rows = [
        ("Indication", f"{sig.indication}" + (f" / {sig.sub_indication}" if sig.sub_indication else "")),
        ("Finding", sig.message),
        ("Type", sig.type + (f" (DocMDP: {sig.docmdp})" if sig.docmdp else "")),
        ("PAdES level", sig.pades_level or "—"),
        (
            "Provable until",
            f"{_when(sig.provable_until)} ({sig.provable_by.replace('_', ' ')})" if sig.provable_by else "—",
        ),
    ]
    if sig.signer:
        rows += [
            ("Signer", sig.signer.subject),
            ("Issuer", sig.signer.issuer),
            ("Serial", sig.signer.serial),
            ("Valid", f"{_when(sig.signer.not_before)} – {_when(sig.signer.not_after)}"),
            ("Key usage", ", ".join(sig.signer.key_usage + sig.signer.extended_key_usage) or "—"),
        ]
    rows += [
        ("Trust anchor", sig.trust_anchor or "none found"),
        ("Claimed signing time", _when(sig.claimed_signing_time)),
        (
            "Time-stamp",
            f"{_when(sig.timestamp.time)} ({'trusted' if sig.timestamp.trusted else 'not trusted'})"
            if sig.timestamp
            else "—",
        ),
        ("Algorithms", f"{sig.digest_algorithm or '—'} / {sig.signature_algorithm or '—'}"),
        ("Integrity", "intact" if sig.intact else "ALTERED"),
        ("Coverage", f"{sig.coverage or '—'} (revision {sig.signed_revision})"),
        (
            "Changes after signing",
            f"{sig.modifications.level or 'unknown'}: "
            + _PERMITTED.get(sig.modifications.allowed, "undetermined")
            + (f" — {sig.modifications.detail}" if sig.modifications.detail else ""),
        ),
    ]
    if sig.revocation and sig.revocation.revoked:
        rows.append(("Revoked", f"{_when(sig.revocation.revoked_at)} ({sig.revocation.reason})"))
    return rows


def _timestamp_rows(stamp: DocumentTimestampReport) -> list[tuple[str, str]]:
    return [
        ("Indication", f"{stamp.indication}" + (f" / {stamp.sub_indication}" if stamp.sub_indication else "")),
        ("Finding", stamp.message),
        ("Time", _when(stamp.time)),
        ("TSA", stamp.tsa.subject if stamp.tsa else "—"),
        ("TSA certificate valid until", _when(stamp.tsa.not_after) if stamp.tsa else "—"),
        ("Trust anchor", stamp.trust_anchor or "none found"),
        ("Covers", ", ".join(stamp.covers) or "—"),
        ("Coverage", f"{stamp.coverage or '—'} (revision {stamp.signed_revision})"),
    ]


def render(report: VerificationReport) -> bytes:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=9, leading=12, wordWrap="CJK")
    title = ParagraphStyle("title", parent=base, fontSize=16, leading=22, spaceAfter=6)
    verdict = ParagraphStyle("verdict", parent=base, fontSize=20, leading=26, textColor=_VERDICT_COLOUR[report.verdict])
    heading = ParagraphStyle("heading", parent=base, fontSize=11, leading=15, spaceBefore=10, spaceAfter=4)

    def para(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(text), style)

    def table(rows: list[tuple[str, str]]) -> Table:
        t = Table([[para(k), para(v)] for k, v in rows], colWidths=[42 * mm, 128 * mm])
        t.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                    ("TEXTCOLOR", (0, 0), (0, -1), colors.HexColor("#57606a")),
                ]
            )
        )
        return t

    story = [
        para("Signature verification report 签名验证报告", title),
        para(f"Verdict: {_VERDICT_TEXT[report.verdict]}", verdict),
        para(report.summary),
        para(report.summary_en),
        *(para(note) for note in report.notes),
        Spacer(1, 6),
        table(
            [
                ("SHA-256", report.sha256),
                ("Size", f"{report.size} bytes, {report.revisions} revision(s)"),
                ("Verified at", _when(report.verified_at)),
                ("Validated as of", _when(report.validation_time or report.verified_at)),
                ("Network fetching", "allowed" if report.fetching_allowed else "off (offline verification)"),
            ]
        ),
    ]
    for n, sig in enumerate(report.signatures, start=1):
        story.append(para(f"Signature 签名 {n}: {sig.field_name} ({sig.indication})", heading))
        story.append(table(_signature_rows(sig)))
    for n, stamp in enumerate(report.document_timestamps, start=1):
        story.append(para(f"Document time-stamp 文档时间戳 {n}: {stamp.field_name} ({stamp.indication})", heading))
        story.append(table(_timestamp_rows(stamp)))

    buf = io.BytesIO()
    SimpleDocTemplate(
        buf,
        pagesize=A4,
        title="Signature verification report",
        author="esign",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    ).build(story)
    return buf.getvalue()
