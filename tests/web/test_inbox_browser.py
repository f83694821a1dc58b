"""The inbox page in a real browser against ``esign serve``: an official's open steps with their document, stage,
deadline colour and working days left, the urged step on top, filters; at 1280 and 390 pixels.

The steps are made through the API as the README's walk-through makes them: the clerk 王芳 drafts two notices
and routes each to 李强 for review; 刘洋, the leader of 李强's department, urges one of them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from esign.db import Database
from tests.api.served import Served, served
from tests.web.browser import DESKTOP, PHONE, Api, Session, demo_passwords

ROOT = Path(__file__).resolve().parents[2]
TITLES = ("关于开展电子公文流转试点工作的通知", "关于做好年度档案移交工作的通知")
URGE = "请于今日内核稿"
DISPATCHED = "关于报送年度工作总结的通知"
INSTRUCTED = "关于开展安全生产检查的通知"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database]) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("inbox"), new_database, init=True) as instance:
        yield instance


@pytest.fixture(scope="module")
def passwords(server: Served) -> dict[str, str]:
    return demo_passwords(server)


@pytest.fixture(scope="module")
def steps(server: Served) -> dict[str, Any]:
    """Title → the id of 李强's review step of that notice (the second one urged by 刘洋); "documents": their ids."""
    with Api(server) as api:
        officials = {o["name"]: o["id"] for o in api("王芳", "GET", "/v1/officials")}
        reviewer = officials["李强"]
        notice = json.loads((ROOT / "docs" / "examples" / "notice.json").read_text())
        made: dict[str, Any] = {}
        documents: list[str] = []
        for title in TITLES:
            notice["content"]["title"] = title
            document = api("王芳", "POST", "/v1/documents", notice)
            stages = [{"name": "核稿", "steps": [{"kind": "review", "assignee": {"official_id": reviewer}}]}]
            if title == TITLES[0]:
                sign_off = {"kind": "sign_off", "assignee": {"official_id": officials["孙磊"]}}
                stages.append({"name": "签发", "steps": [sign_off]})
            route = {"stages": stages}
            api("王芳", "POST", f"/v1/documents/{document['id']}/route", {"definition": route})
            [step] = [s for s in api("李强", "GET", "/v1/inbox")["steps"] if s["document_id"] == document["id"]]
            made[title] = step["id"]
            documents.append(document["id"])
        api("刘洋", "POST", f"/v1/steps/{made[TITLES[1]]}/urge", {"message": URGE})
        notice["content"]["title"] = DISPATCHED
        document = api("王芳", "POST", "/v1/documents", notice)
        dispatch = {"stages": [{"name": "分发", "steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]}]}
        api("王芳", "POST", f"/v1/documents/{document['id']}/route", {"definition": dispatch})
        made["dispatched"] = document["id"]
        notice["content"]["title"] = INSTRUCTED
        document = api("王芳", "POST", "/v1/documents", notice)
        instruction = {
            "stages": [
                {"name": "批办", "steps": [{"kind": "instruction", "assignee": {"official_id": officials["孙磊"]}}]},
                {"name": "承办", "steps": [{"kind": "handling", "assignee": {"role": "clerk"}}]},
            ]
        }
        api("王芳", "POST", f"/v1/documents/{document['id']}/route", {"definition": instruction})
        made["instructed"] = document["id"]
    return made | {"documents": documents}


def test_the_inbox_needs_a_signed_in_official(server: Served) -> None:
    answer = httpx.get(f"{server.url}/inbox")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/inbox"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_the_urged_step_on_top_then_by_due_day_with_filters(
    server: Served, browser: Any, passwords: dict[str, str], steps: dict[str, Any], viewport: dict[str, int]
) -> None:
    me = Session(browser, server, viewport)
    me.sign_in("liqiang", passwords["liqiang"])
    me.page.wait_for_selector("[data-open-steps]")
    assert me.page.get_attribute("[data-open-steps]", "data-open-steps") == "2"
    me.page.click("[data-action=inbox]")
    me.page.wait_for_selector("ol.work")

    items = me.page.locator("ol.work > li")
    assert items.count() == 2
    assert [items.nth(i).get_attribute("data-step") for i in range(2)] == [steps[TITLES[1]], steps[TITLES[0]]]
    urged = items.nth(0)
    assert urged.locator("[data-title]").inner_text() == TITLES[1]
    assert urged.locator("[data-urged]").get_attribute("data-urged") == "1"
    assert "已催办 1 次" in urged.inner_text() and URGE in urged.inner_text()
    assert "UTC+08:00" in urged.locator("[data-urged]").inner_text(), "the urge's time in Beijing time"
    for i in range(2):
        item = items.nth(i)
        assert item.locator("[data-stage]").inner_text() == "核稿"
        assert item.get_attribute("data-colour") == "green", "a review has days ahead of it"
        left = int(item.locator("[data-left]").get_attribute("data-left") or "-1")
        assert left >= 1 and f"剩余 {left} 个工作日" in item.inner_text()
    assert items.nth(1).locator("[data-urged]").count() == 0
    me.check("inbox")

    me.page.fill("#q", "档案")
    me.page.click("form.filters button[type=submit]")
    me.page.wait_for_url("**/inbox?q=*")
    assert me.page.locator("ol.work > li").count() == 1
    assert me.page.locator("ol.work [data-title]").inner_text() == TITLES[1]

    me.page.fill("#q", "")
    me.page.select_option("#colour", "red")
    me.page.click("form.filters button[type=submit]")
    me.page.wait_for_selector("[data-empty]")
    assert "没有符合条件的待办" in me.page.inner_text("[data-empty]")
    me.check("inbox-filtered-empty")

    me.goto("/inbox?lang=en")
    assert "Urged (times): 1" in me.page.inner_text("ol.work")
    me.goto("/inbox?lang=zh")

    # The document page: its details, the timeline with names, the revision to download, pages and verdict.
    me.page.click(f"li[data-step='{steps[TITLES[1]]}'] a[data-title]")
    me.page.wait_for_selector("h1[data-title]")
    assert me.page.inner_text("h1") == TITLES[1]
    types = [me.page.locator(".timeline li").nth(i).get_attribute("data-type") for i in range(3)]
    assert types == ["revision.rendered", "step.opened", "step.urge"]
    urge = me.page.locator(".timeline li[data-type='step.urge']")
    assert "催办" in urge.inner_text() and URGE in urge.inner_text()
    assert urge.locator("[data-by]").inner_text() == "刘洋"
    assert me.page.locator(".revisions li").count() == 1
    href = me.page.get_attribute(".revisions a", "href")
    assert href == f"/v1/documents/{steps['documents'][1]}/revisions/1/pdf"
    assert httpx.get(f"{server.url}{href}").status_code == 401, "the download needs the session"
    with me.page.expect_download() as download:
        me.page.click(".revisions a")
    assert Path(download.value.path()).read_bytes().startswith(b"%PDF")
    assert me.page.get_attribute("[data-verdict]", "data-verdict") == "unsigned", "a draft is not signed yet"
    assert me.page.locator("#pages img, #pages svg image").count() >= 1
    me.check("document")
    assert me.urls and me.foreign() == [], "every request to esign's own origin"
    me.close()


def test_another_organisation_gets_no_such_document(
    server: Served, browser: Any, passwords: dict[str, str], steps: dict[str, Any]
) -> None:
    me = Session(browser, server)
    me.sign_in("zhoujie", passwords["zhoujie"])
    me.page.wait_for_selector("[data-open-steps]")
    answer = me.goto(f"/documents/{steps['documents'][1]}")
    assert answer.status == 404
    assert me.page.locator("[data-missing]").count() == 1 and TITLES[1] not in me.page.content()
    me.check("document-missing")
    me.close()


def test_another_official_sees_none_of_it(
    server: Served, browser: Any, passwords: dict[str, str], steps: dict[str, Any]
) -> None:
    me = Session(browser, server)
    me.sign_in("chenjing", passwords["chenjing"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto("/inbox")
    me.page.wait_for_selector("[data-empty]")
    assert all(title not in me.page.content() for title in TITLES)
    me.close()


def test_every_document_state_has_a_label() -> None:
    from documents.states import DocumentState
    from web.document import STATES

    assert set(STATES) == set(DocumentState)


def test_comment_approve_then_sign_off_with_the_pin(
    server: Served, browser: Any, passwords: dict[str, str], steps: dict[str, Any]
) -> None:
    """After the listing tests (they count the open steps): 李强 comments on the urged notice and approves it;
    he approves the other's review; 孙磊 signs it off, refused with a wrong PIN, then signed with his own."""
    urged, other = steps["documents"][1], steps["documents"][0]
    me = Session(browser, server)
    me.sign_in("liqiang", passwords["liqiang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto(f"/documents/{urged}")
    me.page.wait_for_selector("[data-acting]")
    assert me.page.locator("#pin").count() == 0, "a review takes no signature"
    me.check("document-acting")
    me.page.fill("#comment", "第二段请再斟酌")
    me.page.click("[data-action=comment]")
    me.page.wait_for_selector('[data-notice="comment"]')
    assert "第二段请再斟酌" in me.page.inner_text(".timeline li[data-type='step.comment']")
    assert me.page.locator("[data-acting]").count() == 1, "a comment leaves the step open"
    me.page.fill("#opinion", "文字已核")
    me.page.click("#approve-form [data-action=approve]")
    me.page.wait_for_selector('[data-notice="approve"]')
    assert me.page.locator("[data-acting]").count() == 0
    assert "文字已核" in me.page.inner_text(".timeline li[data-type='step.approve']")
    me.goto(f"/documents/{other}")
    me.page.click("#approve-form [data-action=approve]")
    me.page.wait_for_selector('[data-notice="approve"]')
    me.close()

    leader = Session(browser, server, PHONE)
    leader.sign_in("sunlei", passwords["sunlei"])
    leader.page.wait_for_selector("[data-open-steps]")
    leader.goto(f"/documents/{other}")
    leader.page.wait_for_selector("#pin")
    assert leader.page.get_attribute("#pin", "inputmode") == "numeric"
    leader.check("document-sign-off")
    leader.page.fill("#opinion", "同意印发")
    leader.page.fill("#pin", "000000")
    leader.page.click("#approve-form [data-action=approve]")
    leader.page.wait_for_selector("[data-refusal]")
    assert "PIN" in leader.page.inner_text("[data-refusal]")
    assert leader.page.locator(".revisions li").count() == 1, "a refused signature changes nothing"
    leader.check("document-sign-off-refused")
    leader.page.fill("#opinion", "同意印发")
    leader.page.fill("#pin", "123456")
    leader.page.click("#approve-form [data-action=approve]")
    leader.page.wait_for_selector('[data-notice="approve"]')
    assert leader.page.locator(".revisions li").count() == 2
    assert leader.page.get_attribute("[data-verdict]", "data-verdict") == "valid"
    assert "孙磊" in leader.page.inner_text(".signatures, .layout")
    leader.check("document-signed")
    assert leader.foreign() == []
    leader.close()


def test_a_dispatch_picks_its_recipients_from_the_directory(
    server: Served, browser: Any, passwords: dict[str, str], steps: dict[str, Any]
) -> None:
    me = Session(browser, server, PHONE)
    me.sign_in("wangfang", passwords["wangfang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto(f"/documents/{steps['dispatched']}")
    me.page.wait_for_selector("[data-recipients]")
    me.check("document-dispatch")
    me.page.click("#approve-form [data-action=approve]")
    me.page.wait_for_selector("[data-refusal]")
    assert "recipient" in me.page.inner_text("[data-refusal]"), "none ticked: refused, nothing sent"
    me.page.fill("#to", "不存在的单位")
    me.page.click("#find-recipients button[type=submit]")
    me.page.wait_for_selector("[data-no-recipients]")
    me.page.fill("#to", "县")
    me.page.click("#find-recipients button[type=submit]")
    me.page.wait_for_selector("[data-recipients] input[type=checkbox]")
    boxes = me.page.locator("[data-recipients] label")
    assert boxes.count() == 1 and "示例县人民政府" in boxes.inner_text()
    me.page.check("[data-recipients] input[type=checkbox]")
    me.page.click("#approve-form [data-action=approve]")
    me.page.wait_for_selector('[data-notice="approve"]')
    sent = me.page.locator(".timeline li[data-type='dispatch.sent']")
    assert sent.count() == 1 and "示例县人民政府" in sent.inner_text()
    me.close()


def test_an_instruction_names_the_departments_that_handle_it(
    server: Served, browser: Any, passwords: dict[str, str], steps: dict[str, Any]
) -> None:
    """Last in the file: the handling step it opens lands in 李强's department, which the listing tests count."""
    me = Session(browser, server)
    me.sign_in("sunlei", passwords["sunlei"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto(f"/documents/{steps['instructed']}")
    me.page.wait_for_selector("[data-handlers]")
    assert me.page.locator("#pin").count() == 0, "an instruction takes no signature"
    me.check("document-instruction")
    me.page.check("[data-handlers] label:has-text('综合处') input")
    me.page.fill("#opinion", "请综合处牵头办理")
    me.page.click("#approve-form [data-action=approve]")
    me.page.wait_for_selector('[data-notice="approve"]')
    opened = me.page.locator(".timeline li[data-type='step.opened']").last
    assert "综合处" in opened.inner_text(), "the handling step went to the department named"
    me.close()
