"""The README's circulation walk-through done in the browser, across two organisations, by the officials who do it:
王芳 drafts the notice at 示府办 and starts it on the office's outgoing route; 李强 reviews; 法规处 and 综合处
countersign in parallel; 孙磊 signs it off with his PIN; 王芳 registers it (the number it gets is shown); 赵敏 seals
it with her PIN; 王芳 dispatches it to 示例县人民政府. At the county, 周杰 sees it arrive verified and signs for it,
registers and proposes; 吴倩 instructs 发展改革局, handles it there, reads it; 周杰 closes the file. The final PDF
then verifies valid on the verification page.

Everything is done on the pages, the route too (built by hand in the drafting form). Each official uses the page
at the width they would: some at 1280 pixels, some on a phone.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from esign.db import Database
from tests.api.served import Served, served
from tests.web.browser import DESKTOP, PHONE, Api, Session, demo_passwords, drop

ROOT = Path(__file__).resolve().parents[2]
_NOTICE = json.loads((ROOT / "docs" / "examples" / "notice.json").read_text(encoding="utf-8"))["content"]
TITLE = "关于开展电子公文流转试点工作的通知"
BODY = "为提高公文流转效率，决定开展电子公文流转试点工作。\n# 试点范围\n市人民政府办公室、示例县人民政府。"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database]) -> Iterator[Served]:
    with served(tmp_path_factory.mktemp("walkthrough"), new_database, init=True) as instance:
        yield instance


ROUTE = (
    ("核稿", "review", ("李强",)),
    ("会签", "countersign", ("法规处", "综合处")),
    ("签发", "sign_off", ("孙磊",)),
    ("登记", "registration", ("role:clerk",)),
    ("用印", "seal", ("role:seal_custodian",)),
    ("分发", "dispatch", ("role:clerk",)),
)
"""The office's outgoing route as 王芳 builds it in the drafting form: stage, kind of step, assignees (by name, or
a role's option value)."""


class Officials:
    def __init__(self, browser: Any, server: Served) -> None:
        self.browser, self.server = browser, server
        self.passwords = demo_passwords(server)

    def session(self, login: str, viewport: dict[str, int] = DESKTOP) -> Session:
        me = Session(self.browser, self.server, viewport)
        me.sign_in(login, self.passwords[login])
        me.page.wait_for_selector("[data-open-steps]")
        return me

    def act(
        self,
        login: str,
        document_id: str,
        *,
        viewport: dict[str, int] = DESKTOP,
        opinion: str | None = None,
        pin: str | None = None,
        pad: bool = False,
        before: Callable[[Session], None] | None = None,
        shot: str | None = None,
    ) -> Session:
        """``login`` opens the document from their inbox and approves their step; the session, on the page after."""
        me = self.session(login, viewport)
        me.page.click("header a[href='/inbox']")
        me.page.click(f"a[data-title][href='/documents/{document_id}']")
        me.page.wait_for_selector("[data-acting]")
        if before is not None:
            before(me)
        if shot is not None:
            me.check(shot)
        if opinion is not None:
            me.page.fill("#opinion", opinion)
        if pin is not None and pad:
            for digit in pin:  # on the PIN pad, whose keys are shuffled on each page
                me.page.click(f".pinpad .key[aria-label='{digit}']")
            assert me.page.input_value("#pin") == pin
        elif pin is not None:
            me.page.fill("#pin", pin)
        me.page.click("#approve-form [data-action=approve]")
        me.page.wait_for_selector('[data-notice="approve"]')
        assert me.foreign() == []
        return me


