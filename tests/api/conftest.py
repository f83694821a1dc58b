from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings


@pytest.fixture
def settings(db_settings: Settings, root_pem_path: Path) -> Settings:
    """The migrated test database, the test PKI's root trusted, and a 1 MiB upload limit."""
    return db_settings.model_copy(update={"trust_anchors": [root_pem_path], "max_upload_mb": 1})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client
