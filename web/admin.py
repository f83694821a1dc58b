"""The administration pages (``/admin``) for the organisation's administrators: departments; officials with their
roles, invitations (which also reset a password) and the unlocking of a signing credential locked by wrong PINs;
tokens for external systems; the calendar's overrides; route templates; webhook subscriptions and their
deliveries. Each form calls the service the API's route calls (``keys.identities``, ``keys.passwords``,
``keys.credentials``, ``keys.tokens``, ``documents.circulation.calendar`` and ``templates``, ``webhooks``), in a
transaction, with the signed-in administrator as the actor.

After an action the page is shown again by a redirect with what was done; what is shown once (an invitation
link, a token, a webhook's secret) is on the page that answers the form instead. A refusal shows the page with
why, and the error's status. Anyone but an administrator gets a 403 page.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

import webhooks
from documents.circulation import calendar, templates
from documents.circulation.model import RouteDefinition, StepKind
from documents.records import Direction
from esign.cipher import SecretCipher
from esign.errors import EsignError, InvalidInput
from esign.identity import Role, Scope
from esign.ids import now
from keys import authorities, credentials, identities, passwords, tokens
from keys.sessions import SignedIn

from . import auth
from .explain import N_, ROLE_NAMES
from .refusals import status_of
from .signin import signed_in_form, to_login
from .templating import render

router = APIRouter(include_in_schema=False)

SCOPE_NAMES: dict[str, str] = {
    Scope.DOCUMENTS: N_("Documents: submit and read documents"),
    Scope.SIGN: N_("Sign: sign with the organisation's credentials"),
    Scope.ADMIN: N_("Administration"),
}
SCOPE_SHORT: dict[str, str] = {Scope.DOCUMENTS: N_("documents"), Scope.SIGN: N_("signing"), Scope.ADMIN: N_("admin")}
"""A scope as the list of tokens names it."""
LIFETIMES = (30, 90, 365, 730)
"""Days a system token may be made to live from the page (the API allows 1 to 730)."""
DELIVERIES = 50
"""The delivery log shows this many of a subscription's newest deliveries."""
TEMPLATE_EXAMPLE = {
    "stages": [
        {"name": "核稿", "steps": [{"kind": "review", "assignee": {"role": "leader"}}]},
        {"name": "签发", "steps": [{"kind": "sign_off", "assignee": {"role": "leader"}}]},
    ]
}
NOTICES: dict[str, str] = {
    "department.create": N_("The department is created."),
    "department.disable": N_("The department is disabled."),
    "official.create": N_("The official is created; invite them to set a password."),
    "official.disable": N_("The official is disabled: they can no longer sign in or act."),
    "credential.unlock": N_("The signing credential is unlocked; its wrong PINs are forgotten."),
    "token.revoke": N_("The token is revoked."),
    "calendar.set": N_("The day is set in the organisation's calendar."),
    "template.save": N_("The route template is saved."),
    "template.retire": N_("The route template version is retired."),
    "webhook.disable": N_("The subscription is disabled: nothing more is delivered to it."),
}


@dataclass(frozen=True)
class Shown:
    """What is shown once, on the page that answers the form: an invitation link, a token, a webhook's secret."""

    kind: str
    value: str
    login: str | None = None
    expires_at: datetime | None = None


def _is_admin(me: SignedIn) -> bool:
    return me.actor.has_role(Role.ADMIN)


def _text(form: dict[str, str], name: str, *, most: int, what: str) -> str:
    value = form.get(name, "").strip()
    if not value:
        raise InvalidInput(f"{what} is required")
    if len(value) > most:
        raise InvalidInput(f"{what} has at most {most} characters")
    return value


# --- what each page shows ----------------------------------------------------------------------------------


