"""The document page: what an official of the organisation that holds a document reads about it — its details,
every revision to download, the timeline with names, and the latest revision's pages and verification (the
same report as the verification page, made by a parsing worker under the budget).

Labels of the timeline's entries and the revisions' reasons are English message ids translated by the catalogs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from documents import revisions
from documents.circulation import timeline
from documents.records import Document, Revision
from documents.states import DocumentState
from esign import budget
from esign.errors import EsignError, NotFound
from esign.preview import Preview
from esign.report import VerificationReport
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
    "step.approved": N_("Approved"),
    "step.returned": N_("Returned"),
    "step.rejected": N_("Rejected"),
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

_SAID = ("opinion", "text", "reason", "stage_name", "organisation_name", "number")
"""Detail fields worth a line on the timeline, the first found."""


@dataclass(frozen=True)
class Held:
    document: Document
    revisions: Sequence[Revision]
    entries: list[timeline.Entry]
    report: VerificationReport | None
    preview: Preview | None
    unverified: str | None
    """Why the latest revision has no report (its verification failed), else None."""


def said(entry: timeline.Entry) -> str | None:
    return next((str(entry.detail[k]) for k in _SAID if entry.detail.get(k)), None)


def _held(request: Request, me: SignedIn, document_id: str) -> Held:
    database = request.app.state.database
    with database.transaction() as session:
        document = revisions.get_document(session, actor=me.actor, document_id=document_id)
        listed = revisions.listing(session, actor=me.actor, document_id=document_id)
        entries = timeline.timeline(session, actor=me.actor, document_id=document_id)
        trust = Policy(settings=request.app.state.settings, base=request.app.state.trust).trust(session)
        data = revisions.pdf(request.app.state.blobs, listed[-1]) if listed else None
    if data is None:
        return Held(document, listed, entries, None, None, None)
    try:
        report, preview = budget.verify_with_preview(data, trust)
    except EsignError as error:
        return Held(document, listed, entries, None, None, error.code)
    return Held(document, listed, entries, report, preview, None)


@router.get("/documents/{document_id}")
async def page(request: Request, document_id: str) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
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
    }
    return render(request, "document/page.html", context)
