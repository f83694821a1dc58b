"""The letter (信函格式, GB/T 9704-2012 §10.1), the minutes (纪要格式, §10.3) and the head of upward documents
(§7.2.5, §7.2.6)."""

from __future__ import annotations

import pytest

from documents.render import FontSet, Rendered, Role, render
from documents.render.geometry import (
    CHAR_PITCH,
    LINE_PITCH,
    MM,
    PAGE_HEIGHT,
    SIZE_3,
    SIZE_4,
    TYPE_BOTTOM,
    TYPE_CENTRE,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_WIDTH,
)

from . import samples
from .pdfpages import chars, find, is_red, lines, rects


def test_letter_mark_30_mm_from_the_top_between_red_double_lines(letter: Rendered) -> None:
    page = lines(chars(letter.pdf)[0])
    mark = find(page, samples.ISSUER)
    assert mark.text == samples.ISSUER
    assert all(is_red(c["non_stroking_color"]) for c in mark.chars)
    assert mark.top == pytest.approx(PAGE_HEIGHT - 30 * MM, abs=0.3)
    assert (mark.x0 + mark.x1) / 2 == pytest.approx(TYPE_CENTRE, abs=0.5)

    red = sorted((r for r in rects(letter.pdf)[0] if is_red(r["non_stroking_color"])), key=lambda r: r["top"])
    assert len(red) == 4
    for rule in red:
        assert rule["width"] == pytest.approx(170 * MM, abs=0.1)
        assert (rule["x0"] + rule["x1"]) / 2 == pytest.approx(TYPE_CENTRE, abs=0.1)
    upper_thick, upper_thin, lower_thin, lower_thick = red
    assert upper_thick["height"] > upper_thin["height"] and lower_thick["height"] > lower_thin["height"]
    assert upper_thick["top"] == pytest.approx(PAGE_HEIGHT - mark.bottom + 4 * MM, abs=0.1)
    assert PAGE_HEIGHT - lower_thick["bottom"] == pytest.approx(20 * MM, abs=0.1)

    number = find(page, "示府办函〔2026〕35号")
    assert number.chars[-1]["x0"] + CHAR_PITCH == pytest.approx(TYPE_RIGHT, abs=0.5)
    assert (PAGE_HEIGHT - upper_thin["bottom"]) - number.top == pytest.approx(SIZE_3 * 7 / 8, abs=0.1)


def test_letter_has_no_page_number_on_page_one_and_no_colophon_rules(fonts: FontSet) -> None:
    rendered = render(samples.letter(body=samples.long_body(8)), fonts)
    pages = chars(rendered.pdf)
    assert rendered.pages >= 3
    folios = [
        [
            line.text.replace(" ", "")
            for line in lines(page)
            if line.size == pytest.approx(SIZE_4) and line.top < TYPE_BOTTOM
        ]
        for page in pages
    ]
    assert folios[0] == []
    assert folios[1] == ["—2—"] and folios[2] == ["—3—"]
    black_rules = [
        r
        for page in rects(rendered.pdf)
        for r in page
        if not is_red(r["non_stroking_color"]) and r["width"] == pytest.approx(TYPE_WIDTH, abs=0.1)
    ]
    assert black_rules == []
    last = lines(pages[-1])
    copy_to = find(last, "抄送：")
    assert copy_to.text == "抄送：市政务服务数据管理局。"
    assert not any("印发" in line.text for line in last)
    assert copy_to.bottom == pytest.approx(TYPE_BOTTOM + (LINE_PITCH - SIZE_4) / 2, abs=0.1)


def test_minutes_mark_and_attendance_lists(fonts: FontSet) -> None:
    rendered = render(samples.minutes(), fonts)
    page_lines = [line for page in chars(rendered.pdf) for line in lines(page)]
    mark = page_lines[0]
    assert mark.text == "示例市人民政府常务会议纪要"
    assert all(is_red(c["non_stroking_color"]) for c in mark.chars)
    hei = fonts.primary(Role.HEADING).postscript_name
    for label, names in [("出席：", "王芳、李强、刘洋"), ("请假：", "陈静（出差）"), ("列席：", "赵敏")]:
        line = find(page_lines, label)
        assert line.text == label + names
        assert line.x0 == pytest.approx(TYPE_LEFT + 2 * CHAR_PITCH, abs=0.01)
        assert all(c["fontname"].endswith(hei) for c in line.chars[:3])
        assert not line.chars[3]["fontname"].endswith(hei)
    number = find(page_lines, "第12期")
    assert (number.x0 + number.x1) / 2 == pytest.approx(TYPE_CENTRE, abs=1)


def test_upward_document_number_left_and_signers_right_on_one_line(fonts: FontSet) -> None:
    rendered = render(samples.request(), fonts)
    page = lines(chars(rendered.pdf)[0])
    number = find(page, "示县政〔2026〕8号")
    assert number.x0 == pytest.approx(TYPE_LEFT + CHAR_PITCH, abs=0.01)
    first = find(page, "签发人：")
    last = find(page, "郑浩")
    assert first.text == "签发人：周杰　吴倩"
    assert last.text.endswith("郑浩") and last is number
    # The names wrap aligned with the first name; the block ends one character in from the right.
    assert last.chars[-2]["x0"] == pytest.approx(first.chars[4]["x0"], abs=0.01)
    assert first.chars[-1]["x0"] + CHAR_PITCH == pytest.approx(TYPE_RIGHT - CHAR_PITCH, abs=0.5)
    kai = fonts.primary(Role.KAI).postscript_name
    assert all(c["fontname"].endswith(kai) for c in first.chars[4:] if c["text"] != "　")
    [separator] = [r for r in rects(rendered.pdf)[0] if is_red(r["non_stroking_color"])]
    assert number.bottom - (PAGE_HEIGHT - separator["top"]) == pytest.approx(4 * MM, abs=0.2)
