"""The head of a 文件格式 document (GB/T 9704-2012 §7.2), read back from the PDF."""

from __future__ import annotations

import pytest

from documents.render import FontSet, Rendered, Role, render
from documents.render.geometry import (
    LINE_PITCH,
    MM,
    PAGE_HEIGHT,
    SIZE_2,
    SIZE_3,
    TYPE_CENTRE,
    TYPE_LEFT,
    TYPE_RIGHT,
    TYPE_TOP,
    TYPE_WIDTH,
)

from . import samples
from .pdfpages import Line, chars, find, is_red, lines, rects


@pytest.fixture(scope="module")
def page(notice: Rendered) -> list[Line]:
    return lines(chars(notice.pdf)[0])


def test_mark_is_red_centred_and_35_mm_below_the_type_area(page: list[Line]) -> None:
    mark = find(page, samples.ISSUER + "文件")
    assert mark.text == samples.ISSUER + "文件"
    assert all(is_red(c["non_stroking_color"]) for c in mark.chars)
    assert (mark.x0 + mark.x1) / 2 == pytest.approx(TYPE_CENTRE, abs=0.5)
    assert mark.x0 >= TYPE_LEFT - 0.5 and mark.x1 <= TYPE_RIGHT + 0.5
    assert mark.top == pytest.approx(TYPE_TOP - 35 * MM, abs=0.3)


def test_number_is_centred_two_lines_below_the_mark(page: list[Line]) -> None:
    mark = find(page, samples.ISSUER + "文件")
    number = find(page, samples.NUMBER)
    assert number.text == samples.NUMBER
    assert (number.x0 + number.x1) / 2 == pytest.approx(TYPE_CENTRE, abs=1.0)
    # Two blank lines, then the number's em box centred in its own line cell.
    assert mark.bottom - number.top == pytest.approx(2 * LINE_PITCH + (LINE_PITCH - SIZE_3) / 2, abs=0.3)


def test_red_separator_runs_the_type_area_4_mm_below_the_number(notice: Rendered, page: list[Line]) -> None:
    number = find(page, samples.NUMBER)
    red = [r for r in rects(notice.pdf)[0] if is_red(r["non_stroking_color"])]
    assert len(red) == 1
    [separator] = red
    assert separator["x0"] == pytest.approx(TYPE_LEFT, abs=0.1)
    assert separator["width"] == pytest.approx(TYPE_WIDTH, abs=0.1)
    assert number.bottom - (PAGE_HEIGHT - separator["top"]) == pytest.approx(4 * MM, abs=0.2)


def test_title_is_centred_two_lines_below_the_separator(notice: Rendered, page: list[Line]) -> None:
    [separator] = [r for r in rects(notice.pdf)[0] if is_red(r["non_stroking_color"])]
    title = [line for line in page if line.size == pytest.approx(SIZE_2)]
    assert "".join(line.text for line in title) == samples.TITLE
    for line in title:
        assert (line.x0 + line.x1) / 2 == pytest.approx(TYPE_CENTRE, abs=1.0)
        assert line.x1 - line.x0 <= TYPE_WIDTH
    assert (PAGE_HEIGHT - separator["bottom"]) - title[0].top == pytest.approx(
        2 * LINE_PITCH + (LINE_PITCH - SIZE_2) / 2, abs=0.5
    )


def test_recipients_one_line_below_the_title_flush_left_with_a_colon(page: list[Line]) -> None:
    title = [line for line in page if line.size == pytest.approx(SIZE_2)]
    recipients = find(page, "各区人民政府")
    assert recipients.text.endswith("：")
    assert recipients.x0 == pytest.approx(TYPE_LEFT, abs=0.5)
    assert title[-1].bottom - recipients.bottom == pytest.approx(2 * LINE_PITCH + (SIZE_3 - SIZE_2) / 2, abs=0.3)


def test_copy_number_secrecy_and_urgency_top_left_in_hei(fonts: FontSet) -> None:
    pdf = render(samples.request(), fonts).pdf
    page = lines(chars(pdf)[0])
    hei = fonts.primary(Role.HEADING).postscript_name
    for index, text in enumerate(["000012", "机密★1年", "特急"]):
        line = find(page, text)
        assert line.text == text
        assert line.x0 == pytest.approx(TYPE_LEFT, abs=0.5)
        assert line.top == pytest.approx(TYPE_TOP - index * LINE_PITCH - (LINE_PITCH - SIZE_3) / 2, abs=0.3)
        assert all(c["fontname"].endswith(hei) for c in line.chars)
