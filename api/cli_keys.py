"""``esign`` commands for the operator: organisations, departments, officials, credentials, tokens, the PKI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Annotated

import typer
from rich.table import Table
from sqlalchemy.orm import Session

from api.console import fail, out
from esign.db import Database
from esign.errors import EsignError
from esign.identity import Actor, Role, Scope
from esign.settings import Settings
from keys import authorities, ca, certificates, credentials, hierarchy, identities, passwords, tokens
from keys.credentials import Purpose, Storage
from keys.hierarchy import Level

org_app = typer.Typer(help="Organisations.", no_args_is_help=True)
department_app = typer.Typer(help="Departments of an organisation.", no_args_is_help=True)
official_app = typer.Typer(help="Officials and their roles.", no_args_is_help=True)
user_app = typer.Typer(help="Officials' sign-in: invitation links to set a password.", no_args_is_help=True)
credential_app = typer.Typer(help="Officials' signing credentials and organisations' seals.", no_args_is_help=True)
token_app = typer.Typer(help="API tokens.", no_args_is_help=True)
pki_app = typer.Typer(help="The deployment's CA, time-stamping unit and OCSP responder.", no_args_is_help=True)


@contextmanager
def operation() -> Iterator[tuple[Session, Settings]]:
    """One transaction; a domain error becomes a one-line message and exit status 2."""
    settings = Settings()
    database = Database.from_settings(settings)
    try:
        with database.transaction() as session:
            yield session, settings
    except EsignError as e:
        raise fail(e.message) from None
    finally:
        database.dispose()


def _table(title: str, columns: list[str], rows: list[list[str]]) -> None:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    out.print(table)


OrgOption = Annotated[str, typer.Option("--org", help="Organisation id.")]


@org_app.command("create")
def org_create(
    name: Annotated[str, typer.Option(help="Full name, e.g. 广东省人民政府办公厅.")],
    short_name: Annotated[str, typer.Option(help="机关代字 used in document numbers, e.g. 粤府办.")],
    uscc: Annotated[str, typer.Option(help="Unified social credit code (18 characters, GB 32100-2015).")],
) -> None:
    with operation() as (session, _):
        org = identities.create_organisation(
            session, actor=Actor.operator(), name=name, short_name=short_name, uscc_code=uscc
        )
        out.print(org.id)


@org_app.command("list")
def org_list() -> None:
    with operation() as (session, _):
        rows = [
            [o.id, o.name, o.short_name, o.uscc, "disabled" if o.disabled else ""]
            for o in identities.list_organisations(session)
        ]
    _table("organisations", ["id", "name", "short name", "USCC", ""], rows)


@org_app.command("disable")
def org_disable(organisation_id: str) -> None:
    with operation() as (session, _):
        identities.set_organisation_disabled(
            session, actor=Actor.operator(organisation_id), organisation_id=organisation_id, disabled=True
        )


@org_app.command("level")
def org_level(
    organisation_id: str,
    level: Annotated[str, typer.Argument(metavar="LEVEL", help="B-LTA (the default), B-LT or B-T.")],
) -> None:
    """The PAdES level of the signatures the service makes for the organisation when none is asked for."""
    with operation() as (session, _):
        org = identities.set_signature_level(
            session, actor=Actor.operator(organisation_id), organisation_id=organisation_id, level=level
        )
        out.print(f"{org.name}: {org.signature_level}")


@org_app.command("place")
def org_place(
    organisation_id: str,
    parent: Annotated[
        str | None, typer.Option(help="The superior organisation's id; leave out for a top body.")
    ] = None,
    level: Annotated[
        Level | None, typer.Option(help="province (省), city (市), county (县/区), township (乡镇/街道).")
    ] = None,
) -> None:
    """Put an organisation under its superior body, which then oversees its overdue work and figures."""
    with operation() as (session, _):
        org = hierarchy.place(
            session,
            actor=Actor.operator(organisation_id),
            organisation_id=organisation_id,
            parent_id=parent,
            level=level,
        )
        out.print(f"{org.name}: under {org.parent_id or '—'}, level {org.level or '—'}")


@department_app.command("create")
def department_create(org: OrgOption, name: Annotated[str, typer.Option()]) -> None:
    with operation() as (session, _):
        out.print(identities.create_department(session, actor=Actor.operator(org), name=name).id)


@department_app.command("list")
def department_list(org: OrgOption) -> None:
    with operation() as (session, _):
        rows = [
            [d.id, d.name, "disabled" if d.disabled else ""]
            for d in identities.list_departments(session, actor=Actor.operator(org))
        ]
    _table("departments", ["id", "name", ""], rows)


@department_app.command("disable")
def department_disable(org: OrgOption, department_id: str) -> None:
    with operation() as (session, _):
        identities.set_department_disabled(
            session, actor=Actor.operator(org), department_id=department_id, disabled=True
        )


@official_app.command("create")
def official_create(
    org: OrgOption,
    department: Annotated[str, typer.Option(help="Department id.")],
    name: Annotated[str, typer.Option()],
    roles: Annotated[str, typer.Option(help=f"Comma-separated among {', '.join(Role)}.")] = "official",
) -> None:
    with operation() as (session, _):
        official = identities.create_official(
            session,
            actor=Actor.operator(org),
            department_id=department,
            name=name,
            roles=[r.strip() for r in roles.split(",") if r.strip()],
        )
        out.print(official.id)


@official_app.command("list")
def official_list(org: OrgOption) -> None:
    with operation() as (session, _):
        rows = [
            [o.id, o.name, ", ".join(o.roles), "disabled" if o.disabled else ""]
            for o in identities.list_officials(session, actor=Actor.operator(org))
        ]
    _table("officials", ["id", "name", "roles", ""], rows)


@official_app.command("disable")
def official_disable(org: OrgOption, official_id: str) -> None:
    with operation() as (session, _):
        identities.set_official_disabled(session, actor=Actor.operator(org), official_id=official_id, disabled=True)


@credential_app.command("enrol")
def credential_enrol(
    org: OrgOption,
    official: Annotated[str, typer.Option(help="The holder (for a seal: a seal custodian).")],
    pin: Annotated[str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="ESIGN_PIN")],
    purpose: Annotated[Purpose, typer.Option()] = Purpose.SIGNATURE,
    storage: Annotated[Storage, typer.Option()] = Storage.PIN,
    token: Annotated[str | None, typer.Option(help="With --storage pkcs11: the label of the holder's token.")] = None,
) -> None:
    """Generate a key (encrypted under the PIN, or in the PKCS#11 token) and have the CA certify it."""
    with operation() as (session, settings):
        holder = identities.get_official(session, organisation_id=org, official_id=official)
        actor = Actor(
            organisation_id=org, official_id=holder.id, system_name=None, roles=holder.role_set, scopes=frozenset(Scope)
        )
        credential = credentials.enrol(
            session,
            actor=actor,
            pki=authorities.load(session, settings),
            settings=settings,
            purpose=purpose,
            pin=pin,
            storage=storage,
            token_label=token,
        )
        out.print(f"{credential.id} certificate serial {credential.serial}")


@credential_app.command("list")
def credential_list(org: OrgOption) -> None:
    with operation() as (session, _):
        rows = [
            [
                c.id,
                c.purpose,
                c.official_id or "(organisation)",
                c.serial,
                credentials.effective_status(session, c).value,
            ]
            for c in credentials.list_visible(session, actor=Actor.operator(org))
        ]
    _table("credentials", ["id", "purpose", "holder", "serial", "status"], rows)


@credential_app.command("unlock")
def credential_unlock(org: OrgOption, credential_id: str) -> None:
    """Let a credential locked by wrong PINs sign again."""
    with operation() as (session, _):
        credentials.unlock_by_admin(session, actor=Actor.operator(org), credential_id=credential_id)


@token_app.command("create")
def token_create(
    official: Annotated[str | None, typer.Option(help="Official id: a token acting as that official.")] = None,
    system: Annotated[str | None, typer.Option(help="External system's name: a token of one organisation.")] = None,
    org: Annotated[str | None, typer.Option(help="Organisation id (required with --system).")] = None,
    scopes: Annotated[
        str, typer.Option(help=f"With --system, comma-separated among {', '.join(Scope)}.")
    ] = "documents",
    days: Annotated[
        int,
        typer.Option(
            min=tokens.MIN_LIFETIME_DAYS,
            max=tokens.MAX_LIFETIME_DAYS,
            help=f"Lifetime in days, {tokens.MIN_LIFETIME_DAYS} to {tokens.MAX_LIFETIME_DAYS}.",
        ),
    ] = 90,
) -> None:
    """Print a new bearer token (only its hash is kept)."""
    if (official is None) == (system is None):
        raise fail("give either --official ID or --system NAME --org ID")
    with operation() as (session, _):
        if official is not None:
            holder = session.get(identities.Official, official)
            if holder is None:
                raise fail(f"official {official} not found")
            issued = tokens.create_for_official(
                session,
                actor=Actor.operator(holder.organisation_id),
                official_id=official,
                lifetime=timedelta(days=days),
            )
        else:
            if org is None:
                raise fail("--system needs --org ID")
            assert system is not None
            issued = tokens.create_for_system(
                session,
                actor=Actor.operator(org),
                name=system,
                scopes=[Scope(s.strip()) for s in scopes.split(",") if s.strip()],
                lifetime=timedelta(days=days),
            )
    out.print(issued.token)


@user_app.command("invite")
def user_invite(
    official: Annotated[str, typer.Argument(help="Official id.")],
    login: Annotated[
        str | None, typer.Option(help="Their login name; required the first time, given again it renames it.")
    ] = None,
) -> None:
    """Print a one-time link where the official sets their sign-in password."""
    with operation() as (session, settings):
        holder = session.get(identities.Official, official)
        if holder is None:
            raise fail(f"official {official} not found")
        issued = passwords.invite(
            session, actor=Actor.operator(holder.organisation_id), settings=settings, official_id=official, login=login
        )
    out.print(f"login name {issued.login}; the link works once, until {issued.expires_at:%Y-%m-%d %H:%M} UTC:")
    typer.echo(issued.url)


@pki_app.command("revoke")
def pki_revoke(
    serial: Annotated[str, typer.Argument(help="Certificate serial number, hexadecimal.")],
    reason: Annotated[str, typer.Option(help="RFC 5280 reason, e.g. keyCompromise.")] = "unspecified",
) -> None:
    """Revoke a certificate now: the CRL and the OCSP responder say so from the next request on."""
    with operation() as (session, _):
        issued = certificates.revoke(session, serial=serial, reason=reason, actor=None)
        out.print(f"revoked {issued.serial} ({issued.revocation_reason}) at {issued.revoked_at}")


@pki_app.command("move-ca-keys")
def pki_move_ca_keys() -> None:
    """Move the root and issuing CA keys from the database into the PKCS#11 token ESIGN_CA_TOKEN names.

    In the token they are sensitive and not extractable, and the database keeps only their pkcs11: URIs.
    Restart every esign process afterwards (each keeps the keys it loaded), and retire the database
    backups made before: they still hold the keys, encrypted under the CA passphrase.
    """
    with operation() as (session, settings):
        moved = authorities.move_ca_keys_to_token(session, settings)
    if not moved:
        out.print(f"the CA keys are in token {settings.ca_token!r} already")
        return
    out.print(f"moved the {' and '.join(moved)} CA key(s) into token {settings.ca_token!r}")
    out.print(
        "[yellow]restart every esign process; backups made before now still hold the keys, encrypted "
        "under the CA passphrase[/]"
    )


@pki_app.command("show")
def pki_show() -> None:
    """The CA chain, in PEM."""
    with operation() as (session, settings):
        pki = authorities.load(session, settings)
    typer.echo((b"".join(ca.pem(c) for c in pki.chain)).decode(), nl=False)


def register(app: typer.Typer) -> None:
    for name, sub in (
        ("org", org_app),
        ("department", department_app),
        ("official", official_app),
        ("credential", credential_app),
        ("token", token_app),
        ("user", user_app),
        ("pki", pki_app),
    ):
        app.add_typer(sub, name=name)
