"""The inbox page: the signed-in official's open steps, the urged ones first (``documents.circulation.worklist``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from documents.circulation import inbox, worklist
from documents.circulation.supervision import Colour
from keys.sessions import SignedIn

from . import auth
from .signin import to_login
from .templating import render

router = APIRouter(include_in_schema=False)

MAX_WORDS = 10


def _filters(request: Request) -> worklist.Filters:
    """The query's filters; what is not a filter (an unknown colour, words past the tenth) is left out."""
    words = tuple(request.query_params.get("q", "")[:200].split())[:MAX_WORDS]
    colour = request.query_params.get("colour", "")
    return worklist.Filters(words=words, colour=Colour(colour) if colour in {c.value for c in Colour} else None)


def _worklist(request: Request, me: SignedIn, filters: worklist.Filters) -> worklist.Worklist:
    settings = request.app.state.settings
    with request.app.state.database.transaction() as session:
        return worklist.worklist(session, actor=me.actor, warn_days=settings.supervision_warn_days, filters=filters)


@router.get("/inbox")
async def page(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    filters = _filters(request)
    work = await run_in_threadpool(_worklist, request, me, filters)
    return render(
        request,
        "inbox.html",
        {"me": me, "work": work, "filters": filters, "colours": list(Colour), "max_open": inbox.MAX_PAGE},
    )
