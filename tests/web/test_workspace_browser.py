"""The officials' and leaders' workspace in a real browser against ``esign serve``, at 1280 and 390 pixels: the
register (search, filters, paging, CSV export) and the supervision board (the three colours, urge, extend,
reassign, the departments' charts).

The data is made through the API: 王芳 drafts a notice and routes it to 李强 for review (its deadline then moved
into the past in the database, the one thing the API cannot do); 示例县人民政府's clerk 周杰 registers and
dispatches a letter to 示府办, which arrives in its register as an incoming document with his number; the county is
placed under 示府办 (as ``esign org place`` does) with an overdue review of its own, for the subordinates' toggle.
"""

from __future__ import annotations

import csv
import io
import json
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
from esign.identity import Actor
from esign.settings import Settings
from keys import hierarchy
from tests.api.served import Served, served
from tests.web.browser import DESKTOP, PHONE, Api, Session, demo_passwords

ROOT = Path(__file__).resolve().parents[2]
OUTGOING = "关于开展电子公文流转试点工作的通知"
INCOMING = "关于报送年度工作总结的函"
URGE = "请尽快办理"
BELOW = "关于县级试点进展情况的通知"
DONE = {"关于调整值班安排的通知": "李强", "关于做好节日安全工作的通知": "孙磊"}
"""Titles of the two reviews done before the tests, and who did each."""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database]) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("workspace"), new_database, init=True) as instance:
        yield instance


@pytest.fixture(scope="module")
def passwords(server: Served) -> dict[str, str]:
    return demo_passwords(server)


def _database(server: Served) -> Database:
    settings = Settings(
        data_dir=server.data_dir,
        database_url=server.env.get("ESIGN_DATABASE_URL"),
        database_schema=server.env.get("ESIGN_DATABASE_SCHEMA"),
    )
    return Database.from_settings(settings)


@pytest.fixture(scope="module")
def made(server: Served) -> dict[str, Any]:
    """ "outgoing", "incoming": the documents' ids at 示府办; "step": 李强's review step, overdue by 3 days."""
    with Api(server) as api:
        officials = {o["name"]: o["id"] for o in api("王芳", "GET", "/v1/officials")}
        notice = json.loads((ROOT / "docs" / "examples" / "notice.json").read_text())
        notice["content"]["title"] = OUTGOING
        outgoing = api("王芳", "POST", "/v1/documents", notice)
        review = {"kind": "review", "assignee": {"official_id": officials["李强"]}}
        api(
            "王芳",
            "POST",
            f"/v1/documents/{outgoing['id']}/route",
            {"definition": {"stages": [{"name": "核稿", "steps": [review]}]}},
        )
        [step] = [s for s in api("李强", "GET", "/v1/inbox")["steps"] if s["document_id"] == outgoing["id"]]

        city = next(o["id"] for o in api("周杰", "GET", "/v1/organisations") if o["name"] == "示例市人民政府办公室")
        letter = json.loads((ROOT / "docs" / "examples" / "notice.json").read_text())
        letter["content"] |= {
            "kind": "letter",
            "issuer": "示例县人民政府",
            "title": INCOMING,
            "recipients": ["示例市人民政府办公室"],
        }
        letter["content"].pop("colophon", None)
        sent = api("周杰", "POST", "/v1/documents", letter)
        clerk = {"role": "clerk"}
        stages = [
            {"name": "登记", "steps": [{"kind": "registration", "assignee": clerk}]},
            {"name": "分发", "steps": [{"kind": "dispatch", "assignee": clerk}]},
        ]
        api("周杰", "POST", f"/v1/documents/{sent['id']}/route", {"definition": {"stages": stages}})
        for kind in ("registration", "dispatch"):
            [open_step] = [s for s in api("周杰", "GET", "/v1/inbox")["steps"] if s["document_id"] == sent["id"]]
            assert open_step["kind"] == kind
            body = {"recipients": [city]} if kind == "dispatch" else {}
            api("周杰", "POST", f"/v1/steps/{open_step['id']}/approve", body)
        number = api("周杰", "GET", f"/v1/documents/{sent['id']}")["number"]
        incoming = api("王芳", "GET", "/v1/documents", None)
        [arrived] = [d for d in incoming["documents"] if d["direction"] == "incoming"]

        # Two reviews done, for the departments' figures: 李强's (综合处) on time, 孙磊's (秘书处) late.
        done: dict[str, str] = {}
        for title, who in DONE.items():
            notice["content"]["title"] = title
            document = api("王芳", "POST", "/v1/documents", notice)
            step_spec = {"kind": "review", "assignee": {"official_id": officials[who]}}
            route = {"definition": {"stages": [{"name": "核稿", "steps": [step_spec]}]}}
            api("王芳", "POST", f"/v1/documents/{document['id']}/route", route)
            [review_step] = [s for s in api(who, "GET", "/v1/inbox")["steps"] if s["document_id"] == document["id"]]
            done[who] = review_step["id"]
        # 示例县人民政府, placed under 示府办 below, has an overdue review of its own for 吴倩.
        county = {o["name"]: o["id"] for o in api("周杰", "GET", "/v1/officials")}
        notice["content"] |= {"title": BELOW, "issuer": "示例县人民政府"}
        report = api("周杰", "POST", "/v1/documents", notice)
        step_spec = {"kind": "review", "assignee": {"official_id": county["吴倩"]}}
        route = {"definition": {"stages": [{"name": "核稿", "steps": [step_spec]}]}}
        api("周杰", "POST", f"/v1/documents/{report['id']}/route", route)
        [below] = [s for s in api("吴倩", "GET", "/v1/inbox")["steps"] if s["document_id"] == report["id"]]
        database = _database(server)
        try:
            with database.transaction() as session:
                hierarchy.place(
                    session,
                    actor=Actor.operator(sent["organisation_id"]),
                    organisation_id=sent["organisation_id"],
                    parent_id=city,
                    level=None,
                )
                session.execute(update(Step).where(Step.id == below["id"]).values(due_on=today() - timedelta(days=1)))
                late = update(Step).where(Step.id == done["孙磊"])
                session.execute(late.values(opened_on=today() - timedelta(days=9), due_on=today() - timedelta(days=2)))
                overdue = update(Step).where(Step.id == step["id"])
                session.execute(overdue.values(due_on=today() - timedelta(days=3)))
        finally:
            database.engine.dispose()
        for who, step_id in done.items():
            api(who, "POST", f"/v1/steps/{step_id}/approve", {"opinion": "已阅"})
    return {
        "outgoing": outgoing["id"],
        "incoming": arrived["id"],
        "step": step["id"],
        "number": number,
        "below": below["id"],
    }


