from __future__ import annotations

import hashlib
import os
import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from esign.blobs import BlobStore, FilesystemBlobStore, blob_store_from_settings
from esign.errors import BlobCorrupted, BlobNotFound
from esign.settings import Settings

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


def test_round_trip(store: FilesystemBlobStore) -> None:
    digest = store.put(PDF)

    assert digest == hashlib.sha256(PDF).hexdigest()
    assert store.exists(digest)
    assert store.get(digest) == PDF
    assert (store.root / digest[:2] / digest[2:4] / digest).is_file()


def test_empty_blob(store: FilesystemBlobStore) -> None:
    digest = store.put(b"")

    assert store.get(digest) == b""


def test_put_twice_keeps_the_first_file_read_only(store: FilesystemBlobStore) -> None:
    digest = store.put(PDF)
    path = store.root / digest[:2] / digest[2:4] / digest
    before = path.stat()

    assert store.put(PDF) == digest

    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == (
        before.st_ino,
        before.st_mtime_ns,
        before.st_size,
    )
    assert stat.S_IMODE(after.st_mode) & 0o222 == 0
    assert path.read_bytes() == PDF
    assert [p.name for p in path.parent.iterdir()] == [digest]


def test_concurrent_puts_of_the_same_bytes(store: FilesystemBlobStore) -> None:
    barrier = threading.Barrier(8)

    def put() -> str:
        barrier.wait()
        return store.put(PDF)

    with ThreadPoolExecutor(max_workers=8) as pool:
        digests = [done.result() for done in [pool.submit(put) for _ in range(8)]]

    assert set(digests) == {hashlib.sha256(PDF).hexdigest()}
    digest = digests[0]
    assert os.listdir(store.root / digest[:2] / digest[2:4]) == [digest]
    assert store.get(digest) == PDF


def test_missing_blob(store: FilesystemBlobStore) -> None:
    digest = hashlib.sha256(b"never stored").hexdigest()

    assert not store.exists(digest)
    with pytest.raises(BlobNotFound):
        store.get(digest)


def test_corrupted_file_is_detected(store: FilesystemBlobStore) -> None:
    digest = store.put(PDF)
    path = store.root / digest[:2] / digest[2:4] / digest
    path.chmod(0o644)
    path.write_bytes(PDF.replace(b"%%EOF", b"%%EOG"))

    with pytest.raises(BlobCorrupted) as raised:
        store.get(digest)
    assert raised.value.code == "blob_corrupted"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "abc",
        hashlib.sha256(b"x").hexdigest().upper(),
        hashlib.sha256(b"x").hexdigest() + "0",
        "../" + hashlib.sha256(b"x").hexdigest()[3:],
        "g" * 64,
        "/" + "a" * 63,
        hashlib.sha256(b"x").hexdigest() + "\n",
    ],
)
def test_bad_digests_are_rejected_before_touching_paths(store: FilesystemBlobStore, bad: str) -> None:
    with pytest.raises(ValueError):
        store.get(bad)
    with pytest.raises(ValueError):
        store.exists(bad)
    assert not store.root.exists()


def test_from_settings_stores_under_the_data_directory(tmp_path: Path) -> None:
    store: BlobStore = blob_store_from_settings(Settings(data_dir=tmp_path))

    digest = store.put(PDF)

    assert (tmp_path / "blobs" / digest[:2] / digest[2:4] / digest).is_file()


def test_a_file_is_stored_as_its_bytes_would_be(store: FilesystemBlobStore, tmp_path: Path) -> None:
    path = tmp_path / "in.pdf"
    path.write_bytes(PDF)
    digest = store.put_file(path)

    assert digest == hashlib.sha256(PDF).hexdigest() == store.put(PDF)
    assert store.get(digest) == PDF
    assert stat.S_IMODE((store.root / digest[:2] / digest[2:4] / digest).stat().st_mode) == 0o400
    assert b"".join(store.read_range(digest, 9, 20)) == PDF[9:20]
