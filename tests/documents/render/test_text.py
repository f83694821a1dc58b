"""The text reads back exactly (poppler's pdftotext), including characters the body face lacks."""

from __future__ import annotations

from pathlib import Path

from documents.render import FontSet, Rendered, Role

from . import samples
from .pdfpages import chars, pdftotext, write


def test_title_and_paragraphs_extract_exactly(notice: Rendered, tmp_path: Path) -> None:
    text = pdftotext(write(tmp_path, "notice.pdf", notice.pdf))
    joined = text.replace("\n", "")
    assert samples.TITLE in joined
    assert samples.OPENING_PARAGRAPH in joined
    assert samples.NUMBER in joined
    assert "附件：1．示例市政务服务事项实施清单（2026年版）" in joined
    assert "抄送：市委办公室，市人大常委会办公室，市政协办公室，市中级人民法院，市人民检察院。" in joined
    # No spaces appear between Chinese characters, whichever faces draw them.
    assert " " not in joined.replace("— 1 —", "").replace("— 2 —", "")


def test_characters_the_body_face_lacks_fall_back_and_read_back(
    notice: Rendered, fonts: FontSet, tmp_path: Path
) -> None:
    body = fonts.primary(Role.BODY)
    lacking = {c for c in samples.OPENING_PARAGRAPH if not body.has(c)}
    assert lacking, "the free FangSong face lacks common simplified characters"
    assert not body.has("堃") and fonts.face("实", Role.BODY) is not body
    drawn = {c["text"]: c["fontname"] for page in chars(notice.pdf) for c in page}
    for char in lacking | {"堃"}:
        assert char in drawn
        assert not drawn[char].endswith("+" + body.postscript_name), char
        assert drawn[char].endswith("+" + fonts.face(char, Role.BODY).postscript_name)
    text = pdftotext(write(tmp_path, "notice.pdf", notice.pdf)).replace("\n", "")
    assert f"{samples.RARE_NAME}同志" in text


def test_chinese_punctuation_is_set_mainland_style(fonts: FontSet) -> None:
    """cwTeX 仿宋 centres ，。、 in the square (Taiwanese usage); those come from the next face instead."""
    body = fonts.primary(Role.BODY)
    for char in "，。、；：“”（）〔〕":
        face = fonts.face(char, Role.BODY)
        if body.centred_punctuation:
            assert face is not body
        assert fonts.cell_width(char, Role.BODY, 10.0) == 10.0
