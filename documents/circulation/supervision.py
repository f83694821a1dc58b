"""督办: a leader's view of the open steps due soon or overdue, in their organisation and, for a superior body,
in its subordinates (``keys.hierarchy``).

Each step gets a colour: red once its due day has passed, yellow when it falls due within
``ESIGN_SUPERVISION_WARN_DAYS`` working days, green otherwise (listed only when asked for). Working days are
counted on the supervising organisation's calendar. A subordinate's steps come without their document's title:
a superior body oversees the work, not the content of documents that were not sent to it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, Select, any_, func, select, tuple_
from sqlalchemy.orm import QueryableAttribute, Session

from esign.db import among
from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor, Role
from keys import hierarchy, identities
from keys.identities import Official, Organisation

from .. import paging
from ..records import Document
from . import calendar
from .model import Dispatch, Step, StepEvent, StepEventKind, StepState
from .views import StepView, describe

MAX_PAGE = 200


class Colour(enum.StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"


@dataclass(frozen=True)
class Supervised:
    view: StepView
    organisation_name: str
    colour: Colour
    own: bool
    """The step is in the supervisor's own organisation (title shown, acts allowed)."""
    urges: int
    extensions: int


@dataclass(frozen=True)
class AwaitedReply:
    """A request the organisation sent whose reply has not come: overdue (red) or due soon (yellow)."""

    request: Dispatch
    title: str | None
    """The request's title, for the supervisor's own organisation only."""
    recipient_name: str
    colour: Colour


@dataclass(frozen=True)
class Page:
    steps: list[Supervised]
    next_cursor: str | None
    replies: list[AwaitedReply] = field(default_factory=list)
    """The requests awaiting a reply (every one, not paged: a body sends few at a time)."""


def _within(session: Session, column: QueryableAttribute[str], actor: Actor, subordinates: bool) -> ColumnElement[bool]:
    """``column`` names the actor's organisation or, with ``subordinates``, one below it: on PostgreSQL as
    ``= ANY(ARRAY(tree))``, which the planner runs once and then looks each body up in the index."""
    if not subordinates:
        return column == actor.organisation_id
    tree = hierarchy.scope(actor.organisation_id)
    if _postgresql(session):
        return column == any_(func.array(tree.scalar_subquery()))
    return column.in_(tree)


def _scope(
    session: Session, actor: Actor, organisations: ColumnElement[bool], *, department_id: str | None
) -> Select[Any]:
    """The ids of the open steps supervised: read from ``ix_steps_open_organisation`` alone (an index-only
    scan), so that a district over hundreds of bodies sorts a few thousand index entries, not their rows; the
    caller reads the rows of the page's ids only."""
    query = select(Step.id).where(Step.state == StepState.OPEN.value, organisations)
    if department_id is not None:
        department = identities.get_department(
            session, organisation_id=actor.organisation_id, department_id=department_id
        )
        members = select(Official.id).where(Official.department_id == department.id)
        query = query.where((Step.assignee_department_id == department.id) | Step.assignee_official_id.in_(members))
    return query


def overview(
    session: Session,
    *,
    actor: Actor,
    warn_days: int,
    subordinates: bool = False,
    include_green: bool = False,
    department_id: str | None = None,
    limit: int = 50,
    cursor: str | None = None,
    today: date | None = None,
) -> Page:
    """The steps a leader supervises, soonest due first."""
    if not actor.has_role(Role.LEADER):
        raise Forbidden("supervision is for leaders")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE}")
    day = today or calendar.today()
    horizon = calendar.load(session, organisation_id=actor.organisation_id).add_working_days(day, warn_days)
    query = _scope(
        session, actor, _within(session, Step.organisation_id, actor, subordinates), department_id=department_id
    )
    if not include_green:
        query = query.where(Step.due_on <= horizon)
    if cursor is not None:
        query = query.where(tuple_(Step.due_on, Step.id) > tuple_(*paging.decode(cursor, date.fromisoformat, str)))
    chosen = query.order_by(Step.due_on, Step.id).limit(limit + 1).scalar_subquery()
    which = Step.id == any_(func.array(chosen)) if _postgresql(session) else Step.id.in_(chosen)
    steps = session.scalars(select(Step).where(which).order_by(Step.due_on, Step.id)).all()
    page = list(steps[:limit])
    replies = (
        []
        if cursor
        else _awaited(
            session,
            actor,
            _within(session, Dispatch.organisation_id, actor, subordinates),
            day,
            horizon,
            include_green=include_green,
        )
    )
    names = identities.names(
        session,
        Organisation,
        {s.organisation_id for s in page} | {r.request.recipient_organisation_id for r in replies},
    )
    counts = _counts(session, [s.id for s in page])
    supervised = [
        Supervised(
            view=view,
            organisation_name=names[view.step.organisation_id],
            colour=colour_of(view.step.due_on, day, horizon),
            own=view.step.organisation_id == actor.organisation_id,
            urges=counts.get((view.step.id, StepEventKind.URGE.value), 0),
            extensions=counts.get((view.step.id, StepEventKind.EXTEND.value), 0),
        )
        for view in describe(session, page)
    ]
    last = page[-1] if len(steps) > limit else None
    replies = [replace(r, recipient_name=names.get(r.request.recipient_organisation_id, "")) for r in replies]
    return Page(supervised, paging.encode(last.due_on.isoformat(), last.id) if last else None, replies)


def _postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _awaited(
    session: Session,
    actor: Actor,
    organisations: ColumnElement[bool],
    day: date,
    horizon: date,
    *,
    include_green: bool,
) -> list[AwaitedReply]:
    """From ``ix_dispatches_awaited``; the recipients' names are the caller's to look up, with the steps'
    organisations' (a join would let the planner hash every organisation of the deployment)."""
    query = (
        select(Dispatch, Document.title)
        .join(Document, Document.id == Dispatch.document_id)
        .where(
            organisations,
            Dispatch.reply_kind.is_not(None),
            Dispatch.replied_at.is_(None),
            Dispatch.forwarded_to_id.is_(None),
        )
        .order_by(Dispatch.reply_due_on, Dispatch.id)
        .limit(MAX_PAGE)
    )
    if not include_green:
        query = query.where(Dispatch.reply_due_on <= horizon)
    return [
        AwaitedReply(
            request=request,
            title=title if request.organisation_id == actor.organisation_id else None,
            recipient_name="",
            colour=colour_of(request.reply_due_on, day, horizon) if request.reply_due_on else Colour.GREEN,
        )
        for request, title in session.execute(query)
    ]


def colour_of(due_on: date, today: date, horizon: date) -> Colour:
    """Red once ``due_on`` has passed, yellow up to ``horizon`` (the warning days ahead), green after."""
    if due_on < today:
        return Colour.RED
    return Colour.YELLOW if due_on <= horizon else Colour.GREEN


def _counts(session: Session, step_ids: Sequence[str]) -> dict[tuple[str, str], int]:
    rows = session.execute(
        select(StepEvent.step_id, StepEvent.kind, func.count())
        .where(among(session, StepEvent.step_id, step_ids))
        .group_by(StepEvent.step_id, StepEvent.kind)
    )
    return {(step_id, kind): n for step_id, kind, n in rows}
