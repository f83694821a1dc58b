"""The body on the line grid (GB/T 9704-2012 §5.2.3, §7.3.3), Chinese line breaking, page numbers (§7.5),
attachments (§7.3.4, §7.3.7) and the colophon (§7.4)."""

from __future__ import annotations

import pytest

from documents.render import Attachment, Colophon, FontSet, Heading, Paragraph, Rendered, Role, Table, render
from documents.render.geometry import (
    CHAR_PITCH,
    LINE_PITCH,
    MM,
    PAGE_HEIGHT,
    SIZE_3,
    SIZE_4,
    TYPE_BOTTOM,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_TOP,
    TYPE_WIDTH,
)
from documents.render.linebreak import CLOSING, OPENING

from . import samples
from .pdfpages import Line, chars, find, lines, rects


def body_lines(page_chars: list[dict[str, object]]) -> list[Line]:
    """Lines of 三号 text inside the type area."""
    return [
        line
        for line in lines(page_chars)
        if line.size == pytest.approx(SIZE_3) and line.bottom >= TYPE_BOTTOM - 1 and line.top <= TYPE_TOP + 1
    ]


def test_lines_hold_at_most_28_characters_and_pages_at_most_22_lines(long_notice: Rendered) -> None:
    pages = chars(long_notice.pdf)
    assert long_notice.pages >= 3
    full = 0
    full_pages = 0
    for number, page in enumerate(pages):
        page_lines = body_lines(page)
        assert len(page_lines) <= 22
        full_pages += len(page_lines) == 22
        for line in page_lines:
            assert len(line.text) <= 28, line.text
            if len(line.text) == 28:
                full += 1
                # 28 characters fill the type area's width exactly.
                assert line.chars[0]["x0"] == pytest.approx(TYPE_LEFT, abs=0.01)
                assert line.chars[-1]["x0"] == pytest.approx(TYPE_LEFT + 27 * CHAR_PITCH, abs=0.01)
        if number > 0:
            for line in page_lines:
                index = round((TYPE_TOP - line.top) / LINE_PITCH)
                assert line.top == pytest.approx(TYPE_TOP - index * LINE_PITCH - (LINE_PITCH - SIZE_3) / 2, abs=0.01)
    assert full > 40 and full_pages >= 2
    assert pytest.approx(156 * MM) == CHAR_PITCH * 28 and pytest.approx(225 * MM) == LINE_PITCH * 22


def test_no_line_starts_with_closing_or_ends_with_opening_punctuation(fonts: FontSet) -> None:
    traps = samples.punctuation_traps()
    pdf = render(samples.notice(body=traps, attachments=[], notes=None, colophon=None), fonts).pdf
    text = ""
    for page in chars(pdf):
        for line in body_lines(page):
            if line.size != pytest.approx(SIZE_3) or line.text.startswith(samples.ISSUER[:4]) or "年" in line.text:
                continue
            assert line.text[0] not in CLOSING, line.text
            assert line.text[-1] not in OPENING, line.text
            assert len(line.text) <= 28
            text += line.text
    for paragraph in traps:
        assert isinstance(paragraph, Paragraph) and paragraph.text in text
    # The Latin word is not split: it opens the second line of its paragraph.
    word_line = [line for page in chars(pdf) for line in body_lines(page) if "ABCD" in line.text]
    assert word_line and word_line[0].text.startswith("ABCD")


def test_paragraphs_are_indented_two_characters_and_justified(notice: Rendered) -> None:
    page = lines(chars(notice.pdf)[0])
    first = find(page, samples.OPENING_PARAGRAPH[:10])
    assert first.chars[0]["x0"] == pytest.approx(TYPE_LEFT + 2 * CHAR_PITCH, abs=0.01)
    following = page[page.index(first) + 1]
    assert following.chars[0]["x0"] == pytest.approx(TYPE_LEFT, abs=0.01)
    assert following.chars[-1]["x0"] + CHAR_PITCH == pytest.approx(TYPE_RIGHT, abs=0.5)


def test_headings_are_numbered_by_level_in_hei_kai_and_body_faces(fonts: FontSet) -> None:
    levels = [1, 2, 2, 3, 4, 3, 1, 2]
    body = [Heading(level=level, text=f"第{n}个标题") for n, level in enumerate(levels)]
    pdf = render(samples.notice(body=[Paragraph(text="开头。"), *body], attachments=[]), fonts).pdf
    page_lines = [line for page in chars(pdf) for line in lines(page)]
    expected = ["一、", "（一）", "（二）", "1．", "（1）", "2．", "二、", "（一）"]
    faces = {1: Role.HEADING, 2: Role.KAI, 3: Role.BODY, 4: Role.BODY}
    for n, (label, level) in enumerate(zip(expected, levels, strict=True)):
        line = find(page_lines, f"第{n}个标题")
        assert line.text == f"{label}第{n}个标题"
        assert line.chars[0]["x0"] == pytest.approx(TYPE_LEFT + 2 * CHAR_PITCH, abs=0.01)
        face = fonts.face(f"第{n}个标题"[0], faces[level])
        assert line.chars[len(label)]["fontname"].endswith("+" + face.postscript_name)


def test_page_numbers_alternate_sides_7_mm_below_the_type_area(long_notice: Rendered) -> None:
    for index, page in enumerate(chars(long_notice.pdf)):
        [folio] = [line for line in lines(page) if line.size == pytest.approx(SIZE_4) and line.top < TYPE_BOTTOM]
        assert folio.text.replace(" ", "") == f"—{index + 1}—"
        assert folio.top == pytest.approx(TYPE_BOTTOM - 7 * MM, abs=0.3)
        if index % 2 == 0:
            assert folio.chars[-1]["x1"] == pytest.approx(TYPE_RIGHT - SIZE_4, abs=0.5)
        else:
            assert folio.x0 == pytest.approx(TYPE_LEFT + SIZE_4, abs=0.5)


