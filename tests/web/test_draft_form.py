"""The drafting form read into a document's content and a route built by hand, without a browser."""

from __future__ import annotations

import datetime as dt

import pytest

from web.draft_form import Problems, body_blocks, content_of, route_of

TODAY = dt.date(2026, 12, 7)
FIELDS = {
    "kind": "notice",
    "issuer": "示例市人民政府办公室",
    "title": "关于试点的通知",
    "recipients": "各处室、示县政",
    "body": "正文。",
}


def test_lines_become_paragraphs_and_numbered_headings() -> None:
    assert body_blocks("第一段。\n\n# 一级\n## 二级\n#没有空格") == [
        {"type": "paragraph", "text": "第一段。"},
        {"type": "heading", "level": 1, "text": "一级"},
        {"type": "heading", "level": 2, "text": "二级"},
        {"type": "paragraph", "text": "#没有空格"},
    ]


def test_the_content_of_a_filled_form() -> None:
    content = content_of({**FIELDS, "secrecy": "秘密", "copy_number": "12", "copy_to": "市委办公室"}, today=TODAY)
    assert content.recipients == ["各处室", "示县政"] and content.date == TODAY
    assert content.copy_number == 12 and content.colophon is not None and content.colophon.copy_to == ["市委办公室"]


@pytest.mark.parametrize(
    ("changed", "field"),
    [
        ({"kind": "edict"}, "kind"),
        ({"copy_number": "²"}, "copy_number"),
        ({"date": "2026-13-01"}, "date"),
        ({"recipients": ""}, "content"),
        ({"kind": "request"}, "content"),
        ({"body": ""}, "body"),
        ({"title": "x" * 20_001}, "title"),
    ],
)
def test_what_keeps_a_form_from_being_a_document_names_the_field(changed: dict[str, str], field: str) -> None:
    with pytest.raises(Problems) as refused:
        content_of({**FIELDS, **changed}, today=TODAY)
    assert field in [f for f, _ in refused.value.problems]


def test_a_route_by_hand_skips_empty_stages_and_refuses_what_is_not_one() -> None:
    assert route_of({"stage1_kind": "review"}) is None
    route = route_of(
        {
            "stage2_kind": "countersign",
            "stage2_to1": "department:d1",
            "stage2_to3": "role:leader",
            "stage2_quorum": "any",
            "stage2_days": "3",
        }
    )
    assert route is not None and len(route.stages) == 1
    stage = route.stages[0]
    assert stage.quorum == "any" and [s.deadline_days for s in stage.steps] == [3, 3]
    for bad in (
        {"stage1_to1": "someone"},
        {"stage1_to1": "role:emperor"},
        {"stage1_to1": "role:clerk", "stage1_days": "²"},
    ):
        with pytest.raises(Problems):
            route_of({"stage1_kind": "review", **bad})
