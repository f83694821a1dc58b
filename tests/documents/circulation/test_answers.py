"""联合审批的统一答复 through HTTP: the lead's one combined answer carries each reply's signed PDF, byte for byte, as
an embedded file; the lead's signature covers them, and each one, extracted, still verifies on its own."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from fastapi.testclient import TestClient
from pyhanko.pdf_utils.reader import PdfFileReader

from documents import render
from documents.circulation import answers
from documents.circulation.calendar import today
from documents.render import DocumentContent
from esign import ltv
from esign.db import Database
from keys import ca
from tests.conftest import make_pdf
from tests.validators import nss_db, pdfsig
from tests.world import PIN, Org, World, add_org

DISPATCH = {"name": "分发", "steps": [{"kind": "dispatch", "assignee": {"role": "clerk"}}]}
WAIT = {"name": "等待回复", "steps": [{"kind": "replies", "assignee": {"role": "clerk"}}]}


def content(issuer: str, title: str, to: str, text: str) -> dict:
    """A letter (函) from ``issuer`` to ``to``."""
    body = [{"type": "paragraph", "text": text}]
    return {"kind": "letter", "issuer": issuer, "title": title, "recipients": [to], "body": body, "date": str(today())}


def route(api: TestClient, headers: dict[str, str], document: str, *stages: dict) -> None:
    started = api.post(f"/v1/documents/{document}/route", headers=headers, json={"definition": {"stages": stages}})
    assert started.status_code == 201, started.text


def step(api: TestClient, headers: dict[str, str], document: str, kind: str) -> str:
    [found] = [
        s["id"]
        for s in api.get("/v1/inbox", headers=headers).json()["steps"]
        if s["document_id"] == document and s["kind"] == kind
    ]
    return str(found)


def approve(api: TestClient, headers: dict[str, str], step_id: str, **body: object) -> None:
    done = api.post(f"/v1/steps/{step_id}/approve", headers=headers, json=body)
    assert done.status_code == 200, done.text


def received(api: TestClient, org: Org, title: str) -> str:
    [found] = api.get(
        "/v1/documents", headers=org.members["clerk"].headers, params={"direction": "incoming", "q": title}
    ).json()["documents"]
    return str(found["id"])


def signed_reply(api: TestClient, org: Org, lead: Org, request_title: str, title: str, text: str) -> None:
    """``org`` answers the request it received: a letter its leader signs, dispatched back to the lead."""
    clerk, leader = org.members["clerk"].headers, org.members["leader"]
    made = api.post("/v1/documents", headers=clerk, json={"content": content(org.name, title, lead.name, text)})
    assert made.status_code == 201, made.text
    reply = made.json()["id"]
    signed = api.post(
        f"/v1/documents/{reply}/sign",
        headers=leader.headers,
        json={"credential_id": leader.credential_id, "pin": PIN, "reason": "签发"},
    )
    assert signed.status_code == 200, signed.text
    route(api, clerk, reply, DISPATCH)
    approve(api, clerk, step(api, clerk, reply, "dispatch"), in_reply_to=received(api, org, request_title))


def embedded(pdf: bytes) -> list[tuple[str, bytes]]:
    """The files embedded in ``pdf``: (name, bytes), in the name tree's order."""
    names = PdfFileReader(io.BytesIO(pdf)).root["/Names"]["/EmbeddedFiles"]["/Names"]
    return [(str(names[i]), names[i + 1]["/EF"]["/F"].data) for i in range(0, len(names), 2)]


def request_replies(api: TestClient, lead: Org, title: str, recipients: list[Org]) -> str:
    """The lead asks ``recipients`` for a review decision and waits for their replies; the request's id."""
    clerk = lead.members["clerk"].headers
    document = api.post(
        "/v1/documents",
        headers=clerk,
        data={"title": title, "direction": "outgoing", "kind": "letter"},
        files={"file": ("d.pdf", make_pdf(text=title), "application/pdf")},
    ).json()["id"]
    route(api, clerk, document, DISPATCH, WAIT)
    approve(
        api, clerk, step(api, clerk, document, "dispatch"), recipients=[o.id for o in recipients], reply_kind="review"
    )
    return str(document)


