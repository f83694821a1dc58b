"""``esign verify``: the report on the terminal, as JSON, or as an ETSI TS 119 102-2 validation report."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import reports
from api.console import EXIT_INVALID, err, fail, out
from esign import errors, report_pdf
from esign.etsi import validation_report
from esign.report import Indication, Verdict, VerificationReport
from esign.settings import Settings
from esign.trust import TrustSettings
from esign.verify import verify as verify_pdf

_STYLE = {
    Indication.TOTAL_PASSED: "green",
    Indication.TOTAL_FAILED: "red",
    Indication.INDETERMINATE: "yellow",
}
_VERDICT_STYLE = {
    Verdict.VALID: "bold green",
    Verdict.INVALID: "bold red",
    Verdict.INDETERMINATE: "bold yellow",
    Verdict.UNSIGNED: "bold",
}


_GET_A_ROOT = (
    "pass the root certificate with --trust ROOT.pem (or set ESIGN_TRUST_ANCHORS); an esign service "
    "publishes its CA certificates at /pki/ca"
)


class Format(StrEnum):
    TEXT = "text"
    JSON = "json"
    ETSI = "etsi"


def _print_report(report: VerificationReport, name: str) -> None:
    out.print(
        f"[{_VERDICT_STYLE[report.verdict]}]{report.verdict.value.upper()}[/] {name}: {report.summary}", highlight=False
    )
    out.print(report.summary_en, highlight=False)
    if report.validation_time is not None:
        out.print(f"validated as of {report.validation_time.isoformat()}", highlight=False)
    for note in report.notes:
        out.print(note, highlight=False)
    for sig in report.signatures:
        table = Table(title=f"{sig.field_name} ({sig.type})", show_header=False, title_justify="left", min_width=60)
        table.add_column(style="dim")
        table.add_column()
        indication = sig.indication.value + (f" / {sig.sub_indication}" if sig.sub_indication else "")
        table.add_row("indication", f"[{_STYLE[sig.indication]}]{indication}[/]")
        table.add_row("finding", sig.message)
        if sig.signer:
            table.add_row("signer", sig.signer.subject)
            table.add_row("issuer", sig.signer.issuer)
            table.add_row("serial", sig.signer.serial)
            table.add_row("valid", f"{sig.signer.not_before:%Y-%m-%d} – {sig.signer.not_after:%Y-%m-%d}")
        table.add_row("trust anchor", sig.trust_anchor or "none found")
        table.add_row("signing time", sig.claimed_signing_time.isoformat() if sig.claimed_signing_time else "—")
        if sig.timestamp:
            trusted = "trusted" if sig.timestamp.trusted else "untrusted"
            table.add_row("time-stamp", f"{sig.timestamp.time.isoformat()} ({trusted})")
        table.add_row("algorithms", f"{sig.digest_algorithm} / {sig.signature_algorithm}")
        table.add_row("PAdES level", sig.pades_level or "—")
        if sig.provable_until:
            table.add_row("provable until", f"{sig.provable_until.isoformat()} ({sig.provable_by})")
        table.add_row("coverage", f"{sig.coverage} (revision {sig.signed_revision} of {report.revisions})")
        allowed = {True: "permitted", False: "NOT permitted", None: "undetermined"}[sig.modifications.allowed]
        table.add_row("changes after", f"{sig.modifications.level or 'unknown'}: {allowed}")
        out.print(table)
    for stamp in report.document_timestamps:
        table = Table(title=f"{stamp.field_name} (document time-stamp)", show_header=False, title_justify="left")
        table.add_column(style="dim")
        table.add_column()
        indication = stamp.indication.value + (f" / {stamp.sub_indication}" if stamp.sub_indication else "")
        table.add_row("indication", f"[{_STYLE[stamp.indication]}]{indication}[/]")
        table.add_row("time", stamp.time.isoformat())
        if stamp.tsa:
            table.add_row("TSA", stamp.tsa.subject)
            table.add_row("TSA valid until", stamp.tsa.not_after.isoformat())
        table.add_row("covers", ", ".join(stamp.covers) or "—")
        out.print(table)


def verify(
    file: Annotated[Path, typer.Argument(help="PDF to verify.")],
    trust: Annotated[list[Path] | None, typer.Option(help="Trust anchor certificate file (repeatable).")] = None,
    output_format: Annotated[
        Format,
        typer.Option(
            "--format", help="text for people, json for the full report, etsi for an ETSI TS 119 102-2 XML report."
        ),
    ] = Format.TEXT,
    as_json: Annotated[bool, typer.Option("--json", help="Same as --format json.")] = False,
    allow_fetching: Annotated[
        bool | None, typer.Option(help="Fetch certificates and revocation data over the network.")
    ] = None,
    report_pdf_path: Annotated[
        Path | None,
        typer.Option("--report", help="Also write the report for a clerk as a PDF (Chinese first) to this file."),
    ] = None,
    at: Annotated[
        str | None,
        typer.Option(
            metavar="DATE",
            help="Validate as of this time (ISO 8601 date or date-time, ESIGN_TIMEZONE without an offset) "
            "instead of now.",
        ),
    ] = None,
) -> None:
    """Verify every signature. Exit 0 when all are valid and nothing disallowed changed, 1 otherwise, 2 unreadable."""
    settings = Settings()
    try:
        data = file.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {file}: {e.strerror}") from None
    anchors = [*settings.trust_anchors, *(trust or [])]
    try:
        trust_settings = TrustSettings.from_files(
            anchors,
            allow_fetching=settings.allow_fetching if allow_fetching is None else allow_fetching,
            revocation_mode=settings.revocation_mode,
        )
        moment = reports.validation_time(at, settings.zone)
        report = verify_pdf(data, trust_settings, at=moment).localised(settings.zone)
    except errors.TrustError as e:
        raise fail(f"{e.message}; {_GET_A_ROOT}") from None
    except errors.EsignError as e:
        raise fail(f"{file}: {e.message}") from None
    if report_pdf_path is not None:
        try:
            report_pdf_path.write_bytes(report_pdf.render(report))
        except OSError as e:
            raise fail(f"cannot write {report_pdf_path}: {e.strerror}") from None
    if as_json or output_format is Format.JSON:
        sys.stdout.write(report.model_dump_json(indent=2) + "\n")
    elif output_format is Format.ETSI:
        sys.stdout.buffer.write(validation_report.to_xml(report))
        sys.stdout.flush()
    else:
        _print_report(report, str(file))
    if not anchors and report.verdict is Verdict.INDETERMINATE:
        # On stderr, so that --json and --format etsi stay parseable.
        err.print(f"[yellow]no trust anchor was given, so no signer can be traced to a root: {_GET_A_ROOT}[/]")
    if not report.valid:
        raise typer.Exit(EXIT_INVALID)


def register(app: typer.Typer) -> None:
    app.command()(verify)
