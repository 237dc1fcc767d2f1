"""Delivering the notification outbox: SMTP when configured, else a local mbox file.

Messages are written by the transaction that changed the report (field/services.py); this
delivers them later and retries with exponential back-off, so nothing is lost while the
mail server is down.
"""

from __future__ import annotations

import mailbox
import smtplib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.field.models import OutboxMessage

MAX_ATTEMPTS = 8


def _message(row: OutboxMessage, sender: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, row.recipient, row.subject
    msg["Message-ID"] = f"<outbox-{row.id}@cartagora>"
    for name, value in (row.headers or {}).items():  # e.g. List-Unsubscribe (RFC 8058)
        msg[name] = value
    msg.set_content(row.body)
    return msg


def deliver_pending(session: Session, config: dict, limit: int = 200) -> tuple[int, int]:
    """Send what is due; returns (sent, failed attempts)."""
    now = datetime.now(UTC)
    rows = session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    sender = config.get("MAIL_FROM", "Cartagora <no-reply@cartagora.localhost>")
    sent = failed = 0
    smtp = None
    try:
        for row in rows:
            try:
                msg = _message(row, sender)
                if config.get("MAIL_SERVER"):
                    if smtp is None:
                        smtp = smtplib.SMTP(config["MAIL_SERVER"], int(config.get("MAIL_PORT", 25)),
                                            timeout=10)
                        if config.get("MAIL_USE_TLS"):
                            smtp.starttls()
                        if config.get("MAIL_USERNAME"):
                            smtp.login(config["MAIL_USERNAME"], config.get("MAIL_PASSWORD", ""))
                    smtp.send_message(msg)
                else:
                    path = Path(config["MAILBOX_PATH"])
                    path.parent.mkdir(parents=True, exist_ok=True)
                    box = mailbox.mbox(path)
                    try:
                        box.add(msg)
                        box.flush()
                    finally:
                        box.close()
                row.status, row.sent_at, row.last_error = "sent", datetime.now(UTC), None
                sent += 1
            except (OSError, smtplib.SMTPException) as exc:
                smtp = None
                row.attempts += 1
                row.last_error = f"{type(exc).__name__}: {exc}"[:500]
                row.next_attempt_at = datetime.now(UTC) + timedelta(minutes=2 ** row.attempts)
                if row.attempts >= MAX_ATTEMPTS:
                    row.status = "failed"
                failed += 1
    finally:
        if smtp is not None:
            try:
                smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
    session.flush()
    return sent, failed
