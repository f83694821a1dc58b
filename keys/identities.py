"""Organisations, their departments and their officials, with the roles officials hold."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    ForeignKey,
    Index,
    String,
    UniqueConstraint,
    and_,
    cast,
    literal_column,
    select,
    text,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base, among
from esign.errors import Conflict, InvalidInput, NotFound
from esign.identity import Actor, Role
from esign.ids import new_id, now
from esign.scoped import get_scoped
from esign.sign import PadesLevel

from . import uscc


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    short_name: Mapped[str] = mapped_column(String(50), doc="机关代字, the prefix of document numbers")
    uscc: Mapped[str] = mapped_column(String(18), unique=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)
    signature_level: Mapped[str] = mapped_column(
        String(6),
        default=PadesLevel.B_LTA.value,
        server_default=PadesLevel.B_LTA.value,
        doc="PAdES level of the signatures the service makes for it when none is asked for: B-LTA, B-LT or B-T",
    )
    parent_id: Mapped[str | None] = mapped_column(
        ForeignKey("organisations.id"), index=True, doc="the superior body, which oversees its overdue work"
    )
    level: Mapped[str | None] = mapped_column(String(10), doc="a keys.hierarchy.Level: 省, 市, 县 or 乡镇")


class Department(Base):
    __tablename__ = "departments"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)


def _role_pattern(role: Role) -> str:
    """A LIKE pattern for officials holding ``role``: roles are a JSON list of role names (validated), so the
    quoted name in its text is exactly that role."""
    return f"'%\"{role.value}\"%'"


_LEADER_PATTERN = _role_pattern(Role.LEADER)


class Official(Base):
    __tablename__ = "officials"
    __table_args__ = (
        Index(
            "ix_officials_leaders",
            "organisation_id",
            "department_id",
            postgresql_where=text(f"CAST(roles AS VARCHAR) LIKE {_LEADER_PATTERN} AND disabled IS false"),
            sqlite_where=text(f"CAST(roles AS VARCHAR) LIKE {_LEADER_PATTERN} AND disabled IS 0"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    department_id: Mapped[str] = mapped_column(ForeignKey("departments.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254), doc="where notifications are e-mailed, if anywhere")
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=now)

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles)


_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,180}\.[A-Za-z]{2,}")
"""What an official's e-mail address looks like: plain ASCII ``local@domain.tld``, nothing a header could hide."""


def active_holder(role: Role) -> ColumnElement[bool]:
    """Officials who hold ``role`` and are not disabled, found without decoding anyone's roles."""
    return and_(cast(Official.roles, String).like(literal_column(_role_pattern(role))), Official.disabled.is_(False))


def active_leader() -> ColumnElement[bool]:
    """Officials who hold the leader role and are not disabled: the predicate of ``ix_officials_leaders``,
    written with the same literal, so that the database finds an organisation's or a department's leaders
    in that index."""
    return active_holder(Role.LEADER)


def _audit(session: Session, actor: Actor, action: str, subject: str, organisation_id: str, **payload: Any) -> None:
    audit.append(session, actor=actor, action=action, subject=subject, payload=payload, chain=organisation_id)


# --- organisations (operator level: the CLI creates them) -----------------------------------------


def create_organisation(session: Session, *, actor: Actor, name: str, short_name: str, uscc_code: str) -> Organisation:
    """A new organisation; only the operator creates them (``Actor.operator()``)."""
    code = uscc_code.strip().upper()
    if (why := uscc.problem(code)) is not None:
        raise InvalidInput(f"unified social credit code {code!r}: {why}")
    if not name.strip() or not short_name.strip():
        raise InvalidInput("an organisation needs a name and a short name")
    if session.scalar(select(Organisation.id).where(Organisation.uscc == code)):
        raise Conflict(f"an organisation with unified social credit code {code} exists already")
    org = Organisation(id=new_id(), name=name.strip(), short_name=short_name.strip(), uscc=code)
    session.add(org)
    session.flush()
    _audit(session, actor, "organisation.created", f"organisation:{org.id}", org.id, name=org.name, uscc=code)
    return org


