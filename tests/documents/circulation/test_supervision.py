"""督办 through HTTP: the hierarchy, the three-colour list (own and subordinate bodies), urging, extending and
reassigning, and comments that leave a step open."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from documents.circulation.calendar import today
from documents.circulation.model import Step
from esign.db import Database
from esign.errors import InvalidInput
from esign.identity import Actor
from esign.outbox import OutboxEvent
from keys import hierarchy
from keys.hierarchy import Level
from tests.conftest import make_pdf
from tests.world import World


def _routed(
    api: TestClient, headers: dict[str, str], title: str, assignee: dict[str, str], kind: str = "review"
) -> tuple[str, str]:
    """A document on a one-step review route; (document id, step id)."""
    document = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "direction": "outgoing"},
        files={"file": ("d.pdf", make_pdf(text=title), "application/pdf")},
    ).json()["id"]
    route = {"definition": {"stages": [{"name": "核稿", "steps": [{"kind": kind, "assignee": assignee}]}]}}
    assert api.post(f"/v1/documents/{document}/route", headers=headers, json=route).status_code == 201
    [step] = api.get(f"/v1/documents/{document}/timeline", headers=headers).json()[-1:]
    return document, step["detail"]["step_id"]


def _due(db: Database, step_id: str, days: int) -> None:
    with db.transaction() as session:
        session.execute(update(Step).where(Step.id == step_id).values(due_on=today() + timedelta(days=days)))


def _listed(api: TestClient, headers: dict[str, str], **params: object) -> dict[str, dict]:
    response = api.get("/v1/supervision", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return {s["step_id"]: s for s in response.json()["steps"]}


def test_a_district_sees_its_bureaus_overdue_work_but_not_their_documents(
    api: TestClient, world: World, db: Database
) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    with db.transaction() as session:
        hierarchy.place(session, actor=Actor.operator(a.id), organisation_id=a.id, parent_id=None, level=Level.COUNTY)
        hierarchy.place(session, actor=Actor.operator(b.id), organisation_id=b.id, parent_id=a.id, level=Level.TOWNSHIP)
        with pytest.raises(InvalidInput, match="under itself"):
            hierarchy.place(session, actor=Actor.operator(a.id), organisation_id=a.id, parent_id=b.id, level=None)
    directory = {o["id"]: o for o in api.get("/v1/organisations", headers=a.members["clerk"].headers).json()}
    assert (directory[b.id]["parent_id"], directory[b.id]["level"]) == (a.id, "township")

    leader = a.members["leader"].headers
    late, late_step = _routed(
        api, a.members["clerk"].headers, "关于督办事项的请示", {"official_id": a.members["official"].official_id}
    )
    _, soon_step = _routed(api, a.members["clerk"].headers, "今日到期的函", {"role": "clerk"})
    _, calm_step = _routed(api, a.members["clerk"].headers, "尚早的通知", {"role": "clerk"})
    theirs, their_step = _routed(
        api, b.members["clerk"].headers, "街道的报告", {"official_id": b.members["official"].official_id}
    )
    _due(db, late_step, -1)
    _due(db, soon_step, 0)
    _due(db, calm_step, 30)
    _due(db, their_step, -2)

    own = _listed(api, leader)
    assert {k: v["colour"] for k, v in own.items()} == {late_step: "red", soon_step: "yellow"}
    assert own[late_step]["title"] == "关于督办事项的请示" and own[late_step]["assignee_official_name"] == "A-official"
    assert _listed(api, leader, include_green=True)[calm_step]["colour"] == "green"
    with_bureaus = _listed(api, leader, subordinates=True)
    assert list(with_bureaus) == [their_step, late_step, soon_step], "soonest due first"
    assert (
        with_bureaus[their_step] | {"title": None, "number": None, "own": False, "organisation_name": b.name}
        == with_bureaus[their_step]
    )
    assert late_step not in _listed(api, b.members["leader"].headers, subordinates=True), "not upwards"
    assert api.get(f"/v1/documents/{theirs}", headers=leader).status_code == 404, "work, not content"
    assert api.post(f"/v1/steps/{their_step}/urge", headers=leader, json={}).status_code == 404, "acts stay theirs"
    assert api.get("/v1/supervision", headers=a.members["official"].headers).status_code == 403

    period = {"from": today().isoformat(), "to": today().isoformat()}
    figures = api.get("/v1/stats/organisations", headers=leader, params=period).json()
    assert [(f["organisation"], f["own"], f["overdue_now"]) for f in figures] == [(a.name, True, 1), (b.name, False, 1)]
    assert [
        f["organisation"]
        for f in api.get("/v1/stats/organisations", headers=b.members["leader"].headers, params=period).json()
    ] == [b.name]
    assert api.get("/v1/stats/organisations", headers=a.members["official"].headers, params=period).status_code == 403
    csv = api.get("/v1/stats/organisations", headers=leader, params=period | {"format": "csv"}).text
    assert csv.splitlines()[0].startswith("organisation_id,organisation,own,steps_completed") and b.name in csv
    assert api.get(f"/v1/documents/{late}", headers=world.orgs["B"].members["leader"].headers).status_code == 404


def test_urge_extend_reassign_and_comment(api: TestClient, world: World, db: Database) -> None:
    a = world.orgs["A"]
    leader, official, clerk = a.members["leader"], a.members["official"], a.members["clerk"]
    document, step = _routed(api, clerk.headers, "关于催办的函", {"official_id": official.official_id})
    _due(db, step, -1)

    urged = api.post(f"/v1/steps/{step}/urge", headers=leader.headers, json={"message": "请今日办结"})
    assert urged.status_code == 201, urged.text
    again = api.post(f"/v1/steps/{step}/urge", headers=leader.headers, json={})
    assert again.status_code == 409 and "urge it again after" in again.json()["message"]
    assert api.post(f"/v1/steps/{step}/urge", headers=official.headers, json={}).status_code == 403
    with db.transaction() as session:
        sent = session.scalar(
            select(func.count()).where(OutboxEvent.type == "step.urged", OutboxEvent.subject == f"step:{step}")
        )
    assert sent == 1
    assert _listed(api, leader.headers)[step]["urges"] == 1

    for body, named in [
        ({"due_on": (today() + timedelta(days=5)).isoformat()}, "reason"),
        ({"due_on": (today() - timedelta(days=5)).isoformat(), "reason": "材料未齐"}, "due_on"),
    ]:
        refused = api.post(f"/v1/steps/{step}/extend", headers=leader.headers, json=body)
        assert refused.status_code == 422 and named in refused.text, refused.text
    later = today() + timedelta(days=10)
    extended = api.post(
        f"/v1/steps/{step}/extend", headers=leader.headers, json={"due_on": later.isoformat(), "reason": "材料未齐"}
    )
    assert extended.status_code == 200 and extended.json()["due_on"] == later.isoformat(), extended.text
    assert step not in _listed(api, leader.headers), "on time again"

    noted = api.post(f"/v1/steps/{step}/comments", headers=official.headers, json={"text": "已联系经办人"})
    assert noted.status_code == 201, noted.text
    assert api.post(f"/v1/steps/{step}/comments", headers=clerk.headers, json={"text": "x"}).status_code == 403
    [still] = [s for s in api.get("/v1/inbox", headers=official.headers).json()["steps"] if s["id"] == step]
    assert still["state"] == "open", "a comment leaves the step open"

    _, signing = _routed(api, clerk.headers, "待签发的函", {"official_id": leader.official_id}, kind="sign_off")
    unfit = {"assignee": {"official_id": official.official_id}, "reason": "领导出差"}
    refused = api.post(f"/v1/steps/{signing}/reassign", headers=leader.headers, json=unfit)
    assert refused.status_code == 422 and "lacks the leader role" in refused.text, refused.text
    moved = api.post(
        f"/v1/steps/{step}/reassign",
        headers=leader.headers,
        json={"assignee": {"role": "clerk"}, "reason": "经办人出差"},
    )
    assert moved.status_code == 201, moved.text
    assert moved.json()["assignee_role"] == "clerk" and moved.json()["due_on"] == later.isoformat()
    assert not [
        s for s in api.get("/v1/inbox", headers=official.headers).json()["steps"] if s["document_id"] == document
    ]
    assert api.post(f"/v1/steps/{step}/urge", headers=leader.headers, json={}).status_code == 409, "closed by the move"

    timeline = api.get(f"/v1/documents/{document}/timeline", headers=clerk.headers).json()
    events = [
        (e["type"], e["by_name"], e["detail"]["text"])
        for e in timeline
        if e["type"].startswith("step.") and e["type"] != "step.opened"
    ]
    assert events == [
        ("step.urge", "A-leader", "请今日办结"),
        ("step.extend", "A-leader", "材料未齐"),
        ("step.comment", "A-official", "已联系经办人"),
        ("step.reassign", "A-leader", "经办人出差"),
    ]
    day = today().isoformat()
    figures = api.get("/v1/stats/departments", headers=leader.headers, params={"from": day, "to": day}).json()
    [mine] = [f for f in figures if f["department_id"] == official_department(world)]
    assert (mine["urges"], mine["extensions"]) == (1, 1)


def official_department(world: World) -> str:
    return world.orgs["A"].department_id
