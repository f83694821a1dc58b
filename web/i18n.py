"""Languages of the pages: Chinese by default, English by a switch, any other a catalog away.

Message ids are English; ``locale/<lang>/LC_MESSAGES/messages.po`` translates them, and the compiled ``.mo``
beside it is committed (``make messages`` rebuilds both), so a fresh clone serves every language with no build
step. ``tests/web/test_catalogs.py`` fails when templates and catalogs drift apart or a string is untranslated.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

from starlette.requests import Request

LOCALE_DIR = Path(__file__).parent / "locale"
DEFAULT = "zh"
LANGUAGES: dict[str, str] = {"zh": "中文", "en": "English"}
"""Each language by its code (a folder under ``locale/``, except English, the message ids) and its own name."""
HTML_LANG = {"zh": "zh-CN", "en": "en"}
COOKIE = "lang"


def language(request: Request) -> str:
    """``?lang=`` when given (a link that must open in one language), else the switch's cookie, else Chinese."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(COOKIE)):
        if chosen in LANGUAGES:
            return chosen
    return DEFAULT


@cache
def translations(lang: str) -> gettext.NullTranslations:
    if lang == "en":
        return gettext.NullTranslations()
    return gettext.translation("messages", localedir=LOCALE_DIR, languages=[lang])
