"""The deployment's PKI: root CA, issuing CA, time-stamping unit and OCSP responder, kept in the database.

Their private keys are stored encrypted under the CA passphrase (``ESIGN_CA_PASSPHRASE``). The embedded
default generates one into the data directory on first start; that keeps the key next to its
passphrase and is only fit for development, which ``esign init`` says. With ``ESIGN_CA_TOKEN`` the root and
issuing CA keys are made in a PKCS#11 token instead and never leave it (``keys.ca_token``); their rows hold the
key's URI and no key.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from sqlalchemy import Index, LargeBinary, String, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from esign import audit
from esign.db import Base
from esign.filemodes import private_directory, write_private
from esign.identity import Actor
from esign.ids import now
from esign.settings import Settings

from . import ca, ca_token, envelope
from .ca import Authority, CaKey, CertificationAuthority, KeyKind, PkiUrls, Profile
from .errors import PkiNotInitialised

ROOT, ISSUING, TSA, OCSP, REGISTRY = "root", "issuing", "tsa", "ocsp", "registry"
PKI_ORGANISATION = "esign PKI"
PASSPHRASE_FILE = "ca-passphrase"


class PkiAuthority(Base):
    __tablename__ = "pki_authorities"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    encrypted_key: Mapped[bytes] = mapped_column(LargeBinary, doc="empty when the key is in a token")
    key_uri: Mapped[str | None] = mapped_column(String(1000), doc="the pkcs11: URI of a key held in a token")
    created_at: Mapped[datetime] = mapped_column(default=now)


class IssuedCertificate(Base):
    """Every certificate this PKI signed: what CRLs and the OCSP responder answer from."""

    __tablename__ = "issued_certificates"
    __table_args__ = (
        Index(
            "ix_issued_certificates_revoked",
            "issuer",
            "not_after",
            postgresql_where=text("revoked_at IS NOT NULL"),
            sqlite_where=text("revoked_at IS NOT NULL"),
        ),
    )

    serial: Mapped[str] = mapped_column(String(40), primary_key=True, doc="lowercase hex")
    issuer: Mapped[str] = mapped_column(String(20), doc="root or issuing")
    profile: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(500))
    organisation_id: Mapped[str | None] = mapped_column(String(36), index=True)
    certificate: Mapped[bytes] = mapped_column(LargeBinary)
    not_before: Mapped[datetime]
    not_after: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revocation_reason: Mapped[str | None] = mapped_column(String(40))


@dataclass(frozen=True)
class Pki:
    root: CertificationAuthority
    issuing: CertificationAuthority
    tsa: Authority
    ocsp: Authority
    registry: Authority
    """Signs the registration of document numbers: the number is stamped as its visible appearance."""
    urls: PkiUrls

    @property
    def chain(self) -> list[x509.Certificate]:
        """The issuing CA and the root, as end-entity certificates need them."""
        return [self.issuing.cert, self.root.cert]


def serial_hex(serial: int) -> str:
    return format(serial, "x")


def record(
    session: Session, cert: x509.Certificate, *, issuer: str, profile: Profile, organisation_id: str | None
) -> IssuedCertificate:
    issued = IssuedCertificate(
        serial=serial_hex(cert.serial_number),
        issuer=issuer,
        profile=profile.value,
        subject=cert.subject.rfc4514_string()[:500],
        organisation_id=organisation_id,
        certificate=ca.der(cert),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )
    session.add(issued)
    return issued


def passphrase(settings: Settings, *, create: bool = False) -> bytes:
    if settings.ca_passphrase is not None:
        return settings.ca_passphrase.get_secret_value().encode()
    path = settings.data_dir / PASSPHRASE_FILE
    if not path.exists():
        if not create:
            raise PkiNotInitialised("no CA passphrase: set ESIGN_CA_PASSPHRASE or run `esign init`")
        # Owner-only from its first byte (``esign.filemodes``): whoever reads it opens every CA key.
        private_directory(path.parent)
        write_private(path, secrets.token_urlsafe(32).encode(), exclusive=True)
    return Path(path).read_text().strip().encode()


def _store(session: Session, name: str, authority: CertificationAuthority, secret: bytes) -> None:
    if isinstance(authority.key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        sealed, uri = envelope.seal_key(authority.key, secret, context=f"pki:{name}".encode()), None
    elif isinstance(authority.key, ca_token.TokenCaKey):
        sealed, uri = b"", authority.key.ref.to_uri()
    else:
        raise TypeError(f"a {type(authority.key).__name__} cannot be stored")
    session.add(PkiAuthority(name=name, certificate=ca.der(authority.cert), encrypted_key=sealed, key_uri=uri))


def _ca_key(settings: Settings, name: str, kind: KeyKind) -> CaKey:
    """A new key for the root or issuing CA: in the CA token if there is one, else in this process."""
    if ca_token.in_use(settings):
        return ca_token.generate(settings, name, kind=kind)
    return ca.generate_key(kind)


_SERVICES = (
    (TSA, Profile.TSA, "esign time-stamping unit"),
    (OCSP, Profile.OCSP, "esign OCSP responder"),
    (REGISTRY, Profile.SIGNATURE, "esign 公文登记 document registry"),
)


def urls_of(settings: Settings) -> PkiUrls:
    return PkiUrls(settings.public_url, policy=settings.certificate_policy, cps_url=settings.cps_url)


def ensure(session: Session, settings: Settings) -> tuple[Pki, bool]:
    """The PKI, with whatever of it is missing created (root, issuing CA, TSA, OCSP responder, registry);
    True when the root was just made. Running it again changes nothing."""
    existing = set(session.scalars(select(PkiAuthority.name)))
    if {ROOT, ISSUING, *(name for name, _, _ in _SERVICES)} <= existing:
        return load(session, settings), False
    secret = passphrase(settings, create=True)
    urls = urls_of(settings)
    kind = settings.key_kind
    created = ROOT not in existing
    if created:
        root = ca.new_root("esign root CA", organisation=PKI_ORGANISATION, urls=urls, key=_ca_key(settings, ROOT, kind))
        issuing = ca.new_issuing(
            root,
            common_name="esign issuing CA",
            organisation=PKI_ORGANISATION,
            urls=urls,
            key=_ca_key(settings, ISSUING, kind),
        )
        _store(session, ROOT, root, secret)
        _store(session, ISSUING, issuing, secret)
        record(session, issuing.cert, issuer=ROOT, profile=Profile.ISSUING_CA, organisation_id=None)
    else:
        issuing = _open_ca(session.get(PkiAuthority, ISSUING), secret, settings)  # type: ignore[arg-type]
    for name, profile, common_name in _SERVICES:
        if name in existing:
            continue
        service = ca.new_subordinate(
            issuing, profile=profile, common_name=common_name, organisation=PKI_ORGANISATION, urls=urls, kind=kind
        )
        _store(session, name, service, secret)
        record(session, service.cert, issuer=ISSUING, profile=profile, organisation_id=None)
    session.flush()
    pki = load(session, settings)
    if created:
        audit.append(
            session,
            actor=Actor.operator(),
            action="pki.created",
            subject="pki",
            payload={
                "root": serial_hex(pki.root.cert.serial_number),
                "issuing": serial_hex(pki.issuing.cert.serial_number),
            },
        )
    return pki, created


def _open_ca(row: PkiAuthority, secret: bytes, settings: Settings) -> CertificationAuthority:
    """A CA's certificate and key: the key from its token when the row names one, else decrypted."""
    if row.key_uri is None:
        return _open(row, secret)
    cert = x509.load_der_x509_certificate(row.certificate)
    return CertificationAuthority(cert=cert, key=ca_token.opened(settings, row.key_uri, cert))


