"""The administration pages in a real browser against ``esign serve``, at 1280 and 390 pixels: 张伟, the demo
administrator of 示例市人民政府办公室, makes a department and an official, invites the official (who follows the
link, sets a password and signs in), unlocks 陈静's signing credential locked by five wrong PINs, makes and
revokes a token for another system, sets a day off in the calendar, saves and retires route templates, and
subscribes a webhook whose deliveries he then reads. 王芳, a clerk, gets a 403 page; a form without its CSRF
token is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from documents.circulation.calendar import today
from esign.db import Database
from tests.api.served import Served, served
from tests.web.browser import DESKTOP, PHONE, Api, Session, demo_passwords

ADMIN = "zhangwei"
DEPARTMENT = "督查室"
NEWCOMER = "钱进"
SYSTEM = "办公自动化系统"
HOOK = "https://oa.city.example.gov.cn/esign-events"
PAGES = (
    "/admin",
    "/admin/departments",
    "/admin/officials",
    "/admin/tokens",
    "/admin/calendar",
    "/admin/templates",
    "/admin/webhooks",
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database]) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("admin"), new_database, init=True) as instance:
        yield instance


@pytest.fixture(scope="module")
def passwords(server: Served) -> dict[str, str]:
    return demo_passwords(server)


def _admin(browser: Any, server: Served, passwords: dict[str, str], viewport: dict[str, int] = DESKTOP) -> Session:
    me = Session(browser, server, viewport)
    me.sign_in(ADMIN, passwords[ADMIN])
    me.page.wait_for_selector("[data-open-steps]")
    return me


def test_the_admin_pages_need_a_signed_in_official(server: Served) -> None:
    for path in ("/admin", "/admin/officials", "/admin/webhooks/x"):
        answer = httpx.get(f"{server.url}{path}")
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"


def test_the_admin_pages_are_for_administrators(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = Session(browser, server, PHONE)
    me.sign_in("wangfang", passwords["wangfang"])
    me.page.wait_for_selector("[data-open-steps]")
    assert me.page.locator("header a[href='/admin']").count() == 0
    for path in PAGES:
        answer = me.goto(path)
        assert answer.status == 403 and me.page.locator("[data-forbidden]").count() == 1, path
    me.check("admin-forbidden")
    me.goto("/inbox")
    token = me.page.get_attribute("input[name=csrf_token]", "value") or ""
    answer = me.context.request.post(
        f"{server.url}/admin/departments/create", form={"csrf_token": token, "name": "越权处"}, max_redirects=0
    )
    assert answer.status == 403 and "data-forbidden" in answer.text(), "a clerk may not make a department"
    assert me.foreign() == []
    me.close()


def test_departments_officials_and_an_invitation(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = _admin(browser, server, passwords)
    me.page.click("header a[href='/admin']")
    me.page.wait_for_selector("[data-count=officials]")
    assert me.page.inner_text("[data-count=departments]") == "3" and me.page.inner_text("[data-count=officials]") == "7"
    me.goto("/admin/departments")
    me.page.fill("#department-name", DEPARTMENT)
    me.page.click("#department-form button[type=submit]")
    me.page.wait_for_selector('[data-notice="department.create"]')
    assert me.page.url.endswith("/admin/departments?done=department.create")
    assert DEPARTMENT in me.page.inner_text("#departments")
    me.page.fill("#department-name", DEPARTMENT)
    me.page.click("#department-form button[type=submit]")
    me.page.wait_for_selector("[data-refusal]")
    assert "exists already" in me.page.inner_text("[data-refusal]")
    me.check("admin-department-refused")
    me.page.fill("#department-name", "临时工作组")
    me.page.click("#department-form button[type=submit]")
    me.page.wait_for_selector('[data-notice="department.create"]')
    row = me.page.locator("#departments tr", has_text="临时工作组")
    row.locator("button").click()
    me.page.wait_for_selector('[data-notice="department.disable"]')
    assert me.page.locator("#departments tr", has_text="临时工作组").get_attribute("data-state") == "disabled"

    me.goto("/admin/officials")
    assert "临时工作组" not in me.page.inner_text("#official-department"), "no new official in a disabled one"
    me.page.fill("#official-name", NEWCOMER)
    me.page.select_option("#official-department", label=DEPARTMENT)
    me.page.check("input[name='role:leader']")
    me.page.fill("#official-email", "qianjin@city.example.gov.cn")
    me.page.click("#official-form button[type=submit]")
    me.page.wait_for_selector('[data-notice="official.create"]')
    person = me.page.locator("li[data-official]", has_text=NEWCOMER)
    assert person.locator("[data-department]").inner_text() == DEPARTMENT
    assert "领导" in person.locator("[data-roles]").inner_text()
    assert person.locator("[data-login]").inner_text() == "尚无登录名"
    person.locator("details[data-action=invite] summary").click()
    person.locator("input[name=login]").fill("qianjin")
    person.locator("details[data-action=invite] button[type=submit]").click()
    me.page.wait_for_selector("[data-invitation]")
    link = me.page.inner_text("[data-invitation]").strip()
    assert link.startswith(f"{server.url}/invitation/")
    person = me.page.locator("li[data-official]", has_text=NEWCOMER)
    assert "qianjin" in person.locator("[data-login]").inner_text()
    me.check("admin-officials-invited")
    me.goto("/admin/officials")
    assert me.page.locator("[data-invitation]").count() == 0, "shown once"

    newcomer = Session(browser, server, PHONE)
    newcomer.page.goto(link)
    newcomer.page.fill("#password", "督查室新同事2026")
    newcomer.page.fill("#confirm", "督查室新同事2026")
    newcomer.page.click("form.stacked button[type=submit]")
    newcomer.page.wait_for_url("**/login?welcome=1*")
    newcomer.sign_in("qianjin", "督查室新同事2026")
    newcomer.page.wait_for_selector("[data-open-steps]")
    assert NEWCOMER in newcomer.page.inner_text("header .who")
    assert newcomer.page.locator("header a[href='/supervision']").count() == 1, "a leader"
    assert newcomer.foreign() == []
    newcomer.close()

    me.goto("/admin/officials")
    own = me.page.locator("li[data-official]", has_text="zhangwei@")
    assert own.count() == 1 and own.locator("button[data-action=disable]").count() == 0, "no button to disable oneself"
    person = me.page.locator("li[data-official]", has_text=NEWCOMER)
    assert person.locator("details[data-action=invite] summary").inner_text() == "重置密码"
    person.locator("details[data-action=invite] summary").click()
    person.locator("details[data-action=invite] button[type=submit]").click()
    me.page.wait_for_selector("[data-invitation]")
    assert me.page.inner_text("[data-invitation]").strip() != link, "a new link resets the password"
    person = me.page.locator("li[data-official]", has_text=NEWCOMER)
    person.locator("button[data-action=disable]").click()
    me.page.wait_for_selector('[data-notice="official.disable"]')
    assert me.page.locator("li[data-official]", has_text=NEWCOMER).get_attribute("data-state") == "disabled"
    assert me.foreign() == []
    me.close()


def test_unlocking_a_credential_locked_by_wrong_pins(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    with Api(server) as api:
        [credential] = [c for c in api("陈静", "GET", "/v1/credentials") if c["purpose"] == "signature"]
        for _ in range(5):
            answer = api.http.post(
                f"/v1/credentials/{credential['id']}/sessions",
                json={"pin": "000000", "max_signatures": 1, "ttl_seconds": 60},
                headers=server.headers("陈静"),
            )
            assert answer.status_code in (403, 423), answer.text
        assert api("陈静", "GET", f"/v1/credentials/{credential['id']}")["status"] == "locked"

        me = _admin(browser, server, passwords, PHONE)
        me.goto("/admin")
        assert me.page.locator("[data-count=locked]").count() == 1
        me.goto("/admin/officials")
        held = me.page.locator(f"[data-credential='{credential['id']}']")
        assert held.get_attribute("data-status") == "locked"
        me.check("admin-officials-locked")
        held.locator("button[data-action=unlock]").click()
        me.page.wait_for_selector('[data-notice="credential.unlock"]')
        assert me.page.locator(f"[data-credential='{credential['id']}']").get_attribute("data-status") == "active"
        assert api("陈静", "GET", f"/v1/credentials/{credential['id']}")["failed_pin_attempts"] == 0
        token = me.page.get_attribute("input[name=csrf_token]", "value") or ""
        again = me.context.request.post(
            f"{server.url}/admin/credentials/{credential['id']}/unlock", form={"csrf_token": token}, max_redirects=0
        )
        assert again.status == 409 and "not locked" in again.text()
        forged = me.context.request.post(f"{server.url}/admin/credentials/{credential['id']}/unlock", form={})
        assert forged.status == 403, "a form without its CSRF token"
        assert me.foreign() == []
        me.close()


def test_a_token_for_another_system(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = _admin(browser, server, passwords)
    me.goto("/admin/tokens")
    assert me.page.locator("[data-empty]").count() == 1, "the officials' own tokens are not listed here"
    me.page.fill("#token-name", SYSTEM)
    me.page.select_option("#token-days", "30")
    me.page.click("#token-form button[type=submit]")
    me.page.wait_for_selector("[data-token]")
    token = me.page.inner_text("[data-token]").strip()
    assert token.startswith("esk_")
    me.check("admin-token-created")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/v1/organisation", headers=bearer).status_code == 200
    row = me.page.locator("#tokens tr", has_text=SYSTEM)
    assert row.get_attribute("data-state") == "active" and row.locator("[data-scopes]").inner_text().startswith(
        "公文 ·"
    )
    row.locator("button").click()
    me.page.wait_for_selector('[data-notice="token.revoke"]')
    assert me.page.locator("#tokens tr", has_text=SYSTEM).get_attribute("data-state") == "revoked"
    assert httpx.get(f"{server.url}/v1/organisation", headers=bearer).status_code == 401
    me.page.fill("#token-name", SYSTEM)
    me.page.uncheck("input[name='scope:documents']")
    me.page.click("#token-form button[type=submit]")
    me.page.wait_for_selector("[data-refusal]")
    assert "at least one scope" in me.page.inner_text("[data-refusal]")
    assert me.foreign() == []
    me.close()


def test_the_calendar_and_route_templates(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    day = today() + timedelta(days=40)
    me = _admin(browser, server, passwords)
    me.goto("/admin/calendar")
    me.page.fill("#calendar-day", day.isoformat())
    me.page.check("input[name=working][value='0']")
    me.page.fill("#calendar-note", "防汛调休")
    me.page.click("#calendar-form button[type=submit]")
    me.page.wait_for_selector('[data-notice="calendar.set"]')
    row = me.page.locator(f"#overrides tr[data-day='{day.isoformat()}']")
    assert row.get_attribute("data-working") == "false" and "防汛调休" in row.inner_text()
    with Api(server) as api:
        assert api("王芳", "GET", f"/v1/calendar/{day.isoformat()}")["working"] is False

    me.goto("/admin/templates")
    me.page.fill("#template-name", "督查通知")
    me.page.fill("#template-definition", '{"stages": [{"name": "核稿", "steps": []}]')
    me.page.click("#template-form button[type=submit]")
    me.page.wait_for_selector("[data-refusal]")
    assert "not JSON" in me.page.inner_text("[data-refusal]")
    me.page.fill("#template-definition", json.dumps({"stages": [{"name": "核稿", "steps": [{"kind": "nap"}]}]}))
    me.page.click("#template-form button[type=submit]")
    me.page.wait_for_selector("[data-refusal]")
    assert "definition: stages.0.steps.0" in me.page.inner_text("[data-refusal]")
    assert me.page.input_value("#template-name") == "督查通知", "the form keeps what was typed"
    me.check("admin-template-refused")
    review = {"kind": "review", "assignee": {"role": "leader"}}
    for _ in range(2):
        me.page.fill("#template-name", "督查通知")
        me.page.fill("#template-definition", json.dumps({"stages": [{"name": "核稿", "steps": [review]}]}))
        me.page.click("#template-form button[type=submit]")
        me.page.wait_for_selector('[data-notice="template.save"]')
    versions = me.page.locator("li[data-name='督查通知']")
    assert versions.count() == 2
    shown = json.loads(versions.first.locator("pre").text_content() or "")
    assert shown == {"stages": [{"name": "核稿", "steps": [review], "quorum": "all"}]}, "as typed, without nulls"
    me.page.locator("li[data-name='督查通知'][data-version='1'] button[data-action=retire]").click()
    me.page.wait_for_selector('[data-notice="template.retire"]')
    assert me.page.get_attribute("li[data-name='督查通知'][data-version='1']", "data-state") == "retired"
    with Api(server) as api:
        listed = [t for t in api("王芳", "GET", "/v1/route-templates") if t["name"] == "督查通知"]
        assert [t["version"] for t in listed] == [2]
    assert me.foreign() == []
    me.close()


def test_webhooks_and_their_deliveries(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = _admin(browser, server, passwords)
    me.goto("/admin/webhooks")
    me.page.fill("#webhook-url", "http://127.0.0.1/hook")
    me.page.click("#webhook-form button[type=submit]")
    me.page.wait_for_selector("[data-refusal]")
    assert "loopback" in me.page.inner_text("[data-refusal]")
    me.page.fill("#webhook-url", HOOK)
    me.page.fill("#webhook-events", "document.* receipt.received")
    me.page.click("#webhook-form button[type=submit]")
    me.page.wait_for_selector("[data-secret]")
    assert me.page.inner_text("[data-secret]").strip()
    subscription = me.page.locator("li[data-subscription]", has_text=HOOK).get_attribute("data-subscription")
    with Api(server) as api:
        api("张伟", "POST", f"/v1/webhooks/{subscription}/test")
    me.page.click(f"li[data-subscription='{subscription}'] a >> nth=1")
    me.page.wait_for_selector("#deliveries")
    assert "webhook.test" in me.page.inner_text("#deliveries")
    me.goto("/admin/webhooks")
    me.page.click(f"li[data-subscription='{subscription}'] button[data-action=disable]")
    me.page.wait_for_selector('[data-notice="webhook.disable"]')
    assert me.page.get_attribute(f"li[data-subscription='{subscription}']", "data-state") == "disabled"
    assert me.goto("/admin/webhooks/no-such-subscription").status == 404
    assert me.foreign() == []
    me.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_every_admin_page_at_both_widths(
    server: Served, browser: Any, passwords: dict[str, str], viewport: dict[str, int]
) -> None:
    """After the tests above, so that every list has something in it."""
    me = _admin(browser, server, passwords, viewport)
    assert me.page.locator("header a[href='/admin']").count() == 1
    for path in PAGES:
        answer = me.goto(path)
        assert answer.status == 200, path
        if path == "/admin/templates":
            me.page.click("li[data-template] details summary >> nth=0")
        name = "admin" + path.removeprefix("/admin").replace("/", "-")
        me.check(name)
    me.goto("/admin/webhooks")
    me.page.click("li[data-subscription] a >> nth=1")
    me.page.wait_for_selector("#deliveries")
    me.check("admin-webhook-deliveries")
    me.goto("/admin?lang=en")
    assert me.page.inner_text("h1") == "Administration"
    me.goto("/admin?lang=zh")
    assert me.page.inner_text("h1") == "系统管理"
    assert me.foreign() == []
    me.close()
