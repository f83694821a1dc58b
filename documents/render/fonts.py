"""The faces a document is set in, one fallback chain per role, so that no character ever prints as a blank box.

GB/T 9704-2012 names the faces: 小标宋 for the mark and the title (§7.2.4, §7.3.1), 仿宋 for the body (§5.2.2),
黑体 for first-level headings and the 份号/密级/紧急程度 labels (§7.2.2, §7.3.3), 楷体 for second-level headings and
the 签发人 names (§7.2.6), 宋体 for page numbers (§7.5). A deployment points the settings ``font_mark``,
``font_title``, ``font_body``, ``font_heading`` and ``font_kai`` at its licensed faces, or drops them into a
``font_dirs`` folder under their usual file names; otherwise free Debian faces stand in. Every role's chain goes on
with the free faces found, closest in style first, and each character is drawn by the first face whose cmap maps
it to a glyph with an outline.

Faces are read once per process (reportlab's TrueType reader) and shared by every render, from any thread: a render
only reads them.
"""

from __future__ import annotations

import enum
import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from reportlab.pdfbase.ttfonts import TTFError, TTFontFace

from esign.settings import Settings

from .errors import FontUnavailable, GlyphMissing

SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")


class Role(enum.StrEnum):
    MARK = "mark"
    TITLE = "title"
    BODY = "body"
    HEADING = "heading"
    KAI = "kai"
    SONG = "song"


CANDIDATES: Mapping[Role, tuple[str, ...]] = {
    Role.MARK: ("方正小标宋简体.ttf", "方正小标宋_gbk.ttf", "fzxbsjw.ttf", "fzxbsk.ttf", "gbsn00lp.ttf"),
    Role.TITLE: ("方正小标宋简体.ttf", "方正小标宋_gbk.ttf", "fzxbsjw.ttf", "fzxbsk.ttf", "gbsn00lp.ttf"),
    Role.BODY: ("仿宋_gb2312.ttf", "fs_gb2312.ttf", "simfang.ttf", "cwfs.ttf"),
    Role.HEADING: ("黑体.ttf", "simhei.ttf", "wqy-zenhei.ttc"),
    Role.KAI: ("楷体_gb2312.ttf", "kaiti_gb2312.ttf", "simkai.ttf", "gkai00mp.ttf"),
    Role.SONG: ("simsun.ttc", "simsun.ttf", "gbsn00lp.ttf"),
}
"""File names searched for, best first, compared without case. The last of each is a free Debian face:
fonts-arphic-gbsn00lp (AR PL SungtiL GB), fonts-cwtex-fs (cwTeX 仿宋), fonts-wqy-zenhei (文泉驿正黑),
fonts-arphic-gkai00mp (AR PL KaitiM GB)."""

_KAI_FIRST = ("gkai00mp.ttf", "ukai.ttc", "gbsn00lp.ttf", "uming.ttc", "wqy-zenhei.ttc", "cwfs.ttf")
_SONG_FIRST = ("gbsn00lp.ttf", "uming.ttc", "gkai00mp.ttf", "ukai.ttc", "wqy-zenhei.ttc", "cwfs.ttf")
FALLBACKS: Mapping[Role, tuple[str, ...]] = {
    Role.MARK: _SONG_FIRST,
    Role.TITLE: _SONG_FIRST,
    Role.BODY: _KAI_FIRST,
    Role.HEADING: ("wqy-zenhei.ttc", *_SONG_FIRST),
    Role.KAI: _KAI_FIRST,
    Role.SONG: _SONG_FIRST,
}
"""Faces every chain ends with, closest in style first. cwTeX 仿宋 lacks about a third of the common simplified
characters, which 楷体 (AR PL KaitiM GB, all of GB 2312) fills in with the closest look; AR PL UKai and UMing
(fonts-arphic-ukai, fonts-arphic-uming) cover most of the CJK block beyond GB 2312 (names such as 堃 or 喆) in the
Kai and Song styles, and 文泉驿正黑 most of the rest."""

CENTRED_PUNCTUATION = frozenset({"cwfs.ttf"})
"""Faces that set Chinese punctuation the Taiwanese way (，。、 centred in the square, “” as narrow Western quotes);
their punctuation is skipped so that it is set as mainland usage (GB/T 15834) has it."""

