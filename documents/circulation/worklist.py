"""An official's work as the inbox page shows it: their open steps with the document, the stage, the colour of
the deadline and the working days left, the steps a leader urged (催办) first, newest urge on top.

Built on :func:`inbox.inbox` (the steps that are the official's, by due date) for the first
:data:`inbox.MAX_PAGE` of them: an official with more open steps than that sees the soonest due, and the page
says so. Words and a colour narrow the list; working days are counted on the official's organisation's calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esign.errors import Forbidden
from esign.identity import Actor

from . import calendar, flows, inbox
from .model import Step, StepEvent, StepEventKind, StepState
from .supervision import Colour, colour_of
from .views import StepView, describe


@dataclass(frozen=True)
class Urged:
    count: int
    last_at: datetime
    last_message: str | None


@dataclass(frozen=True)
class Entry:
    view: StepView
    colour: Colour
    working_days_left: int
    """Working days from today to the due day; negative once overdue (working days since it was due)."""
    urged: Urged | None


@dataclass(frozen=True)
class Filters:
    words: tuple[str, ...] = ()
    """Every word must occur in the document's title (case-insensitive)."""
    colour: Colour | None = None


@dataclass(frozen=True)
class Worklist:
    entries: list[Entry]
    total_open: int
    """Open steps read, before the filters."""
    truncated: bool
    """More open steps than :data:`inbox.MAX_PAGE`: only the soonest due were read."""


def worklist(
    session: Session, *, actor: Actor, warn_days: int, filters: Filters = Filters(), today: date | None = None
) -> Worklist:
    page = inbox.inbox(session, actor=actor, limit=inbox.MAX_PAGE)
    day = today or calendar.today()
    working = calendar.load(session, organisation_id=actor.organisation_id)
    horizon = working.add_working_days(day, warn_days)
    urges = _urges(session, [s.id for s in page.steps])
    entries = []
    for view in describe(session, page.steps):
        due = view.step.due_on
        left = working.working_days_between(day, due) if due >= day else -working.working_days_between(due, day)
        colour = colour_of(due, day, horizon)
        entry = Entry(view=view, colour=colour, working_days_left=left, urged=urges.get(view.step.id))
        if _matches(entry, filters):
            entries.append(entry)
    entries.sort(key=_order)
    return Worklist(entries=entries, total_open=len(page.steps), truncated=page.next_cursor is not None)


def _matches(entry: Entry, filters: Filters) -> bool:
    if filters.colour is not None and entry.colour is not filters.colour:
        return False
    title = (entry.view.document.title or "").casefold()
    return all(word.casefold() in title for word in filters.words)


def _order(entry: Entry) -> tuple[int, float, date, str]:
    """Urged first, the newest urge on top; then by due day."""
    urged_at = -entry.urged.last_at.timestamp() if entry.urged else 0.0
    return (0 if entry.urged else 1, urged_at, entry.view.step.due_on, entry.view.step.id)


def _urges(session: Session, step_ids: list[str]) -> dict[str, Urged]:
    if not step_ids:
        return {}
    urge = StepEvent.kind == StepEventKind.URGE.value
    latest = (
        select(StepEvent.step_id, func.count().label("n"), func.max(StepEvent.at).label("last_at"))
        .where(StepEvent.step_id.in_(step_ids), urge)
        .group_by(StepEvent.step_id)
        .subquery()
    )
    rows = session.execute(
        select(latest.c.step_id, latest.c.n, latest.c.last_at, StepEvent.text).join(
            StepEvent, (StepEvent.step_id == latest.c.step_id) & (StepEvent.at == latest.c.last_at) & urge
        )
    )
    return {step_id: Urged(count=n, last_at=at, last_message=text) for step_id, n, at, text in rows}


def acting_step(session: Session, *, actor: Actor, document_id: str) -> StepView | None:
    """The open step of this document the actor may act on now, if any (the document page's actions)."""
    open_steps = session.scalars(
        select(Step)
        .where(
            Step.organisation_id == actor.organisation_id,
            Step.document_id == document_id,
            Step.state == StepState.OPEN.value,
        )
        .order_by(Step.due_on, Step.id)
    ).all()
    for step in open_steps:
        try:
            flows.may_act(session, actor=actor, step=step)
        except Forbidden:
            continue
        return describe(session, [step])[0]
    return None
