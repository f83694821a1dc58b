"""What every set of figures (绩效考核) shares: handling times summed up, a table of rows for JSON or CSV, and
the comparison of two periods.

A comparison keeps each row's naming fields (ids, names: the fields that are not numbers) and, for every
figure ``x``, gives ``x`` for the period asked, ``x_compare`` for the period compared with, and ``x_change``,
the first less the second (null when either is). A row found in one period only is kept, its other side null.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import typing
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date
from types import UnionType
from typing import Any

from .calendar import WorkingCalendar
from .model import Outcome, StepState


def nearest_rank_p90(values: list[int]) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


@dataclass
class Handling:
    """Working days each completed step (or route) took, and how many were done by their due day."""

    days: list[int] = field(default_factory=list)
    on_time: int = 0

    def add(self, days: int, on_time: bool = True) -> None:
        self.days.append(days)
        self.on_time += on_time

    @property
    def count(self) -> int:
        return len(self.days)

    @property
    def median(self) -> float | None:
        return statistics.median(self.days) if self.days else None

    @property
    def p90(self) -> int | None:
        return nearest_rank_p90(self.days) if self.days else None

    @property
    def on_time_rate(self) -> float | None:
        return round(self.on_time / len(self.days), 4) if self.days else None


@dataclass
class ClosedSteps:
    """The steps closed in a period, counted per key (an official, a department, a template): the working days
    the done ones took on ``working``, and the returns and reroutes."""

    working: WorkingCalendar
    handling: defaultdict[Any, Handling] = field(default_factory=lambda: defaultdict(Handling))
    returns: defaultdict[Any, int] = field(default_factory=lambda: defaultdict(int))
    reroutes: defaultdict[Any, int] = field(default_factory=lambda: defaultdict(int))

    def add(
        self, key: Any, *, state: str, outcome: str | None, opened_on: date, completed_on: date | None, due_on: date
    ) -> None:
        if outcome == Outcome.RETURN.value:
            self.returns[key] += 1
        elif outcome == Outcome.REROUTE.value:
            self.reroutes[key] += 1
        if state == StepState.DONE.value and completed_on is not None:
            self.handling[key].add(self.working.working_days_between(opened_on, completed_on), completed_on <= due_on)


@dataclass(frozen=True)
class Table:
    """Figures ready to answer: the columns in order, and one dict per row."""

    fields: list[str]
    rows: list[dict[str, Any]]

    def as_csv(self) -> str:
        """A header line, then the rows; None as an empty cell."""
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=self.fields)
        writer.writeheader()
        for row in self.rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
        return buf.getvalue()


def table(rows: Sequence[Any], row_type: type) -> Table:
    """``rows``, dataclasses of ``row_type``, as a table."""
    return Table([f.name for f in fields(row_type)], [asdict(r) for r in rows])


def _figures_of(row_type: type) -> list[str]:
    """The fields that are numbers (int or float, optional or not), not bool: the ones compared."""
    numbers = (int, float)
    found = []
    for name, hint in typing.get_type_hints(row_type).items():
        kinds = typing.get_args(hint) if isinstance(hint, UnionType) else (hint,)
        if any(k in numbers for k in kinds) and bool not in kinds:
            found.append(name)
    return found


def _change(now: Any, then: Any) -> Any:
    if now is None or then is None:
        return None
    return round(now - then, 4)


def compare(current: Sequence[Any], previous: Sequence[Any], row_type: type, *, key: str) -> Table:
    """The rows of two periods side by side, matched on ``key``, with the change of every figure."""
    numbers = _figures_of(row_type)
    names = [f.name for f in fields(row_type) if f.name not in numbers]
    now = {getattr(r, key): asdict(r) for r in current}
    then = {getattr(r, key): asdict(r) for r in previous}
    order = list(now) + [k for k in then if k not in now]
    columns = names + [f"{n}{suffix}" for n in numbers for suffix in ("", "_compare", "_change")]
    rows = []
    for k in order:
        a, b = now.get(k), then.get(k)
        named = a if a is not None else b
        assert named is not None
        row = {n: named[n] for n in names}
        for n in numbers:
            x, y = (a or {}).get(n), (b or {}).get(n)
            row |= {n: x, f"{n}_compare": y, f"{n}_change": _change(x, y)}
        rows.append(row)
    return Table(columns, rows)
