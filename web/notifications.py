"""The notifications page (通知): the signed-in official's notifications newest first, each marked read on its
own or all at once by a form (``documents.circulation.notifications``); the bell in the header counts the unread."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from documents.circulation import notifications
from keys.sessions import SignedIn

from . import auth
from .explain import N_
from .signin import signed_in_form, to_login
from .templating import render

router = APIRouter(include_in_schema=False)

KINDS = {
    notifications.NotificationKind.ASSIGNED.value: N_("New step to handle"),
    notifications.NotificationKind.RETURNED.value: N_("Returned to you"),
    notifications.NotificationKind.URGED.value: N_("Urged by a leader"),
    notifications.NotificationKind.DUE_SOON.value: N_("Falls due soon"),
    notifications.NotificationKind.OVERDUE.value: N_("Overdue"),
    notifications.NotificationKind.REPLIED.value: N_("Your request was replied to"),
}


def _listed(request: Request, me: SignedIn) -> list[notifications.Listed]:
    with request.app.state.database.transaction() as session:
        return notifications.list_notifications(session, actor=me.actor)


@router.get("/notifications")
async def page(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    listed = await run_in_threadpool(_listed, request, me)
    return render(request, "notifications.html", {"me": me, "listed": listed, "kinds": KINDS})


def _mark(request: Request, me: SignedIn, ids: list[str] | None) -> None:
    with request.app.state.database.transaction() as session:
        notifications.mark_read(session, actor=me.actor, ids=ids)


@router.post("/notifications/read")
async def mark_read(request: Request) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    form, me = posted
    ids = None if form.get("all") == "1" else [form.get("id", "")[:36]]
    await run_in_threadpool(_mark, request, me, ids)
    return RedirectResponse("/notifications", status_code=303)
