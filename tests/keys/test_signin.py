"""Officials' passwords, invitations, lockout and sign-in sessions, through the services."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from esign.audit import AuditEvent
from esign.db import Database
from esign.errors import Conflict, Forbidden, Unauthenticated
from esign.identity import Actor, Role
from esign.ids import now
from esign.settings import Settings
from keys import identities, passwords, sessions, tokens, uscc
from keys.errors import AccountLocked, InvitationInvalid, PasswordRefused, SignInFailed
from keys.passwords import Invitation, OfficialLogin
from keys.sessions import WebSession

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class People:
    org_id: str
    admin: Actor
    official_id: str
    other_org_admin: Actor


@pytest.fixture
def settings(db_settings: Settings) -> Settings:
    return db_settings.model_copy(update={"signin_lockout_failures": 3, "signin_lockout_minutes": 10})


def _org(db: Database, name: str, code: str) -> tuple[str, Actor, str]:
    with db.transaction() as session:
        org = identities.create_organisation(
            session, actor=Actor.operator(), name=name, short_name=name[:4], uscc_code=uscc.complete(code)
        )
        operator = Actor.operator(org.id)
        dept = identities.create_department(session, actor=operator, name="办公室")
        admin = identities.create_official(
            session, actor=operator, department_id=dept.id, name="管理员", roles=(Role.ADMIN, Role.OFFICIAL)
        )
        official = identities.create_official(session, actor=operator, department_id=dept.id, name="李强")
        return org.id, passwords.official_actor(admin), official.id


@pytest.fixture
def people(db: Database) -> People:
    org_id, admin, official_id = _org(db, "示例单位", "11440100MB0000001")
    _, other_admin, _ = _org(db, "另一单位", "11440183MB0000002")
    return People(org_id=org_id, admin=admin, official_id=official_id, other_org_admin=other_admin)


def _invited(db: Database, settings: Settings, people: People, login: str | None = "liqiang") -> str:
    with db.transaction() as session:
        issued = passwords.invite(
            session, actor=people.admin, settings=settings, official_id=people.official_id, login=login
        )
    assert issued.url == f"{settings.public_url}/invitation/{issued.token}"
    return issued.token


def _with_password(db: Database, settings: Settings, people: People) -> None:
    token = _invited(db, settings, people)
    with db.transaction() as session:
        login = passwords.accept_invitation(
            session, token=token, password=PASSWORD, confirm=PASSWORD, settings=settings
        )
    assert login == "liqiang"


def _actions(db: Database, chain: str) -> list[str]:
    with db.transaction() as session:
        return list(
            session.scalars(select(AuditEvent.action).where(AuditEvent.chain == chain).order_by(AuditEvent.seq))
        )


def test_an_invitation_sets_the_password_once_and_only_its_hash_is_kept(
    db: Database, settings: Settings, people: People
) -> None:
    token = _invited(db, settings, people)
    with db.transaction() as session:
        view = passwords.show_invitation(session, token=token)
        assert (view.login, view.official_name, view.organisation_name) == ("liqiang", "李强", "示例单位")
        assert session.scalar(select(Invitation.token_hash)) != token
    with db.transaction() as session, pytest.raises(PasswordRefused) as refused:
        passwords.accept_invitation(session, token=token, password="short", confirm="short", settings=settings)
    assert refused.value.reason == "short"
    with db.transaction() as session:
        passwords.accept_invitation(session, token=token, password=PASSWORD, confirm=PASSWORD, settings=settings)
        stored = session.get_one(OfficialLogin, people.official_id).password_hash
        assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    with db.transaction() as session, pytest.raises(InvitationInvalid):
        passwords.accept_invitation(
            session, token=token, password="another one!", confirm="another one!", settings=settings
        )
    with db.transaction() as session:
        official = passwords.authenticate(session, login="LiQiang ", password=PASSWORD, settings=settings)
    assert official.id == people.official_id
    assert _actions(db, people.org_id)[-2:] == ["invitation.created", "password.set"]


def test_only_an_administrator_of_the_officials_organisation_invites(
    db: Database, settings: Settings, people: People
) -> None:
    with db.transaction() as session, pytest.raises(Forbidden):
        passwords.invite(
            session,
            actor=passwords.official_actor(session.get_one(identities.Official, people.official_id)),
            settings=settings,
            official_id=people.official_id,
            login="x",
        )
    with db.transaction() as session, pytest.raises(Exception, match="no official"):
        passwords.invite(
            session, actor=people.other_org_admin, settings=settings, official_id=people.official_id, login="x"
        )
    _invited(db, settings, people)
    with db.transaction() as session, pytest.raises(Conflict, match="taken"):
        passwords.invite(
            session, actor=people.admin, settings=settings, official_id=people.admin.require_official(), login="liqiang"
        )


def test_an_expired_invitation_is_refused(db: Database, settings: Settings, people: People) -> None:
    token = _invited(db, settings, people)
    with db.transaction() as session:
        session.execute(update(Invitation).values(expires_at=now() - timedelta(seconds=1)))
    with db.transaction() as session, pytest.raises(InvitationInvalid):
        passwords.show_invitation(session, token=token)


def test_wrong_passwords_lock_the_official_out_even_with_the_right_one(
    db: Database, settings: Settings, people: People
) -> None:
    _with_password(db, settings, people)
    for _ in range(settings.signin_lockout_failures - 1):
        with pytest.raises(SignInFailed), db.transaction() as session:
            passwords.authenticate(session, login="liqiang", password="wrong", settings=settings)
    with pytest.raises(AccountLocked), db.transaction() as session:
        passwords.authenticate(session, login="liqiang", password="wrong", settings=settings)
    with pytest.raises(AccountLocked), db.transaction() as session:
        passwords.authenticate(session, login="liqiang", password=PASSWORD, settings=settings)
    assert _actions(db, people.org_id)[-4:] == ["signin.failed", "signin.failed", "signin.locked", "signin.refused"]
    with db.transaction() as session:  # the lock runs out
        session.execute(update(OfficialLogin).values(locked_until=now() - timedelta(seconds=1)))
    with db.transaction() as session:
        assert passwords.authenticate(session, login="liqiang", password=PASSWORD, settings=settings).name == "李强"


def test_an_unknown_login_fails_like_a_wrong_password_and_is_audited(db: Database, settings: Settings) -> None:
    with pytest.raises(SignInFailed) as failed, db.transaction() as session:
        passwords.authenticate(session, login="nobody", password="x", settings=settings)
    assert failed.value.message == "wrong login name or password"
    assert _actions(db, "system")[-1] == "signin.failed"


def test_changing_the_password_needs_the_current_one(db: Database, settings: Settings, people: People) -> None:
    _with_password(db, settings, people)
    with db.transaction() as session:
        me = passwords.official_actor(session.get_one(identities.Official, people.official_id))
    with pytest.raises(SignInFailed), db.transaction() as session:
        passwords.change_password(
            session, actor=me, current="wrong", password="a new password", confirm="a new password", settings=settings
        )
    with db.transaction() as session:
        passwords.change_password(
            session, actor=me, current=PASSWORD, password="a new password", confirm="a new password", settings=settings
        )
    with db.transaction() as session:
        passwords.authenticate(session, login="liqiang", password="a new password", settings=settings)
    assert "password.changed" in _actions(db, people.org_id)


def _session(db: Database, people: People) -> str:
    with db.transaction() as session:
        official = session.get_one(identities.Official, people.official_id)
        return sessions.open_session(session, official=official, method="password").cookie


def test_a_session_is_the_same_actor_as_the_officials_token(db: Database, settings: Settings, people: People) -> None:
    cookie = _session(db, people)
    with db.transaction() as session:
        signed_in = sessions.authenticate(session, cookie, settings=settings)
        issued = tokens.create_for_official(
            session, actor=Actor.operator(people.org_id), official_id=people.official_id
        )
        by_token = tokens.authenticate(session, issued.token)
        assert session.scalar(select(WebSession.token_hash)) != cookie
    assert signed_in.actor == by_token.__class__(**{**by_token.__dict__, "token_id": None})
    assert (signed_in.official_name, signed_in.organisation_name) == ("李强", "示例单位")


@pytest.mark.parametrize("column", ["last_seen_at", "created_at"])
def test_a_session_ends_when_idle_or_too_old(db: Database, settings: Settings, people: People, column: str) -> None:
    cookie = _session(db, people)
    # idle: 31 minutes since the last request; absolute: 13 hours since sign-in while active a minute ago
    back = timedelta(minutes=31) if column == "last_seen_at" else timedelta(hours=13)
    with db.transaction() as session:
        record = session.scalars(select(WebSession)).one()
        setattr(record, column, getattr(record, column) - back)
        if column == "created_at":
            record.last_seen_at = record.last_seen_at - timedelta(minutes=1)
    with pytest.raises(Unauthenticated), db.transaction() as session:
        sessions.authenticate(session, cookie, settings=settings)
    with db.transaction() as session:
        assert session.scalars(select(WebSession)).one().ended_at is not None
    assert _actions(db, people.org_id)[-1] == "session.expired"


def test_signing_out_ends_the_session(db: Database, settings: Settings, people: People) -> None:
    cookie = _session(db, people)
    with db.transaction() as session:
        actor = sessions.authenticate(session, cookie, settings=settings).actor
        sessions.end_session(session, actor=actor, cookie=cookie)
    with pytest.raises(Unauthenticated), db.transaction() as session:
        sessions.authenticate(session, cookie, settings=settings)
    assert _actions(db, people.org_id)[-2:] == ["signin.succeeded", "signout"]


def test_a_password_change_ends_the_officials_other_sessions(db: Database, settings: Settings, people: People) -> None:
    mine, other = _session(db, people), _session(db, people)
    with db.transaction() as session:
        actor = sessions.authenticate(session, mine, settings=settings).actor
        assert sessions.end_other_sessions(session, actor=actor, cookie=mine) == 1
    with db.transaction() as session:
        sessions.authenticate(session, mine, settings=settings)
    with pytest.raises(Unauthenticated), db.transaction() as session:
        sessions.authenticate(session, other, settings=settings)
