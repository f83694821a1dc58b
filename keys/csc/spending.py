"""A ``signHash`` batch checked against its SAD and spent on it (``spend``), signed outside any transaction
(``SpentBatch.sign``), and given back when the key could not sign it (``refund``)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import Row, bindparam, delete, select, update
from sqlalchemy.orm import Session

from esign import audit
from esign.db import table_of
from esign.identity import Actor
from esign.ids import now
from esign.signers import to_asn1

from .. import envelope, pkcs11
from ..ca import PrivateKey
from ..credentials import MAX_PIN_ATTEMPTS, Credential, Status, Storage, certificate, holder_may_use
from ..errors import CredentialLocked
from ..signing_process import signing_process
from .activation import SignatureActivation, sealing_context, secret_hash
from .algorithms import SignatureAlgorithm, check_fits, key_type, resolve_algorithm
from .key_cache import keys
from .refusals import CscRefused, Refusal


@dataclass(frozen=True)
class SpentBatch:
    """A ``signHash`` batch checked against its SAD and spent on it, ready to sign outside any transaction.
    Holds the unsealed key (or the token's PIN) meanwhile, and the SAD's row as it was before the spending,
    so that ``refund`` can give the batch back if the key cannot sign it."""

    activation: dict[str, object] = field(repr=False)
    sad_hash: str
    credential_id: str
    algorithm: SignatureAlgorithm
    hashes: tuple[bytes, ...]
    key: PrivateKey | None = field(default=None, repr=False)
    token: tuple[pkcs11.TokenKey, str, asn1_x509.Certificate] | None = field(default=None, repr=False)
    """The token's key, the PIN to log in with, and the certificate it must match."""

    def sign(self) -> list[bytes]:
        """Each digest signed as prehashed: per hash, the private-key operation alone; a software key's
        batch in the signing process (see ``keys.signing_process``), a token's in its token."""
        if self.key is not None:
            return signing_process.sign(self.key, self.algorithm.signing, self.hashes)
        assert self.token is not None
        ref, pin, cert = self.token
        try:
            return pkcs11.sign_digests(ref, user_pin=pin, cert=cert, how=self.algorithm.signing, digests=self.hashes)
        except pkcs11.TokenPinRejected:
            raise CscRefused(
                Refusal.INVALID_SAD, "the token no longer accepts the PIN this SAD was authorised with"
            ) from None


def _covered(record: Row[Any], digests: Sequence[bytes]) -> list[str] | None:
    """The SAD's hashes left once ``digests`` are signed (None when it is not bound to hashes), or a refusal
    when it does not cover them: too many, or a hash it does not authorise (or authorised once, and signed)."""
    if record.signatures_left < len(digests):
        raise CscRefused(
            Refusal.INVALID_SAD, f"the SAD authorises {record.signatures_left} more signatures, not {len(digests)}"
        )
    if record.hashes is None:
        return None
    left = Counter(record.hashes)
    wanted = Counter(d.hex() for d in digests)
    if wanted - left:
        raise CscRefused(
            Refusal.HASH_NOT_AUTHORISED, "a hash is not among those the SAD authorises (or was signed already)"
        )
    return list((left - wanted).elements())


def _check_credential(found: Row[Any], *, actor: Actor) -> None:
    """Whether the credential of a live SAD may still sign: what ``custody._usable`` decides, without
    reading the certificate. A SAD never outlives its certificate (``authorize`` clamps its expiry to the
    certificate's notAfter), so only the status column can have changed since: locked, or revoked."""
    if found.credential_organisation_id != actor.organisation_id or not holder_may_use(
        actor, purpose=found.purpose, holder_id=found.holder_id
    ):
        raise CscRefused(Refusal.INVALID_CREDENTIAL, f"no credential {found.credential_id} the caller may sign with")
    if found.status == Status.LOCKED.value:
        raise CredentialLocked(f"credential {found.credential_id} is locked after {MAX_PIN_ATTEMPTS} wrong PINs")
    if found.status != Status.ACTIVE.value:
        raise CscRefused(Refusal.CREDENTIAL_DISABLED, f"credential {found.credential_id} is {found.status}")


# Built once: a signHash runs them, and building a statement costs about as much as running it.
_ACTIVATIONS = table_of(SignatureActivation)
_CREDENTIALS = table_of(Credential)
_LOCK_ACTIVATION = (
    select(
        _ACTIVATIONS,
        _CREDENTIALS.c.organisation_id.label("credential_organisation_id"),
        _CREDENTIALS.c.official_id.label("holder_id"),
        _CREDENTIALS.c.purpose,
        _CREDENTIALS.c.status,
        _CREDENTIALS.c.storage,
        _CREDENTIALS.c.token_uri,
    )
    .join(_CREDENTIALS, _CREDENTIALS.c.id == _ACTIVATIONS.c.credential_id)
    .where(_ACTIVATIONS.c.secret_hash == bindparam("secret_hash"))
    .with_for_update(of=_ACTIVATIONS)
)
_SPEND = (
    update(_ACTIVATIONS)
    .where(_ACTIVATIONS.c.id == bindparam("activation_id"))
    .values(hashes=bindparam("hashes_left"), signatures_left=bindparam("count_left"))
)
_SPENT = delete(_ACTIVATIONS).where(_ACTIVATIONS.c.id == bindparam("activation_id"))
_ROW = tuple(c.key for c in _ACTIVATIONS.columns)


def _locked_activation(session: Session, *, actor: Actor, credential_id: str, sad_hash: str) -> Row[Any]:
    """The SAD's row, locked, with what its credential's checks need, in one query of plain columns, if the
    SAD is the caller's, for this credential and unexpired."""
    found = session.connection().execute(_LOCK_ACTIVATION, {"secret_hash": sad_hash}).one_or_none()
    if (
        found is None
        or found.organisation_id != actor.organisation_id
        or found.official_id != (actor.official_id or "")
        or found.credential_id != credential_id
    ):
        raise CscRefused(Refusal.INVALID_SAD, "unknown SAD, or one issued for another credential or caller")
    if found.expires_at <= now():
        raise CscRefused(Refusal.SAD_EXPIRED, "the SAD has expired; authorise again")
    return found


def _with_key(session: Session, batch: SpentBatch, record: Row[Any], sad: str) -> SpentBatch:
    """The batch with what signs it: the token, its PIN unsealed for this batch alone, or the software key,
    unsealed at most once per SAD and process; refused when the algorithm does not fit the key."""
    algorithm, credential_id, context = batch.algorithm, batch.credential_id, sealing_context(batch.credential_id)
    if record.storage == Storage.PKCS11.value:
        assert record.wrapped_pin is not None and record.token_uri is not None
        credential = session.get(Credential, credential_id)
        assert credential is not None
        cert = certificate(session, credential)
        kind, bits, _ = key_type(cert)
        check_fits(algorithm, kind, bits)
        pin = envelope.open_bytes(record.wrapped_pin, sad.encode(), context=context).decode()
        return replace(batch, token=(pkcs11.TokenKey.from_uri(record.token_uri), pin, to_asn1(cert)))
    key = keys.get(batch.sad_hash, credential_id)
    if key is None:
        assert record.wrapped_key is not None
        key = envelope.open_key(record.wrapped_key, sad.encode(), context=context)
        keys.put(batch.sad_hash, credential_id, key)
    check_fits(algorithm, "ec" if isinstance(key, ec.EllipticCurvePrivateKey) else "rsa", key.key_size)
    return replace(batch, key=key)


def spend(
    session: Session,
    *,
    actor: Actor,
    credential_id: str,
    sad: str,
    hashes: Sequence[bytes],
    sign_algo: str,
    sign_algo_params: bytes | None = None,
    hash_algo: str | None = None,
) -> SpentBatch:
    """Every check of ``signatures/signHash`` (CSC API v1.0.4.0 §11.9, v2.0.0.2 §11.10), then the batch spent
    on its SAD under the SAD row's lock and logged, in the caller's transaction: the algorithm, the hashes,
    the SAD (the caller's, for this credential, unexpired, covering these hashes) and the credential (still
    active). A refusal comes before anything is spent or signed.

    The signatures are made afterwards, by ``SpentBatch.sign`` outside any transaction, so no database lock
    (SQLite's is the whole database's) is held while the key works, and none of them exists before its
    spending has committed: ``keys.csc.sign_hash`` runs the whole flow.
    """
    if not hashes:
        raise CscRefused(Refusal.EMPTY_HASHES, "no hashes to sign")
    algorithm = resolve_algorithm(sign_algo, params=sign_algo_params, hash_algo=hash_algo)
    if any(len(h) != algorithm.digest_size for h in hashes):
        raise CscRefused(Refusal.INVALID_HASH_LENGTH, f"every hash must be a {algorithm.hash} digest")
    digest = secret_hash(sad)
    record = _locked_activation(session, actor=actor, credential_id=credential_id, sad_hash=digest)
    left = _covered(record, hashes)
    _check_credential(record, actor=actor)
    batch = SpentBatch(
        activation={name: getattr(record, name) for name in _ROW},
        sad_hash=digest,
        credential_id=credential_id,
        algorithm=algorithm,
        hashes=tuple(hashes),
    )
    batch = _with_key(session, batch, record, sad)
    count_left = record.signatures_left - len(hashes)
    if count_left == 0:
        session.connection().execute(_SPENT, {"activation_id": record.id})
        keys.drop(digest)
    else:
        session.connection().execute(
            _SPEND, {"activation_id": record.id, "hashes_left": left, "count_left": count_left}
        )
    audit.append(
        session,
        actor=actor,
        action="credential.csc_signed",
        subject=f"credential:{credential_id}",
        chain=record.credential_organisation_id,
        payload={
            "activation": record.id,
            "signatures": len(hashes),
            "sign_algo": algorithm.oid,
            "hashes_sha256": hashlib.sha256(b"".join(hashes)).hexdigest(),
        },
    )
    return batch


def refund(session: Session, *, actor: Actor, batch: SpentBatch, reason: str) -> None:
    """Give a spent batch back to its SAD when it could not be signed (a token that failed or no longer takes
    the PIN, a signing process that stopped): the SAD authorises those hashes again, as if the batch had never
    been sent, and the log says why. A SAD used up by the batch is restored."""
    activation_id = str(batch.activation["id"])
    record = session.scalar(
        select(SignatureActivation)
        .filter_by(id=activation_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    bound = batch.activation["hashes"] is not None
    if record is None:
        record = SignatureActivation(**{**batch.activation, "signatures_left": 0, "hashes": [] if bound else None})
        session.add(record)
    record.signatures_left += len(batch.hashes)
    if bound:
        record.hashes = [*(record.hashes or []), *(h.hex() for h in batch.hashes)]
    session.flush()
    audit.append(
        session,
        actor=actor,
        action="credential.csc_refunded",
        subject=f"credential:{batch.credential_id}",
        chain=actor.organisation_id,
        payload={"activation": activation_id, "signatures": len(batch.hashes), "reason": reason},
    )
