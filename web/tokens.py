"""``/account/tokens``: the signed-in official makes, lists and revokes their own API tokens (named, expiring).

A new token is shown once, on the page that answers the form, and never again: only its hash is kept.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from esign.errors import InvalidInput, NotFound
from esign.ids import now
from keys import tokens
from keys.sessions import SignedIn

from . import auth
from .signin import signed_in_form, to_login
from .templating import render

router = APIRouter(include_in_schema=False)

LIFETIMES = (30, 90, 365)
"""Days a token may be made to live from the page."""


def _listed(request: Request, me: SignedIn) -> list[dict[str, object]]:
    at = now()
    with request.app.state.database.transaction() as session:
        return [
            {
                "id": t.id,
                "name": t.name,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "state": "revoked" if t.revoked_at else "expired" if t.expires_at <= at else "active",
            }
            for t in tokens.list_own(session, actor=me.actor)
        ]


def _page(request: Request, me: SignedIn, *, status_code: int = 200, **context: object) -> Response:
    listed = _listed(request, me)
    return render(
        request,
        "account/tokens.html",
        {"me": me, "tokens": listed, "lifetimes": LIFETIMES, **context},
        status_code=status_code,
    )


@router.get("/account/tokens")
async def tokens_page(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    return await run_in_threadpool(_page, request, me)


def _create(request: Request, me: SignedIn, name: str, days: int) -> tokens.IssuedToken:
    with request.app.state.database.transaction() as session:
        return tokens.create_own(session, actor=me.actor, name=name, lifetime=timedelta(days=days))


@router.post("/account/tokens")
async def create_token(request: Request) -> Response:
    checked = await signed_in_form(request)
    if isinstance(checked, Response):
        return checked
    form, me = checked
    days = int(form["days"]) if form.get("days", "").isdigit() and int(form["days"]) in LIFETIMES else 0
    try:
        if not days:
            raise InvalidInput("choose one of the lifetimes offered")
        issued = await run_in_threadpool(_create, request, me, form.get("name", ""), days)
    except InvalidInput:
        return await run_in_threadpool(lambda: _page(request, me, status_code=422, error="token_invalid"))
    return await run_in_threadpool(lambda: _page(request, me, status_code=201, issued=issued))


def _revoke(request: Request, me: SignedIn, token_id: str) -> None:
    with request.app.state.database.transaction() as session:
        record = session.get(tokens.ApiToken, token_id)
        if record is None or record.official_id != me.actor.official_id:  # only one's own, even for an admin
            raise NotFound(f"no token {token_id}")
        if record.revoked_at is None:
            tokens.revoke(session, actor=me.actor, token_id=token_id)


@router.post("/account/tokens/{token_id}/revoke")
async def revoke_token(request: Request, token_id: str) -> Response:
    checked = await signed_in_form(request)
    if isinstance(checked, Response):
        return checked
    _, me = checked
    try:
        await run_in_threadpool(_revoke, request, me, token_id)
    except NotFound:
        return await run_in_threadpool(lambda: _page(request, me, status_code=404, error="not_found"))
    return RedirectResponse("/account/tokens?revoked=1", status_code=303)
