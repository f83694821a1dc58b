"""``esign`` commands for circulation: the working-day calendar."""

from __future__ import annotations

from datetime import date
from typing import Annotated

import typer

from api.cli_keys import operation
from api.console import out
from documents.circulation import calendar
from esign.identity import Actor

calendar_app = typer.Typer(help="The working-day calendar (statutory holidays, 调休, overrides).", no_args_is_help=True)


@calendar_app.command("set")
def calendar_set(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    working: Annotated[bool, typer.Option("--working/--off", help="A working day, or a day off.")],
    note: Annotated[str, typer.Option(help="Why, e.g. the State Council's notice.")] = "",
    org: Annotated[str | None, typer.Option(help="Only for this organisation (default: everyone).")] = None,
) -> None:
    """Declare a day a working day or a day off, for every organisation or one."""
    with operation() as (session, _):
        calendar.set_override(
            session,
            actor=Actor.operator(org) if org else None,
            day=date.fromisoformat(day),
            working=working,
            note=note,
            everyone=org is None,
        )
    out.print(f"{day}: {'working day' if working else 'day off'}{' for ' + org if org else ' for everyone'}")


@calendar_app.command("show")
def calendar_show(
    day: Annotated[str, typer.Argument(help="YYYY-MM-DD")],
    days: Annotated[
        int, typer.Option(help="Also show the due date of a step of this many working days opened that day.")
    ] = 0,
    org: Annotated[str | None, typer.Option(help="Organisation whose overrides apply.")] = None,
) -> None:
    with operation() as (session, _):
        working = calendar.load(session, organisation_id=org or calendar.GLOBAL)
    when = date.fromisoformat(day)
    out.print(f"{day}: {'working day' if working.is_working_day(when) else 'day off'}")
    if days:
        out.print(f"a {days}-working-day step opened {day} is due {working.add_working_days(when, days).isoformat()}")


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
