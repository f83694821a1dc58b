from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings


@pytest.fixture
def settings(tmp_path: Path, root_pem_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", trust_anchors=[root_pem_path], max_upload_mb=1)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
