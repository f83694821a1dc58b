"""Blobs in an S3-compatible object store: AWS S3, MinIO, Ceph RGW, SeaweedFS and the like.

boto3 rather than the MinIO client: its transfer manager (``upload_fileobj``) splits a large blob into a
multipart upload read part by part from the caller's buffer, with retries per part, and it speaks the plain S3
API that every gateway implements, where the MinIO client leans on MinIO's extensions and its own
credential chain. boto3 also brings AWS's usual credential chain (environment, profile, instance role).

Keys are ``[prefix]ab/cd/<sha256>`` as on disk. A write asks first whether the key exists (HEAD) and
uploads only when it does not: two writers racing past the HEAD upload the same bytes under the same
key, so either result is right, and no gateway needs to support conditional writes. Every read re-hashes
the bytes it streams, so a damaged object is refused, as a damaged file is.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, TypeVar

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

from esign.blob_digests import check_digest, chunks, hash_stream
from esign.blob_location import S3Location
from esign.errors import BlobCorrupted, BlobNotFound, BlobStoreUnavailable

if TYPE_CHECKING:
    from types_boto3_s3 import S3Client
    from types_boto3_s3.type_defs import GetObjectOutputTypeDef

    from esign.settings import Settings

MiB = 1024 * 1024
T = TypeVar("T")

_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})
_REFUSED = frozenset(
    {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken"}
)


@dataclass(frozen=True)
class S3Options:
    location: S3Location
    access_key_id: str | None = None
    """None with the secret: boto3's chain (AWS_ACCESS_KEY_ID..., ~/.aws, an instance role)."""
    secret_access_key: str | None = field(default=None, repr=False)
    part_size: int = 8 * MiB
    """Objects above it go up as a multipart upload of parts this large (S3's minimum part is 5 MiB)."""
    concurrency: int = 2
    """Parts in flight at once: what an upload holds beyond the caller's bytes is about this many parts."""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    attempts: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Options:
        assert settings.blob_url is not None
        secret = settings.s3_secret_access_key
        return cls(
            location=S3Location.from_url(settings.blob_url),
            access_key_id=settings.s3_access_key_id,
            secret_access_key=secret.get_secret_value() if secret is not None else None,
        )


