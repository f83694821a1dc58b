"""Periodic work on open steps: a reminder (催办) to the assignee when a step is due within one working day,
escalation (督办) to the supervising leaders once it is overdue.

Every step is opened with its two alerts queued in ``step_alerts`` (``starting.new_step``). A sweep takes a
batch of the alerts that have fallen due, ``DELETE ... WHERE step_id = ANY(ARRAY(SELECT ... FOR UPDATE SKIP
LOCKED)) RETURNING step_id`` (PostgreSQL; on SQLite ``IN (SELECT ...)``, and its write lock serialises the
workers instead), and writes the events of those steps still open to the outbox in the same transaction,
so with any number of workers each reminder and each escalation happens exactly once. A step closed before
its alerts fell due gets none: they are taken and dropped. An escalation repeats while the step stays open
(``Schedule``, ``ESIGN_OVERDUE_NOTICES`` and ``ESIGN_OVERDUE_REPEAT_DAYS``): taking one queues the next in
the same transaction, so each schedule point is sent once too.

The events are built by the database (:func:`esign.outbox.emit_selected`): on PostgreSQL a batch is two
statements whatever its size, and no step travels to Python. The reminder threshold uses the official
calendar with the overrides declared for everyone; an organisation's own overrides already shaped its due
dates when the steps opened.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ARRAY,
    CTE,
    ColumnElement,
    Date,
    Insert,
    Integer,
    Select,
    String,
    any_,
    bindparam,
    case,
    delete,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.orm import Session

from esign import outbox
from esign.db import Database, among, table_of
from esign.settings import Settings
from esign.sqljson import first_array, iso_date, json_array_agg, json_object
from esign.worker import Job
from keys.identities import Official, active_leader

from . import calendar
from .model import AlertKind, Step, StepAlert, StepState

BATCH = 1000

_STEPS = table_of(Step)
_ALERTS = table_of(StepAlert)
_OFFICIALS = table_of(Official)
_EVENTS = {AlertKind.DUE_SOON: "step.due_soon", AlertKind.OVERDUE: "step.overdue"}


def _take(session: Session, *, kind: AlertKind, due_by: date, batch: int) -> Sequence[tuple[str, int]]:
    """Delete up to ``batch`` alerts of ``kind`` due by ``due_by``, earliest first; their steps' ids and
    sequence numbers."""
    chosen = (
        select(_ALERTS.c.step_id)
        .where(_ALERTS.c.kind == kind.value, _ALERTS.c.due_on <= due_by)
        .order_by(_ALERTS.c.due_on)
        .limit(batch)
        .with_for_update(skip_locked=True)
    )
    if session.get_bind().dialect.name == "postgresql":
        # An array the planner sees as one value: the alerts are found by primary key, never by a join
        # over the whole table (IN (subquery) can become a hash join with a sequential scan).
        which = _ALERTS.c.step_id == any_(func.array(chosen.scalar_subquery()))
    else:
        which = _ALERTS.c.step_id.in_(chosen.scalar_subquery())
    taken = delete(_ALERTS).where(_ALERTS.c.kind == kind.value, which).returning(_ALERTS.c.step_id, _ALERTS.c.seq)
    return [(step_id, seq) for step_id, seq in session.execute(taken)]


def _fields() -> dict[str, ColumnElement[Any]]:
    """An alert's payload: the step and who it is assigned to."""
    return {
        "step_id": _STEPS.c.id,
        "document_id": _STEPS.c.document_id,
        "kind": _STEPS.c.kind,
        "due_on": iso_date(_STEPS.c.due_on),
        "official_id": _STEPS.c.assignee_official_id,
        "department_id": _STEPS.c.assignee_department_id,
        "role": _STEPS.c.assignee_role,
    }


def _rows(session: Session, step_ids: Sequence[str], payload: dict[str, ColumnElement[Any]]) -> Select[Any]:
    """One event per step still open among ``step_ids``."""
    return select(
        _STEPS.c.organisation_id.label("organisation_id"),
        (literal("step:", String) + _STEPS.c.id).label("subject"),
        json_object(payload).label("payload"),
        _STEPS.c.id.label("step_id"),
    ).where(
        among(session, _STEPS.c.id, step_ids),
        # Tested on an expression of the column, not the column: ``state = 'open'`` would let PostgreSQL AND
        # the thousand primary-key probes with a partial inbox index holding every open step, which costs
        # more than the rest of the statement.
        _STEPS.c.state.concat("") == StepState.OPEN.value,
    )


def remind(database: Database, *, today: date | None = None, batch: int = BATCH) -> int:
    """One batch of reminders; the number of alerts taken (0 when there is nothing left to do)."""
    day = today or calendar.today()
    with database.transaction() as session:
        threshold = calendar.load(session, organisation_id=calendar.GLOBAL).add_working_days(day, 1)
        taken = [step_id for step_id, _ in _take(session, kind=AlertKind.DUE_SOON, due_by=threshold, batch=batch)]
        if taken:
            outbox.emit_selected(session, type=_EVENTS[AlertKind.DUE_SOON], rows=_rows(session, taken, _fields()))
        return len(taken)


def _leaders(*where: ColumnElement[bool]) -> ColumnElement[Any]:
    return select(json_array_agg(_OFFICIALS.c.id)).where(*where, active_leader()).correlate(_STEPS).scalar_subquery()


