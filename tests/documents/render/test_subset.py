"""The subset font programs: the same glyphs and metrics as reportlab's own subsetter, read back by fontTools."""

from __future__ import annotations

import io

import pytest
from fontTools.ttLib import TTFont

from documents.render import FontSet
from documents.render.subset import subset_program


def test_subsets_match_reportlabs_glyph_for_glyph(fonts: FontSet) -> None:
    faces = {face for chain in fonts.chains.values() for face in chain}
    assert faces
    for face in faces:
        covered = sorted(c for c in face.covered if c > 32)
        codepoints = [0, *covered[:: max(1, len(covered) // 250)][:250]]
        codepoints[32] = 32
        ours = TTFont(io.BytesIO(subset_program(face, codepoints)))
        theirs = TTFont(io.BytesIO(face.tt.makeSubset(codepoints)))
        assert len(ours["cmap"].tables) == 1 and (
            ours["cmap"].tables[0].platformID,
            ours["cmap"].tables[0].platEncID,
        ) == (1, 0)
        mine, reference = ours["cmap"].getcmap(1, 0).cmap, theirs["cmap"].getcmap(1, 0).cmap
        for code in range(1, len(codepoints)):
            a, b = ours["glyf"][mine[code]], theirs["glyf"][reference[code]]
            assert ours["hmtx"][mine[code]] == theirs["hmtx"][reference[code]], (face.key, code)
            coordinates = (
                list(a.getCoordinates(ours["glyf"])[0]) if a.numberOfContours else None,
                list(b.getCoordinates(theirs["glyf"])[0]) if b.numberOfContours else None,
            )
            assert coordinates[0] == coordinates[1], (face.key, code)
        assert ours["maxp"].numGlyphs == len(ours.getGlyphOrder())


@pytest.mark.parametrize("length", [1, 31, 254])
def test_whole_file_checksum_is_right(fonts: FontSet, length: int) -> None:
    face = next(iter(fonts.chains.values()))[0]
    codepoints = [0, *sorted(c for c in face.covered if c > 0x4E00)[:length]]
    data = subset_program(face, codepoints)
    padded = data + b"\0" * (-len(data) % 4)
    assert sum(int.from_bytes(padded[i : i + 4], "big") for i in range(0, len(padded), 4)) & 0xFFFFFFFF == 0xB1B0AFBA
