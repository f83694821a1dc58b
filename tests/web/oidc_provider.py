"""A tiny OpenID Connect provider on loopback, in the test process: discovery, a sign-in page, the token endpoint
(client secret and PKCE checked) and its JWKS; ID tokens signed RS256 with joserfc. Enough of 统一身份认证 to
sign an official in through it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "esign-test"
CLIENT_SECRET = "test client secret"


@dataclass
class Provider:
    issuer: str
    key: RSAKey
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    redeemed: list[str] = field(default_factory=list)


def _page(login_hint: str, params: dict[str, str]) -> bytes:
    hidden = "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in params.items())
    return f"""<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>统一身份认证</title></head>
<body><main><h1>统一身份认证</h1><form method="post" action="/authorize">{hidden}
<label for="username">用户名</label><input id="username" name="username" value="{escape(login_hint)}">
<button type="submit">登录</button></form></main></body></html>""".encode()


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str = "application/json", **headers: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, value: object, status: int = 200) -> None:
            self._send(status, json.dumps(value).encode())

        def _form(self) -> dict[str, str]:
            length = int(self.headers.get("Content-Length", "0"))
            return {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path == "/.well-known/openid-configuration":
                self._json(
                    {
                        "issuer": provider.issuer,
                        "authorization_endpoint": f"{provider.issuer}/authorize",
                        "token_endpoint": f"{provider.issuer}/token",
                        "jwks_uri": f"{provider.issuer}/jwks",
                        "response_types_supported": ["code"],
                        "subject_types_supported": ["public"],
                        "id_token_signing_alg_values_supported": ["RS256"],
                    }
                )
            elif url.path == "/jwks":
                self._json({"keys": [provider.key.as_dict(private=False)]})
            elif url.path == "/authorize":
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                self._send(200, _page("", params), "text/html; charset=utf-8")
            else:
                self._send(404, b"{}")

        def do_POST(self) -> None:
            form = self._form()
            if self.path == "/authorize":
                code = secrets.token_urlsafe(16)
                provider.codes[code] = form
                query = urlencode({"code": code, "state": form["state"]})
                self._send(302, b"", Location=f"{form['redirect_uri']}?{query}")
            elif self.path == "/token":
                expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._json({"error": "invalid_client"}, 401)
                asked = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if (
                    asked is None
                    or asked["code_challenge"] != challenge
                    or asked["redirect_uri"] != form["redirect_uri"]
                ):
                    return self._json({"error": "invalid_grant"}, 400)
                now = int(time.time())
                claims = {
                    "iss": provider.issuer,
                    "aud": CLIENT_ID,
                    "sub": f"uid-{asked['username']}",
                    "preferred_username": asked["username"],
                    "nonce": asked["nonce"],
                    "iat": now,
                    "exp": now + 300,
                }
                header = {"alg": "RS256", "kid": provider.key.kid}
                provider.redeemed.append(asked["username"])
                self._json(
                    {"access_token": "x", "token_type": "Bearer", "id_token": jwt.encode(header, claims, provider.key)}
                )
            else:
                self._send(404, b"{}")

    return Handler


@contextmanager
def oidc_provider(port: int) -> Iterator[Provider]:
    provider = Provider(issuer=f"http://127.0.0.1:{port}", key=RSAKey.generate_key(2048, parameters={"kid": "test"}))
    server = ThreadingHTTPServer(("127.0.0.1", port), _handler(provider))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
