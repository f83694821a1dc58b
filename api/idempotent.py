"""``Idempotency-Key`` for every POST that creates something.

The first request's answer is stored with what it created, in the same transaction; a retry with the key
gets that answer again (200 instead of 201) and creates nothing. The same key with a different request is
409 ``idempotency_conflict``. Keys are scoped by organisation and operation.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from esign import idempotency
from esign.db import Database
from keys.actor import Actor

Out = TypeVar("Out", bound=BaseModel)

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
) -> JSONResponse:
    """Run ``create`` in one transaction, unless ``key`` replays an earlier request; answer as JSON."""
    fingerprint = idempotency.fingerprint(
        operation, request.model_dump_json() if isinstance(request, BaseModel) else request or ""
    )
    with database.transaction() as session:
        claim = None
        if key is not None:
            claim = idempotency.claim(
                session, scope=f"{actor.organisation_id}:{operation}", key=key, request_fingerprint=fingerprint
            )
            if claim.replay is not None and claim.response is not None:
                replayed = model.model_validate_json(claim.response)
                return JSONResponse(replayed.model_dump(mode="json"), status_code=200 if status == 201 else status)
        result = create(session)
        if claim is not None:
            idempotency.complete(session, claim, operation, response=result.model_dump_json())
    return JSONResponse(result.model_dump(mode="json"), status_code=status)