def _open(row: PkiAuthority, secret: bytes) -> Authority:
    try:
        private_key = envelope.open_key(row.encrypted_key, secret, context=f"pki:{row.name}".encode())
    except envelope.WrongSecret:
        raise PkiNotInitialised("the CA passphrase does not open the CA's keys") from None
    return Authority(cert=x509.load_der_x509_certificate(row.certificate), key=private_key)


_cache: dict[str, Pki] = {}
_cache_lock = threading.Lock()


def _fingerprint(rows: dict[str, PkiAuthority]) -> str:
    """What the cached PKI was opened from: each authority's certificate and where its key is."""
    return hashlib.sha256(
        b"".join(rows[name].certificate + (rows[name].key_uri or "").encode() for name in sorted(rows))
    ).hexdigest()


def load(session: Session, settings: Settings) -> Pki:
    """The PKI with its keys decrypted; the decryption is paid once per process and PKI."""
    rows = {row.name: row for row in session.scalars(select(PkiAuthority))}
    if not {ROOT, ISSUING, TSA, OCSP, REGISTRY} <= set(rows):
        raise PkiNotInitialised("the PKI has not been created (or completed) yet: run `esign init`")
    key = _fingerprint(rows)
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    secret = passphrase(settings)
    pki = Pki(
        root=_open_ca(rows[ROOT], secret, settings),
        issuing=_open_ca(rows[ISSUING], secret, settings),
        tsa=_open(rows[TSA], secret),
        ocsp=_open(rows[OCSP], secret),
        registry=_open(rows[REGISTRY], secret),
        urls=urls_of(settings),
    )
    with _cache_lock:
        _cache[key] = pki
    return pki


