"""Per-organisation figures over a period for a leader: their own organisation and every body below it
(``keys.hierarchy``), so a district sees how its bureaus keep their deadlines (绩效考核). Only counts and
working days cross over, never a document.

Handling time is the working days from the day a step opened to the day it was completed, on each
organisation's own calendar; the 90th percentile is the nearest-rank one, as for departments (``stats``).
End-to-end time is a completed route's, from the day its first step opened to the day its last one was
completed, counted in the period its last step was completed in (as per route template, ``template_stats``).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor, Role
from keys import hierarchy, identities
from keys.identities import Organisation

from ..records import CHINA
from ..states import RouteState
from . import calendar
from .figures import Handling, nearest_rank_p90
from .model import Dispatch, Route, Step, StepEvent, StepEventKind, StepState


@dataclass(frozen=True)
class OrganisationStats:
    organisation_id: str
    organisation: str
    own: bool
    """The caller's own organisation; the others are below it."""
    steps_completed: int
    median_days: float | None
    p90_days: int | None
    on_time_rate: float | None
    overdue_now: int
    urges: int
    extensions: int
    forwarded: int
    """Documents it sent on to the competent organisation (回流) in the period."""
    replies_late: int
    """Replies to requests it gave after their deadline, in the period."""
    routes_completed: int
    """Routes whose last step was completed in the period; their end-to-end time follows."""
    end_to_end_median_days: float | None
    """Working days from the day a route's first step opened to the day its last one was completed."""
    end_to_end_p90_days: int | None


def organisations(
    session: Session, *, actor: Actor, start: date, end: date, today: date | None = None
) -> list[OrganisationStats]:
    if not actor.has_role(Role.LEADER):
        raise Forbidden("figures across organisations are for leaders")
    if end < start:
        raise InvalidInput("the period ends before it starts")
    day = today or calendar.today()
    scope = [actor.organisation_id, *hierarchy.subordinates(session, actor.organisation_id)]
    names = identities.names(session, Organisation, scope)
    durations: dict[str, list[int]] = defaultdict(list)
    on_time: dict[str, int] = defaultdict(int)
    calendars: dict[str, calendar.WorkingCalendar] = {}
    for organisation_id, opened_on, completed_on, due_on in session.execute(
        select(Step.organisation_id, Step.opened_on, Step.completed_on, Step.due_on).where(
            Step.organisation_id.in_(scope),
            Step.state == StepState.DONE.value,
            Step.completed_on >= start,
            Step.completed_on <= end,
        )
    ):
        if completed_on is None:
            continue
        working = calendars.get(organisation_id) or calendars.setdefault(
            organisation_id, calendar.load(session, organisation_id=organisation_id)
        )
        durations[organisation_id].append(working.working_days_between(opened_on, completed_on))
        on_time[organisation_id] += completed_on <= due_on
    overdue = _count(
        session,
        select(Step.organisation_id, func.count())
        .where(Step.organisation_id.in_(scope), Step.state == StepState.OPEN.value, Step.due_on < day)
        .group_by(Step.organisation_id),
    )
    events = session.execute(
        select(StepEvent.organisation_id, StepEvent.kind, func.count())
        .where(
            StepEvent.organisation_id.in_(scope),
            StepEvent.kind.in_([StepEventKind.URGE.value, StepEventKind.EXTEND.value]),
            StepEvent.at >= calendar.start_of(start),
            StepEvent.at < calendar.start_of(end + timedelta(days=1)),
        )
        .group_by(StepEvent.organisation_id, StepEvent.kind)
    ).all()
    in_period = (Dispatch.dispatched_at >= calendar.start_of(start)) & (
        Dispatch.dispatched_at < calendar.start_of(end + timedelta(days=1))
    )
    moved = select(Dispatch.id).where(in_period)
    forwarded = _count(
        session,
        select(Dispatch.recipient_organisation_id, func.count())
        .where(Dispatch.recipient_organisation_id.in_(scope), Dispatch.forwarded_to_id.in_(moved))
        .group_by(Dispatch.recipient_organisation_id),
    )
    replies_late = _late_replies(session, scope, start, end)
    end_to_end: dict[str, Handling] = defaultdict(Handling)
    last = func.max(Step.completed_on)
    for organisation_id, first, finished in session.execute(
        select(Route.organisation_id, func.min(Step.opened_on), last)
        .join(Step, Step.route_id == Route.id)
        .where(Route.organisation_id.in_(scope), Route.state == RouteState.COMPLETED.value)
        .group_by(Route.id, Route.organisation_id)
        .having(last >= start, last <= end)
    ):
        if finished is not None:
            working = calendars.get(organisation_id) or calendars.setdefault(
                organisation_id, calendar.load(session, organisation_id=organisation_id)
            )
            end_to_end[organisation_id].add(working.working_days_between(first, finished))
    return [
        OrganisationStats(
            organisation_id=organisation_id,
            organisation=names.get(organisation_id, ""),
            own=organisation_id == actor.organisation_id,
            steps_completed=len(durations[organisation_id]),
            median_days=statistics.median(durations[organisation_id]) if durations[organisation_id] else None,
            p90_days=nearest_rank_p90(durations[organisation_id]) if durations[organisation_id] else None,
            on_time_rate=round(on_time[organisation_id] / len(durations[organisation_id]), 4)
            if durations[organisation_id]
            else None,
            overdue_now=overdue.get(organisation_id, 0),
            urges=sum(n for o, k, n in events if o == organisation_id and k == StepEventKind.URGE.value),
            extensions=sum(n for o, k, n in events if o == organisation_id and k == StepEventKind.EXTEND.value),
            forwarded=forwarded.get(organisation_id, 0),
            replies_late=replies_late.get(organisation_id, 0),
            routes_completed=end_to_end[organisation_id].count,
            end_to_end_median_days=end_to_end[organisation_id].median,
            end_to_end_p90_days=end_to_end[organisation_id].p90,
        )
        for organisation_id in sorted(scope, key=lambda o: (o != actor.organisation_id, names.get(o, "")))
    ]


def _count(session: Session, query: Select[str, int]) -> dict[str, int]:
    return {row[0]: row[1] for row in session.execute(query)}


def _late_replies(session: Session, scope: list[str], start: date, end: date) -> dict[str, int]:
    """Replies given in the period after their day: replied_at's Beijing day later than reply_due_on."""
    counts: dict[str, int] = defaultdict(int)
    for organisation_id, replied_at, due in session.execute(
        select(Dispatch.recipient_organisation_id, Dispatch.replied_at, Dispatch.reply_due_on).where(
            Dispatch.recipient_organisation_id.in_(scope),
            Dispatch.reply_due_on.is_not(None),
            Dispatch.replied_at >= calendar.start_of(start),
            Dispatch.replied_at < calendar.start_of(end + timedelta(days=1)),
        )
    ):
        if replied_at is not None and due is not None and replied_at.astimezone(CHINA).date() > due:
            counts[organisation_id] += 1
    return counts
