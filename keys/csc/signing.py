"""``signatures/signHash`` (CSC API v1.0.4.0 §11.9, v2.0.0.2 §11.10) as the HTTP API serves it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy.orm import Session

from esign.db import Database
from esign.identity import Actor

from ..errors import SigningUnavailable, TokenDeviceError
from .refusals import CscRefused
from .spending import refund, spend

Caller = Actor | Callable[[Session], Actor]
"""The actor, or how to find them within the spending transaction (the HTTP API looks its bearer token up
there, which saves a transaction per batch)."""


def sign_hash(
    database: Database,
    *,
    actor: Caller,
    credential_id: str,
    sad: str,
    hashes: Sequence[bytes],
    sign_algo: str,
    sign_algo_params: bytes | None = None,
    hash_algo: str | None = None,
) -> list[bytes]:
    """Raw signatures of ``hashes``, in order, under one SAD: RSASSA-PKCS1-v1_5, RSASSA-PSS or ECDSA (DER
    ``Ecdsa-Sig-Value``).

    Two transactions, which is why this takes the database rather than a session: the batch is checked and
    spent on its SAD in one short transaction (``spend``), which commits before the key works, so no database
    lock (SQLite's is the whole database's) is held while it signs and no signature exists before its
    spending has committed. The signing runs outside any transaction, in the signing process for a software
    key or in the token; when the key fails (the token refuses the PIN or the device, the signing process
    stops), a second transaction gives the batch back to the SAD (``refund``) and the error is raised.

    Per batch: one SAD row lock, at most one key unseal, one audit event; per hash, the signature alone.
    """
    with database.transaction() as session:
        caller = actor if isinstance(actor, Actor) else actor(session)
        batch = spend(
            session,
            actor=caller,
            credential_id=credential_id,
            sad=sad,
            hashes=hashes,
            sign_algo=sign_algo,
            sign_algo_params=sign_algo_params,
            hash_algo=hash_algo,
        )
    try:
        return batch.sign()
    except (CscRefused, TokenDeviceError, SigningUnavailable) as e:
        with database.transaction() as session:
            refund(session, actor=caller, batch=batch, reason=e.message)
        raise
