"""Drafting in a real browser against ``esign serve``, at 1280 and 390 pixels: the form, its GB/T 9704 preview as
it is typed, what keeps a draft from being a document, and a saved draft started on a route template whose
first step reaches the reviewer's inbox."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from esign.db import Database
from tests.api.served import Served, served
from tests.web.browser import DESKTOP, PHONE, Api, Session, demo_passwords

TITLE = "关于做好年终文件归档工作的通知"
BODY = "为做好年终文件归档工作，现将有关事项通知如下。\n# 归档范围\n## 本年度形成的公文。\n各单位按时报送。"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database]) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("drafting"), new_database, init=True) as instance:
        yield instance


@pytest.fixture(scope="module")
def template(server: Served) -> dict[str, Any]:
    """A route template of 示府办: 李强 reviews."""
    with Api(server) as api:
        reviewer = next(o["id"] for o in api("王芳", "GET", "/v1/officials") if o["name"] == "李强")
        stages = [{"name": "核稿", "steps": [{"kind": "review", "assignee": {"official_id": reviewer}}]}]
        made: dict[str, Any] = api(
            "张伟", "POST", "/v1/route-templates", {"name": "发文核稿", "definition": {"stages": stages}}
        )
        return made


def test_the_drafting_page_needs_a_signed_in_official(server: Served) -> None:
    answer = httpx.get(f"{server.url}/drafts/new")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=/drafts/new"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_a_draft_is_previewed_as_typed_and_saved_onto_a_route(
    server: Served, browser: Any, template: dict[str, Any], viewport: dict[str, int]
) -> None:
    me = Session(browser, server, viewport)
    me.sign_in("wangfang", demo_passwords(server)["wangfang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.page.click("header a[href='/drafts/new']")
    me.page.wait_for_selector("#draft-form")
    assert me.page.input_value("#issuer") == "示例市人民政府办公室"
    me.check("drafting-empty")

    me.page.fill("#title", TITLE)
    me.page.fill("#body", BODY)
    me.page.wait_for_selector("#draft-preview [data-problems]")
    assert "主送机关" in me.page.inner_text("#draft-preview [data-problems]"), "the problem names what is missing"

    me.page.fill("#recipients", "各处室、示例县人民政府")
    me.page.select_option("#urgency", "加急")
    me.page.wait_for_selector("#draft-preview figure.page")
    assert me.page.locator("#draft-preview [data-problems]").count() == 0
    me.check("drafting-preview")

    me.page.select_option("#route_template_id", template["id"])
    me.page.click("#draft-form button[value=create]")
    me.page.wait_for_url(re.compile(r".*/documents/[0-9a-f-]+\?done=drafted$"))
    assert me.page.locator("[data-notice=drafted]").count() == 1
    assert TITLE in me.page.inner_text("h1")
    document_id = me.page.url.split("/documents/")[1].split("?")[0]
    me.check("drafting-saved")
    assert me.foreign() == []
    me.close()

    with Api(server) as api:
        pdf = api.http.get(f"/v1/documents/{document_id}/pdf", headers=server.headers("王芳"))
        inbox = api("李强", "GET", "/v1/inbox")["steps"]
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert [s["kind"] for s in inbox if s["document_id"] == document_id] == ["review"]


def test_without_the_script_the_preview_button_shows_the_pages(server: Served) -> None:
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as browser:
        form = browser.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token is not None
        login = {"login": "wangfang", "password": demo_passwords(server)["wangfang"], "csrf_token": token.group(1)}
        assert browser.post("/login", data=login).status_code == 303
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/drafts/new").text)
        assert token is not None
        fields = {
            "kind": "notice",
            "issuer": "示例市人民政府办公室",
            "title": TITLE,
            "recipients": "各处室",
            "body": BODY,
        }
        shown = browser.post("/drafts", data={**fields, "action": "preview", "csrf_token": token.group(1)})
        assert shown.status_code == 200 and 'class="page"' in shown.text and TITLE in shown.text
        refused = browser.post("/drafts", data={**fields, "body": "", "action": "create", "csrf_token": token.group(1)})
        assert refused.status_code == 422 and 'data-field="body"' in refused.text
        forged = browser.post("/drafts", data={**fields, "action": "create", "csrf_token": "forged"})
        assert forged.status_code == 403


def test_the_form_offers_only_officials_and_departments_work_can_be_assigned_to(server: Served) -> None:
    """A disabled official or department is refused as an assignee when the route starts, so it is not offered."""
    with Api(server) as api:
        department = api("张伟", "POST", "/v1/departments", {"name": "已撤并科"})
        official = api("张伟", "POST", "/v1/officials", {"name": "赵退休", "department_id": department["id"]})
        api("张伟", "POST", f"/v1/officials/{official['id']}/disable")
        api("张伟", "POST", f"/v1/departments/{department['id']}/disable")
    with httpx.Client(base_url=server.url, follow_redirects=False, timeout=60) as browser:
        token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/login").text)
        assert token is not None
        login = {"login": "wangfang", "password": demo_passwords(server)["wangfang"], "csrf_token": token.group(1)}
        assert browser.post("/login", data=login).status_code == 303
        form = browser.get("/drafts/new").text
    assert 'value="official:' in form and 'value="department:' in form
    assert f'value="official:{official["id"]}"' not in form and "赵退休" not in form
    assert f'value="department:{department["id"]}"' not in form and "已撤并科" not in form


def test_a_route_built_by_hand_in_serial_and_parallel_stages(server: Served, browser: Any) -> None:
    """核稿 by 李强, then 法规处 and 综合处 countersigning in parallel within 3 working days."""
    with Api(server) as api:
        officials = {o["name"]: o["id"] for o in api("王芳", "GET", "/v1/officials")}
        departments = {d["name"]: d["id"] for d in api("王芳", "GET", "/v1/departments")}
    me = Session(browser, server)
    me.sign_in("wangfang", demo_passwords(server)["wangfang"])
    me.page.wait_for_selector("[data-open-steps]")
    me.goto("/drafts/new")
    me.page.fill("#title", "关于会签规范性文件清理意见的通知")
    me.page.fill("#recipients", "各处室")
    me.page.fill("#body", BODY)
    me.page.click(".route-builder summary")
    me.page.fill("#stage1_name", "核稿")
    me.page.select_option("#stage1_kind", "review")
    me.page.select_option("#stage1_to1", f"official:{officials['李强']}")
    me.page.fill("#stage2_name", "会签")
    me.page.select_option("#stage2_kind", "countersign")
    me.page.select_option("#stage2_to1", f"department:{departments['法规处']}")
    me.page.select_option("#stage2_to2", f"department:{departments['综合处']}")
    me.page.fill("#stage2_days", "三")
    me.check("drafting-route")
    me.page.click("#draft-form button[value=create]")
    me.page.wait_for_selector("#draft-problems [data-field=route]")
    assert "working days" in me.page.inner_text("#draft-problems"), "a deadline that is not a number is refused"
    assert me.page.input_value("#stage2_to2") == f"department:{departments['综合处']}", "the form keeps its values"
    me.page.fill("#stage2_days", "3")
    me.page.click("#draft-form button[value=create]")
    me.page.wait_for_url(re.compile(r".*/documents/[0-9a-f-]+\?done=drafted$"))
    document_id = me.page.url.split("/documents/")[1].split("?")[0]
    me.close()

    with Api(server) as api:
        [review] = [s for s in api("李强", "GET", "/v1/inbox")["steps"] if s["document_id"] == document_id]
        api("李强", "POST", f"/v1/steps/{review['id']}/approve", {"opinion": "文字已核"})
        for official in ("陈静", "刘洋"):
            steps = [s for s in api(official, "GET", "/v1/inbox")["steps"] if s["document_id"] == document_id]
            assert [s["kind"] for s in steps] == ["countersign"], official