def get_organisation(session: Session, organisation_id: str) -> Organisation:
    org = session.get(Organisation, organisation_id)
    if org is None:
        raise NotFound(f"no organisation {organisation_id}")
    return org


def names(session: Session, model: type[Organisation | Department | Official], ids: Iterable[str]) -> dict[str, str]:
    """The names of the organisations, departments or officials ``ids``, by id, in one query; an id that names
    none is left out. For showing who is who beside ids already read within a scope."""
    wanted = set(ids)
    if not wanted:
        return {}
    return {i: n for i, n in session.execute(select(model.id, model.name).where(among(session, model.id, wanted)))}


def list_organisations(session: Session) -> Sequence[Organisation]:
    return session.scalars(select(Organisation).order_by(Organisation.created_at)).all()


def directory(session: Session) -> Sequence[Organisation]:
    """Every active organisation: whom a document can be dispatched to (names are public, like a phone book)."""
    return session.scalars(
        select(Organisation).where(Organisation.disabled.is_(False)).order_by(Organisation.name)
    ).all()


def set_organisation_disabled(session: Session, *, actor: Actor, organisation_id: str, disabled: bool) -> Organisation:
    org = get_organisation(session, organisation_id)
    org.disabled = disabled
    _audit(
        session,
        actor,
        "organisation.disabled" if disabled else "organisation.enabled",
        f"organisation:{org.id}",
        org.id,
    )
    return org


def set_signature_level(session: Session, *, actor: Actor, organisation_id: str, level: str) -> Organisation:
    """The organisation's default PAdES level for the signatures the service makes. B-T at least: a signature
    without a time-stamp cannot be proven once its certificate is revoked or expired (ETSI EN 319 102-1 §5.5)."""
    if actor.organisation_id != organisation_id:
        raise NotFound(f"no organisation {organisation_id}")
    actor.require_admin()
    chosen = service_level(level)
    org = get_organisation(session, organisation_id)
    org.signature_level = chosen.value
    _audit(session, actor, "organisation.signature_level", f"organisation:{org.id}", org.id, level=chosen.value)
    return org


def service_level(level: str | PadesLevel) -> PadesLevel:
    """``level`` if the service may sign at it: B-T, B-LT or B-LTA."""
    try:
        chosen = PadesLevel(level)
    except ValueError:
        raise InvalidInput(f"unknown PAdES level {level!r}; use B-T, B-LT or B-LTA") from None
    if chosen.rank < PadesLevel.B_T.rank:
        raise InvalidInput(
            f"the service signs at B-T at least, not {chosen.value}: without a time-stamp a signature cannot be "
            "proven once its certificate expires or is revoked"
        )
    return chosen


# --- departments and officials (scoped by the acting identity's organisation) --------------------


def create_department(session: Session, *, actor: Actor, name: str) -> Department:
    actor.require_admin()
    organisation_id = get_organisation(session, actor.organisation_id).id
    name = name.strip()
    if not name:
        raise InvalidInput("a department needs a name")
    exists = select(Department.id).where(Department.organisation_id == organisation_id, Department.name == name)
    if session.scalar(exists):
        raise Conflict(f"department {name!r} exists already")
    dept = Department(id=new_id(), organisation_id=organisation_id, name=name)
    session.add(dept)
    session.flush()
    _audit(session, actor, "department.created", f"department:{dept.id}", organisation_id, name=name)
    return dept


def get_department(session: Session, *, organisation_id: str, department_id: str) -> Department:
    return get_scoped(session, Department, scope=organisation_id, id=department_id, what="department")


