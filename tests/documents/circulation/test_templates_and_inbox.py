"""Route templates through HTTP (versions, retirement, a route started from one keeping its version) and the
inbox's cursor pagination in due-date order."""

from __future__ import annotations

from datetime import date, datetime

from fastapi.testclient import TestClient

from documents.circulation.calendar import WorkingCalendar
from documents.records import CHINA
from tests.conftest import make_pdf
from tests.world import World


def _stages(official_id: str, days: int) -> dict:
    return {
        "stages": [
            {
                "name": "审核",
                "steps": [{"kind": "review", "assignee": {"official_id": official_id}, "deadline_days": days}],
            }
        ]
    }


def _document(api: TestClient, headers: dict[str, str], title: str) -> str:
    response = api.post(
        "/v1/documents",
        headers=headers,
        data={"title": title, "direction": "outgoing"},
        files={"file": ("d.pdf", make_pdf(), "application/pdf")},
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_templates_are_versioned_retired_and_kept_by_the_routes_that_use_them(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    admin, clerk, official = a.members["admin"].headers, a.members["clerk"].headers, a.members["official"]
    body = {"name": "审核", "definition": _stages(official.official_id, 3)}
    assert api.post("/v1/route-templates", headers=clerk, json=body).status_code == 403, "administrators only"
    first = api.post("/v1/route-templates", headers=admin, json=body).json()
    second = api.post(
        "/v1/route-templates", headers=admin, json={**body, "definition": _stages(official.official_id, 9)}
    ).json()
    assert (first["version"], second["version"]) == (1, 2) and first["id"] != second["id"]

    stranger = {"name": "外单位", "definition": _stages(world.orgs["B"].members["official"].official_id, 1)}
    refused = api.post("/v1/route-templates", headers=admin, json=stranger)
    assert refused.status_code == 404, "an assignee of another organisation is unknown here"
    malformed = api.post("/v1/route-templates", headers=admin, json={"name": "坏", "definition": {"stages": []}})
    assert malformed.status_code == 422
    misspelt = {
        "name": "拼错",
        "definition": {
            "stages": [{"steps": [{"kind": "review", "assignee": {"official_id": official.official_id}, "days": 3}]}]
        },
    }
    response = api.post("/v1/route-templates", headers=admin, json=misspelt)
    assert response.status_code == 422 and "days" in response.json()["message"], response.text

    document = _document(api, clerk, "按模板审核")
    started = api.post(f"/v1/documents/{document}/route", headers=clerk, json={"template_id": first["id"]})
    assert started.status_code == 201, started.text
    assert (started.json()["template_id"], started.json()["template_version"]) == (first["id"], 1)
    [step] = [s for s in api.get("/v1/inbox", headers=official.headers).json()["steps"] if s["document_id"] == document]
    opened = datetime.fromisoformat(step["opened_at"]).astimezone(CHINA).date()
    assert date.fromisoformat(step["due_on"]) == WorkingCalendar().add_working_days(opened, 3), "version 1's 3 days"

    assert api.post(f"/v1/route-templates/{first['id']}/retire", headers=clerk).status_code == 403
    assert api.post(f"/v1/route-templates/{first['id']}/retire", headers=admin).json()["retired"] is True
    listed = [(t["name"], t["version"]) for t in api.get("/v1/route-templates", headers=clerk).json()]
    assert listed == [("审核", 2)]
    everything = api.get("/v1/route-templates?include_retired=true", headers=clerk).json()
    assert [t["version"] for t in everything] == [1, 2]
    other = _document(api, clerk, "模板已停用")
    retired = api.post(f"/v1/documents/{other}/route", headers=clerk, json={"template_id": first["id"]})
    assert retired.status_code == 409 and "retired" in retired.json()["message"]
    [still] = [
        s for s in api.get("/v1/inbox", headers=official.headers).json()["steps"] if s["document_id"] == document
    ]
    assert still["id"] == step["id"], "the route started from version 1 goes on"

    b_admin = world.orgs["B"].members["admin"].headers
    assert api.get(f"/v1/route-templates/{second['id']}", headers=b_admin).status_code == 404


def test_the_inbox_pages_by_due_date_with_a_cursor(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    clerk, official = a.members["clerk"].headers, a.members["official"]
    made = []
    for days in (5, 1, 3, 2, 4, 1, 7):
        document = _document(api, clerk, f"{days} 天")
        route = {"definition": _stages(official.official_id, days)}
        assert api.post(f"/v1/documents/{document}/route", headers=clerk, json=route).status_code == 201
        made.append(document)

    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        query = "/v1/inbox?limit=3" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(query, headers=official.headers).json()
        seen.extend(page["steps"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(seen) == 7 and {s["document_id"] for s in seen} == set(made)
    keys = [(s["due_on"], s["id"]) for s in seen]
    assert keys == sorted(keys) and len(set(keys)) == 7
    assert api.get("/v1/inbox?limit=0", headers=official.headers).status_code == 422
    assert api.get("/v1/inbox?cursor=garbage", headers=official.headers).status_code == 422
