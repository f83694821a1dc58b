"""Where an S3-compatible blob store lives, read from ``ESIGN_BLOB_URL``.

Kept apart from ``esign.blobs_s3`` so that the settings can check the URL when they are read, without
importing boto3 for a deployment that keeps its blobs on disk.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit

DEFAULT_REGION = "us-east-1"
"""What SigV4 signs with when the URL names no region; MinIO, Ceph and SeaweedFS accept it whatever they run."""

_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_PARAMETERS = frozenset({"endpoint", "region", "addressing"})


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""
    """Prepended to every key, ending in ``/`` when not empty: several deployments can share a bucket."""
    endpoint: str | None = None
    """The gateway's base URL; None is AWS itself."""
    region: str = DEFAULT_REGION
    addressing: Literal["path", "virtual"] = "path"
    """``path`` (bucket in the path) works with every gateway; ``virtual`` (bucket in the host name) is AWS's."""

    @classmethod
    def from_url(cls, url: str) -> S3Location:
        """``s3://BUCKET[/PREFIX]?endpoint=URL&region=NAME&addressing=path|virtual``; ValueError names the fault."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"{url!r} is not s3://BUCKET[/PREFIX]?endpoint=...&region=...")
        if not _BUCKET.fullmatch(parts.netloc):
            raise ValueError(f"{parts.netloc!r} is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")
        query = parse_qs(parts.query, keep_blank_values=True)
        unknown = sorted(set(query) - _PARAMETERS)
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} in the blob URL; known: endpoint, region, addressing"
            )
        repeated = sorted(name for name, values in query.items() if len(values) > 1)
        if repeated:
            raise ValueError(f"parameter(s) {', '.join(repeated)} given twice in the blob URL")
        given = {name: values[0] for name, values in query.items()}
        endpoint = given.get("endpoint") or None
        if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
            raise ValueError(f"endpoint {endpoint!r} is not an http:// or https:// URL")
        addressing = given.get("addressing") or ("path" if endpoint else "virtual")
        if addressing not in ("path", "virtual"):
            raise ValueError(f"addressing must be path or virtual, not {addressing!r}")
        prefix = parts.path.strip("/")
        return cls(
            bucket=parts.netloc,
            prefix=f"{prefix}/" if prefix else "",
            endpoint=endpoint.rstrip("/") if endpoint else None,
            region=given.get("region") or DEFAULT_REGION,
            addressing="path" if addressing == "path" else "virtual",
        )

    @property
    def where(self) -> str:
        """The store, for messages: bucket and endpoint, never a credential."""
        return f"bucket {self.bucket} at {self.endpoint or 'AWS S3'}"
