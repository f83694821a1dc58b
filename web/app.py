"""Putting the pages on the application: their routes, their static assets and the verification page's rate
limit. ``api.app`` calls :func:`install`; the API's own error handlers stay in charge of everything else."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from documents.inspection import Inspections
from esign.settings import Settings

from . import (
    admin,
    document,
    drafting,
    inbox,
    notifications,
    oidc,
    register,
    signin,
    step_actions,
    supervision,
    tokens,
    verify,
)
from .ratelimit import RateLimit
from .verify import too_large

__all__ = ["install", "too_large"]

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI, settings: Settings) -> None:
    app.state.web_rate_limit = RateLimit(per_minute=settings.web_verify_per_minute)
    app.state.inspections = Inspections(app.state.pki_services.revocation_epoch)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(signin.router)
    app.include_router(tokens.router)
    app.include_router(inbox.router)
    app.include_router(notifications.router)
    app.include_router(register.router)
    app.include_router(supervision.router)
    app.include_router(admin.router)
    app.include_router(drafting.router)
    app.include_router(document.router)
    app.include_router(step_actions.router)
    app.include_router(oidc.router)
    app.include_router(verify.router)
