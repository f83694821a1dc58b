"""The 徐汇 scenario, through HTTP, across the 2026 Spring Festival.

徐汇区政府 is above its bureaus; the food-safety joint meeting (联席会议) coordinates the market and labour bureaus
(placed above them, itself under the district); the 街道办 is under the district. The market bureau accepts an
application and asks the labour bureau (comments, 5 working days) and the sub-district office (information, 2)
for their opinions. The sub-district office answers on time; the labour bureau is late: urged twice by its
leader, escalated by the sweep. The sub-district office's food-safety report went to the labour bureau, which is
not competent (review, 7 days); the joint meeting sends it on (回流) to the market bureau, which answers within
its new limit. The market bureau issues one signed answer carrying both signed opinions. A body that is no
party sees nothing; the district sees the late work and the figures, never the documents.

The circulation clock (``documents.circulation``'s ``now``) is moved through February 2026; signatures and
time-stamps keep the real time, as the service's PKI was made at it.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import select

from documents.circulation import calendar, sweeps
from documents.records import CHINA
from esign import ids
from esign.db import Database
from esign.identity import Actor
from esign.outbox import OutboxEvent
from keys import hierarchy
from keys.hierarchy import Level
from tests.conftest import make_pdf
from tests.world import PIN, Org, World, add_org

# The official calendar as the State Council's notice on the 2026 holidays gives it: 15-23 February off, Saturday
# 14 and Saturday 28 February worked. Written out here, so the service's calendar is checked against it.
FESTIVAL = {date(2026, 2, 15) + timedelta(days=n) for n in range(9)}
MAKE_UP = {date(2026, 2, 14), date(2026, 2, 28)}


def working_days_after(day: date, n: int) -> date:
    """The n-th working day after ``day`` on the official 2026 calendar, counted by hand."""
    while n:
        day += timedelta(days=1)
        if day in MAKE_UP or (day.weekday() < 5 and day not in FESTIVAL):
            n -= 1
    return day


@dataclass
class Clock:
    """The circulation clock: ten in the morning, Beijing time, of ``day``."""

    day: date

    def now(self) -> datetime:
        return datetime.combine(self.day, time(10), CHINA).astimezone(UTC)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[Clock]:
    moved = Clock(date(2026, 2, 12))
    for name, module in list(sys.modules.items()):
        if name.startswith("documents.circulation") and getattr(module, "now", None) is ids.now:
            monkeypatch.setattr(module, "now", moved.now)
    yield moved


@dataclass
class Xuhui:
    district: Org
    joint: Org
    market: Org
    labour: Org
    street: Org
    outsider: Org


@pytest.fixture
def xuhui(world: World, db: Database) -> Xuhui:
    with db.transaction() as session:

        def org(key: str, name: str, n: int, enrol: bool) -> Org:
            return add_org(session, world.pki, world.settings, key, name, f"11310104MB{n}00000{n}", enrol=enrol)

        bodies = Xuhui(
            district=org("XH", "徐汇区人民政府", 1, False),
            joint=org("LX", "徐汇区食品安全工作联席会议办公室", 2, False),
            market=org("SJ", "徐汇区市场监督管理局", 3, True),
            labour=org("RS", "徐汇区人力资源和社会保障局", 4, True),
            street=org("JD", "徐汇区枫林路街道办事处", 5, True),
            outsider=org("CN", "长宁区市场监督管理局", 6, False),
        )
        for body, parent, level in (
            (bodies.district, None, Level.COUNTY),
            (bodies.joint, bodies.district, None),
            (bodies.market, bodies.joint, None),
            (bodies.labour, bodies.joint, None),
            (bodies.street, bodies.district, Level.TOWNSHIP),
        ):
            hierarchy.place(
                session,
                actor=Actor.operator(body.id),
                organisation_id=body.id,
                parent_id=parent.id if parent else None,
                level=level,
            )
    return bodies


# --- the story's verbs ------------------------------------------------------------------------------------------

DISPATCH = {"kind": "dispatch", "assignee": {"role": "clerk"}}
WAIT = {"name": "等待回复", "steps": [{"kind": "replies", "assignee": {"role": "clerk"}}]}
ACTS_BY = {
    "receipt": "clerk",
    "registration": "clerk",
    "proposal": "clerk",
    "instruction": "leader",
    "handling": "official",
    "reading": "leader",
    "closure": "clerk",
    "dispatch": "clerk",
    "sign_off": "leader",
    "seal": "custodian",
}


def headers(org: Org, member: str = "clerk") -> dict[str, str]:
    return org.members[member].headers


def open_step(api: TestClient, org: Org, document: str, kind: str) -> str:
    [found] = [
        s["id"]
        for s in api.get("/v1/inbox", headers=headers(org, ACTS_BY[kind])).json()["steps"]
        if s["document_id"] == document and s["kind"] == kind
    ]
    return str(found)


def act(api: TestClient, org: Org, document: str, kind: str, **body: object) -> dict:
    step = open_step(api, org, document, kind)
    done = api.post(f"/v1/steps/{step}/approve", headers=headers(org, ACTS_BY[kind]), json=body)
    assert done.status_code == 200, done.text
    return dict(done.json())


def walk(api: TestClient, org: Org, document: str, *kinds: str) -> None:
    """``org`` takes its copy of a document through these steps of its incoming route, in order."""
    for kind in kinds:
        act(api, org, document, kind, opinion="已办")


def upload(api: TestClient, org: Org, title: str, data: bytes, direction: str, key: str | None = None) -> dict:
    extra = {"Idempotency-Key": key} if key else {}
    made = api.post(
        "/v1/documents",
        headers=headers(org) | extra,
        data={"title": title, "direction": direction, "kind": "letter"},
        files={"file": ("d.pdf", data, "application/pdf")},
    )
    assert made.status_code in (200, 201), made.text
    return dict(made.json())


def sign(api: TestClient, org: Org, document: str) -> None:
    """The organisation's leader signs the document (unsigned, it would be flagged where it arrives)."""
    leader = org.members["leader"]
    signed = api.post(
        f"/v1/documents/{document}/sign",
        headers=leader.headers,
        json={"credential_id": leader.credential_id, "pin": PIN, "reason": "签发"},
    )
    assert signed.status_code == 200, signed.text