def test_the_combined_answer_carries_each_signed_reply(
    api: TestClient, world: World, db: Database, tmp_path: Path
) -> None:
    a, b = world.orgs["A"], world.orgs["B"]
    with db.transaction() as session:
        c = add_org(session, world.pki, world.settings, "C", "丙区人力资源和社会保障局", "11440106MB3000003")
    clerk, leader = a.members["clerk"].headers, a.members["leader"]
    title = "关于联合审批开办餐饮店申请的征询函"
    asked = request_replies(api, a, title, [b, c])
    letter = content(a.name, "关于开办餐饮店申请的答复", "申请人", "经联合审批，答复如下。")

    signed_reply(api, b, a, title, "关于同意开办餐饮店的复函", "经审核，同意。")
    early = api.post(f"/v1/documents/{asked}/answer", headers=clerk, json={"content": letter})
    assert early.status_code == 409 and "waits for replies" in early.text, early.text
    signed_reply(api, c, a, title, "关于餐饮店用工备案意见的复函", "经审核，用工备案材料齐全。")

    first = api.post(
        f"/v1/documents/{asked}/answer", headers={**clerk, "Idempotency-Key": "a-1"}, json={"content": letter}
    )
    assert first.status_code == 201, first.text
    again = api.post(
        f"/v1/documents/{asked}/answer", headers={**clerk, "Idempotency-Key": "a-1"}, json={"content": letter}
    )
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    second = api.post(f"/v1/documents/{asked}/answer", headers=clerk, json={"content": letter})
    assert second.status_code == 409 and "answer already" in second.text
    answer = first.json()["id"]
    for outsider in (b, c):
        headers = outsider.members["clerk"].headers
        assert api.post(f"/v1/documents/{asked}/answer", headers=headers, json={"content": letter}).status_code == 404
        assert api.get(f"/v1/documents/{answer}", headers=headers).status_code == 404

    route(
        api,
        clerk,
        answer,
        {"name": "签发", "steps": [{"kind": "sign_off", "assignee": {"official_id": leader.official_id}}]},
    )
    approve(
        api,
        leader.headers,
        step(api, leader.headers, answer, "sign_off"),
        opinion="同意",
        credential_id=leader.credential_id,
        pin=PIN,
    )
    final = api.get(f"/v1/documents/{answer}/pdf", headers=clerk).content
    report = api.get(f"/v1/documents/{answer}/verification", headers=clerk).json()
    assert report["valid"] and ["A-leader" in s["signer"]["subject"] for s in report["signatures"]] == [True], report

    replies = {
        api.get(f"/v1/documents/{received_id}/pdf", headers=clerk).content
        for received_id in (received(api, a, "关于同意开办餐饮店的复函"), received(api, a, "用工备案"))
    }
    files = embedded(final)
    assert [name for name, _ in files] == ["reply-001.pdf", "reply-002.pdf"]
    assert {data for _, data in files} == replies, "each reply's PDF, byte for byte"
    for _, data in files:
        checked = api.post("/v1/verify", files={"file": ("reply.pdf", data, "application/pdf")})
        assert checked.status_code == 200 and checked.json()["verdict"] == "valid", checked.text

    path = tmp_path / "answer.pdf"
    path.write_bytes(final)
    found = pdfsig(path, nss_db(tmp_path / "nss", [ca.pem(world.pki.root.cert)]), ocsp=False)
    results = [r for r in found if not r.field.startswith(ltv.ARCHIVE_TIMESTAMP_FIELD)]
    assert [(r.signer, r.signature_valid) for r in results] == [("A-leader", True)], "B-LTA: a time-stamp follows"

    timeline = api.get(f"/v1/documents/{asked}/timeline", headers=clerk).json()
    [answered] = [e for e in timeline if e["type"] == "request.answered"]
    assert answered["detail"]["answer_document_id"] == answer


def _claims_pdfa(pdf: bytes) -> bool:
    return b"pdfaid:part" in PdfFileReader(io.BytesIO(pdf)).root["/Metadata"].data


def test_an_answer_claims_pdfa_only_when_every_reply_is_pdfa() -> None:
    letter = render.render(
        DocumentContent.model_validate(content("甲局", "关于测试的函", "乙局", "测试。")), render.default_fonts()
    ).pdf
    assert _claims_pdfa(letter)

    def enclosing(data: bytes) -> answers.Enclosure:
        at = datetime(2026, 2, 12, tzinfo=UTC)
        return answers.Enclosure("d", 1, "o", "乙局", "复函", None, at, data)

    archival = answers.enclose(letter, [enclosing(letter)])
    assert archival.startswith(letter) and _claims_pdfa(archival), "PDF/A-2 may embed PDF/A files"
    plain = make_pdf()
    assert enclosing(letter).pdfa and not enclosing(plain).pdfa
    mixed = answers.enclose(letter, [enclosing(letter), enclosing(plain)])
    assert not _claims_pdfa(mixed), "one reply that is no PDF/A: the answer does not claim to be"
    assert [data for _, data in embedded(mixed)] == [letter, plain]
