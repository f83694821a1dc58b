"""The service with ESIGN_BLOB_URL set: a document's revisions go to the object store and come back through the API."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from api.app import create_app
from documents.records import Document
from esign.db import Database
from esign.settings import Settings
from tests.conftest import make_pdf
from tests.seaweedfs import ObjectStore, free_ports
from tests.world import World


def _served(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def s3_settings(db_settings: Settings, s3: ObjectStore) -> Settings:
    return db_settings.model_copy(update=s3.settings)


def _upload(api: TestClient, headers: dict[str, str], data: bytes):  # type: ignore[no-untyped-def]
    return api.post(
        "/v1/documents",
        headers=headers,
        files={"file": ("in.pdf", data, "application/pdf")},
        data={"title": "来文", "kind": "letter"},
    )


def test_a_revision_is_kept_in_the_object_store_and_read_back(
    world: World, s3_settings: Settings, s3: ObjectStore
) -> None:
    clerk = world.orgs["A"].members["clerk"]
    data = make_pdf(text="kept in S3")
    digest = hashlib.sha256(data).hexdigest()

    for api in _served(s3_settings):
        created = _upload(api, clerk.headers, data)
        assert created.status_code == 201, created.text
        served = api.get(f"/v1/documents/{created.json()['id']}/revisions/1/pdf", headers=clerk.headers)
        assert served.status_code == 200, served.text
        assert served.content == data

    assert s3.store().exists(digest)
    assert not s3_settings.blob_dir.exists() or not any(s3_settings.blob_dir.rglob(digest))


def test_a_large_revision_is_streamed_from_the_object_store_and_served_by_range(
    world: World, s3_settings: Settings, s3: ObjectStore
) -> None:
    """With nothing small enough to be read whole, the whole file and a range come from ranged GetObjects."""
    clerk = world.orgs["A"].members["clerk"]
    data = make_pdf(text="streamed from S3")
    size = len(data)

    for api in _served(s3_settings.model_copy(update={"upload_in_memory_kb": 0})):
        created = _upload(api, clerk.headers, data)
        assert created.status_code == 201, created.text
        path = f"/v1/documents/{created.json()['id']}/pdf"
        whole = api.get(path, headers=clerk.headers)
        part = api.get(path, headers={**clerk.headers, "Range": "bytes=-100"})
        refused = api.get(path, headers={**clerk.headers, "Range": f"bytes={size}-"})

    assert whole.status_code == 200 and whole.content == data
    assert part.status_code == 206 and part.content == data[-100:]
    assert part.headers["content-range"] == f"bytes {size - 100}-{size - 1}/{size}"
    assert refused.status_code == 416 and refused.headers["content-range"] == f"bytes */{size}"


def test_a_damaged_revision_is_an_error_answer_not_a_traceback(
    world: World, s3_settings: Settings, s3: ObjectStore
) -> None:
    clerk = world.orgs["A"].members["clerk"]
    data = make_pdf(text="to be damaged")
    store = s3.store()

    for api in _served(s3_settings):
        created = _upload(api, clerk.headers, data)
        assert created.status_code == 201, created.text
        key = store.key(hashlib.sha256(data).hexdigest())
        s3.client().put_object(Bucket=store.location.bucket, Key=key, Body=data.replace(b"damaged", b"DAMAGED"))
        served = api.get(f"/v1/documents/{created.json()['id']}/pdf", headers=clerk.headers)

    assert served.status_code == 500
    assert served.json()["code"] == "blob_corrupted"


def test_an_unreachable_store_is_a_503_and_stores_nothing(world: World, db: Database, db_settings: Settings) -> None:
    clerk = world.orgs["A"].members["clerk"]
    [port] = free_ports(1)
    settings = db_settings.model_copy(
        update={
            "blob_url": f"s3://esign-blobs?endpoint=http://127.0.0.1:{port}",
            "s3_access_key_id": "key",
            "s3_secret_access_key": SecretStr("secret"),
        }
    )

    for api in _served(settings):
        refused = _upload(api, clerk.headers, make_pdf())

    assert refused.status_code == 503, refused.text
    body = refused.json()
    assert body["code"] == "blob_store_unavailable"
    assert f"127.0.0.1:{port}" in body["message"] and "Traceback" not in refused.text and "secret" not in refused.text
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 0
