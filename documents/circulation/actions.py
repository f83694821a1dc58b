"""What acting on a step takes (:class:`Action`, :class:`Services`), and how a finished step is recorded."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from esign import audit
from esign.blobs import BlobStore
from esign.identity import Actor
from esign.ids import now
from esign.settings import Settings
from esign.sign import PadesLevel
from esign.trust import TrustSettings
from keys import identities
from keys.authorities import Pki

from .model import (
    Assignee,
    Outcome,
    Step,
    StepState,
)
from .requests import ReplyRequest


@dataclass(frozen=True)
class Services:
    """What transitions need besides the session: where PDFs live, the PKI, settings, what to trust."""

    blobs: BlobStore
    pki: Pki
    settings: Settings
    trust: TrustSettings


@dataclass(frozen=True)
class Action:
    outcome: Outcome
    opinion: str | None = None
    return_to_stage: int | None = None
    delegate_to: str | None = None
    """An official of the organisation, for ``delegate``."""
    reroute_to: str | None = None
    """A department of the organisation, for ``reroute`` (回流)."""
    credential_id: str | None = None
    pin: str | None = None
    session_secret: str | None = None
    level: PadesLevel | None = None
    """PAdES level of the signature; ``None``: the organisation's (B-LTA unless it chose B-LT or B-T)."""
    recipients: Sequence[str] = ()
    """Organisations a dispatch step sends the document to."""
    handlers: Sequence[Assignee] = field(default_factory=tuple)
    """Replace the next stage's assignees (a leader's instruction names the handling departments)."""
    override_reason: str | None = None
    """Register an incoming document that was flagged, and say why."""
    request: ReplyRequest | None = None
    """A dispatch that asks its recipients for a reply by a deadline."""
    in_reply_to: str | None = None
    """A dispatch that replies to the request received as this incoming document."""


def _department_of(session: Session, actor: Actor) -> str | None:
    if actor.official_id is None:
        return None
    return identities.get_official(
        session, organisation_id=actor.organisation_id, official_id=actor.official_id
    ).department_id


def finish(
    session: Session,
    step: Step,
    *,
    actor: Actor,
    action: Action,
    state: StepState,
    day: date,
    revision_seq: int | None = None,
    **audited: object,
) -> None:
    """Close the step with the actor's outcome and opinion, and log it (``audited``: what the log adds, such as
    where a step was returned or handed to)."""
    step.state = state.value
    step.outcome = action.outcome.value
    step.opinion = action.opinion
    step.completed_at = now()
    step.completed_on = day
    step.completed_by = actor.label
    step.revision_seq = revision_seq
    step.handled_by_department_id = _department_of(session, actor) or step.assignee_department_id
    _audit_step(session, actor, step, action, **audited)


def _audit_step(session: Session, actor: Actor, step: Step, action: Action, **extra: object) -> None:
    audit.append(
        session,
        actor=actor,
        action=f"step.{action.outcome.value}",
        subject=f"step:{step.id}",
        chain=step.organisation_id,
        payload={
            "document": step.document_id,
            "kind": step.kind,
            "stage": step.stage,
            "opinion": action.opinion,
            **extra,
        },
    )
