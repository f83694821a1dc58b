"""Reminders and escalations: each exactly once, even with four workers sweeping at the same time."""

from __future__ import annotations

import threading
from datetime import date, timedelta

from sqlalchemy import select

from documents import intake
from documents.circulation import calendar, flows, sweeps
from documents.circulation.model import Assignee, RouteDefinition, StageSpec, Step, StepKind, StepSpec
from documents.records import Direction, Kind
from esign.blobs import blob_store_from_settings
from esign.db import Database
from esign.outbox import OutboxEvent
from esign.settings import Settings
from esign.trust import TrustSettings
from keys.actor import Actor, Scope
from tests.conftest import make_pdf
from tests.world import World

DOCUMENTS = 40


def _seed(world: World, db: Database, settings: Settings, opened: date) -> None:
    """40 documents, each with a route of two parallel information steps (due two working days later)."""
    org = world.orgs["A"]
    system = Actor(organisation_id=org.id, official_id=None, system_name="OA", roles=frozenset(), scopes=frozenset({Scope.DOCUMENTS}))
    blobs = blob_store_from_settings(settings)
    pdf = make_pdf()
    definition = RouteDefinition(stages=[StageSpec(steps=[
        StepSpec(kind=StepKind.INFORMATION, assignee=Assignee(official_id=org.members["official"].official_id)),
        StepSpec(kind=StepKind.INFORMATION, assignee=Assignee(department_id=org.department_id)),
    ])])
    with db.transaction() as session:
        for n in range(DOCUMENTS):
            made = intake.from_upload(session, actor=system, blobs=blobs, trust=TrustSettings(), data=pdf, title=f"催办 {n}",
                                      kind=Kind.NOTICE, direction=Direction.OUTGOING)
            flows.start(session, actor=system, document_id=made.document.id, definition=definition, today=opened)


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


def test_reminders_and_escalations_happen_exactly_once_with_four_workers(world: World, db: Database, db_settings: Settings) -> None:
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
        steps = session.scalars(select(Step)).all()
        assert all(s.reminded_at is not None and s.escalated_at is not None for s in steps)
        supervisors = session.scalars(select(OutboxEvent.payload).where(OutboxEvent.type == "step.overdue")).all()
    leader = world.orgs["A"].members["leader"].official_id
    assert all(leader in p["supervisors"] for p in supervisors), "the department's leader supervises"