def rotate_tsa_if_expiring(session: Session, settings: Settings, *, before: datetime) -> bool:
    """Give the time-stamping unit a new key and certificate when its certificate ends before ``before``; True
    if it did. Archive renewal (``documents.preservation``) asks for twice its margin, so that every archive
    time-stamp it makes protects for longer than the margin. The old certificate stays valid, and so do the
    tokens it signed; the row lock makes concurrent workers rotate once."""
    current = session.scalar(select(PkiAuthority.certificate).where(PkiAuthority.name == TSA))
    if current is None or x509.load_der_x509_certificate(current).not_valid_after_utc >= before:
        return False
    row = session.scalar(select(PkiAuthority).where(PkiAuthority.name == TSA).with_for_update())
    if row is None or x509.load_der_x509_certificate(row.certificate).not_valid_after_utc >= before:
        return False
    secret = passphrase(settings)
    issuing = _open_ca(session.get(PkiAuthority, ISSUING), secret, settings)  # type: ignore[arg-type]
    unit = ca.new_subordinate(
        issuing,
        profile=Profile.TSA,
        common_name=dict((n, c) for n, _, c in _SERVICES)[TSA],
        organisation=PKI_ORGANISATION,
        urls=urls_of(settings),
        kind=settings.key_kind,
    )
    if unit.cert.not_valid_after_utc < before:
        raise PkiNotInitialised(
            "the issuing CA expires too soon to certify a time-stamping unit that outlives the archive margin: "
            "the PKI needs a new issuing CA"
        )
    row.certificate = ca.der(unit.cert)
    row.encrypted_key = envelope.seal_key(unit.key, secret, context=f"pki:{TSA}".encode())
    record(session, unit.cert, issuer=ISSUING, profile=Profile.TSA, organisation_id=None)
    audit.append(
        session,
        actor=Actor.operator(),
        action="pki.tsa_rotated",
        subject="pki",
        payload={"tsa": serial_hex(unit.cert.serial_number), "not_after": unit.cert.not_valid_after_utc.isoformat()},
    )
    session.flush()
    return True


def move_ca_keys_to_token(session: Session, settings: Settings) -> list[str]:
    """Put the root and issuing CA keys kept in the database into the CA token (``ESIGN_CA_TOKEN``) and drop
    them from the database; the names of the authorities moved (none when both are there already). Processes
    that loaded the PKI before keep their copy until they restart, and so do backups made before."""
    if not ca_token.in_use(settings):
        raise PkiNotInitialised("set ESIGN_CA_TOKEN, ESIGN_CA_TOKEN_PIN and ESIGN_PKCS11_MODULE to name the CA token")
    rows = session.scalars(
        select(PkiAuthority).where(PkiAuthority.name.in_([ROOT, ISSUING])).order_by(PkiAuthority.name).with_for_update()
    ).all()
    if len(rows) != 2:
        raise PkiNotInitialised("the PKI has not been created yet: run `esign init`")
    moved = [row for row in rows if row.key_uri is None]
    secret = passphrase(settings) if moved else b""
    for row in moved:
        held = ca_token.moved(settings, row.name, _open(row, secret).key)
        row.encrypted_key, row.key_uri = b"", held.ref.to_uri()
    if moved:
        audit.append(
            session,
            actor=Actor.operator(),
            action="pki.ca_keys_moved",
            subject="pki",
            payload={"token": settings.ca_token, "authorities": [row.name for row in moved]},
        )
    return [row.name for row in moved]
