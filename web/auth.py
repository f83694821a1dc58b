"""Who is signed in on a page, the session cookie, and the CSRF token every form carries.

The session cookie holds a random id whose hash :mod:`keys.sessions` keeps; it is ``HttpOnly``,
``SameSite=Lax`` and, behind HTTPS, ``Secure``. CSRF: every form carries an HMAC (under a key derived from the
server secret) of a random per-browser cookie and of the session cookie; a posted form whose field does not
match its cookies is refused before anything else is read. Another site can neither read those cookies nor
compute the tag, so it cannot make a form this service accepts.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from documents.circulation import notifications
from esign.errors import EsignError, Unauthenticated
from esign.settings import Settings
from keys import sessions
from keys.sessions import SignedIn

from . import sealed

R = TypeVar("R", bound=Response)

CSRF_COOKIE = "esign_csrf"
CSRF_FIELD = "csrf_token"


class CsrfRefused(EsignError):
    """A posted form without the token its page was given."""

    code = "csrf_refused"


def key(settings: Settings) -> bytes:
    return sealed.derive_key(settings, "web-csrf")


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def secure(request: Request) -> bool:
    return request.url.scheme == "https" or _settings(request).secure_cookies


def _browser_id(request: Request) -> str:
    """The per-browser CSRF cookie's value, made on the first page that shows a form (``remember_browser``)."""
    value = request.cookies.get(CSRF_COOKIE) or getattr(request.state, "new_csrf_cookie", None)
    if not value:
        value = secrets.token_urlsafe(24)
        request.state.new_csrf_cookie = value
    return value


def csrf_token(request: Request) -> str:
    bound = f"{_browser_id(request)}|{request.cookies.get(sessions.COOKIE, '')}"
    return hmac.new(key(_settings(request)), bound.encode(), hashlib.sha256).hexdigest()


def remember_browser(request: Request, response: R) -> R:
    """Sets the CSRF cookie when the page just made one up for its form."""
    made = getattr(request.state, "new_csrf_cookie", None)
    if made:
        response.set_cookie(CSRF_COOKIE, made, httponly=True, samesite="lax", secure=secure(request), path="/")
    return response


MAX_FIELDS = 256
"""Fields a page's form may post: a dispatch ticks one box per recipient."""


async def checked_form(request: Request) -> dict[str, str]:
    """The posted form's text fields, once its CSRF token matches the browser's cookies; ``CsrfRefused`` else."""
    form = await request.form(max_files=0, max_fields=MAX_FIELDS, max_part_size=64 * 1024)
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    if not request.cookies.get(CSRF_COOKIE) or not hmac.compare_digest(fields.get(CSRF_FIELD, ""), csrf_token(request)):
        raise CsrfRefused("the form did not carry this page's security token; reload the page and try again")
    return fields


def signed_in(request: Request) -> SignedIn | None:
    """The signed-in official, or None; an expired session is ended there and then. Their unread notifications
    are counted in the same transaction, for the bell in the page header (``request.state.unread``)."""
    cookie = request.cookies.get(sessions.COOKIE)
    if not cookie:
        return None
    try:
        with request.app.state.database.transaction() as session:
            me = sessions.authenticate(session, cookie, settings=_settings(request))
            request.state.unread = notifications.unread_count(session, actor=me.actor)
            return me
    except Unauthenticated:
        return None


def start_session(request: Request, response: Response, cookie: str) -> Response:
    """The session cookie (no ``Max-Age``: it ends with the browser; the server ends it sooner)."""
    response.set_cookie(sessions.COOKIE, cookie, httponly=True, samesite="lax", secure=secure(request), path="/")
    return response


def end_session(request: Request, response: Response) -> Response:
    response.delete_cookie(sessions.COOKIE, httponly=True, samesite="lax", secure=secure(request), path="/")
    return response
