"""Notifications in a real browser against ``esign serve`` with SMTP configured (a sink the test starts): a
leader urges an overdue step on the supervision board; the assignee sees the bell's count, the notification and
the urge on the inbox item, marks them read; the board's figures count the urge; the e-mail reaches the sink
through the server's own worker. At 1280 and 390 pixels, axe-core clean, every request on the service's origin.

The data is made through the API: 王芳 routes a notice to 李强 for review, its deadline then moved into the past in
the database (the one thing the API cannot do).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from documents.circulation.calendar import today
from documents.circulation.model import Step
from esign.db import Database
from esign.settings import Settings
from tests.api.served import Served, served
from tests.smtp import Sink, smtp_sink
from tests.web.browser import DESKTOP, PHONE, Api, Session, demo_passwords

ROOT = Path(__file__).resolve().parents[2]
TITLE = "关于报送第四季度安全检查情况的通知"
URGE = "请今日内办结"


@pytest.fixture(scope="module")
def sink() -> Iterator[Sink]:
    with smtp_sink() as running:
        yield running


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database], sink: Sink
) -> Iterator[Served]:
    smtp = {
        "ESIGN_SMTP_HOST": "127.0.0.1",
        "ESIGN_SMTP_PORT": str(sink.port),
        "ESIGN_SMTP_FROM": "esign@example.gov.cn",
    }
    with served(tmp_path_factory.mktemp("notifications"), new_database, init=True, extra_env=smtp) as instance:
        yield instance


@pytest.fixture(scope="module")
def passwords(server: Served) -> dict[str, str]:
    return demo_passwords(server)


@pytest.fixture(scope="module")
def step(server: Served) -> dict[str, str]:
    """李强's review step of the notice, overdue by two days: {"step", "document"}."""
    with Api(server) as api:
        officials = {o["name"]: o["id"] for o in api("王芳", "GET", "/v1/officials")}
        notice = json.loads((ROOT / "docs" / "examples" / "notice.json").read_text())
        notice["content"]["title"] = TITLE
        document = api("王芳", "POST", "/v1/documents", notice)
        review = {"kind": "review", "assignee": {"official_id": officials["李强"]}}
        route = {"definition": {"stages": [{"name": "核稿", "steps": [review]}]}}
        api("王芳", "POST", f"/v1/documents/{document['id']}/route", route)
        [found] = [s for s in api("李强", "GET", "/v1/inbox")["steps"] if s["document_id"] == document["id"]]
    settings = Settings(
        data_dir=server.data_dir,
        database_url=server.env.get("ESIGN_DATABASE_URL"),
        database_schema=server.env.get("ESIGN_DATABASE_SCHEMA"),
    )
    database = Database.from_settings(settings)
    try:
        with database.transaction() as session:
            late = update(Step).where(Step.id == found["id"]).values(due_on=today() - timedelta(days=2))
            session.execute(late)
    finally:
        database.engine.dispose()
    return {"step": found["id"], "document": document["id"]}


def _mail(sink: Sink, subject: str, timeout: float = 30.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [r for r in sink.received if r.message["Subject"] == subject]
        if found:
            return found
        time.sleep(0.2)
    return []


def test_the_page_needs_a_signed_in_official(server: Served) -> None:
    answer = httpx.get(f"{server.url}/notifications")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/notifications"
    forged = httpx.post(f"{server.url}/notifications/read", data={"all": "1"})
    assert forged.status_code == 403, "a form without its CSRF token"


def test_a_leaders_urge_reaches_the_assignee(
    server: Served, browser: Any, passwords: dict[str, str], step: dict[str, str], sink: Sink
) -> None:
    leader = Session(browser, server)
    leader.sign_in("liuyang", passwords["liuyang"])
    leader.page.wait_for_selector("[data-open-steps]")
    leader.goto("/supervision")
    row = leader.page.locator(f"li[data-step='{step['step']}']")
    assert row.get_attribute("data-colour") == "red"
    row.locator("details[data-action=urge] summary").click()
    row.locator("textarea[name=message]").fill(URGE)
    row.locator("details[data-action=urge] button[type=submit]").click()
    leader.page.wait_for_selector('[data-notice="urge"]')
    urges = leader.page.locator("[data-chart='urges']")
    label = urges.locator("svg").get_attribute("aria-label") or ""
    assert "综合处 1" in label, label
    assert urges.locator("table tbody tr", has_text="综合处").locator("td").inner_text() == "1"
    leader.check("notifications-board-urges")
    assert leader.foreign() == []
    leader.close()

    [letter] = _mail(sink, f"催办：{TITLE}")
    assert letter.recipients == ["liqiang@city.example.gov.cn"]
    body = letter.message.get_body()
    assert body is not None and URGE in body.get_content()
    assert _mail(sink, f"待办：{TITLE}"), "the assignment was e-mailed too"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_assignee_sees_the_bell_the_notification_and_the_urge(
    server: Served,
    browser: Any,
    passwords: dict[str, str],
    step: dict[str, str],
    viewport: dict[str, int],
) -> None:
    me = Session(browser, server, viewport)
    me.sign_in("liqiang", passwords["liqiang"])
    me.page.wait_for_selector("[data-open-steps]")
    bell = me.page.locator("header a.bell")
    unread = int(bell.get_attribute("data-bell") or "0")
    if viewport is DESKTOP:
        assert unread == 2, "assigned, urged"
        assert bell.locator("[data-unread]").inner_text() == "2"

    me.goto("/inbox")
    item = me.page.locator(f"li[data-step='{step['step']}']")
    assert item.locator("[data-urged]").get_attribute("data-urged") == "1"
    assert "已催办 1 次" in item.inner_text() and URGE in item.inner_text()
    me.check("notifications-inbox-urged")

    bell.click()
    me.page.wait_for_url("**/notifications")
    assert me.page.inner_text("h1") == "通知"
    notes = me.page.locator("ol.notes > li")
    assert [notes.nth(i).get_attribute("data-kind") for i in range(notes.count())] == ["urged", "assigned"]
    urged = notes.nth(0)
    assert "领导催办" in urged.inner_text() and URGE in urged.inner_text()
    assert urged.locator("[data-title]").inner_text() == TITLE
    assert urged.locator("[data-title]").get_attribute("href") == f"/documents/{step['document']}"
    assert "UTC+08:00" in urged.locator("[data-at]").inner_text()
    me.check("notifications")

    if viewport is DESKTOP:
        urged.locator("[data-action=read]").click()
        me.page.wait_for_url("**/notifications")
        assert me.page.locator("ol.notes > li[data-kind=urged]").get_attribute("data-read") == "true"
        assert me.page.locator("header a.bell").get_attribute("data-bell") == "1"
        me.page.click("[data-action=read-all]")
        me.page.wait_for_url("**/notifications")
        assert me.page.locator("header a.bell").get_attribute("data-bell") == "0"
        assert me.page.locator("ol.notes > li[data-read=false]").count() == 0
        assert me.page.locator("[data-action=read-all]").count() == 0
        me.check("notifications-read")
        me.goto("/notifications?lang=en")
        assert me.page.inner_text("h1") == "Notifications" and "Urged by a leader" in me.page.content()
        me.goto("/notifications?lang=zh")
    assert me.foreign() == []
    me.close()
