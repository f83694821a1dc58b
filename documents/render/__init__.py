"""Official documents (公文) rendered to PDF/A-2b, laid out per GB/T 9704-2012.

``render(content, fonts)`` takes a ``DocumentContent`` and a ``FontSet`` (``fonts_from_settings(settings)``, read
once per process) and returns the PDF with the boxes where the document number and the seal go.
"""

from .content import Attachment, Colophon, DocumentContent, Format, Heading, Kind, Paragraph, Table
from .errors import FontUnavailable, GlyphMissing, RenderError
from .fonts import FontSet, Role, body_font, default_fonts, fonts_from_settings
from .geometry import Box, NumberBox
from .render import Rendered, render

__all__ = [
    "Attachment",
    "Box",
    "Colophon",
    "DocumentContent",
    "FontSet",
    "FontUnavailable",
    "Format",
    "GlyphMissing",
    "Heading",
    "Kind",
    "NumberBox",
    "Paragraph",
    "RenderError",
    "Rendered",
    "Role",
    "Table",
    "body_font",
    "default_fonts",
    "fonts_from_settings",
    "render",
]
