"""Moving a blob folder into an object store, and re-reading a store to find damaged blobs (``esign blobs``).

Both read blob by blob in chunks, so neither holds more than a chunk (and an upload's parts in flight) of
any blob, however large. A damaged or missing blob is reported and the work goes on; a store that fails
(``BlobStoreUnavailable``) stops it, since every blob after would fail the same way.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from esign.errors import BlobCorrupted, BlobNotFound

if TYPE_CHECKING:
    from esign.blobs import FilesystemBlobStore, InventoriedBlobStore
    from esign.blobs_s3 import S3BlobStore


@dataclass(frozen=True)
class Problem:
    digest: str
    where: Literal["source", "store"]
    code: str
    message: str


@dataclass(frozen=True)
class CheckReport:
    checked: int
    problems: tuple[Problem, ...]


@dataclass(frozen=True)
class MigrationReport:
    copied: int
    """Uploaded, then read back and found intact."""
    present: int
    """Already in the object store, and read back intact."""
    problems: tuple[Problem, ...]


Progress = Callable[[str], None]


def check(
    store: InventoriedBlobStore,
    *,
    sample: int | None = None,
    rng: random.Random | None = None,
    progress: Progress | None = None,
) -> CheckReport:
    """Re-read every blob of ``store``, or ``sample`` of them drawn uniformly, and compare each with its digest."""
    chosen = store.digests() if sample is None else _sample(store.digests(), sample, rng or random.SystemRandom())
    checked = 0
    problems: list[Problem] = []
    for digest in chosen:
        try:
            store.verify(digest)
        except (BlobCorrupted, BlobNotFound) as e:
            problems.append(Problem(digest, "store", e.code, e.message))
        checked += 1
        if progress is not None:
            progress(digest)
    return CheckReport(checked, tuple(problems))


def migrate(source: FilesystemBlobStore, target: S3BlobStore, *, progress: Progress | None = None) -> MigrationReport:
    """Copy every blob of ``source`` into ``target`` unless there already, and verify each there.

    A source blob that no longer matches its digest is not copied; a blob already in the target is read
    back too, so that a run after an interrupted one vouches for everything, not only what it uploaded.
    """
    copied = present = 0
    problems: list[Problem] = []
    for digest in source.digests():
        try:
            source.verify(digest)
        except (BlobCorrupted, BlobNotFound) as e:
            problems.append(Problem(digest, "source", e.code, e.message))
            continue
        try:
            with source.open(digest) as stream:
                uploaded = target.put_stream(stream, digest)
            if not uploaded:
                target.verify(digest)
        except (BlobCorrupted, BlobNotFound) as e:
            problems.append(Problem(digest, "store", e.code, e.message))
            continue
        copied += uploaded
        present += not uploaded
        if progress is not None:
            progress(digest)
    return MigrationReport(copied, present, tuple(problems))


def _sample(digests: Iterable[str], size: int, rng: random.Random) -> list[str]:
    """``size`` of ``digests`` drawn uniformly in one pass (reservoir sampling): a bucket is listed, not loaded."""
    if size < 0:
        raise ValueError("a sample cannot be negative")
    chosen: list[str] = []
    for seen, digest in enumerate(digests):
        if seen < size:
            chosen.append(digest)
        else:
            slot = rng.randrange(seen + 1)
            if slot < size:
                chosen[slot] = digest
    return chosen
