"""A blob's address, the lowercase hex SHA-256 of its bytes, checked and computed the same way by every store."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import BinaryIO

DIGEST = re.compile(r"[0-9a-f]{64}")

READ_CHUNK = 1024 * 1024


def hash_stream(stream: BinaryIO, sink: BinaryIO | None = None) -> tuple[str, int]:
    """(SHA-256 hex, length) of what ``stream`` yields, read in chunks and written on to ``sink`` if given."""
    sha = hashlib.sha256()
    size = 0
    while chunk := stream.read(READ_CHUNK):
        sha.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return sha.hexdigest(), size


def check_digest(digest: str) -> str:
    """Reject anything but 64 lowercase hex digits before it gets near a path or a key."""
    if not isinstance(digest, str) or not DIGEST.fullmatch(digest):
        raise ValueError(f"not a lowercase hex SHA-256 digest: {digest!r}")
    return digest


def chunks(stream: BinaryIO, length: int) -> Iterator[bytes]:
    """``length`` bytes (fewer if the stream ends first) from ``stream``'s position, in chunks; closes it."""
    with stream:
        while length > 0 and (chunk := stream.read(min(READ_CHUNK, length))):
            length -= len(chunk)
            yield chunk
