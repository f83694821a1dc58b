"""The register page (公文登记簿): the organisation's documents, incoming and outgoing, with the filters of
``GET /v1/documents`` (``documents.circulation.register``) and a page at a time; and the same list as CSV
(``/register.csv``, UTF-8 with a byte-order mark so that Excel reads the Chinese right).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from documents.circulation import register
from documents.records import Direction, Kind
from documents.states import DocumentState
from esign.errors import InvalidInput
from keys import identities
from keys.sessions import SignedIn

from . import auth, i18n
from .document import STATES
from .explain import N_
from .signin import to_login
from .templating import render, when

router = APIRouter(include_in_schema=False)

PAGE = 50
CSV_ROWS = 10_000
"""The most rows an export holds; a longer register is exported a period at a time."""

KINDS: dict[str, str] = {
    Kind.NOTICE: N_("Notice"),
    Kind.REQUEST: N_("Request"),
    Kind.REPORT: N_("Report"),
    Kind.REPLY: N_("Reply"),
    Kind.LETTER: N_("Letter"),
    Kind.MINUTES: N_("Minutes"),
}
DIRECTIONS: dict[str, str] = {Direction.INCOMING: N_("Incoming"), Direction.OUTGOING: N_("Outgoing")}
FILTERS = ("direction", "state", "kind", "number", "q", "sender", "from", "to", "overdue", "limit")
"""The query's filter parameters, kept by the next-page link and the export link."""


LABELS: dict[str, str] = {
    "direction": N_("Direction"),
    "state": N_("State"),
    "kind": N_("Kind"),
    "number": N_("Number"),
    "q": N_("Title contains"),
    "sender": N_("From"),
    "from": N_("Created from"),
    "to": N_("Created to"),
    "overdue": N_("Deadline"),
    "limit": N_("Page size"),
    "cursor": N_("Page"),
}
"""The label of each query parameter, to name the one refused."""


class BadFilter(InvalidInput):
    """A query parameter that is not one of its values."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


E = TypeVar("E", Direction, DocumentState, Kind)


def _choice(request: Request, name: str, kind: type[E]) -> E | None:
    value = request.query_params.get(name, "")
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise BadFilter(name, f"{name} is not one of {', '.join(kind)}") from None


def _day(request: Request, name: str) -> date | None:
    value = request.query_params.get(name, "")
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise BadFilter(name, f"{name} is a day, YYYY-MM-DD") from None


def _text(request: Request, name: str, limit: int) -> str | None:
    value = request.query_params.get(name, "").strip()
    if len(value) > limit:
        raise BadFilter(name, f"{name} is at most {limit} characters")
    return value or None


def filters(request: Request) -> register.Filters:
    """The query's filters, as ``GET /v1/documents`` reads them; a value that is not one raises InvalidInput."""
    overdue = request.query_params.get("overdue", "")
    if overdue not in ("", "yes", "no"):
        raise BadFilter("overdue", "overdue is yes or no")
    words = _text(request, "q", 200)
    return register.Filters(
        direction=_choice(request, "direction", Direction),
        state=_choice(request, "state", DocumentState),
        kind=_choice(request, "kind", Kind),
        number=_text(request, "number", 100),
        words=tuple(words.split()) if words else (),
        sender_organisation_id=_text(request, "sender", 36),
        created_from=_day(request, "from"),
        created_to=_day(request, "to"),
        overdue={"yes": True, "no": False}.get(overdue),
    )


def _limit(request: Request) -> int:
    value = request.query_params.get("limit", "")
    if not value:
        return PAGE
    if not value.isdigit() or not 1 <= int(value) <= register.MAX_PAGE:
        raise BadFilter("limit", f"limit is 1 to {register.MAX_PAGE}")
    return int(value)


def _query(request: Request, **extra: str) -> str:
    kept = {name: request.query_params[name] for name in FILTERS if request.query_params.get(name)}
    return urlencode(kept | extra)


def _search(request: Request, me: SignedIn, wanted: register.Filters, limit: int, cursor: str | None) -> dict[str, Any]:
    with request.app.state.database.transaction() as session:
        page = register.search(session, actor=me.actor, filters=wanted, limit=limit, cursor=cursor)
        organisations = [(o.id, o.name) for o in identities.directory(session) if o.id != me.actor.organisation_id]
    return {"page": page, "organisations": organisations}


@router.get("/register")
async def page(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    _ = i18n.translations(i18n.language(request)).gettext
    context: dict[str, Any] = {
        "me": me,
        "q": request.query_params,
        "kinds": {key: _(label) for key, label in KINDS.items()},
        "directions": {key: _(label) for key, label in DIRECTIONS.items()},
        "states": {key: _(label) for key, label in STATES.items()},
        "export": "/register.csv?" + _query(request),
    }
    try:
        wanted = filters(request)
        cursor = _text(request, "cursor", 200)
        found = await run_in_threadpool(_search, request, me, wanted, _limit(request), cursor)
    except InvalidInput as error:
        empty = register.Page([], None)
        field = _(LABELS[error.name]) if isinstance(error, BadFilter) else None
        context |= {"page": empty, "organisations": [], "refusal": error.message, "refused_field": field}
        return render(request, "register.html", context, status_code=400)
    page = found["page"]
    context |= found
    context["next"] = f"/register?{_query(request, cursor=page.next_cursor)}" if page.next_cursor else None
    context["more"] = bool(request.query_params.get("cursor"))
    context["first"] = "/register?" + _query(request)
    return render(request, "register.html", context)


def _everything(request: Request, me: SignedIn, wanted: register.Filters) -> list[register.Entry]:
    entries: list[register.Entry] = []
    cursor: str | None = None
    with request.app.state.database.transaction() as session:
        while len(entries) < CSV_ROWS:
            page = register.search(session, actor=me.actor, filters=wanted, limit=register.MAX_PAGE, cursor=cursor)
            entries += page.entries
            cursor = page.next_cursor
            if cursor is None:
                break
    return entries[:CSV_ROWS]


def as_csv(entries: list[register.Entry], _: Callable[[str], str], at: Callable[[Any], str]) -> bytes:
    """The register as a spreadsheet: a header line in the reader's language, one document a line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        [
            _("Created"),
            _("Direction"),
            _("Kind"),
            _("Number"),
            _("Title"),
            _("From"),
            _("Sender's number"),
            _("State"),
            _("Urgency"),
            _("Next due"),
            _("Overdue"),
            "id",
        ]
    )
    for entry in entries:
        document, sender = entry.document, entry.sender
        writer.writerow(
            [
                at(document.created_at),
                _(DIRECTIONS[document.direction]),
                _(KINDS[document.kind]) if document.kind in KINDS else document.kind,
                document.number or "",
                document.title or "",
                sender.organisation_name if sender else "",
                (sender.number or "") if sender else "",
                _(STATES[DocumentState(document.state)]),
                document.urgency or "",
                entry.next_due_on.isoformat() if entry.next_due_on else "",
                _("Yes") if entry.overdue else "",
                document.id,
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


@router.get("/register.csv")
async def export(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    try:
        wanted = filters(request)
    except InvalidInput as error:
        return Response(error.message + "\n", status_code=400, media_type="text/plain; charset=utf-8")
    entries = await run_in_threadpool(_everything, request, me, wanted)
    zone = request.app.state.settings.zone
    data = as_csv(entries, i18n.translations(i18n.language(request)).gettext, lambda value: when(value, zone))
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="register.csv"', "Cache-Control": "no-store"},
    )
