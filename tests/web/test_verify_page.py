"""/verify through the ASGI app: the verdict, the signature blocks, the previews, the sealed report, refusals."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from esign.settings import Settings
from tests.conftest import make_pdf
from web import csp


def _post(client: TestClient, data: bytes, name: str = "doc.pdf", **kwargs: object):
    return client.post("/verify", files={"file": (name, data, "application/pdf")}, **kwargs)


def _verdict(html: str) -> str | None:
    found = re.search(r'data-verdict="([a-z]+)"', html)
    return found.group(1) if found else None


def test_the_page_is_chinese_by_default_with_a_strict_policy(client: TestClient) -> None:
    for path in ("/", "/verify"):
        response = client.get(path)
        assert response.status_code == 200
        assert '<html lang="zh-CN">' in response.text and "验证签名文件" in response.text
        assert response.headers["content-security-policy"] == csp.POLICY
        assert 'enctype="multipart/form-data"' in response.text, "works without JavaScript"
        assert f'data-max-bytes="{client.app.state.settings.max_upload_bytes}"' in response.text  # type: ignore[attr-defined]


def test_the_language_switch_is_a_link_and_a_cookie(client: TestClient) -> None:
    response = client.get("/lang/en?next=/verify", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/verify"
    assert "Verify a signed document" in client.get("/verify").text
    assert client.get("/lang/en?next=//evil.example", follow_redirects=False).headers["location"] == "/verify"
    client.get("/lang/zh")
    assert "验证签名文件" in client.get("/verify").text


def test_a_signed_pdf_gets_its_verdict_signatures_and_previews(client: TestClient, signed_pdf: bytes) -> None:
    response = _post(client, signed_pdf)
    assert response.status_code == 200
    html = response.text
    assert _verdict(html) == "valid"
    assert "有效：" in html and 'data-signature-index="1"' in html
    assert "个人签名" in html and "张三" in html
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\+08:00", html), "Beijing time with its offset"
    assert html.count("<figure") == 2, "the first page and the page with the visible signature"
    assert re.search(r'<rect class="box" [^>]*data-signature-index="1"', html), "the signature's box outlined"


def test_the_partial_answer_is_the_result_alone_and_the_previews_come_apart(
    client: TestClient, signed_pdf: bytes
) -> None:
    html = _post(client, signed_pdf, params={"partial": "1"}).text
    assert "<html" not in html and _verdict(html) == "valid"
    assert "<figure" not in html and 'id="pages"' in html, "the script asks for the previews once this is shown"
    assert 'data-field-name="Signature1"' in html
    previews = client.post("/verify/pages", files={"file": ("doc.pdf", signed_pdf, "application/pdf")})
    assert previews.status_code == 200 and previews.text.count("<figure") == 2
    assert re.search(r'<rect class="box" [^>]*data-field-name="Signature1"', previews.text)
    refused = client.post("/verify/pages", files={"file": ("x.txt", b"text", "text/plain")})
    assert refused.status_code == 422 and 'data-error="pdf_malformed"' in refused.text


@pytest.mark.parametrize(
    ("fixture", "verdict", "words"),
    [("tampered_pdf", "invalid", "无效"), ("unsigned", "unsigned", "未签名")],
)
def test_tampered_and_unsigned(
    client: TestClient, request: pytest.FixtureRequest, fixture: str, verdict: str, words: str
) -> None:
    data = make_pdf() if fixture == "unsigned" else request.getfixturevalue(fixture)
    html = _post(client, data).text
    assert _verdict(html) == verdict and words in html
    assert 'class="document"' not in html, "reportlab's placeholder title is no title"


def test_not_a_pdf_is_a_clear_422(client: TestClient) -> None:
    response = _post(client, b"just some text", name="notes.txt")
    assert response.status_code == 422
    assert 'data-error="pdf_malformed"' in response.text and "不是可读取的 PDF" in response.text
    assert _verdict(response.text) is None


def test_no_file_chosen(client: TestClient) -> None:
    response = client.post("/verify", files={"file": ("", b"", "application/octet-stream")})
    assert response.status_code == 422 and 'data-error="no_file"' in response.text
    assert client.post("/verify", data={"x": "1"}).status_code == 422


def test_the_report_button_gets_the_pdf_without_the_file(client: TestClient, tampered_pdf: bytes) -> None:
    html = _post(client, tampered_pdf).text
    token = re.search(r'name="report" value="([^"]+)"', html)
    assert token
    response = client.post("/verify/report", data={"report": token.group(1)})
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"
    assert "attachment" in response.headers["content-disposition"]


def test_a_forged_report_is_refused(client: TestClient, signed_pdf: bytes) -> None:
    token = re.search(r'name="report" value="([^"]+)"', _post(client, signed_pdf).text)
    assert token
    version, payload, tag = token.group(1).split(".")
    for forged in (f"{version}.{payload[:-4]}AAAA.{tag}", "v1.x.y", "garbage", ""):
        response = client.post("/verify/report", data={"report": forged})
        assert response.status_code == 422 and 'data-error="report_invalid"' in response.text
    assert client.post("/verify/report").status_code == 422


def test_the_rate_limit_answers_429(client: TestClient) -> None:
    client.app.state.web_rate_limit.per_minute = 2  # type: ignore[attr-defined]
    client.app.state.web_rate_limit._buckets.clear()  # type: ignore[attr-defined]
    statuses = [_post(client, b"%PDF-nothing").status_code for _ in range(3)]
    assert statuses[:2] == [422, 422] and statuses[2] == 429
    response = _post(client, b"%PDF-nothing")
    assert 'data-error="rate_limited"' in response.text and int(response.headers["retry-after"]) >= 1


def test_the_api_docs_are_served_offline(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert "cdn" not in html.lower() and "fonts.googleapis" not in html
        for asset in re.findall(r'(?:src|href)="(/[^"]+)"', html):
            assert client.get(asset).status_code == 200, asset


def test_the_documents_title_and_number_are_shown(client: TestClient, ec_signer) -> None:  # type: ignore[no-untyped-def]
    from esign.sign import sign
    from tests.esign.test_report_pdf import _numbered_document

    html = _post(client, sign(_numbered_document(), ec_signer)).text
    assert "关于做好2026年春节期间安全生产工作的通知" in html and "粤府办〔2026〕12号" in html


@pytest.fixture
def small_limit(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"max_upload_mb": 1})), raise_server_exceptions=False) as c:
        yield c


def _streamed(size: int) -> Iterator[bytes]:
    """A multipart form whose length is not declared: the limit stops it as it streams in."""
    yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n\r\n%PDF-1.7\n'
    for _ in range(size // 65536):
        yield b"0" * 65536
    yield b"\r\n--b--\r\n"


def test_a_file_over_the_limit_gets_the_page_in_chinese_with_the_limit(small_limit: TestClient) -> None:
    big = b"%PDF-1.7\n" + b"0" * (3 * 1024 * 1024)
    declared = _post(small_limit, big)  # refused by its Content-Length, before the body is read
    streamed = small_limit.post(
        "/verify", content=_streamed(3 * 1024 * 1024), headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    just_over = _post(small_limit, b"%PDF-1.7\n" + b"0" * (1024 * 1024 + 10))  # within the form's allowance
    for response in (declared, streamed, just_over):
        assert response.status_code == 413, response.text[:300]
        assert response.headers["content-type"].startswith("text/html")
        html = response.text
        assert '<html lang="zh-CN">' in html and 'data-error="too_large"' in html
        assert "文件超过了本服务接受的大小：最大 1 MB。" in html
    english = _post(small_limit, big, params={"lang": "en"})
    assert "The file is larger than this service accepts: at most 1 MB." in english.text
    assert _post(small_limit, big, params={"partial": "1"}).text.lstrip().startswith('<div class="error"')
    api = small_limit.post("/v1/verify", files={"file": ("big.pdf", big, "application/pdf")})
    assert api.status_code == 413 and api.json()["code"] == "too_large", "the API still answers JSON"
