"""What an official has to do: their open steps, by due date, a page at a time.

A step is the official's when it is assigned to them, to their department, or to a role they hold in
their organisation. Each of these (one per role held) is one index range scan (partial indexes on open steps
ordered by due date) that stops after a page; the pages are merged, so the inbox stays fast however many
steps the service holds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Select, select, tuple_
from sqlalchemy.orm import Session

from esign.errors import Forbidden, InvalidInput
from esign.identity import Actor
from keys import identities

from .. import paging
from .model import Step, StepState

MAX_PAGE = 200


@dataclass(frozen=True)
class InboxPage:
    steps: list[Step]
    next_cursor: str | None


def inbox(session: Session, *, actor: Actor, limit: int = 50, cursor: str | None = None) -> InboxPage:
    if actor.official_id is None:
        raise Forbidden("an inbox belongs to an official")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE}")
    official = identities.get_official(session, organisation_id=actor.organisation_id, official_id=actor.official_id)
    open_steps = select(Step).where(Step.state == StepState.OPEN.value)
    if cursor is not None:
        open_steps = open_steps.where(
            tuple_(Step.due_on, Step.id) > tuple_(*paging.decode(cursor, date.fromisoformat, str))
        )
    queries: list[Select[Any]] = [
        open_steps.where(Step.assignee_official_id == official.id),
        open_steps.where(Step.assignee_official_id.is_(None), Step.assignee_department_id == official.department_id),
    ]
    # One query per role, not ``IN (roles)``: each reads its role's steps in due order and stops after a
    # page, where IN over two roles must read and sort every open step of both (a clerk's whole queue).
    for role in sorted(set(official.roles)):
        queries.append(
            open_steps.where(
                Step.organisation_id == official.organisation_id,
                Step.assignee_official_id.is_(None),
                Step.assignee_department_id.is_(None),
                Step.assignee_role == role,
            )
        )
    found: dict[str, Step] = {}
    for query in queries:
        for step in session.scalars(query.order_by(Step.due_on, Step.id).limit(limit + 1)):
            found[step.id] = step
    ordered = sorted(found.values(), key=lambda s: (s.due_on, s.id))
    page = ordered[:limit]
    return InboxPage(
        steps=page,
        next_cursor=paging.encode(page[-1].due_on.isoformat(), page[-1].id) if len(ordered) > limit else None,
    )
