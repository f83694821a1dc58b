"""The sign-in pages without a browser: cookie attributes, the CSRF check, the policy, redirects."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from api.app import create_app
from esign.audit import AuditEvent
from esign.db import Database
from esign.settings import Settings


def test_cookies_are_secure_behind_https(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"public_url": "https://esign.example.gov.cn"}))) as client:
        cookie = client.get("/login").headers["set-cookie"]
    assert cookie.startswith("esign_csrf=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" in cookie


def test_cookies_are_not_secure_over_plain_http(client: TestClient) -> None:
    cookie = client.get("/login").headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" not in cookie


def test_a_form_without_its_token_changes_nothing(client: TestClient) -> None:
    client.get("/login")
    for path in ("/login", "/logout", "/account/password", "/account/tokens", "/invitation/esi_x", "/login/oidc"):
        answer = client.post(path, data={"login": "x", "password": "y", "csrf_token": "forged"})
        assert answer.status_code == 403 and 'data-error="csrf_refused"' in answer.text, path


def test_pages_for_the_signed_in_send_others_to_sign_in(client: TestClient) -> None:
    for path in ("/account/password", "/account/tokens"):
        answer = client.get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"
    expired = client.get("/account/tokens", cookies={"esign_session": "gone"}, follow_redirects=False)
    assert expired.headers["location"] == "/login?next=/account/tokens&expired=1"
    assert 'id="verify-form"' in client.get("/", cookies={"esign_session": "gone"}).text


def test_the_sign_in_page_keeps_the_strict_policy(client: TestClient, settings: Settings) -> None:
    policy = client.get("/login").headers["content-security-policy"]
    assert "form-action 'self';" in policy and "script-src 'self'" in policy
    oidc = settings.model_copy(update={"oidc_issuer": "https://idp.example.gov.cn/realms/gov", "oidc_client_id": "e"})
    with TestClient(create_app(oidc)) as client_with_oidc:
        page = client_with_oidc.get("/login")
    assert "form-action 'self' https://idp.example.gov.cn;" in page.headers["content-security-policy"]
    assert 'data-action="oidc"' in page.text
    assert 'data-action="oidc"' not in client.get("/login").text


def test_the_next_address_stays_on_this_site(client: TestClient) -> None:
    for unsafe in ("//evil.example", "https://evil.example", "/\\evil.example"):
        page = client.get("/login", params={"next": unsafe})
        assert 'name="next" value="/"' in page.text, unsafe


def test_the_sign_in_page_speaks_chinese_by_default_and_english_on_request(client: TestClient) -> None:
    assert "<h1>登录</h1>" in client.get("/login").text
    assert "<h1>Sign in</h1>" in client.get("/login", params={"lang": "en"}).text


def test_a_forged_oidc_callback_is_refused_and_audited(settings: Settings, db: Database) -> None:
    oidc = settings.model_copy(update={"oidc_issuer": "https://idp.example.gov.cn", "oidc_client_id": "e"})
    with TestClient(create_app(oidc)) as client:
        answer = client.get("/login/oidc/callback", params={"code": "forged", "state": "forged"})
    assert answer.status_code == 401 and 'data-error="oidc_failed"' in answer.text
    assert "esign_session" not in answer.cookies
    with db.transaction() as session:
        event = session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert event is not None and (event.action, event.subject) == ("signin.failed", "oidc")
