from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.appearance import Appearance
from esign.settings import Settings
from esign.sign import SignOptions, sign
from esign.signers import KeySigner
from tests.conftest import make_pdf
from tests.esign import tampering
from tests.web.browser import chromium


@pytest.fixture
def settings(db_settings: Settings, root_pem_path: Path) -> Settings:
    return db_settings.model_copy(update={"trust_anchors": [root_pem_path]})


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def signed_pdf(ec_signer: KeySigner) -> bytes:
    """Two pages, a visible signature on the second."""
    options = SignOptions(appearance=Appearance(page=2, box=(300, 60, 500, 160), show_details=True))
    return sign(make_pdf(2), ec_signer, options)


@pytest.fixture(scope="session")
def tampered_pdf(signed_pdf: bytes) -> bytes:
    return tampering.flip_byte(signed_pdf, b"Hello, signed world")


@pytest.fixture(scope="module")
def browser(server: Any) -> Iterator[Any]:
    """Debian's Chromium for a module of browser tests, closed before the module's ``server`` stops."""
    with chromium() as running:
        yield running
