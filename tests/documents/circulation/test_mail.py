"""Notification e-mail: with SMTP configured the worker's job delivers each notification once to an SMTP server
the test starts on a loopback port (recipient, Chinese subject and body), retries a failure later; without SMTP
settings there is no job and nothing is sent."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from documents.circulation import mail
from documents.circulation.notifications import Notification
from esign.db import Database
from esign.ids import now
from esign.settings import Settings
from keys.identities import Official
from tests.conftest import make_pdf
from tests.smtp import Sink, smtp_sink
from tests.world import World


@pytest.fixture
def sink() -> Iterator[Sink]:
    with smtp_sink() as running:
        yield running


def _assigned(api: TestClient, world: World, db: Database, title: str, address: str | None) -> str:
    """A document whose review step is assigned to A's official (e-mail ``address``); the document's id."""
    a = world.orgs["A"]
    official = a.members["official"].official_id
    with db.transaction() as session:
        session.execute(update(Official).where(Official.id == official).values(email=address))
    headers = a.members["clerk"].headers
    document = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "direction": "outgoing"},
        files={"file": ("d.pdf", make_pdf(text=title), "application/pdf")},
    ).json()["id"]
    route = {"stages": [{"name": "核稿", "steps": [{"kind": "review", "assignee": {"official_id": official}}]}]}
    assert api.post(f"/v1/documents/{document}/route", headers=headers, json={"definition": route}).status_code == 201
    return document


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_worker_emails_each_notification_once_when_smtp_is_configured(
    api: TestClient, world: World, db: Database, db_settings: Settings, sink: Sink
) -> None:
    document = _assigned(api, world, db, "关于邮件通知的函", "official@a.example.gov.cn")
    settings = db_settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": sink.port, "smtp_from": "esign@a.example.gov.cn"}
    )
    [job] = mail.jobs(settings)
    assert job(db) == 1
    [received] = sink.received
    assert received.recipients == ["official@a.example.gov.cn"]
    assert received.sender == "esign@a.example.gov.cn"
    assert received.message["Subject"] == "待办：关于邮件通知的函"
    body = received.message.get_body()
    assert body is not None
    text = body.get_content()
    assert "您有一项新的待办事项：《关于邮件通知的函》" in text and f"/documents/{document}" in text
    assert job(db) == 0 and len(sink.received) == 1, "sent once"
    with db.transaction() as session:
        [sent] = session.scalars(select(Notification)).all()
        assert sent.emailed_at is not None and sent.email_next_at is None and sent.email_attempts == 1


def test_no_smtp_settings_no_job_and_no_email(
    api: TestClient, world: World, db: Database, db_settings: Settings, sink: Sink
) -> None:
    _assigned(api, world, db, "不发邮件的函", "official@a.example.gov.cn")
    assert db_settings.smtp_host is None
    assert mail.jobs(db_settings) == []
    assert sink.received == []


def test_a_failed_delivery_is_retried_later_and_an_official_without_address_gets_none(
    api: TestClient, world: World, db: Database, sink: Sink
) -> None:
    _assigned(api, world, db, "服务器不可达的函", "official@a.example.gov.cn")
    down = mail.Smtp(host="127.0.0.1", port=_free_port(), sender="esign@a.example.gov.cn")
    assert mail.deliver_due(db, smtp=down) == 1
    with db.transaction() as session:
        [failed] = session.scalars(select(Notification)).all()
        assert failed.emailed_at is None and failed.email_attempts == 1 and failed.email_error
        assert failed.email_next_at is not None and failed.email_next_at > now()
    assert mail.deliver_due(db, smtp=down) == 0, "not before its backoff"
    with db.transaction() as session:
        session.execute(update(Notification).values(email_next_at=now() - timedelta(seconds=1)))
    up = mail.Smtp(host="127.0.0.1", port=sink.port, sender="esign@a.example.gov.cn")
    assert mail.deliver_due(db, smtp=up) == 1 and len(sink.received) == 1

    _assigned(api, world, db, "无邮箱的函", None)
    assert mail.deliver_due(db, smtp=up) == 0 and len(sink.received) == 1
    _assigned(api, world, db, "早已过时的函", "official@a.example.gov.cn")
    with db.transaction() as session:
        old = now() - mail.STALE - timedelta(minutes=1)
        session.execute(update(Notification).where(Notification.emailed_at.is_(None)).values(created_at=old))
    assert mail.deliver_due(db, smtp=up) == 0 and len(sink.received) == 1, "no backlog once SMTP is turned on"
    with db.transaction() as session:
        unsent = session.execute(
            select(Notification.email_next_at, Notification.email_error).where(Notification.emailed_at.is_(None))
        )
        assert sorted(unsent.all(), key=str) == [(None, "no e-mail address"), (None, "too old to e-mail")]


def test_an_administrator_gives_an_official_an_email_address(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    admin = a.members["admin"].headers
    body = {"name": "A-mail", "department_id": a.department_id, "email": "a-mail@a.example.gov.cn"}
    made = api.post("/v1/officials", headers=admin, json=body)
    assert made.status_code == 201 and made.json()["email"] == "a-mail@a.example.gov.cn", made.text
    for wrong in ("two@a.example.gov.cn, three@a.example.gov.cn", "x@y", "a\r\nBcc: z@a.example.gov.cn"):
        refused = api.post("/v1/officials", headers=admin, json=body | {"email": wrong})
        assert refused.status_code in (400, 422) and "e-mail" in refused.text, refused.text