def ask(api: TestClient, org: Org, title: str, data: bytes, *asked: tuple[Org, str]) -> str:
    """``org`` sends a request to each body with its reply kind, and waits for the replies."""
    document = upload(api, org, title, data, "outgoing")["id"]
    sign(api, org, document)
    stages = [{"name": f"分发{n}", "steps": [DISPATCH]} for n, _ in enumerate(asked)]
    started = api.post(
        f"/v1/documents/{document}/route",
        headers=headers(org),
        json={"definition": {"stages": [*stages, WAIT]}},
    )
    assert started.status_code == 201, started.text
    for body, kind in asked:
        act(api, org, document, "dispatch", recipients=[body.id], reply_kind=kind)
    return str(document)


def copy_at(api: TestClient, org: Org, title: str) -> dict:
    """``org``'s copy of a document it received."""
    [found] = api.get("/v1/documents", headers=headers(org), params={"direction": "incoming", "q": title}).json()[
        "documents"
    ]
    return dict(found)


def reply(api: TestClient, org: Org, to: Org, request_title: str, title: str, text: str) -> str:
    """``org`` answers: a letter its leader signs, sent back in reply to its copy of the request."""
    content = {
        "kind": "letter",
        "issuer": org.name,
        "title": title,
        "recipients": [to.name],
        "body": [{"type": "paragraph", "text": text}],
        "date": "2026-02-12",
    }
    document = api.post("/v1/documents", headers=headers(org), json={"content": content}).json()["id"]
    sign(api, org, document)
    route = {"definition": {"stages": [{"name": "分发", "steps": [DISPATCH]}]}}
    assert api.post(f"/v1/documents/{document}/route", headers=headers(org), json=route).status_code == 201
    act(api, org, document, "dispatch", in_reply_to=copy_at(api, org, request_title)["id"])
    return str(document)


