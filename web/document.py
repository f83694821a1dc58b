"""The document page: what an official of the organisation that holds a document reads about it — its details,
every revision to download, the timeline with names, and the latest revision's pages and verification (the
same report as the verification page, made by a parsing worker under the budget).

Labels of the timeline's entries and the revisions' reasons are English message ids translated by the catalogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from documents import revisions
from documents.circulation import requests, timeline, worklist
from documents.circulation.model import Route, RouteDefinition, StepKind
from documents.circulation.views import StepView
from documents.records import Document, Revision
from documents.states import DocumentState
from esign.errors import EsignError, NotFound
from esign.preview import Preview
from esign.report import VerificationReport
from esign.trust import TrustSettings
from keys import credentials, hierarchy, identities
from keys.credentials import Credential, Purpose
from keys.identities import Department, Official, Organisation
from keys.policy import Policy
from keys.sessions import SignedIn

from . import auth, explain, i18n, previews
from .explain import N_
from .signin import to_login
from .templating import render

router = APIRouter(include_in_schema=False)

LABELS: dict[str, str] = {
    "revision.rendered": N_("Drafted"),
    "revision.uploaded": N_("Uploaded"),
    "revision.numbered": N_("Numbered"),
    "revision.signed": N_("Signed"),
    "revision.sealed": N_("Sealed"),
    "revision.received": N_("Received"),
    "revision.preserved": N_("Archive time-stamp added"),
    "step.opened": N_("Step opened"),
    "step.approve": N_("Approved"),
    "step.return": N_("Returned"),
    "step.delegate": N_("Delegated"),
    "step.reroute": N_("Sent to the competent department"),
    "step.comment": N_("Comment"),
    "step.urge": N_("Urged"),
    "step.extend": N_("Deadline extended"),
    "step.reassign": N_("Reassigned"),
    "dispatch.sent": N_("Dispatched"),
    "dispatch.receipt": N_("Signed for by the recipient"),
    "dispatch.forwarded": N_("Forwarded to the competent body"),
    "request.replied": N_("Replied"),
    "recipient.registered": N_("Registered by the recipient"),
    "recipient.assigned": N_("Assigned by the recipient"),
    "recipient.handled": N_("Handled by the recipient"),
    "recipient.closed": N_("Closed by the recipient"),
}
"""What each timeline entry type reads as; a type not listed shows as it is."""

STATES: dict[str, str] = {
    DocumentState.DRAFT: N_("Draft"),
    DocumentState.RECEIVED: N_("Received"),
    DocumentState.ARRIVED: N_("Arrived, not yet signed for"),
    DocumentState.IN_CIRCULATION: N_("In circulation"),
    DocumentState.SIGNED: N_("Signed off"),
    DocumentState.SEALED: N_("Sealed"),
    DocumentState.REGISTERED: N_("Registered"),
    DocumentState.DISPATCHED: N_("Dispatched"),
    DocumentState.CLOSED: N_("Closed"),
    DocumentState.ARCHIVED: N_("Archived"),
    DocumentState.FORWARDED: N_("Forwarded to the competent body"),
}

NOTICES: dict[str, str] = {
    "approve": N_("Done: the step is approved."),
    "complete": N_("Done: the step is completed with your comments."),
    "comment": N_("Your comment is recorded; the step stays open."),
    "return": N_("The document is returned to the stage you chose."),
    "delegate": N_("The step is handed to the official you chose."),
    "reroute": N_("The step is sent on to the competent department."),
    "drafted": N_("The draft is saved, laid out per GB/T 9704-2012."),
}
"""What the page says after each action (``?done=``)."""

_SAID = (
    "opinion",
    "text",
    "reason",
    "to_organisation_name",
    "official_name",
    "department_name",
    "stage_name",
    "number",
)
"""Detail fields worth a line on the timeline, the first found."""


@dataclass(frozen=True)
class Acting:
    """The step the official may act on now, and what acting on it takes."""

    view: StepView
    credentials: Sequence[Credential]
    """The official's usable credentials, when approving the step signs or seals."""
    earlier_stages: list[str]
    """Names of the stages the step may return the document to, first to last."""
    recipients: Sequence[Organisation] = ()
    """For a dispatch: the organisations of the directory it may go to."""
    departments: Sequence[Department] = ()
    """For a leader's instruction (批办): the departments that may be named to handle the document."""
    colleagues: Sequence[Official] = ()
    """The organisation's other officials, whom the step may be delegated to."""
    elsewhere: Sequence[Department] = ()
    """For a step assigned to a department: the other departments it may be sent on to (回流)."""
    awaiting: Sequence[tuple[Document, date | None]] = ()
    """For a dispatch: the requests the organisation received and has yet to reply to (the dispatch may be the
    reply to one), with their due days."""

    @property
    def signs(self) -> bool:
        return bool(self.view.step.requires_signature) or self.view.step.kind == StepKind.SEAL.value


