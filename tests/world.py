"""Two organisations with departments, officials in every role, credentials and tokens, made through the
services (not HTTP) so API tests start from a known world quickly."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.orm import Session

from esign.db import Database
from esign.identity import Actor, Role, Scope
from esign.settings import Settings
from keys import authorities, credentials, identities, tokens, uscc
from keys.authorities import Pki
from keys.credentials import Purpose

PIN = "246810"


@dataclass
class Member:
    official_id: str
    token: str
    roles: tuple[Role, ...]
    credential_id: str | None = None
    seal_id: str | None = None

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Org:
    id: str
    name: str
    department_id: str
    members: dict[str, Member] = field(default_factory=dict)


@dataclass
class World:
    settings: Settings
    pki: Pki
    orgs: dict[str, Org]


def actor_for(organisation_id: str, official_id: str, roles: tuple[Role, ...]) -> Actor:
    return Actor(
        organisation_id=organisation_id,
        official_id=official_id,
        system_name=None,
        roles=frozenset(roles),
        scopes=frozenset(Scope),
    )


def build(database: Database, settings: Settings, *, enrol: bool = True) -> World:
    orgs: dict[str, Org] = {}
    with database.transaction() as session:
        pki, _ = authorities.ensure(session, settings)
        for key, name, first17 in (
            ("A", "甲市人民政府办公室", "11440100MB1000001"),
            ("B", "乙县人民政府", "11440183MB2000002"),
        ):
            orgs[key] = add_org(session, pki, settings, key, name, first17, enrol=enrol)
    return World(settings=settings, pki=pki, orgs=orgs)


def add_org(
    session: Session, pki: Pki, settings: Settings, key: str, name: str, first17: str, *, enrol: bool = True
) -> Org:
    """An organisation with one department, an official in every role with a token, and (``enrol``) keys."""
    org = identities.create_organisation(
        session, actor=Actor.operator(), name=name, short_name=key + "府办", uscc_code=uscc.complete(first17)
    )
    operator = Actor.operator(org.id)
    dept = identities.create_department(session, actor=operator, name="办公室")
    entry = Org(id=org.id, name=name, department_id=dept.id)
    for member, roles in (
        ("admin", (Role.ADMIN,)),
        ("official", (Role.OFFICIAL,)),
        ("leader", (Role.LEADER, Role.OFFICIAL)),
        ("custodian", (Role.SEAL_CUSTODIAN, Role.OFFICIAL)),
        ("clerk", (Role.CLERK,)),
    ):
        official = identities.create_official(
            session, actor=operator, department_id=dept.id, name=f"{key}-{member}", roles=roles
        )
        token = tokens.create_for_official(session, actor=operator, official_id=official.id)
        entry.members[member] = Member(official.id, token.token, roles)
        if enrol and member in ("official", "leader", "custodian"):
            holder = actor_for(org.id, official.id, roles)
            entry.members[member].credential_id = credentials.enrol(
                session, actor=holder, pki=pki, settings=settings, purpose=Purpose.SIGNATURE, pin=PIN
            ).id
            if member == "custodian":
                entry.members[member].seal_id = credentials.enrol(
                    session, actor=holder, pki=pki, settings=settings, purpose=Purpose.SEAL, pin=PIN
                ).id
    expired = tokens.create_for_official(
        session,
        actor=operator,
        official_id=entry.members["official"].official_id,
        lifetime=timedelta(seconds=-1),
    )
    entry.members["expired"] = Member(entry.members["official"].official_id, expired.token, (Role.OFFICIAL,))
    return entry
