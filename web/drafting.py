"""Drafting (拟稿): an official document written in a form, with its GB/T 9704-2012 layout previewed as it is typed,
then saved as a draft and, if a route template is chosen or a route built by hand, started on that route in the
same transaction.

The preview is the real layout: the content is rendered as it would be saved (``documents.intake.Rendering``) and
its pages drawn by a parsing worker, as the document page draws them. The page's script asks for it
(``POST /drafts/preview``, a fragment) a moment after typing stops; without the script, the form's preview
button shows the same on the whole page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from documents import intake
from documents.circulation import calendar, templates
from documents.circulation.model import RouteDefinition, StepKind
from documents.render.content import DocumentContent, Kind
from esign import budget, phases
from esign.errors import EsignError
from keys import identities
from keys.sessions import SignedIn

from . import auth, i18n, previews
from .draft_form import PARALLEL, SECRECY, STAGES, URGENCY, Problems, content_of, route_of
from .explain import N_, ROLE_NAMES
from .refusals import status_of
from .signin import signed_in_form, to_login
from .templating import render

router = APIRouter(include_in_schema=False)

FIELD_LABELS = {
    "content": N_("The document"),
    "kind": N_("Kind"),
    "issuer": N_("Issuing body"),
    "title": N_("Title"),
    "recipients": N_("Primary recipients"),
    "signers": N_("Signed off by"),
    "body": N_("Body"),
    "attachments": N_("Attachments"),
    "secrecy": N_("Secrecy"),
    "copy_number": N_("Copy number"),
    "urgency": N_("Urgency"),
    "date": N_("Date"),
    "notes": N_("Notes"),
    "colophon": N_("Copy to"),
    "route": N_("Route"),
}
"""The form's fields by the names the content model's messages give them (their first part: ``body.0.text``)."""


def _choices(request: Request, me: SignedIn) -> dict[str, Any]:
    with request.app.state.database.transaction() as session:
        organisation = identities.get_organisation(session, me.actor.organisation_id)
        routes = [(t.id, t.name) for t in templates.listing(session, actor=me.actor)]
        officials = [
            (f"official:{o.id}", o.name) for o in identities.list_officials(session, actor=me.actor, enabled_only=True)
        ]
        departments = [
            (f"department:{d.id}", d.name)
            for d in identities.list_departments(session, actor=me.actor, enabled_only=True)
        ]
    return {"issuer": organisation.name, "routes": routes, "officials": officials, "departments": departments}


def _context(me: SignedIn, choices: dict[str, Any], form: dict[str, str], **more: Any) -> dict[str, Any]:
    return {
        "me": me,
        "form": {"issuer": choices["issuer"], "date": calendar.today().isoformat(), **form},
        "kinds": [(k.value, k.label) for k in Kind],
        "secrecy": SECRECY,
        "urgency": URGENCY,
        "routes": choices["routes"],
        "officials": choices["officials"],
        "departments": choices["departments"],
        "roles": [(f"role:{role}", label) for role, label in ROLE_NAMES.items()],
        "step_kinds": [kind.value for kind in StepKind if kind is not StepKind.REPLIES],
        "stages": range(1, STAGES + 1),
        "parallel": range(1, PARALLEL + 1),
        "problems": (),
        "pages": (),
        **more,
    }


def _pages(request: Request, content: DocumentContent) -> list[previews.PageView]:
    rendering = intake.Rendering(content=content, settings=request.app.state.settings)
    rendering.run()
    assert rendering.rendered is not None
    return previews.pages(budget.preview(rendering.rendered.pdf), None)


def _create(
    request: Request, me: SignedIn, content: DocumentContent, template: str | None, route: RouteDefinition | None
) -> str:
    settings, blobs = request.app.state.settings, request.app.state.blobs
    document = phases.run(
        request.app.state.database,
        phases.Phases(
            lambda session: intake.Rendering(content=content, settings=settings),
            lambda session, rendering: intake.from_content(
                session, actor=me.actor, blobs=blobs, rendering=rendering, route_template_id=template, route=route
            ),
        ),
    )
    return document.id


def _problems(request: Request, problems: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    _ = i18n.translations(i18n.language(request)).gettext
    return [
        {"field": field, "label": _(FIELD_LABELS.get(field.split(".")[0], FIELD_LABELS["content"])), "message": message}
        for field, message in problems
    ]


@router.get("/drafts/new")
async def new(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    choices = await run_in_threadpool(_choices, request, me)
    return render(request, "drafts/new.html", _context(me, choices, {}))


@router.post("/drafts/preview")
async def preview(request: Request) -> Response:
    """The pages of the posted form's document, or what keeps it from being one (422): a fragment for the script."""
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    form, _me = posted
    try:
        content = content_of(form, today=calendar.today())
        pages = await run_in_threadpool(_pages, request, content)
    except Problems as error:
        return render(request, "drafts/preview.html", {"problems": _problems(request, error.problems)}, status_code=422)
    except EsignError as error:
        problems = _problems(request, [("content", error.message)])
        return render(request, "drafts/preview.html", {"problems": problems}, status_code=status_of(error))
    return render(request, "drafts/preview.html", {"pages": pages, "problems": ()})


@router.post("/drafts")
async def create(request: Request) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    form, me = posted
    choices = await run_in_threadpool(_choices, request, me)
    template = form.get("route_template_id") or None
    try:
        content = content_of(form, today=calendar.today())
        if form.get("action") == "preview":
            pages = await run_in_threadpool(_pages, request, content)
            return render(request, "drafts/new.html", _context(me, choices, form, pages=pages))
        route = route_of(form)
        document_id = await run_in_threadpool(_create, request, me, content, template, route)
    except Problems as error:
        context = _context(me, choices, form, problems=_problems(request, error.problems))
        return render(request, "drafts/new.html", context, status_code=422)
    except EsignError as error:
        context = _context(me, choices, form, problems=_problems(request, [("content", error.message)]))
        return render(request, "drafts/new.html", context, status_code=status_of(error))
    return RedirectResponse(f"/documents/{document_id}?done=drafted", status_code=303)
