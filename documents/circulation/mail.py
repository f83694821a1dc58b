"""E-mail of notifications, the worker's job when SMTP is configured (``ESIGN_SMTP_HOST``).

A round claims the notifications whose e-mail is due (``email_next_at``), ``FOR UPDATE SKIP LOCKED``, and
leases them (moves ``email_next_at`` on by ``LEASE``) in one short transaction; sends them outside any
transaction; then records each outcome: sent (``emailed_at``, never again), failed (tried again after a
backoff that doubles, up to ``MAX_ATTEMPTS``), or nothing to send (the official has no address, or the
notification is older than ``STALE``). A worker that
dies mid-round leaves its claims to be retried once their lease ends. Without SMTP settings there is no job,
and nothing is ever sent.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, make_msgid

from sqlalchemy import select
from sqlalchemy.orm import Session

from documents.records import Document
from esign.db import Database
from esign.ids import now
from esign.settings import Settings
from esign.worker import Job
from keys.identities import Official

from .model import Step
from .notifications import Notification, NotificationKind

logger = logging.getLogger("esign.mail")

BATCH = 20
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=5)
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=2)
TIMEOUT_SECONDS = 20.0
STALE = timedelta(days=2)
"""A notification older than this is not e-mailed any more (settled unsent): turning SMTP on sends what happens
from then on, not the backlog of every notification written while it was off."""

SUBJECTS = {
    NotificationKind.ASSIGNED: "待办：{title}",
    NotificationKind.RETURNED: "退回：{title}",
    NotificationKind.URGED: "催办：{title}",
    NotificationKind.DUE_SOON: "即将到期：{title}",
    NotificationKind.OVERDUE: "已超期：{title}",
    NotificationKind.REPLIED: "来函已回复：{title}",
}
BODIES = {
    NotificationKind.ASSIGNED: "您有一项新的待办事项：《{title}》，办理期限 {due}。",
    NotificationKind.RETURNED: "《{title}》已退回给您，请重新办理，办理期限 {due}。",
    NotificationKind.URGED: "领导对《{title}》进行了催办，请尽快办理。",
    NotificationKind.DUE_SOON: "《{title}》将于 {due} 到期，请及时办理。",
    NotificationKind.OVERDUE: "《{title}》已超过办理期限 {due}，请尽快办理。",
    NotificationKind.REPLIED: "您拟办的请示/函《{title}》已收到回复。",
}


@dataclass(frozen=True)
class Smtp:
    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = None
    starttls: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> Smtp | None:
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            username=settings.smtp_username,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            starttls=settings.smtp_starttls,
        )


@dataclass(frozen=True)
class Letter:
    notification_id: str
    organisation_id: str
    to: str
    subject: str
    body: str


def backoff(attempt: int) -> timedelta:
    """The wait after failed attempt ``attempt`` (1-based): one minute, doubling, at most two hours."""
    wait: timedelta = FIRST_RETRY * 2 ** min(attempt - 1, 16)
    return min(LONGEST_RETRY, wait)


def _letter(notification: Notification, email: str, title: str, due: str, public_url: str) -> Letter:
    kind = NotificationKind(notification.kind)
    title = title or "（无标题）"
    body = BODIES[kind].format(title=title, due=due)
    if notification.message:
        body += f"\n\n催办意见：{notification.message}"
    body += f"\n\n查看公文：{public_url.rstrip('/')}/documents/{notification.document_id}\n"
    body += "\n（本邮件由电子签章系统自动发送，请勿回复。）\n"
    return Letter(
        notification_id=notification.id,
        organisation_id=notification.organisation_id,
        to=email,
        subject=SUBJECTS[kind].format(title=title),
        body=body,
    )


def claim(session: Session, *, batch: int = BATCH, public_url: str = "") -> list[Letter]:
    """Lease up to ``batch`` due e-mails; those of officials without an address, and those older than ``STALE``,
    are settled (nothing to send)."""
    moment = now()
    due = session.scalars(
        select(Notification)
        .where(Notification.email_next_at.is_not(None), Notification.email_next_at <= moment)
        .order_by(Notification.email_next_at)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return []
    emails = dict(
        session.execute(select(Official.id, Official.email).where(Official.id.in_({n.recipient_id for n in due}))).all()
    )
    titles = dict(
        session.execute(select(Document.id, Document.title).where(Document.id.in_({n.document_id for n in due}))).all()
    )
    dues = _due_days(session, [n.step_id for n in due if n.step_id])
    letters = []
    for notification in due:
        email = emails.get(notification.recipient_id)
        if not email or notification.created_at < moment - STALE:
            notification.email_next_at = None
            notification.email_error = "too old to e-mail" if email else "no e-mail address"
            continue
        notification.email_attempts += 1
        notification.email_next_at = moment + LEASE
        letters.append(
            _letter(
                notification,
                email,
                titles.get(notification.document_id, ""),
                dues.get(notification.step_id or "", "—"),
                public_url,
            )
        )
    return letters


def _due_days(session: Session, step_ids: list[str]) -> dict[str, str]:
    if not step_ids:
        return {}
    return {i: d.isoformat() for i, d in session.execute(select(Step.id, Step.due_on).where(Step.id.in_(step_ids)))}


def record(session: Session, letter: Letter, error: str | None, *, at: datetime | None = None) -> None:
    moment = at or now()
    notification = session.get(Notification, (letter.organisation_id, letter.notification_id))
    if notification is None or notification.emailed_at is not None:
        return
    if error is None:
        notification.emailed_at, notification.email_next_at, notification.email_error = moment, None, None
        return
    notification.email_error = error[:500]
    if notification.email_attempts >= MAX_ATTEMPTS:
        notification.email_next_at = None
        logger.warning(
            "notification %s: e-mail given up after %d attempts: %s", letter.notification_id, MAX_ATTEMPTS, error
        )
    else:
        notification.email_next_at = moment + backoff(notification.email_attempts)


def send(smtp: Smtp, letter: Letter) -> None:
    message = EmailMessage()
    message["From"] = formataddr(("电子签章系统", smtp.sender))
    message["To"] = letter.to
    message["Subject"] = letter.subject
    message["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or "localhost")
    message.set_content(letter.body, charset="utf-8")
    with smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_SECONDS) as client:
        if smtp.starttls:
            client.starttls(context=ssl.create_default_context())
        if smtp.username:
            client.login(smtp.username, smtp.password or "")
        client.send_message(message)


def deliver_due(
    database: Database,
    *,
    smtp: Smtp,
    public_url: str = "",
    batch: int = BATCH,
    sender: Callable[[Smtp, Letter], None] = send,
) -> int:
    """One round: claim, send, record; the number of notifications settled or tried."""
    with database.transaction() as session:
        letters = claim(session, batch=batch, public_url=public_url)
    for letter in letters:
        error: str | None = None
        try:
            sender(smtp, letter)
        except (OSError, smtplib.SMTPException) as e:
            error = f"{type(e).__name__}: {e}"
            logger.warning("notification %s: e-mail to %s failed: %s", letter.notification_id, letter.to, error)
        with database.transaction() as session:
            record(session, letter, error)
    return len(letters)


def jobs(settings: Settings) -> list[Job]:
    """The e-mail job, when SMTP is configured; none otherwise."""
    smtp = Smtp.from_settings(settings)
    if smtp is None:
        return []

    def notification_mail(database: Database) -> int:
        return deliver_due(database, smtp=smtp, public_url=settings.public_url)

    return [notification_mail]
