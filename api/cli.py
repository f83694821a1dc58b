"""The ``esign`` command line."""

from __future__ import annotations

# First: it silences known library warnings that the imports below would print at import time.
import api.quiet  # noqa: F401

# isort: split
import logging
import os
import re
import socket
import tempfile
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from sqlalchemy.exc import OperationalError, ProgrammingError

import webhooks
from api.cli_archive import register as register_archive_commands
from api.cli_blobs import register as register_blob_commands
from api.cli_documents import register as register_document_commands
from api.cli_keys import register as register_keys_commands
from api.cli_verify import register as register_verify_command
from api.console import EXIT_INVALID, err, fail, out
from api.server_process import uvicorn_options
from api.supervisor import Supervisor
from documents import preservation
from documents.circulation import mail, sweeps
from esign import anchors, errors
from esign import worker as background
from esign.appearance import Appearance
from esign.blobs import blob_store_from_settings
from esign.cipher import SecretCipher
from esign.db import Database
from esign.filemodes import Private, private_directory
from esign.settings import Settings
from esign.sign import Certification, PadesLevel, SignOptions
from esign.sign import sign as sign_pdf
from esign.signature_block import MAX_REASON_CHARS
from esign.signers import from_files
from keys import anchoring, authorities, levels
from keys import demo as demo_data
from keys.errors import PkiNotInitialised
from migrations import migrate

