"""What a visible signature looks like on paper, read back from the page as PDFium draws it: the block's text
(with the time in Beijing time), its frame and size, a long reason wrapped or refused, and the seal's name
clear of its ring."""

from __future__ import annotations

import io
import math
import re
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from pyhanko.pdf_utils.reader import PdfFileReader

from esign.appearance import Appearance, seal_pdf
from esign.errors import AppearanceError
from esign.fonts import SEAL_CANDIDATES, seal_font
from esign.sign import SignOptions, sign
from esign.signature_block import MAX_REASON_CHARS, MIN_FONT_SIZE
from esign.signers import KeySigner

BOX = (340.0, 250.0, 540.0, 370.0)


@dataclass
class Drawn:
    text: str
    boxes: list[tuple[float, float, float, float]]  # (left, bottom, right, top) of each word of the block


_WORD = re.compile(r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>')


def _flattened_block(signed: bytes, tmp_path: Path) -> Drawn:
    """The signature block's text on page 1 and where poppler's pdftotext finds its words, once PDFium has
    drawn the widget into the page as a printer would get it."""
    document = pdfium.PdfDocument(signed)
    page = document[0]
    height = page.get_height()
    assert pdfium_c.FPDFPage_Flatten(page.raw, pdfium_c.FLAT_PRINT) == pdfium_c.FLATTEN_SUCCESS
    page.close()
    flat = tmp_path / "flat.pdf"
    document.save(flat)
    text = subprocess.run(["pdftotext", "-raw", str(flat), "-"], capture_output=True, text=True, check=True).stdout
    html = subprocess.run(["pdftotext", "-bbox", str(flat), "-"], capture_output=True, text=True, check=True).stdout
    words = [(float(a), float(b), float(c), float(d), w) for a, b, c, d, w in _WORD.findall(html)]
    first = next(i for i, word in enumerate(words) if word[4].startswith("签名人"))
    boxes = [(x1, height - y2, x2, height - y1) for x1, y1, x2, y2, _ in words[first:]]
    return Drawn(text=text[text.index("签名人") :], boxes=boxes)


def _signed(signer: KeySigner, pdf: bytes, reason: str | None = "同意", **appearance: object) -> bytes:
    return sign(pdf, signer, SignOptions(reason=reason, appearance=Appearance(box=BOX, **appearance)))  # type: ignore[arg-type]


def test_the_block_gives_the_time_in_beijing_time_with_its_offset(
    ec_signer: KeySigner, one_page_pdf: bytes, tmp_path: Path
) -> None:
    before = datetime.now(UTC)
    drawn = _flattened_block(_signed(ec_signer, one_page_pdf), tmp_path)
    match = re.search(r"时间：(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) \+08:00", drawn.text)
    assert match, drawn.text
    shown = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) - timedelta(hours=8)
    assert before - timedelta(seconds=2) <= shown <= datetime.now(UTC), (shown, before)
    assert "UTC" not in drawn.text


def test_another_zone_is_shown_with_its_own_offset(ec_signer: KeySigner, one_page_pdf: bytes, tmp_path: Path) -> None:
    drawn = _flattened_block(_signed(ec_signer, one_page_pdf, zone="Europe/London"), tmp_path)
    assert re.search(r"时间：\S+ \S+ \+0[01]:00", drawn.text), drawn.text
    with pytest.raises(AppearanceError, match="time zone"):
        Appearance(zone="Mars/Olympus")


def test_the_block_names_signer_and_organisation_inside_its_frame_at_a_readable_size(
    ec_signer: KeySigner, one_page_pdf: bytes, tmp_path: Path
) -> None:
    signed = _signed(ec_signer, one_page_pdf)
    drawn = _flattened_block(signed, tmp_path)
    organisation = ec_signer.signing_cert.subject.native["organization_name"]
    assert "签名人：张三" in drawn.text and f"单位：{organisation}" in drawn.text and "原因：同意" in drawn.text
    x1, y1, x2, y2 = BOX
    for left, bottom, right, top in drawn.boxes:
        assert x1 < left and right < x2 and y1 < bottom and top < y2, (left, bottom, right, top)
    # A line of ideographs is about an em tall: at 7 pt or more the block is readable, not a speck.
    assert min(top - bottom for _, bottom, _, top in drawn.boxes) >= MIN_FONT_SIZE * 0.9, drawn.boxes
    # The frame: a dark line along the whole top edge of the box.
    document = pdfium.PdfDocument(signed)
    document.init_forms()
    scale = 2
    image = document[0].render(scale=scale, may_draw_forms=True).to_pil().convert("L")
    height = document[0].get_height()
    row = round((height - y2) * scale)
    dark = [
        min(image.getpixel((x, y)) for y in range(row - 2, row + 3))  # type: ignore[type-var]
        for x in range(round(x1 * scale) + 2, round(x2 * scale) - 2)
    ]
    assert sum(1 for v in dark if v < 128) >= 0.95 * len(dark)


