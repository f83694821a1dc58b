"""JSON built by the database, written once for PostgreSQL and SQLite.

Hot paths that emit thousands of events a second (the deadline sweeps) build each event's payload in the
query that finds its rows, so that on PostgreSQL no row travels to Python and back
(:func:`esign.outbox.emit_selected`). These constructs compile to each database's own functions:

| construct | PostgreSQL | SQLite |
|---|---|---|
| ``json_object({"k": v})`` | ``json_build_object('k', v)`` | ``json_object('k', v)`` |
| ``json_array_agg(v)`` | ``json_agg(v)`` | ``json_group_array(v)``, NULL for no rows |
| ``first_array(a, b)`` | ``coalesce(a, b, '[]'::json)`` | ``json(coalesce(a, b, '[]'))`` |
| ``iso_date(d)`` | ``to_char(d, 'YYYY-MM-DD')`` | ``d`` (SQLite keeps dates as that text) |
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import JSON, String, literal_column
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

_KEY = re.compile(r"[a-z_][a-z0-9_]*")


class json_object(FunctionElement[Any]):  # noqa: N801 (named like the SQL function it stands for)
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


class json_array_agg(FunctionElement[Any]):  # noqa: N801
    """The aggregate of a group's values as a JSON array (NULL for no rows)."""

    type = JSON()
    inherit_cache = True
    name = "json_array_agg"


class first_array(FunctionElement[Any]):  # noqa: N801
    """The first of these JSON arrays that is not NULL, else ``[]``: a JSON value on either database (SQLite
    forgets that a value is JSON once it leaves a subquery, and would nest it as a string)."""

    type = JSON()
    inherit_cache = True
    name = "first_array"


class iso_date(FunctionElement[Any]):  # noqa: N801
    """A date as ``YYYY-MM-DD`` text, whatever the session's DateStyle."""

    type = String()
    inherit_cache = True
    name = "iso_date"


def _arguments(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clause_expr.element, **kw))


@compiles(json_object, "postgresql")
def _json_object_postgresql(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_object({_arguments(element, compiler, **kw)})"


@compiles(json_object, "sqlite")
def _json_object_sqlite(element: json_object, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_object({_arguments(element, compiler, **kw)})"


@compiles(json_array_agg, "postgresql")
def _json_array_agg_postgresql(element: json_array_agg, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg({_arguments(element, compiler, **kw)})"


@compiles(json_array_agg, "sqlite")
def _json_array_agg_sqlite(element: json_array_agg, compiler: SQLCompiler, **kw: Any) -> str:
    # json_group_array gives '[]' for no rows, where json_agg gives NULL.
    value = _arguments(element, compiler, **kw)
    return f"CASE WHEN count(*) = 0 THEN NULL ELSE json_group_array({value}) END"


@compiles(first_array, "postgresql")
def _first_array_postgresql(element: first_array, compiler: SQLCompiler, **kw: Any) -> str:
    return f"coalesce({_arguments(element, compiler, **kw)}, '[]'::json)"


@compiles(first_array, "sqlite")
def _first_array_sqlite(element: first_array, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json(coalesce({_arguments(element, compiler, **kw)}, '[]'))"


@compiles(iso_date, "postgresql")
def _iso_date_postgresql(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({_arguments(element, compiler, **kw)}, 'YYYY-MM-DD')"


@compiles(iso_date, "sqlite")
def _iso_date_sqlite(element: iso_date, compiler: SQLCompiler, **kw: Any) -> str:
    return _arguments(element, compiler, **kw)
