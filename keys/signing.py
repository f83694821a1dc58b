"""Signing a PDF with a credential held here: unlock (PIN or signing session), sign, audit.

In two transactions around the signing (``esign.phases``): :func:`prepare` unlocks the key and reads what
the engine needs (the chain, the current CRLs for B-LT); :meth:`SigningWork.run` signs and time-stamps with
no transaction open; :func:`record` writes the audit event of the signature.
"""

from __future__ import annotations

import hashlib
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from pyhanko.sign.signers import Signer
from sqlalchemy.orm import Session

from esign import audit
from esign.appearance import Appearance
from esign.errors import InvalidInput
from esign.identity import Actor
from esign.settings import Settings
from esign.sign import Certification, PadesLevel, SignOptions, sign, sign_file

from . import custody, identities, levels
from .authorities import Pki
from .credentials import Credential, Purpose, certificate, get


@dataclass(frozen=True)
class SignRequest:
    pdf: bytes | Path
    """The PDF, or the path of a file holding it: then signed from the file into ``output``, as streams."""
    output: Path | None = None
    level: PadesLevel | None = None
    """``None``: the level of the credential's organisation (``keys.levels.level_for``)."""
    reason: str | None = None
    location: str | None = None
    field_name: str | None = None
    page: int | None = None
    box: tuple[float, float, float, float] | None = None
    """With ``page``, draws the signature there: the signer's details, or the organisation's red seal."""
    certify: Certification | None = None
    """A certification signature with that DocMDP permission instead of an approval signature."""


@dataclass(frozen=True)
class Unlock:
    """How the holder unlocks the credential: the PIN, or the secret of a signing session opened with it."""

    credential_id: str
    pin: str | None = None
    session_secret: str | None = None

    def __post_init__(self) -> None:
        if (self.pin is None) == (self.session_secret is None):
            raise InvalidInput("give either pin or session")


class SigningWork:
    """A signature prepared in a transaction, made by :meth:`run` outside it; ``signed`` holds the result.
    ``signer_name``: the subject of the credential's certificate, for the revision's record."""

    def __init__(
        self,
        *,
        request: SignRequest,
        signer: Signer,
        options: SignOptions,
        credential_id: str,
        organisation_id: str,
        purpose: str,
        signer_name: str,
        resources: ExitStack,
    ) -> None:
        self.request = request
        self.signer_name = signer_name
        self.credential_id = credential_id
        self.organisation_id = organisation_id
        self.purpose = purpose
        self.signed: bytes | Path | None = None
        self._signer = signer
        self._options = options
        self._resources = resources

    @property
    def sealing(self) -> bool:
        return self.purpose == Purpose.SEAL.value

    @property
    def level(self) -> PadesLevel:
        assert self.request.level is not None
        return self.request.level

    def run(self) -> None:
        source, output = self.request.pdf, self.request.output
        if isinstance(source, bytes):
            self.signed = sign(source, self._signer, self._options)
            return
        if output is None:
            raise ValueError("a PDF signed from a file needs an output file")
        with source.open("rb") as reading, output.open("w+b") as writing:
            sign_file(reading, writing, self._signer, self._options)
        self.signed = output

    def close(self) -> None:
        self._resources.close()

    def result(self) -> bytes | Path:
        if self.signed is None:
            raise RuntimeError("the signature was recorded before it was made")
        return self.signed


def _options(
    session: Session, *, credential: Credential, pki: Pki, settings: Settings, request: SignRequest
) -> SignOptions:
    level = request.level
    assert level is not None, "prepare resolves the level first"
    appearance = None
    if request.box is not None:
        if credential.purpose == Purpose.SEAL.value:
            org = identities.get_organisation(session, credential.organisation_id)
            appearance = Appearance(page=request.page or 1, box=request.box, seal_text=org.name, show_details=False)
        else:
            appearance = Appearance(page=request.page or 1, box=request.box, zone=settings.timezone)
    options = SignOptions(
        level=level,
        reason=request.reason,
        location=request.location,
        field_name=request.field_name,
        certify=request.certify,
        appearance=appearance,
    )
    return replace(options, **levels.engine_inputs(session, pki=pki, settings=settings, level=level))


def prepare(
    session: Session, *, actor: Actor, pki: Pki, settings: Settings, unlock: Unlock, request: SignRequest
) -> SigningWork:
    """Unlock the credential for one signature of ``request``. A wrong PIN is counted and audited in this
    transaction (it commits although the error is raised); a signing session spends one signature."""
    with ExitStack() as resources:
        signer: Signer
        if unlock.session_secret is not None:
            signer, record = custody.session_signer(session, actor=actor, secret=unlock.session_secret, pki=pki)
            if record.credential_id != unlock.credential_id:
                raise InvalidInput("this signing session belongs to another credential")
        else:
            assert unlock.pin is not None
            signer = resources.enter_context(
                custody.unlocked(session, actor=actor, credential_id=unlock.credential_id, pin=unlock.pin, pki=pki)
            )
        credential = get(session, actor=actor, credential_id=unlock.credential_id)
        request = replace(
            request,
            level=levels.level_for(session, organisation_id=credential.organisation_id, requested=request.level),
        )
        work = SigningWork(
            request=request,
            signer=signer,
            options=_options(session, credential=credential, pki=pki, settings=settings, request=request),
            credential_id=credential.id,
            organisation_id=credential.organisation_id,
            purpose=credential.purpose,
            signer_name=certificate(session, credential).subject.rfc4514_string(),
            resources=resources.pop_all(),
        )
    return work


def sha256_of(pdf: bytes | Path) -> str:
    if isinstance(pdf, bytes):
        return hashlib.sha256(pdf).hexdigest()
    with pdf.open("rb") as reading:
        return hashlib.file_digest(reading, "sha256").hexdigest()


def record(session: Session, *, actor: Actor, work: SigningWork) -> bytes | Path:
    """Audit the signature ``work`` made; the signed PDF, or the file holding it."""
    signed = work.result()
    audit.append(
        session,
        actor=actor,
        action="document.signed",
        subject=f"credential:{work.credential_id}",
        chain=work.organisation_id,
        payload={
            "level": work.level.value,
            "input_sha256": sha256_of(work.request.pdf),
            "output_sha256": sha256_of(signed),
            "purpose": work.purpose,
        },
    )
    return signed
