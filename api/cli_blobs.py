"""``esign blobs``: copy the blob folder into the object store, and re-check the store (``esign.blob_maintenance``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from api.console import EXIT_INVALID, err, fail, out
from esign import blob_maintenance
from esign.blob_maintenance import Problem
from esign.blobs import FilesystemBlobStore, blob_store_from_settings
from esign.errors import EsignError
from esign.settings import Settings

blobs_app = typer.Typer(
    help="The blob store holding the PDF revisions: move it to object storage, re-check it.", no_args_is_help=True
)


def _report(problems: tuple[Problem, ...]) -> None:
    for problem in problems:
        err.print(
            f"[bold red]{problem.code}[/] ({problem.where}) {problem.digest}: {escape(problem.message)}",
            highlight=False,
        )


@blobs_app.command("migrate")
def blobs_migrate(
    source: Annotated[
        Path | None, typer.Option("--from", help="The blob folder to copy; default: the data directory's.")
    ] = None,
) -> None:
    """Copy a blob folder into the object store ESIGN_BLOB_URL names, reading every blob back to check its digest.

    Blobs already there are checked, not copied again, so an interrupted run is simply run again. Exit 0 when
    every blob is in the store intact, 1 when some could not be copied (listed on stderr).
    """
    settings = Settings()
    if settings.blob_url is None:
        raise fail("ESIGN_BLOB_URL names no object store to copy into; set it to s3://BUCKET?endpoint=...")
    folder = source or settings.blob_dir
    if not folder.is_dir():
        raise fail(f"no blob folder at {escape(str(folder))}")
    from esign.blobs_s3 import S3BlobStore, S3Options

    try:
        target = S3BlobStore(S3Options.from_settings(settings))
        report = blob_maintenance.migrate(FilesystemBlobStore(folder), target)
    except EsignError as e:
        raise fail(escape(e.message)) from None
    _report(report.problems)
    out.print(
        f"{report.copied} blob(s) copied, {report.present} already there, all read back intact from "
        f"{target.location.where}; {len(report.problems)} problem(s)",
        highlight=False,
    )
    if report.problems:
        raise typer.Exit(EXIT_INVALID)


@blobs_app.command("check")
def blobs_check(
    every: Annotated[bool, typer.Option("--all", help="Re-read every blob (the default).")] = False,
    sample: Annotated[
        int | None, typer.Option("--sample", min=1, help="Re-read this many blobs, drawn at random.")
    ] = None,
) -> None:
    """Re-read the blobs of the configured store and compare each with its digest. Exit 0 intact, 1 damaged."""
    if every and sample is not None:
        raise typer.BadParameter("choose --all or --sample, not both")
    try:
        report = blob_maintenance.check(blob_store_from_settings(Settings()), sample=sample)
    except EsignError as e:
        raise fail(escape(e.message)) from None
    _report(report.problems)
    if report.problems:
        err.print(f"[bold red]{len(report.problems)} of {report.checked} blob(s) damaged or missing[/]")
        raise typer.Exit(EXIT_INVALID)
    out.print(f"{report.checked} blob(s) intact", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(blobs_app, name="blobs")
