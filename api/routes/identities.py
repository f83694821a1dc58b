from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Response, status
from sqlalchemy.orm import Session

from api.deps import ActorOf, AdminOf, CipherDep, DatabaseDep, SettingsDep
from api.idempotent import IdempotencyKey, once
from api.schemas import (
    DepartmentIn,
    DepartmentOut,
    DirectoryEntryOut,
    InvitationIn,
    InvitationOut,
    OfficialIn,
    OfficialOut,
    OrganisationOut,
    SignatureLevelIn,
    SignatureLevelOut,
    SystemTokenIn,
    TokenOut,
)
from keys import identities, passwords, tokens

router = APIRouter(prefix="/v1", tags=["identities"])


@router.get("/organisation", response_model=OrganisationOut, summary="The caller's organisation")
def organisation(actor: ActorOf, database: DatabaseDep) -> OrganisationOut:
    with database.transaction() as session:
        return OrganisationOut.model_validate(identities.get_organisation(session, actor.organisation_id))


_LEVEL = (
    "The PAdES level of the signatures the service makes for the organisation (stamps, seals, `/v1/sign`) when "
    "none is asked for: B-LTA by default, B-LT or B-T; never below B-T, as a signature without a time-stamp cannot "
    "be proven once its certificate expires or is revoked. For the organisation's administrators."
)


@router.get(
    "/organisation/signature-level",
    response_model=SignatureLevelOut,
    summary="The organisation's signature level",
    description=_LEVEL,
)
def signature_level(actor: AdminOf, database: DatabaseDep) -> SignatureLevelOut:
    with database.transaction() as session:
        org = identities.get_organisation(session, actor.organisation_id)
        return SignatureLevelOut.model_validate({"level": org.signature_level})


@router.put(
    "/organisation/signature-level",
    response_model=SignatureLevelOut,
    summary="Set the organisation's signature level",
    description=_LEVEL + " Applies to the next signature; audited as `organisation.signature_level`.",
)
def set_signature_level(body: SignatureLevelIn, actor: AdminOf, database: DatabaseDep) -> SignatureLevelOut:
    with database.transaction() as session:
        org = identities.set_signature_level(
            session, actor=actor, organisation_id=actor.organisation_id, level=body.level
        )
        return SignatureLevelOut.model_validate({"level": org.signature_level})


@router.get(
    "/organisations",
    response_model=list[DirectoryEntryOut],
    summary="The directory of organisations, to address a dispatch",
)
def directory(actor: ActorOf, database: DatabaseDep) -> list[DirectoryEntryOut]:
    with database.transaction() as session:
        return [DirectoryEntryOut.model_validate(o) for o in identities.directory(session)]


@router.get("/departments", response_model=list[DepartmentOut])
def list_departments(actor: ActorOf, database: DatabaseDep) -> list[DepartmentOut]:
    with database.transaction() as session:
        return [DepartmentOut.model_validate(d) for d in identities.list_departments(session, actor=actor)]


@router.post("/departments", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED)
def create_department(
    body: DepartmentIn, actor: AdminOf, database: DatabaseDep, key: IdempotencyKey = None
) -> Response:
    return once(
        database,
        actor=actor,
        key=key,
        operation="department.create",
        request=body,
        model=DepartmentOut,
        authorise=None,
        create=lambda session: DepartmentOut.model_validate(
            identities.create_department(session, actor=actor, name=body.name)
        ),
    )


@router.post("/departments/{department_id}/disable", response_model=DepartmentOut)
def disable_department(department_id: str, actor: AdminOf, database: DatabaseDep) -> DepartmentOut:
    with database.transaction() as session:
        department = identities.set_department_disabled(
            session, actor=actor, department_id=department_id, disabled=True
        )
        return DepartmentOut.model_validate(department)


@router.get("/officials", response_model=list[OfficialOut])
def list_officials(actor: ActorOf, database: DatabaseDep, department_id: str | None = None) -> list[OfficialOut]:
    with database.transaction() as session:
        found = identities.list_officials(session, actor=actor, department_id=department_id)
        return [OfficialOut.model_validate(o) for o in found]


@router.post("/officials", response_model=OfficialOut, status_code=status.HTTP_201_CREATED)
def create_official(body: OfficialIn, actor: AdminOf, database: DatabaseDep, key: IdempotencyKey = None) -> Response:
    return once(
        database,
        actor=actor,
        key=key,
        operation="official.create",
        request=body,
        model=OfficialOut,
        authorise=None,
        create=lambda session: OfficialOut.model_validate(
            identities.create_official(
                session,
                actor=actor,
                department_id=body.department_id,
                name=body.name,
                roles=body.roles,
                email=body.email,
            )
        ),
    )


@router.get("/officials/{official_id}", response_model=OfficialOut)
def get_official(official_id: str, actor: ActorOf, database: DatabaseDep) -> OfficialOut:
    with database.transaction() as session:
        official = identities.get_official(session, organisation_id=actor.organisation_id, official_id=official_id)
        return OfficialOut.model_validate(official)


@router.post("/officials/{official_id}/disable", response_model=OfficialOut)
def disable_official(official_id: str, actor: AdminOf, database: DatabaseDep) -> OfficialOut:
    with database.transaction() as session:
        official = identities.set_official_disabled(session, actor=actor, official_id=official_id, disabled=True)
        return OfficialOut.model_validate(official)


@router.post(
    "/officials/{official_id}/invitations",
    response_model=InvitationOut,
    status_code=status.HTTP_201_CREATED,
    summary="A one-time link for the official to set their sign-in password",
)
def invite_official(
    official_id: str, body: InvitationIn, actor: AdminOf, database: DatabaseDep, settings: SettingsDep
) -> InvitationOut:
    with database.transaction() as session:
        issued = passwords.invite(session, actor=actor, settings=settings, official_id=official_id, login=body.login)
    return InvitationOut(id=issued.id, login=issued.login, url=issued.url, expires_at=issued.expires_at)


@router.post(
    "/tokens",
    response_model=TokenOut,
    status_code=status.HTTP_201_CREATED,
    summary="A token for an external system of the organisation",
)
def create_system_token(
    body: SystemTokenIn, actor: AdminOf, database: DatabaseDep, cipher: CipherDep, key: IdempotencyKey = None
) -> Response:
    def create(session: Session) -> TokenOut:
        issued = tokens.create_for_system(
            session, actor=actor, name=body.name, scopes=body.scopes, lifetime=timedelta(days=body.lifetime_days)
        )
        return TokenOut(id=issued.id, token=issued.token, expires_at=issued.expires_at)

    return once(
        database,
        actor=actor,
        key=key,
        operation="token.create",
        request=body,
        model=TokenOut,
        create=create,
        sealed=cipher,
        authorise=None,
    )


@router.delete("/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_token(token_id: str, actor: ActorOf, database: DatabaseDep) -> None:
    with database.transaction() as session:
        tokens.revoke(session, actor=actor, token_id=token_id)
