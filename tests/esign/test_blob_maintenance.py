"""Moving a blob folder into the object store, and re-checking a store (``esign.blob_maintenance``)."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import pytest

from esign import blob_maintenance
from esign.blobs import FilesystemBlobStore
from tests.seaweedfs import ObjectStore

BLOBS = [b"%PDF-1.7 first", b"%PDF-1.7 second" * 1000, b""]


def _damage(store: FilesystemBlobStore, digest: str) -> None:
    path = store.root / digest[:2] / digest[2:4] / digest
    path.chmod(0o600)
    path.write_bytes(b"damaged")


def test_migrate_copies_the_folder_and_reads_every_blob_back(tmp_path: Path, s3: ObjectStore) -> None:
    source = FilesystemBlobStore(tmp_path / "blobs")
    digests = [source.put(data) for data in BLOBS]
    damaged = source.put(b"%PDF-1.7 damaged on disk")
    _damage(source, damaged)
    (source.root / digests[0][:2] / digests[0][2:4] / ".incoming-x").write_bytes(b"a write that never finished")
    target = s3.store()
    target.put(BLOBS[0])

    report = blob_maintenance.migrate(source, target)

    assert (report.copied, report.present) == (2, 1)
    assert [(p.digest, p.where, p.code) for p in report.problems] == [(damaged, "source", "blob_corrupted")]
    assert sorted(target.digests()) == sorted(digests)
    assert [target.get(d) for d in digests] == BLOBS

    again = blob_maintenance.migrate(source, target)

    assert (again.copied, again.present, len(again.problems)) == (0, 3, 1)


def test_migrate_finds_a_damaged_copy_already_in_the_store(tmp_path: Path, s3: ObjectStore) -> None:
    source = FilesystemBlobStore(tmp_path / "blobs")
    digest = source.put(BLOBS[1])
    target = s3.store()
    s3.client().put_object(Bucket=target.location.bucket, Key=target.key(digest), Body=b"damaged")

    report = blob_maintenance.migrate(source, target)

    assert [(p.digest, p.where, p.code) for p in report.problems] == [(digest, "store", "blob_corrupted")]


def test_check_finds_a_damaged_object(s3: ObjectStore) -> None:
    store = s3.store()
    digests = [store.put(data) for data in BLOBS]
    s3.client().put_object(Bucket=store.location.bucket, Key=store.key(digests[1]), Body=b"damaged")
    seen: list[str] = []

    report = blob_maintenance.check(store, progress=seen.append)

    assert report.checked == 3 and sorted(seen) == sorted(digests)
    assert [(p.digest, p.code) for p in report.problems] == [(digests[1], "blob_corrupted")]


def test_check_a_sample(tmp_path: Path) -> None:
    store = FilesystemBlobStore(tmp_path / "blobs")
    digests = [store.put(bytes([n])) for n in range(20)]
    _damage(store, digests[3])

    report = blob_maintenance.check(store, sample=5, rng=random.Random(1))

    assert report.checked == 5
    assert blob_maintenance.check(store, sample=50).checked == 20
    assert [p.digest for p in blob_maintenance.check(store).problems] == [digests[3]]


def test_the_sample_is_drawn_from_the_whole_listing() -> None:
    digests = [hashlib.sha256(bytes([n])).hexdigest() for n in range(10)]
    rng = random.Random(7)
    drawn = {d for _ in range(200) for d in blob_maintenance._sample(iter(digests), 2, rng)}

    assert drawn == set(digests)
    with pytest.raises(ValueError):
        blob_maintenance._sample(iter(digests), -1, rng)
