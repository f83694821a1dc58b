"""Signing in, out and back, in a real browser against ``esign serve`` (Debian's Chromium, headless).

The demo officials' passwords come from ``esign init`` (``demo-passwords.tsv``). Each test records every request
the browser makes and asserts they all went to the service's own origin; every new page is checked with axe-core
and left as a screenshot at 1280×800 and 390×844 in ``build/screenshots/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from esign.db import Database
from tests.api.served import Served, free_port, served
from tests.web.browser import DESKTOP, PHONE, Session
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, oidc_provider

IDLE_SECONDS = 6
LOCKOUT = 3


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with oidc_provider(free_port()) as running:
        yield running


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, new_database: Callable[[], Database], provider: Provider
) -> Iterator[Served]:
    env = {
        "ESIGN_SESSION_IDLE_MINUTES": str(IDLE_SECONDS / 60),
        "ESIGN_SIGNIN_LOCKOUT_FAILURES": str(LOCKOUT),
        "ESIGN_OIDC_ISSUER": provider.issuer,
        "ESIGN_OIDC_CLIENT_ID": CLIENT_ID,
        "ESIGN_OIDC_CLIENT_SECRET": CLIENT_SECRET,
    }
    with served(tmp_path_factory.mktemp("signin"), new_database, init=True, extra_env=env) as instance:
        yield instance


@pytest.fixture(scope="module")
def passwords(server: Served) -> dict[str, str]:
    """``esign init`` wrote them beside the demo tokens, readable by its account only."""
    written = server.data_dir / "demo-passwords.tsv"
    assert written.stat().st_mode & 0o777 == 0o600
    rows = (line.split("\t") for line in written.read_text().splitlines())
    return {login: password for login, password, _org, _name in rows}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_sign_in_see_the_home_change_the_password_and_sign_out(
    server: Served, browser: Any, passwords: dict[str, str], viewport: dict[str, int]
) -> None:
    me = Session(browser, server, viewport)
    me.goto("/")
    assert me.page.locator("#verify-form").count() == 1, "/ is the verification page for anyone not signed in"
    me.goto("/login")
    me.check("signin-login")
    me.sign_in("liqiang", passwords["liqiang"])
    me.page.wait_for_selector("[data-open-steps]")
    assert me.page.url == f"{server.url}/"
    assert "李强" in me.page.inner_text("h1")
    assert me.page.inner_text("[data-organisation]") == "示例市人民政府办公室"
    assert me.page.get_attribute("[data-open-steps]", "data-open-steps") == "0"
    cookie = next(c for c in me.context.cookies() if c["name"] == "esign_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and not cookie["secure"]  # plain http on loopback
    me.check("signin-home")

    me.page.click("[data-action=inbox]")
    me.page.wait_for_selector("[data-empty]")
    me.goto("/v1/inbox")  # the API reads with the session too
    assert '"steps"' in me.page.inner_text("body")
    me.goto("/")
    me.page.click("[data-action=verify]")
    me.page.wait_for_selector("#verify-form")

    if viewport is DESKTOP:  # once: the password changes
        me.goto("/account/password")
        me.check("signin-password")
        me.page.fill("#current", passwords["liqiang"])
        me.page.fill("#password", "too short")
        me.page.fill("#confirm", "too short")
        me.page.click("main button[type=submit]")
        me.page.wait_for_selector('[data-error="short"]')
        me.check("signin-password-refused")
        new = "一个新的密码 2026"
        me.page.fill("#current", passwords["liqiang"])
        me.page.fill("#password", new)
        me.page.fill("#confirm", new)
        me.page.click("main button[type=submit]")
        me.page.wait_for_selector('[data-notice="changed"]')
        passwords["liqiang"] = new

    me.goto("/")
    me.page.click("[data-action=sign-out]")
    me.page.wait_for_selector('[data-notice="signed_out"]')
    me.check("signin-signed-out")
    me.goto("/")
    assert me.page.locator("#verify-form").count() == 1
    me.goto("/account/password")
    assert me.page.url.startswith(f"{server.url}/login?next=/account/password")
    assert httpx.get(f"{server.url}/v1/inbox", cookies={"esign_session": cookie["value"]}).status_code == 401
    assert me.urls and me.foreign() == [], "every request to esign's own origin"
    me.close()


def test_wrong_passwords_until_lockout(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = Session(browser, server)
    for _ in range(LOCKOUT - 1):
        me.sign_in("chenjing", "not the password")
        me.page.wait_for_selector('[data-error="sign_in_failed"]')
    me.check("signin-wrong-password")
    me.sign_in("chenjing", "not the password")
    me.page.wait_for_selector('[data-error="account_locked"]')
    me.sign_in("chenjing", passwords["chenjing"])
    me.page.wait_for_selector('[data-error="account_locked"]')
    me.check("signin-locked")
    assert not [c for c in me.context.cookies() if c["name"] == "esign_session"]
    me.sign_in("nobody", "whatever")
    me.page.wait_for_selector('[data-error="sign_in_failed"]')
    assert me.foreign() == []
    me.close()


def test_a_form_without_its_csrf_token_is_refused(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = Session(browser, server)
    me.goto("/login")
    me.page.evaluate("document.querySelector('#login-form input[name=csrf_token]').value = 'forged'")
    me.page.fill("#login", "liuyang")
    me.page.fill("#password", passwords["liuyang"])
    response_status: list[int] = []
    me.page.on("response", lambda r: response_status.append(r.status) if r.url.endswith("/login") else None)
    me.page.click("#login-form button[type=submit]")
    me.page.wait_for_selector('[data-error="csrf_refused"]')
    assert 403 in response_status
    assert not [c for c in me.context.cookies() if c["name"] == "esign_session"]
    me.check("signin-csrf-refused")

    me.sign_in("liuyang", passwords["liuyang"])  # signed in: signing out without the token does nothing
    me.page.wait_for_selector("[data-open-steps]")
    me.page.evaluate("document.querySelector('form[action=\"/logout\"] input[name=csrf_token]').remove()")
    me.page.click("[data-action=sign-out]")
    me.page.wait_for_selector('[data-error="csrf_refused"]')
    me.goto("/")
    me.page.wait_for_selector("[data-open-steps]")
    assert me.foreign() == []
    me.close()


def test_an_idle_session_expires(server: Served, browser: Any, passwords: dict[str, str]) -> None:
    me = Session(browser, server)
    me.sign_in("sunlei", passwords["sunlei"])
    me.page.wait_for_selector("[data-open-steps]")
    time.sleep(IDLE_SECONDS + 1)
    me.goto("/account/password")
    me.page.wait_for_selector('[data-notice="expired"]')
    assert me.page.url.startswith(f"{server.url}/login?next=/account/password")
    me.check("signin-expired")
    me.sign_in("sunlei", passwords["sunlei"])  # and back, to where they were going
    me.page.wait_for_selector("[data-open-steps]")
    assert me.foreign() == []
    me.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_an_invitation_link_sets_the_password(server: Served, browser: Any, viewport: dict[str, int]) -> None:
    admin = server.headers("张伟")
    officials = httpx.get(f"{server.url}/v1/officials", headers=admin).json()
    wangfang = next(o for o in officials if o["name"] == "王芳")
    answer = httpx.post(f"{server.url}/v1/officials/{wangfang['id']}/invitations", headers=admin, json={})
    assert answer.status_code == 201, answer.text
    link = answer.json()["url"]
    assert link.startswith(f"{server.url}/invitation/") and answer.json()["login"] == "wangfang"
    me = Session(browser, server, viewport)
    me.page.goto(link)
    assert "王芳" in me.page.inner_text("main")
    me.check("signin-invitation")
    me.page.fill("#password", "王芳的新密码 12345")
    me.page.fill("#confirm", "王芳的新密码 12345")
    me.page.click("main button[type=submit]")
    me.page.wait_for_selector('[data-notice="welcome"]')
    assert me.page.input_value("#login") == "wangfang"
    me.page.fill("#password", "王芳的新密码 12345")
    me.page.click("#login-form button[type=submit]")
    me.page.wait_for_selector("[data-open-steps]")
    me.page.goto(link)  # used up
    me.page.wait_for_selector('[data-error="invitation_invalid"]')
    me.check("signin-invitation-used")
    assert me.foreign() == []
    me.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["1280", "390"])
def test_an_official_makes_lists_and_revokes_their_own_tokens(
    server: Served, browser: Any, passwords: dict[str, str], viewport: dict[str, int]
) -> None:
    me = Session(browser, server, viewport)
    me.sign_in("zhaomin", passwords["zhaomin"])
    me.page.wait_for_selector("[data-open-steps]")
    me.page.click("main a[href='/account/tokens']")
    me.page.wait_for_selector("#token-form")
    name = f"报表系统 {viewport['width']}"
    me.page.fill("#token-name", name)
    me.page.select_option("#token-days", "30")
    me.page.click("#token-form button[type=submit]")
    token = me.page.inner_text("[data-token]").strip()
    row = me.page.locator("#tokens tr", has_text=name)
    assert row.get_attribute("data-state") == "active"
    assert "+08:00" in row.inner_text()
    me.check("signin-tokens")
    bearer = {"Authorization": f"Bearer {token}"}
    assert httpx.get(f"{server.url}/v1/inbox", headers=bearer).status_code == 200

    me.goto("/account/tokens")
    assert me.page.locator("[data-token]").count() == 0, "a token is shown once"
    me.page.locator("#tokens tr", has_text=name).locator("button").click()
    me.page.wait_for_selector(f"#tokens tr[data-state=revoked]:has-text('{name}')")
    me.check("signin-tokens-revoked")
    assert httpx.get(f"{server.url}/v1/inbox", headers=bearer).status_code == 401
    assert me.foreign() == []
    me.close()


def test_sign_in_through_the_organisations_oidc_provider(server: Served, browser: Any, provider: Provider) -> None:
    me = Session(browser, server)
    me.goto("/login")
    me.page.click("[data-action=oidc]")
    me.page.wait_for_url(f"{provider.issuer}/authorize?*")
    me.page.fill("#username", "zhoujie")
    me.page.click("button[type=submit]")
    me.page.wait_for_selector("[data-open-steps]")
    assert me.page.url == f"{server.url}/"
    assert "周杰" in me.page.inner_text("h1")
    assert me.page.inner_text("[data-organisation]") == "示例县人民政府"
    assert provider.redeemed[-1] == "zhoujie"
    me.check("signin-oidc-home")
    assert me.foreign(f"{provider.issuer}/authorize") == [], "only the provider's own sign-in page is elsewhere"
    me.close()


def test_an_oidc_account_that_is_no_official_is_refused(server: Served, browser: Any, provider: Provider) -> None:
    me = Session(browser, server)
    me.goto("/login")
    me.page.click("[data-action=oidc]")
    me.page.wait_for_url(f"{provider.issuer}/authorize?*")
    me.page.fill("#username", "stranger")
    me.page.click("button[type=submit]")
    me.page.wait_for_selector('[data-error="oidc_unknown"]')
    assert not [c for c in me.context.cookies() if c["name"] == "esign_session"]
    me.check("signin-oidc-unknown")
    me.goto("/login/oidc/callback?code=forged&state=forged")  # a callback this browser did not start
    me.page.wait_for_selector('[data-error="oidc_failed"]')
    assert me.foreign(f"{provider.issuer}/authorize") == []
    me.close()
