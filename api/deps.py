"""Request dependencies: settings, trust, the database and the acting identity.

Permissions are typed dependencies named for what they allow (``AdminOf``, ``SignerOf``); every service
call then scopes its queries by the actor's organisation.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from esign.blobs import BlobStore
from esign.cipher import SecretCipher
from esign.db import Database
from esign.errors import Forbidden, Unauthenticated
from esign.identity import Actor, Scope
from esign.settings import Settings
from esign.trust import TrustSettings
from keys import authorities, sessions, tokens
from keys.policy import Policy
from keys.services import LazyPkiServices, PkiServices

# Dependencies that only read or check something are ``async``: FastAPI runs a plain ``def`` dependency in
# its thread pool, and the hop to another thread costs more than reading an attribute.


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


async def get_trust(request: Request) -> TrustSettings:
    return request.app.state.trust  # type: ignore[no-any-return]


async def get_database(request: Request) -> Database:
    return request.app.state.database  # type: ignore[no-any-return]


def get_blobs(request: Request) -> BlobStore:
    return request.app.state.blobs  # type: ignore[no-any-return]


SettingsDep = Annotated[Settings, Depends(get_settings)]
DatabaseDep = Annotated[Database, Depends(get_database)]


async def pki_services(request: Request) -> PkiServices:
    """The time-stamping unit and OCSP responder of this process; only the first request reads the PKI.

    The PKI routes call this themselves and read their body with ``Request.body()``: resolving a ``Depends``
    and a ``Body`` parameter cost about 30 µs of a served OCSP answer's 200 (``bench/pki.py``).
    """
    lazy: LazyPkiServices = request.app.state.pki_services
    services = lazy.ready
    return services if services is not None else await run_in_threadpool(lazy.open)


async def get_policy(settings: SettingsDep, base: Annotated[TrustSettings, Depends(get_trust)]) -> Policy:
    return Policy(settings=settings, base=base)


PolicyDep = Annotated[Policy, Depends(get_policy)]


def secret_cipher(settings: SettingsDep) -> SecretCipher:
    """Secrets kept to be shown again (webhook secrets, idempotent answers that carry a token) are encrypted
    under a key derived from the server secret (the CA passphrase)."""
    return SecretCipher.derive(authorities.passphrase(settings))


CipherDep = Annotated[SecretCipher, Depends(secret_cipher)]


_bearer = HTTPBearer(auto_error=False, description="An esign API token (`esign token create`)")


_READING = frozenset({"GET", "HEAD"})


def current_actor(
    request: Request,
    database: DatabaseDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The bearer token's actor; for a request that only reads, a signed-in official's session cookie too
    (the pages link to API listings). A cookie never authorises a change: that would let another site's form
    act for the official, so writing takes a token, which no browser sends by itself."""
    if credentials is not None and credentials.scheme.lower() == "bearer":
        with database.reading() as session:
            return tokens.authenticate(session, credentials.credentials)
    cookie = request.cookies.get(sessions.COOKIE)
    if cookie and request.method in _READING:
        with database.transaction() as session:
            return sessions.authenticate(session, cookie, settings=settings).actor
    raise Unauthenticated("a bearer token is required")


async def _admin(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    actor.require_admin()
    return actor


async def _signer(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
    actor.require_official()
    if not actor.can(Scope.SIGN):
        raise Forbidden("this token may not sign")
    return actor


ActorOf = Annotated[Actor, Depends(current_actor)]
"""Any authenticated official or system of an organisation."""
AdminOf = Annotated[Actor, Depends(_admin)]
"""An administrator of the organisation (an official with the admin role)."""
SignerOf = Annotated[Actor, Depends(_signer)]
"""An official whose token may sign with the credentials they hold."""