def list_departments(session: Session, *, actor: Actor, enabled_only: bool = False) -> Sequence[Department]:
    """``enabled_only``: those work can still be assigned to (``circulation.starting.check_assignee``)."""
    query = select(Department).where(Department.organisation_id == actor.organisation_id)
    if enabled_only:
        query = query.where(Department.disabled.is_(False))
    return session.scalars(query.order_by(Department.name)).all()


def set_department_disabled(session: Session, *, actor: Actor, department_id: str, disabled: bool) -> Department:
    actor.require_admin()
    dept = get_department(session, organisation_id=actor.organisation_id, department_id=department_id)
    dept.disabled = disabled
    action = "department.disabled" if disabled else "department.enabled"
    _audit(session, actor, action, f"department:{dept.id}", dept.organisation_id)
    return dept


def _enabled_admins(session: Session, organisation_id: str) -> int:
    """How many of the organisation's officials are enabled administrators; their rows stay locked until the
    transaction ends, so that two administrators cannot disable each other at once."""
    query = (
        select(Official.id)
        .where(Official.organisation_id == organisation_id, active_holder(Role.ADMIN))
        .with_for_update()
    )
    return len(session.scalars(query).all())


def _roles(roles: Sequence[str]) -> list[str]:
    try:
        return sorted({Role(r).value for r in roles})
    except ValueError:
        raise InvalidInput(f"roles must be among {', '.join(r.value for r in Role)}") from None


def create_official(
    session: Session,
    *,
    actor: Actor,
    department_id: str,
    name: str,
    roles: Sequence[str] = (Role.OFFICIAL,),
    email: str | None = None,
) -> Official:
    actor.require_admin()
    organisation_id = actor.organisation_id
    dept = get_department(session, organisation_id=organisation_id, department_id=department_id)
    if dept.disabled:
        raise InvalidInput(f"department {dept.name!r} is disabled")
    if not name.strip():
        raise InvalidInput("an official needs a name")
    if email is not None and not _EMAIL.fullmatch(email):
        raise InvalidInput(f"{email!r} is not an e-mail address")
    official = Official(
        id=new_id(),
        organisation_id=organisation_id,
        department_id=dept.id,
        name=name.strip(),
        roles=_roles(roles),
        email=email,
    )
    session.add(official)
    session.flush()
    _audit(
        session,
        actor,
        "official.created",
        f"official:{official.id}",
        organisation_id,
        name=official.name,
        roles=official.roles,
    )
    return official


def get_official(session: Session, *, organisation_id: str, official_id: str) -> Official:
    return get_scoped(session, Official, scope=organisation_id, id=official_id, what="official")


def list_officials(
    session: Session, *, actor: Actor, department_id: str | None = None, enabled_only: bool = False
) -> Sequence[Official]:
    """``enabled_only``: those work can still be assigned to (``circulation.starting.check_assignee``)."""
    query = select(Official).where(Official.organisation_id == actor.organisation_id)
    if department_id is not None:
        query = query.where(Official.department_id == department_id)
    if enabled_only:
        query = query.where(Official.disabled.is_(False))
    return session.scalars(query.order_by(Official.name)).all()


def set_official_disabled(session: Session, *, actor: Actor, official_id: str, disabled: bool) -> Official:
    """Disable or enable an official. Nobody disables themselves, and the organisation keeps at least one enabled
    administrator: either would leave it to the operator's command line to administer it again."""
    actor.require_admin()
    official = get_official(session, organisation_id=actor.organisation_id, official_id=official_id)
    if disabled and not official.disabled:
        if official.id == actor.official_id:
            raise Conflict("you cannot disable yourself: another administrator can")
        if Role.ADMIN in official.role_set and _enabled_admins(session, official.organisation_id) <= 1:
            raise Conflict(
                f"{official.name} is the organisation's last enabled administrator: add another administrator first"
            )
    official.disabled = disabled
    action = "official.disabled" if disabled else "official.enabled"
    _audit(session, actor, action, f"official:{official.id}", official.organisation_id)
    return official
