"""People are told when their list is ready: an e-mail to each advisor and committee member
who has an address and wants it, and a signed webhook per school for a chat (a LINE
official account's bridge, for one).

A message holds counts and a link, never a child: how many of the reader's students are
new on the list or moved up this week. Every message sent or failed is recorded
(``notifications``); a failure never fails the run.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import smtplib
import ssl
import urllib.request
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from core import clock
from core.settings import Settings
from schooldata.tables import notifications, score_runs, student_scores, support_cases, users

log = logging.getLogger(__name__)
ON_LIST = ("high", "watch")
SIGNATURE_HEADER = "X-EWS-Signature"


@dataclass(frozen=True)
class Counts:
    on_list: int
    new: int
    up: int
    overdue: int = 0  # open plans past their review date (the reader's own, or the school's)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def counts_of(
    connection: sa.Connection, run_id: int, school_id: str, advisor_id: str | None = None
) -> Counts:
    """A school's (or one advisor's) list this run: on it, new on it, moved up."""
    where = (
        (student_scores.c.run_id == run_id)
        & (student_scores.c.school_id == school_id)
        & student_scores.c.tier.in_(ON_LIST)
    )
    if advisor_id is not None:
        where &= student_scores.c.advisor_id == advisor_id
    found: dict[str, int] = dict(
        connection.execute(
            sa.select(student_scores.c.change, sa.func.count())
            .where(where)
            .group_by(student_scores.c.change)
        ).all()
    )
    return Counts(sum(found.values()), int(found.get("new", 0)), int(found.get("up", 0)))


def _overdue(connection: sa.Connection, school_id: str, owner: int | None) -> int:
    """Open plans of the school (of one owner) whose review date has passed."""
    where = (
        (support_cases.c.school_id == school_id)
        & support_cases.c.closed_on.is_(None)
        & (support_cases.c.next_review < clock.today())
    )
    if owner is not None:
        where &= support_cases.c.owner_user_id == owner
    return int(
        connection.execute(
            sa.select(sa.func.count()).select_from(support_cases).where(where)
        ).scalar()
        or 0
    )


def text_of(counts: Counts, as_of: Any, link: str) -> tuple[str, str]:
    """The subject and body of one person's message, in Thai then English."""
    subject = f"รายชื่อนักเรียนที่ควรดูแล สัปดาห์ {as_of} พร้อมแล้ว / This week's list is ready"
    body = (
        f"รายชื่อประจำสัปดาห์ {as_of}: นักเรียนในรายชื่อของท่าน {counts.on_list} คน "
        f"เพิ่มใหม่ {counts.new} คน ความเสี่ยงสูงขึ้น {counts.up} คน\n"
        + (f"แผนช่วยเหลือที่เลยกำหนดทบทวน {counts.overdue} แผน\n" if counts.overdue else "")
        + f"ดูรายชื่อ: {link}\n\n"
        f"The list of {as_of}: {counts.on_list} of your students are on it, "
        f"{counts.new} new and {counts.up} moved up.\n"
        + (
            f"{counts.overdue} support plans are past their review date.\n"
            if counts.overdue
            else ""
        )
        + f"See the list: {link}\n\n"
        "ไม่ต้องการรับข้อความนี้ ปิดได้ที่หน้าบัญชีของท่าน / "
        "To stop these messages, turn them off on your account page.\n"
    )
    return subject, body


def tell_about_run(settings: Settings, engine: sa.Engine, run_id: int) -> dict[str, int]:
    """Send this run's messages; returns how many were sent and failed."""
    totals = {"sent": 0, "failed": 0}
    with engine.connect() as connection:
        as_of = connection.execute(
            sa.select(score_runs.c.as_of).where(score_runs.c.run_id == run_id)
        ).scalar()
        readers = connection.execute(
            sa.select(
                users.c.user_id, users.c.role, users.c.staff_id, users.c.school_id, users.c.email
            )
            .where(
                users.c.active
                & users.c.notify
                & users.c.email.is_not(None)
                & users.c.role.in_(("advisor", "committee"))
                & users.c.school_id.is_not(None)
            )
            .order_by(users.c.user_id)
        ).all()
        mail = [
            (
                reader,
                replace(
                    counts_of(
                        connection,
                        run_id,
                        reader.school_id,
                        reader.staff_id if reader.role == "advisor" else None,
                    ),
                    overdue=_overdue(
                        connection,
                        reader.school_id,
                        reader.user_id if reader.role == "advisor" else None,
                    ),
                ),
            )
            for reader in readers
        ]
        schools = (
            list(
                connection.execute(
                    sa.select(student_scores.c.school_id)
                    .where(student_scores.c.run_id == run_id)
                    .distinct()
                    .order_by(student_scores.c.school_id)
                ).scalars()
            )
            if settings.webhook_url
            else []
        )
        hooks = [(school, counts_of(connection, run_id, school)) for school in schools]
    records: list[tuple[str, int | None, str | None, str, str | None]] = []
    if settings.smtp_host and mail:
        for reader, counts in mail:
            page = "/plan" if reader.role == "committee" else "/list"
            subject, body = text_of(counts, as_of, settings.public_url.rstrip("/") + page)
            try:
                send_mail(settings, reader.email, subject, body)
                records.append(("email", reader.user_id, reader.school_id, "sent", None))
            except (OSError, smtplib.SMTPException) as error:
                records.append(("email", reader.user_id, reader.school_id, "failed", str(error)))
    for school, counts in hooks:
        try:
            post_webhook(settings, school, as_of, counts)
            records.append(("webhook", None, school, "sent", None))
        except (OSError, ValueError) as error:
            records.append(("webhook", None, school, "failed", str(error)))
    if records:
        with engine.begin() as connection:
            connection.execute(
                sa.insert(notifications),
                [
                    {
                        "run_id": run_id,
                        "channel": channel,
                        "user_id": user_id,
                        "school_id": school,
                        "status": status,
                        "detail": (detail or "")[:500] or None,
                        "at": _now(),
                    }
                    for channel, user_id, school, status, detail in records
                ],
            )
    for *_, status, _detail in records:
        totals[status] += 1
    if totals["failed"]:
        log.error("run %s: %s messages failed", run_id, totals["failed"])
    return totals


def send_mail(settings: Settings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(str(settings.smtp_host), settings.smtp_port, timeout=30) as server:
        if settings.smtp_starttls or settings.production:
            server.starttls(context=ssl.create_default_context())
        if settings.smtp_user and settings.smtp_password:
            server.login(settings.smtp_user, settings.smtp_password.get_secret_value())
        server.send_message(message)


def signature(secret: str, body: bytes) -> str:
    """The webhook's signature header value: HMAC-SHA256 of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def post_webhook(settings: Settings, school_id: str, as_of: Any, counts: Counts) -> None:
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ValueError("no webhook configured")
    body = json.dumps(
        {
            "event": "weekly_list_ready",
            "school_id": school_id,
            "as_of": str(as_of),
            "on_list": counts.on_list,
            "new_on_list": counts.new,
            "moved_up": counts.up,
            "link": settings.public_url.rstrip("/") + "/list",
        },
        ensure_ascii=False,
    ).encode()
    if not settings.webhook_url.startswith(("https://", "http://")):
        raise ValueError("the webhook must be an http(s) URL")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
        settings.webhook_url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature(settings.webhook_secret.get_secret_value(), body),
        },
    )
    with urllib.request.urlopen(request, timeout=20) as answer:  # noqa: S310
        if answer.status >= 300:
            raise ValueError(f"the webhook answered {answer.status}")
