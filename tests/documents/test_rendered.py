"""A document laid out here goes through signing, numbering and sealing: the number lands in the box the
layout left for it and the seal over the date, and every signature stays valid."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from fastapi.testclient import TestClient
from PIL import Image

from tests.esign.etsi_xml import assert_same_indications
from tests.world import PIN, World

CONTENT = {
    "kind": "notice",
    "issuer": "甲市人民政府办公室",
    "title": "关于开展电子公文试点工作的通知",
    "recipients": ["各区人民政府", "市政府各部门"],
    "body": [
        {
            "type": "paragraph",
            "text": "为提高公文流转效率，经市政府同意，决定开展电子公文试点工作。现将有关事项通知如下。",
        },
        {"type": "heading", "level": 1, "text": "试点范围"},
        {"type": "paragraph", "text": "市政府办公室及各区人民政府办公室。"},
        {"type": "heading", "level": 1, "text": "工作要求"},
        {"type": "paragraph", "text": "各单位要高度重视，按时反馈意见，征求意见的答复时限为五个工作日。"},
    ],
    "date": "2026-11-23",
    "colophon": {"copy_to": ["市委办公室"], "printed_by": "甲市人民政府办公室", "printed_on": "2026-11-23"},
}


def _words_in(pdf: Path, page: int, box: list[float]) -> str:
    """Words poppler sees inside ``box`` (PDF points from the lower left), annotations' appearances included."""
    html = subprocess.run(
        ["pdftotext", "-bbox", "-f", str(page + 1), "-l", str(page + 1), str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    height = float(re.search(r'<page width="[\d.]+" height="([\d.]+)"', html).group(1))  # type: ignore[union-attr]
    x1, y1, x2, y2 = box
    words = []
    for xmin, ymin, xmax, ymax, word in re.findall(
        r'<word xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)</word>', html
    ):
        if (
            x1 - 2 <= float(xmin)
            and float(xmax) <= x2 + 2
            and y1 - 2 <= height - float(ymax)
            and height - float(ymin) <= y2 + 2
        ):
            words.append(word)
    return "".join(words)


def test_a_rendered_notice_is_signed_numbered_and_sealed(api: TestClient, world: World, tmp_path: Path) -> None:
    org = world.orgs["A"]
    clerk, leader, custodian = org.members["clerk"], org.members["leader"], org.members["custodian"]
    response = api.post(
        "/v1/documents", headers={**clerk.headers, "Idempotency-Key": "notice-1"}, json={"content": CONTENT}
    )
    assert response.status_code == 201, response.text
    document = response.json()
    assert document["title"] == CONTENT["title"] and document["kind"] == "notice" and document["number"] is None
    again = api.post(
        "/v1/documents", headers={**clerk.headers, "Idempotency-Key": "notice-1"}, json={"content": CONTENT}
    )
    assert again.status_code == 200 and again.json()["id"] == document["id"]

    doc_id = document["id"]
    assert (
        api.post(
            f"/v1/documents/{doc_id}/sign",
            headers=leader.headers,
            json={"credential_id": leader.credential_id, "pin": PIN, "reason": "签发"},
        ).status_code
        == 200
    )
    number = api.post(f"/v1/documents/{doc_id}/register", headers=clerk.headers).json()["number"]
    assert (
        api.post(
            f"/v1/documents/{doc_id}/sign",
            headers=custodian.headers,
            json={"credential_id": custodian.seal_id, "pin": PIN},
        ).status_code
        == 200
    )

    final = api.get(f"/v1/documents/{doc_id}/pdf", headers=clerk.headers).content
    path = tmp_path / "final.pdf"
    path.write_bytes(final)
    layout = _layout(world, doc_id)
    page, *number_box = layout["number_box"]
    assert _words_in(path, page, number_box) == number, "the number is drawn in the box the layout left"

    seal_page, *seal_box = layout["seal_box"]
    subprocess.run(
        [
            "pdftoppm",
            "-r",
            "72",
            "-png",
            "-f",
            str(seal_page + 1),
            "-l",
            str(seal_page + 1),
            str(path),
            str(tmp_path / "p"),
        ],
        check=True,
    )
    [png] = list(tmp_path.glob("p-*.png"))
    image = Image.open(png).convert("RGB")
    x1, y1, x2, y2 = seal_box
    region = image.crop((int(x1), int(image.height - y2), int(x2), int(image.height - y1)))
    red = sum(1 for r, g, b in region.get_flattened_data() if r > 170 and g < 100 and b < 100)
    assert red > 300, "the seal is pressed over the date"

    report = api.get(f"/v1/documents/{doc_id}/verification", headers=clerk.headers).json()
    assert report["valid"] and len(report["signatures"]) == 3
    as_xml = api.get(f"/v1/documents/{doc_id}/verification", headers={**clerk.headers, "Accept": "application/xml"})
    assert as_xml.headers["content-type"] == "application/xml"
    assert_same_indications(as_xml.content, report)
    as_pdf = api.get(f"/v1/documents/{doc_id}/verification", headers={**clerk.headers, "Accept": "application/pdf"})
    assert as_pdf.headers["content-type"] == "application/pdf" and as_pdf.content.startswith(b"%PDF")
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert fonts and all(line.split()[-5] == "yes" for line in fonts), "every font, the stamps' included, is embedded"


def _layout(world: World, document_id: str) -> dict:
    from documents.records import Document
    from esign.db import Database

    database = Database.from_settings(world.settings)
    try:
        with database.transaction() as session:
            document = session.get(Document, document_id)
            assert document is not None and document.layout
            return dict(document.layout)
    finally:
        database.dispose()
