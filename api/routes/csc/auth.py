"""CSC service authorisation of the ``external`` kind (v1.0.4.0 §8.1): this service's own bearer token."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from esign.errors import Forbidden
from esign.identity import Actor, Scope
from keys import tokens

from .problems import CscProblem

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="CSC external",
    description=(
        'CSC service authorisation of type "external": this service\'s own API token (`esign token create '
        "--official ID`), sent as `Authorization: Bearer <token>`."
    ),
)
BearerToken = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def caller(session: Session, bearer: HTTPAuthorizationCredentials | None) -> Actor:
    """The official a bearer token stands for, looked up in the request's own transaction; they must be
    allowed to sign (an official's token with the ``sign`` scope)."""
    if bearer is None:
        raise CscProblem(
            401,
            "invalid_request",
            "Missing or malformed Authorization header: a Bearer token is expected",
            headers={"WWW-Authenticate": "Bearer"},
        )
    actor = tokens.authenticate(session, bearer.credentials)
    actor.require_official()
    if not actor.can(Scope.SIGN):
        raise Forbidden("this token may not sign")
    return actor
