"""The clinic's daily digest: subject, text and HTML parts rendered with Jinja2, and the e-mail built from them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from email.message import EmailMessage
from email.utils import formatdate
from functools import lru_cache
from typing import Any

import jinja2

from coverage_tracker.domain.alerts import SEVERITIES, TITLES

HEADINGS = {
    "critical": ("Critical: act before the visit", "#b00000"),
    "warning": ("Warning: act soon", "#a65e00"),
    "info": ("For information", "#1d5a8a"),
}


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("coverage_tracker.notifications", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _one_line(text: str) -> str:
    return " ".join(text.split())


def subject_line(clinic: str, day: date, new: int) -> str:
    """`Acupuncture coverage alerts - <clinic> - <date> (<n> new)`."""
    return f"Acupuncture coverage alerts - {_one_line(clinic)} - {day.isoformat()} ({new} new)"


def render_digest(clinic: str, day: date, alerts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Subject, text and HTML of the digest for `alerts` (dicts in the API's alert shape), grouped by severity."""
    groups = []
    for severity in SEVERITIES:
        items = [{**a, "title": TITLES.get(a["kind"], a["kind"])} for a in alerts if a["severity"] == severity]
        if items:
            heading, colour = HEADINGS[severity]
            groups.append({"severity": severity, "heading": heading, "colour": colour, "items": items})
    new = sum(1 for a in alerts if a["new"])
    counts = ", ".join(f"{len(g['items'])} {g['severity']}" for g in groups)
    context = {"clinic": _one_line(clinic), "date": day.isoformat(), "total": len(alerts), "new": new, "counts": counts, "groups": groups}
    env = _environment()
    return {
        "subject": subject_line(clinic, day, new),
        "text": env.get_template("digest.txt").render(context),
        "html": env.get_template("digest.html").render(context),
        "alerts": len(alerts),
        "new": new,
    }


def build_email(payload: dict[str, Any], sender: str) -> EmailMessage:
    """The multipart/alternative message of a stored digest (quoted-printable, so the text stays readable)."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(payload["to"])
    message["Subject"] = payload["subject"]
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = payload["message_id"]
    message.set_content(payload["text"], cte="quoted-printable")
    message.add_alternative(payload["html"], subtype="html", cte="quoted-printable")
    return message


def message_id(clinic_id: int, day: date, sender: str) -> str:
    """The same Message-ID for every copy of a clinic's digest of a day, so that a duplicate can be recognised."""
    domain = sender.rpartition("@")[2].strip(" >") or "coverage-tracker.invalid"
    return f"<coverage-alerts.{clinic_id}.{day.isoformat()}@{domain}>"
