"""Department statistics equal what a small scenario computed by hand says."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from documents import intake
from documents.circulation import (
    actions,
    calendar,
    flows,
    official_stats,
    org_stats,
    starting,
    template_stats,
    templates,
)
from documents.circulation.model import Assignee, Outcome, RouteDefinition, StageSpec, Step, StepKind, StepSpec
from documents.records import Direction, Kind
from esign import phases
from esign.blobs import blob_store_from_settings
from esign.db import Database
from esign.identity import Actor, Role, Scope
from esign.settings import Settings
from esign.trust import TrustSettings
from keys import authorities
from tests.conftest import make_pdf, uploaded
from tests.documents.circulation.conftest import Extra
from tests.documents.circulation.test_requests import DISPATCH, _outgoing, _received, _step
from tests.world import World, actor_for, add_org

NOV = {d: date(2026, 11, d) for d in range(1, 31)}


@dataclass(frozen=True)
class Seeded:
    d1: str
    d2: str
    d3: str
    d4: str
    d5: str


def _seed(world: World, extra: Extra, db: Database, db_settings: Settings) -> Seeded:
    """Five documents in A, handled in November 2026 (11-02 is a Monday); d1 and d2 from the template
    信息报送, the others from a definition."""
    org = world.orgs["A"]
    system = Actor(
        organisation_id=org.id,
        official_id=None,
        system_name="OA",
        roles=frozenset(),
        scopes=frozenset({Scope.DOCUMENTS}),
    )
    lawyer = Actor(
        organisation_id=org.id,
        official_id=extra.legal_official,
        system_name=None,
        roles=frozenset({Role.OFFICIAL}),
        scopes=frozenset(),
    )
    banker = Actor(
        organisation_id=org.id,
        official_id=extra.finance_official,
        system_name=None,
        roles=frozenset({Role.OFFICIAL}),
        scopes=frozenset(),
    )
    blobs = blob_store_from_settings(db_settings)

    def route(stages: list[StageSpec], opened: date, template: str | None = None) -> str:
        with db.transaction() as session:
            made = intake.from_upload(
                session,
                actor=system,
                blobs=blobs,
                upload=uploaded(make_pdf()),
                title="统计",
                kind=Kind.NOTICE,
                direction=Direction.OUTGOING,
            )
            starting.start(
                session,
                actor=system,
                document_id=made.id,
                definition=None if template else RouteDefinition(stages=stages),
                template_id=template,
                today=opened,
            )
            return made.id

    def act(actor: Actor, document: str, outcome: Outcome, day: date, **kw: object) -> None:
        def prepare(session: Session) -> flows.Acting:
            services = actions.Services(
                blobs=blobs, pki=authorities.load(session, db_settings), settings=db_settings, trust=TrustSettings()
            )
            [step] = [s for s in session.query(Step).filter(Step.document_id == document, Step.state == "open")]
            return flows.prepare(
                session,
                actor=actor,
                services=services,
                step_id=step.id,
                action=actions.Action(outcome=outcome, **kw),  # type: ignore[arg-type]
                today=day,
            )

        phases.run(
            db, phases.Phases(prepare, lambda session, acting: flows.record(session, actor=actor, acting=acting))
        )

    def stage(kind: StepKind, assignee: Assignee) -> StageSpec:
        return StageSpec(steps=[StepSpec(kind=kind, assignee=assignee)])

    legal, finance = Assignee(department_id=extra.legal), Assignee(department_id=extra.finance)
    with db.transaction() as session:
        informing = templates.save(
            session,
            actor=Actor.operator(org.id),
            name="信息报送",
            direction=Direction.OUTGOING,
            definition=RouteDefinition(stages=[stage(StepKind.INFORMATION, legal)]),
        ).id
    d1 = route([], NOV[2], informing)  # due 11-04
    act(lawyer, d1, Outcome.APPROVE, NOV[3])  # 1 working day, on time
    d2 = route([], NOV[2], informing)  # due 11-04
    act(lawyer, d2, Outcome.APPROVE, NOV[6])  # 4 working days, late
    d3 = route([stage(StepKind.REVIEW, finance)], NOV[2])
    act(
        banker, d3, Outcome.REROUTE, NOV[3], reroute_to=extra.legal
    )  # finance reroutes; legal's step opens 11-03, due 11-12
    act(lawyer, d3, Outcome.APPROVE, NOV[5])  # 2 working days, on time
    d4 = route([stage(StepKind.COMMENT, finance)], NOV[2])  # due 11-09, still open on 11-20: overdue
    d5 = route(
        [stage(StepKind.REVIEW, Assignee(official_id=extra.legal_official)), stage(StepKind.COMMENT, finance)], NOV[2]
    )
    act(lawyer, d5, Outcome.APPROVE, NOV[2])  # 0 working days, on time; the comment step opens 11-02
    act(
        banker, d5, Outcome.RETURN, NOV[4], return_to_stage=0
    )  # finance returns; legal's review reopens 11-04, due 11-13
    return Seeded(d1, d2, d3, d4, d5)


def test_department_figures_match_a_hand_computed_scenario(
    api: TestClient, world: World, extra: Extra, db: Database, db_settings: Settings
) -> None:
    org = world.orgs["A"]
    system = Actor(
        organisation_id=org.id,
        official_id=None,
        system_name="OA",
        roles=frozenset(),
        scopes=frozenset({Scope.DOCUMENTS}),
    )
    _seed(world, extra, db, db_settings)

    with db.transaction() as session:
        from documents.circulation import stats

        rows = {
            r.department: r for r in stats.departments(session, actor=system, start=NOV[1], end=NOV[30], today=NOV[20])
        }
    law, money, office = rows["法规处"], rows["财务处"], rows["办公室"]
    assert (law.documents_handled, law.steps_completed, law.median_days, law.p90_days, law.on_time_rate) == (
        4,
        4,
        1.5,
        4,
        0.75,
    )
    assert (law.overdue_now, law.returns, law.reroutes) == (1, 0, 0)
    assert (money.documents_handled, money.steps_completed, money.median_days, money.on_time_rate) == (0, 0, None, None)
    assert (money.overdue_now, money.returns, money.reroutes) == (1, 1, 1)
    assert (office.steps_completed, office.overdue_now) == (0, 0)

    response = api.get(
        "/v1/stats/departments",
        params={"from": "2026-11-01", "to": "2026-11-30", "format": "csv"},
        headers=org.members["admin"].headers,
    )
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    header, *lines = response.text.strip().splitlines()
    assert header.startswith("department_id,department,documents_handled") and len(lines) == 3
    json_rows = api.get(
        "/v1/stats/departments", params={"from": "2026-11-01", "to": "2026-11-30"}, headers=org.members["admin"].headers
    ).json()
    assert {r["department"]: r["documents_handled"] for r in json_rows}["法规处"] == 4


def _leader(world: World, key: str) -> Actor:
    return actor_for(world.orgs[key].id, world.orgs[key].members["leader"].official_id, (Role.LEADER, Role.OFFICIAL))


def test_official_figures_and_two_periods_compared(
    api: TestClient, world: World, extra: Extra, db: Database, db_settings: Settings
) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    seeded = _seed(world, extra, db, db_settings)
    with db.transaction() as session:
        rows = {
            r.official: r
            for r in official_stats.officials(
                session, actor=_leader(world, "A"), start=NOV[1], end=NOV[30], today=NOV[20]
            )
        }
        c = add_org(session, world.pki, world.settings, "C", "丙区市场监管局", "11440106MB3000003", enrol=False)
        [reopened] = session.scalars(select(Step.id).where(Step.document_id == seeded.d5, Step.state == "open")).all()
    assert set(rows) == {f"A-{m}" for m in ("admin", "official", "leader", "custodian", "clerk", "lawyer", "banker")}
    lawyer, banker = rows["A-lawyer"], rows["A-banker"]
    assert (lawyer.department, lawyer.steps_completed, lawyer.median_days, lawyer.p90_days, lawyer.on_time_rate) == (
        "法规处",
        4,
        1.5,
        4,
        0.75,
    )
    assert (lawyer.overdue_now, lawyer.returns, lawyer.reroutes) == (1, 0, 0), "d5's review is assigned to them"
    assert (banker.steps_completed, banker.median_days, banker.on_time_rate) == (0, None, None)
    assert (banker.overdue_now, banker.returns, banker.reroutes) == (0, 1, 1), "d4 is the department's, not theirs"

    # Today: A's leader urges the lawyer and moves their deadline, and sends a document B sent on to C (回流).
    leader = a.members["leader"].headers
    assert api.post(f"/v1/steps/{reopened}/urge", headers=leader, json={}).status_code == 201
    later = (calendar.today() + timedelta(days=30)).isoformat()
    assert (
        api.post(
            f"/v1/steps/{reopened}/extend", headers=leader, json={"due_on": later, "reason": "材料补正"}
        ).status_code
        == 200
    )
    sent = _outgoing(api, b.members["clerk"].headers, "关于转办事项的函", [DISPATCH])
    dispatch = _step(api, b.members["clerk"].headers, sent, "dispatch")
    assert (
        api.post(
            f"/v1/steps/{dispatch['id']}/approve", headers=b.members["clerk"].headers, json={"recipients": [a.id]}
        ).status_code
        == 200
    )
    arrived = _received(api, a.members["clerk"].headers, "关于转办事项的函")
    moved = api.post(
        f"/v1/documents/{arrived['id']}/forward", headers=leader, json={"organisation_id": c.id, "reason": "不属本机关"}
    )
    assert moved.status_code == 201, moved.text

    today = calendar.today().isoformat()
    period = {"from": "2026-11-01", "to": "2026-11-30", "compare_from": today, "compare_to": today}
    compared = {r["official"]: r for r in api.get("/v1/stats/officials", headers=leader, params=period).json()}
    law = compared["A-lawyer"]
    assert [law[f"steps_completed{s}"] for s in ("", "_compare", "_change")] == [4, 0, 4]
    assert [law[f"median_days{s}"] for s in ("", "_compare", "_change")] == [1.5, None, None]
    assert [law[f"urges{s}"] for s in ("", "_compare", "_change")] == [0, 1, -1]
    assert [law[f"extensions{s}"] for s in ("", "_compare", "_change")] == [0, 1, -1]
    assert [law[f"overdue_now{s}"] for s in ("", "_compare", "_change")] == [0, 0, 0], "extended: not overdue now"
    assert [compared["A-leader"][f"forwarded{s}"] for s in ("", "_compare", "_change")] == [0, 1, -1]
    assert set(compared) == set(rows), "B's clerk acted today, and is not A's"

    csv = api.get("/v1/stats/officials", headers=leader, params=period | {"format": "csv"})
    assert csv.status_code == 200 and csv.headers["content-type"].startswith("text/csv")
    assert f"officials-2026-11-01-2026-11-30-vs-{today}-{today}.csv" in csv.headers["content-disposition"]
    header, *lines = csv.text.strip().splitlines()
    assert header.startswith("official_id,official,department,steps_completed,steps_completed_compare,")
    assert len(lines) == 7
    plain = api.get(
        "/v1/stats/officials", headers=leader, params={"from": "2026-11-01", "to": "2026-11-30", "format": "csv"}
    )
    header, *lines = plain.text.strip().splitlines()
    assert header == ",".join(f.name for f in fields(official_stats.OfficialStats))
    assert f"{extra.legal_official},A-lawyer,法规处,4,1.5,4,0.75,0,0,0,0,0,0" in lines
    assert f"{extra.finance_official},A-banker,财务处,0,,,,0,1,1,0,0,0" in lines

    theirs = api.get("/v1/stats/officials", headers=b.members["leader"].headers, params=period).json()
    assert {r["official"] for r in theirs} == {f"B-{m}" for m in ("admin", "official", "leader", "custodian", "clerk")}
    for member in ("official", "admin", "clerk"):
        assert api.get("/v1/stats/officials", headers=a.members[member].headers, params=period).status_code == 403
    half = {"from": "2026-11-01", "to": "2026-11-30", "compare_from": today}
    assert api.get("/v1/stats/officials", headers=leader, params=half).status_code == 422


def test_route_template_figures_with_end_to_end_time(
    api: TestClient, world: World, extra: Extra, db: Database, db_settings: Settings
) -> None:
    a = world.orgs["A"]
    _seed(world, extra, db, db_settings)
    with db.transaction() as session:
        rows = {
            r.template: r
            for r in template_stats.templates(
                session, actor=_leader(world, "A"), start=NOV[1], end=NOV[30], today=NOV[20]
            )
        }
        [own] = org_stats.organisations(session, actor=_leader(world, "A"), start=NOV[1], end=NOV[30], today=NOV[20])
    # d1, d2 and d3 took 1, 4 and 3 working days end to end.
    assert (own.routes_completed, own.end_to_end_median_days, own.end_to_end_p90_days) == (3, 3, 4)
    assert list(rows) == ["信息报送", None]
    informing, adhoc = rows["信息报送"], rows[None]
    # d1 took 1 working day, d2 4: routes and steps alike.
    assert (informing.routes_completed, informing.end_to_end_median_days, informing.end_to_end_p90_days) == (2, 2.5, 4)
    assert (informing.steps_completed, informing.median_days, informing.p90_days, informing.on_time_rate) == (
        2,
        2.5,
        4,
        0.5,
    )
    assert (informing.overdue_now, informing.returns, informing.reroutes) == (0, 0, 0)
    # d3 ran 11-02 (finance) to 11-05 (legal): 3 working days; d4 and d5 are still open.
    assert (adhoc.routes_completed, adhoc.end_to_end_median_days, adhoc.end_to_end_p90_days) == (1, 3, 3)
    assert (adhoc.steps_completed, adhoc.median_days, adhoc.p90_days, adhoc.on_time_rate) == (2, 1, 2, 1.0)
    assert (adhoc.overdue_now, adhoc.returns, adhoc.reroutes) == (2, 1, 1)

    leader = a.members["leader"].headers
    period = {"from": "2026-11-01", "to": "2026-11-30"}
    csv = api.get("/v1/stats/templates", headers=leader, params=period | {"format": "csv"})
    header, *lines = csv.text.strip().splitlines()
    assert header == ",".join(f.name for f in fields(template_stats.TemplateStats))
    assert lines[0] == "信息报送,2,2.5,4,2,2.5,4,0.5,0,0,0,0,0,0" and lines[1] == ",1,3,3,2,1.0,2,1.0,2,1,1,0,0,0"
    compared = api.get(
        "/v1/stats/templates",
        headers=leader,
        params=period | {"compare_from": "2026-10-01", "compare_to": "2026-10-31"},
    ).json()
    assert [(r["template"], r["routes_completed_compare"], r["routes_completed_change"]) for r in compared] == [
        ("信息报送", 0, 2),
        (None, 0, 1),
    ]
    assert api.get("/v1/stats/templates", headers=a.members["official"].headers, params=period).status_code == 403
