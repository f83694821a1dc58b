"""Rendering throughput: GB/T 9704 documents next to a plain reportlab page with the same text, in the same run.

    python bench/render.py [--seconds 2] [--rounds 3]

  one page   a one-page 通知 (mark, number, title, recipients, a paragraph, issuer and date, notes, page number)
             rendered to PDF/A-2b, against reportlab drawing the same characters in lines of 28 with the same body
             face (registered once), without any layout rule;
  50 pages   the time to render a notice whose body runs to 50 pages.

Fonts are read once, before timing, as a serving process does at its first render. Each rate is the median of
``--rounds`` rounds of ``--seconds`` each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import rate  # noqa: E402
from documents.render import (  # noqa: E402
    Colophon,
    DocumentContent,
    FontSet,
    Heading,
    Kind,
    Paragraph,
    Role,
    default_fonts,
    render,
)
from documents.render.pdffile import font_program  # noqa: E402

TARGET = 0.3

PARAGRAPH = (
    "为深入贯彻落实党中央、国务院关于优化营商环境的决策部署，进一步提升政务服务效能，推动“高效办成一件事”，"
    "经市人民政府同意，现就有关事项通知如下。"
)


def one_page() -> DocumentContent:
    return DocumentContent(
        kind=Kind.NOTICE,
        issuer="示例市人民政府办公室",
        number="示府办〔2026〕12号",
        title="关于开展政务服务效能提升专项行动的通知",
        recipients=["各区人民政府，市政府各部门、各直属机构"],
        body=[Paragraph(text=PARAGRAPH)],
        date=dt.date(2026, 11, 23),
        notes="联系人：张伟，电话：020-12345678",
    )


def long_document(paragraphs: int) -> DocumentContent:
    return one_page().model_copy(
        update={
            "body": [Paragraph(text=PARAGRAPH * 2) for _ in range(paragraphs)],
            "colophon": Colophon(
                copy_to=["市委办公室"], printed_by="示例市人民政府办公室", printed_on=dt.date(2026, 11, 24)
            ),
        }
    )


def text_of(content: DocumentContent) -> str:
    parts = [content.mark_text, content.number or "", content.title, "、".join(content.recipients)]
    for block in content.body:
        if isinstance(block, Paragraph):
            parts.append(block.text)
        elif isinstance(block, Heading):
            parts.append(block.text + block.body)
    parts += [content.signature_text, "2026年11月23日", content.notes or "", "— 1 —"]
    return "".join(parts)


def plain_reportlab(fonts: FontSet, text: str) -> Callable[[], bytes]:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    from reportlab.pdfgen import canvas

    face = fonts.primary(Role.BODY)
    pdfmetrics.registerFont(TTFont("bench-body", str(face.path), subfontIndex=face.index))
    lines = [text[i : i + 28] for i in range(0, len(text), 28)]

    def draw() -> bytes:
        buf = io.BytesIO()
        c = canvas.Canvas(buf, pagesize=A4, initialFontName="bench-body")
        c.setFont("bench-body", 16)
        y = 760.0
        for line in lines:
            c.drawString(80, y, line)
            y -= 29
        c.showPage()
        c.save()
        return buf.getvalue()

    return draw


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    start = time.perf_counter()
    fonts = default_fonts()
    loaded = time.perf_counter() - start
    content = one_page()
    rendered = render(content, fonts)
    assert rendered.pages == 1, f"the one-page sample takes {rendered.pages} pages"
    text = text_of(content)

    def cold() -> None:
        font_program.cache_clear()
        render(content, fonts)

    ours = rate(cold, args.seconds, args.rounds)
    warm = rate(lambda: render(content, fonts), args.seconds, args.rounds)
    plain = rate(plain_reportlab(fonts, text), args.seconds, args.rounds)
    ratio = ours / plain

    paragraphs = 200
    while render(long := long_document(paragraphs), fonts).pages < 50:
        paragraphs += 10
    timings = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        pages = render(long, fonts).pages
        timings.append(time.perf_counter() - start)

    print(f"fonts read once in {loaded * 1000:.0f} ms ({', '.join(f.path.name for f in fonts.chains[Role.BODY])})")
    print(f"{'':28}{'docs/s':>10}")
    print(f"{'GB/T 9704 one-page notice':28}{ours:>10.1f}   ({len(text)} characters, PDF/A-2b, fonts subset afresh)")
    print(f"{'  the same, subsets cached':28}{warm:>10.1f}   (the same document again)")
    print(f"{'plain reportlab page':28}{plain:>10.1f}   (same characters, same face, no layout)")
    print(f"{'ratio':28}{ratio:>10.2f}×  (target ≥ {TARGET}×) {'ok' if ratio >= TARGET else 'BELOW TARGET'}")
    print(
        f"{pages}-page body: {statistics.median(timings) * 1000:.0f} ms "
        f"({statistics.median(timings) / pages * 1000:.1f} ms a page)"
    )


if __name__ == "__main__":
    main()
