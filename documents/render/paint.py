"""Turning a laid-out page into PDF content-stream operators, and keeping track of the glyphs each face must embed.

Every character is drawn at the x the layout gave it: a face's run is one ``TJ`` whose numbers close the gap between
a glyph's own advance and the grid (``TJ`` rather than character spacing, which readers disagree about after the
last glyph of a string). Glyphs are addressed through one-byte codes in subsets of at most 254
characters per face (code 32 stays the space), each of which becomes a simple TrueType font (see ``pdffile``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .fonts import Face, FontSet
from .layout import Bar, Page, Text

_SPACE = 32
_CODES = [c for c in range(1, 256) if c != _SPACE]


@dataclass(eq=False)
class Subset:
    """Up to 254 characters of one face, each under a one-byte code."""

    face: Face
    name: str
    codepoints: list[int] = field(default_factory=lambda: [0])
    """Code → Unicode code point; 0 where a code is unused."""
    used: int = 0

    def add(self, codepoint: int) -> int | None:
        """The code given to ``codepoint``, or None when the subset is full."""
        if codepoint == _SPACE:
            code = _SPACE
        elif self.used < len(_CODES):
            code = _CODES[self.used]
            self.used += 1
        else:
            return None
        if len(self.codepoints) <= code:
            self.codepoints.extend([0] * (code + 1 - len(self.codepoints)))
        self.codepoints[code] = codepoint
        return code


class FontUsage:
    """The codes given to each (face, character) in one document."""

    def __init__(self) -> None:
        self._codes: dict[Face, dict[str, tuple[Subset, int]]] = {}
        self._subsets: dict[Face, list[Subset]] = {}

    @property
    def subsets(self) -> list[Subset]:
        return [s for subsets in self._subsets.values() for s in subsets]

    def encode(self, face: Face, text: str) -> list[tuple[Subset, bytearray]]:
        """``text`` as runs of one-byte codes, one run per subset."""
        codes = self._codes.setdefault(face, {})
        runs: list[tuple[Subset, bytearray]] = []
        for char in text:
            found = codes.get(char)
            if found is None:
                found = codes[char] = self._assign(face, ord(char))
            subset, code = found
            if runs and runs[-1][0] is subset:
                runs[-1][1].append(code)
            else:
                runs.append((subset, bytearray((code,))))
        return runs

    def _assign(self, face: Face, codepoint: int) -> tuple[Subset, int]:
        if face not in self._subsets:
            self._subsets[face] = []
        subsets = self._subsets[face]
        target = subsets[0] if codepoint == _SPACE and subsets else (subsets[-1] if subsets else None)
        if target is not None:
            code = target.add(codepoint)
            if code is not None:
                return target, code
        target = Subset(face, f"F{list(self._subsets).index(face)}S{len(subsets)}")
        subsets.append(target)
        code = target.add(codepoint)
        assert code is not None
        return target, code


def _n(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _rgb(colour: tuple[float, float, float]) -> str:
    return " ".join(_n(c) for c in colour)


def _text(item: Text, fonts: FontSet, usage: FontUsage, out: list[str]) -> None:
    """One text object: a ``Tm`` where the face changes, then ``TJ`` arrays whose numbers move each glyph from where
    its own advance leaves it to where the layout put it."""
    stroke = fonts.strokes.get(item.role, 0.0)
    framed = stroke > 0 or item.hscale != 1.0
    if framed:
        out.append("q")
    out.append(f"BT {_rgb(item.colour)} rg")
    if stroke > 0:
        out.append(f"{_rgb(item.colour)} RG {_n(stroke * item.size)} w 2 Tr")
    if item.hscale != 1.0:
        out.append(f"{_n(item.hscale * 100)} Tz")
    size, scale = item.size, item.hscale
    text, xs = item.text, item.xs
    start = 0
    while start < len(text):
        face = fonts.face(text[start], item.role)
        end = start + 1
        while end < len(text) and fonts.face(text[end], item.role) is face:
            end += 1
        out.append(f"1 0 0 1 {_n(xs[start])} {_n(item.em_bottom - face.descent * size)} Tm")
        position = start
        for subset, codes in usage.encode(face, text[start:end]):
            parts: list[str] = []
            for code in codes:
                if position > start:
                    drift = xs[position] - xs[position - 1] - face.advance(text[position - 1]) * size * scale
                    if abs(drift) > 0.001:
                        parts.append(_n(-drift * 1000 / (size * scale)))
                parts.append(f"<{code:02x}>")
                position += 1
            out.append(f"/{subset.name} {_n(size)} Tf [{''.join(parts)}] TJ")
        start = end
    out.append("ET")
    if framed:
        out.append("Q")


def paint(page: Page, fonts: FontSet, usage: FontUsage) -> bytes:
    """The content stream of ``page``; the glyphs it uses are recorded in ``usage``."""
    out: list[str] = []
    for item in page.items:
        if isinstance(item, Bar):
            out.append(
                f"{_rgb(item.colour)} rg {_n(item.x1)} {_n(item.y1)} "
                f"{_n(item.x2 - item.x1)} {_n(item.y2 - item.y1)} re f"
            )
        else:
            _text(item, fonts, usage, out)
    return "\n".join(out).encode("ascii")