@dataclass(frozen=True)
class Held:
    document: Document
    revisions: Sequence[Revision]
    entries: list[timeline.Entry]
    acting: Acting | None
    report: VerificationReport | None = None
    preview: Preview | None = None
    unverified: str | None = None
    """Why the latest revision has no report (its verification failed), else None."""


def said(entry: timeline.Entry) -> str | None:
    return next((str(entry.detail[k]) for k in _SAID if entry.detail.get(k)), None)


def _acting(session: Session, me: SignedIn, document_id: str, words: Sequence[str]) -> Acting | None:
    view = worklist.acting_step(session, actor=me.actor, document_id=document_id)
    if view is None:
        return None
    purpose = Purpose.SEAL if view.step.kind == StepKind.SEAL.value else Purpose.SIGNATURE
    usable = [
        c
        for c in credentials.list_visible(session, actor=me.actor)
        if c.purpose == purpose.value
        and c.status == credentials.Status.ACTIVE.value
        and credentials.may_use(me.actor, c)
    ]
    route = session.get(Route, view.step.route_id)
    assert route is not None
    stages = RouteDefinition.model_validate(route.definition).stages[: view.step.stage]
    listed = identities.list_departments(session, actor=me.actor)
    kind = StepKind(view.step.kind)
    return Acting(
        view=view,
        credentials=usable,
        earlier_stages=[stage.name or "" for stage in stages],
        recipients=hierarchy.addressees(session, me.actor.organisation_id, words=words)
        if kind is StepKind.DISPATCH
        else (),
        awaiting=requests.awaiting_reply(session, actor=me.actor) if kind is StepKind.DISPATCH else (),
        departments=listed if kind is StepKind.INSTRUCTION else (),
        colleagues=[o for o in identities.list_officials(session, actor=me.actor) if o.id != me.actor.official_id],
        elsewhere=[d for d in listed if d.id != view.step.assignee_department_id]
        if view.step.assignee_department_id
        else (),
    )


def _held(request: Request, me: SignedIn, document_id: str) -> Held:
    database = request.app.state.database
    with database.transaction() as session:
        document = revisions.get_document(session, actor=me.actor, document_id=document_id)
        listed = revisions.listing(session, actor=me.actor, document_id=document_id)
        entries = timeline.timeline(session, actor=me.actor, document_id=document_id)
        acting = _acting(session, me, document_id, tuple(request.query_params.get("to", "")[:200].split())[:10])
    held = Held(document, listed, entries, acting)
    if not listed:
        return held
    latest = listed[-1]

    def trust() -> TrustSettings:
        with database.transaction() as session:
            return Policy(settings=request.app.state.settings, base=request.app.state.trust).trust(session)

    try:
        report, preview = request.app.state.inspections.inspect(
            latest.sha256, load=lambda: revisions.pdf(request.app.state.blobs, latest), trust=trust
        )
    except EsignError as error:
        return replace(held, unverified=error.code)
    return replace(held, report=report, preview=preview)


@router.get("/documents/{document_id}")
async def page(request: Request, document_id: str) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    return await show(request, me, document_id, notice=request.query_params.get("done"))


async def show(
    request: Request,
    me: SignedIn,
    document_id: str,
    *,
    notice: str | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    """The page; after an action, with what was done (``notice``) or why it was refused (``refusal``, with the
    refusal's 4xx ``status_code``)."""
    try:
        held = await run_in_threadpool(_held, request, me, document_id)
    except NotFound:
        return render(request, "document/missing.html", {"me": me}, status_code=404)
    settings = request.app.state.settings
    lang = i18n.language(request)
    _ = i18n.translations(lang).gettext
    report = held.report.localised(settings.zone) if held.report else None
    context: dict[str, Any] = {
        "me": me,
        "held": held,
        "labels": {key: _(label) for key, label in LABELS.items()},
        "state": _(STATES[DocumentState(held.document.state)]),
        "said": said,
        "report": report,
        "headline": _(explain.VERDICT_WORD[report.verdict]) if report else None,
        "sentence": explain.summary(report, lang) if report else None,
        "signatures": [explain.signature_view(n, s, _) for n, s in enumerate(report.signatures, start=1)]
        if report
        else [],
        "pages": previews.pages(held.preview, report) if held.preview else [],
        "notice": notice if notice in NOTICES else None,
        "notices": {key: _(text) for key, text in NOTICES.items()},
        "refusal": refusal,
        "request_words": request.query_params.get("to", "")[:200],
    }
    return render(request, "document/page.html", context, status_code=status_code)
