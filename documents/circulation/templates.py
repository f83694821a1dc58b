"""Route templates: named, versioned definitions an organisation reuses. Changing one makes a new version;
routes already started keep the definition they started with."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from esign import audit
from esign.identity import Actor
from esign.ids import new_id
from esign.scoped import get_scoped

from ..records import Direction
from .model import RouteDefinition, RouteTemplate
from .starting import check_assignees


def save(
    session: Session, *, actor: Actor, name: str, direction: Direction, definition: RouteDefinition
) -> RouteTemplate:
    """A new version of the template ``name`` (version 1 when it is new)."""
    actor.require_admin()
    for stage in definition.stages:
        check_assignees(session, actor.organisation_id, stage)
    latest = session.scalar(
        select(func.max(RouteTemplate.version)).where(
            RouteTemplate.organisation_id == actor.organisation_id, RouteTemplate.name == name
        )
    )
    template = RouteTemplate(
        id=new_id(),
        organisation_id=actor.organisation_id,
        name=name,
        version=(latest or 0) + 1,
        direction=direction.value,
        definition=definition.model_dump(mode="json"),
        created_by=actor.label,
    )
    session.add(template)
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="route_template.saved",
        subject=f"route_template:{template.id}",
        chain=actor.organisation_id,
        payload={"name": name, "version": template.version},
    )
    return template


def get(session: Session, *, actor: Actor, template_id: str) -> RouteTemplate:
    return get_scoped(session, RouteTemplate, scope=actor, id=template_id, what="route template")


def listing(session: Session, *, actor: Actor, include_retired: bool = False) -> Sequence[RouteTemplate]:
    query = select(RouteTemplate).where(RouteTemplate.organisation_id == actor.organisation_id)
    if not include_retired:
        query = query.where(RouteTemplate.retired.is_(False))
    return session.scalars(query.order_by(RouteTemplate.name, RouteTemplate.version)).all()


def retire(session: Session, *, actor: Actor, template_id: str) -> RouteTemplate:
    actor.require_admin()
    template = get(session, actor=actor, template_id=template_id)
    template.retired = True
    audit.append(
        session,
        actor=actor,
        action="route_template.retired",
        subject=f"route_template:{template.id}",
        chain=actor.organisation_id,
        payload={"name": template.name, "version": template.version},
    )
    return template
