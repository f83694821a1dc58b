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
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import Header
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from esign import idempotency, phases
from esign.cipher import SecretCipher
from esign.db import Database
from esign.identity import Actor

Out = TypeVar("Out", bound=BaseModel)

SECRET_FIELDS = frozenset({"pin", "old_pin", "new_pin", "session", "token", "secret"})

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            f"Makes a retry return what the first request made, creating nothing: 1 to {idempotency.MAX_KEY_LENGTH} "
            "printable ASCII characters, e.g. a UUID"
        ),
        min_length=1,
        max_length=idempotency.MAX_KEY_LENGTH,
        pattern=r"^[!-~]([ -~]*[!-~])?$",
    ),
]


Authorise = Callable[[Session], object] | None
"""The check the creating call makes of the caller (raising ``NotFound`` or ``Forbidden``; what it returns is
ignored), run before anything else, a replay included: a replay answers only a caller who may make the
request. ``None`` when the route's permission dependency (``AdminOf``, ``SignerOf``) is the whole check."""


class _Replay(Exception):
    def __init__(self, claim: idempotency.Claim) -> None:
        super().__init__("replay")
        self.claim = claim


def once(
    database: Database,
    *,
    actor: Actor,
    key: str | None,
    operation: str,
    request: BaseModel | str | bytes | None,
    authorise: Authorise,
    create: Callable[[Session], Out] | phases.Phases[Any, Out],
    model: type[Out],
    status: int = 201,
    sealed: SecretCipher | None = None,
    on_replay: Callable[[Out, timedelta], Out] | None = None,
) -> JSONResponse:
    """Run ``create``, unless ``key`` replays an earlier request; answer as JSON.

    This is the one idempotency path: services know nothing of keys. ``create`` runs in one transaction, or,
    given as :class:`esign.phases.Phases`, in the two around its slow part. In the (first) transaction,
    ``authorise`` runs first, so a caller who may not make the request gets its 403/404 and never another
    caller's answer; then the key is checked (scoped by organisation and ``operation``): a key completed
    before replays the first answer as it was given (200 where the first was 201), whatever the resource has
    become since. The key is claimed in the transaction that creates, and completed there. The same key with
    a different ``request`` is 409 ``idempotency_conflict``.

    ``sealed``: the answer carries a secret, so it is kept encrypted under this cipher.
    ``on_replay``: adjusts a replayed answer given its age (e.g. to stop re-showing a secret after a while).
    """
    fingerprint = idempotency.fingerprint(
        operation,
        request.model_dump_json(exclude=set(SECRET_FIELDS)) if isinstance(request, BaseModel) else request or "",
    )
    scope = f"{actor.organisation_id}:{operation}"

    def check(session: Session) -> None:
        if authorise is not None:
            authorise(session)
        if key is not None:
            earlier = idempotency.peek(session, scope=scope, key=key, request_fingerprint=fingerprint)
            if earlier is not None and earlier.response is not None:
                raise _Replay(earlier)

    def made(session: Session, result: Callable[[], Out]) -> Out:
        claim = None
        if key is not None:
            claim = idempotency.claim(session, scope=scope, key=key, request_fingerprint=fingerprint)
            if claim.replay is not None and claim.response is not None:
                raise _Replay(claim)
        out = result()
        if claim is not None:
            answer = out.model_dump_json()
            if sealed is not None:
                answer = sealed.encrypt(answer, context=f"idempotency:{scope}:{key}")
            idempotency.complete(session, claim, operation, response=answer)
        return out

    try:
        if isinstance(create, phases.Phases):
            steps = create

            def prepare(session: Session) -> Any:
                check(session)
                return steps.prepare(session)

            result = phases.run(
                database,
                phases.Phases(prepare, lambda session, work: made(session, lambda: steps.record(session, work))),
            )
        else:
            single = create
            with database.transaction() as session:
                check(session)
                result = made(session, lambda: single(session))
    except _Replay as replay:
        return _replayed(
            replay.claim, scope=scope, key=key, model=model, sealed=sealed, on_replay=on_replay, status=status
        )
    return JSONResponse(result.model_dump(mode="json"), status_code=status)


def _replayed(
    claim: idempotency.Claim,
    *,
    scope: str,
    key: str | None,
    model: type[Out],
    sealed: SecretCipher | None,
    on_replay: Callable[[Out, timedelta], Out] | None,
    status: int,
) -> JSONResponse:
    assert claim.response is not None
    kept = sealed.decrypt(claim.response, context=f"idempotency:{scope}:{key}") if sealed else claim.response
    replayed = model.model_validate_json(kept)
    if on_replay is not None and claim.claimed_at is not None:
        replayed = on_replay(replayed, datetime.now(UTC) - claim.claimed_at)
    return JSONResponse(replayed.model_dump(mode="json"), status_code=200 if status == 201 else status)
