"""Faces per role from the settings, the free faces as fallbacks, and the errors when neither will do."""

from __future__ import annotations

from pathlib import Path

import pytest

from documents.render import FontSet, FontUnavailable, GlyphMissing, Role, body_font, fonts_from_settings, render
from esign.settings import Settings

from . import samples
from .pdfpages import chars, find, lines

KAI = Path("/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf")


def test_settings_put_a_face_first_in_its_role(fonts: FontSet) -> None:
    configured = fonts_from_settings(Settings(font_body=[KAI]))
    assert configured.primary(Role.BODY).path == KAI
    assert configured.primary(Role.TITLE) is fonts.primary(Role.TITLE)
    page = lines(chars(render(samples.notice(), configured).pdf)[0])
    paragraph = find(page, samples.OPENING_PARAGRAPH[:8])
    assert all(c["fontname"].endswith("+" + configured.primary(Role.BODY).postscript_name) for c in paragraph.chars)


def test_every_role_ends_with_every_installed_face(fonts: FontSet) -> None:
    installed = {face.path for chain in fonts.chains.values() for face in chain}
    for role in Role:
        assert {face.path for face in fonts.chains[role]} == installed


def test_a_missing_configured_face_is_an_error() -> None:
    with pytest.raises(FontUnavailable, match="does not exist"):
        fonts_from_settings(Settings(font_title=[Path("/nonexistent/方正小标宋简体.ttf")]))


def test_a_character_no_face_draws_is_an_error_not_a_blank_box(fonts: FontSet) -> None:
    with pytest.raises(GlyphMissing) as caught:
        render(samples.notice(title="关于\U0001f600的通知"), fonts)
    assert caught.value.characters == "\U0001f600" and caught.value.code == "glyph_missing"
    assert fonts.missing("通知\U0001f600", Role.TITLE) == "\U0001f600"


def test_body_font_names_a_face_that_draws_the_number(fonts: FontSet) -> None:
    primary = fonts.primary(Role.BODY)
    assert body_font(Settings()) == primary.path
    path = body_font(Settings(), "示府办〔2026〕12号")
    assert all(face.has(c) for face in fonts.chains[Role.BODY] if face.path == path for c in "示府办〔2026〕12号")
