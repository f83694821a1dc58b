"""Errors of rendering: content that cannot be typeset, and faces that cannot be found or read."""

from __future__ import annotations

from documents.errors import DocumentsError


class RenderError(DocumentsError):
    """The document cannot be rendered as given."""

    code = "render_failed"


class FontUnavailable(RenderError):
    """A configured face is missing or unreadable, or no CJK face is installed at all."""

    code = "font_unavailable"


class GlyphMissing(RenderError):
    """No face of the role's fallback chain draws a character of the text."""

    code = "glyph_missing"

    def __init__(self, characters: str, role: str) -> None:
        listed = ", ".join(f"{c} (U+{ord(c):04X})" for c in characters)
        super().__init__(
            f"no installed face draws {listed} for the {role} text; add a face that does to ESIGN_FONT_{role.upper()}"
        )
        self.characters = characters
        self.role = role

    @property
    def details(self) -> dict[str, object]:
        return {"characters": self.characters, "role": self.role}
