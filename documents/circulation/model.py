"""Routes a document takes: versioned templates, their instances, the steps, and dispatches between
organisations."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from esign.db import Base
from esign.identity import Role
from esign.ids import new_id, now

from ..states import RouteState
from . import notifications  # noqa: F401  (its table, and the outbox fan-out that fills it, come with circulation's)


class StepKind(enum.StrEnum):
    INFORMATION = "information"  # 提供信息
    COMMENT = "comment"  # 征求意见
    REVIEW = "review"  # 审核
    COUNTERSIGN = "countersign"  # 会签
    SIGN_OFF = "sign_off"  # 签发
    REGISTRATION = "registration"  # 登记
    SEAL = "seal"  # 用印
    DISPATCH = "dispatch"  # 分发
    RECEIPT = "receipt"  # 签收
    PROPOSAL = "proposal"  # 拟办
    INSTRUCTION = "instruction"  # 批办
    HANDLING = "handling"  # 承办
    READING = "reading"  # 传阅
    CLOSURE = "closure"  # 办结
    REPLIES = "replies"  # 等待回复: completes by itself once the document's requests have their replies


DEFAULT_DEADLINE_DAYS: dict[StepKind, int] = {
    StepKind.INFORMATION: 2,
    StepKind.COMMENT: 5,
    StepKind.REVIEW: 7,
    StepKind.COUNTERSIGN: 5,
    StepKind.SIGN_OFF: 3,
    StepKind.REGISTRATION: 1,
    StepKind.SEAL: 1,
    StepKind.DISPATCH: 1,
    StepKind.RECEIPT: 1,
    StepKind.PROPOSAL: 2,
    StepKind.INSTRUCTION: 3,
    StepKind.HANDLING: 7,
    StepKind.READING: 3,
    StepKind.CLOSURE: 2,
    StepKind.REPLIES: 7,
}
"""Reformed governments' limits: 2 working days to answer an information request, 5 for comments, 7 for a
review decision; the others are this service's defaults, which a template overrides."""

REQUIRED_ROLE: dict[StepKind, Role] = {
    StepKind.SIGN_OFF: Role.LEADER,
    StepKind.INSTRUCTION: Role.LEADER,
    StepKind.REGISTRATION: Role.CLERK,
    StepKind.DISPATCH: Role.CLERK,
    StepKind.RECEIPT: Role.CLERK,
    StepKind.SEAL: Role.SEAL_CUSTODIAN,
}


class Outcome(enum.StrEnum):
    APPROVE = "approve"
    COMMENT = "comment"
    RETURN = "return"
    DELEGATE = "delegate"
    REROUTE = "reroute"


class StepState(enum.StrEnum):
    OPEN = "open"
    DONE = "done"
    SKIPPED = "skipped"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    DELEGATED = "delegated"
    REROUTED = "rerouted"
    REASSIGNED = "reassigned"
    """A supervising leader gave it to another assignee; a new step carries on with the same deadline."""


class Assignee(BaseModel):
    """One of: an official, a department, or any official of the organisation holding ``role``."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    official_id: str | None = None
    department_id: str | None = None
    role: Role | None = None

    @model_validator(mode="after")
    def _one(self) -> Assignee:
        if sum(v is not None for v in (self.official_id, self.department_id, self.role)) != 1:
            raise ValueError("an assignee is exactly one of official_id, department_id or role")
        return self


class StepSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kind: StepKind
    assignee: Assignee
    deadline_days: int | None = Field(
        default=None, ge=0, le=90, description="Working days; the kind's default if absent"
    )
    requires_signature: bool | None = Field(
        default=None, description="Approving applies the actor's personal signature (default: for sign-off)"
    )
    replies_needed: int | None = Field(
        default=None, ge=1, le=1000, description="A replies step: how many replies it waits for (default: all)"
    )

    @property
    def days(self) -> int:
        return self.deadline_days if self.deadline_days is not None else DEFAULT_DEADLINE_DAYS[self.kind]

    @property
    def signs(self) -> bool:
        return self.requires_signature if self.requires_signature is not None else self.kind is StepKind.SIGN_OFF


class StageSpec(BaseModel):
    """Steps that run in parallel; the stage is done when all of them (or any one) are."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str | None = None
    steps: list[StepSpec] = Field(min_length=1)
    quorum: Literal["all", "any"] = "all"


