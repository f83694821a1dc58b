"""The pages' one Content-Security-Policy: everything from esign's own origin, nothing inline but images.

``img-src data:`` is for the page previews, which are sent inside the page because nothing uploaded is kept
to be fetched later. The policy also proves, in every browser that enforces it, that no page loads anything
from another origin.
"""

from __future__ import annotations


def policy(*, form_action: tuple[str, ...] = ()) -> str:
    """The policy; ``form_action`` adds origins a form may lead to: the sign-in page's button to the
    organisation's OpenID Connect provider posts here, and the answer redirects there, which ``form-action``
    governs too."""
    return "; ".join(
        (
            "default-src 'self'",
            "img-src 'self' data:",
            "script-src 'self'",
            "style-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            " ".join(("form-action 'self'", *form_action)),
            "frame-ancestors 'none'",
        )
    )


POLICY = policy()

HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
"""On every page: ``no-store`` too, since a page may show what was verified from someone's upload."""
