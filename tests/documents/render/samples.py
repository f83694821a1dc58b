"""Documents the render tests draw: realistic ones, and bodies built to provoke the layout rules."""

from __future__ import annotations

import datetime as dt

from documents.render import Attachment, Colophon, DocumentContent, Heading, Paragraph, Table
from documents.render.content import Block

ISSUER = "示例市人民政府办公室"
NUMBER = "示府办〔2026〕12号"
TITLE = "示例市人民政府办公室关于进一步优化政务服务提升行政效能的通知"
OPENING_PARAGRAPH = (
    "为深入贯彻落实党中央、国务院关于优化营商环境的决策部署，进一步提升政务服务效能，推动“高效办成一件事”，"
    "经市人民政府同意，现就有关事项通知如下。"
)
RARE_NAME = "王堃"
"""堃 is outside GB 2312: neither cwTeX 仿宋 nor AR PL KaitiM GB has it; AR PL UKai (or 文泉驿正黑) does."""


def notice(**changes: object) -> DocumentContent:
    fields: dict[str, object] = dict(
        kind="notice",
        issuer=ISSUER,
        number=NUMBER,
        title=TITLE,
        recipients=["各区人民政府，市政府各部门、各直属机构"],
        body=[
            Paragraph(text=OPENING_PARAGRAPH),
            Heading(level=1, text="总体要求"),
            Paragraph(
                text="坚持以人民为中心的发展思想，以企业和群众办事需求为导向，深化“放管服”改革，推进政务服务"
                "标准化、规范化、便利化，到2026年底，政务服务事项网上可办率达到98%以上。"
            ),
            Heading(level=1, text="重点任务"),
            Heading(
                level=2,
                text="推进政务服务事项标准化。",
                body="各地各部门要对照省级政务服务事项基本目录，逐项明确受理条件、申请材料、办理时限等要素。",
            ),
            Heading(
                level=2, text="提升线上办事体验。", body="依托省政务服务平台，推行申请材料免提交、办理结果免邮寄。"
            ),
            Heading(level=1, text="工作要求"),
            Paragraph(
                text=f"各地各部门要明确专人负责，市政务服务数据管理局{RARE_NAME}同志负责统筹协调，"
                "重大事项及时报告市人民政府。"
            ),
        ],
        attachments=[
            Attachment(title="示例市政务服务事项实施清单（2026年版）"),
            Attachment(title="政务服务效能提升工作任务分工表"),
        ],
        date=dt.date(2026, 11, 23),
        notes="联系人：张伟，电话：020-12345678",
        colophon=Colophon(
            copy_to=["市委办公室", "市人大常委会办公室", "市政协办公室", "市中级人民法院", "市人民检察院"],
            printed_by=ISSUER,
            printed_on=dt.date(2026, 11, 24),
        ),
    )
    fields.update(changes)
    return DocumentContent.model_validate(fields)


def letter(**changes: object) -> DocumentContent:
    fields: dict[str, object] = dict(
        kind="letter",
        issuer=ISSUER,
        number="示府办函〔2026〕35号",
        title="示例市人民政府办公室关于商请支持数字政府建设试点工作的函",
        recipients=["省政务服务数据管理局"],
        body=[
            Paragraph(
                text="为加快推进数字政府建设，提升“一网通办”服务能力，我市拟于2026年开展政务服务数据共享试点工作。"
                "现将有关事项函告如下，请予支持。"
            ),
            Heading(level=1, text="试点内容"),
            Paragraph(text="一是推动高频事项数据共享，二是完善电子证照互认，三是探索电子印章跨部门、跨层级应用。"),
            Heading(level=1, text="需要支持的事项"),
            Paragraph(text="恳请贵局在数据接口开放、技术标准制定和安全评估等方面给予指导支持。"),
        ],
        date=dt.date(2026, 3, 5),
        notes="联系人：李强，电话：020-87654321",
        colophon=Colophon(copy_to=["市政务服务数据管理局"]),
    )
    fields.update(changes)
    return DocumentContent.model_validate(fields)


def request(**changes: object) -> DocumentContent:
    fields: dict[str, object] = dict(
        kind="request",
        issuer="示例县人民政府",
        number="示县政〔2026〕8号",
        copy_number=12,
        secrecy="机密",
        secrecy_term="1年",
        urgency="特急",
        signers=["周杰", "吴倩", "郑浩"],
        title="示例县人民政府关于申请防汛救灾资金的请示",
        recipients=["示例市人民政府"],
        body=[
            Paragraph(
                text="今年入汛以来，我县遭受多轮强降雨袭击，部分乡镇道路、水利设施损毁严重。为尽快恢复生产生活"
                "秩序，特申请市级防汛救灾资金2000万元。妥否，请批示。"
            )
        ],
        attachments=[
            Attachment(
                title="示例县防汛救灾资金需求测算表",
                blocks=[
                    Table(
                        rows=[
                            ["项目", "金额（万元）", "说明"],
                            ["道路修复", "1200", "乡村公路48公里"],
                            ["水利设施", "800", "山塘水库12座"],
                        ]
                    )
                ],
            )
        ],
        date=dt.date(2026, 7, 1),
        notes="联系人：周杰，电话：0750-1234567",
        colophon=Colophon(
            copy_to=["市财政局", "市应急管理局"], printed_by="示例县人民政府办公室", printed_on=dt.date(2026, 7, 1)
        ),
    )
    fields.update(changes)
    return DocumentContent.model_validate(fields)


def minutes(**changes: object) -> DocumentContent:
    fields: dict[str, object] = dict(
        kind="minutes",
        issuer="示例市人民政府常务会议",
        number="第12期",
        title="示例市人民政府第十二次常务会议纪要",
        body=[Paragraph(text="2026年5月8日，市长主持召开市政府第十二次常务会议，研究部署政务服务工作。纪要如下。")],
        attendees=["王芳", "李强", "刘洋"],
        absentees=["陈静（出差）"],
        observers=["赵敏"],
        date=dt.date(2026, 5, 8),
    )
    fields.update(changes)
    return DocumentContent.model_validate(fields)


def long_body(paragraphs: int = 14) -> list[Block]:
    """Enough plain paragraphs for three pages."""
    sentence = "各地各部门要坚持问题导向，聚焦企业和群众反映强烈的堵点难点，逐项制定整改措施，明确责任单位和完成时限，"
    return [Paragraph(text=sentence * 2 + f"确保第{chinese(n)}项任务按期完成。") for n in range(1, paragraphs + 1)]


def chinese(n: int) -> str:
    digits = "〇一二三四五六七八九"
    return digits[n] if n < 10 else "十" + (digits[n % 10] if n % 10 else "")


def punctuation_traps() -> list[Paragraph]:
    """Paragraphs whose 27th or 28th character, set greedily, would start a line with closing punctuation or end
    one with opening punctuation (the first line holds 26 characters after the indent, the others 28)."""
    fill = "春夏秋冬风花雪月山川河海日月星辰"
    first = fill[:13] * 2
    return [
        Paragraph(text=first + "，" + fill * 2),
        Paragraph(text=first + "。”" + fill * 2),
        Paragraph(text=first + fill + fill[:11] + "……" + fill),
        Paragraph(text=fill[:12] + fill[:13] + "（甲）" + fill * 2),
        Paragraph(text=first + fill + fill[:11] + "《乙》" + fill),
        Paragraph(text=first + fill + fill[:10] + "“丙”、" + fill * 2),
        Paragraph(text=first + fill + fill[:12] + "？！" + fill),
        Paragraph(text=fill[:12] + fill[:13] + "ABCD" + fill),
    ]