class S3BlobStore:
    """Content-addressed blobs in one bucket (under an optional prefix), each digest checked on every read."""

    def __init__(self, options: S3Options) -> None:
        self.options = options
        self.location = options.location
        session = boto3.session.Session(
            aws_access_key_id=options.access_key_id,
            aws_secret_access_key=options.secret_access_key,
            region_name=self.location.region,
        )
        self.client: S3Client = session.client(
            "s3",
            endpoint_url=self.location.endpoint,
            config=Config(
                s3={"addressing_style": self.location.addressing},
                connect_timeout=options.connect_timeout,
                read_timeout=options.read_timeout,
                retries={"max_attempts": options.attempts, "mode": "standard"},
                # Since boto3 1.36 every upload carries a CRC trailer by default, which many gateways refuse or
                # mishandle; the blob's own SHA-256, checked on every read, is the integrity check that counts.
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
            ),
        )
        self._transfer = TransferConfig(
            multipart_threshold=options.part_size,
            multipart_chunksize=options.part_size,
            max_concurrency=options.concurrency,
        )
        # At most this many parts read from the caller's buffer at once (s3transfer's default is 10): the bound
        # that keeps an upload from holding a second copy of a large blob. boto3's TransferConfig leaves it out.
        self._transfer.max_in_memory_upload_chunks = options.concurrency

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            # BytesIO over bytes shares their buffer until written to: the parts are read from ``data`` itself.
            self._upload(io.BytesIO(data), digest)
        return digest

    def put_file(self, path: Path) -> str:
        """The file's parts are read from it as they are sent (``TransferConfig``): never the whole at once."""
        with path.open("rb") as source:
            digest, _ = hash_stream(source)
            if not self.exists(digest):
                source.seek(0)
                self._upload(source, digest)
        return digest

    def put_stream(self, stream: BinaryIO, digest: str) -> bool:
        """Upload ``stream`` as ``digest`` unless present, then read it back: True when it was uploaded.

        For copying blobs that are already addressed (``esign blobs migrate``) without loading them whole:
        the digest is taken on trust for the upload, so the object is re-read, and removed again if it does not
        match, before the call returns.
        """
        if self.exists(digest):
            return False
        self._upload(stream, digest)
        try:
            self.verify(digest)
        except BlobCorrupted:
            with self._failures("remove", digest):
                self.client.delete_object(Bucket=self.location.bucket, Key=self.key(digest))
            raise
        return True

    def get(self, digest: str) -> bytes:
        # Read whole, then hashed: the response's length is known, so the bytes land in one buffer of that size,
        # where collecting chunks would hold them twice while joining (or over-allocate while growing).
        data = self._read(digest, lambda body: body.read())
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupted(f"blob {digest} no longer matches its digest")
        return data

    def read_range(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        """A ranged GetObject: the object store sends only those bytes."""
        body = self._get(digest, Range=f"bytes={start}-{end - 1}")["Body"]
        return chunks(body, end - start)  # type: ignore[arg-type]

    def verify(self, digest: str) -> None:
        found, _ = self._read(digest, hash_stream)
        if found != digest:
            raise BlobCorrupted(f"blob {digest} no longer matches its digest")

    def exists(self, digest: str) -> bool:
        key = self.key(check_digest(digest))
        with self._failures("look up", digest):
            try:
                self.client.head_object(Bucket=self.location.bucket, Key=key)
            except ClientError as e:
                if _code(e) in _MISSING:
                    return False
                raise
        return True

    def digests(self) -> Iterator[str]:
        prefix = self.location.prefix
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.location.bucket, Prefix=prefix)
        with self._failures("list", None):
            for page in pages:
                for entry in page.get("Contents", []):
                    digest = _digest_of(entry.get("Key", "")[len(prefix) :])
                    if digest is not None:
                        yield digest

    def key(self, digest: str) -> str:
        return f"{self.location.prefix}{digest[:2]}/{digest[2:4]}/{digest}"

    def _upload(self, stream: BinaryIO, digest: str) -> None:
        with self._failures("store", digest):
            self.client.upload_fileobj(
                stream,
                self.location.bucket,
                self.key(digest),
                ExtraArgs={"ContentType": "application/octet-stream"},
                Config=self._transfer,
            )

    def _read(self, digest: str, consume: Callable[[BinaryIO], T]) -> T:
        """What ``consume`` makes of the object's body; BlobNotFound when there is none."""
        response = self._get(digest)
        with self._failures("read", digest), response["Body"] as body:
            return consume(body)  # type: ignore[arg-type]

    def _get(self, digest: str, **extra: str) -> GetObjectOutputTypeDef:
        key = self.key(check_digest(digest))
        with self._failures("read", digest):
            try:
                return self.client.get_object(Bucket=self.location.bucket, Key=key, **extra)  # type: ignore[arg-type]
            except ClientError as e:
                if _code(e) in _MISSING:
                    raise BlobNotFound(f"no blob {digest}") from None
                raise

    @contextmanager
    def _failures(self, action: str, digest: str | None) -> Iterator[None]:
        """boto3's errors as ``BlobStoreUnavailable``, with one line that says what to fix, no traceback."""
        what = f"{action} blob {digest}" if digest else action
        where = self.location.where
        try:
            yield
        except NoCredentialsError:
            raise BlobStoreUnavailable(
                f"cannot {what}: no credentials for the object store (set ESIGN_S3_ACCESS_KEY_ID and "
                "ESIGN_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
            ) from None
        except ClientError as e:
            code = _code(e)
            if code == "NoSuchBucket":
                reason = "the bucket does not exist"
            elif code in _REFUSED:
                reason = f"access refused ({code}): check the credentials and the bucket's policy"
            else:
                reason = f"{code}: {e.response.get('Error', {}).get('Message') or 'error'}"
            raise BlobStoreUnavailable(f"cannot {what} in {where}: {reason}") from None
        except BotoCoreError as e:
            raise BlobStoreUnavailable(f"cannot {what} in {where}: {e}") from None


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _digest_of(name: str) -> str | None:
    """The digest a key names under the prefix (``ab/cd/<digest>``), or None for anything else in the bucket."""
    first, _, rest = name.partition("/")
    second, _, digest = rest.partition("/")
    try:
        check_digest(digest)
    except ValueError:
        return None
    return digest if (first, second) == (digest[:2], digest[2:4]) else None
