"""Acting on a step from the document page: approve (signing or sealing with the official's PIN when the step
takes a signature), complete with comments, comment and leave it open, return the document to an earlier stage,
delegate the step to another official, or send a department's step on to the competent department (回流).

The same services as the API's step actions (``documents.circulation.flows`` in two transactions around the
slow part, ``interventions.comment``), without an idempotency key: a form posted twice finds the step done the
second time and says so. After an action the page is shown again by a redirect (POST, redirect, GET), with
what was done; a refusal (a wrong PIN, a locked credential, a step no longer open) shows the page with why.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from documents.circulation import actions, flows, interventions, requests
from documents.circulation.model import Assignee, Outcome, Step
from esign import phases
from esign.errors import EsignError, InvalidInput, NotFound
from esign.identity import Actor
from esign.scoped import get_scoped
from keys import authorities
from keys.policy import Policy
from keys.sessions import SignedIn

from .document import show
from .refusals import status_of
from .signin import signed_in_form

router = APIRouter(include_in_schema=False)

MAX_OPINION = 2000
RECIPIENT, HANDLER = "recipient:", "handler:"
OUTCOMES = {
    "approve": Outcome.APPROVE,
    "complete": Outcome.COMMENT,
    "return": Outcome.RETURN,
    "delegate": Outcome.DELEGATE,
    "reroute": Outcome.REROUTE,
}


def _text(form: dict[str, str], name: str) -> str | None:
    value = form.get(name, "").strip()
    if len(value) > MAX_OPINION:
        raise InvalidInput(f"{name} is longer than {MAX_OPINION} characters")
    return value or None


def _chosen(form: dict[str, str], prefix: str) -> tuple[str, ...]:
    """The ids of the boxes ticked under ``prefix`` (``recipient:<organisation id>``, ``handler:<department id>``):
    one field each, so the form stays a mapping of names to values."""
    return tuple(sorted(name.removeprefix(prefix) for name in form if name.startswith(prefix)))


def _stage(form: dict[str, str]) -> int | None:
    value = form.get("to_stage", "").strip()
    if not value:
        return None
    if not value.isdigit():
        raise InvalidInput("to_stage is the number of an earlier stage")
    return int(value)


def _request(form: dict[str, str]) -> requests.ReplyRequest | None:
    """A dispatch that asks its recipients for a reply (``reply_kind``), within ``reply_days`` or the kind's."""
    kind, days = form.get("reply_kind", ""), form.get("reply_days", "").strip()
    if not kind:
        return None
    if kind not in {k.value for k in requests.ReplyKind}:
        raise InvalidInput(f"no kind of request {kind!r}")
    if days and not (days.isascii() and days.isdigit() and 1 <= int(days) <= 90):
        raise InvalidInput("reply_days is a number of working days from 1 to 90")
    return requests.ReplyRequest(requests.ReplyKind(kind), int(days) if days else None)


def _of_document(session: Session, actor: Actor, document_id: str, step_id: str) -> None:
    """The step is one of the page's document, checked in the transaction that acts on it."""
    if get_scoped(session, Step, scope=actor, id=step_id, what="step").document_id != document_id:
        raise NotFound(f"document {document_id} has no step {step_id}")


def _act(request: Request, me: SignedIn, document_id: str, step_id: str, what: str, form: dict[str, str]) -> None:
    database = request.app.state.database
    actor = me.actor
    if what == "comment":
        with database.transaction() as session:
            _of_document(session, actor, document_id, step_id)
            text = _text(form, "opinion")
            if text is None:
                raise InvalidInput("a comment needs its text")
            interventions.comment(session, actor=actor, step_id=step_id, text=text)
        return
    action = actions.Action(
        outcome=OUTCOMES[what],
        opinion=_text(form, "opinion"),
        return_to_stage=_stage(form) if what == "return" else None,
        credential_id=form.get("credential_id") or None,
        pin=form.get("pin") or None,
        recipients=_chosen(form, RECIPIENT),
        handlers=tuple(Assignee(department_id=d) for d in _chosen(form, HANDLER)),
        request=_request(form),
        in_reply_to=form.get("in_reply_to") or None,
        delegate_to=form.get("official_id") or None if what == "delegate" else None,
        reroute_to=form.get("department_id") or None if what == "reroute" else None,
    )
    settings = request.app.state.settings

    def prepare(session: Session) -> flows.Acting:
        _of_document(session, actor, document_id, step_id)
        services = actions.Services(
            blobs=request.app.state.blobs,
            pki=authorities.load(session, settings),
            settings=settings,
            trust=Policy(settings=settings, base=request.app.state.trust).trust(session),
        )
        return flows.prepare(session, actor=actor, services=services, step_id=step_id, action=action)

    phases.run(
        database,
        phases.Phases(prepare, lambda session, acting: flows.record(session, actor=actor, acting=acting)),
    )


@router.post("/documents/{document_id}/steps/{step_id}")
async def act(request: Request, document_id: str, step_id: str) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    form, me = posted
    what = form.get("action", "")
    if what not in (*OUTCOMES, "comment"):
        return await show(request, me, document_id, refusal=f"no action {what!r}", status_code=404)
    try:
        await run_in_threadpool(_act, request, me, document_id, step_id, what, form)
    except EsignError as error:
        return await show(request, me, document_id, refusal=error.message, status_code=status_of(error))
    return RedirectResponse(f"/documents/{document_id}?done={what}", status_code=303)
