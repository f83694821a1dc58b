"""Reminders and escalations: each exactly once, even with four workers sweeping at the same time; their
payloads and webhook deliveries, which the database builds, as the documentation gives them."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import func, select, update

import webhooks
from documents import intake
from documents.circulation import calendar, starting, sweeps
from documents.circulation.model import (
    Assignee,
    RouteDefinition,
    StageSpec,
    Step,
    StepAlert,
    StepKind,
    StepSpec,
    StepState,
)
from documents.records import Direction, Kind
from esign.blobs import blob_store_from_settings
from esign.cipher import SecretCipher
from esign.db import Database
from esign.identity import Actor, Role, Scope
from esign.outbox import OutboxEvent
from esign.settings import Settings
from keys import identities
from tests.conftest import make_pdf, uploaded
from tests.world import World
from webhooks import WebhookDelivery

DOCUMENTS = 40


def _seed(world: World, db: Database, settings: Settings, opened: date) -> None:
    """40 documents, each with a route of two parallel information steps (due two working days later)."""
    org = world.orgs["A"]
    system = Actor(
        organisation_id=org.id,
        official_id=None,
        system_name="OA",
        roles=frozenset(),
        scopes=frozenset({Scope.DOCUMENTS}),
    )
    blobs = blob_store_from_settings(settings)
    pdf = make_pdf()
    definition = RouteDefinition(
        stages=[
            StageSpec(
                steps=[
                    StepSpec(
                        kind=StepKind.INFORMATION, assignee=Assignee(official_id=org.members["official"].official_id)
                    ),
                    StepSpec(kind=StepKind.INFORMATION, assignee=Assignee(department_id=org.department_id)),
                ]
            )
        ]
    )
    with db.transaction() as session:
        for n in range(DOCUMENTS):
            made = intake.from_upload(
                session,
                actor=system,
                blobs=blobs,
                upload=uploaded(pdf),
                title=f"催办 {n}",
                kind=Kind.NOTICE,
                direction=Direction.OUTGOING,
            )
            starting.start(session, actor=system, document_id=made.id, definition=definition, today=opened)


def _events(db: Database, kind: str) -> list[str]:
    with db.transaction() as session:
        return list(session.scalars(select(OutboxEvent.subject).where(OutboxEvent.type == kind)))


def _race(job, database: Database, today: date, workers: int = 4) -> list[int]:  # type: ignore[no-untyped-def]
    done: list[int] = []
    barrier = threading.Barrier(workers)

    def work() -> None:
        barrier.wait()
        while (count := job(database, today=today, batch=7)) > 0:
            done.append(count)

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return done


def test_reminders_and_escalations_happen_exactly_once_with_four_workers(
    world: World, db: Database, db_settings: Settings
) -> None:
    working = calendar.WorkingCalendar()
    opened = date(2026, 11, 16)
    _seed(world, db, db_settings, opened)
    due = working.add_working_days(opened, 2)
    the_day_before = due - timedelta(days=1)

    assert sum(_race(sweeps.remind, db, opened)) == 0, "nothing is due within a working day yet"
    assert sum(_race(sweeps.remind, db, the_day_before)) == 2 * DOCUMENTS
    reminded = _events(db, "step.due_soon")
    assert len(reminded) == len(set(reminded)) == 2 * DOCUMENTS
    assert sum(_race(sweeps.remind, db, due)) == 0, "a step is reminded once"

    assert sum(_race(sweeps.escalate, db, due)) == 0, "due today is not overdue yet"
    after = due + timedelta(days=1)
    assert sum(_race(sweeps.escalate, db, after)) == 2 * DOCUMENTS
    escalated = _events(db, "step.overdue")
    assert len(escalated) == len(set(escalated)) == 2 * DOCUMENTS
    assert sum(_race(sweeps.escalate, db, after + timedelta(days=3))) == 0

    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StepAlert)) == 0
        supervisors = session.scalars(select(OutboxEvent.payload).where(OutboxEvent.type == "step.overdue")).all()
    leader = world.orgs["A"].members["leader"].official_id
    assert all(p["supervisors"] == [leader] for p in supervisors), "the department's leader supervises"


def test_a_step_left_overdue_is_escalated_at_each_point_of_its_schedule_once_with_two_workers(
    world: World, db: Database, db_settings: Settings
) -> None:
    working = calendar.WorkingCalendar()
    opened = date(2026, 11, 16)
    _seed(world, db, db_settings, opened)
    due = working.add_working_days(opened, 2)
    schedule = sweeps.Schedule(notices=3, every=2)

    def escalate(database: Database, *, today: date, batch: int) -> int:
        return sweeps.escalate(database, today=today, batch=batch, schedule=schedule)

    with db.transaction() as session:
        closed = session.scalars(select(Step.id).limit(3)).all()
    first = due + timedelta(days=1)
    points = [first, working.add_working_days(first, 2)]
    points.append(working.add_working_days(points[-1], 2))
    sent: list[int] = []
    day = due
    while day <= points[-1] + timedelta(days=10):
        sent.append(sum(_race(escalate, db, day, workers=2)))
        if day == points[0]:
            with db.transaction() as session:
                session.execute(update(Step).where(Step.id.in_(closed)).values(state=StepState.DONE.value))
        day += timedelta(days=1)
    by_day = {due + timedelta(days=n): count for n, count in enumerate(sent) if count}
    open_steps = 2 * DOCUMENTS - len(closed)
    # A closed step's next alert is taken when it falls due, and dropped: no event, no further alert.
    assert by_day == {points[0]: 2 * DOCUMENTS, points[1]: 2 * DOCUMENTS, points[2]: open_steps}, by_day
    escalated = _events(db, "step.overdue")
    assert len(escalated) == 2 * DOCUMENTS + 2 * open_steps, "each schedule point once, and none after a step closed"
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(StepAlert).where(StepAlert.kind == "overdue")) == 0


def _system(world: World) -> Actor:
    return Actor(
        organisation_id=world.orgs["A"].id,
        official_id=None,
        system_name="OA",
        roles=frozenset(),
        scopes=frozenset({Scope.DOCUMENTS}),
    )


def test_payloads_deliveries_and_closed_steps(world: World, db: Database, db_settings: Settings) -> None:
    """One route with a step for an official, one for a department without a leader and one for a role,
    in parallel; another document whose step closes before it falls due. A subscription to ``step.*``
    receives every alert, one to ``document.*`` none. Each payload is the step's, and the supervisors are
    the department's leaders, or the organisation's when the department has none or a role is assigned."""
    org = world.orgs["A"]
    operator = Actor.operator(org.id)
    with db.transaction() as session:
        archive = identities.create_department(session, actor=operator, name="档案处")
        second = identities.create_department(session, actor=operator, name="法规处")
        second_leader = identities.create_official(
            session, actor=operator, department_id=second.id, name="法规处长", roles=(Role.LEADER,)
        ).id
        cipher = SecretCipher.derive(b"sweep test")
        steps_hook = webhooks.create_subscription(
            session,
            actor=Actor.operator(org.id),
            url="http://127.0.0.1:9/steps",
            event_types=["step.*"],
            cipher=cipher,
            allow_private=True,
        ).subscription.id
        webhooks.create_subscription(
            session,
            actor=Actor.operator(org.id),
            url="http://127.0.0.1:9/docs",
            event_types=["document.*"],
            cipher=cipher,
            allow_private=True,
        )
    opened = date(2026, 11, 16)
    assignees = [
        Assignee(official_id=org.members["official"].official_id),
        Assignee(department_id=archive.id),
        Assignee(role=Role.CLERK),
    ]
    definition = RouteDefinition(
        stages=[StageSpec(steps=[StepSpec(kind=StepKind.COMMENT, assignee=a) for a in assignees])]
    )
    blobs = blob_store_from_settings(db_settings)
    with db.transaction() as session:
        documents = [
            intake.from_upload(
                session,
                actor=_system(world),
                blobs=blobs,
                upload=uploaded(make_pdf()),
                title=title,
                kind=Kind.NOTICE,
                direction=Direction.OUTGOING,
            ).id
            for title in ("征求意见", "已办结")
        ]
        for document_id in documents:
            starting.start(session, actor=_system(world), document_id=document_id, definition=definition, today=opened)
        closed = session.scalars(select(Step).where(Step.document_id == documents[1])).all()
        for step in closed:
            step.state = StepState.DONE.value
    with db.transaction() as session:
        open_steps = {s.id: s for s in session.scalars(select(Step).where(Step.document_id == documents[0]))}

    overdue = calendar.WorkingCalendar().add_working_days(opened, 5) + timedelta(days=1)
    assert sweeps.remind(db, today=overdue) == 6, "every alert that fell due is taken, the closed steps' too"
    assert sweeps.escalate(db, today=overdue) == 6
    assert sweeps.remind(db, today=overdue) == sweeps.escalate(db, today=overdue) == 0

    leaders = {org.members["leader"].official_id, second_leader}
    expected_supervisors = {
        assignees[0].official_id: [org.members["leader"].official_id],
        archive.id: sorted(leaders),
        Role.CLERK.value: sorted(leaders),
    }
    with db.transaction() as session:
        events = session.scalars(
            select(OutboxEvent).where(OutboxEvent.type.in_(["step.due_soon", "step.overdue"]))
        ).all()
        delivered = session.execute(
            select(WebhookDelivery.subscription_id, WebhookDelivery.event_id).where(
                WebhookDelivery.event_id.in_([e.id for e in events])
            )
        ).all()
    assert sorted((e.type, e.subject) for e in events) == sorted(
        (t, f"step:{i}") for t in ("step.due_soon", "step.overdue") for i in open_steps
    ), "one event of each kind per open step, none for the closed ones"
    for event in events:
        step = open_steps[event.subject.removeprefix("step:")]
        assert event.organisation_id == org.id
        expected = {
            "step_id": step.id,
            "document_id": step.document_id,
            "kind": "comment",
            "due_on": step.due_on.isoformat(),
            "official_id": step.assignee_official_id,
            "department_id": step.assignee_department_id,
            "role": step.assignee_role,
        }
        if event.type == "step.overdue":
            who = step.assignee_official_id or step.assignee_department_id or step.assignee_role
            expected["supervisors"] = expected_supervisors[who]
            event.payload["supervisors"] = sorted(event.payload["supervisors"])
        assert event.payload == expected
    assert sorted(delivered) == sorted((steps_hook, e.id) for e in events), "step.* receives each, document.* none"
