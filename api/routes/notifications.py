"""Notifications (通知) of the signed-in official: the list with the unread count, and marking them read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api.deps import ActorOf, DatabaseDep
from documents.circulation import notifications

router = APIRouter(prefix="/v1", tags=["notifications"])


class NotificationOut(BaseModel):
    id: str
    kind: notifications.NotificationKind = Field(
        description="assigned, returned, urged (催办), due_soon, overdue, or replied (a reply to a request)"
    )
    document_id: str
    title: str = Field(description="The document's title")
    step_id: str | None
    message: str | None = Field(description="An urge's words, if any")
    created_at: datetime
    read_at: datetime | None


class NotificationsOut(BaseModel):
    unread: int = Field(description="How many of the caller's notifications are unread (all, not only these)")
    items: list[NotificationOut] = Field(description="Newest first")


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[Annotated[str, Field(max_length=36, pattern=r"^[0-9A-Za-z-]+$")]] | None = Field(
        default=None, max_length=200, description="The notifications to mark read; omitted or null: all of them"
    )


class ReadOut(BaseModel):
    marked: int = Field(description="How many were unread and are read now")
    unread: int


@router.get("/notifications", response_model=NotificationsOut, summary="The caller's notifications, newest first")
def list_notifications(
    actor: ActorOf,
    database: DatabaseDep,
    unread_only: Annotated[bool, Query(description="Only the unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = notifications.PAGE,
) -> NotificationsOut:
    with database.transaction() as session:
        listed = notifications.list_notifications(session, actor=actor, unread_only=unread_only, limit=limit)
        unread = notifications.unread_count(session, actor=actor)
    return NotificationsOut(
        unread=unread,
        items=[
            NotificationOut(
                id=n.id,
                kind=notifications.NotificationKind(n.kind),
                document_id=n.document_id,
                title=item.title,
                step_id=n.step_id,
                message=n.message,
                created_at=n.created_at,
                read_at=n.read_at,
            )
            for item in listed
            for n in [item.notification]
        ],
    )


@router.post("/notifications/read", response_model=ReadOut, summary="Mark notifications read")
def mark_read(body: ReadIn, actor: ActorOf, database: DatabaseDep) -> ReadOut:
    with database.transaction() as session:
        marked = notifications.mark_read(session, actor=actor, ids=body.ids)
        unread = notifications.unread_count(session, actor=actor)
    return ReadOut(marked=marked, unread=unread)
