"""Driving Debian's Chromium with Playwright: no browser is downloaded, the test hands Playwright its path."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.api.served import Served
from tests.support import require

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's package ``chromium`` (``scripts/system-packages test`` installs it)."""
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
"""Where the browser tests leave their screenshots (``build/`` is not versioned)."""
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}

_DROP = """
([name, encoded, type]) => {
  const bytes = Uint8Array.from(atob(encoded), c => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type }));
  const zone = document.getElementById("verify-form");
  for (const kind of ["dragenter", "dragover", "drop"]) {
    zone.dispatchEvent(new DragEvent(kind, { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }
}
"""
RESULT = "#result [data-verdict], #result [data-error]"


@contextmanager
def chromium() -> Iterator[Any]:
    """A headless Chromium browser; the test is skipped without Debian's Chromium, except in CI (``require``)."""
    require(CHROMIUM.exists(), "Debian's chromium is not installed (scripts/system-packages test)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield browser
        finally:
            browser.close()


def drop(page: Any, name: str, data: bytes, media_type: str = "application/pdf") -> None:
    """Drops a file onto the verification form as a person dragging it from their desktop would."""
    page.evaluate(_DROP, [name, base64.b64encode(data).decode("ascii"), media_type])


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical accessibility violations on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def screenshot(page: Any, name: str, *, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


class Session:
    """One browser context (its own cookies) and every URL it asked for."""

    def __init__(self, browser: Any, server: Served, viewport: dict[str, int] = DESKTOP) -> None:
        self.server, self.viewport = server, viewport
        self.context = browser.new_context(viewport=viewport, locale="zh-CN")
        self.page = self.context.new_page()
        self.urls: list[str] = []
        self.page.on("request", lambda request: self.urls.append(request.url))

    def goto(self, path: str) -> Any:
        return self.page.goto(f"{self.server.url}{path}")

    def sign_in(self, login: str, password: str) -> None:
        self.goto("/login")
        self.page.fill("#login", login)
        self.page.fill("#password", password)
        self.page.click("#login-form button[type=submit]")

    def check(self, name: str) -> None:
        """Screenshot, axe-core and nothing wider than the screen, for the page as it is now."""
        screenshot(self.page, f"{name}-{self.viewport['width']}")
        assert serious_violations(self.page) == [], name
        assert self.page.evaluate("document.documentElement.scrollWidth") <= self.viewport["width"], name

    def foreign(self, *allowed: str) -> list[str]:
        own = (f"{self.server.url}/", *allowed)
        return [url for url in self.urls if not url.startswith(own)]

    def close(self) -> None:
        self.context.close()


def demo_passwords(server: Served) -> dict[str, str]:
    """Login name → password of every demo official, as ``esign init`` wrote them beside the demo tokens."""
    rows = (line.split("\t") for line in (server.data_dir / "demo-passwords.tsv").read_text().splitlines())
    return {login: password for login, password, _org, _name in rows}


class Api:
    """The served API as the demo officials call it, each with their token; every answer must be a success."""

    def __init__(self, server: Served) -> None:
        self.server = server
        self.http = httpx.Client(base_url=server.url, timeout=120)

    def __call__(self, who: str, method: str, path: str, body: Any = None) -> Any:
        answer = self.http.request(method, path, json=body, headers=self.server.headers(who))
        assert answer.is_success, answer.text
        return answer.json()

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *_: object) -> None:
        self.http.close()