def timeline_of(api: TestClient, org: Org, document: str) -> list[dict]:
    timeline = api.get(f"/v1/documents/{document}/timeline", headers=headers(org))
    assert timeline.status_code == 200, timeline.text
    return list(timeline.json())


def types(api: TestClient, org: Org, document: str) -> list[str]:
    return [e["type"] for e in timeline_of(api, org, document)]


def supervised(api: TestClient, org: Org) -> dict:
    listed = api.get("/v1/supervision", headers=headers(org, "leader"), params={"subordinates": True})
    assert listed.status_code == 200, listed.text
    return dict(listed.json())


# --- the story --------------------------------------------------------------------------------------------------

APPLICATION = "关于开办“枫林小厨”餐饮店的申请"
REQUEST = "关于征询开办“枫林小厨”餐饮店申请意见的函"
REPORT = "关于辖区食品安全隐患的报告"


def test_the_xuhui_scenario(api: TestClient, xuhui: Xuhui, clock: Clock, db: Database) -> None:
    x = xuhui
    assert {d for d in FESTIVAL | MAKE_UP if calendar.official_working_day(d)} == MAKE_UP, "the package agrees"

    # Thursday 12 February: the market bureau accepts the application; the applicant's retry creates nothing.
    application = make_pdf(text="Application: Fenglin kitchen")
    accepted = upload(api, x.market, APPLICATION, application, "incoming", key="window-2026-0212-001")
    again = upload(api, x.market, APPLICATION, application, "incoming", key="window-2026-0212-001")
    assert again["id"] == accepted["id"]

    # It copies the application to the labour bureau (comments) and the sub-district office (information).
    request = ask(api, x.market, REQUEST, application, (x.labour, "comments"), (x.street, "information"))
    # The sub-district office's food-safety report goes to the labour bureau, which is not competent for it.
    report = ask(api, x.street, REPORT, make_pdf(text="Food safety report"), (x.labour, "review"))

    received = date(2026, 2, 12)
    at_labour, at_street = copy_at(api, x.labour, REQUEST), copy_at(api, x.street, REQUEST)
    report_at_labour = copy_at(api, x.labour, REPORT)
    assert at_street["sender"]["reply_due_on"] == working_days_after(received, 2).isoformat() == "2026-02-14"
    assert at_labour["sender"]["reply_due_on"] == working_days_after(received, 5).isoformat() == "2026-02-26"
    assert report_at_labour["sender"]["reply_due_on"] == working_days_after(received, 7).isoformat() == "2026-02-28"

    # The labour bureau signs for and registers the request; its proposal (due on the 14th) waits over the festival.
    walk(api, x.labour, at_labour["id"], "receipt", "registration")

    # Friday 13: the sub-district office signs for it, registers it, and answers; then handles and closes it.
    clock.day = date(2026, 2, 13)
    walk(api, x.street, at_street["id"], "receipt", "registration", "proposal", "instruction", "handling")
    reply(api, x.street, x.market, REQUEST, "关于“枫林小厨”选址情况的复函", "经核实，选址不在居民楼内，无异议。")
    walk(api, x.street, at_street["id"], "reading", "closure")

    # Tuesday 24, after the festival: the labour bureau's proposal is overdue; its leader urges, the sweep escalates.
    clock.day = date(2026, 2, 24)
    late_step = open_step(api, x.labour, at_labour["id"], "proposal")
    urged = api.post(f"/v1/steps/{late_step}/urge", headers=headers(x.labour, "leader"), json={"message": "请今日拟办"})
    assert urged.status_code == 201, urged.text
    assert sweeps.escalate(db, today=clock.day) >= 1
    with db.transaction() as session:
        escalated = session.scalars(select(OutboxEvent.subject).where(OutboxEvent.type == "step.overdue")).all()
    assert f"step:{late_step}" in escalated

    # The district sees its bureaus' overdue work, without the documents' titles.
    seen = supervised(api, x.district)["steps"]
    late = {(s["organisation_name"], s["document_id"]) for s in seen if s["colour"] == "red"}
    assert {(x.labour.name, at_labour["id"]), (x.labour.name, report_at_labour["id"])} <= late
    assert all(s["title"] is None and s["number"] is None for s in seen)

    # The joint meeting sees the report stuck at the labour bureau, and sends it to the market bureau.
    stuck = [s for s in supervised(api, x.joint)["steps"] if s["document_id"] == report_at_labour["id"]]
    assert stuck and stuck[0]["colour"] == "red" and stuck[0]["title"] is None
    moved = api.post(
        f"/v1/documents/{report_at_labour['id']}/forward",
        headers=headers(x.joint, "leader"),
        json={"organisation_id": x.market.id, "reason": "食品安全隐患属市场监管局职责"},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["reply_due_on"] == working_days_after(clock.day, 7).isoformat() == "2026-03-04"

    # Wednesday 25: urged again, a day later.
    clock.day = date(2026, 2, 25)
    assert api.post(f"/v1/steps/{late_step}/urge", headers=headers(x.labour, "leader"), json={}).status_code == 201
    walk(api, x.labour, at_labour["id"], "proposal", "instruction")

    # Friday 27, a day after the labour bureau's deadline: the district sees the reply awaited, not what about.
    clock.day = date(2026, 2, 27)
    awaited = [(r["recipient_name"], r["colour"], r["title"]) for r in supervised(api, x.district)["replies"]]
    assert awaited == [(x.labour.name, "red", None)]
    for document in (request, at_labour["id"], report):
        assert api.get(f"/v1/documents/{document}", headers=headers(x.district, "leader")).status_code == 404

    # The market bureau answers the report within its limit; the labour bureau answers, late.
    report_at_market = copy_at(api, x.market, REPORT)
    walk(api, x.market, report_at_market["id"], "receipt", "registration", "proposal", "instruction", "handling")
    reply(api, x.market, x.street, REPORT, "关于辖区食品安全隐患处置情况的复函", "已组织执法检查，隐患已整改。")
    walk(api, x.market, report_at_market["id"], "reading", "closure")
    walk(api, x.labour, at_labour["id"], "handling")
    reply(api, x.labour, x.market, REQUEST, "关于“枫林小厨”用工备案意见的复函", "经审核，用工备案材料齐全。")
    walk(api, x.labour, at_labour["id"], "reading", "closure")

    # The request's replies are in: the market bureau issues one answer carrying both signed opinions, signs and
    # seals it.
    assert not [
        s for s in api.get("/v1/inbox", headers=headers(x.market)).json()["steps"] if s["document_id"] == request
    ]
    letter = {
        "kind": "letter",
        "issuer": x.market.name,
        "title": "关于开办“枫林小厨”餐饮店申请的答复",
        "recipients": ["枫林小厨（筹）"],
        "body": [{"type": "paragraph", "text": "经与相关部门联合审批，现答复如下。"}],
        "date": "2026-02-27",
    }
    made = api.post(
        f"/v1/documents/{request}/answer",
        headers=headers(x.market) | {"Idempotency-Key": "answer-2026-001"},
        json={"content": letter},
    )
    assert made.status_code == 201, made.text
    answer = made.json()["id"]
    stages = [
        {"name": "签发", "steps": [{"kind": "sign_off", "assignee": {"role": "leader"}}]},
        {"name": "用印", "steps": [{"kind": "seal", "assignee": {"role": "seal_custodian"}}]},
    ]
    started = api.post(
        f"/v1/documents/{answer}/route", headers=headers(x.market), json={"definition": {"stages": stages}}
    )
    assert started.status_code == 201, started.text
    leader, custodian = x.market.members["leader"], x.market.members["custodian"]
    act(api, x.market, answer, "sign_off", opinion="同意", credential_id=leader.credential_id, pin=PIN)
    act(api, x.market, answer, "seal", credential_id=custodian.seal_id, pin=PIN)
    signed = api.get(f"/v1/documents/{answer}/pdf", headers=headers(x.market)).content
    report_of = api.get(f"/v1/documents/{answer}/verification", headers=headers(x.market)).json()
    assert report_of["valid"] and len(report_of["signatures"]) == 2, "the leader's signature and the seal"
    names = PdfFileReader(io.BytesIO(signed)).root["/Names"]["/EmbeddedFiles"]["/Names"]
    carried = [names[i + 1]["/EF"]["/F"].data for i in range(0, len(names), 2)]
    opinions = [
        api.get(f"/v1/documents/{copy_at(api, x.market, title)['id']}/pdf", headers=headers(x.market)).content
        for title in ("选址情况的复函", "用工备案意见的复函")
    ]
    assert carried == opinions, "on time first, each byte for byte"
    for data in carried:
        assert api.post("/v1/verify", files={"file": ("r.pdf", data, "application/pdf")}).json()["verdict"] == "valid"

    # Both sides' timelines are complete.
    sender = types(api, x.market, request)
    for event in (
        "dispatch.sent",
        "dispatch.receipt",
        "recipient.registered",
        "recipient.assigned",
        "recipient.handled",
        "request.replied",
        "recipient.closed",
        "request.answered",
    ):
        assert event in sender, event
    assert sender.count("recipient.closed") == 2
    assert types(api, x.labour, at_labour["id"]).count("step.urge") == 2
    assert [e["detail"]["on_time"] for e in timeline_of(api, x.street, report) if e["type"] == "request.replied"] == [
        True
    ]
    told = types(api, x.street, report)
    for event in (
        "dispatch.forwarded",
        "dispatch.receipt",
        "recipient.registered",
        "request.replied",
        "recipient.closed",
    ):
        assert event in told, event
    on_time = {
        e["detail"]["to_organisation_name"]: e["detail"]["on_time"]
        for e in timeline_of(api, x.market, request)
        if e["type"] == "request.replied"
    }
    assert on_time == {x.street.name: True, x.labour.name: False}

    # The district's figures show the late body.
    period = {"from": "2026-02-01", "to": "2026-03-31"}
    figures = api.get("/v1/stats/organisations", headers=headers(x.district, "leader"), params=period).json()
    by_name = {f["organisation"]: f for f in figures}
    assert set(by_name) == {x.district.name, x.joint.name, x.market.name, x.labour.name, x.street.name}
    assert (by_name[x.labour.name]["replies_late"], by_name[x.labour.name]["urges"]) == (1, 2)
    assert by_name[x.labour.name]["forwarded"] == 1 and by_name[x.street.name]["replies_late"] == 0
    assert by_name[x.market.name]["replies_late"] == 0

    # The district never sees the documents; a body that is no party sees nothing at all.
    for org in (x.district, x.outsider):
        for member in ("clerk", "leader"):
            for document in (request, answer, report, at_labour["id"], report_at_market["id"]):
                assert api.get(f"/v1/documents/{document}", headers=headers(org, member)).status_code == 404
                assert api.get(f"/v1/documents/{document}/timeline", headers=headers(org, member)).status_code == 404
                assert api.get(f"/v1/documents/{document}/pdf", headers=headers(org, member)).status_code == 404
            refused = api.post(
                f"/v1/documents/{request}/answer", headers=headers(org, member), json={"content": letter}
            )
            assert refused.status_code == 404
    outsider = supervised(api, x.outsider)
    assert outsider["steps"] == [] and outsider["replies"] == []
    assert [
        f["organisation"]
        for f in api.get("/v1/stats/organisations", headers=headers(x.outsider, "leader"), params=period).json()
    ] == [x.outsider.name]