def test_the_walkthrough_across_two_organisations(server: Served, browser: Any) -> None:
    people = Officials(browser, server)

    clerk = people.session("wangfang")
    clerk.page.click("header a[href='/drafts/new']")
    clerk.page.fill("#title", TITLE)
    clerk.page.fill("#recipients", "示例县人民政府")
    clerk.page.fill("#body", BODY)
    clerk.page.wait_for_selector("#draft-preview figure.page")
    clerk.page.click(".route-builder summary")
    for n, (name, kind, assignees) in enumerate(ROUTE, start=1):
        clerk.page.fill(f"#stage{n}_name", name)
        clerk.page.select_option(f"#stage{n}_kind", kind)
        for k, assignee in enumerate(assignees, start=1):
            chosen = {"value": assignee} if assignee.startswith("role:") else {"label": assignee}
            clerk.page.select_option(f"#stage{n}_to{k}", **chosen)
    clerk.page.click("#draft-form button[value=create]")
    clerk.page.wait_for_url(re.compile(r".*/documents/[0-9a-f-]+\?done=drafted$"))
    doc = clerk.page.url.split("/documents/")[1].split("?")[0]
    clerk.close()

    people.act("liqiang", doc, opinion="文字已核").close()
    people.act("chenjing", doc, opinion="无意见", viewport=PHONE).close()
    people.act("liuyang", doc, opinion="同意").close()
    leader = people.act(
        "sunlei", doc, opinion="同意印发", pin="123456", pad=True, viewport=PHONE, shot="walkthrough-sign-off"
    )
    assert leader.page.get_attribute("[data-verdict]", "data-verdict") == "valid"
    leader.close()

    registered = people.act("wangfang", doc)
    assert re.search(r"示府办〔\d{4}〕1号", registered.page.inner_text("main")), "registration shows its number"
    registered.close()
    people.act("zhaomin", doc, pin="123456").close()

    def pick_county(me: Session) -> None:
        me.page.fill("#to", "县")
        me.page.click("#find-recipients button[type=submit]")
        me.page.wait_for_selector("[data-recipients] input[type=checkbox]")
        me.page.check("[data-recipients] label:has-text('示例县人民政府') input")

    dispatched = people.act("wangfang", doc, before=pick_county)
    assert "示例县人民政府" in dispatched.page.inner_text(".timeline li[data-type='dispatch.sent']")
    dispatched.close()

    county = people.session("zhoujie")
    county.page.click("header a[href='/inbox']")
    county.page.wait_for_selector(f"a[data-title]:has-text('{TITLE}')")
    incoming = county.page.get_attribute(f"a[data-title]:has-text('{TITLE}')", "href")
    assert incoming is not None
    incoming_id = incoming.removeprefix("/documents/")
    county.goto(incoming)
    county.page.wait_for_selector("[data-acting]")
    assert county.page.get_attribute("[data-verdict]", "data-verdict") == "valid", "it arrives verified"
    assert "单位印章" in county.page.inner_text("main"), "the seal is shown verified"
    county.check("walkthrough-receipt")
    county.close()

    for login, opinion in (("zhoujie", None), ("zhoujie", None), ("zhoujie", "拟请发展改革局办理")):
        people.act(login, incoming_id, opinion=opinion).close()

    def handlers(me: Session) -> None:
        me.page.check("[data-handlers] label:has-text('发展改革局') input")

    people.act("wuqian", incoming_id, opinion="请发展改革局办理", before=handlers, viewport=PHONE).close()
    people.act("wuqian", incoming_id, opinion="已按要求落实").close()
    people.act("wuqian", incoming_id, opinion="已阅").close()
    closed = people.act("zhoujie", incoming_id, shot="walkthrough-closed")
    timeline = closed.page.inner_text(".timeline")
    for said in ("拟请发展改革局办理", "请发展改革局办理", "已按要求落实", "已阅"):
        assert said in timeline
    closed.close()

    with Api(server) as api:
        final = api.http.get(f"/v1/documents/{doc}/pdf", headers=server.headers("王芳"))
        assert final.status_code == 200
        sent = api("王芳", "GET", f"/v1/documents/{doc}/timeline")
    assert "dispatch.receipt" in {e["type"] for e in sent}, "the receipt came back"

    clerk = Session(browser, server, PHONE)
    clerk.goto("/verify")
    drop(clerk.page, "sealed.pdf", final.content)
    clerk.page.wait_for_selector("[data-verdict]")
    assert clerk.page.get_attribute("[data-verdict]", "data-verdict") == "valid"
    shown = clerk.page.inner_text("main")
    assert "孙磊" in shown and "单位印章" in shown and re.search(r"示府办〔\d{4}〕1号", shown)
    clerk.check("walkthrough-verified")
    assert clerk.foreign() == []
    clerk.close()


