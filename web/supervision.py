"""The supervision board (督办) for leaders: the organisation's open steps overdue (red) or due soon (yellow),
and with a toggle its subordinate bodies' (``documents.circulation.supervision.overview``), the requests whose
reply is awaited, and per step of the leader's own organisation the forms to urge, extend and reassign it
(``documents.circulation.interventions``, each in a transaction, as the API's ``/v1/steps/{id}/…``). Below,
the departments' figures (``documents.circulation.stats``) as bar charts drawn here in SVG, each with its table.

After an action the board is shown again by a redirect with what was done; a refusal (urged again too soon,
a deadline not later than the current one, an assignee that cannot take the step) shows the board with why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from documents.circulation import calendar, interventions, stats, supervision
from documents.circulation.model import Assignee
from esign.errors import EsignError, InvalidInput
from esign.identity import Role
from keys import identities
from keys.sessions import SignedIn

from . import auth, i18n
from .explain import N_
from .refusals import status_of
from .signin import signed_in_form, to_login
from .templating import render

router = APIRouter(include_in_schema=False)

PAGE = 50
STATS_DAYS = 90
"""The statistics cover the last this many days, today included."""
ROW = 44
"""Height of a bar's row (its label above, the bar below) in the chart's SVG units."""
ROLES: dict[str, str] = {
    Role.OFFICIAL: N_("Any official"),
    Role.LEADER: N_("A leader"),
    Role.CLERK: N_("A clerk"),
    Role.SEAL_CUSTODIAN: N_("A seal custodian"),
    Role.ADMIN: N_("An administrator"),
}
"""How a step assigned to whoever holds a role names its assignee."""
ACTIONS = ("urge", "extend", "reassign")
NOTICES: dict[str, str] = {
    "urge": N_("Urged: the assignee sees it on top of their inbox."),
    "extend": N_("The deadline is extended."),
    "reassign": N_("The step is reassigned."),
}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float | None
    text: str
    fraction: float
    """The bar's length, 0 to 1 of the chart's width."""


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    unit: str
    bars: list[Bar]

    @property
    def height(self) -> int:
        return ROW * len(self.bars) + 8

    @property
    def summary(self) -> str:
        """What the chart shows, for a screen reader (its ``aria-label``)."""
        return f"{self.title}: " + "; ".join(f"{bar.label} {bar.text}" for bar in self.bars)


def chart(id: str, title: str, unit: str, rows: list[tuple[str, float | None, str]], top: float | None) -> Chart:
    """Horizontal bars for ``rows`` (label, value, text); ``top`` is the full width, the largest value without."""
    largest = top if top is not None else max((v for _, v, _ in rows if v is not None), default=0.0)
    return Chart(
        id,
        title,
        unit,
        [
            Bar(label, value, text, (value / largest) if value is not None and largest else 0.0)
            for label, value, text in rows
        ],
    )


def _flags(source: Any) -> dict[str, str]:
    """The board's toggles set in a query or a form (the forms carry them, to come back to the same board)."""
    return {name: "1" for name in ("subordinates", "green") if source.get(name) == "1"}


def _board(request: Request, me: SignedIn, flags: dict[str, str], cursor: str | None) -> dict[str, Any]:
    settings = request.app.state.settings
    today = calendar.today()
    with request.app.state.database.transaction() as session:
        page = supervision.overview(
            session,
            actor=me.actor,
            warn_days=settings.supervision_warn_days,
            subordinates="subordinates" in flags,
            include_green="green" in flags,
            limit=PAGE,
            cursor=cursor,
            today=today,
        )
        departments = identities.list_departments(session, actor=me.actor)
        officials = identities.list_officials(session, actor=me.actor)
        figures = stats.departments(
            session, actor=me.actor, start=today - timedelta(days=STATS_DAYS - 1), end=today, today=today
        )
    return {
        "page": page,
        "departments": [d for d in departments if not d.disabled],
        "officials": [o for o in officials if not o.disabled],
        "figures": figures,
        "period": (today - timedelta(days=STATS_DAYS - 1), today),
        "today": today,
    }


