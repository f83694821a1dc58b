"""Working days on the Chinese official calendar, and overrides that move a due date."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient

from documents.circulation import calendar as cal
from documents.circulation.calendar import WorkingCalendar
from tests.conftest import make_pdf
from tests.world import World


@pytest.mark.parametrize(
    ("opened", "days", "due"),
    [
        (date(2026, 9, 30), 2, date(2026, 10, 9)),
        (date(2026, 9, 30), 7, date(2026, 10, 15)),
        (date(2026, 9, 30), 5, date(2026, 10, 13)),
        (date(2026, 9, 18), 1, date(2026, 9, 20)),
        (date(2026, 11, 20), 1, date(2026, 11, 23)),
        (date(2026, 11, 23), 0, date(2026, 11, 23)),
    ],
)
def test_deadlines_count_working_days_after_the_opening_day(opened: date, days: int, due: date) -> None:
    assert WorkingCalendar().add_working_days(opened, days) == due


def test_make_up_days_and_holidays() -> None:
    calendar = WorkingCalendar()
    assert calendar.is_working_day(date(2026, 9, 20)), "Sunday 2026-09-20 is a make-up working day"
    assert calendar.is_working_day(date(2026, 10, 10)), "Saturday 2026-10-10 is a make-up working day"
    assert not calendar.is_working_day(date(2026, 10, 1)) and not calendar.is_working_day(date(2026, 10, 7))
    assert not calendar.is_working_day(date(2026, 9, 25)), "Mid-Autumn Festival"
    assert calendar.working_days_between(date(2026, 9, 30), date(2026, 10, 9)) == 2


def test_an_override_moves_a_due_date(api: TestClient, world: World) -> None:
    a = world.orgs["A"]
    admin, clerk, official = a.members["admin"], a.members["clerk"], a.members["official"]
    assert api.get("/v1/calendar/2026-10-09", headers=clerk.headers).json()["working"] is True
    assert (
        api.post(
            "/v1/calendar/overrides", headers=clerk.headers, json={"day": "2026-10-09", "working": False}
        ).status_code
        == 403
    )
    response = api.post(
        "/v1/calendar/overrides",
        headers=admin.headers,
        json={"day": "2026-10-09", "working": False, "note": "本地调整"},
    )
    assert response.status_code == 200 and response.json()["scope"] == a.id
    assert api.get("/v1/calendar/2026-10-09", headers=clerk.headers).json()["working"] is False
    assert (
        api.get("/v1/calendar/2026-10-09", headers=world.orgs["B"].members["clerk"].headers).json()["working"] is True
    )

    today = cal.today()
    first = WorkingCalendar().add_working_days(today, 1)
    unchanged = WorkingCalendar().add_working_days(today, 2)
    response = api.post(
        "/v1/calendar/overrides", headers=admin.headers, json={"day": first.isoformat(), "working": False}
    )
    assert response.status_code == 200
    document = api.post(
        "/v1/documents", headers=clerk.headers, files={"file": ("d.pdf", make_pdf(), "application/pdf")}
    ).json()["id"]
    started = api.post(
        f"/v1/documents/{document}/route",
        headers=clerk.headers,
        json={
            "definition": {
                "stages": [{"steps": [{"kind": "information", "assignee": {"official_id": official.official_id}}]}]
            }
        },
    )
    assert started.status_code == 201, started.text
    [step] = api.get("/v1/inbox", headers=official.headers).json()["steps"]
    moved = WorkingCalendar({first: False}).add_working_days(today, 2)
    assert step["due_on"] == moved.isoformat() and moved > unchanged
