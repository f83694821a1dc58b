"""Signing in through the organisation's OpenID Connect provider (统一身份认证), when ``ESIGN_OIDC_ISSUER`` is set.

The authorization code flow with PKCE (RFC 7636, S256) and a nonce: ``POST /login/oidc`` (a form, so CSRF-checked)
sends the browser to the provider with a fresh ``state``; ``/login/oidc/callback`` takes the code back, redeems it
at the token endpoint with the client secret, and checks the ID token's signature (the provider's JWKS), issuer,
audience, expiry and nonce. The claim ``ESIGN_OIDC_CLAIM`` names an existing official by their login name
(:func:`keys.passwords.by_identity_claim`); nobody is created. What the round trip must remember (state, nonce,
code verifier, where to go after) travels in a short-lived cookie sealed with an HMAC, so the server keeps nothing
for a sign-in that is never finished.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from functools import cache
from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool

from esign.errors import EsignError
from esign.settings import Settings
from keys import passwords, sessions
from keys.errors import AccountLocked, SignInFailed

from . import auth
from .signin import login_page_with, refused, safe_next

router = APIRouter(include_in_schema=False)

COOKIE = "esign_oidc"
ROUND_TRIP_SECONDS = 600
"""How long the provider may take to send the browser back."""
TIMEOUT = httpx.Timeout(10.0)


class OidcFailed(EsignError):
    """The provider could not be reached, or answered something that does not prove who signed in."""

    code = "oidc_failed"


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _redirect_uri(settings: Settings) -> str:
    return f"{settings.public_url.rstrip('/')}/login/oidc/callback"


@cache
def _discovery(issuer: str) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery 1.0), read once per process."""
    answer = httpx.get(f"{issuer.rstrip('/')}/.well-known/openid-configuration", timeout=TIMEOUT)
    answer.raise_for_status()
    metadata: dict[str, Any] = answer.json()
    if metadata.get("issuer") != issuer:
        raise OidcFailed("the provider's metadata names another issuer")
    return metadata


def _metadata(settings: Settings) -> dict[str, Any]:
    assert settings.oidc_issuer is not None
    try:
        return _discovery(settings.oidc_issuer)
    except (httpx.HTTPError, ValueError) as e:
        _discovery.cache_clear()
        raise OidcFailed(f"the identity provider cannot be reached: {e}") from None


def _seal(request: Request, payload: dict[str, str]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()
    tag = hmac.new(auth.key(_settings(request)), f"oidc|{body}".encode(), hashlib.sha256).hexdigest()
    return f"{body}.{tag}"


def _unseal(request: Request, value: str) -> dict[str, str]:
    body, _, tag = value.partition(".")
    expected = hmac.new(auth.key(_settings(request)), f"oidc|{body}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(tag, expected):
        raise OidcFailed("the sign-in did not start here")
    payload: dict[str, str] = json.loads(base64.urlsafe_b64decode(body))
    if float(payload["at"]) + ROUND_TRIP_SECONDS < time.time():
        raise OidcFailed("the sign-in took too long; start again")
    return payload


@router.post("/login/oidc")
async def start(request: Request) -> Response:
    settings = _settings(request)
    try:
        form = await auth.checked_form(request)
    except auth.CsrfRefused as error:
        return refused(request, error)
    if not settings.oidc_issuer or not settings.oidc_client_id:
        return login_page_with(request, status_code=404, error=OidcFailed.code)
    try:
        metadata = await run_in_threadpool(_metadata, settings)
    except OidcFailed:
        return login_page_with(request, status_code=502, error=OidcFailed.code)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": _redirect_uri(settings),
            "scope": "openid profile",
            "state": state,
            "nonce": nonce,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    response = RedirectResponse(f"{metadata['authorization_endpoint']}?{query}", status_code=303)
    trip = {
        "state": state,
        "nonce": nonce,
        "verifier": verifier,
        "next": safe_next(form.get("next")),
        "at": str(time.time()),
    }
    response.set_cookie(
        COOKIE,
        _seal(request, trip),
        max_age=ROUND_TRIP_SECONDS,
        httponly=True,
        samesite="lax",
        secure=auth.secure(request),
        path="/login/oidc",
    )
    return response


def _claims(settings: Settings, code: str, trip: dict[str, str]) -> dict[str, Any]:
    """Redeems the code and checks the ID token; its claims back."""
    metadata = _metadata(settings)
    assert settings.oidc_client_id is not None and settings.oidc_issuer is not None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    try:
        answer = httpx.post(
            metadata["token_endpoint"],
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": _redirect_uri(settings),
                "code_verifier": trip["verifier"],
            },
            auth=(settings.oidc_client_id, secret),
            timeout=TIMEOUT,
        )
        answer.raise_for_status()
        id_token = answer.json()["id_token"]
        keys = httpx.get(metadata["jwks_uri"], timeout=TIMEOUT)
        keys.raise_for_status()
        token = jwt.decode(id_token, KeySet.import_key_set(keys.json()), algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": settings.oidc_issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            nonce={"essential": True, "value": trip["nonce"]},
            exp={"essential": True},
            sub={"essential": True},
        ).validate(token.claims)
    except (httpx.HTTPError, KeyError, ValueError, JoseError) as e:
        raise OidcFailed(f"the identity provider's answer does not prove who signed in: {e}") from None
    return dict(token.claims)


def _sign_in(request: Request, claims: dict[str, Any]) -> str:
    settings = _settings(request)
    value = claims.get(settings.oidc_claim)
    with request.app.state.database.transaction() as session:
        official = passwords.by_identity_claim(
            session, value=value if isinstance(value, str) else "", issuer=settings.oidc_issuer or ""
        )
        return sessions.open_session(session, official=official, method="oidc").cookie


def _record_failure(request: Request, reason: str) -> None:
    with request.app.state.database.transaction() as session:
        passwords.record_identity_failure(session, issuer=_settings(request).oidc_issuer or "", reason=reason)


@router.get("/login/oidc/callback")
async def callback(request: Request) -> Response:
    settings = _settings(request)
    query = request.query_params
    try:
        trip = _unseal(request, request.cookies.get(COOKIE, ""))
        if not settings.oidc_issuer or not hmac.compare_digest(query.get("state", ""), trip["state"]):
            raise OidcFailed("the sign-in did not start here")
        if "code" not in query:
            raise OidcFailed(f"the identity provider refused: {query.get('error', 'no code')}")
        claims = await run_in_threadpool(_claims, settings, query["code"], trip)
        cookie = await run_in_threadpool(_sign_in, request, claims)
    except (OidcFailed, ValueError, KeyError) as error:
        reason = error.message if isinstance(error, OidcFailed) else "the sign-in did not start here"
        await run_in_threadpool(_record_failure, request, reason)
        response = login_page_with(request, status_code=401, error=OidcFailed.code)
    except AccountLocked as error:
        response = login_page_with(request, status_code=423, error=error.code)
    except SignInFailed:
        response = login_page_with(request, status_code=401, error="oidc_unknown")
    else:
        response = auth.start_session(request, RedirectResponse(trip["next"], status_code=303), cookie)
    response.delete_cookie(COOKIE, httponly=True, samesite="lax", secure=auth.secure(request), path="/login/oidc")
    return response
