"""The S3 blob store on its own: the URL it is configured by, multipart uploads in bounded memory, and a store
that fails (unreachable, refusing the credentials, without the bucket) as one clear error."""

from __future__ import annotations

import hashlib
import io
import random
import tracemalloc
from dataclasses import replace
from pathlib import Path

import pytest
from pydantic import ValidationError

from esign.blob_location import S3Location
from esign.blobs_s3 import MiB, S3BlobStore, S3Options
from esign.errors import BlobCorrupted, BlobStoreUnavailable
from esign.settings import Settings
from tests.seaweedfs import ObjectStore, free_ports

PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def test_the_url_names_bucket_prefix_endpoint_and_region() -> None:
    location = S3Location.from_url("s3://esign-blobs/prod/a?endpoint=http://10.0.0.5:9000/&region=cn-north-1")

    assert location == S3Location(
        bucket="esign-blobs", prefix="prod/a/", endpoint="http://10.0.0.5:9000", region="cn-north-1", addressing="path"
    )
    assert S3Location.from_url("s3://esign-blobs") == S3Location(bucket="esign-blobs", addressing="virtual")
    assert "secret" not in repr(S3Options(location, "key", "secret"))


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        ("https://esign-blobs", "not s3://"),
        ("s3://", "not s3://"),
        ("s3://Esign_Blobs", "bucket name"),
        ("s3://esign-blobs?endpont=http://x", "unknown parameter"),
        ("s3://esign-blobs?region=a&region=b", "twice"),
        ("s3://esign-blobs?endpoint=ftp://x", "http://"),
        ("s3://esign-blobs?addressing=dns", "addressing"),
    ],
)
def test_a_bad_url_is_refused_with_the_fault_named(url: str, fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        S3Location.from_url(url)
    with pytest.raises(ValidationError, match=fault):
        Settings(blob_url=url)


def test_an_empty_url_keeps_the_folder() -> None:
    assert Settings(blob_url="").blob_url is None


def test_keys_come_in_pairs() -> None:
    with pytest.raises(ValidationError, match="together"):
        Settings(blob_url="s3://esign-blobs", s3_access_key_id="key")


def test_a_50_mb_blob_goes_up_in_parts_without_a_second_copy(s3: ObjectStore) -> None:
    store = s3.store()
    part = store.options.part_size
    data = random.Random(17).randbytes(50 * MiB)
    digest = hashlib.sha256(data).hexdigest()

    tracemalloc.start()
    try:
        assert store.put(data) == digest
        _, put_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        read = store.get(digest)
        _, get_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert read == data
    parts = s3.client().head_object(Bucket=store.location.bucket, Key=store.key(digest), PartNumber=1)["PartsCount"]
    assert parts == 7
    # The upload holds the parts in flight (two) and the one being read, never the whole blob again;
    # the download holds the blob once, as it arrives, plus a chunk.
    assert put_peak < (store.options.concurrency + 1) * part + 4 * MiB, put_peak / MiB
    assert get_peak < len(data) + 4 * MiB, get_peak / MiB


def test_a_stream_that_does_not_match_its_digest_is_removed_again(s3: ObjectStore) -> None:
    store = s3.store()
    digest = hashlib.sha256(PDF).hexdigest()

    with pytest.raises(BlobCorrupted):
        store.put_stream(io.BytesIO(b"something else"), digest)

    assert not store.exists(digest)
    assert store.put_stream(io.BytesIO(PDF), digest) is True
    assert store.put_stream(io.BytesIO(PDF), digest) is False
    assert store.get(digest) == PDF


def test_stores_under_two_prefixes_see_only_their_own(s3: ObjectStore) -> None:
    first, second = s3.under("one").store(), s3.under("two").store()
    digest = first.put(PDF)
    s3.client().put_object(Bucket=first.location.bucket, Key=f"{first.location.prefix}notes/readme", Body=b"x")

    assert list(first.digests()) == [digest]
    assert list(second.digests()) == []
    assert not second.exists(digest)


def _failing(store: S3BlobStore, match: str) -> None:
    digest = hashlib.sha256(PDF).hexdigest()
    for call in (lambda: store.put(PDF), lambda: store.get(digest), lambda: list(store.digests())):
        with pytest.raises(BlobStoreUnavailable, match=match) as raised:
            call()
        assert raised.value.code == "blob_store_unavailable"
        assert "Traceback" not in raised.value.message and "secret" not in raised.value.message


def test_an_unreachable_store_is_one_clear_error() -> None:
    [port] = free_ports(1)
    location = S3Location.from_url(f"s3://esign-blobs?endpoint=http://127.0.0.1:{port}")

    _failing(
        S3BlobStore(S3Options(location, "key", "secret", attempts=1, connect_timeout=1)),
        rf"bucket esign-blobs at http://127.0.0.1:{port}: Could not connect",
    )


def test_wrong_credentials_are_one_clear_error(s3: ObjectStore) -> None:
    _failing(S3BlobStore(S3Options(s3.location, s3.access_key_id, "not the secret", attempts=1)), "access refused")


def test_a_missing_bucket_is_one_clear_error(s3: ObjectStore) -> None:
    elsewhere = replace(s3.location, bucket="no-such-bucket-here")

    _failing(
        S3BlobStore(S3Options(elsewhere, s3.access_key_id, s3.secret_access_key, attempts=1)),
        "no-such-bucket-here at .*: the bucket does not exist",
    )


def test_a_file_goes_up_in_parts_and_reads_back_by_range(s3: ObjectStore, tmp_path: Path) -> None:
    store = s3.store()
    data = random.Random(18).randbytes(store.options.part_size + 1024)
    path = tmp_path / "large.pdf"
    path.write_bytes(data)

    digest = store.put_file(path)

    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data
    assert b"".join(store.read_range(digest, 100, 2_000)) == data[100:2_000]
    assert store.put_file(path) == digest
