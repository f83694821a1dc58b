"""``Idempotency-Key`` for every POST that creates something.

The first request's answer is stored with what it created, in the same transaction; a retry with the key
gets that answer again (200 instead of 201) and creates nothing. The same key with a different request is
409 ``idempotency_conflict``. Keys are scoped by organisation and operation.

Secrets stay out of what is kept: PINs and session secrets are left out of the request's fingerprint (a
SHA-256 of a six-digit PIN is no protection), and an answer that shows a secret once (a token, a session)
is stored encrypted.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from esign import idempotency
from esign.cipher import SecretCipher
from esign.db import Database
from esign.identity import Actor

Out = TypeVar("Out", bound=BaseModel)

SECRET_FIELDS = frozenset({"pin", "old_pin", "new_pin", "session", "token", "secret"})

IdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", description="Makes a retry return what the first request made, creating nothing"),
]


def once(
    database: Database,
    *,
    actor: Actor,
    key: str | None,
    operation: str,
    request: BaseModel | str | bytes | None,
    create: Callable[[Session], Out],
    model: type[Out],
    status: int = 201,
    sealed: SecretCipher | None = None,
) -> JSONResponse:
    """Run ``create`` in one transaction, unless ``key`` replays an earlier request; answer as JSON.

    ``sealed``: the answer carries a secret, so it is kept encrypted under this cipher.
    """
    fingerprint = idempotency.fingerprint(
        operation, request.model_dump_json(exclude=set(SECRET_FIELDS)) if isinstance(request, BaseModel) else request or ""
    )
    scope = f"{actor.organisation_id}:{operation}"
    with database.transaction() as session:
        claim = None
        if key is not None:
            claim = idempotency.claim(session, scope=scope, key=key, request_fingerprint=fingerprint)
            if claim.replay is not None and claim.response is not None:
                kept = sealed.decrypt(claim.response, context=f"idempotency:{scope}:{key}") if sealed else claim.response
                replayed = model.model_validate_json(kept)
                return JSONResponse(replayed.model_dump(mode="json"), status_code=200 if status == 201 else status)
        result = create(session)
        if claim is not None:
            answer = result.model_dump_json()
            if sealed is not None:
                answer = sealed.encrypt(answer, context=f"idempotency:{scope}:{key}")
            idempotency.complete(session, claim, operation, response=answer)
    return JSONResponse(result.model_dump(mode="json"), status_code=status)