STAND_IN_STROKE: Mapping[str, float] = {"gbsn00lp.ttf": 0.028}
"""Faces that stand in for 小标宋 in the mark and the title, and the outline stroke (in em) that gives their light
strokes the weight of a 小标宋 (a licensed 小标宋 is drawn as it is)."""

_WHITESPACE = frozenset((0x20, 0xA0, 0x3000))


@dataclass(frozen=True, eq=False)
class Face:
    """One TrueType face (a file, and an index into it for collections), read once per process."""

    path: Path
    index: int
    tt: TTFontFace = field(repr=False)
    covered: frozenset[int] = field(repr=False)
    centred_punctuation: bool = False

    @property
    def key(self) -> str:
        return f"{self.path.stem}-{self.index}"

    @property
    def postscript_name(self) -> str:
        raw = self.tt.name.decode("latin-1") if isinstance(self.tt.name, bytes) else str(self.tt.name)
        return "".join(c for c in raw if c.isascii() and (c.isalnum() or c == "-")) or self.path.stem

    @property
    def descent(self) -> float:
        """Bottom of the ideographic em box below the baseline, in em (negative): the OS/2 typographic metrics."""
        return float(self.tt.descent) / (float(self.tt.ascent) - float(self.tt.descent))

    def has(self, char: str) -> bool:
        return ord(char) in self.covered

    def draws(self, char: str) -> bool:
        """Whether this face should draw ``char``: it has the glyph, in the right style."""
        return ord(char) in self.covered and not (self.centred_punctuation and _chinese_punctuation(char))

    def advance(self, char: str) -> float:
        """Advance width in em."""
        return float(self.tt.charWidths.get(ord(char), self.tt.defaultWidth)) / 1000

    def width_per_mille(self, code: int) -> float:
        return float(self.tt.charWidths.get(code, self.tt.defaultWidth))


def _chinese_punctuation(char: str) -> bool:
    """Punctuation that is full-width in Chinese text, including the quotes, dashes and ellipsis that Unicode leaves
    ambiguous."""
    return unicodedata.category(char).startswith("P") and unicodedata.east_asian_width(char) in ("W", "F", "A")


def _full_width(code: int, advance: float) -> bool:
    return unicodedata.east_asian_width(chr(code)) in ("W", "F") or advance >= 0.75


def _widen(tt: TTFontFace) -> None:
    """Give full-width characters an advance of one em where the face gives them less.

    cwTeX 仿宋 advances its ideographs by 0.92 em. Set on the grid, every such glyph leaves a gap to the next one,
    and where the next comes from another face text extractors take that gap for a space (poppler does at 0.03 em).
    With em advances in the embedded subset (and the same widths in the PDF), glyph boxes tile the grid as they do
    in every other face; the outlines, and so what is printed, do not move."""
    units = int(tt.unitsPerEm)
    for code, glyph in tt.charToGlyph.items():
        advance = float(tt.charWidths.get(code, tt.defaultWidth)) / 1000
        if advance < 1 and _full_width(code, advance) and glyph < len(tt.hmetrics):
            tt.charWidths[code] = 1000.0
            _, lsb = tt.hmetrics[glyph]
            tt.hmetrics[glyph] = (units, lsb)


def _coverage(tt: TTFontFace) -> frozenset[int]:
    positions = tt.glyphPos
    return frozenset(
        code
        for code, glyph in tt.charToGlyph.items()
        if code in _WHITESPACE or (glyph + 1 < len(positions) and positions[glyph + 1] > positions[glyph])
    )


@lru_cache(maxsize=64)
def load_face(path: Path, index: int = 0) -> Face:
    """The face at ``path`` (``index`` into a .ttc collection), read once per process."""
    try:
        tt = TTFontFace(str(path), subfontIndex=index)
    except (TTFError, OSError) as e:
        raise FontUnavailable(f"cannot use the font {path}: {e} (TrueType outlines are needed, not CFF)") from e
    _widen(tt)
    return Face(
        path=path,
        index=index,
        tt=tt,
        covered=_coverage(tt),
        centred_punctuation=path.name.lower() in CENTRED_PUNCTUATION,
    )


@lru_cache(maxsize=8)
def _font_files(dirs: tuple[Path, ...]) -> Mapping[str, Path]:
    found: dict[str, Path] = {}
    for folder in dirs:
        if not folder.is_dir():
            continue
        for root, _, files in os.walk(folder):
            for name in files:
                found.setdefault(name.lower(), Path(root) / name)
    return found


