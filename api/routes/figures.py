"""Figures for 绩效考核: per department, per organisation and its subordinates, per official, per route template;
for a period, or two periods side by side; as JSON or as a CSV download."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from api.deps import ActorOf, DatabaseDep
from documents.circulation import figures, official_stats, org_stats, stats, template_stats
from esign.db import Database
from esign.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["circulation"])

_ANSWERS: dict[int | str, dict[str, Any]] = {200: {"content": {"application/json": {}, "text/csv": {}}}}
_COMPARE = (
    "; with `compare_from` and `compare_to`, each figure `x` for both periods (`x`, `x_compare`) and "
    "`x_change`, the first less the second; `format=csv` for a CSV export"
)


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    compare: tuple[date, date] | None
    format: str


def _period(
    from_: Annotated[date, Query(alias="from")],
    to: date,
    compare_from: Annotated[date | None, Query(description="The period to compare with, from this day")] = None,
    compare_to: Annotated[date | None, Query(description="... to this day")] = None,
    format: Annotated[str, Query(pattern="^(json|csv)$")] = "json",
) -> Period:
    if compare_from is None and compare_to is None:
        return Period(from_, to, None, format)
    if compare_from is None or compare_to is None:
        raise InvalidInput("compare_from and compare_to go together")
    if compare_to < compare_from:
        raise InvalidInput("the period compared with ends before it starts")
    return Period(from_, to, (compare_from, compare_to), format)


PeriodOf = Annotated[Period, Depends(_period)]


def _figures(
    database: Database,
    period: Period,
    compute: Callable[[Session, date, date], Sequence[Any]],
    row_type: type,
    *,
    key: str,
    name: str,
) -> Response:
    """The figures of ``period`` (and of the period compared with, in the same transaction) as JSON, or as a
    CSV download named after ``name`` and the periods."""
    with database.transaction() as session:
        rows = compute(session, period.start, period.end)
        previous = compute(session, *period.compare) if period.compare else None
    answer = figures.table(rows, row_type) if previous is None else figures.compare(rows, previous, row_type, key=key)
    filename = f"{name}-{period.start}-{period.end}" + (
        f"-vs-{period.compare[0]}-{period.compare[1]}" if period.compare else ""
    )
    if period.format == "csv":
        return Response(
            answer.as_csv(),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return Response(json.dumps(answer.rows, ensure_ascii=False), media_type="application/json")


@router.get("/stats/departments", summary="Per-department figures for a period" + _COMPARE, responses=_ANSWERS)
def department_stats(actor: ActorOf, database: DatabaseDep, period: PeriodOf) -> Response:
    return _figures(
        database,
        period,
        lambda session, start, end: stats.departments(session, actor=actor, start=start, end=end),
        stats.DepartmentStats,
        key="department_id",
        name="departments",
    )


@router.get(
    "/stats/organisations",
    summary="Per-organisation figures for a period, the caller's and every body below it (leaders)" + _COMPARE,
    responses=_ANSWERS,
)
def organisation_stats(actor: ActorOf, database: DatabaseDep, period: PeriodOf) -> Response:
    return _figures(
        database,
        period,
        lambda session, start, end: org_stats.organisations(session, actor=actor, start=start, end=end),
        org_stats.OrganisationStats,
        key="organisation_id",
        name="organisations",
    )


@router.get(
    "/stats/officials",
    summary="Per-official figures for a period, the officials of the caller's organisation (leaders)" + _COMPARE,
    responses=_ANSWERS,
)
def official_figures(actor: ActorOf, database: DatabaseDep, period: PeriodOf) -> Response:
    return _figures(
        database,
        period,
        lambda session, start, end: official_stats.officials(session, actor=actor, start=start, end=end),
        official_stats.OfficialStats,
        key="official_id",
        name="officials",
    )


@router.get(
    "/stats/templates",
    summary="Per-route-template figures for a period, with the routes' end-to-end time (leaders)" + _COMPARE,
    responses=_ANSWERS,
)
def template_figures(actor: ActorOf, database: DatabaseDep, period: PeriodOf) -> Response:
    return _figures(
        database,
        period,
        lambda session, start, end: template_stats.templates(session, actor=actor, start=start, end=end),
        template_stats.TemplateStats,
        key="template",
        name="templates",
    )
