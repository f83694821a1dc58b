"""What every blob store promises, checked on the filesystem store and on a real S3 store (SeaweedFS)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest

from esign.blobs import FilesystemBlobStore, InventoriedBlobStore, blob_store_from_settings
from esign.blobs_s3 import S3BlobStore
from esign.errors import BlobCorrupted, BlobNotFound
from esign.settings import Settings
from tests.seaweedfs import ObjectStore

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@dataclass(frozen=True)
class Subject:
    store: InventoriedBlobStore
    overwrite: Callable[[str, bytes], None]
    """Replace a stored blob's bytes behind the store's back, as damage or tampering would."""


def _filesystem(tmp_path: Path) -> Subject:
    store = FilesystemBlobStore(tmp_path / "blobs")

    def overwrite(digest: str, data: bytes) -> None:
        path = store.root / digest[:2] / digest[2:4] / digest
        path.chmod(0o600)
        path.write_bytes(data)

    return Subject(store, overwrite)


def _s3(s3: ObjectStore) -> Subject:
    store = s3.store()
    client = s3.client()

    def overwrite(digest: str, data: bytes) -> None:
        client.put_object(Bucket=store.location.bucket, Key=store.key(digest), Body=data)

    return Subject(store, overwrite)


@pytest.fixture(params=["filesystem", "s3"])
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Subject:
    if request.param == "filesystem":
        return _filesystem(tmp_path)
    return _s3(request.getfixturevalue("s3"))


def test_round_trip(subject: Subject) -> None:
    digest = subject.store.put(PDF)

    assert digest == hashlib.sha256(PDF).hexdigest()
    assert subject.store.exists(digest)
    assert subject.store.get(digest) == PDF
    subject.store.verify(digest)


def test_empty_blob(subject: Subject) -> None:
    digest = subject.store.put(b"")

    assert subject.store.get(digest) == b""


def test_a_second_put_of_the_same_bytes_writes_nothing(subject: Subject) -> None:
    digest = subject.store.put(PDF)
    subject.overwrite(digest, b"a marker the second put would replace")

    assert subject.store.put(PDF) == digest

    with pytest.raises(BlobCorrupted):
        subject.store.get(digest)


def test_concurrent_puts_of_the_same_bytes(subject: Subject) -> None:
    barrier = threading.Barrier(4)

    def put() -> str:
        barrier.wait()
        return subject.store.put(PDF)

    with ThreadPoolExecutor(max_workers=4) as pool:
        digests = {done.result() for done in [pool.submit(put) for _ in range(4)]}

    assert digests == {hashlib.sha256(PDF).hexdigest()}
    assert list(subject.store.digests()) == list(digests)
    assert subject.store.get(digests.pop()) == PDF


def test_missing_blob(subject: Subject) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()

    assert not subject.store.exists(digest)
    with pytest.raises(BlobNotFound):
        subject.store.get(digest)
    with pytest.raises(BlobNotFound):
        subject.store.verify(digest)


def test_a_damaged_blob_is_refused_on_read(subject: Subject) -> None:
    digest = subject.store.put(PDF)
    subject.overwrite(digest, PDF.replace(b"%%EOF", b"%%EOG"))

    with pytest.raises(BlobCorrupted) as raised:
        subject.store.get(digest)
    assert raised.value.code == "blob_corrupted"
    with pytest.raises(BlobCorrupted):
        subject.store.verify(digest)


def test_digests_lists_each_blob_once(subject: Subject) -> None:
    stored = {subject.store.put(PDF), subject.store.put(b"other"), subject.store.put(PDF)}

    assert sorted(subject.store.digests()) == sorted(stored)


@pytest.mark.parametrize(
    "bad",
    ["", "abc", hashlib.sha256(b"x").hexdigest().upper(), "../" + hashlib.sha256(b"x").hexdigest()[3:], "g" * 64],
)
def test_bad_digests_are_refused_before_any_lookup(subject: Subject, bad: str) -> None:
    for call in (subject.store.get, subject.store.exists, subject.store.verify):
        with pytest.raises(ValueError):
            call(bad)


def test_the_settings_choose_the_store(tmp_path: Path, s3: ObjectStore) -> None:
    assert isinstance(blob_store_from_settings(Settings(data_dir=tmp_path)), FilesystemBlobStore)

    store = blob_store_from_settings(Settings(data_dir=tmp_path, **s3.settings))

    assert isinstance(store, S3BlobStore)
    assert store.get(store.put(PDF)) == PDF
    assert not (tmp_path / "blobs").exists()
