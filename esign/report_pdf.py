"""The verification report as a PDF a clerk can file or print: Chinese first, plain words first.

Page one says what a clerk needs: the document (its title and number when the PDF carries them), a one-line
verdict, and for every signature who signed, as a person or with the organisation's seal, when, what changed
afterwards and how long it stays provable. Indications, sub-indications (ETSI EN 319 102-1), certificates,
algorithms and digests follow in an appendix, for whoever must check the finding.

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
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .errors import AppearanceError
from .fonts import cjk_font
from .report import (
    DocumentTimestampReport,
    Indication,
    SignatureReport,
    Verdict,
    VerificationReport,
)

_VERDICT_COLOUR = {
    Verdict.VALID: colors.HexColor("#1a7f37"),
    Verdict.INVALID: colors.HexColor("#cf222e"),
    Verdict.INDETERMINATE: colors.HexColor("#9a6700"),
    Verdict.UNSIGNED: colors.HexColor("#57606a"),
}
VERDICT_ZH = {
    Verdict.VALID: "有效",
    Verdict.INVALID: "无效",
    Verdict.INDETERMINATE: "无法确定",
    Verdict.UNSIGNED: "未签名",
}
_INDICATION_ZH = {
    Indication.TOTAL_PASSED: "有效",
    Indication.TOTAL_FAILED: "无效",
    Indication.INDETERMINATE: "无法确定",
}
_PROVEN_BY_ZH = {
    "document_timestamp": "文档时间戳的证书",
    "signature_timestamp": "签名时间戳的证书",
    "signer_certificate": "签名人的证书",
}
_LEVEL_ZH = {
    "lta_updates": "签名后只添加了验证数据和时间戳",
    "form_filling": "签名后填写了表单字段",
    "annotations": "签名后添加了批注",
    "other": "签名后文档有其他改动",
}
_PERMITTED: dict[bool | None, str] = {True: "permitted", False: "NOT permitted"}


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


def _when(value: datetime | None) -> str:
    """``2026-12-06 09:58:22（UTC+08:00）``: the time where the report puts it, with its offset."""
    if value is None:
        return "—"
    offset = value.strftime("%z") or "+0000"
    return f"{value:%Y-%m-%d %H:%M:%S}（UTC{offset[:3]}:{offset[3:]}）"


def changes_zh(sig: SignatureReport) -> str:
    """What happened to the document after this signature, in plain Chinese."""
    if not sig.intact:
        return "签名所覆盖的内容在签名后被改动了。"
    level, allowed = sig.modifications.level, sig.modifications.allowed
    if sig.coverage == "entire_file" or level == "none":
        return "签名后文档未被改动。"
    if level is None:
        return "无法确定签名后文档有何改动。"
    text = _LEVEL_ZH[level]
    if level == "form_filling" and sig.modifications.changed_fields:
        text += f"（{'、'.join(sig.modifications.changed_fields)}）"
    return text + ("，这是允许的。" if allowed else "，这是不允许的。" if allowed is False else "。")


def _signature_rows(sig: SignatureReport) -> list[tuple[str, str]]:
    parts = sig.signer.attributes() if sig.signer else {}
    organisation = parts.get("Organization", "—")
    if parts.get("Organizational Unit"):
        organisation += f" · {parts['Organizational Unit']}"
    stamp = sig.timestamp
    attested = bool(stamp and stamp.intact and stamp.valid and stamp.trusted)
    signed_at = _when(stamp.time if attested and stamp else sig.claimed_signing_time)
    if not attested and sig.claimed_signing_time:
        signed_at += "，签名人电脑所声称的时间，没有可信时间戳证明"
    if stamp:
        tsa = stamp.tsa.attributes().get("Common Name", "—") if stamp.tsa else "—"
        timestamp = f"{_when(stamp.time)}，由 {tsa} 出具" + ("" if attested else "（不可信）")
    else:
        timestamp = "无"
    status = _INDICATION_ZH[sig.indication]
    if sig.indication is not Indication.TOTAL_PASSED:
        status += f"：{sig.message}"
    rows = [
        ("结果", status),
        ("签名人", parts.get("Common Name") or (sig.signer.subject if sig.signer else "未知")),
        ("单位", organisation),
        ("类型", "单位印章" if "Organization Identifier" in parts else "个人签名"),
        ("签名时间", signed_at),
        ("时间戳", timestamp),
        ("签名后的改动", changes_zh(sig)),
        (
            "可证明至",
            f"{_when(sig.provable_until)}，依据{_PROVEN_BY_ZH[sig.provable_by]}"
            if sig.provable_until and sig.provable_by
            else "无法证明：签名无效",
        ),
    ]
    if sig.reason:
        rows.append(("签名理由", sig.reason))
    if sig.location:
        rows.append(("地点", sig.location))
    return rows


def _timestamp_rows(stamp: DocumentTimestampReport) -> list[tuple[str, str]]:
    tsa = stamp.tsa.attributes().get("Common Name", stamp.tsa.subject) if stamp.tsa else "—"
    return [
        ("结果", _INDICATION_ZH[stamp.indication]),
        ("时间", _when(stamp.time)),
        ("出具方", tsa),
        ("出具方证书有效至", _when(stamp.tsa.not_after) if stamp.tsa else "—"),
        ("覆盖", "、".join(stamp.covers) or "—"),
    ]


def _technical_rows(sig: SignatureReport) -> list[tuple[str, str]]:
    rows = [
        ("Indication", f"{sig.indication}" + (f" / {sig.sub_indication}" if sig.sub_indication else "")),
        ("Finding", sig.message),
        ("Type", sig.type + (f" (DocMDP: {sig.docmdp})" if sig.docmdp else "")),
        ("PAdES level", sig.pades_level or "—"),
        ("Validation process", sig.validation_process or "—"),
        ("Provable until", f"{_when(sig.provable_until)} ({sig.provable_by})" if sig.provable_by else "—"),
    ]
    if sig.signer:
        rows += [
            ("Signer", sig.signer.subject),
            ("Issuer", sig.signer.issuer),
            ("Serial", sig.signer.serial),
            ("Valid", f"{_when(sig.signer.not_before)} – {_when(sig.signer.not_after)}"),
            ("Key usage", ", ".join(sig.signer.key_usage + sig.signer.extended_key_usage) or "—"),
            ("Certificate SHA-256", sig.signer.sha256),
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
        ("Signed digest", sig.signed_digest or "—"),
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


def _technical_timestamp_rows(stamp: DocumentTimestampReport) -> list[tuple[str, str]]:
    return [
        ("Indication", f"{stamp.indication}" + (f" / {stamp.sub_indication}" if stamp.sub_indication else "")),
        ("Finding", stamp.message),
        ("TSA", stamp.tsa.subject if stamp.tsa else "—"),
        ("Trust anchor", stamp.trust_anchor or "none found"),
        ("Algorithms", f"{stamp.digest_algorithm or '—'} / {stamp.signature_algorithm or '—'}"),
        ("Token SHA-256", stamp.sha256 or "—"),
        ("Coverage", f"{stamp.coverage or '—'} (revision {stamp.signed_revision})"),
    ]


def _verdict_line(report: VerificationReport) -> str:
    """``有效——全部 1 个签名有效；…``: the verdict's word, then the summary's reason (which esign.verdict begins
    with the same word and a colon)."""
    word = VERDICT_ZH[report.verdict]
    return f"{word}——{report.summary.removeprefix(f'{word}：')}"


def render(report: VerificationReport) -> bytes:
    font = _font()
    base = ParagraphStyle("base", fontName=font, fontSize=9.5, leading=13, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=11, textColor=colors.HexColor("#57606a"))
    title = ParagraphStyle("title", parent=base, fontSize=18, leading=24, spaceAfter=2)
    colour = _VERDICT_COLOUR[report.verdict]
    verdict = ParagraphStyle("verdict", parent=base, fontSize=15, leading=21, textColor=colour, spaceBefore=6)
    heading = ParagraphStyle("heading", parent=base, fontSize=12, leading=17, spaceBefore=12, spaceAfter=4)

    def para(text: str, style: ParagraphStyle = base) -> Paragraph:
        return Paragraph(escape(text), style)

    def table(rows: list[tuple[str, str]], style: ParagraphStyle = base, key_width: float = 32) -> Table:
        t = Table(
            [[para(k, style), para(v, style)] for k, v in rows], colWidths=[key_width * mm, (170 - key_width) * mm]
        )
        t.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                ]
            )
        )
        return t

    document = [("文件标题", report.title)] if report.title else []
    document += [("发文字号", report.number)] if report.number else []
    story: list[Flowable] = [
        para("签名验证报告", title),
        para("Signature verification report", small),
        para(f"结论：{_verdict_line(report)}", verdict),
        para(report.summary_en, small),
        *(para(note, small) for note in report.notes),
        Spacer(1, 6),
        table(
            [
                *document,
                ("验证时间", _when(report.verified_at)),
                ("验证所依时间", _when(report.validation_time or report.verified_at)),
                ("保护期至", _when(report.protected_until) if report.protected_until else "—（无归档时间戳）"),
                ("文件", f"{report.size:,} 字节，{report.revisions} 个修订版本；SHA-256 {report.sha256}"),
                ("联网获取", "允许" if report.fetching_allowed else "未联网（离线验证）"),
            ]
        ),
    ]
    for n, sig in enumerate(report.signatures, start=1):
        story.append(para(f"签名 {n}（{sig.field_name}）", heading))
        story.append(table(_signature_rows(sig)))
    for n, stamp in enumerate(report.document_timestamps, start=1):
        story.append(para(f"文档时间戳 {n}（{stamp.field_name}）：使签名可以长期得到证明", heading))
        story.append(table(_timestamp_rows(stamp)))
    if report.signatures or report.document_timestamps:
        story += [PageBreak(), para("附录：技术细节 Appendix: technical details", heading)]
        story.append(para("ETSI EN 319 102-1 indications; PAdES levels per ETSI EN 319 142-1.", small))
        for n, sig in enumerate(report.signatures, start=1):
            story.append(para(f"签名 Signature {n}: {sig.field_name}", heading))
            story.append(table(_technical_rows(sig), small, key_width=38))
        for n, stamp in enumerate(report.document_timestamps, start=1):
            story.append(para(f"文档时间戳 Document time-stamp {n}: {stamp.field_name}", heading))
            story.append(table(_technical_timestamp_rows(stamp), small, key_width=38))

    buf = io.BytesIO()
    SimpleDocTemplate(
        buf,
        pagesize=A4,
        title="签名验证报告" + (f"：{report.title}" if report.title else ""),
        author="esign",
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
    ).build(story)
    return buf.getvalue()
