"""The drafting form's fields, read into the structured content of an official document (GB/T 9704-2012) and,
when built by hand, the route it starts on.

The body is written as plain lines: a line starting with ``#``, ``##``, ``###`` or ``####`` and a space is a
heading of that level (一、 （一） 1． （1）, numbered by the layout, §7.3.3), any other line a paragraph; blank
lines separate nothing. Recipients, copy-to bodies and 签发人 are separated by 、, commas or new lines;
attachments are one name per line. Whatever the content model refuses comes back as one message per problem,
naming the field.

A route built by hand is up to :data:`STAGES` stages in order, each of one kind of step given to up to
:data:`PARALLEL` assignees at once (an official, a department or a role: ``official:<id>``,
``department:<id>``, ``role:<name>``), done when all of them are or when any one is, with a deadline in working
days (the kind's own if left out). A stage without an assignee is left out.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from documents.circulation.model import RouteDefinition
from documents.render.content import DocumentContent, Kind

MAX_FIELD = 20_000
_LIST = re.compile(r"[、,，\n]+")
_HEADING = re.compile(r"^(#{1,4})\s+(.+)$")
_NUMBER = re.compile(r"[0-9]{1,6}")
"""ASCII digits only: ``str.isdigit`` also takes ² and other digits ``int`` refuses."""
STAGES = 6
PARALLEL = 3
ASSIGNEE_KINDS = ("official", "department", "role")
SECRECY = ("秘密", "机密", "绝密")
URGENCY = ("特急", "加急")


@dataclass(frozen=True)
class Problems(Exception):
    """What the form's fields do not make a document of: (field, message) pairs."""

    problems: tuple[tuple[str, str], ...]


def _items(value: str) -> list[str]:
    return [item.strip() for item in _LIST.split(value) if item.strip()]


def body_blocks(text: str) -> list[dict[str, Any]]:
    """The body's blocks as the content model reads them (``Paragraph``, ``Heading``)."""
    blocks: list[dict[str, Any]] = []
    for line in (raw.strip() for raw in text.splitlines()):
        if not line:
            continue
        heading = _HEADING.match(line)
        if heading:
            blocks.append({"type": "heading", "level": len(heading.group(1)), "text": heading.group(2).strip()})
        else:
            blocks.append({"type": "paragraph", "text": line})
    return blocks


def _date(value: str, today: dt.date) -> dt.date:
    if not value:
        return today
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Problems((("date", "the date is not a date (YYYY-MM-DD)"),)) from None


def _copy_number(value: str) -> int | None:
    if not value:
        return None
    if not _NUMBER.fullmatch(value):
        raise Problems((("copy_number", "the copy number is a whole number"),))
    return int(value)


def content_of(form: Mapping[str, str], *, today: dt.date) -> DocumentContent:
    """The document the form describes; raises :class:`Problems`."""
    long = [name for name, value in form.items() if len(value) > MAX_FIELD]
    if long:
        raise Problems(tuple((name, f"longer than {MAX_FIELD} characters") for name in long))
    try:
        kind = Kind(form.get("kind", Kind.NOTICE.value))
    except ValueError:
        raise Problems((("kind", "no such kind of document"),)) from None
    secrecy, urgency = form.get("secrecy", ""), form.get("urgency", "")
    fields: dict[str, Any] = {
        "kind": kind,
        "issuer": form.get("issuer", "").strip(),
        "title": form.get("title", "").strip(),
        "recipients": _items(form.get("recipients", "")),
        "signers": _items(form.get("signers", "")) if kind.upward else [],
        "body": body_blocks(form.get("body", "")),
        "attachments": [{"title": line.strip()} for line in form.get("attachments", "").splitlines() if line.strip()],
        "secrecy": secrecy if secrecy in SECRECY else None,
        "copy_number": _copy_number(form.get("copy_number", "").strip()),
        "urgency": urgency if urgency in URGENCY else None,
        "date": _date(form.get("date", "").strip(), today),
        "notes": form.get("notes", "").strip() or None,
    }
    copy_to = _items(form.get("copy_to", ""))
    if copy_to:
        fields["colophon"] = {"copy_to": copy_to}
    try:
        return DocumentContent.model_validate(fields)
    except ValidationError as error:
        raise Problems(
            tuple(
                (".".join(str(p) for p in e["loc"]) or "content", e["msg"].removeprefix("Value error, "))
                for e in error.errors()
            )
        ) from None


def _assignee(value: str) -> dict[str, str]:
    kind, _, ident = value.partition(":")
    if kind not in ASSIGNEE_KINDS or not ident:
        raise Problems((("route", f"{value!r} is not an assignee"),))
    return {"role": ident} if kind == "role" else {f"{kind}_id": ident}


def route_of(form: Mapping[str, str]) -> RouteDefinition | None:
    """The route built by hand in the form, or None when it names no assignee; raises :class:`Problems`."""
    stages: list[dict[str, Any]] = []
    for n in range(1, STAGES + 1):
        assignees = [form.get(f"stage{n}_to{k}", "") for k in range(1, PARALLEL + 1)]
        chosen = [_assignee(a) for a in assignees if a]
        if not chosen:
            continue
        days = form.get(f"stage{n}_days", "").strip()
        if days and not _NUMBER.fullmatch(days):
            raise Problems((("route", f"stage {n}: the deadline is a number of working days"),))
        step: dict[str, Any] = {"kind": form.get(f"stage{n}_kind", "")}
        if days:
            step["deadline_days"] = int(days)
        stages.append(
            {
                "name": form.get(f"stage{n}_name", "").strip() or None,
                "quorum": form.get(f"stage{n}_quorum", "all"),
                "steps": [{**step, "assignee": assignee} for assignee in chosen],
            }
        )
    if not stages:
        return None
    try:
        return RouteDefinition.model_validate({"stages": stages})
    except ValidationError as error:
        raise Problems(
            tuple(("route", f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}") for e in error.errors())
        ) from None
