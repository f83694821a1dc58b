"""Judging what verification found: each signature's indication, how long it stays provable, the document's verdict.

The summary sentence comes in Chinese (``summary``, what a clerk reads) and in English (``summary_en``); it
counts signatures only, since a document time-stamp attests a time, not anyone's intent.
"""

from __future__ import annotations

from datetime import datetime

from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESStatus, AdESSubIndic

from .report import DocumentTimestampReport, Indication, ModificationReport, SignatureReport, Verdict

_INDICATION = {
    AdESStatus.PASSED: Indication.TOTAL_PASSED,
    AdESStatus.FAILED: Indication.TOTAL_FAILED,
    AdESStatus.INDETERMINATE: Indication.INDETERMINATE,
}
_SUB_INDICATION_TEXT = {
    AdESFailure.HASH_FAILURE: "the document bytes covered by the signature were altered",
    AdESFailure.SIG_CRYPTO_FAILURE: "the signature value does not verify with the signer's public key",
    AdESFailure.REVOKED: "the signer's certificate was revoked before the signature was made",
    AdESFailure.FORMAT_FAILURE: "the signature is not well formed",
    AdESIndeterminate.NO_CERTIFICATE_CHAIN_FOUND: "no chain from the signer's certificate to a trust anchor",
    AdESIndeterminate.REVOKED_NO_POE: "the signer's certificate is revoked and nothing proves the "
    "signature existed before",
    AdESIndeterminate.OUT_OF_BOUNDS_NO_POE: "the signer's certificate is expired or not yet valid and "
    "nothing proves when the signature was made",
    AdESIndeterminate.TRY_LATER: "revocation information is not available yet",
}
_SUB_INDICATION_ZH = {
    "HASH_FAILURE": "签名所覆盖的文档内容已被改动",
    "SIG_CRYPTO_FAILURE": "签名值无法用签名人的公钥验证",
    "REVOKED": "签名人的证书在签名之前已被吊销",
    "FORMAT_FAILURE": "签名格式不正确",
    "NO_CERTIFICATE_CHAIN_FOUND": "找不到从签名人证书到信任锚的证书链",
    "REVOKED_NO_POE": "签名人的证书已被吊销，且无法证明签名早于吊销",
    "REVOKED_CA_NO_POE": "证书链中的 CA 证书已被吊销，且无法证明签名早于吊销",
    "OUT_OF_BOUNDS_NO_POE": "签名人的证书已过期或尚未生效，且无法证明签名时间",
    "OUT_OF_BOUNDS_NOT_REVOKED": "签名人的证书已过期或尚未生效",
    "NOT_YET_VALID": "签名人的证书尚未生效",
    "EXPIRED": "签名人的证书已过期",
    "CRYPTO_CONSTRAINTS_FAILURE": "签名所用的算法已不再安全",
    "CRYPTO_CONSTRAINTS_FAILURE_NO_POE": "签名所用的算法已不再安全，且无法证明签名早于此",
    "TRY_LATER": "暂时无法获得吊销信息",
}


def judge(
    sub: AdESSubIndic, modifications: ModificationReport, failure: str | None
) -> tuple[Indication, str | None, str]:
    """The indication, sub-indication and finding of one signature or time-stamp.

    A signature that verifies but is followed by changes nothing permits fails as FORMAT_FAILURE
    (ETSI EN 319 102-1 §5.2.8 leaves the PDF-specific checks to the format; ISO 32000-2 §12.8.2.2 DocMDP).
    """
    indication = _INDICATION[sub.status]
    if indication is Indication.TOTAL_PASSED and modifications.allowed is False:
        return (
            Indication.TOTAL_FAILED,
            AdESFailure.FORMAT_FAILURE.standard_name,
            f"disallowed modification after signing: {modifications.detail}",
        )
    if indication is Indication.TOTAL_PASSED:
        return indication, None, "the signature is valid"
    text = _SUB_INDICATION_TEXT.get(sub) or failure or sub.standard_name.replace("_", " ").lower()
    return indication, sub.standard_name, text


