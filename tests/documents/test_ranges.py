"""A revision's PDF served whole or by range, from memory (a small blob) and streamed from the store."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.downloads import _checked, requested_range
from esign.errors import BlobCorrupted, RangeNotSatisfiable
from esign.settings import Settings
from tests.conftest import make_pdf
from tests.world import World


@pytest.fixture(params=[8192, 0], ids=["in_memory", "streamed"])
def served(request: pytest.FixtureRequest, db_settings: Settings) -> Iterator[TestClient]:
    settings = db_settings.model_copy(update={"upload_in_memory_kb": request.param})
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


def _document(api: TestClient, headers: dict[str, str], data: bytes) -> str:
    created = api.post("/v1/documents", headers=headers, files={"file": ("in.pdf", data, "application/pdf")})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_a_revision_is_served_whole_and_by_range(served: TestClient, world: World) -> None:
    clerk = world.orgs["A"].members["clerk"]
    data = make_pdf(text="served in parts")
    size = len(data)
    document = _document(served, clerk.headers, data)
    for path in (f"/v1/documents/{document}/pdf", f"/v1/documents/{document}/revisions/1/pdf"):
        whole = served.get(path, headers=clerk.headers)
        assert whole.status_code == 200 and whole.content == data
        assert whole.headers["accept-ranges"] == "bytes"
        assert whole.headers["etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
        assert int(whole.headers["content-length"]) == size

        for header, (start, end) in {
            "bytes=0-99": (0, 100),
            "bytes=100-": (100, size),
            "bytes=-50": (size - 50, size),
            f"bytes=10-{size + 1000}": (10, size),
        }.items():
            part = served.get(path, headers={**clerk.headers, "Range": header})
            assert part.status_code == 206, (header, part.text)
            assert part.content == data[start:end]
            assert part.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
            assert int(part.headers["content-length"]) == end - start

        refused = served.get(path, headers={**clerk.headers, "Range": f"bytes={size}-"})
        assert refused.status_code == 416 and refused.json()["code"] == "range_not_satisfiable"
        assert refused.headers["content-range"] == f"bytes */{size}"

        stale = served.get(path, headers={**clerk.headers, "Range": "bytes=0-9", "If-Range": '"another"'})
        assert stale.status_code == 200 and stale.content == data, "a changed file is sent whole"
        ignored = served.get(path, headers={**clerk.headers, "Range": "bytes=0-9,20-29"})
        assert ignored.status_code == 200 and ignored.content == data, "several ranges: the whole file"


def test_another_organisation_gets_no_range_either(served: TestClient, world: World) -> None:
    document = _document(served, world.orgs["A"].members["clerk"].headers, make_pdf())
    other = world.orgs["B"].members["clerk"].headers
    assert served.get(f"/v1/documents/{document}/pdf", headers={**other, "Range": "bytes=0-9"}).status_code == 404


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=5-9", (5, 10)),
        ("bytes=9-5", None),
        ("items=0-5", None),
        ("bytes=-", None),
        ("bytes=-1000", (0, 100)),
    ],
)
def test_range_headers_are_read_as_rfc_9110_says(header: str | None, expected: tuple[int, int] | None) -> None:
    assert requested_range(header, 100) == expected


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=-0", "bytes=250-300"])
def test_a_range_past_the_end_is_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        requested_range(header, 100)


def test_a_streamed_blob_that_no_longer_matches_is_cut_short() -> None:
    chunks = [b"a" * 10, b"b" * 10, b"c" * 10]
    digest = hashlib.sha256(b"".join(chunks)).hexdigest()
    assert list(_checked(iter(chunks), digest)) == chunks
    sent: list[bytes] = []
    with pytest.raises(BlobCorrupted):
        for chunk in _checked(iter([*chunks[:2], b"C" * 10]), digest):
            sent.append(chunk)
    assert sent == chunks[:2], "the last chunk is held back until the whole has been checked"
