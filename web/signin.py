"""Signing in and out, setting a password from an invitation link, changing it; and the signed-in home at ``/``.

Every form is checked for its CSRF token first (:func:`web.auth.checked_form`). Passwords are checked in the
thread pool: argon2id takes tens of milliseconds on purpose, which must not stall the event loop.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from documents.circulation import inbox
from esign.settings import Settings
from keys import passwords, sessions
from keys.errors import AccountLocked, InvitationInvalid, PasswordRefused, SignInFailed
from keys.sessions import SignedIn

from . import auth, csp, verify
from .templating import render

router = APIRouter(include_in_schema=False)

OPEN_STEPS_SHOWN = 200
"""The home counts open steps up to this many, then says "200+"."""


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def safe_next(value: str | None, default: str = "/") -> str:
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def _see(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def to_login(request: Request) -> Response:
    """A page that needs a signed-in official, asked for without one: to the sign-in page, and back after."""
    expired = "&expired=1" if request.cookies.get(sessions.COOKIE) else ""
    response = _see(f"/login?next={quote(request.url.path)}{expired}")
    return auth.end_session(request, response) if expired else response


async def signed_in_form(request: Request) -> tuple[dict[str, str], SignedIn] | Response:
    """The form a signed-in official posted, and who they are; or the page to answer instead: the refusal
    of a form without its CSRF token, the sign-in page without a session."""
    try:
        form = await auth.checked_form(request)
    except auth.CsrfRefused as error:
        return refused(request, error)
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    return form, me


def refused(request: Request, error: auth.CsrfRefused) -> Response:
    return render(request, "signin/refused.html", {"error": error.code}, status_code=403)


@router.get("/")
async def home(request: Request) -> Response:
    """The signed-in official's home; for anyone else the verification page, as before."""
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return await verify.page(request)
    count = await run_in_threadpool(_open_steps, request, me)
    return render(request, "home.html", {"me": me, "open_steps": count, "open_steps_max": OPEN_STEPS_SHOWN})


def _open_steps(request: Request, me: SignedIn) -> int:
    with request.app.state.database.transaction() as session:
        page = inbox.inbox(session, actor=me.actor, limit=OPEN_STEPS_SHOWN)
    return len(page.steps) + (1 if page.next_cursor else 0)


def login_page_with(request: Request, *, status_code: int = 200, **context: Any) -> Response:
    query = request.query_params
    notice = next((n for n in ("expired", "signed_out", "welcome") if query.get(n)), None)
    context = {
        "notice": notice,
        "next": safe_next(query.get("next")),
        "login": query.get("login", ""),
        "oidc": bool(_settings(request).oidc_issuer),
        **context,
    }
    headers = None
    if issuer := _settings(request).oidc_issuer:
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(issuer))
        headers = {"Content-Security-Policy": csp.policy(form_action=(origin,))}
    return render(request, "signin/login.html", context, status_code=status_code, headers=headers)


@router.get("/login")
async def login_page(request: Request) -> Response:
    if await run_in_threadpool(auth.signed_in, request) is not None:
        return _see(safe_next(request.query_params.get("next")))
    return login_page_with(request)


def _sign_in(request: Request, login: str, password: str) -> str:
    """Checks the password and opens a session in one transaction (a failure's count and audit event are kept)."""
    with request.app.state.database.transaction() as session:
        official = passwords.authenticate(session, login=login, password=password, settings=_settings(request))
        return sessions.open_session(session, official=official, method="password").cookie


@router.post("/login")
async def login(request: Request) -> Response:
    try:
        form = await auth.checked_form(request)
    except auth.CsrfRefused as error:
        return refused(request, error)
    login_name, target = form.get("login", ""), safe_next(form.get("next"))
    try:
        cookie = await run_in_threadpool(_sign_in, request, login_name, form.get("password", ""))
    except AccountLocked as error:
        return login_page_with(request, status_code=423, error=error.code, login=login_name, next=target)
    except SignInFailed as error:
        return login_page_with(request, status_code=401, error=error.code, login=login_name, next=target)
    return auth.start_session(request, _see(target), cookie)


@router.post("/logout")
async def logout(request: Request) -> Response:
    try:
        await auth.checked_form(request)
    except auth.CsrfRefused as error:
        return refused(request, error)
    me = await run_in_threadpool(auth.signed_in, request)
    if me is not None:
        await run_in_threadpool(_end, request, me)
    return auth.end_session(request, _see("/login?signed_out=1"))


def _end(request: Request, me: SignedIn) -> None:
    with request.app.state.database.transaction() as session:
        sessions.end_session(session, actor=me.actor, cookie=request.cookies.get(sessions.COOKIE, ""))


@router.get("/account/password")
async def password_page(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    return render(request, "signin/password.html", {"me": me, "done": request.query_params.get("done") == "1"})


def _change(request: Request, me: SignedIn, form: dict[str, str]) -> None:
    with request.app.state.database.transaction() as session:
        passwords.change_password(
            session,
            actor=me.actor,
            current=form.get("current", ""),
            password=form.get("password", ""),
            confirm=form.get("confirm", ""),
            settings=_settings(request),
        )
        sessions.end_other_sessions(session, actor=me.actor, cookie=request.cookies.get(sessions.COOKIE, ""))


@router.post("/account/password")
async def change_password(request: Request) -> Response:
    checked = await signed_in_form(request)
    if isinstance(checked, Response):
        return checked
    form, me = checked
    try:
        await run_in_threadpool(_change, request, me, form)
    except PasswordRefused as error:
        return render(request, "signin/password.html", {"me": me, "error": error.reason}, status_code=422)
    except (SignInFailed, AccountLocked) as error:
        status = 423 if isinstance(error, AccountLocked) else 403
        return render(request, "signin/password.html", {"me": me, "error": error.code}, status_code=status)
    return _see("/account/password?done=1")


def _invitation(request: Request, token: str) -> passwords.InvitationView:
    with request.app.state.database.transaction() as session:
        return passwords.show_invitation(session, token=token)


def _invitation_gone(request: Request) -> Response:
    return render(request, "signin/invitation.html", {"error": InvitationInvalid.code}, status_code=404)


@router.get("/invitation/{token}")
async def invitation_page(request: Request, token: str) -> Response:
    try:
        view = await run_in_threadpool(_invitation, request, token)
    except InvitationInvalid:
        return _invitation_gone(request)
    return render(request, "signin/invitation.html", {"invitation": view, "token": token})


def _accept(request: Request, token: str, form: dict[str, str]) -> str:
    with request.app.state.database.transaction() as session:
        return passwords.accept_invitation(
            session,
            token=token,
            password=form.get("password", ""),
            confirm=form.get("confirm", ""),
            settings=_settings(request),
        )


@router.post("/invitation/{token}")
async def accept_invitation(request: Request, token: str) -> Response:
    try:
        form = await auth.checked_form(request)
    except auth.CsrfRefused as error:
        return refused(request, error)
    try:
        login_name = await run_in_threadpool(_accept, request, token, form)
    except InvitationInvalid:
        return _invitation_gone(request)
    except PasswordRefused as error:
        view = await run_in_threadpool(_invitation, request, token)
        context = {"invitation": view, "token": token, "error": error.reason}
        return render(request, "signin/invitation.html", context, status_code=422)
    return _see(f"/login?welcome=1&login={quote(login_name)}")
