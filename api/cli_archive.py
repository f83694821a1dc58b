"""``esign archive``: the documents' long-term preservation (``documents.preservation``)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated

import typer

from api.cli_keys import operation
from api.console import fail, out
from documents import preservation
from documents.records import Document
from esign.blobs import blob_store_from_settings
from esign.db import Database
from esign.errors import EsignError
from esign.identity import Actor
from esign.settings import Settings

archive_app = typer.Typer(help="Long-term preservation: archive time-stamps and their renewal.", no_args_is_help=True)


def _row(document: Document) -> dict[str, str | None]:
    return {
        "id": document.id,
        "organisation_id": document.organisation_id,
        "title": document.title,
        "preservation": document.preservation,
        "protected_until": document.protected_until.isoformat() if document.protected_until else None,
    }


@archive_app.command("status")
def archive_status(
    org: Annotated[str | None, typer.Option(help="Only this organisation's documents.")] = None,
    within: Annotated[
        int | None, typer.Option(help="Only documents protected for less than this many days, and unprotected ones.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per document.")] = False,
) -> None:
    """Each document's preservation state and the date it is protected until, the least protected first."""
    with operation() as (session, _):
        rows = [
            _row(d)
            for d in preservation.status(
                session,
                actor=Actor.operator(org) if org else None,
                within=timedelta(days=within) if within is not None else None,
            )
        ]
    for row in rows:
        if as_json:
            out.print(json.dumps(row, ensure_ascii=False), highlight=False, markup=False, soft_wrap=True)
        else:
            until = row["protected_until"] or "—"
            out.print(
                f"{row['id']}  {row['preservation'] or 'unassessed':<11}  {until}  {row['title']}",
                highlight=False,
                markup=False,
            )


@archive_app.command("renew")
def archive_renew() -> None:
    """Run the renewal job until no due document is left: re-time-stamp every archive within the margin."""
    settings = Settings()
    database = Database.from_settings(settings)
    blobs = blob_store_from_settings(settings)
    total = 0
    try:
        while claimed := preservation.renew_due(database, settings=settings, blobs=blobs):
            total += claimed
    except EsignError as e:
        raise fail(e.message) from None
    finally:
        database.dispose()
    out.print(f"{total} document(s) examined", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(archive_app, name="archive")
