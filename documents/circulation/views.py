"""Steps as people read them: with their document's title, number, kind and urgency, the stage's name and the
names of whoever they are assigned to, looked up for a whole page at once (four queries, whatever its size)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, defer

from esign.db import among
from keys import identities
from keys.identities import Department, Official

from ..records import Document
from .model import Route, Step
from .register import Sender, senders_of


@dataclass(frozen=True)
class StepView:
    step: Step
    document: Document
    sender: Sender | None
    stage_name: str | None
    assignee_official_name: str | None
    assignee_department_name: str | None


def describe(session: Session, steps: Sequence[Step]) -> list[StepView]:
    """One view per step, in order. The steps were read within the caller's organisation, so everything looked
    up here is theirs."""
    if not steps:
        return []
    wanted = among(session, Document.id, {s.document_id for s in steps})
    # A view shows the document's title, number and the like, never its structured content or layout: those
    # JSON columns were a third of the inbox's database time, read and parsed for 200 documents per view.
    lean = select(Document).options(defer(Document.content), defer(Document.layout)).where(wanted)
    documents = {d.id: d for d in session.scalars(lean)}
    definitions: dict[str, dict[str, Any]] = dict(
        session.execute(
            select(Route.id, Route.definition).where(among(session, Route.id, {s.route_id for s in steps}))
        ).all()
    )
    officials = identities.names(session, Official, {s.assignee_official_id for s in steps if s.assignee_official_id})
    departments = identities.names(
        session, Department, {s.assignee_department_id for s in steps if s.assignee_department_id}
    )
    senders = senders_of(session, list(documents))
    # The definitions were validated when the routes started; only the stages' names are read here.
    stage_names = {
        route_id: [stage.get("name") for stage in definition["stages"]] for route_id, definition in definitions.items()
    }
    views = []
    for step in steps:
        names = stage_names[step.route_id]
        views.append(
            StepView(
                step=step,
                document=documents[step.document_id],
                sender=senders.get(step.document_id),
                stage_name=names[step.stage] if step.stage < len(names) else None,
                assignee_official_name=officials.get(step.assignee_official_id or ""),
                assignee_department_name=departments.get(step.assignee_department_id or ""),
            )
        )
    return views
