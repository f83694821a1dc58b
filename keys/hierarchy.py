"""Which body is above which: an organisation's parent and its level in the administrative hierarchy.

A superior body oversees its subordinates' overdue work and figures (``documents.circulation.supervision``),
never their documents' content unless they were sent to it. The hierarchy is the deployment's to set (the
operator, through ``esign org place``), since a body cannot claim authority over another by itself.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from sqlalchemy import CTE, Select, literal, or_, select
from sqlalchemy.orm import Session, aliased

from esign import audit
from esign.errors import InvalidInput
from esign.identity import Actor

from .identities import Organisation, get_organisation

MAX_DEPTH = 8
"""省 → 市 → 县 → 乡镇 with room for the bodies in between; a deeper chain is a mistake, and a cycle one too."""


class Level(enum.StrEnum):
    PROVINCE = "province"
    """省级"""
    CITY = "city"
    """市级"""
    COUNTY = "county"
    """县级 (and 区)"""
    TOWNSHIP = "township"
    """乡镇级 (and 街道)"""


def place(
    session: Session, *, actor: Actor, organisation_id: str, parent_id: str | None, level: Level | None
) -> Organisation:
    """Put the organisation under ``parent_id`` (None: at the top) at ``level``. A parent that is the
    organisation itself or one of its subordinates would make a cycle, and is refused."""
    org = get_organisation(session, organisation_id)
    if parent_id is not None:
        parent = get_organisation(session, parent_id)
        if parent.id == org.id or parent.id in subordinates(session, org.id):
            raise InvalidInput(f"{parent.name} is {org.name} or below it: a body cannot be placed under itself")
        if len(_chain_above(session, parent)) >= MAX_DEPTH:
            raise InvalidInput(f"{parent.name} is already {MAX_DEPTH} levels down")
    org.parent_id = parent_id
    org.level = level.value if level else None
    audit.append(
        session,
        actor=actor,
        action="organisation.placed",
        subject=f"organisation:{org.id}",
        chain=org.id,
        payload={"parent_id": parent_id, "level": org.level},
    )
    return org


def _chain_above(session: Session, org: Organisation) -> list[str]:
    chain: list[str] = []
    while org.parent_id is not None and len(chain) <= MAX_DEPTH:
        chain.append(org.parent_id)
        org = get_organisation(session, org.parent_id)
    return chain


def _tree(organisation_id: str, *, including: bool) -> CTE:
    """A recursive query of the organisations below this one (and itself, ``including``) and their depth, each
    level found by ``ix_organisations_parent_id``, never deeper than ``MAX_DEPTH``."""
    top = Organisation.id == organisation_id if including else Organisation.parent_id == organisation_id
    tree = select(Organisation.id, literal(1).label("depth")).where(top).cte("tree", recursive=True)
    below = aliased(Organisation)
    return tree.union_all(
        select(below.id, tree.c.depth + 1).where(below.parent_id == tree.c.id, tree.c.depth < MAX_DEPTH)
    )


def subordinates(session: Session, organisation_id: str) -> list[str]:
    """Every organisation below this one, at any depth, level by level (one recursive query)."""
    tree = _tree(organisation_id, including=False)
    return list(session.scalars(select(tree.c.id).order_by(tree.c.depth)).all())


def scope(organisation_id: str) -> Select[tuple[str]]:
    """The ids of this organisation and every one below it, as a query to nest in another: the database
    walks the tree where it uses it, and no list of ids travels there and back."""
    tree = _tree(organisation_id, including=True)
    return select(tree.c.id)


MAX_ADDRESSEES = 200
"""Organisations a dispatch form lists at once; the directory of a province holds a hundred thousand."""


def addressees(session: Session, organisation_id: str, *, words: Sequence[str] = ()) -> Sequence[Organisation]:
    """Whom a dispatch of this organisation may be addressed to, as a form lists them: with ``words``, the active
    organisations whose names hold every word; without, its neighbourhood in the hierarchy (its superior, the
    bodies beside it and below it), or, for a body placed nowhere, the directory's first. At most
    :data:`MAX_ADDRESSEES`, by name, never itself."""
    query = select(Organisation).where(Organisation.disabled.is_(False), Organisation.id != organisation_id)
    if words:
        for word in words:
            query = query.where(Organisation.name.contains(word, autoescape=True))
    else:
        own = get_organisation(session, organisation_id)
        near = [Organisation.parent_id == organisation_id]
        if own.parent_id is not None:
            near += [Organisation.id == own.parent_id, Organisation.parent_id == own.parent_id]
        placed = own.parent_id is not None or session.scalar(
            select(Organisation.id).where(Organisation.parent_id == organisation_id).limit(1)
        )
        if placed:
            query = query.where(or_(*near))
    return session.scalars(query.order_by(Organisation.name).limit(MAX_ADDRESSEES)).all()
