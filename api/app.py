"""The FastAPI application: routes, error mapping, upload limits."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

import esign
from api import docs, errors, openapi
from api.limits import BodySizeLimit, NulRefusal
from api.routes import (
    answers,
    circulation,
    credentials,
    csc,
    documents,
    figures,
    health,
    identities,
    notifications,
    pki,
    signing,
    supervision,
    verify,
    webhooks,
)
from esign import budget as parsing
from esign.blobs import blob_store_from_settings
from esign.children import die_with_parent
from esign.db import Database
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.worker import Job, start_background
from keys.services import LazyPkiServices
from keys.signing_process import signing_process
from web import app as pages


def create_app(settings: Settings | None = None, *, background_jobs: Sequence[Job] = ()) -> FastAPI:
    """``background_jobs`` run in a thread for as long as the app is up (``esign serve``'s embedded worker)."""
    settings = settings or Settings()
    database = Database.from_settings(settings)
    pki_services = LazyPkiServices(database, settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        embedded = start_background(database, background_jobs) if background_jobs else None
        yield
        if embedded is not None:
            await run_in_threadpool(embedded.stop)
        # Children end with the server: uvicorn re-raises SIGTERM/SIGINT after this, so no atexit runs.
        await run_in_threadpool(signing_process.close)
        await run_in_threadpool(parsing.shutdown)  # kills parses in flight; their requests get 503
        await run_in_threadpool(pki_services.close)
        database.dispose()

    app = FastAPI(
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        title="esign",
        version=esign.__version__,
        summary="Electronic signatures and official-document circulation for government bodies",
        description=(
            "Sign and verify PAdES signatures on PDFs. Every error answers "
            '`{"code": ..., "message": ...}` with a fitting status.'
        ),
    )
    app.state.settings = settings
    app.state.database = database
    app.state.pki_services = pki_services
    app.state.blobs = blob_store_from_settings(settings)
    app.state.trust = TrustSettings.from_files(
        settings.trust_anchors,
        allow_fetching=settings.allow_fetching,
        revocation_mode=settings.revocation_mode,
    )
    errors.install(app)
    openapi.install(app)
    docs.install(app)
    app.add_middleware(BodySizeLimit, max_upload_bytes=settings.max_upload_bytes, pages=pages.too_large)
    app.add_middleware(NulRefusal)
    # Starlette tries the routes in order, a few microseconds each: the PKI's, the most requested, go first.
    for module in (
        pki,
        health,
        verify,
        signing,
        documents,
        circulation,
        figures,
        supervision,
        notifications,
        answers,
        credentials,
        identities,
        webhooks,
    ):
        app.include_router(module.router)
    for router in csc.routers:
        app.include_router(router)
    # The pages (web/) under `/`, after the API's routes: the same process, the same settings and workers.
    pages.install(app, settings)
    logging.getLogger("esign").setLevel(logging.INFO)
    return app


def served_app() -> FastAPI:
    """The app of one of ``esign serve --workers N``'s processes, for uvicorn's factory: settings from the
    environment the supervisor passed on, and no background jobs (the supervisor runs them, once). It dies
    with the supervisor, however that ends, even if the supervisor was gone before this process got here."""
    supervisor = multiprocessing.parent_process()
    die_with_parent(supervisor.pid if supervisor is not None and supervisor.pid is not None else os.getppid())
    return create_app(Settings())
