"""Rendering a page: the Jinja2 environment with the request's language, times in the organisation's zone."""

from __future__ import annotations

from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from . import auth, csp, i18n
from .explain import STEP_KINDS

TEMPLATES = Path(__file__).parent / "templates"

_environment = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(("html",)),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
    auto_reload=False,
)


def when(value: datetime | None, zone: tzinfo) -> str:
    """A time as a clerk reads it, in the organisation's zone with its UTC offset: ``2026-12-06 09:48 UTC+08:00``."""
    if value is None:
        return "—"
    local = value.astimezone(zone)
    offset = local.strftime("%z")
    return f"{local:%Y-%m-%d %H:%M:%S} UTC{offset[:3]}:{offset[3:]}"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    lang = i18n.language(request)
    translations = i18n.translations(lang)
    zone = request.app.state.settings.zone
    page = _environment.get_template(template).render(
        {
            **context,
            "lang": lang,
            "html_lang": i18n.HTML_LANG[lang],
            "languages": i18n.LANGUAGES,
            "path": request.url.path,
            "unread": getattr(request.state, "unread", None),
            "max_upload_bytes": request.app.state.settings.max_upload_bytes,
            "max_upload_mb": request.app.state.settings.max_upload_mb,
            "when": lambda value: when(value, zone),
            "csrf": lambda: auth.csrf_token(request),
            "csrf_field": auth.CSRF_FIELD,
            "step_kind": lambda kind: translations.gettext(STEP_KINDS[kind]) if kind in STEP_KINDS else kind,
            "gettext": translations.gettext,
            "ngettext": translations.ngettext,
            "_": translations.gettext,
        }
    )
    response = HTMLResponse(page, status_code=status_code, headers={**csp.HEADERS, **(headers or {})})
    return auth.remember_browser(request, response)