def test_attachment_list_aligns_numbers_and_names(notice: Rendered) -> None:
    page_lines = [line for page in chars(notice.pdf) for line in lines(page)]
    first = find(page_lines, "附件：1．")
    second = find(page_lines, "2．政务服务")
    assert first.chars[0]["x0"] == pytest.approx(TYPE_LEFT + 2 * CHAR_PITCH, abs=0.01)
    assert second.chars[0]["x0"] == pytest.approx(first.chars[3]["x0"], abs=0.01)


def test_tables_and_attachments_flow_across_pages(fonts: FontSet) -> None:
    rows = [["序号", "事项名称", "责任单位"]] + [
        [str(n), f"第{n}项政务服务事项", "市政务服务数据管理局"] for n in range(1, 61)
    ]
    content = samples.notice(
        body=[Paragraph(text="现将任务分工表印发给你们。"), Table(rows=rows)],
        attachments=[Attachment(title="任务说明", blocks=samples.long_body(6)), Attachment(title="联系人名单")],
    )
    rendered = render(content, fonts)
    pages = chars(rendered.pdf)
    table_pages = [page for page in pages if any("事项名称" in line.text for line in lines(page))]
    assert len(table_pages) >= 2, "the table spans pages with its header repeated"
    all_text = "".join(line.text for page in pages for line in lines(page))
    for n in range(1, 61):
        assert f"第{n}项政务服务事项" in all_text
    # The attachment starts a page: 附件1 on line 1 in Hei, its title on line 3.
    start = next(page for page in pages if lines(page)[0].text == "附件1")
    label, title = lines(start)[0], lines(start)[1]
    assert label.x0 == pytest.approx(TYPE_LEFT, abs=0.01)
    assert label.chars[0]["fontname"].endswith(fonts.primary(Role.HEADING).postscript_name)
    assert title.text == "任务说明"
    assert title.top == pytest.approx(TYPE_TOP - 2 * LINE_PITCH - (LINE_PITCH - 22) / 2, abs=0.3)


def test_colophon_sits_on_the_last_page_between_its_rules(notice: Rendered) -> None:
    last = lines(chars(notice.pdf)[-1])
    rules = sorted(
        (r for r in rects(notice.pdf)[-1] if r["width"] == pytest.approx(TYPE_WIDTH, abs=0.1)), key=lambda r: r["top"]
    )
    assert [round(r["height"] / MM, 2) for r in rules] == [0.35, 0.25, 0.35]
    assert PAGE_HEIGHT - rules[-1]["bottom"] == pytest.approx(TYPE_BOTTOM, abs=0.01)
    copy_to = find(last, "抄送：")
    continued = last[last.index(copy_to) + 1]
    printed = find(last, "印发")
    assert copy_to.size == pytest.approx(SIZE_4) and printed.size == pytest.approx(SIZE_4)
    assert copy_to.x0 == pytest.approx(TYPE_LEFT + SIZE_4, abs=0.01)
    assert printed.x0 == pytest.approx(TYPE_LEFT + SIZE_4, abs=0.01)
    assert printed.text.startswith(samples.ISSUER) and printed.text.endswith("2026年11月24日印发")
    assert printed.chars[-1]["x0"] + SIZE_4 == pytest.approx(TYPE_RIGHT - SIZE_4, abs=0.5)
    # Continuation lines align after the colon; the list ends with a full stop.
    assert continued.x0 == pytest.approx(copy_to.chars[3]["x0"], abs=0.01)
    assert (copy_to.text + continued.text).endswith("市人民检察院。")
    # Every line of the colophon lies between the first and the last rule.
    for line in (copy_to, continued, printed):
        assert PAGE_HEIGHT - rules[0]["top"] >= line.top and line.bottom >= PAGE_HEIGHT - rules[-1]["top"]


def test_colophon_takes_a_new_page_when_the_last_one_is_full(fonts: FontSet) -> None:
    content = samples.notice(body=samples.long_body(5))
    rendered = render(content, fonts)
    last = lines(chars(rendered.pdf)[-1])
    assert any("抄送：" in line.text for line in last)
    assert rendered.seal_box.page <= rendered.pages - 1


def test_the_seal_never_lands_on_a_page_without_text_above_it(fonts: FontSet) -> None:
    """§7.3.5.1: the seal's top is within a line of the text above it, whatever the length of the body."""
    for paragraphs in range(3, 12):
        rendered = render(
            samples.notice(
                body=samples.long_body(paragraphs),
                attachments=[],
                notes=None,
                colophon=Colophon(copy_to=["市委办公室"]),
            ),
            fonts,
        )
        page = lines(chars(rendered.pdf)[rendered.seal_box.page])
        above = [line for line in page if line.bottom > rendered.seal_box.y2 and line.size == pytest.approx(SIZE_3)]
        assert above, paragraphs
        cell_bottom = above[-1].bottom - (LINE_PITCH - SIZE_3) / 2
        assert 0 <= cell_bottom - rendered.seal_box.y2 <= LINE_PITCH


def test_no_page_ends_with_a_heading_whatever_the_body_length(fonts: FontSet) -> None:
    for paragraphs in range(1, 9):
        body = []
        for n in range(paragraphs):
            body += [Heading(level=1, text=f"第{samples.chinese(n + 1)}部分"), *samples.long_body(1)]
        rendered = render(samples.notice(body=body, attachments=[]), fonts)
        for page in chars(rendered.pdf):
            text_lines = body_lines(page)
            if text_lines:
                assert "部分" not in text_lines[-1].text or text_lines[-1].text.endswith("。"), paragraphs
