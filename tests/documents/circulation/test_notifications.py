"""Notifications (通知): written by the outbox fan-out in the transaction of the event they announce, for the
step's assignee (assigned, returned, urged, due soon, overdue) and the author of a request that was replied to;
listed and marked read by the official they are for, and by nobody else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from documents.circulation import interventions, notifications, sweeps
from documents.circulation.calendar import today
from documents.circulation.notifications import Notification
from esign.db import Database
from esign.errors import Forbidden
from esign.identity import Actor, Role
from tests.conftest import make_pdf
from tests.world import World, actor_for


def _route(api: TestClient, headers: dict[str, str], title: str, *assignees: str) -> tuple[str, list[str]]:
    """A document on a route of one review stage per assignee; (document id, the open step ids)."""
    document = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "direction": "outgoing"},
        files={"file": ("d.pdf", make_pdf(text=title), "application/pdf")},
    ).json()["id"]
    stages = [
        {"name": f"核稿{n}", "steps": [{"kind": "review", "assignee": {"official_id": official}}]}
        for n, official in enumerate(assignees)
    ]
    assert (
        api.post(
            f"/v1/documents/{document}/route", headers=headers, json={"definition": {"stages": stages}}
        ).status_code
        == 201
    )
    return document, _open_steps(api, headers, document)


def _open_steps(api: TestClient, headers: dict[str, str], document: str) -> list[str]:
    timeline = api.get(f"/v1/documents/{document}/timeline", headers=headers).json()
    opened = [e["detail"]["step_id"] for e in timeline if e["type"] == "step.opened"]
    return opened


def _mine(api: TestClient, headers: dict[str, str], **params: object) -> dict:
    response = api.get("/v1/notifications", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def test_assignment_return_and_urge_notify_the_assignee_only(api: TestClient, world: World, db: Database) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    clerk, official, leader = a.members["clerk"], a.members["official"], a.members["leader"]
    document, [first] = _route(api, clerk.headers, "关于通知的函", official.official_id, leader.official_id)

    told = _mine(api, official.headers)
    assert told["unread"] == 1
    [assigned] = told["items"]
    assert (assigned["kind"], assigned["document_id"], assigned["step_id"], assigned["title"]) == (
        "assigned",
        document,
        first,
        "关于通知的函",
    )
    assert _mine(api, leader.headers)["unread"] == 0, "the second stage is not open yet"

    assert (
        api.post(f"/v1/steps/{first}/complete", headers=official.headers, json={"opinion": "同意"}).status_code == 200
    )
    [second] = [s for s in _open_steps(api, clerk.headers, document) if s != first][-1:]
    assert [n["kind"] for n in _mine(api, leader.headers)["items"]] == ["assigned"]

    returned = api.post(f"/v1/steps/{second}/return", headers=leader.headers, json={"opinion": "请修改", "to_stage": 0})
    assert returned.status_code == 200, returned.text
    kinds = [n["kind"] for n in _mine(api, official.headers)["items"]]
    assert kinds == ["returned", "assigned"], "newest first"
    [again] = [n["step_id"] for n in _mine(api, official.headers)["items"] if n["kind"] == "returned"]

    urged = api.post(f"/v1/steps/{again}/urge", headers=leader.headers, json={"message": "请今日办结"})
    assert urged.status_code == 201, urged.text
    mine = _mine(api, official.headers)
    assert mine["unread"] == 3
    assert (mine["items"][0]["kind"], mine["items"][0]["message"]) == ("urged", "请今日办结")

    # Nobody else lists or marks them: another official, another organisation's official.
    ids = [n["id"] for n in mine["items"]]
    for other in (a.members["custodian"], b.members["official"]):
        assert _mine(api, other.headers)["items"] == []
        marked = api.post("/v1/notifications/read", headers=other.headers, json={"ids": ids})
        assert marked.json() == {"marked": 0, "unread": 0}
        assert api.post("/v1/notifications/read", headers=other.headers, json={}).json()["marked"] == 0
    assert _mine(api, official.headers)["unread"] == 3

    hostile = api.post("/v1/notifications/read", headers=official.headers, json={"ids": ["a\u0000b", ids[0][:-1]]})
    assert hostile.status_code == 422 and _mine(api, official.headers)["unread"] == 3
    with db.transaction() as session:
        actor = actor_for(a.id, official.official_id, official.roles)
        assert notifications.mark_read(session, actor=actor, ids=["a\x00b"]) == 0

    one = api.post("/v1/notifications/read", headers=official.headers, json={"ids": [ids[0]]})
    assert one.json() == {"marked": 1, "unread": 2}
    assert [n["id"] for n in _mine(api, official.headers, unread_only=True)["items"]] == ids[1:]
    assert api.post("/v1/notifications/read", headers=official.headers, json={}).json() == {"marked": 2, "unread": 0}
    assert all(n["read_at"] for n in _mine(api, official.headers)["items"])


def test_nothing_is_notified_for_a_change_that_rolled_back(api: TestClient, world: World, db: Database) -> None:
    a = world.orgs["A"]
    official, leader = a.members["official"], a.members["leader"]
    _, [step] = _route(api, a.members["clerk"].headers, "回滚的催办", official.official_id)
    actor = Actor(
        organisation_id=a.id,
        official_id=leader.official_id,
        system_name=None,
        roles=frozenset({Role.LEADER, Role.OFFICIAL}),
        scopes=frozenset(),
    )
    with pytest.raises(RuntimeError), db.transaction() as session:
        interventions.urge(session, actor=actor, step_id=step, message="马上办", interval=timedelta(0))
        assert session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "urged")) == 1
        raise RuntimeError("the request failed after the urge")
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "urged")) == 0
    assert [n["kind"] for n in _mine(api, official.headers)["items"]] == ["assigned"]


def test_sweeps_tell_the_assignee_a_step_falls_due_and_is_overdue(api: TestClient, world: World, db: Database) -> None:
    a = world.orgs["A"]
    official = a.members["official"]
    _, [step] = _route(api, a.members["clerk"].headers, "到期提醒", official.official_id)
    later = today() + timedelta(days=40)
    assert sweeps.remind(db, today=later) >= 1
    assert sweeps.escalate(db, today=later) >= 1
    items = _mine(api, official.headers)["items"]
    assert [(n["kind"], n["step_id"]) for n in items] == [("overdue", step), ("due_soon", step), ("assigned", step)]


def test_notifications_are_an_officials_own(world: World, db: Database) -> None:
    """An actor who is not an official (the operator, a system) has none to list or mark."""
    system = Actor.system(world.orgs["A"].id, "intake")
    with db.transaction() as session:
        assert notifications.unread_count(session, actor=system) == 0
        with pytest.raises(Forbidden):
            notifications.list_notifications(session, actor=system)
        with pytest.raises(Forbidden):
            notifications.mark_read(session, actor=system, ids=None)