class RouteDefinition(BaseModel):
    """Stages in serial order."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    stages: list[StageSpec] = Field(min_length=1)


class RouteTemplate(Base):
    __tablename__ = "route_templates"
    __table_args__ = (UniqueConstraint("organisation_id", "name", "version"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(20))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    retired: Mapped[bool] = mapped_column(Boolean, default=False)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=now)


class Route(Base):
    __tablename__ = "routes"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id"), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    template_id: Mapped[str | None] = mapped_column(String(36))
    template_version: Mapped[int | None] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON, doc="the definition as it was when the route started")
    state: Mapped[str] = mapped_column(String(20), default=RouteState.ACTIVE.value, doc="a RouteState")
    stage: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=now)
    completed_at: Mapped[datetime | None]


class Step(Base):
    __tablename__ = "steps"
    __table_args__ = (
        Index(
            "ix_steps_open_official",
            "assignee_official_id",
            "due_on",
            "id",
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
        Index(
            "ix_steps_open_department",
            "assignee_department_id",
            "due_on",
            "id",
            postgresql_where=text("state = 'open' AND assignee_official_id IS NULL"),
            sqlite_where=text("state = 'open' AND assignee_official_id IS NULL"),
        ),
        Index(
            "ix_steps_open_organisation",
            "organisation_id",
            "due_on",
            "id",
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
        Index(
            "ix_steps_open_role",
            "organisation_id",
            "assignee_role",
            "due_on",
            "id",
            postgresql_where=text("state = 'open' AND assignee_role IS NOT NULL"),
            sqlite_where=text("state = 'open' AND assignee_role IS NOT NULL"),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    route_id: Mapped[str] = mapped_column(ForeignKey("routes.id"), index=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    organisation_id: Mapped[str] = mapped_column(String(36))
    stage: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer, doc="the step's place in its stage's definition")
    kind: Mapped[str] = mapped_column(String(20))
    assignee_official_id: Mapped[str | None] = mapped_column(String(36))
    assignee_department_id: Mapped[str | None] = mapped_column(String(36))
    assignee_role: Mapped[str | None] = mapped_column(String(20))
    requires_signature: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(20), default=StepState.OPEN.value)
    opened_at: Mapped[datetime] = mapped_column(default=now)
    opened_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    completed_at: Mapped[datetime | None]
    completed_on: Mapped[date | None] = mapped_column(Date)
    completed_by: Mapped[str | None] = mapped_column(String(100))
    outcome: Mapped[str | None] = mapped_column(String(20))
    opinion: Mapped[str | None] = mapped_column(Text)
    revision_seq: Mapped[int | None] = mapped_column(Integer, doc="the revision a signature, number or seal made")
    handled_by_department_id: Mapped[str | None] = mapped_column(String(36), doc="for statistics")
    previous_step_id: Mapped[str | None] = mapped_column(
        String(36), doc="the step this one was delegated or rerouted from"
    )


class StepEventKind(enum.StrEnum):
    """What happens to an open step without completing it."""

    COMMENT = "comment"
    """An assignee's remark (意见), the step staying open."""
    URGE = "urge"
    """催办: a supervising leader's recorded reminder to the assignee."""
    EXTEND = "extend"
    """A supervising leader moved the deadline, with a reason."""
    REASSIGN = "reassign"
    """A supervising leader gave the step to another assignee, with a reason."""


class StepEvent(Base):
    __tablename__ = "step_events"
    __table_args__ = (
        Index("ix_step_events_step", "step_id", "kind", "at"),
        Index("ix_step_events_organisation", "organisation_id", "kind", "at"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(String(36))
    step_id: Mapped[str] = mapped_column(ForeignKey("steps.id"))
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    kind: Mapped[str] = mapped_column(String(10), doc="a StepEventKind")
    by: Mapped[str] = mapped_column(String(100), doc="the actor's audit label")
    at: Mapped[datetime] = mapped_column(default=now)
    text: Mapped[str | None] = mapped_column(Text, doc="the comment, the urge's message, the reason")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertKind(enum.StrEnum):
    DUE_SOON = "due_soon"
    """A reminder (催办) to the assignee, once the step is due within one working day."""
    OVERDUE = "overdue"
    """Escalation (督办) to the supervising leaders, once the step is overdue."""


class StepAlert(Base):
    """A reminder or an escalation still to come: written with its step, taken (deleted) by the sweep that
    sends it.

    A queue of its own rather than a mark on the step: taking an alert deletes a row of a narrow table,
    where marking a step would write a new version of the wide steps row and of every index on it, the most
    expensive thing a sweep would do. A step's alerts are not removed when it closes: the sweep takes them
    when they fall due and sends nothing for a step no longer open.
    """

    __tablename__ = "step_alerts"
    __table_args__ = (Index("ix_step_alerts_due", "kind", "due_on"),)

    step_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(36))
    due_on: Mapped[date] = mapped_column(
        Date, doc="the step's due date; for a repeated escalation, the day before the one it is sent on"
    )
    seq: Mapped[int] = mapped_column(
        Integer, default=0, server_default="0", doc="0 for the first escalation, 1 for the first repeat, ..."
    )


AWAITED = "reply_kind IS NOT NULL AND replied_at IS NULL AND forwarded_to_id IS NULL"
"""A request whose reply has not come and that was not forwarded: what supervision lists (``ix_dispatches_awaited``)."""


class Dispatch(Base):
    """A document sent to another organisation, and its receipt (回执)."""

    __tablename__ = "dispatches"
    __table_args__ = (
        Index(
            "ix_dispatches_awaited",
            "organisation_id",
            "reply_due_on",
            "id",
            postgresql_where=text(AWAITED),
            sqlite_where=text(AWAITED),
        ),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    document_id: Mapped[str] = mapped_column(String(36), index=True)
    recipient_organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    incoming_document_id: Mapped[str] = mapped_column(String(36), unique=True)
    dispatched_at: Mapped[datetime] = mapped_column(default=now)
    received_at: Mapped[datetime | None]
    received_by: Mapped[str | None] = mapped_column(String(100))
    reply_kind: Mapped[str | None] = mapped_column(String(12), doc="a requests.ReplyKind: the dispatch is a request")
    reply_days: Mapped[int | None] = mapped_column(Integer, doc="working days to reply")
    reply_due_on: Mapped[date | None] = mapped_column(Date, doc="on the recipient's calendar, from arrival")
    replied_at: Mapped[datetime | None]
    reply_document_id: Mapped[str | None] = mapped_column(String(36), doc="the reply, as the sender received it")
    in_reply_to_id: Mapped[str | None] = mapped_column(String(36), doc="on a reply's dispatch: the request's")
    forwarded_to_id: Mapped[str | None] = mapped_column(String(36), doc="the dispatch it was forwarded as (回流)")
    forward_reason: Mapped[str | None] = mapped_column(Text)
