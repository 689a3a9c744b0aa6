"""Sending a message through the SMTP server of COVERAGE_TRACKER_SMTP_HOST, _PORT, _USERNAME, _PASSWORD, _STARTTLS."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from coverage_tracker.config import Settings

TIMEOUT_SECONDS = 30


class DeliveryError(Exception):
    """The message was not accepted; the text says why (it never holds the message itself)."""

    def __init__(self, message: str, *, retry_now: bool = True) -> None:
        super().__init__(message)
        self.retry_now = retry_now


def send_email(settings: Settings, message: EmailMessage, timeout: float = TIMEOUT_SECONDS) -> None:
    """Hand `message` to the configured SMTP server; DeliveryError when it is not accepted."""
    if not settings.smtp_host:
        raise DeliveryError("SMTP is not configured: set COVERAGE_TRACKER_SMTP_HOST", retry_now=False)
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(settings.smtp_username, settings.smtp_password or "")
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__) from exc