def protection(
    signature: SignatureReport, timestamps: list[DocumentTimestampReport]
) -> tuple[datetime | None, str | None]:
    """Until when a valid signature stays provable, and whose certificate sets that date.

    Proof of existence lasts as long as the last time-stamp that gives it can itself be validated
    (ETSI EN 319 102-1 §5.6.2.4), so the expiry of that time-stamp's certificate: the last valid document
    time-stamp covering the signature (B-LTA), else its own signature time-stamp (B-T, B-LT), else the
    signer's certificate (B-B).
    """
    if signature.indication is not Indication.TOTAL_PASSED:
        return None, None
    covering = [
        t
        for t in timestamps
        if t.signed_revision > signature.signed_revision and t.indication is Indication.TOTAL_PASSED and t.tsa
    ]
    if covering:
        tsa = max(covering, key=lambda t: t.signed_revision).tsa
        assert tsa is not None
        return tsa.not_after, "document_timestamp"
    stamp = signature.timestamp
    if stamp is not None and stamp.intact and stamp.valid and stamp.trusted and stamp.tsa is not None:
        return stamp.tsa.not_after, "signature_timestamp"
    if signature.signer is not None:
        return signature.signer.not_after, "signer_certificate"
    return None, None


def _reason_zh(item: SignatureReport | DocumentTimestampReport) -> str:
    if item.modifications.allowed is False and item.sub_indication == "FORMAT_FAILURE":
        return "签名后文档有不允许的改动"
    if item.sub_indication is None:
        return item.message
    return _SUB_INDICATION_ZH.get(item.sub_indication, item.sub_indication)


def verdict(signatures: list[SignatureReport], timestamps: list[DocumentTimestampReport]) -> tuple[Verdict, str, str]:
    """The document's verdict with its summary in Chinese and in English."""
    if not signatures:
        if not timestamps:
            return Verdict.UNSIGNED, "未签名：文档没有签名", "the document carries no signature"
        n = len(timestamps)
        return (
            Verdict.UNSIGNED,
            f"未签名：文档没有签名，只有 {n} 个文档时间戳",
            f"the document carries no signature, only {n} document time-stamp{'s' if n > 1 else ''}",
        )
    named: list[tuple[str, str, SignatureReport | DocumentTimestampReport]] = [
        *(("签名", "signature", s) for s in signatures),
        *(("文档时间戳", "document time-stamp", t) for t in timestamps),
    ]
    failed = [(zh, en, item) for zh, en, item in named if item.indication is Indication.TOTAL_FAILED]
    if failed:
        zh, en, item = failed[0]
        return (
            Verdict.INVALID,
            f"无效：{zh}“{item.field_name}”未通过验证：{_reason_zh(item)}",
            f"{en} {item.field_name!r} failed: {item.message}",
        )
    unsure = [(zh, en, item) for zh, en, item in named if item.indication is Indication.INDETERMINATE]
    if unsure:
        zh, en, item = unsure[0]
        return (
            Verdict.INDETERMINATE,
            f"无法确定：{zh}“{item.field_name}”无法确认：{_reason_zh(item)}",
            f"{en} {item.field_name!r} cannot be confirmed: {item.message}",
        )
    n = len(signatures)
    counted_en = "the signature is valid" if n == 1 else f"all {n} signatures are valid"
    items: list[SignatureReport | DocumentTimestampReport] = [*signatures, *timestamps]
    last = max(items, key=lambda item: item.signed_revision)
    if last.coverage == "entire_file":
        return (
            Verdict.VALID,
            f"有效：全部 {n} 个签名有效；签名后文档未被改动",
            f"{counted_en}; the document has not changed since it was signed",
        )
    return (
        Verdict.VALID,
        f"有效：全部 {n} 个签名有效；签名后的改动均为允许的改动",
        f"{counted_en}; changes made after signing are permitted ones",
    )