def _overview(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    officials = identities.list_officials(session, actor=me.actor)
    locked = [c for c in credentials.list_visible(session, actor=me.actor) if c.status == credentials.Status.LOCKED]
    return {
        "counts": {
            "departments": sum(not d.disabled for d in identities.list_departments(session, actor=me.actor)),
            "officials": sum(not o.disabled for o in officials),
            "locked": len(locked),
            "tokens": sum(
                t.revoked_at is None and t.expires_at > now() for t in tokens.list_system(session, actor=me.actor)
            ),
            "templates": len(templates.listing(session, actor=me.actor)),
            "webhooks": sum(s.active for s in webhooks.list_subscriptions(session, actor=me.actor)),
        }
    }


def _departments(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    officials = identities.list_officials(session, actor=me.actor)
    members: dict[str, int] = {}
    for official in officials:
        if not official.disabled:
            members[official.department_id] = members.get(official.department_id, 0) + 1
    return {"departments": identities.list_departments(session, actor=me.actor), "members": members}


def _officials(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    departments = identities.list_departments(session, actor=me.actor)
    held: dict[str, list[dict[str, Any]]] = {}
    for credential in credentials.list_visible(session, actor=me.actor):
        if credential.official_id is not None:
            status = credentials.effective_status(session, credential).value
            held.setdefault(credential.official_id, []).append({"id": credential.id, "status": status})
    return {
        "officials": identities.list_officials(session, actor=me.actor),
        "departments": departments,
        "department_names": {d.id: d.name for d in departments},
        "logins": passwords.logins(session, actor=me.actor),
        "credentials": held,
    }


def _tokens(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    at = now()
    listed = [
        {
            "id": t.id,
            "name": t.system_name or "",
            "scopes": t.scopes,
            "created_at": t.created_at,
            "expires_at": t.expires_at,
            "state": "revoked" if t.revoked_at else "expired" if t.expires_at <= at else "active",
        }
        for t in tokens.list_system(session, actor=me.actor)
    ]
    return {"tokens": listed, "lifetimes": LIFETIMES}


def _calendar(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    overrides = calendar.list_overrides(session, organisation_id=me.actor.organisation_id)
    return {"overrides": overrides, "everyone": calendar.GLOBAL, "today": calendar.today()}


def _without_nulls(value: Any) -> Any:
    """A stored definition as it would be typed: the fields left at their default ``null`` omitted."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _templates(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    listed = templates.listing(session, actor=me.actor, include_retired=True)
    return {
        "templates": listed,
        "definitions": {t.id: json.dumps(_without_nulls(t.definition), ensure_ascii=False, indent=2) for t in listed},
        "example": json.dumps(TEMPLATE_EXAMPLE, ensure_ascii=False, indent=2),
        "kinds": ", ".join(kind.value for kind in StepKind),
    }


def _webhooks(request: Request, session: Session, me: SignedIn) -> dict[str, Any]:
    return {"subscriptions": webhooks.list_subscriptions(session, actor=me.actor)}


Loader = Callable[[Request, Session, SignedIn], dict[str, Any]]
PAGES: dict[str, tuple[str, Loader]] = {
    "": ("admin/overview.html", _overview),
    "departments": ("admin/departments.html", _departments),
    "officials": ("admin/officials.html", _officials),
    "tokens": ("admin/tokens.html", _tokens),
    "calendar": ("admin/calendar.html", _calendar),
    "templates": ("admin/templates.html", _templates),
    "webhooks": ("admin/webhooks.html", _webhooks),
}


async def show(
    request: Request,
    me: SignedIn,
    page: str,
    *,
    notice: str | None = None,
    refusal: str | None = None,
    shown: Shown | None = None,
    form: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    if not _is_admin(me):
        return render(request, "admin/forbidden.html", {"me": me}, status_code=403)
    template, load = PAGES[page]

    def loaded() -> dict[str, Any]:
        with request.app.state.database.transaction() as session:
            return load(request, session, me)

    context = await run_in_threadpool(loaded)
    context |= {
        "me": me,
        "section": page,
        "notice": notice if notice in NOTICES else None,
        "notices": NOTICES,
        "refusal": refusal,
        "shown": shown,
        "form": form or {},
        "role_names": ROLE_NAMES,
        "scope_names": SCOPE_NAMES,
        "scope_short": SCOPE_SHORT,
    }
    return render(request, template, context, status_code=status_code)


@router.get("/admin")
async def overview(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    return await show(request, me, "", notice=request.query_params.get("done"))


@router.get("/admin/{page}")
async def section(request: Request, page: str) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    if page not in PAGES or not page:
        return render(request, "admin/forbidden.html", {"me": me, "missing": True}, status_code=404)
    return await show(request, me, page, notice=request.query_params.get("done"))


# --- what each form does -----------------------------------------------------------------------------------

Action = Callable[[Request, Session, SignedIn, dict[str, str], str], Shown | None]


def _create_department(request: Request, session: Session, me: SignedIn, form: dict[str, str], _: str) -> None:
    name = _text(form, "name", most=200, what="the department's name")
    identities.create_department(session, actor=me.actor, name=name)


def _disable_department(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> None:
    identities.set_department_disabled(session, actor=me.actor, department_id=id, disabled=True)


def _create_official(request: Request, session: Session, me: SignedIn, form: dict[str, str], _: str) -> None:
    name = _text(form, "name", most=100, what="the official's name")
    roles = [role.value for role in Role if form.get(f"role:{role.value}") == "on"]
    if not roles:
        raise InvalidInput("choose at least one role")
    email = form.get("email", "").strip() or None
    if email is not None and len(email) > 254:
        raise InvalidInput("an e-mail address has at most 254 characters")
    department_id = form.get("department_id", "")
    if not department_id:
        raise InvalidInput("choose the official's department")
    identities.create_official(
        session, actor=me.actor, department_id=department_id, name=name, roles=roles, email=email
    )


def _disable_official(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> None:
    identities.set_official_disabled(session, actor=me.actor, official_id=id, disabled=True)


def _invite(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> Shown:
    login = form.get("login", "").strip() or None
    settings = request.app.state.settings
    issued = passwords.invite(session, actor=me.actor, settings=settings, official_id=id, login=login)
    return Shown("invitation", issued.url, login=issued.login, expires_at=issued.expires_at)


def _unlock(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> None:
    credentials.unlock_by_admin(session, actor=me.actor, credential_id=id)


def _create_token(request: Request, session: Session, me: SignedIn, form: dict[str, str], _: str) -> Shown:
    name = _text(form, "name", most=100, what="the system's name")
    scopes = [scope for scope in Scope if form.get(f"scope:{scope.value}") == "on"]
    if not scopes:
        raise InvalidInput("choose at least one scope")
    days = int(form["days"]) if form.get("days", "").isdigit() else 0
    if days not in LIFETIMES:
        raise InvalidInput("choose one of the lifetimes offered")
    issued = tokens.create_for_system(session, actor=me.actor, name=name, scopes=scopes, lifetime=timedelta(days=days))
    return Shown("token", issued.token, expires_at=issued.expires_at)


def _revoke_token(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> None:
    tokens.revoke(session, actor=me.actor, token_id=id)


def _set_day(request: Request, session: Session, me: SignedIn, form: dict[str, str], _: str) -> None:
    try:
        day = date.fromisoformat(form.get("day", "").strip())
    except ValueError:
        raise InvalidInput("the day is a day, YYYY-MM-DD") from None
    if form.get("working") not in ("1", "0"):
        raise InvalidInput("choose a working day or a day off")
    note = form.get("note", "").strip()
    if len(note) > 200:
        raise InvalidInput("a note has at most 200 characters")
    calendar.set_override(session, actor=me.actor, day=day, working=form["working"] == "1", note=note)


def _definition(raw: str) -> RouteDefinition:
    """The definition typed as JSON, read by the model the API reads it with."""
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"definition: not JSON ({error.msg}, line {error.lineno})") from None
    try:
        return RouteDefinition.model_validate(parsed)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors())
        raise InvalidInput(f"definition: {problems}") from None


def _save_template(request: Request, session: Session, me: SignedIn, form: dict[str, str], _: str) -> None:
    name = _text(form, "name", most=200, what="the template's name")
    if form.get("direction") not in ("outgoing", "incoming"):
        raise InvalidInput("choose outgoing or incoming")
    definition = _definition(form.get("definition", ""))
    templates.save(session, actor=me.actor, name=name, direction=Direction(form["direction"]), definition=definition)


def _retire_template(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> None:
    templates.retire(session, actor=me.actor, template_id=id)


def _create_webhook(request: Request, session: Session, me: SignedIn, form: dict[str, str], _: str) -> Shown:
    url = _text(form, "url", most=webhooks.MAX_URL_LENGTH, what="the endpoint's URL")
    patterns = form.get("event_types", "").replace(",", " ").split()
    if not patterns:
        raise InvalidInput("name at least one event type")
    settings = request.app.state.settings
    made = webhooks.create_subscription(
        session,
        actor=me.actor,
        url=url,
        event_types=patterns,
        cipher=SecretCipher.derive(authorities.passphrase(settings)),
        allow_private=settings.webhooks_allow_private,
    )
    return Shown("secret", made.secret)


def _disable_webhook(request: Request, session: Session, me: SignedIn, form: dict[str, str], id: str) -> None:
    webhooks.disable_subscription(session, actor=me.actor, subscription_id=id)


CREATE: dict[tuple[str, str], tuple[str, str, Action]] = {
    ("departments", "create"): ("departments", "department.create", _create_department),
    ("officials", "create"): ("officials", "official.create", _create_official),
    ("tokens", "create"): ("tokens", "token.create", _create_token),
    ("calendar", "set"): ("calendar", "calendar.set", _set_day),
    ("templates", "save"): ("templates", "template.save", _save_template),
    ("webhooks", "create"): ("webhooks", "webhook.create", _create_webhook),
}
"""``POST /admin/{kind}/{action}``: the page it answers from, the notice after it, what it does."""
ACT: dict[tuple[str, str], tuple[str, str, Action]] = {
    ("departments", "disable"): ("departments", "department.disable", _disable_department),
    ("officials", "disable"): ("officials", "official.disable", _disable_official),
    ("officials", "invite"): ("officials", "official.invite", _invite),
    ("credentials", "unlock"): ("officials", "credential.unlock", _unlock),
    ("tokens", "revoke"): ("tokens", "token.revoke", _revoke_token),
    ("templates", "retire"): ("templates", "template.retire", _retire_template),
    ("webhooks", "disable"): ("webhooks", "webhook.disable", _disable_webhook),
}
"""``POST /admin/{kind}/{id}/{action}``: the same, on one thing."""


async def _post(request: Request, found: tuple[str, str, Action] | None, id: str) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    form, me = posted
    if not _is_admin(me):
        return render(request, "admin/forbidden.html", {"me": me}, status_code=403)
    if found is None:
        return await show(request, me, "", refusal="no such action", status_code=404)
    page, done, action = found

    def act() -> Shown | None:
        with request.app.state.database.transaction() as session:
            return action(request, session, me, form, id)

    try:
        shown = await run_in_threadpool(act)
    except EsignError as error:
        return await show(request, me, page, refusal=error.message, form=form, status_code=status_of(error))
    if shown is not None:
        return await show(request, me, page, shown=shown, status_code=201)
    return RedirectResponse(f"/admin/{page}?done={done}", status_code=303)


@router.post("/admin/{kind}/{action}")
async def create(request: Request, kind: str, action: str) -> Response:
    return await _post(request, CREATE.get((kind, action)), "")


@router.post("/admin/{kind}/{id}/{action}")
async def act(request: Request, kind: str, id: str, action: str) -> Response:
    return await _post(request, ACT.get((kind, action)), id)


# --- a webhook subscription's deliveries --------------------------------------------------------------------


@router.get("/admin/webhooks/{subscription_id}")
async def deliveries(request: Request, subscription_id: str) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    if not _is_admin(me):
        return render(request, "admin/forbidden.html", {"me": me}, status_code=403)

    def loaded() -> dict[str, Any]:
        with request.app.state.database.transaction() as session:
            subscription = webhooks.get_subscription(session, actor=me.actor, subscription_id=subscription_id)
            found = webhooks.list_deliveries(session, actor=me.actor, subscription_id=subscription_id, limit=DELIVERIES)
            rows = [
                {
                    "id": d.id,
                    "event_type": d.event.type,
                    "status": d.status,
                    "attempts": d.attempts,
                    "created_at": d.created_at,
                    "last_attempt_at": d.last_attempt_at,
                    "last_status_code": d.last_status_code,
                    "last_error": d.last_error,
                    "delivered_at": d.delivered_at,
                }
                for d in found
            ]
            return {"subscription": subscription, "deliveries": rows}

    try:
        context = await run_in_threadpool(loaded)
    except EsignError as error:
        return await show(request, me, "webhooks", refusal=error.message, status_code=status_of(error))
    return render(request, "admin/deliveries.html", {"me": me, "section": "webhooks", **context, "limit": DELIVERIES})
