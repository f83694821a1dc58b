"""The status of a page that shows a refusal, from the service's error: the pages' one mapping, as
``api/errors.py`` is the API's (which ``web`` may not import), and agreeing with it for the errors both meet."""

from __future__ import annotations

from esign.errors import Busy, Conflict, EsignError, Forbidden, InvalidInput, NotFound, PdfError, TooLarge
from keys.errors import CredentialLocked, PinInvalid

from .ratelimit import RateLimited

STATUS: dict[type[EsignError], int] = {
    PinInvalid: 403,
    CredentialLocked: 423,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    TooLarge: 413,
    RateLimited: 429,
    Busy: 503,
    PdfError: 422,
    InvalidInput: 422,
}


def status_of(error: EsignError) -> int:
    """The status of the first of the error's classes listed, most specific first; 422 for any other refusal."""
    return next((STATUS[cls] for cls in type(error).__mro__ if cls in STATUS), 422)
