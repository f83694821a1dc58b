"""Deployment settings, read from ``ESIGN_*`` environment variables and a ``.env`` file."""

from __future__ import annotations

import os
import re
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.x509 import ObjectIdentifier
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from esign.blob_location import S3Location

TSA_POLICY = "2.25.171802334187214520950305633593547016405"
"""A policy OID under the UUID arc (ITU-T X.667), so it needs no registration."""

CERTIFICATE_POLICY = "2.25.9894836912135155268019164986487503451"
"""A placeholder certificate policy OID, also under the UUID arc so that it collides with nobody's: a deployment
replaces it with the OID registered for its certificate policy (under its own enterprise arc,
1.3.6.1.4.1.<PEN>, or the one its CA operator was given)."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ESIGN_", env_file=".env", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("var"),
        description="Holds the SQLite file and the blob folder of the embedded default.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; defaults to the SQLite file esign.db in the data directory.",
    )
    database_schema: str | None = Field(
        default=None, description="PostgreSQL schema to use instead of the search_path default."
    )
    blob_url: str | None = Field(
        default=None,
        description="Where PDF revisions and other blobs are kept: unset, the blob folder in the data directory; "
        "s3://BUCKET[/PREFIX]?endpoint=http://HOST:PORT&region=REGION for S3-compatible object storage (AWS, "
        "MinIO, Ceph, SeaweedFS...). Without endpoint, AWS itself; addressing=virtual for virtual-hosted buckets.",
    )
    s3_access_key_id: str | None = Field(
        default=None,
        description="Access key of the object store; unset, boto3's usual chain (AWS_ACCESS_KEY_ID and "
        "AWS_SECRET_ACCESS_KEY, ~/.aws/credentials, an instance role).",
    )
    s3_secret_access_key: SecretStr | None = Field(
        default=None, description="Secret key going with ESIGN_S3_ACCESS_KEY_ID."
    )
    max_upload_mb: int = Field(default=200, gt=0, description="Largest accepted upload, in MiB.")
    upload_in_memory_kb: int = Field(
        default=8192,
        ge=0,
        description="Uploads up to this size, in KiB, are signed and verified from memory; larger ones from "
        "a file on disk, read and written as streams.",
    )
    parse_max_objects: int = Field(
        default=1_000_000,
        gt=0,
        description="Object numbers an xref section or object stream of an outside PDF may declare; a "
        "10,000-page scan has about 100,000.",
    )
    parse_max_sections: int = Field(
        default=1_000, gt=0, description="Cross-reference sections in a PDF's /Prev chain (one per incremental update)."
    )
    parse_timeout_s: float = Field(
        default=20.0, gt=0, description="Wall-clock seconds one parse or verification may take."
    )
    parse_memory_mb: int = Field(
        default=512, gt=0, description="Address space one parse or verification may add to its worker, in MiB."
    )
    parse_workers: int = Field(
        default_factory=lambda: max(1, min(4, os.cpu_count() or 1)), gt=0, description="Parsing worker processes."
    )
    parse_queue: int = Field(default=8, ge=0, description="Requests that may wait for a busy worker before 503 busy.")
    parse_isolate: bool = Field(
        default=True, description="Parse in worker processes; false parses in the server (pre-scan limits only)."
    )
    shutdown_grace_s: int = Field(
        default=10, gt=0, description="Seconds `esign serve` lets requests finish after SIGTERM before cancelling them."
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="Base URL under which clients reach this service (used in certificates); esign serve defaults "
        "it to the host and port it listens on.",
    )
    trust_anchors: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="PEM/DER files of certificates trusted as roots when verifying.",
    )
    allow_fetching: bool = Field(
        default=False,
        description="Let verification fetch certificates, CRLs and OCSP responses over the network.",
    )
    revocation_mode: Literal["soft-fail", "hard-fail", "require"] = "soft-fail"
    ca_passphrase: SecretStr | None = Field(
        default=None,
        description="Encrypts the CA's private keys at rest. Without it, `esign init` generates one "
        "into the data directory (development only).",
    )
    key_kind: Literal["ec", "rsa"] = Field(
        default="ec", description="Keys the CA generates: ECDSA P-256 (ec) or RSA-3072 (rsa)."
    )
    webhooks_allow_private: bool = Field(
        default=False,
        description="Let webhooks go to loopback, private (RFC 1918, fc00::/7), link-local and reserved "
        "addresses; off, such URLs are refused and deliveries to names resolving there fail.",
    )
    pkcs11_module: Path | None = Field(
        default=None, description="PKCS#11 module for keys held in tokens, e.g. /usr/lib/softhsm/libsofthsm2.so."
    )
    ca_token: str | None = Field(
        default=None,
        description="Label of the PKCS#11 token (an HSM, through ESIGN_PKCS11_MODULE) in which `esign init` "
        "generates the root and issuing CA keys; they sign certificates and CRLs there and never leave it. "
        "Unset: the CA keys are kept in the database, encrypted under the CA passphrase.",
    )
    ca_token_pin: SecretStr | None = Field(default=None, description="The user PIN of ESIGN_CA_TOKEN.")
    tsa_policy: str = Field(
        default=TSA_POLICY,
        description="Policy OID the time-stamping unit puts in its tokens (RFC 3161 TSTInfo.policy).",
    )
    certificate_policy: str = Field(
        default=CERTIFICATE_POLICY,
        description="Policy OID in the certificatePolicies extension of every certificate the issuing CA signs "
        "(RFC 5280 §4.2.1.4). The default is a placeholder: set the OID registered for your certificate policy.",
    )
    cps_url: str | None = Field(
        default=None,
        description="URI of the certification practice statement, the policy's CPS qualifier; "
        "default: the public URL + /pki/cps.",
    )
    crl_validity_hours: int = Field(default=24, gt=0, description="nextUpdate of the CRLs, from now.")
    ocsp_validity_minutes: int = Field(default=60, gt=0, description="nextUpdate of OCSP responses, from now.")
    audit_anchor_minutes: int = Field(
        default=60, gt=0, description="How often the worker time-stamps the audit chains' heads (when they moved)."
    )
    archive_margin_days: int = Field(
        default=180,
        gt=0,
        description="Re-time-stamp a document's archive when its last archive time-stamp's unit certificate "
        "expires within this many days (ETSI TS 119 511 preservation by augmentation).",
    )
    archive_batch: int = Field(default=50, gt=0, description="Documents one worker claims per archive round.")
    archive_quiet_hours: int = Field(
        default=24,
        ge=0,
        description="A signed document no archive time-stamp covers gets one once unchanged this many hours.",
    )
    archive_interval_minutes: int = Field(
        default=60, gt=0, description="How often the worker looks for archives to renew once none was left."
    )
    archive_weak_algorithms: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["md5", "sha1", "rsa<2048", "ec<256"],
        description="Algorithms no longer trusted to protect an archive: digests by name, keys as TYPE<BITS; "
        "a document whose last archive time-stamp uses one is re-time-stamped.",
    )
    font_dirs: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Extra folders searched for CJK TrueType fonts."
    )
    font_mark: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Faces for the issuing-authority mark (发文机关标志), first that has the glyph wins.",
    )
    font_title: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Faces for titles (方正小标宋 in the standard)."
    )
    font_body: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Faces for the body (仿宋_GB2312 in the standard)."
    )
    font_heading: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Faces for first-level headings and labels (黑体)."
    )
    font_kai: Annotated[list[Path], NoDecode] = Field(
        default_factory=list, description="Faces for second-level headings and the signer's name (楷体)."
    )

    supervision_warn_days: int = Field(
        default=1,
        ge=0,
        le=30,
        description="Supervision shows a step yellow (due soon) when it falls due within this many working days.",
    )
    overdue_notices: int = Field(
        default=3,
        ge=1,
        le=20,
        description="How many times an overdue step is escalated (督办) while it stays open: the day after its "
        "due day, then every ESIGN_OVERDUE_REPEAT_DAYS working days.",
    )
    overdue_repeat_days: int = Field(
        default=2, ge=1, le=30, description="Working days between two escalations of a step still overdue."
    )
    urge_interval_minutes: int = Field(
        default=60,
        ge=0,
        description="A leader may urge (催办) the same step again only after this many minutes.",
    )
    web_verify_per_minute: int = Field(
        default=20,
        gt=0,
        description="Verifications one client address may make per minute on the verification page (a burst of "
        "that many, then one every 60/N seconds).",
    )
    session_idle_minutes: float = Field(
        default=30, gt=0, description="A signed-in session ends after this many minutes without a request."
    )
    session_absolute_hours: float = Field(
        default=12, gt=0, description="A signed-in session ends this many hours after sign-in, however busy."
    )
    signin_lockout_failures: int = Field(
        default=5, gt=0, description="Wrong passwords in a row after which an official's sign-in is locked."
    )
    signin_lockout_minutes: float = Field(default=15, gt=0, description="How long such a lock lasts.")
    invitation_hours: int = Field(
        default=72, gt=0, description="How long an invitation link to set a password stays usable."
    )
    password_min_length: int = Field(default=10, ge=8, description="Shortest password an official may set.")
    oidc_issuer: str | None = Field(
        default=None,
        description="Issuer URL of the organisation's OpenID Connect provider (统一身份认证); unset, sign-in is by "
        "password only.",
    )
    oidc_client_id: str | None = Field(default=None, description="This service's client id at the OIDC provider.")
    oidc_client_secret: SecretStr | None = Field(default=None, description="Its client secret.")
    oidc_claim: str = Field(
        default="preferred_username",
        description="The ID token claim whose value is an official's login name at esign; no match, no sign-in.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server that notifications are e-mailed through; unset, no e-mail is sent (the bell stays).",
    )
    smtp_port: int = Field(default=25, gt=0, lt=65536, description="Its port.")
    smtp_from: str = Field(default="esign@localhost", description="The sender address of notification e-mails.")
    smtp_username: str | None = Field(default=None, description="SMTP login, if the server wants one.")
    smtp_password: SecretStr | None = Field(default=None, description="Its password.")
    smtp_starttls: bool = Field(default=False, description="Upgrade the SMTP connection with STARTTLS before login.")
    timezone: str = Field(
        default="Asia/Shanghai",
        description="IANA time zone of the organisation: times in verification reports are given in it, "
        "with their UTC offset.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown time zone {value!r}") from e
        return value

    @field_validator("blob_url")
    @classmethod
    def _s3_url(cls, value: str | None) -> str | None:
        if not value:
            return None  # ESIGN_BLOB_URL= (as a compose file may leave it) keeps the folder
        S3Location.from_url(value)
        return value

    @model_validator(mode="after")
    def _both_keys_or_neither(self) -> Settings:
        if (self.s3_access_key_id is None) != (self.s3_secret_access_key is None):
            raise ValueError("set ESIGN_S3_ACCESS_KEY_ID and ESIGN_S3_SECRET_ACCESS_KEY together, or neither")
        return self

    @field_validator("archive_weak_algorithms", mode="before")
    @classmethod
    def _split_words(cls, value: object) -> object:
        words = [w.strip().lower() for w in value.split(",") if w.strip()] if isinstance(value, str) else value
        for word in words if isinstance(words, list) else []:
            if not re.fullmatch(r"[a-z0-9-]+(<[0-9]+)?", str(word)):
                raise ValueError(f"{word!r} is neither a digest name (sha1) nor a key as TYPE<BITS (rsa<2048)")
        return words

    @field_validator(
        "trust_anchors", "font_dirs", "font_mark", "font_title", "font_body", "font_heading", "font_kai", mode="before"
    )
    @classmethod
    def _split_paths(cls, value: object) -> object:
        if isinstance(value, str):
            return [Path(p) for p in value.replace(",", ":").split(":") if p.strip()]
        return value

    @field_validator("certificate_policy")
    @classmethod
    def _dotted_oid(cls, value: str) -> str:
        try:
            ObjectIdentifier(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an object identifier in dotted decimal, e.g. 1.2.156.99999.1") from None
        return value

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"

    @cached_property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'esign.db').resolve()}"

    @property
    def secure_cookies(self) -> bool:
        """Cookies are ``Secure`` when clients reach the service over HTTPS."""
        return self.public_url.lower().startswith("https://")

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024
