"""Uploaded PDFs, kept in memory when small and handled from a file when large.

Starlette spools a multipart file to disk past a megabyte. A PDF up to ``ESIGN_UPLOAD_IN_MEMORY_KB`` is read
into memory, where signing and verifying are fastest; a larger one is copied in chunks to a named file in a
directory of its own, which a parsing worker can open by path and pyhanko reads as a stream, so the server
never holds a copy of it. The directory also receives what is made from the file (the signed PDF), and is
removed once the response has been sent, or at once if the request fails.
"""

from __future__ import annotations

import hashlib
import io
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.datastructures import UploadFile

from esign.errors import TooLarge
from esign.settings import Settings
from esign.spool import Spool, removed_on_error

_COPY_CHUNK = 1024 * 1024


def sha256(path: Path) -> str:
    with path.open("rb") as source:
        return hashlib.file_digest(source, "sha256").hexdigest()


def size_of(upload: UploadFile) -> int:
    size = upload.file.seek(0, io.SEEK_END)
    upload.file.seek(0)
    return size


@contextmanager
def received(upload: UploadFile, settings: Settings) -> Iterator[tuple[bytes | Path, Spool | None]]:
    """The upload as bytes, or as the path of a file in a :class:`Spool` (with the spool); ``TooLarge`` past
    the configured limit. The spool is removed on an error; on success the caller removes it, usually after
    the response."""
    size = size_of(upload)
    if size > settings.max_upload_bytes:
        raise TooLarge(f"the upload exceeds the limit of {settings.max_upload_mb} MiB")
    if size <= settings.upload_in_memory_kb * 1024:
        yield upload.file.read(), None
        return
    spool = Spool()
    with removed_on_error(spool):
        path = spool.path("upload.pdf")
        with path.open("wb") as copy:
            shutil.copyfileobj(upload.file, copy, _COPY_CHUNK)
        yield path, spool
