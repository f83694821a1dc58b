"""The demo organisation ``esign init`` creates for the embedded default: departments, officials in every
role, each with a credential, and the organisation's seal. The PINs are public (README) — demo only."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from esign.filemodes import write_private
from esign.identity import Actor, Role
from esign.settings import Settings

from . import credentials, identities, passwords, tokens, uscc
from .authorities import Pki
from .credentials import Purpose
from .identities import Organisation

DEMO_PIN = "123456"


@dataclass(frozen=True)
class DemoOrganisation:
    name: str
    short_name: str
    uscc: str
    departments: tuple[str, ...]
    officials: tuple[tuple[str, str, tuple[Role, ...]], ...]
    """(name, department, roles)"""
    mail_domain: str = "example.gov.cn"
    """Each official's e-mail address is their login name at this domain (notifications, when SMTP is set)."""


DEMO = (
    DemoOrganisation(
        name="示例市人民政府办公室",
        short_name="示府办",
        uscc=uscc.complete("11440100MB0000001"),
        departments=("秘书处", "综合处", "法规处"),
        officials=(
            ("张伟", "秘书处", (Role.ADMIN, Role.OFFICIAL)),
            ("王芳", "秘书处", (Role.CLERK, Role.OFFICIAL)),
            ("李强", "综合处", (Role.OFFICIAL,)),
            ("刘洋", "综合处", (Role.LEADER, Role.OFFICIAL)),
            ("陈静", "法规处", (Role.OFFICIAL,)),
            ("赵敏", "秘书处", (Role.SEAL_CUSTODIAN, Role.OFFICIAL)),
            ("孙磊", "秘书处", (Role.LEADER, Role.OFFICIAL)),
        ),
        mail_domain="city.example.gov.cn",
    ),
    DemoOrganisation(
        name="示例县人民政府",
        short_name="示县政",
        uscc=uscc.complete("11440183MB0000002"),
        departments=("办公室", "发展改革局"),
        officials=(
            ("周杰", "办公室", (Role.ADMIN, Role.CLERK, Role.OFFICIAL)),
            ("吴倩", "发展改革局", (Role.LEADER, Role.OFFICIAL)),
            ("郑浩", "办公室", (Role.SEAL_CUSTODIAN, Role.OFFICIAL)),
        ),
        mail_domain="county.example.gov.cn",
    ),
)

LOGINS = {
    "张伟": "zhangwei",
    "王芳": "wangfang",
    "李强": "liqiang",
    "刘洋": "liuyang",
    "陈静": "chenjing",
    "赵敏": "zhaomin",
    "孙磊": "sunlei",
    "周杰": "zhoujie",
    "吴倩": "wuqian",
    "郑浩": "zhenghao",
}
"""Each demo official's login name for the sign-in page."""


@dataclass(frozen=True)
class DemoToken:
    organisation: str
    official: str
    roles: tuple[str, ...]
    token: str
    login: str = ""
    password: str = ""
    """A random password made for this official (the demo has no administrator to send invitations yet)."""


def ensure(session: Session, *, pki: Pki, settings: Settings) -> list[DemoToken]:
    """Create what is missing of the demo data; tokens only for organisations created now."""
    issued: list[DemoToken] = []
    for demo in DEMO:
        if session.scalar(select(Organisation.id).where(Organisation.uscc == demo.uscc)):
            continue
        org = identities.create_organisation(
            session, actor=Actor.operator(), name=demo.name, short_name=demo.short_name, uscc_code=demo.uscc
        )
        operator = Actor.operator(org.id)
        departments = {
            name: identities.create_department(session, actor=operator, name=name) for name in demo.departments
        }
        for name, department, roles in demo.officials:
            official = identities.create_official(
                session,
                actor=operator,
                department_id=departments[department].id,
                name=name,
                roles=roles,
                email=f"{LOGINS[name]}@{demo.mail_domain}",
            )
            holder = Actor(
                organisation_id=org.id,
                official_id=official.id,
                system_name=None,
                roles=official.role_set,
                scopes=operator.scopes,
            )
            credentials.enrol(
                session, actor=holder, pki=pki, settings=settings, purpose=Purpose.SIGNATURE, pin=DEMO_PIN
            )
            if Role.SEAL_CUSTODIAN in roles:
                credentials.enrol(session, actor=holder, pki=pki, settings=settings, purpose=Purpose.SEAL, pin=DEMO_PIN)
            token = tokens.create_for_official(session, actor=operator, official_id=official.id)
            password = secrets.token_urlsafe(12)
            passwords.set_demo_password(
                session, actor=operator, official=official, login=LOGINS[name], password=password
            )
            role_names = tuple(r.value for r in roles)
            issued.append(DemoToken(org.name, official.name, role_names, token.token, LOGINS[name], password))
    return issued


def write_tokens(path: Path, issued: list[DemoToken]) -> None:
    """One line per official: token, organisation, official, roles (tab-separated). Bearer tokens, so the
    file is 0600 before anything is written to it."""
    lines = (f"{t.token}\t{t.organisation}\t{t.official}\t{','.join(t.roles)}\n" for t in issued)
    write_private(path, "".join(lines).encode())


def write_passwords(path: Path, issued: list[DemoToken]) -> None:
    """One line per official: login name, password, organisation, official (tab-separated); 0600 like the tokens."""
    lines = (f"{t.login}\t{t.password}\t{t.organisation}\t{t.official}\n" for t in issued)
    write_private(path, "".join(lines).encode())
