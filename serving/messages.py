"""People are told when their list is ready: an e-mail to each advisor and committee member
who has an address and wants it, and a signed webhook per school for a chat (a LINE
official account's bridge, for one).

A message holds counts and a link, never a child: how many of the reader's students are
new on the list or moved up this week. A school the run left out, its attendance too old
(``run_schools.stale``), gets no "list ready" with nobody on it: its advisors, committee
and data officer are told it was left out, since when its attendance is missing and who
sends it, and its webhook says so. Every message sent or failed is recorded
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
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from email.message import EmailMessage
from typing import Any

import sqlalchemy as sa

from core import clock
from core.settings import Settings
from riskmodel.bundle import FLAGGED
from schooldata.tables import (
    job_runs,
    notifications,
    run_schools,
    score_runs,
    student_scores,
    support_cases,
    users,
)
from serving.i18n import day

log = logging.getLogger(__name__)
# Who may get a message: the list's readers, and the data officer, told only when the
# school's data kept it out of the list.
READERS = ("advisor", "committee", "data_officer")
SIGNATURE_HEADER = "X-EWS-Signature"


@dataclass(frozen=True)
class Counts:
    on_list: int
    new: int
    up: int
    overdue: int = 0  # open plans past their review date (the reader's own, or the school's)


@dataclass(frozen=True)
class LeftOut:
    """A school a run left out: its newest attendance and the school days since without a
    record (``run_schools``)."""

    newest_attendance: date | None
    school_days_missing: int


def left_out(connection: sa.Connection, run_id: int) -> dict[str, LeftOut]:
    """The schools a run left out, its data too old, by school."""
    rows = connection.execute(
        sa.select(
            run_schools.c.school_id,
            run_schools.c.newest_attendance,
            run_schools.c.school_days_missing,
        ).where((run_schools.c.run_id == run_id) & run_schools.c.stale)
    ).all()
    return {str(school): LeftOut(newest, int(days or 0)) for school, newest, days in rows}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def counts_of(
    connection: sa.Connection, run_id: int, school_id: str, advisor_id: str | None = None
) -> Counts:
    """A school's (or one advisor's) list this run: on it, new on it, moved up."""
    where = (
        (student_scores.c.run_id == run_id)
        & (student_scores.c.school_id == school_id)
        & student_scores.c.tier.in_(FLAGGED)
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
    thai, english = day(as_of, "th"), day(as_of, "en")
    subject = f"รายชื่อนักเรียนที่ควรดูแล สัปดาห์ {thai} พร้อมแล้ว / This week's list is ready"
    body = (
        f"รายชื่อประจำสัปดาห์ {thai}: นักเรียนในรายชื่อของท่าน {counts.on_list} คน "
        f"เพิ่มใหม่ {counts.new} คน ความเสี่ยงสูงขึ้น {counts.up} คน\n"
        + (f"แผนช่วยเหลือที่เลยกำหนดทบทวน {counts.overdue} แผน\n" if counts.overdue else "")
        + f"ดูรายชื่อ: {link}\n\n"
        f"The list of {english}: {counts.on_list} of your students are on it, "
        f"{counts.new} new and {counts.up} moved up.\n"
        + (
            f"{counts.overdue} support plans are past their review date.\n"
            if counts.overdue
            else ""
        )
        + f"See the list: {link}\n\n"
        + _STOP
    )
    return subject, body


def left_out_text(left: LeftOut, as_of: Any, role: str, upload_link: str) -> tuple[str, str]:
    """The subject and body of the message to a left-out school's reader: since when its
    attendance is missing, and who sends it (the data officer, on the upload page)."""
    thai, english = day(as_of, "th"), day(as_of, "en")
    newest_th = day(left.newest_attendance, "th") or "–"
    newest_en = day(left.newest_attendance, "en") or "–"
    officer = role == "data_officer"
    subject = f"รายชื่อสัปดาห์ {thai} ไม่ได้ประเมินโรงเรียนของท่าน / This week's list left your school out"
    body = (
        f"รายชื่อประจำสัปดาห์ {thai} ไม่ได้ประเมินนักเรียนของโรงเรียนท่าน: ข้อมูลการมาเรียนล่าสุดคือ"
        f"วันที่ {newest_th} หลังจากนั้นไม่มีบันทึกอีก {left.school_days_missing} วันเรียน "
        "ระบบไม่นับวันที่ไม่มีบันทึกเป็นวันขาดเรียน\n"
        + (
            f"ส่งแบบบันทึกเวลาเรียนล่าสุดที่: {upload_link} เมื่อยืนยันการส่งแล้ว "
            "ระบบจะจัดทำรายชื่อของโรงเรียนใหม่\n\n"
            if officer
            else "ขอให้เจ้าหน้าที่ข้อมูลของโรงเรียนส่งแบบบันทึกเวลาเรียนล่าสุด "
            "แล้วระบบจะจัดทำรายชื่อของโรงเรียนใหม่\n\n"
        )
        + f"The list of {english} did not score your school's students: its newest "
        f"attendance is from {newest_en}, and {left.school_days_missing} school days since "
        "have no record. Days nobody recorded are not read as days absent.\n"
        + (
            f"Send the newest registers: {upload_link} Once they are loaded, the "
            "school's list is made again.\n\n"
            if officer
            else "Your school's data officer sends the newest registers; then the "
            "school's list is made again.\n\n"
        )
        + _STOP
    )
    return subject, body


_STOP = (
    "ไม่ต้องการรับข้อความนี้ ปิดได้ที่หน้าบัญชีของท่าน / "
    "To stop these messages, turn them off on your account page.\n"
)


def schools_left_out(engine: sa.Engine, as_of: date) -> set[str]:
    """The schools the newest stored run of ``as_of`` left out (none before such a run)."""
    with engine.connect() as connection:
        run_id = connection.execute(
            sa.select(score_runs.c.run_id)
            .where(score_runs.c.as_of == as_of)
            .order_by(score_runs.c.run_id.desc())
            .limit(1)
        ).scalar()
        return set(left_out(connection, run_id)) if run_id is not None else set()


def week_told_at(engine: sa.Engine, as_of: date) -> datetime | None:
    """When a whole-week run of ``as_of`` last told its readers of the list (UTC), or
    None: a run of the week made again does not tell them twice unless asked."""
    runs = sa.select(job_runs.c.run_id).where(
        (job_runs.c.kind == "weekly") & (job_runs.c.as_of == as_of) & job_runs.c.run_id.is_not(None)
    )
    with engine.connect() as connection:
        told: datetime | None = connection.execute(
            sa.select(sa.func.max(notifications.c.at)).where(
                notifications.c.run_id.in_(runs) & (notifications.c.status == "sent")
            )
        ).scalar()
    return told


def tell_about_run(
    settings: Settings, engine: sa.Engine, run_id: int, schools: Sequence[str] | None = None
) -> dict[str, int]:
    """Send this run's messages (to the readers of ``schools`` only, when given: a school's
    list made again after it was left out); returns how many were sent and failed."""
    totals = {"sent": 0, "failed": 0}
    with engine.connect() as connection:
        as_of = connection.execute(
            sa.select(score_runs.c.as_of).where(score_runs.c.run_id == run_id)
        ).scalar()
        out = left_out(connection, run_id)
        readers = connection.execute(
            sa.select(
                users.c.user_id, users.c.role, users.c.staff_id, users.c.school_id, users.c.email
            )
            .where(
                users.c.active
                & users.c.notify
                & users.c.email.is_not(None)
                & users.c.role.in_(READERS)
                & (
                    users.c.school_id.is_not(None)
                    if schools is None
                    else users.c.school_id.in_(list(schools))
                )
            )
            .order_by(users.c.user_id)
        ).all()
        mail: list[tuple[Any, Counts | LeftOut]] = []
        for reader in readers:
            if reader.school_id in out:
                mail.append((reader, out[reader.school_id]))
            elif reader.role != "data_officer":
                advisor = reader.staff_id if reader.role == "advisor" else None
                counts = counts_of(connection, run_id, reader.school_id, advisor)
                owner = reader.user_id if reader.role == "advisor" else None
                mail.append(
                    (reader, replace(counts, overdue=_overdue(connection, reader.school_id, owner)))
                )
        listed = (
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
        hooks = [
            list_ready(school, as_of, counts_of(connection, run_id, school), settings)
            for school in listed
            if schools is None or school in schools
        ]
        if settings.webhook_url:
            hooks += [
                school_left_out(school, as_of, left, settings)
                for school, left in sorted(out.items())
                if schools is None or school in schools
            ]
    records: list[tuple[str, int | None, str | None, str, str | None]] = []
    public = settings.public_url.rstrip("/")
    if settings.smtp_host and mail:
        for reader, news in mail:
            if isinstance(news, LeftOut):
                subject, body = left_out_text(news, as_of, reader.role, public + "/upload")
            else:
                page = "/plan" if reader.role == "committee" else "/list"
                subject, body = text_of(news, as_of, public + page)
            try:
                send_mail(settings, reader.email, subject, body)
                records.append(("email", reader.user_id, reader.school_id, "sent", None))
            except (OSError, smtplib.SMTPException) as error:
                records.append(("email", reader.user_id, reader.school_id, "failed", str(error)))
    for event in hooks:
        try:
            post_webhook(settings, event)
            records.append(("webhook", None, event["school_id"], "sent", None))
        except (OSError, ValueError) as error:
            records.append(("webhook", None, event["school_id"], "failed", str(error)))
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


def list_ready(school_id: str, as_of: Any, counts: Counts, settings: Settings) -> dict[str, Any]:
    """The webhook's event of a school's list made this run: counts and a link."""
    return {
        "event": "weekly_list_ready",
        "school_id": school_id,
        "as_of": str(as_of),
        "on_list": counts.on_list,
        "new_on_list": counts.new,
        "moved_up": counts.up,
        "link": settings.public_url.rstrip("/") + "/list",
    }


def school_left_out(
    school_id: str, as_of: Any, left: LeftOut, settings: Settings
) -> dict[str, Any]:
    """The webhook's event of a school the run left out: since when its attendance is
    missing, and the page where its files are sent."""
    return {
        "event": "school_left_out",
        "school_id": school_id,
        "as_of": str(as_of),
        "newest_attendance": None
        if left.newest_attendance is None
        else str(left.newest_attendance),
        "school_days_missing": left.school_days_missing,
        "link": settings.public_url.rstrip("/") + "/upload",
    }


def post_webhook(settings: Settings, event: dict[str, Any]) -> None:
    """One event, signed (``SIGNATURE_HEADER``), to the configured webhook."""
    if not settings.webhook_url or settings.webhook_secret is None:
        raise ValueError("no webhook configured")
    body = json.dumps(event, ensure_ascii=False).encode()
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
