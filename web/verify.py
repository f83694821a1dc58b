"""``/verify`` (and ``/`` for anyone not signed in, :mod:`web.signin`): drop or pick a PDF, read the verdict;
the report button turns it into a PDF.

One verification per upload: the file goes to a parsing worker once, which returns the report and the page
previews together (``esign.budget.verify_with_preview``); the page carries the report sealed
(:mod:`web.sealed`), and the report button posts that back, so nothing uploaded is kept and nothing is
verified twice. Without JavaScript the form posts and the whole page comes back; with it (``static/verify.js``)
the same route answers ``?partial=1`` with the result alone.
"""

from __future__ import annotations

from functools import partial as bind
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.types import Scope

from esign import budget, report_pdf
from esign.errors import Busy, EsignError, InvalidInput, PdfError, TooLarge
from esign.preview import Preview
from esign.report import VerificationReport
from esign.settings import Settings
from esign.trust import TrustSettings
from keys.policy import Policy

from . import explain, i18n, previews, sealed
from .ratelimit import RateLimit, RateLimited
from .refusals import status_of
from .templating import render

router = APIRouter(include_in_schema=False)


class NoFile(InvalidInput):
    code = "no_file"


class ReportInvalid(InvalidInput):
    code = "report_invalid"


def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def _limit(request: Request) -> RateLimit:
    return request.app.state.web_rate_limit  # type: ignore[no-any-return]


def _check(request: Request) -> None:
    _limit(request).take(request.client.host if request.client else "unknown")


def _trust(request: Request) -> TrustSettings:
    """The deployment's trust, read in a short transaction of its own."""
    with request.app.state.database.transaction() as session:
        return Policy(settings=_settings(request), base=request.app.state.trust).trust(session)


def _verify(request: Request, data: bytes, *, with_preview: bool) -> tuple[VerificationReport, Preview | None]:
    trust = _trust(request)
    if with_preview:
        return budget.verify_with_preview(data, trust)
    return budget.verify(data, trust), None


async def _upload(request: Request) -> tuple[str, bytes]:
    """The posted file's name and bytes, after the client's rate limit and the upload limit."""
    settings = _settings(request)
    _check(request)
    try:
        form = await request.form(max_files=1, max_fields=8)
    except HTTPException as e:
        if e.status_code != 413:
            raise
        # The service's body limit stopped the upload as it streamed in: the page, not the API's JSON, answers.
        raise TooLarge(str(e.detail)) from e
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise NoFile("no file was chosen")
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise TooLarge(f"the upload exceeds the limit of {settings.max_upload_mb} MiB")
    if not data:
        raise PdfError("the file is empty")
    return upload.filename, data


def _failure(request: Request, error: EsignError, *, partial: bool) -> Response:
    headers = {}
    if isinstance(error, Busy | RateLimited):
        headers["Retry-After"] = str(error.retry_after)
    code = error.code if error.code in explain.ERRORS else "pdf_invalid" if isinstance(error, PdfError) else None
    if code is None:
        raise error
    context = {"error": {"code": code, "message": explain.ERRORS[code]}}
    template = "verify/result.html" if partial else "verify/page.html"
    return render(request, template, context, status_code=status_of(error), headers=headers)


def too_large(scope: Scope) -> Response | None:
    """What a page answers a request whose declared body is over the upload limit, which the service refuses
    before reading it: a POST from the form without JavaScript gets the page with the error and the limit (413),
    the page's script the result alone; any other request ``None``, for the API's JSON."""
    if scope.get("method") != "POST" or scope.get("path") not in ("/verify", "/verify/pages"):
        return None
    request = Request(scope)
    partial = scope["path"] == "/verify/pages" or request.query_params.get("partial") == "1"
    limit = TooLarge(f"the upload exceeds the limit of {_settings(request).max_upload_mb} MiB")
    return _failure(request, limit, partial=partial)


@router.get("/verify")
async def page(request: Request) -> Response:
    return render(request, "verify/page.html", {})


@router.post("/verify")
async def verify(request: Request) -> Response:
    """The whole page with the result, or (``?partial=1``, the page's script) the result alone and without the
    previews, which the script asks ``/verify/pages`` for at the same time, so the verdict waits for no picture."""
    partial = request.query_params.get("partial") == "1"
    settings = _settings(request)
    try:
        filename, data = await _upload(request)
        report, preview = await run_in_threadpool(bind(_verify, request, data, with_preview=not partial))
    except EsignError as error:
        return _failure(request, error, partial=partial)
    report = report.localised(settings.zone)
    lang = i18n.language(request)
    _ = i18n.translations(lang).gettext
    context = {
        "report": report,
        "filename": filename,
        "headline": _(explain.VERDICT_WORD[report.verdict]),
        "sentence": explain.summary(report, lang),
        "signatures": [explain.signature_view(n, s, _) for n, s in enumerate(report.signatures, start=1)],
        "pages": previews.pages(preview, report) if preview else [],
        "token": sealed.seal(report, sealed.key(settings)),
    }
    return render(request, "verify/result.html" if partial else "verify/page.html", context)


@router.post("/verify/pages")
async def pages(request: Request) -> Response:
    """Page previews of a posted PDF, numbered by the page's script from the signature blocks' field names."""
    try:
        _, data = await _upload(request)
        preview = await run_in_threadpool(budget.preview, data)
    except EsignError as error:
        return _failure(request, error, partial=True)
    return render(request, "verify/pages.html", {"pages": previews.pages(preview, None)})


@router.post("/verify/report")
async def report(request: Request) -> Response:
    """The PDF report of a verification the page showed, from the sealed report it carries."""
    settings = _settings(request)
    try:
        _check(request)
        form = await request.form(max_files=0, max_fields=4, max_part_size=sealed.MAX_TOKEN)
        token = form.get("report")
        if not isinstance(token, str):
            raise InvalidInput("no report")
        verified = sealed.unseal(token, sealed.key(settings))
    except InvalidInput as error:
        return _failure(request, ReportInvalid(error.message), partial=False)
    except EsignError as error:
        return _failure(request, error, partial=False)
    pdf = await run_in_threadpool(report_pdf.render, verified.localised(settings.zone))
    name = quote("签名验证报告.pdf")
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f"attachment; filename=\"verification-report.pdf\"; filename*=UTF-8''{name}",
            "Cache-Control": "no-store",
        },
    )


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str) -> Response:
    """The language switch: a link, so it works without JavaScript; remembered for a year in a cookie."""
    back = request.query_params.get("next", "/verify")
    if not back.startswith("/") or back.startswith("//") or "\\" in back:
        back = "/verify"
    response = RedirectResponse(back, status_code=303)
    if code in i18n.LANGUAGES:
        response.set_cookie(i18n.COOKIE, code, max_age=365 * 24 * 3600, samesite="lax", httponly=True)
    return response
