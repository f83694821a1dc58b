"""The document register (``GET /v1/documents``): filters, cursor paging, overdue work, and its organisation only."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import update

from documents.circulation.calendar import today
from documents.circulation.model import Step
from esign.db import Database
from tests.conftest import make_pdf
from tests.world import World


def _upload(
    api: TestClient, headers: dict[str, str], title: str, kind: str = "notice", direction: str = "outgoing"
) -> str:
    response = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "kind": kind, "direction": direction},
        files={"file": ("d.pdf", make_pdf(text=title), "application/pdf")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _ids(api: TestClient, headers: dict[str, str], **params: object) -> list[str]:
    response = api.get("/v1/documents", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["documents"]]


def test_filters_paging_overdue_and_scope(api: TestClient, world: World, db: Database) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    clerk, official = a.members["clerk"], a.members["official"]
    budget = _upload(api, clerk.headers, "关于2027年预算编制的通知")
    flood = _upload(api, clerk.headers, "关于做好防汛工作的请示", kind="request")
    report = _upload(api, clerk.headers, "防汛物资储备情况的报告", kind="report", direction="incoming")
    newest_first = [report, flood, budget]
    assert _ids(api, clerk.headers) == newest_first
    assert _ids(api, b.members["clerk"].headers) == [], "another organisation sees none of A's documents"

    assert _ids(api, clerk.headers, q="防汛") == [report, flood]
    assert _ids(api, clerk.headers, q="防汛 报告") == [report], "every word must occur"
    assert _ids(api, clerk.headers, q="100%_") == [], "LIKE wildcards are taken literally"
    assert _ids(api, clerk.headers, kind="request") == [flood]
    assert _ids(api, clerk.headers, direction="incoming") == [report]
    assert _ids(api, clerk.headers, state="draft", direction="outgoing") == [flood, budget]
    day = today().isoformat()
    assert _ids(api, clerk.headers, created_from=day, created_to=day) == newest_first
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert _ids(api, clerk.headers, created_from=tomorrow) == []

    seen, cursor = [], None
    while True:
        page = api.get(
            "/v1/documents", headers=clerk.headers, params={"limit": 1, **({"cursor": cursor} if cursor else {})}
        )
        seen += [d["id"] for d in page.json()["documents"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first, "one page at a time, each document once"

    route = {
        "definition": {
            "stages": [
                {"name": "核稿", "steps": [{"kind": "review", "assignee": {"official_id": official.official_id}}]}
            ]
        }
    }
    assert api.post(f"/v1/documents/{flood}/route", headers=clerk.headers, json=route).status_code == 201
    assert _ids(api, clerk.headers, overdue=True) == []
    with db.transaction() as session:
        session.execute(update(Step).where(Step.document_id == flood).values(due_on=today() - timedelta(days=1)))
    assert _ids(api, clerk.headers, overdue=True) == [flood]
    assert _ids(api, clerk.headers, overdue=False) == [report, budget]
    [entry] = api.get("/v1/documents", headers=clerk.headers, params={"overdue": True}).json()["documents"]
    assert entry["overdue"] is True and entry["next_due_on"] == (today() - timedelta(days=1)).isoformat()
    assert entry["title"] == "关于做好防汛工作的请示" and entry["sender"] is None


def test_bad_queries_get_a_422_that_names_the_problem(api: TestClient, world: World) -> None:
    headers = world.orgs["A"].members["clerk"].headers
    for params, named in [
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"created_from": "2026-02-02", "created_to": "2026-02-01"}, "created_from"),
        ({"state": "lost"}, "state"),
        ({"limit": 0}, "limit"),
        ({"q": "一 二 三 四 五 六"}, "words"),
    ]:
        response = api.get("/v1/documents", headers=headers, params=params)
        assert response.status_code == 422 and named in response.text, (params, response.text)
    assert api.get("/v1/documents").status_code == 401
