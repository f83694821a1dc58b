"""Working days on the Chinese official calendar, and deadlines counted in them.

The statutory holidays and the weekend days made working days to bridge them (调休) come from the
``holidays`` package; administrators can declare further days off or working days, for a year the package
does not know yet or for a local decision, for everyone or for one organisation.

A deadline of N working days is the N-th working day after the day the step opens: the opening day does
not count, whatever time it opened. With the 2026 calendar a 2-day step opened on 2026-09-30 is due on
2026-10-09, a 7-day step on 2026-10-15 (2026-10-01 to 10-07 are days off; Sunday 09-20 and Saturday 10-10
are working days).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache

import holidays
from sqlalchemy import Boolean, Date, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.identity import Actor
from esign.ids import new_id, now

from ..records import CHINA

_SEARCH_LIMIT = 3 * 366


class CalendarOverride(Base):
    __tablename__ = "calendar_overrides"
    __table_args__ = (UniqueConstraint("scope", "day"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    scope: Mapped[str] = mapped_column(String(36), doc="an organisation id, or 'all' for every organisation")
    day: Mapped[date] = mapped_column(Date)
    working: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(String(200), default="")


GLOBAL = "all"


@lru_cache(maxsize=64)
def _official(year: int) -> holidays.HolidayBase:
    calendar: holidays.HolidayBase = holidays.country_holidays("CN", years=year)
    return calendar


@lru_cache(maxsize=8192)
def official_working_day(day: date) -> bool:
    """Kept per day: deadlines and working days left are counted day by day, for every step a page lists."""
    return bool(_official(day.year).is_working_day(day))


@dataclass(frozen=True)
class WorkingCalendar:
    """The official calendar with ``overrides`` (day → working?) on top."""

    overrides: dict[date, bool] = field(default_factory=dict)

    def is_working_day(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return official_working_day(day)

    def add_working_days(self, start: date, n: int) -> date:
        """The ``n``-th working day after ``start`` (``start`` itself never counts); ``n`` 0 is ``start``."""
        day, counted = start, 0
        for _ in range(_SEARCH_LIMIT * max(n, 1)):
            if counted == n:
                return day
            day += timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        raise ValueError(f"no {n} working days found after {start}")

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when ``end`` is not later)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


def load(session: Session, *, organisation_id: str) -> WorkingCalendar:
    """The calendar an organisation works by: global overrides, then its own (which win)."""
    rows = session.execute(
        select(CalendarOverride.scope, CalendarOverride.day, CalendarOverride.working).where(
            CalendarOverride.scope.in_((GLOBAL, organisation_id))
        )
    ).all()
    overrides: dict[date, bool] = {}
    for _scope, day, working in sorted(rows, key=lambda r: r.scope != GLOBAL):
        overrides[day] = working
    return WorkingCalendar(overrides=overrides)


def set_override(
    session: Session, *, actor: Actor | None, day: date, working: bool, note: str = "", everyone: bool = False
) -> CalendarOverride:
    """Declare ``day`` a working day or a day off: for the actor's organisation, or (operator) for everyone."""
    if actor is not None:
        actor.require_admin()
    scope = GLOBAL if everyone or actor is None else actor.organisation_id
    existing = session.scalar(
        select(CalendarOverride).where(CalendarOverride.scope == scope, CalendarOverride.day == day)
    )
    if existing is None:
        existing = CalendarOverride(id=new_id(), scope=scope, day=day, working=working, note=note)
        session.add(existing)
    else:
        existing.working, existing.note = working, note
    session.flush()
    audit.append(
        session,
        actor=actor or Actor.operator(),
        action="calendar.override",
        subject=f"day:{day.isoformat()}",
        chain=scope if scope != GLOBAL else "system",
        payload={"working": working, "note": note, "scope": scope},
    )
    return existing


def list_overrides(session: Session, *, organisation_id: str) -> list[CalendarOverride]:
    return list(
        session.scalars(
            select(CalendarOverride)
            .where(CalendarOverride.scope.in_((GLOBAL, organisation_id)))
            .order_by(CalendarOverride.day)
        )
    )


def today() -> date:
    return now().astimezone(CHINA).date()


def start_of(day: date) -> datetime:
    """The instant a day begins in Beijing: days of the official calendar are Beijing days."""
    return datetime.combine(day, time(), CHINA)
