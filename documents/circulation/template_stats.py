"""Per-route-template figures over a period, for a leader of the organisation (绩效考核), with the end-to-end
time of the documents' routes.

A template counts with all its versions, by name; the routes started from a definition rather than a template
make one more row, whose ``template`` is null. A step counts for the template its route was started from,
with the same rules as for departments (``stats``): handling time in working days on the organisation's
calendar from the day a step opened to the day it was completed, nearest-rank 90th percentile.

End-to-end time is a completed route's: the working days from the day its first step opened to the day its
last step was completed; a route counts in the period its last step was completed in.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from esign.identity import Actor

from ..states import RouteState
from . import calendar
from .figures import ClosedSteps, Handling
from .model import Dispatch, Route, RouteTemplate, Step, StepEvent, StepEventKind, StepState
from .official_stats import leader_period

_CLOSED = [StepState.DONE.value, StepState.RETURNED.value, StepState.REROUTED.value, StepState.DELEGATED.value]


@dataclass(frozen=True)
class TemplateStats:
    template: str | None
    """The template's name; null for the routes started without a template."""
    routes_completed: int
    end_to_end_median_days: float | None
    end_to_end_p90_days: int | None
    steps_completed: int
    median_days: float | None
    p90_days: int | None
    on_time_rate: float | None
    overdue_now: int
    returns: int
    reroutes: int
    urges: int
    extensions: int
    forwarded: int
    """Incoming documents on such a route sent on to the competent organisation (回流) in the period."""


def templates(
    session: Session, *, actor: Actor, start: date, end: date, today: date | None = None
) -> list[TemplateStats]:
    leader_period(actor, start, end)
    day = today or calendar.today()
    organisation = actor.organisation_id
    working = calendar.load(session, organisation_id=organisation)
    name = (
        select(RouteTemplate.name)
        .where(RouteTemplate.id == Route.template_id)
        .correlate(Route)
        .scalar_subquery()
        .label("template")
    )
    routes = select(Route.id.label("route_id"), name).where(Route.organisation_id == organisation).subquery()
    closed = ClosedSteps(working)
    for template, state, outcome, opened_on, completed_on, due_on in session.execute(
        select(routes.c.template, Step.state, Step.outcome, Step.opened_on, Step.completed_on, Step.due_on)
        .select_from(Step)
        .join(routes, routes.c.route_id == Step.route_id)
        .where(
            Step.organisation_id == organisation,
            Step.completed_on >= start,
            Step.completed_on <= end,
            Step.state.in_(_CLOSED),
        )
    ):
        closed.add(
            template, state=state, outcome=outcome, opened_on=opened_on, completed_on=completed_on, due_on=due_on
        )
    end_to_end: dict[str | None, Handling] = defaultdict(Handling)
    last = func.max(Step.completed_on)
    for template, first, finished in session.execute(
        select(routes.c.template, func.min(Step.opened_on), last)
        .select_from(routes)
        .join(Step, Step.route_id == routes.c.route_id)
        .join(Route, Route.id == routes.c.route_id)
        .where(Route.state == RouteState.COMPLETED.value)
        .group_by(routes.c.route_id, routes.c.template)
        .having(last >= start, last <= end)
    ):
        if finished is not None:
            end_to_end[template].add(working.working_days_between(first, finished))
    overdue = _by_template(
        session,
        select(routes.c.template, func.count())
        .select_from(Step)
        .join(routes, routes.c.route_id == Step.route_id)
        .where(Step.organisation_id == organisation, Step.state == StepState.OPEN.value, Step.due_on < day)
        .group_by(routes.c.template),
    )
    since, until = calendar.start_of(start), calendar.start_of(end + timedelta(days=1))
    urges, extensions = (
        _by_template(
            session,
            select(routes.c.template, func.count())
            .select_from(StepEvent)
            .join(Step, Step.id == StepEvent.step_id)
            .join(routes, routes.c.route_id == Step.route_id)
            .where(StepEvent.organisation_id == organisation, StepEvent.kind == kind, StepEvent.at >= since)
            .where(StepEvent.at < until)
            .group_by(routes.c.template),
        )
        for kind in (StepEventKind.URGE.value, StepEventKind.EXTEND.value)
    )
    moved = select(Dispatch.id).where(Dispatch.dispatched_at >= since, Dispatch.dispatched_at < until)
    forwarded = _by_template(
        session,
        select(routes.c.template, func.count())
        .select_from(routes)
        .join(Route, Route.id == routes.c.route_id)
        .join(Dispatch, Dispatch.incoming_document_id == Route.document_id)
        .where(Dispatch.recipient_organisation_id == organisation, Dispatch.forwarded_to_id.in_(moved))
        .group_by(routes.c.template),
    )
    named = session.scalars(
        select(RouteTemplate.name).where(RouteTemplate.organisation_id == organisation).distinct()
    ).all()
    keys: list[str | None] = [*sorted(set(named)), None]
    return [
        TemplateStats(
            template=key,
            routes_completed=end_to_end[key].count,
            end_to_end_median_days=end_to_end[key].median,
            end_to_end_p90_days=end_to_end[key].p90,
            steps_completed=closed.handling[key].count,
            median_days=closed.handling[key].median,
            p90_days=closed.handling[key].p90,
            on_time_rate=closed.handling[key].on_time_rate,
            overdue_now=overdue.get(key, 0),
            returns=closed.returns[key],
            reroutes=closed.reroutes[key],
            urges=urges.get(key, 0),
            extensions=extensions.get(key, 0),
            forwarded=forwarded.get(key, 0),
        )
        for key in keys
    ]


def _by_template(session: Session, query: Select[Any]) -> dict[str | None, int]:
    return {template: n for template, n in session.execute(query)}
