"""Department statistics equal what a small scenario computed by hand says."""

from __future__ import annotations

from datetime import date

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from documents import intake
from documents.circulation import actions, flows, starting
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
from tests.world import World

NOV = {d: date(2026, 11, d) for d in range(1, 31)}


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

    def route(stages: list[StageSpec], opened: date) -> str:
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
                session, actor=system, document_id=made.id, definition=RouteDefinition(stages=stages), today=opened
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
    d1 = route([stage(StepKind.INFORMATION, legal)], NOV[2])  # due 11-04
    act(lawyer, d1, Outcome.APPROVE, NOV[3])  # 1 working day, on time
    d2 = route([stage(StepKind.INFORMATION, legal)], NOV[2])  # due 11-04
    act(lawyer, d2, Outcome.APPROVE, NOV[6])  # 4 working days, late
    d3 = route([stage(StepKind.REVIEW, finance)], NOV[2])
    act(
        banker, d3, Outcome.REROUTE, NOV[3], reroute_to=extra.legal
    )  # finance reroutes; legal's step opens 11-03, due 11-12
    act(lawyer, d3, Outcome.APPROVE, NOV[5])  # 2 working days, on time
    route([stage(StepKind.COMMENT, finance)], NOV[2])  # due 11-09, still open on 11-20: overdue
    d5 = route(
        [stage(StepKind.REVIEW, Assignee(official_id=extra.legal_official)), stage(StepKind.COMMENT, finance)], NOV[2]
    )
    act(lawyer, d5, Outcome.APPROVE, NOV[2])  # 0 working days, on time; the comment step opens 11-02
    act(
        banker, d5, Outcome.RETURN, NOV[4], return_to_stage=0
    )  # finance returns; legal's review reopens 11-04, due 11-13

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
