"""Stored PDFs served whole or in part (HTTP range requests, RFC 9110 §14), streamed from the blob store.

A blob up to ``ESIGN_UPLOAD_IN_MEMORY_KB`` is read whole and its digest checked before a byte is sent (a range
is cut from the checked bytes), so a damaged one is a 500 ``blob_corrupted``. A larger one is streamed in
chunks and hashed on the way: a digest that no longer matches ends the response before its last chunk, so the
client sees a body shorter than its ``Content-Length`` (a failed download), never a complete damaged file.
A range of it is sent unchecked: its digest is that of the whole blob, which reading only the range cannot
confirm, and reading the whole blob to serve a few of its bytes would defeat the range; a client that needs
the check downloads the file whole (the ``ETag`` is the digest), and ``esign blobs verify`` checks what is
stored.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

from esign.blobs import BlobStore, RangedBlobStore
from esign.errors import BlobCorrupted, RangeNotSatisfiable

logger = logging.getLogger(__name__)

_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


def requested_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The ``[start, end)`` a ``Range`` header asks of ``size`` bytes; ``None`` for the whole file, which is
    also the answer to a header this server does not serve (several ranges, another unit, malformed: RFC 9110
    §14.2 lets a server ignore ``Range``). ``RangeNotSatisfiable`` for a range wholly past the end."""
    match = _RANGE.fullmatch((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(size)
        return max(0, size - suffix), size
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        raise RangeNotSatisfiable(size)
    return start, min(int(last) + 1, size) if last else size


def blob_response(
    request: Request, blobs: BlobStore, digest: str, size: int, *, media_type: str, in_memory: int
) -> Response:
    """The blob ``digest`` of ``size`` bytes, or the range of it the request asks for (module docstring)."""
    etag = f'"{digest}"'
    headers = {"ETag": etag, "Accept-Ranges": "bytes"}
    if_range = request.headers.get("if-range")
    wanted = requested_range(request.headers.get("range"), size) if if_range in (None, etag) else None
    if size <= in_memory or not isinstance(blobs, RangedBlobStore):
        data = blobs.get(digest)
        if wanted is None:
            return Response(data, media_type=media_type, headers=headers)
        return _partial(Response(data[wanted[0] : wanted[1]], media_type=media_type, headers=headers), wanted, size)
    if wanted is None:
        whole = _checked(blobs.read_range(digest, 0, size), digest)
        return StreamingResponse(whole, media_type=media_type, headers={**headers, "Content-Length": str(size)})
    start, end = wanted
    part = StreamingResponse(
        blobs.read_range(digest, start, end),
        media_type=media_type,
        headers={**headers, "Content-Length": str(end - start)},
    )
    return _partial(part, wanted, size)


def _partial(response: Response, wanted: tuple[int, int], size: int) -> Response:
    response.status_code = 206
    response.headers["Content-Range"] = f"bytes {wanted[0]}-{wanted[1] - 1}/{size}"
    return response


def _checked(chunks: Iterator[bytes], digest: str) -> Iterator[bytes]:
    """``chunks``, the last held back until the whole has been hashed and matches ``digest``."""
    sha = hashlib.sha256()
    held: bytes | None = None
    for chunk in chunks:
        sha.update(chunk)
        if held is not None:
            yield held
        held = chunk
    if sha.hexdigest() != digest:
        logger.error("blob_corrupted: blob %s no longer matches its digest; the download was cut short", digest)
        raise BlobCorrupted(f"blob {digest} no longer matches its digest")
    if held is not None:
        yield held