def _escalations(session: Session, step_ids: Sequence[str]) -> Select[Any]:
    """The events of overdue steps: an alert's payload and the supervisors, the leaders of the assignee's
    department (the department of an official assignee) or, when it has none or the step is assigned to a
    role, every leader of the organisation. Both are read from the leaders' index, the organisation's only
    when the department's come out empty."""
    assignee = _OFFICIALS.alias("assignee")
    department = func.coalesce(
        _STEPS.c.assignee_department_id,
        select(assignee.c.department_id)
        .where(assignee.c.id == _STEPS.c.assignee_official_id)
        .correlate(_STEPS)
        .scalar_subquery(),
    )
    in_organisation = _OFFICIALS.c.organisation_id == _STEPS.c.organisation_id
    supervisors = first_array(
        _leaders(in_organisation, _OFFICIALS.c.department_id == department), _leaders(in_organisation)
    )
    return _rows(session, step_ids, {**_fields(), "supervisors": supervisors})


@dataclass(frozen=True)
class Schedule:
    """How often an overdue step is escalated: ``notices`` times in all, the first the day after it fell due,
    then every ``every`` working days while it stays open."""

    notices: int = 1
    every: int = 2

    @classmethod
    def from_settings(cls, settings: Settings) -> Schedule:
        return cls(notices=settings.overdue_notices, every=settings.overdue_repeat_days)


def escalate(
    database: Database, *, today: date | None = None, batch: int = BATCH, schedule: Schedule = Schedule()
) -> int:
    """One batch of escalations of overdue steps; the number of alerts taken. Each escalation of a step still
    open queues its next one, in the same transaction, until the schedule's last."""
    day = today or calendar.today()
    with database.transaction() as session:
        taken = _take(session, kind=AlertKind.OVERDUE, due_by=day - timedelta(days=1), batch=batch)
        if taken:
            step_ids = [step_id for step_id, _ in taken]
            rows = _escalations(session, step_ids)
            if session.get_bind().dialect.name == "postgresql":
                # The next escalations are queued from the rows the events are made of, in the same
                # statement: the steps still open are read once, not probed again by a second INSERT.
                nexts = _next_by_seq(taken, schedule)
                sent_on = _repeat_on(session, day, schedule) if nexts else day
                outbox.emit_selected(
                    session,
                    type=_EVENTS[AlertKind.OVERDUE],
                    rows=rows,
                    also=(lambda source: _queue_from(source, nexts, sent_on)) if nexts else None,
                )
            else:
                outbox.emit_selected(session, type=_EVENTS[AlertKind.OVERDUE], rows=rows)
                _queue_next(session, taken, day=day, schedule=schedule)
        return len(taken)


def _next_by_seq(taken: Sequence[tuple[str, int]], schedule: Schedule) -> dict[int, list[str]]:
    """The steps taken that have an escalation still to come, by the sequence number of that one."""
    by_seq: dict[int, list[str]] = defaultdict(list)
    for step_id, seq in taken:
        if seq + 1 < schedule.notices:
            by_seq[seq + 1].append(step_id)
    return by_seq


def _repeat_on(session: Session, day: date, schedule: Schedule) -> date:
    return calendar.load(session, organisation_id=calendar.GLOBAL).add_working_days(day, schedule.every)


def _queue_from(source: CTE, nexts: dict[int, list[str]], sent_on: date) -> Insert:
    """The next escalation of each step among ``source`` (the open steps escalated now) that has one."""
    seq = case(
        *((source.c.step_id == any_(bindparam(None, ids, type_=ARRAY(String))), n) for n, ids in nexts.items()),
        else_=None,
    )
    chosen = select(
        source.c.step_id,
        literal(AlertKind.OVERDUE.value, String),
        source.c.organisation_id,
        literal(sent_on - timedelta(days=1), Date),
        seq,
    ).where(seq.is_not(None))
    return insert(_ALERTS).from_select(["step_id", "kind", "organisation_id", "due_on", "seq"], chosen)


def _queue_next(session: Session, taken: Sequence[tuple[str, int]], *, day: date, schedule: Schedule) -> None:
    """The next escalation of each open step taken, sent ``schedule.every`` working days after ``day``
    (SQLite; PostgreSQL queues them in the statement that emits the escalations, :func:`_queue_from`)."""
    by_seq = _next_by_seq(taken, schedule)
    if not by_seq:
        return
    sent_on = _repeat_on(session, day, schedule)
    for seq, step_ids in by_seq.items():
        still_open = select(
            _STEPS.c.id,
            literal(AlertKind.OVERDUE.value, String),
            _STEPS.c.organisation_id,
            literal(sent_on - timedelta(days=1), Date),
            literal(seq, Integer),
        ).where(among(session, _STEPS.c.id, step_ids), _STEPS.c.state.concat("") == StepState.OPEN.value)
        columns = ["step_id", "kind", "organisation_id", "due_on", "seq"]
        session.execute(insert(_ALERTS).from_select(columns, still_open))


def jobs(settings: Settings) -> list[Job]:
    """The worker jobs of circulation."""
    scheduled = functools.partial(escalate, schedule=Schedule.from_settings(settings))
    return [remind, functools.update_wrapper(scheduled, escalate)]
