"""Refusing oversized request bodies before they are read: by Content-Length, or while they stream in."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import UploadTooLarge, body

# Room for the multipart envelope and small form fields around a file of the full upload size.
FORM_ALLOWANCE = 256 * 1024


class BodySizeLimit:
    """Refuses a body over the limit with 413 ``too_large``; ``pages`` gives the page a browser gets instead of
    the JSON, for the paths the pages (``web``) answer."""

    def __init__(
        self, app: ASGIApp, *, max_upload_bytes: int, pages: Callable[[Scope], ASGIApp | None] | None = None
    ) -> None:
        self.app = app
        self.max_upload_bytes = max_upload_bytes
        self.max_body = max_upload_bytes + FORM_ALLOWANCE
        self.pages = pages

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            page = self.pages(scope) if self.pages is not None else None
            if page is not None:
                await page(scope, receive, send)
            else:
                await self._refuse(send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise UploadTooLarge(self.max_upload_bytes)
            return message

        await self.app(scope, limited_receive, send)

    async def _refuse(self, send: Send) -> None:
        error = UploadTooLarge(self.max_upload_bytes)
        payload = json.dumps(body(error.code, str(error.detail))).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


class NulRefusal:
    """Refuses a request whose path or query string carries a NUL character (raw or ``%00``) with 422 before
    any route sees it: PostgreSQL cannot store one in a text column, so an id with one would fail in the
    database rather than be not found."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _has_nul(scope):
            payload = json.dumps(
                body("invalid_request", "NUL characters are not allowed in the path or query")
            ).encode()
            headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 422, "headers": headers})
            await send({"type": "http.response.body", "body": payload})
            return
        await self.app(scope, receive, send)


def _has_nul(scope: Scope) -> bool:
    raw_path = scope.get("raw_path") or b""
    query = scope.get("query_string") or b""
    return "\x00" in scope.get("path", "") or any(b"\x00" in part or b"%00" in part for part in (raw_path, query))