def _charts(figures: list[stats.DepartmentStats], _: Any) -> list[Chart]:
    on_time = [
        (f.department, f.on_time_rate, f"{f.on_time_rate * 100:.0f}%" if f.on_time_rate is not None else "—")
        for f in figures
    ]
    median = [
        (f.department, f.median_days, f"{f.median_days:g}" if f.median_days is not None else "—") for f in figures
    ]
    urges: list[tuple[str, float | None, str]] = [(f.department, float(f.urges), str(f.urges)) for f in figures]
    overdue: list[tuple[str, float | None, str]] = [
        (f.department, float(f.overdue_now), str(f.overdue_now)) for f in figures
    ]
    return [
        chart("on-time", _("On-time rate by department"), "%", on_time, 1.0),
        chart("median", _("Median working days to handle a step, by department"), _("working days"), median, None),
        chart("urges", _("Urges on each department's steps in the period"), _("urges"), urges, None),
        chart("overdue", _("Steps overdue now, by department"), _("steps overdue"), overdue, None),
    ]


def _toggled(flags: dict[str, str], name: str) -> str:
    """The board's address with the flag ``name`` switched."""
    changed = {k: v for k, v in flags.items() if k != name} if name in flags else {**flags, name: "1"}
    return "/supervision?" + urlencode(changed)


async def show(
    request: Request,
    me: SignedIn,
    flags: dict[str, str],
    *,
    notice: str | None = None,
    refusal: str | None = None,
    status_code: int = 200,
) -> Response:
    _ = i18n.translations(i18n.language(request)).gettext
    if not me.actor.has_role(Role.LEADER):
        return render(request, "supervision/forbidden.html", {"me": me}, status_code=403)
    cursor = request.query_params.get("cursor") or None
    if cursor is not None and len(cursor) > 200:
        cursor, refusal, status_code = None, "cursor is not one of this board's", 400
    try:
        board = await run_in_threadpool(_board, request, me, flags, cursor)
    except InvalidInput as error:
        board = await run_in_threadpool(_board, request, me, flags, None)
        refusal, status_code = error.message, 400
    page = board["page"]
    context: dict[str, Any] = {
        "me": me,
        **board,
        "flags": flags,
        "charts": _charts(board["figures"], _),
        "notice": notice if notice in NOTICES else None,
        "notices": {key: _(text) for key, text in NOTICES.items()},
        "refusal": refusal,
        "toggle": _toggled(flags, "subordinates"),
        "toggle_green": _toggled(flags, "green"),
        "next": "/supervision?" + urlencode({**flags, "cursor": page.next_cursor}) if page.next_cursor else None,
        "max_text": interventions.MAX_TEXT,
        "roles": {key: _(label) for key, label in ROLES.items()},
    }
    return render(request, "supervision/board.html", context, status_code=status_code)


@router.get("/supervision")
async def board(request: Request) -> Response:
    me = await run_in_threadpool(auth.signed_in, request)
    if me is None:
        return to_login(request)
    return await show(request, me, _flags(request.query_params), notice=request.query_params.get("done"))


def _assignee(value: str) -> Assignee:
    kind, _, id = value.partition(":")
    if kind == "official" and id:
        return Assignee(official_id=id)
    if kind == "department" and id:
        return Assignee(department_id=id)
    raise InvalidInput("choose the official or department to give the step to")


def _due(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput("the new due day is a day, YYYY-MM-DD") from None


def _act(request: Request, me: SignedIn, step_id: str, what: str, form: dict[str, str]) -> None:
    settings = request.app.state.settings
    with request.app.state.database.transaction() as session:
        if what == "urge":
            interval = timedelta(minutes=settings.urge_interval_minutes)
            message = form.get("message")
            interventions.urge(session, actor=me.actor, step_id=step_id, message=message, interval=interval)
        elif what == "extend":
            due_on = _due(form.get("due_on", ""))
            interventions.extend(session, actor=me.actor, step_id=step_id, due_on=due_on, reason=form.get("reason", ""))
        else:
            assignee = _assignee(form.get("assignee", ""))
            interventions.reassign(
                session, actor=me.actor, step_id=step_id, assignee=assignee, reason=form.get("reason", "")
            )


@router.post("/supervision/steps/{step_id}/{what}")
async def act(request: Request, step_id: str, what: str) -> Response:
    posted = await signed_in_form(request)
    if isinstance(posted, Response):
        return posted
    form, me = posted
    flags = _flags(form)
    if what not in ACTIONS:
        return await show(request, me, flags, refusal="no such action", status_code=404)
    try:
        await run_in_threadpool(_act, request, me, step_id, what, form)
    except EsignError as error:
        return await show(request, me, flags, refusal=error.message, status_code=status_of(error))
    return RedirectResponse("/supervision?" + urlencode({**flags, "done": what}), status_code=303)