def test_a_moderate_reason_is_wrapped_inside_the_box(ec_signer: KeySigner, one_page_pdf: bytes, tmp_path: Path) -> None:
    reason = "经审核，同意按此方案执行，请各处室于五个工作日内反馈意见并抄送办公室。" * 2
    drawn = _flattened_block(_signed(ec_signer, one_page_pdf, reason=reason), tmp_path)
    assert reason in re.sub(r"\s", "", drawn.text)
    lines = [line for line in drawn.text.splitlines() if line.strip()]
    assert len(lines) >= 5, lines  # 签名人, 单位, 时间 and a reason on more than one line
    x1, y1, x2, y2 = BOX
    assert all(x1 < left and right < x2 and y1 < bottom and top < y2 for left, bottom, right, top in drawn.boxes)
    assert min(top - bottom for _, bottom, _, top in drawn.boxes) >= MIN_FONT_SIZE * 0.9, drawn.boxes


def test_an_over_long_reason_is_refused_not_shrunk(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    with pytest.raises(AppearanceError, match=f"reason: at most {MAX_REASON_CHARS} characters") as caught:
        _signed(ec_signer, one_page_pdf, reason="同" * 3000)
    assert "3000" in caught.value.message
    # Invisible, the same reason is only the signature's /Reason: nothing to print, nothing refused.
    assert sign(one_page_pdf, ec_signer, SignOptions(reason="同" * 3000)).startswith(one_page_pdf)


def test_text_that_cannot_fit_at_a_readable_size_is_refused(ec_signer: KeySigner, one_page_pdf: bytes) -> None:
    with pytest.raises(AppearanceError, match="does not fit its box of 90 × 30 points"):
        sign(one_page_pdf, ec_signer, SignOptions(reason="同意", appearance=Appearance(box=(100, 100, 190, 130))))


def _red_at(image: object, centre: float, radius: float, scale: float) -> int:
    """Red pixels on the circle of ``radius`` (seal units) round the centre, sampled every half degree."""
    count = 0
    for i in range(720):
        angle = math.radians(i / 2)
        x = (centre + radius * math.cos(angle)) * scale
        y = (centre - radius * math.sin(angle)) * scale
        r, g, b = image.getpixel((round(x), round(y)))  # type: ignore[attr-defined]
        count += r > 150 and g < 120 and b < 120
    return count


@pytest.mark.parametrize("name", ["示例单位办公室", "示例市人民政府办公室", "广东省某某市某某区人民政府办公室印章"])
def test_the_seal_name_keeps_clear_of_the_ring(name: str) -> None:
    size, scale = 170.0, 6
    image = pdfium.PdfDocument(seal_pdf(name, seal_font()))[0].render(scale=scale).to_pil().convert("RGB")
    ring = size * 0.035
    inner = size / 2 - ring - 1  # the ring's inside edge
    centre = size / 2
    # A thin circle just inside the ring crosses no character (the old seal's first and last ones touched it)...
    for radius in (inner - 1.5, inner - 2.5, inner - 3.5, inner - 4.5):
        assert _red_at(image, centre, radius, scale) == 0, radius
    # ...while the ring itself, and the band where the name runs, are red.
    assert _red_at(image, centre, size / 2 - 1 - ring / 2, scale) == 720
    assert max(_red_at(image, centre, inner - d, scale) for d in range(6, 25)) > 40


def test_the_seal_name_is_set_heavy() -> None:
    font = seal_font()
    assert font.name in SEAL_CANDIDATES, f"a heavy face is installed (scripts/system-packages): {font}"
    reader = PdfFileReader(io.BytesIO(seal_pdf("示例单位办公室", font)))
    page = reader.root["/Pages"]["/Kids"][0]
    [base_font] = [str(f.get_object()["/BaseFont"]) for f in page["/Resources"]["/Font"].values()]
    assert "WenQuanYi" in base_font or "SimHei" in base_font, base_font
    content = page["/Contents"].data
    assert b"2 Tr" in content, "the characters are filled and outlined, as inked"
