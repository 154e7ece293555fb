"""What the administrator watches: the weekly runs, what they skipped and why, failures with
their error ids, messages, and which scorer makes the lists (the operations page and
``ews status``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa

from core.settings import Settings
from schooldata.db import reading
from schooldata.tables import job_runs, notifications, run_schools, score_runs
from serving import store
from serving.schedule import LEASE, WeekRunner, now_utc


@dataclass
class Operations:
    scheduler_on: bool
    next_run: datetime | None
    jobs: list[dict[str, Any]]  # newest first
    typical_seconds: float | None  # median of the last done weekly runs
    last_run: dict[str, Any] | None  # the newest stored list: week, scorer, version, students
    stale: list[dict[str, Any]]  # schools the newest run left out, and why
    failed: list[dict[str, Any]]
    messages: dict[str, int] = field(default_factory=dict)  # of the newest run: sent, failed


def operations(settings: Settings, engine: sa.Engine, limit: int = 20) -> Operations:
    with engine.connect() as connection:
        jobs = [
            dict(row._mapping)
            for row in connection.execute(
                sa.select(job_runs).order_by(job_runs.c.job_id.desc()).limit(limit)
            )
        ]
        last = connection.execute(
            sa.select(score_runs).order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc())
        ).first()
        stale = []
        messages: dict[str, int] = {}
        if last is not None:
            stale = [
                dict(row._mapping)
                for row in connection.execute(
                    sa.select(
                        run_schools.c.school_id,
                        run_schools.c.enrolled,
                        run_schools.c.newest_attendance,
                        run_schools.c.school_days_missing,
                    )
                    .where((run_schools.c.run_id == last.run_id) & run_schools.c.stale)
                    .order_by(run_schools.c.school_id)
                )
            ]
            messages = dict(
                connection.execute(
                    sa.select(notifications.c.status, sa.func.count())
                    .where(notifications.c.run_id == last.run_id)
                    .group_by(notifications.c.status)
                ).all()
            )
        failed = [
            dict(row._mapping)
            for row in connection.execute(
                sa.select(job_runs)
                .where(job_runs.c.status == "failed")
                .order_by(job_runs.c.job_id.desc())
                .limit(limit)
            )
        ]
    durations = sorted(
        (job["finished_at"] - job["started_at"]).total_seconds()
        for job in jobs
        if job["status"] == "done" and job["kind"] == "weekly" and job["finished_at"]
    )
    return Operations(
        scheduler_on=settings.scheduler,
        next_run=WeekRunner(settings, engine).next_run() if settings.scheduler else None,
        jobs=jobs,
        typical_seconds=durations[len(durations) // 2] if durations else None,
        last_run=None
        if last is None
        else {
            "as_of": last.as_of,
            "scorer": last.scorer or "lightgbm",
            "model_version": last.model_version,
            "students": last.students,
            "created_at": last.created_at,
        },
        stale=stale,
        failed=failed,
        messages={"sent": int(messages.get("sent", 0)), "failed": int(messages.get("failed", 0))},
    )


@dataclass(frozen=True)
class SchoolInList:
    """A school in the newest weekly list, for the people who send its files: whether it
    was scored or left out (its data too old), how new each kind of record was, and
    whether a run that reads it again is at work or has failed."""

    as_of: date
    # Its ``run_schools`` row: enrolled, scored, stale, newest_attendance, ...; None: the
    # list had none of its students enrolled (the term's enrolments were not sent).
    school: dict[str, Any] | None
    remaking: bool  # the week's run or the school's rerun is at work now
    failed_error: str | None  # the newest such run failed: its error id for the admin


def school_in_list(engine: sa.Engine, school_id: str) -> SchoolInList | None:
    """``SchoolInList`` for one school, None before any list."""
    with reading(engine) as connection:
        run = store.latest_run(connection)
        if run is None:
            return None
        newest = connection.execute(
            sa.select(job_runs.c.status, job_runs.c.error_id, job_runs.c.started_at)
            .where(
                (job_runs.c.kind == "weekly")
                | ((job_runs.c.kind == "school") & (job_runs.c.school_id == school_id))
            )
            .order_by(job_runs.c.started_at.desc(), job_runs.c.job_id.desc())
            .limit(1)
        ).first()
        return SchoolInList(
            as_of=run.as_of,
            school=store.run_school(connection, run.run_id, school_id),
            # A run still "running" past its lease has died (``serving.schedule``).
            remaking=newest is not None
            and newest.status == "running"
            and newest.started_at > now_utc() - LEASE,
            failed_error=(newest.error_id or "–")
            if newest is not None and newest.status == "failed"
            else None,
        )
