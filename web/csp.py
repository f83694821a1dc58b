"""The pages' one Content-Security-Policy: everything from esign's own origin, nothing inline but images.

``img-src data:`` is for the page previews, which are sent inside the page because nothing uploaded is kept
to be fetched later. The policy also proves, in every browser that enforces it, that no page loads anything
from another origin.
"""

from __future__ import annotations

POLICY = "; ".join(
    (
        "default-src 'self'",
        "img-src 'self' data:",
        "script-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""On every page: ``no-store`` too, since a page may show what was verified from someone's upload."""