app = typer.Typer(help="esign: sign, verify and circulate official documents.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(audit_app, name="audit")

register_keys_commands(app)
register_document_commands(app)
register_verify_command(app)
register_archive_commands(app)
register_blob_commands(app)

DEMO_TOKENS = "demo-tokens.tsv"
DEMO_PASSWORDS = "demo-passwords.tsv"


def _database(settings: Settings) -> Database:
    return Database.from_settings(settings)


def _kept(settings: Settings, database: Database) -> Private:
    """What esign keeps on disk, owner-only: the data directory, the SQLite files, the generated CA
    passphrase, the demo tokens and passwords and the blob store (``esign.filemodes``). Nothing else under the data
    directory is touched."""
    data = settings.data_dir
    return Private(
        (data, *database.files, data / authorities.PASSPHRASE_FILE, data / DEMO_TOKENS, data / DEMO_PASSWORDS),
        trees=(settings.blob_dir,),
    )


def _warn_if_open(kept: Private) -> None:
    """One line on stderr naming the first path other local users can reach, and the fix."""
    wide = list(kept.wide(tree_files=False))
    if wide:
        path, mode = wide[0]
        more = f" (and {len(wide) - 1} more)" if len(wide) > 1 else ""
        err.print(
            f"[yellow]warning:[/] {escape(str(path))} is open to other local users (mode {mode:04o}){more}; "
            "run `esign init` to make the data directory private (0700 directories, 0600 files)",
            highlight=False,
        )


def _make_private(kept: Private) -> list[Path]:
    try:
        return kept.make_private()
    except OSError as e:
        raise fail(f"cannot make {e.filename} private: {e.strerror} (is it this account's?)") from None


def _background_jobs(settings: Settings) -> list[background.Job]:
    """What `esign worker` (and the thread of `esign serve`) runs: webhook deliveries, circulation's
    reminders and escalations, notification e-mail when SMTP is configured, the audit chains' anchors and the
    archives' renewal."""
    cipher = SecretCipher.derive(authorities.passphrase(settings))
    return [
        webhooks.delivery_job(webhooks.DeliveryOptions(cipher=cipher, allow_private=settings.webhooks_allow_private)),
        *sweeps.jobs(settings),
        *mail.jobs(settings),
        anchoring.anchoring_job(settings),
        preservation.preservation_job(settings, blob_store_from_settings(settings)),
    ]


def served_settings(settings: Settings, host: str, port: int) -> Settings:
    """``settings`` with ``public_url`` following the address served, unless ESIGN_PUBLIC_URL says otherwise:
    a service on port 8080 would otherwise put port 8000 into the certificates it issues."""
    if "public_url" in settings.model_fields_set:
        return settings
    return settings.model_copy(update={"public_url": f"http://{host}:{port}"})


def _check_port_free(host: str, port: int) -> None:
    """Fail with one line saying what to do when something already listens on ``port``, before the service
    says it serves there (uvicorn would print that, then die with ``Errno 98``)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds: TIME_WAIT is no obstacle
        try:
            probe.bind((host, port))
        except OSError as e:
            raise fail(
                f"cannot serve on {host}:{port}: {e.strerror}; stop what listens there or choose another port "
                f"(make run PORT={port + 1}, or esign serve --port {port + 1})"
            ) from None


def shared_parse_workers(machine: int, processes: int) -> int:
    """Each of ``processes`` server processes' parsing workers when ``ESIGN_PARSE_WORKERS`` is not set: the
    machine's default number (one per CPU, up to four) shared among them, but two each where the machine has
    two: with one, a signature's quick check waited behind another request's verification (``bench/sign_http.py``
    lost a tenth of its rate). Unshared, eight processes on an eight-core host would hold 32 idle workers of
    about 170 MiB each, for the CPUs of four."""
    return max(min(2, machine), -(-machine // processes))


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    worker: Annotated[
        bool, typer.Option("--worker/--no-worker", help="Also run the background jobs (webhooks, reminders) here.")
    ] = True,
    workers: Annotated[
        int,
        typer.Option(
            "--workers",
            min=1,
            max=64,
            help="Server processes. Above 1, the supervising process accepts the connections and hands each to "
            "the next process in turn, runs the background jobs once, and the processes share the parsing workers "
            "(ESIGN_PARSE_WORKERS, unless set, is divided among them); SIGHUP restarts them one by one (Linux).",
        ),
    ] = 1,
) -> None:
    """Migrate the database, then serve the HTTP API (and, by default, run the background jobs)."""
    import uvicorn

    from api.app import create_app

    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = served_settings(Settings(), shown, port)
    if workers > 1 and not hasattr(socket, "SOCK_SEQPACKET"):
        raise fail(
            "--workers above 1 hands connections over Unix sockets this system lacks (SOCK_SEQPACKET, as on "
            "Linux); run one process per port behind a load balancer instead",
            EXIT_INVALID,
        )
    _check_port_free(host, port)
    database = _database(settings)
    migrate.upgrade(database)
    database.dispose()
    _warn_if_open(_kept(settings, database))
    jobs: list[background.Job] = []
    if worker:
        try:
            jobs = _background_jobs(settings)
        except PkiNotInitialised as e:
            err.print(f"[yellow]background jobs not started: {e.message}[/]", highlight=False)
    out.print(f"esign serving on http://{shown}:{port} — API docs at http://{shown}:{port}/docs", highlight=False)
    served = uvicorn_options(host, port)
    if workers == 1:
        # The jobs' thread lives in the app's lifespan, so that uvicorn's graceful shutdown stops it too.
        uvicorn.run(create_app(settings, background_jobs=jobs), **served)
        return
    # The processes are spawned: they read their settings from the environment, the public URL included.
    os.environ["ESIGN_PUBLIC_URL"] = settings.public_url
    os.environ.setdefault("ESIGN_PARSE_WORKERS", str(shared_parse_workers(settings.parse_workers, workers)))
    logging.getLogger("esign").setLevel(logging.INFO)
    embedded = background.start_background(database, jobs) if jobs else None
    status = 0
    try:
        config = uvicorn.Config("api.app:served_app", **served)
        listener = config.bind_socket()
        listener.listen(config.backlog)
        status = Supervisor(listener, workers, host=host, port=port).run()
    finally:
        if embedded is not None:
            embedded.stop()
        database.dispose()
    if status:
        raise typer.Exit(status)


@app.command("worker")
def worker_command() -> None:
    """Run the background jobs (webhook deliveries, reminders, escalations) until SIGTERM or SIGINT."""
    settings = Settings()
    database = _database(settings)
    logging.getLogger("esign").setLevel(logging.INFO)
    try:
        jobs = _background_jobs(settings)
        out.print(f"esign worker running {len(jobs)} job(s); stop with SIGTERM or Ctrl-C", highlight=False)
        background.run_until_signalled(database, jobs)
    except errors.EsignError as e:
        raise fail(e.message) from None
    finally:
        database.dispose()


@app.command()
def init(
    demo: Annotated[bool, typer.Option(help="Create the demo organisations, officials and credentials.")] = True,
) -> None:
    """First-start set-up (idempotent): data folder, schema, the PKI and the demo organisations."""
    settings = Settings()
    private_directory(settings.blob_dir)
    database = _database(settings)
    kept = _kept(settings, database)
    opened = _make_private(kept)
    migrate.upgrade(database)
    try:
        with database.transaction() as session:
            pki, created = authorities.ensure(session, settings)
            made = demo_data.ensure(session, pki=pki, settings=settings) if demo else []
    except errors.EsignError as e:
        raise fail(e.message) from None
    finally:
        database.dispose()
    opened += _make_private(kept)  # what SQLite made of an older, wider database file (-wal, -shm)
    out.print(f"data directory {settings.data_dir.resolve()} ready; database at revision {migrate.current(database)}")
    if opened:
        out.print(f"made {len(opened)} path(s) readable by this account only (0700 directories, 0600 files)")
    if created:
        out.print(f"created the PKI: root CA serial {authorities.serial_hex(pki.root.cert.serial_number)}")
        if settings.ca_token is not None:
            out.print(f"the root and issuing CA keys were generated in PKCS#11 token {settings.ca_token!r}")
        if settings.ca_passphrase is None:
            which = "time-stamping, OCSP and registry" if settings.ca_token else "CA"
            out.print(
                f"[yellow]the {which} keys are encrypted under {settings.data_dir / authorities.PASSPHRASE_FILE}; "
                "set ESIGN_CA_PASSPHRASE in production[/]"
            )
    if made:
        tokens_file = settings.data_dir / DEMO_TOKENS
        demo_data.write_tokens(tokens_file, made)
        out.print(f"demo organisations created; every demo PIN is {demo_data.DEMO_PIN}")
        out.print(f"demo tokens (one per official) are in {tokens_file}")
        passwords_file = settings.data_dir / DEMO_PASSWORDS
        demo_data.write_passwords(passwords_file, made)
        out.print(f"demo sign-in names and passwords (one per official) are in {passwords_file}")


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply the alembic migrations."""
    database = _database(Settings())
    migrate.upgrade(database, revision)
    out.print(f"database at revision {migrate.current(database)}")
    database.dispose()


@audit_app.command("verify")
def audit_verify(
    chain: Annotated[str | None, typer.Option(help="Check one chain only.")] = None,
    anchor: Annotated[
        list[Path] | None,
        typer.Option(
            help="An anchor exported by `esign audit anchor --out` (repeatable): kept off the host, it "
            "still proves the chain's length if the stored anchors were deleted too."
        ),
    ] = None,
) -> None:
    """Re-check the audit chain and its anchors; names the first broken event. Exit 0 intact, 1 broken."""
    exported = [_read_anchor(path) for path in anchor or ()]
    database = _database(Settings())
    with database.transaction() as session:
        result = anchors.verify_anchored(session, chain=chain, exported=exported)
        every = [*anchors.stored(session), *exported]
        pki = authorities.load(session, Settings()) if every else None
    database.dispose()
    faults = anchoring.problems(every, pki=pki) if pki is not None else []
    if result.ok and not faults:
        out.print(
            f"audit log intact: {result.events_checked} events in {result.chains_checked} chain(s); "
            f"{len(every)} anchor(s) checked"
        )
        return
    if faults:
        err.print(f"[bold red]audit anchor invalid[/]: {faults[0]}", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    broken = result.broken
    assert broken is not None
    event = f"event id {broken.event_id}" if broken.event_id is not None else "no stored event"
    err.print(
        f"[bold red]audit log broken[/] in chain {broken.chain!r} at seq {broken.seq} ({event}): {broken.reason}",
        highlight=False,
    )
    raise typer.Exit(EXIT_INVALID)


@audit_app.command("anchor")
def audit_anchor(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the anchor here, as JSON, to keep off the host."),
    ] = None,
) -> None:
    """Time-stamp the heads of the chains that moved since the last anchor (the worker does it every
    ESIGN_AUDIT_ANCHOR_MINUTES)."""
    settings = Settings()
    database = _database(settings)
    with database.transaction() as session:
        pki = authorities.load(session, settings)
    made = anchoring.anchor(database, pki=pki, settings=settings)
    database.dispose()
    if made is None:
        out.print("nothing to anchor: no chain moved since the last anchor")
        return
    if out_file is not None:
        out_file.write_text(made.to_json() + "\n", encoding="utf-8")
    where = f"; written to {out_file}" if out_file is not None else ""
    out.print(f"anchored {len(made.heads)} chain(s), time-stamped {made.time.isoformat(timespec='seconds')}{where}")


def _read_anchor(path: Path) -> anchors.Anchor:
    try:
        return anchors.Anchor.from_json(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise fail(f"anchor {path}: {e}") from None


class CertifyChoice(StrEnum):
    none = "none"
    form = "form"
    annotate = "annotate"


_CERTIFY = {
    CertifyChoice.none: Certification.NO_CHANGES,
    CertifyChoice.form: Certification.FORM_FILLING,
    CertifyChoice.annotate: Certification.ANNOTATIONS,
}


def _parse_visible(spec: str) -> tuple[int, tuple[float, float, float, float]]:
    try:
        page, box = spec.split(":", 1)
        x1, y1, x2, y2 = (float(v) for v in box.split(","))
        return int(page), (x1, y1, x2, y2)
    except ValueError:
        raise typer.BadParameter("expected PAGE:x1,y1,x2,y2, e.g. 1:360,60,560,160") from None


def _write_atomically(path: Path, data: bytes) -> None:
    path = path.resolve()
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


@app.command()
def sign(
    infile: Annotated[Path, typer.Argument(metavar="IN.pdf", help="PDF to sign.")],
    output: Annotated[Path, typer.Option("-o", "--output", metavar="OUT.pdf", help="Where to write the signed PDF.")],
    key: Annotated[Path | None, typer.Option(help="Private key (PEM or DER).")] = None,
    cert: Annotated[Path | None, typer.Option(help="Signer certificate (PEM or DER).")] = None,
    chain: Annotated[list[Path] | None, typer.Option(help="Chain certificates to embed (repeatable).")] = None,
    p12: Annotated[Path | None, typer.Option(help="PKCS#12 bundle instead of --key/--cert.")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="ESIGN_KEY_PASSWORD", help="Password of the key or PKCS#12 file.")
    ] = None,
    visible: Annotated[
        str | None, typer.Option(metavar="PAGE:x1,y1,x2,y2", help="Draw the signature on PAGE in this box (points).")
    ] = None,
    seal: Annotated[str | None, typer.Option(help="Draw a red round seal with this text (with --visible).")] = None,
    reason: Annotated[
        str | None,
        typer.Option(help=f"Reason for signing; a visible signature prints it, {MAX_REASON_CHARS} characters at most."),
    ] = None,
    location: Annotated[str | None, typer.Option(help="Where the signature was made.")] = None,
    field: Annotated[str | None, typer.Option(help="Signature field name (default: the next SignatureN).")] = None,
    certify: Annotated[
        CertifyChoice | None,
        typer.Option(help="Make a certification signature allowing no further changes, form filling, or annotations."),
    ] = None,
    level: Annotated[
        PadesLevel,
        typer.Option(
            help="PAdES level. B-T and above take their time-stamps from this service's TSA (the database must be "
            "set up); B-LT and B-LTA also embed its CA's revocation data, so the signer's certificate must be one "
            "it issued. B-B needs neither."
        ),
    ] = PadesLevel.B_LTA,
) -> None:
    """Add a PAdES signature to a PDF as an incremental update (B-LTA by default)."""
    try:
        data = infile.read_bytes()
    except OSError as e:
        raise fail(f"cannot read {infile}: {e.strerror}") from None
    appearance = None
    if visible:
        page, box = _parse_visible(visible)
        appearance = Appearance(page=page, box=box, seal_text=seal, zone=Settings().timezone)
    elif seal:
        raise typer.BadParameter("--seal needs --visible to say where to draw it")
    try:
        signer = from_files(
            key=key,
            cert=cert,
            chain=chain or [],
            p12=p12,
            password=password.encode() if password is not None else None,
        )
        signed = sign_pdf(
            data,
            signer,
            SignOptions(
                level=level,
                **_engine_inputs(level),
                reason=reason,
                location=location,
                field_name=field,
                certify=_CERTIFY[certify] if certify else None,
                appearance=appearance,
            ),
        )
    except errors.KeyMaterialError as e:
        name = p12 or key
        raise fail(f"{e.message} ({name})") from None
    except errors.EsignError as e:
        raise fail(e.message) from None
    _write_atomically(output, signed)
    out.print(f"signed {infile} → {output}", highlight=False)


def _engine_inputs(level: PadesLevel) -> dict[str, Any]:
    """The service's TSA and, from B-LT on, its CA's revocation status, read in one short transaction."""
    if level is PadesLevel.B_B:
        return {}
    settings = Settings()
    database = _database(settings)
    try:
        with database.transaction() as session:
            pki = authorities.load(session, settings)
            return levels.engine_inputs(session, pki=pki, settings=settings, level=level)
    finally:
        database.dispose()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except (OperationalError, ProgrammingError) as e:
        # An unreachable or unmigrated database: the driver's own first line, not a traceback through its internals.
        reason = (str(e.orig).strip().splitlines() or [type(e.orig).__name__])[0]
        hint = "; run `esign init` (or `esign db upgrade`) first" if _MISSING_TABLE.search(reason) else ""
        raise SystemExit(fail(f"database: {reason}{hint}").exit_code) from None


_MISSING_TABLE = re.compile(r"no such table|relation .* does not exist", re.IGNORECASE)
