"""What the content model refuses."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from documents.render import Attachment, Colophon, DocumentContent, Format, Kind, Paragraph, Table
from documents.render.content import date_text

from . import samples


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"signers": []}, "签发人"),
        ({"recipients": ["示例市人民政府", "示例市财政局"]}, "exactly one primary recipient"),
        ({"number": "示县政〔2026〕08号"}, "no leading zeros"),
        ({"number": "示县政[2026]8号"}, "代字〔2026〕12号"),
        ({"secrecy_term": "1年", "secrecy": None}, "secrecy level"),
        ({"copy_number": None}, "copy number"),
    ],
)
def test_request_validation(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        samples.request(**changes)


def test_notices_have_no_signers_and_need_recipients() -> None:
    with pytest.raises(ValidationError, match="upward documents"):
        samples.notice(signers=["张伟"])
    with pytest.raises(ValidationError, match="主送机关"):
        samples.notice(recipients=[])
    with pytest.raises(ValidationError, match="belong to minutes"):
        samples.notice(attendees=["张伟"])


def test_parts_are_checked() -> None:
    with pytest.raises(ValidationError, match="punctuation"):
        Attachment(title="工作方案。")
    with pytest.raises(ValidationError, match="same, non-zero number of cells"):
        Table(rows=[["甲", "乙"], ["丙"]])
    with pytest.raises(ValidationError, match="go together"):
        Colophon(printed_by="示例市人民政府办公室")
    with pytest.raises(ValidationError):
        Paragraph(text="两行\n文字")
    with pytest.raises(ValidationError):
        samples.notice(body=[])


def test_defaults_follow_the_format() -> None:
    assert samples.notice().mark_text == "示例市人民政府办公室文件"
    assert samples.letter().mark_text == "示例市人民政府办公室" and samples.letter().layout is Format.LETTER
    assert samples.minutes().mark_text == "示例市人民政府常务会议纪要"
    assert samples.notice(mark="示例市人民政府文件").mark_text == "示例市人民政府文件"
    assert samples.notice(kind="reply").layout is Format.FILE
    assert samples.notice(format="letter").layout is Format.LETTER
    assert samples.request().secrecy_text == "机密★1年" and samples.request().copy_number_text == "000012"
    assert Kind.REQUEST.upward and not Kind.REPLY.upward and Kind.MINUTES.label == "纪要"
    assert date_text(dt.date(2026, 1, 5)) == "2026年1月5日"


def test_content_round_trips_through_json() -> None:
    content = samples.request()
    again = DocumentContent.model_validate_json(content.model_dump_json())
    assert again == content
    assert content.model_dump(mode="json")["body"][0]["type"] == "paragraph"