def test_the_pages_need_a_signed_in_official(server: Served) -> None:
    for path in ("/register", "/register.csv", "/supervision"):
        answer = httpx.get(f"{server.url}{path}")
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_register_lists_filters_and_exports(
    server: Served, browser: Any, passwords: dict[str, str], made: dict[str, Any], viewport: dict[str, int]
) -> None:
    me = Session(browser, server, viewport)
    me.sign_in("wangfang", passwords["wangfang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.page.click("header a[href='/register']")
    me.page.wait_for_selector("table.register")
    rows = me.page.locator("table.register tbody tr")
    assert rows.count() == 4
    listed = {rows.nth(i).get_attribute("data-document") for i in range(4)}
    assert {made["outgoing"], made["incoming"]} <= listed
    arrived = me.page.locator(f"tr[data-document='{made['incoming']}']")
    assert "示例县人民政府" in arrived.locator("[data-sender]").inner_text()
    assert made["number"] and made["number"] in arrived.locator("[data-sender]").inner_text()
    assert "UTC+08:00" in arrived.inner_text()
    late = me.page.locator(f"tr[data-document='{made['outgoing']}']")
    assert "overdue" in (late.get_attribute("class") or "") and "已超期" in late.inner_text()
    me.check("register")

    me.page.select_option("#direction", "incoming")
    me.page.click("form.filters button[type=submit]")
    me.page.wait_for_url("**/register?*direction=incoming*")
    assert me.page.locator("table.register tbody tr").count() == 1
    assert me.page.locator("table.register [data-title]").inner_text() == INCOMING

    me.page.select_option("#direction", "")
    me.page.fill("#q", "试点")
    me.page.select_option("#overdue", "yes")
    me.page.click("form.filters button[type=submit]")
    me.page.wait_for_url("**/register?*overdue=yes*")
    assert me.page.locator("table.register tbody tr").count() == 1
    assert me.page.locator("table.register [data-title]").inner_text() == OUTGOING
    me.check("register-filtered")

    with me.page.expect_download() as download:
        me.page.click("[data-export]")
    data = Path(download.value.path()).read_bytes()
    assert data.startswith(b"\xef\xbb\xbf"), "a byte-order mark, for Excel"
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:5] == ["创建时间", "方向", "文种", "文号", "标题"] and len(table) == 2
    assert table[1][4] == OUTGOING and table[1][-1] == made["outgoing"]

    me.page.click("table.register [data-title]")
    me.page.wait_for_selector("h1[data-title]")
    assert me.page.inner_text("h1") == OUTGOING

    answer = me.goto("/register?created_from=x&from=2026-13-01")
    assert answer.status == 400 and "from is a day" in me.page.inner_text("[data-refusal]")
    assert "请检查“创建日期起”" in me.page.inner_text("[data-refusal] [data-field]")
    me.check("register-refused")
    assert me.foreign() == []
    me.close()


def test_the_register_pages_with_a_cursor(
    server: Served, browser: Any, passwords: dict[str, str], made: dict[str, Any]
) -> None:
    me = Session(browser, server)
    me.sign_in("wangfang", passwords["wangfang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto("/register")
    assert me.page.locator("[data-next]").count() == 0, "four documents fit on a page"
    me.goto("/register?limit=3")
    rows = me.page.locator("table.register tbody tr")
    first = [rows.nth(i).get_attribute("data-document") for i in range(rows.count())]
    me.page.click("[data-next]")
    me.page.wait_for_url("**/register?limit=3&cursor=*")
    second = [rows.nth(i).get_attribute("data-document") for i in range(rows.count())]
    assert len(first) == 3 and len(second) == 1 and not set(first) & set(second)
    assert me.page.locator("[data-next]").count() == 0
    me.check("register-second-page")
    answer = me.context.request.get(f"{server.url}/register.csv?direction=sideways")
    assert answer.status == 400 and "direction is not one of" in answer.text()
    me.close()


def test_the_supervision_board_is_for_leaders(
    server: Served, browser: Any, passwords: dict[str, str], made: dict[str, Any]
) -> None:
    me = Session(browser, server, PHONE)
    me.sign_in("liqiang", passwords["liqiang"])
    me.page.wait_for_selector("[data-open-steps]")
    assert me.page.locator("header a[href='/supervision']").count() == 0
    answer = me.goto("/supervision")
    assert answer.status == 403 and me.page.locator("[data-forbidden]").count() == 1
    me.check("supervision-forbidden")
    me.close()

    other = Session(browser, server)
    other.sign_in("wuqian", passwords["wuqian"])
    other.page.wait_for_selector("[data-open-steps]")
    other.goto("/supervision?subordinates=1")
    assert OUTGOING not in other.page.content() and made["step"] not in other.page.content()
    assert other.page.locator(f"li[data-step='{made['below']}'] [data-title]").inner_text() == BELOW, "its own step"
    other.goto("/register")
    assert OUTGOING not in other.page.content() and made["incoming"] not in other.page.content()
    assert other.page.locator("table.register [data-direction=incoming]").count() == 0, "its own letter, sent"
    other.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_board_at_both_widths(
    server: Served, browser: Any, passwords: dict[str, str], made: dict[str, Any], viewport: dict[str, int]
) -> None:
    me = Session(browser, server, viewport)
    me.sign_in("liuyang", passwords["liuyang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.page.click("header a[href='/supervision']")
    me.page.wait_for_selector("ol.board")
    row = me.page.locator(f"li[data-step='{made['step']}']")
    assert row.get_attribute("data-colour") == "red" and row.locator("[data-title]").inner_text() == OUTGOING
    svg = me.page.locator("[data-chart='on-time'] svg")
    label = svg.get_attribute("aria-label") or ""
    assert svg.get_attribute("role") == "img" and "按时办结率" in label
    assert "综合处 100%" in label and "秘书处 0%" in label, label
    assert me.page.locator("[data-chart='on-time'] table tbody tr").count() == 3
    assert me.page.locator("[data-chart='median'] svg[role=img]").count() == 1
    overdue = me.page.get_attribute("[data-chart='overdue'] svg", "aria-label") or ""
    assert "综合处 1" in overdue, "李强's overdue review counts for his department"
    me.page.click(f"li[data-step='{made['step']}'] details[data-action=reassign] summary")
    me.check("supervision")
    me.page.click("[data-toggle=subordinates]")
    me.page.wait_for_url("**/supervision?subordinates=1")
    assert me.page.get_attribute("[data-toggle=subordinates]", "aria-pressed") == "true"
    below = me.page.locator(f"li[data-step='{made['below']}']")
    assert below.get_attribute("data-colour") == "red" and below.get_attribute("data-own") == "false"
    assert "示例县人民政府" in below.inner_text() and BELOW not in me.page.content(), "no title from below"
    assert below.locator("[data-title], details, form").count() == 0, "no actions on a subordinate's step"
    me.check("supervision-subordinates")
    me.goto("/supervision?lang=en")
    assert me.page.inner_text("h1") == "Supervision" and "On-time rate by department" in me.page.content()
    me.goto("/register?lang=zh")
    assert me.foreign() == []
    me.close()


def test_urge_extend_and_reassign(
    server: Served, browser: Any, passwords: dict[str, str], made: dict[str, Any]
) -> None:
    """After the board tests (they expect the step red and with 李强)."""
    step = made["step"]
    me = Session(browser, server)
    me.sign_in("liuyang", passwords["liuyang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto("/supervision")
    row = me.page.locator(f"li[data-step='{step}']")
    row.locator("details[data-action=urge] summary").click()
    row.locator("textarea[name=message]").fill(URGE)
    row.locator("details[data-action=urge] button[type=submit]").click()
    me.page.wait_for_selector('[data-notice="urge"]')
    assert me.page.locator(f"li[data-step='{step}'] [data-urges]").get_attribute("data-urges") == "1"

    row = me.page.locator(f"li[data-step='{step}']")
    row.locator("details[data-action=urge] summary").click()
    row.locator("details[data-action=urge] button[type=submit]").click()
    me.page.wait_for_selector("[data-refusal]")
    assert "urge it again after" in me.page.inner_text("[data-refusal]")
    me.check("supervision-urge-refused")

    assignee = Session(browser, server, PHONE)
    assignee.sign_in("liqiang", passwords["liqiang"])
    assignee.page.wait_for_selector("[data-open-steps]")
    assignee.goto("/inbox")
    urged = assignee.page.locator(f"li[data-step='{step}']")
    assert "已催办 1 次" in urged.inner_text() and URGE in urged.inner_text()
    assignee.close()

    me.goto("/supervision")
    token = me.page.get_attribute("input[name=csrf_token]", "value") or ""
    for what, form, said in (
        ("extend", {"due_on": "2026-02-30", "reason": "材料未齐"}, "the new due day is a day"),
        ("extend", {"due_on": (today() - timedelta(days=5)).isoformat(), "reason": "材料未齐"}, "due_on must be after"),
        ("reassign", {"assignee": "", "reason": "改派"}, "choose the official or department"),
        ("sideways", {}, "no such action"),
    ):
        answer = me.context.request.post(
            f"{server.url}/supervision/steps/{step}/{what}", form={"csrf_token": token, **form}, max_redirects=0
        )
        assert 400 <= answer.status < 500 and said in answer.text(), (what, answer.status)
    forged = me.context.request.post(f"{server.url}/supervision/steps/{step}/urge", form={"message": "x"})
    assert forged.status == 403, "a form without its CSRF token"
    me.goto("/supervision")
    row = me.page.locator(f"li[data-step='{step}']")
    assert row.get_attribute("data-colour") == "red", "nothing changed"
    assert row.locator("[data-urges]").get_attribute("data-urges") == "1"
    row.locator("details[data-action=extend] summary").click()
    later = today() + timedelta(days=30)
    row.locator("input[name=due_on]").fill(later.isoformat())
    row.locator("details[data-action=extend] textarea[name=reason]").fill("材料未齐")
    row.locator("details[data-action=extend] button[type=submit]").click()
    me.page.wait_for_selector('[data-notice="extend"]')
    assert me.page.locator(f"li[data-step='{step}']").count() == 0, "green now: off the board"
    me.goto("/supervision?green=1")
    row = me.page.locator(f"li[data-step='{step}']")
    assert row.get_attribute("data-colour") == "green"
    assert row.locator("[data-due]").get_attribute("data-due") == later.isoformat()

    row.locator("details[data-action=reassign] summary").click()
    row.locator("select[name=assignee]").select_option(label="陈静")
    row.locator("details[data-action=reassign] textarea[name=reason]").fill("法规处办理")
    row.locator("details[data-action=reassign] button[type=submit]").click()
    me.page.wait_for_selector('[data-notice="reassign"]')
    assert me.page.url.endswith("/supervision?green=1&done=reassign")
    assert me.page.locator(f"li[data-step='{step}']").count() == 0, "the old step closed"
    moved = me.page.locator("ol.board li", has_text=OUTGOING)
    assert moved.locator("[data-assignee]").inner_text() == "陈静"
    me.check("supervision-reassigned")
    me.close()