@dataclass(frozen=True, eq=False)
class FontSet:
    """The fallback chain of every role, and the face each character of each role is drawn with."""

    chains: Mapping[Role, tuple[Face, ...]]
    strokes: Mapping[Role, float]
    """Outline stroke in em added to a role's text (a stand-in face made heavier); 0 for most roles."""
    _memo: dict[tuple[Role, str], Face] = field(default_factory=dict, repr=False)

    def face(self, char: str, role: Role) -> Face:
        """The first face of the role's chain that draws ``char``; ``GlyphMissing`` when none does."""
        key = (role, char)
        found = self._memo.get(key)
        if found is not None:
            return found
        chain = self.chains[role]
        for face in chain:
            if face.draws(char):
                self._memo[key] = face
                return face
        for face in chain:
            if face.has(char):
                self._memo[key] = face
                return face
        raise GlyphMissing(char, role.value)

    def primary(self, role: Role) -> Face:
        return self.chains[role][0]

    def missing(self, text: str, role: Role) -> str:
        """The characters of ``text`` that no face of the role draws."""
        return "".join(dict.fromkeys(c for c in text if not any(f.has(c) for f in self.chains[role])))

    def cell_width(self, char: str, role: Role, cell: float) -> float:
        """Width ``char`` takes on a line whose full-width character is ``cell`` wide: full-width characters
        (ideographs, Chinese punctuation) take one cell; others their advance scaled to the cell."""
        if unicodedata.east_asian_width(char) in ("W", "F"):
            return cell
        advance = self.face(char, role).advance(char)
        return cell if advance >= 0.75 else advance * cell

    def text_width(self, text: str, role: Role, size: float) -> float:
        """Natural width of ``text`` at ``size`` points."""
        return sum(self.face(c, role).advance(c) for c in text) * size


def _chain(role: Role, explicit: tuple[Path, ...], files: Mapping[str, Path]) -> tuple[tuple[Face, ...], float]:
    faces: list[Face] = []
    for path in explicit:
        if not path.is_file():
            raise FontUnavailable(f"the {role.value} font {path} does not exist")
        faces.append(load_face(path))
    stroke = 0.0
    for position, name in enumerate((*CANDIDATES[role], *FALLBACKS[role])):
        found = files.get(name.lower())
        if found is None:
            continue
        face = load_face(found)
        if face in faces:
            continue
        if not faces and position < len(CANDIDATES[role]) and role in (Role.MARK, Role.TITLE):
            stroke = STAND_IN_STROKE.get(name, 0.0)
        faces.append(face)
    return tuple(faces), stroke


@lru_cache(maxsize=8)
def _font_set(dirs: tuple[Path, ...], explicit: tuple[tuple[Path, ...], ...]) -> FontSet:
    files = _font_files((*dirs, *SYSTEM_FONT_DIRS))
    chains: dict[Role, tuple[Face, ...]] = {}
    strokes: dict[Role, float] = {}
    for role, paths in zip(Role, explicit, strict=True):
        chains[role], strokes[role] = _chain(role, paths, files)
        if not chains[role]:
            raise FontUnavailable(
                "no CJK TrueType font found: install the Debian packages fonts-arphic-gbsn00lp, fonts-cwtex-fs, "
                "fonts-wqy-zenhei and fonts-arphic-gkai00mp, or point ESIGN_FONT_DIRS at licensed faces"
            )
    return FontSet(chains=chains, strokes=strokes)


def fonts_from_settings(settings: Settings) -> FontSet:
    """The faces the settings name (``font_mark`` … ``font_kai``, ``font_dirs``), completed by the installed ones."""
    explicit = (
        tuple(settings.font_mark),
        tuple(settings.font_title),
        tuple(settings.font_body),
        tuple(settings.font_heading),
        tuple(settings.font_kai),
        (),
    )
    return _font_set(tuple(settings.font_dirs), explicit)


def default_fonts() -> FontSet:
    """The installed faces only, ignoring the settings."""
    return _font_set((), ((),) * len(Role))


def body_font(settings: Settings, text: str = "") -> Path:
    """The file of the first body face that draws every character of ``text`` (the primary one for ``""``), for
    drawing a document number into the box ``render`` left for it."""
    chain = fonts_from_settings(settings).chains[Role.BODY]
    for face in chain:
        if all(face.has(c) for c in text):
            return face.path
    return max(chain, key=lambda face: sum(face.has(c) for c in text)).path