def test_a_misdirected_step_is_sent_on_and_then_delegated(server: Served, browser: Any) -> None:
    """综合处 received a step that is 法规处's: 李强 sends it on (回流) with why; 陈静 of 法规处 hands it to 王芳."""
    with Api(server) as api:
        departments = {d["name"]: d["id"] for d in api("王芳", "GET", "/v1/departments")}
        notice = {"content": {**_NOTICE, "title": "关于规范性文件备案审查的通知"}}
        document = api("王芳", "POST", "/v1/documents", notice)
        handling = {"kind": "handling", "assignee": {"department_id": departments["综合处"]}}
        api(
            "王芳", "POST", f"/v1/documents/{document['id']}/route", {"definition": {"stages": [{"steps": [handling]}]}}
        )
    people = Officials(browser, server)

    me = people.session("liqiang", PHONE)
    me.goto(f"/documents/{document['id']}")
    me.page.click(".more-actions summary")
    me.check("document-send-on")
    me.page.select_option("#department_id", departments["法规处"])
    me.page.fill("#reroute-opinion", "属法规处职责")
    me.page.click("[data-action=reroute]")
    me.page.wait_for_selector('[data-notice="reroute"]')
    assert "属法规处职责" in me.page.inner_text(".timeline")
    assert me.page.locator("[data-acting]").count() == 0
    me.close()

    with Api(server) as api:
        wang = next(o["id"] for o in api("陈静", "GET", "/v1/officials") if o["name"] == "王芳")
    other = people.session("chenjing")
    other.goto(f"/documents/{document['id']}")
    other.page.click(".more-actions summary")
    assert other.page.locator("#reroute-form").count() == 1
    other.page.select_option("#official_id", wang)
    other.page.fill("#delegate-opinion", "请王芳办理")
    other.page.click("[data-action=delegate]")
    other.page.wait_for_selector('[data-notice="delegate"]')
    other.close()
    with Api(server) as api:
        assert [s["document_id"] for s in api("王芳", "GET", "/v1/inbox")["steps"]].count(document["id"]) == 1


def test_a_request_for_information_and_its_reply_are_dispatched_from_the_page(server: Served, browser: Any) -> None:
    """示府办 asks 示例县人民政府 for information (2 working days); the county's reply names the request."""

    def dispatch_only(api: Api, who: str, title: str) -> str:
        document = api(who, "POST", "/v1/documents", {"content": {**_NOTICE, "title": title}})
        stage = {"name": "分发", "steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]}
        api(who, "POST", f"/v1/documents/{document['id']}/route", {"definition": {"stages": [stage]}})
        return str(document["id"])

    people = Officials(browser, server)
    with Api(server) as api:
        asking = dispatch_only(api, "王芳", "关于报送试点进展情况的函")

    def ask_the_county(me: Session) -> None:
        me.page.fill("#to", "县")
        me.page.click("#find-recipients button[type=submit]")
        me.page.wait_for_selector("[data-recipients] input[type=checkbox]")
        me.page.check("[data-recipients] label:has-text('示例县人民政府') input")
        me.page.select_option("#reply_kind", "information")

    people.act("wangfang", asking, before=ask_the_county).close()
    with Api(server) as api:
        sent = api("王芳", "GET", f"/v1/documents/{asking}/timeline")
        assert "dispatch.sent" in {e["type"] for e in sent} and "request.replied" not in {e["type"] for e in sent}
        reply = dispatch_only(api, "周杰", "关于报送试点进展情况的复函")

    def answer(me: Session) -> None:
        chosen = me.page.locator("#in_reply_to option:has-text('关于报送试点进展情况的函')")
        me.page.select_option("#in_reply_to", chosen.get_attribute("value"))

    county = people.act("zhoujie", reply, before=answer, shot="document-reply")
    assert "示例市人民政府办公室" in county.page.inner_text(".timeline li[data-type='dispatch.sent']")
    county.close()
    with Api(server) as api:
        assert "request.replied" in {e["type"] for e in api("王芳", "GET", f"/v1/documents/{asking}/timeline")}
