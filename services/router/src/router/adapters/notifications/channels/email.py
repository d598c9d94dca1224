"""Email: a squad's address (annotation `support-triage/email`) receives a message with a
plain-text part and an HTML alternative, sent through the SMTP relay (`SmtpSettings`).
`X-Support-Triage-Delivery` carries the idempotency key.
"""

from __future__ import annotations

import asyncio
import html
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import ClassVar

import aiosmtplib

from contracts.catalogue import Squad
from router.adapters.notifications.channels.base import BaseChannel, DeliveryError, Transport
from router.domain.notifications import Notification, Target


def _html(n: Notification) -> str:
    e = html.escape
    rows = [
        ("Squad", f"{n.recipient} ({n.squad})"),
        ("Priority", str(n.priority)),
        ("Why", n.prediction_text),
    ]
    if n.reason_text:
        rows.append(("Reason", n.reason_text))
    if n.components_text:
        rows.append(("Matched components", ", ".join(n.components_text)))
    if n.squads_involved:
        rows.append(("Squads involved", ", ".join(n.squads_involved)))
    table = "".join(
        f'<tr><th align="left" style="padding-right:12px">{e(k)}</th><td>{e(v)}</td></tr>'
        for k, v in rows
    )
    excerpt = f"<p>{e(n.description_excerpt)}</p>" if n.description_excerpt else ""
    return (
        "<!DOCTYPE html><html><body>"
        f"<h2>{e(n.headline)}</h2>"
        f"<p><strong>{e(n.title or '(no title)')}</strong></p>{excerpt}"
        f"<table>{table}</table>"
        f'<p><a href="{e(n.case_url, quote=True)}">Open the case</a></p>'
        f'<p style="color:#888">Case id {e(str(n.case_id))}</p>'
        "</body></html>"
    )


def email_message(n: Notification, *, sender: str, recipient: str) -> EmailMessage:
    """Build the email: subject, plain text and an HTML alternative.

    Args:
        n: The notification.
        sender: The `From` address.
        recipient: The `To` address.

    Returns:
        A ready-to-send message; `X-Support-Triage-Delivery` carries the idempotency key.
    """
    msg = EmailMessage()
    msg["Subject"] = n.subject
    msg["From"] = sender
    msg["To"] = recipient
    msg["Date"] = format_datetime(n.created_at)
    msg["Message-ID"] = make_msgid(idstring=str(n.id), domain="support-triage.local")
    msg["X-Support-Triage-Event"] = str(n.kind)
    msg["X-Support-Triage-Delivery"] = str(n.id)
    msg.set_content("\n".join(n.lines()) + "\n")
    msg.add_alternative(_html(n), subtype="html")
    return msg


class EmailChannel(BaseChannel):
    """Email through the SMTP relay."""

    name: ClassVar[str] = "email"
    order: ClassVar[int] = 40

    def target(self, squad: Squad) -> Target | None:
        """The squad's email address."""
        address = squad.channels.email
        return Target(self.name, address) if address else None

    def display(self, target: Target) -> str:
        """The email address (not a credential)."""
        return target.address

    async def send(self, target: Target, notification: Notification, io: Transport) -> None:
        """Send the email; SMTP replies become `DeliveryError`s (4xx retryable, 5xx not)."""
        s = io.smtp
        try:
            message = email_message(notification, sender=s.sender, recipient=target.address)
        except (ValueError, TypeError) as exc:  # a header the email package refuses
            msg = f"cannot build the message for {target.address}: {exc}"
            raise DeliveryError("invalid_message", msg, retryable=False) from exc
        where = f"smtp://{s.host}:{s.port}"
        try:
            async with asyncio.timeout(s.timeout):
                await aiosmtplib.send(
                    message,
                    hostname=s.host,
                    port=s.port,
                    username=s.username,
                    password=s.password,
                    start_tls=s.starttls,
                    use_tls=s.use_tls,
                    cert_bundle=s.cafile,
                    timeout=s.timeout,
                )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            temporary = bool(codes) and all(400 <= c < 500 for c in codes)
            code = "smtp_temporary" if temporary else "smtp_rejected"
            msg = f"{where} refused {target.address}: {codes}"
            raise DeliveryError(code, msg, retryable=temporary) from exc
        except aiosmtplib.SMTPResponseException as exc:
            temporary = 400 <= exc.code < 500
            code = "smtp_temporary" if temporary else "smtp_rejected"
            msg = f"{where} answered {exc.code} {exc.message}"
            raise DeliveryError(code, msg, retryable=temporary) from exc
        except aiosmtplib.SMTPNotSupported as exc:
            raise DeliveryError("smtp_unsupported", f"{where}: {exc}", retryable=False) from exc
        except TimeoutError as exc:  # includes aiosmtplib.SMTPTimeoutError
            msg = f"{where} did not answer within {s.timeout:g}s"
            raise DeliveryError("timeout", msg, retryable=True) from exc
        except OSError as exc:  # refused, reset, disconnected (SMTPConnectError et al.)
            msg = f"{where}: {type(exc).__name__}: {exc}"
            raise DeliveryError("connection_error", msg, retryable=True) from exc
        except aiosmtplib.SMTPException as exc:
            raise DeliveryError("smtp_error", f"{where}: {exc}", retryable=True) from exc


CHANNEL = EmailChannel()
