"""Content-addressed, write-once storage for PDF revisions and other immutable bytes.

A blob's address is the lowercase hex SHA-256 of its bytes, so a stored blob can never be
replaced by different content and a damaged one is detected on read. The protocol is kept to
three calls so that an S3-compatible object store (``esign.blobs_s3``) stands behind it as well;
``ESIGN_BLOB_URL`` chooses it, and the folder under the data directory stays the embedded default.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from esign.blob_digests import DIGEST, check_digest, chunks, hash_stream
from esign.errors import BlobCorrupted, BlobNotFound
from esign.filemodes import private_directory

if TYPE_CHECKING:
    from esign.settings import Settings


class BlobStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store ``data`` unless already present; return its SHA-256 (lowercase hex)."""
        ...

    def put_file(self, path: Path) -> str:
        """``put`` of the file at ``path``, read in chunks rather than whole."""
        ...

    def get(self, digest: str) -> bytes:
        """Raise ``BlobNotFound`` if absent, ``BlobCorrupted`` if the bytes no longer match."""
        ...

    def exists(self, digest: str) -> bool: ...


@runtime_checkable
class RangedBlobStore(BlobStore, Protocol):
    """A store that reads part of a blob without the rest: for serving large blobs, and HTTP range requests."""

    def read_range(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        """Bytes ``start`` to ``end`` (exclusive) in chunks, unchecked: ``BlobNotFound`` at once if absent."""
        ...


class InventoriedBlobStore(BlobStore, Protocol):
    """A store that can also list what it holds and re-check it without keeping the bytes (``esign blobs``)."""

    def digests(self) -> Iterator[str]:
        """Every stored digest, once; names that are not blobs (temporary files, foreign keys) are skipped."""
        ...

    def verify(self, digest: str) -> None:
        """Re-read the blob in chunks; raise as ``get`` would, without holding it whole."""
        ...


BLOB_MODE = 0o400
"""Owner-read only. Blobs are stored documents, so no other account may read them; and write-once, so not
even the owner may write one without first changing its mode: a stray write (a tool, a mistaken ``>``) fails
instead of corrupting a revision that signatures cover. Directories are 0700 (``esign.filemodes``)."""


class FilesystemBlobStore:
    """Blobs at ``root/ab/cd/<digest>``, each file read-only (0400) once written, in 0700 directories."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def put(self, data: bytes) -> str:
        return self._store(hashlib.sha256(data).hexdigest(), lambda temp: temp.write(data))

    def put_file(self, path: Path) -> str:
        with path.open("rb") as source:
            digest, _ = hash_stream(source)
            return self._store(digest, lambda temp: _copy(source, temp))

    def _store(self, digest: str, write: Callable[[BinaryIO], object]) -> str:
        path = self._path(digest)
        if path.exists():
            return digest
        new_directories = not path.parent.is_dir()
        private_directory(path.parent)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as temp:
                write(temp)
                temp.flush()
                os.fsync(temp.fileno())
                os.fchmod(temp.fileno(), BLOB_MODE)
            try:
                # link() fails if the name exists, unlike rename(): a blob is never overwritten,
                # and a concurrent put of the same bytes simply finds it already there.
                os.link(temp_name, path)
            except FileExistsError:
                return digest
        finally:
            os.unlink(temp_name)
        _fsync_directory(path.parent)
        if new_directories:
            _fsync_directory(path.parent.parent)
            _fsync_directory(self.root)
        return digest

    def get(self, digest: str) -> bytes:
        path = self._path(check_digest(digest))
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}") from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise BlobCorrupted(f"blob {digest} no longer matches its digest")
        return data

    def exists(self, digest: str) -> bool:
        return self._path(check_digest(digest)).is_file()

    def digests(self) -> Iterator[str]:
        for path in sorted(self.root.glob("??/??/*")):
            name = path.name
            if DIGEST.fullmatch(name) and path.parent.parent.name == name[:2] and path.parent.name == name[2:4]:
                yield name

    def verify(self, digest: str) -> None:
        with self.open(digest) as stream:
            found, _ = hash_stream(stream)
        if found != digest:
            raise BlobCorrupted(f"blob {digest} no longer matches its digest")

    def read_range(self, digest: str, start: int, end: int) -> Iterator[bytes]:
        stream = self.open(digest)
        stream.seek(start)
        return chunks(stream, end - start)

    def open(self, digest: str) -> BinaryIO:
        """The stored file for reading, not yet checked: for copying a blob elsewhere without loading it."""
        try:
            return self._path(check_digest(digest)).open("rb")
        except FileNotFoundError:
            raise BlobNotFound(f"no blob {digest}") from None

    def _path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest[2:4] / digest


def blob_store_from_settings(settings: Settings) -> InventoriedBlobStore:
    """The object store ``ESIGN_BLOB_URL`` names, else the folder under the data directory."""
    if settings.blob_url is None:
        return FilesystemBlobStore(settings.blob_dir)
    from esign.blobs_s3 import S3BlobStore, S3Options

    return S3BlobStore(S3Options.from_settings(settings))


def _copy(source: BinaryIO, target: BinaryIO) -> None:
    source.seek(0)
    hash_stream(source, target)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
