"""The verification page in a real browser: Debian's Chromium, headless, against ``esign serve`` on a free port.

Each file is dropped onto the page; the verdict is read from ``data-verdict`` and the Chinese sentence beside it;
the report is downloaded and its text searched for the verdict. Every request the browser makes is recorded and
must go to the service's own origin. Screenshots of every state at 1280×800 and 390×844 land in
``build/screenshots/``; axe-core checks each state for serious or critical accessibility violations.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pdfplumber
import pytest

from esign.db import Database
from tests.api.served import Served, served
from tests.conftest import make_pdf
from tests.web.browser import DESKTOP, PHONE, RESULT, chromium, drop, screenshot, serious_violations

CASES = [
    # (name, file name, fixture or bytes, verdict or error, words of the Chinese sentence, word in the report)
    ("valid", "valid.pdf", "signed_pdf", "valid", "有效：", "有效"),
    ("tampered", "tampered.pdf", "tampered_pdf", "invalid", "无效：", "无效"),
    ("unsigned", "unsigned.pdf", "unsigned", "unsigned", "未签名：", "未签名"),
]


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database], root_pem_path: Path
) -> Iterator[Served]:
    env = {"ESIGN_TRUST_ANCHORS": str(root_pem_path), "ESIGN_WEB_VERIFY_PER_MINUTE": "1000"}
    with served(tmp_path_factory.mktemp("web"), new_database, init=False, extra_env=env) as instance:
        yield instance


@pytest.fixture(scope="module")
def files(signed_pdf: bytes, tampered_pdf: bytes) -> dict[str, bytes]:
    """Made before the browser starts: Playwright's synchronous API keeps an event loop running, and signing runs
    one of its own."""
    return {"signed_pdf": signed_pdf, "tampered_pdf": tampered_pdf, "unsigned": make_pdf()}


@pytest.fixture(scope="module")
def browser(files: dict[str, bytes]) -> Iterator[Any]:
    with chromium() as running:
        yield running


class Recorder:
    """Every URL the browser asked for."""

    def __init__(self, page: Any) -> None:
        self.urls: list[str] = []
        page.on("request", lambda request: self.urls.append(request.url))

    def foreign(self, origin: str) -> list[str]:
        own = (f"{origin}/", f"blob:{origin}/", "data:")  # blob: URLs belong to the page's origin
        return [url for url in self.urls if not url.startswith(own)]


def _page(browser: Any, viewport: dict[str, int], **options: Any) -> tuple[Any, Any, Recorder]:
    context = browser.new_context(viewport=viewport, accept_downloads=True, locale="zh-CN", **options)
    page = context.new_page()
    return context, page, Recorder(page)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_drop_files_read_verdicts_download_reports(
    server: Served, browser: Any, files: dict[str, bytes], viewport: dict[str, int], tmp_path: Path
) -> None:
    size = str(viewport["width"])
    context, page, recorder = _page(browser, viewport)
    page.goto(f"{server.url}/verify")
    assert page.get_attribute("html", "lang") == "zh-CN"
    screenshot(page, f"verify-empty-{size}")
    assert serious_violations(page) == []
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= viewport["width"], "nothing wider than the screen"

    for name, filename, source, verdict, sentence, word in CASES:
        drop(page, filename, files[source])
        page.wait_for_selector(f'#result [data-verdict="{verdict}"]', timeout=30_000)
        assert sentence in page.inner_text("#result .verdict-sentence")
        if name == "valid":  # the previews follow the verdict, their box numbered after the signature block
            page.wait_for_selector("#pages rect[data-signature-index='1']", timeout=30_000)
            assert page.text_content("#pages text.box-label") == "1"
        page.wait_for_selector("#pages figure", timeout=30_000)
        screenshot(page, f"verify-{name}-{size}")
        assert serious_violations(page) == [], name
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"], name
        with page.expect_download() as download:
            page.click("form.report button")
        path = tmp_path / f"{name}.pdf"
        download.value.save_as(path)
        with pdfplumber.open(io.BytesIO(path.read_bytes())) as pdf:
            text = "".join(page_.extract_text() or "" for page_ in pdf.pages)
        assert word in text, f"{name}: the report names the verdict"

    drop(page, "notes.txt", b"not a PDF at all", "text/plain")
    page.wait_for_selector('#result [data-error="pdf_malformed"]', timeout=30_000)
    assert "不是可读取的 PDF" in page.inner_text("#result")
    assert page.locator("#result [data-verdict]").count() == 0
    screenshot(page, f"verify-not-a-pdf-{size}")
    assert serious_violations(page) == []

    page.click("text=English")
    page.wait_for_selector("html[lang=en]")
    assert "Verify a signed document" in page.inner_text("h1")
    drop(page, "valid.pdf", files["signed_pdf"])
    page.wait_for_selector('#result [data-verdict="valid"]', timeout=30_000)
    screenshot(page, f"verify-valid-en-{size}")
    assert serious_violations(page) == []

    assert recorder.urls and recorder.foreign(server.url) == [], "every request to esign's own origin"
    context.close()


def test_the_page_works_without_javascript(
    server: Served, browser: Any, files: dict[str, bytes], tmp_path: Path
) -> None:
    context, page, recorder = _page(browser, DESKTOP, java_script_enabled=False)
    page.goto(f"{server.url}/verify")
    path = tmp_path / "tampered.pdf"
    path.write_bytes(files["tampered_pdf"])
    page.set_input_files("#file", str(path))
    page.click("button[type=submit]")
    page.wait_for_selector(RESULT)
    assert page.get_attribute("#result [data-verdict]", "data-verdict") == "invalid"
    assert "无效：" in page.inner_text("#result .verdict-sentence")
    assert recorder.foreign(server.url) == []
    context.close()


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_the_api_docs_load_nothing_from_elsewhere(server: Served, browser: Any, path: str) -> None:
    context, page, recorder = _page(browser, DESKTOP)
    page.goto(f"{server.url}{path}", wait_until="networkidle")
    page.get_by_text("/v1/verify").first.wait_for(timeout=30_000)
    screenshot(page, f"docs{path.replace('/', '-')}-1280", full_page=False)
    assert recorder.foreign(server.url) == [], "the docs' scripts, styles and fonts are esign's own"
    context.close()
