"""Where the number and the seal go: the boxes ``render`` reports, checked against where the text really is."""

from __future__ import annotations

import pytest

from documents.render import Box, FontSet, NumberBox, Rendered, Role, render
from documents.render.content import date_text
from documents.render.geometry import CHAR_PITCH, LINE_PITCH, SEAL_DIAMETER, SIZE_3, TYPE_LEFT, TYPE_RIGHT

from . import samples
from .pdfpages import Line, chars, find, lines


def inside(line: Line, box: Box) -> bool:
    return (
        box.x1 - 0.01 <= line.x0
        and line.x1 <= box.x2 + 0.01
        and box.y1 - 0.01 <= line.bottom
        and line.top <= box.y2 + 0.01
    )


def centre_y(line: Line) -> float:
    return (line.top + line.bottom) / 2


@pytest.mark.parametrize(("sample", "align"), [("notice", "centre"), ("request", "left"), ("letter", "right")])
def test_number_box_is_the_line_the_number_takes(fonts: FontSet, sample: str, align: str) -> None:
    make = getattr(samples, sample)
    numbered = make()
    assert numbered.number is not None
    blank = render(make(number=None), fonts)
    box = blank.number_box
    assert isinstance(box, NumberBox)
    assert box.page == 0 and box.align == align
    assert box.height == pytest.approx(LINE_PITCH)
    assert blank.layout()["number_box"] == box.as_list() and blank.layout()["number_align"] == align
    assert not any(numbered.number in line.text for line in lines(chars(blank.pdf)[0]))

    page = lines(chars(render(numbered, fonts).pdf)[0])
    number = find(page, numbered.number)
    span = [c for c in number.chars if c["x0"] >= box.x1 - 0.01 and c["x1"] <= box.x2 + 0.5]
    assert "".join(c["text"] for c in span) == numbered.number
    assert box.y1 < number.bottom and number.top < box.y2
    assert centre_y(number) == pytest.approx((box.y1 + box.y2) / 2, abs=0.01)
    # Drawn centred in the box fitted to its width, the number lands where the layout puts it.
    width = fonts.text_width(numbered.number, Role.BODY, SIZE_3)
    fitted = box.fit(width)
    x0, x1 = span[0]["x0"], span[-1]["x0"] + (span[-1]["x1"] - span[-1]["x0"])
    assert (fitted.x1 + fitted.x2) / 2 == pytest.approx((x0 + x1) / 2, abs=1.5)
    if align == "centre":
        assert (box.x1, box.x2) == (pytest.approx(TYPE_LEFT), pytest.approx(TYPE_RIGHT))
    elif align == "left":
        assert box.x1 == pytest.approx(TYPE_LEFT + CHAR_PITCH)
        signers = find(page, "郑浩")
        assert box.x2 < next(c for c in signers.chars if c["text"] == "郑")["x0"]
    else:
        assert box.x2 == pytest.approx(TYPE_RIGHT)


def test_number_box_is_absent_when_the_number_is_printed(notice: Rendered) -> None:
    assert notice.number_box is None
    assert notice.layout()["number_box"] is None


@pytest.mark.parametrize("sample", ["notice", "letter", "request", "minutes"])
def test_seal_box_is_pressed_over_the_issuer_and_the_date(fonts: FontSet, sample: str) -> None:
    content = getattr(samples, sample)()
    rendered = render(content, fonts)
    seal = rendered.seal_box
    assert seal.width == pytest.approx(SEAL_DIAMETER) and seal.height == pytest.approx(SEAL_DIAMETER)
    page = lines(chars(rendered.pdf)[seal.page])
    date = find(page, date_text(content.date))
    name = page[page.index(date) - 1]
    assert name.text == content.signature_text
    assert date.text == date_text(content.date)
    # The date four characters from the right edge, the issuer centred over it, the seal centred on both.
    assert date.chars[-1]["x0"] + CHAR_PITCH == pytest.approx(TYPE_RIGHT - 4 * CHAR_PITCH, abs=0.5)
    date_centre = (date.x0 + date.chars[-1]["x0"] + CHAR_PITCH) / 2
    assert (name.x0 + name.chars[-1]["x0"] + CHAR_PITCH) / 2 == pytest.approx(date_centre, abs=0.5)
    assert (seal.x1 + seal.x2) / 2 == pytest.approx(date_centre, abs=0.5)
    # Both lines under the seal, below its centre (居印章中心偏下); the date fits within it, a long name may not.
    seal_centre = (seal.y1 + seal.y2) / 2
    assert inside(date, seal)
    for line in (name, date):
        assert seal.y1 < line.bottom and line.top < seal.y2
        assert centre_y(line) < seal_centre
    # The seal's top within one line of the text above it.
    above = [line for line in page if line.bottom > seal.y2 and line.size == pytest.approx(SIZE_3)]
    assert above and 0 <= above[-1].bottom - seal.y2 <= LINE_PITCH
    assert rendered.layout()["seal_box"] == seal.as_list()
