"""JSON built by the database, written once for PostgreSQL and SQLite.

Hot paths that emit thousands of events a second (the deadline sweeps) build each event's payload in the
query that finds its rows, so that on PostgreSQL no row travels to Python and back
(:func:`esign.outbox.emit_selected`). Each construct compiles to the database's own functions
(``_TEMPLATES``); they are named in lowercase, like the SQL functions they stand for.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import JSON, String, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

_KEY = re.compile(r"[a-z_][a-z0-9_]*")


class json_object(FunctionElement[Any]):
    """A JSON object of the given keys and SQL values."""

    type = JSON()
    inherit_cache = True
    name = "json_object"

    def __init__(self, fields: Mapping[str, ColumnElement[Any]]) -> None:
        arguments: list[ColumnElement[Any]] = []
        for key, value in fields.items():
            if not _KEY.fullmatch(key):
                raise ValueError(f"JSON keys here are lowercase identifiers, not {key!r}")
            arguments += [literal_column(f"'{key}'", String), value]
        super().__init__(*arguments)


class json_array_agg(FunctionElement[Any]):
    """The aggregate of a group's values as a JSON array (NULL for no rows)."""

    type = JSON()
    inherit_cache = True
    name = "json_array_agg"


class first_array(FunctionElement[Any]):
    """The first of these JSON arrays that is not NULL, else ``[]``: a JSON value on either database (SQLite
    forgets that a value is JSON once it leaves a subquery, and would nest it as a string)."""

    type = JSON()
    inherit_cache = True
    name = "first_array"


class iso_date(FunctionElement[Any]):
    """A date as ``YYYY-MM-DD`` text, whatever the session's DateStyle."""

    type = String()
    inherit_cache = True
    name = "iso_date"


_TEMPLATES: dict[tuple[type[FunctionElement[Any]], str], str] = {
    (json_object, "postgresql"): "json_build_object({})",
    (json_object, "sqlite"): "json_object({})",
    (json_array_agg, "postgresql"): "json_agg({})",
    # json_group_array gives '[]' for no rows, where json_agg gives NULL.
    (json_array_agg, "sqlite"): "CASE WHEN count(*) = 0 THEN NULL ELSE json_group_array({}) END",
    (first_array, "postgresql"): "coalesce({}, '[]'::json)",
    (first_array, "sqlite"): "json(coalesce({}, '[]'))",
    (iso_date, "postgresql"): "to_char({}, 'YYYY-MM-DD')",
    (iso_date, "sqlite"): "{}",  # SQLite keeps dates as that text
}
"""Each construct's SQL per dialect; ``{}`` stands for its arguments."""


def _compiler(template: str) -> Callable[..., str]:
    def compile_(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
        return template.format(compiler.process(element.clause_expr.element, **kw))

    return compile_


for (_construct, _dialect), _template in _TEMPLATES.items():
    compiles(_construct, _dialect)(_compiler(_template))
