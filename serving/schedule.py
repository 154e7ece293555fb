"""The week runs itself: the weekly run at its day and time, and a school's list again after
its data officer loads new files.

Every server worker starts a scheduler (APScheduler, in the service, so the README's two
commands are all a school installs; a systemd timer would need root and a second thing
to keep in step). Exactly one worker runs each week: a run is claimed by inserting its
row into ``job_runs``, whose unique key (kind, week, school, attempt) lets one insert
win; a claim still "running" after ``LEASE`` is taken over by the next attempt (its
worker died). A week with no school day in any school's term (the calendar's breaks,
and ``EWS_HOLIDAYS``) is recorded as skipped. A failed run is retried ``RETRIES`` times,
``RETRY_AFTER`` apart; every run, skip and failure is recorded with its error id. A
week's run missed while no worker was up is made when one is (``catch_up``).

The run itself is ``ews score`` in a process of its own: the scoring's memory and
process pools never live in a process that serves requests, and a model promoted since
the server started is the one it loads.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa

from core.clock import BANGKOK
from core.settings import Settings
from schooldata.calendar import Calendar
from schooldata.db import read_table
from schooldata.tables import job_runs, score_runs
from serving.scoring import NothingToScore

log = logging.getLogger(__name__)
LEASE = timedelta(hours=3)  # a run still "running" after this is taken to have died
RETRIES = 2  # attempts after the first
NO_SCHOOL_DAY = "no school day this week"
# ``ews score --scheduled``'s exit when nobody is to be scored: the run is skipped, not failed.
NOTHING_TO_SCORE_EXIT = 3
RETRY_AFTER = timedelta(minutes=15)
RUN_TIMEOUT = timedelta(hours=2).total_seconds()
WAIT_POLL = 5.0  # seconds between looks at a run an upload's rerun waits for
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class Outcome:
    status: str  # done, failed, skipped, taken (another worker has it)
    job_id: int | None = None
    detail: str = ""


def now_utc() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def is_school_week(engine: sa.Engine, day: date, holidays: frozenset[date]) -> bool:
    """Whether some school has a school day in the week of ``day`` (Monday to Friday):
    a day inside its term by the calendar that is not a declared holiday."""
    monday = day - timedelta(days=day.weekday())
    weekdays = [monday + timedelta(days=i) for i in range(5)]
    enrollments = read_table(engine, "enrollments", columns=["academic_year"])
    years = {int(y) for y in enrollments["academic_year"].unique()} or {day.year + 543}
    years |= {day.year + 542, day.year + 543}
    table = Calendar.stored(engine, sorted(years)).table
    for weekday in weekdays:
        if weekday in holidays:
            continue
        stamp = pd.Timestamp(weekday)
        if ((table["start_date"] <= stamp) & (table["end_date"] >= stamp)).any():
            return True
    return False


class WeekRunner:
    """Claims, runs and records weekly runs and school reruns for one server worker.

    ``run_job`` is how a run happens (``ews score`` in its own process by default); the
    tests give their own clock by calling ``tick`` with a time."""

    def __init__(
        self,
        settings: Settings,
        engine: sa.Engine,
        run_job: Callable[[date, str | None], tuple[int | None, str, int | None]] | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.run_job = run_job or self._score_in_a_process
        self.holidays = settings.holiday_dates
        self._scheduler: Any = None
        self.reruns: list[threading.Thread] = []  # reruns after uploads at work in the background
        self._reruns_lock = threading.Lock()  # uploads are confirmed in several request threads
        self.wait_poll = WAIT_POLL

    # The schedule ------------------------------------------------------------------
    def start(self) -> None:
        """Start the weekly job (and retries) in this process's background thread."""
        from apscheduler.schedulers.background import BackgroundScheduler
        from apscheduler.triggers.cron import CronTrigger

        # The library tells of every job it adds and runs (the retries' every ten minutes);
        # the runs themselves are logged below, and its warnings and errors still show.
        logging.getLogger("apscheduler").setLevel(logging.WARNING)
        hour, minute = (int(part) for part in self.settings.schedule_time.split(":"))
        scheduler = BackgroundScheduler(timezone=BANGKOK)
        scheduler.add_job(
            lambda: self.tick(datetime.now(BANGKOK)),
            # In Bangkok's time: a trigger without a zone takes the server's (UTC on most),
            # and Monday 06:00 would come at 13:00 in the schools.
            CronTrigger(
                day_of_week=self.settings.schedule_day, hour=hour, minute=minute, timezone=BANGKOK
            ),
            id="weekly-run",
            misfire_grace_time=3600,
            coalesce=True,
        )
        # Retries, takeovers of a dead worker's run and a week's run missed while the
        # service was down: looked for at start and every ten minutes.
        scheduler.add_job(
            lambda: self.look_after(datetime.now(BANGKOK)),
            "interval",
            minutes=10,
            id="retry",
            next_run_time=datetime.now(BANGKOK),
        )
        scheduler.start()
        self._scheduler = scheduler

    def stop(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None

    def next_run(self, now: datetime | None = None) -> datetime:
        """When the weekly run is next due (Asia/Bangkok)."""
        now = (now or datetime.now(BANGKOK)).astimezone(BANGKOK)
        hour, minute = (int(part) for part in self.settings.schedule_time.split(":"))
        ahead = (DAYS.index(self.settings.schedule_day) - now.weekday()) % 7
        due = (now + timedelta(days=ahead)).replace(
            hour=hour, minute=minute, second=0, microsecond=0
        )
        return due if due > now else due + timedelta(days=7)

    def look_after(self, when: datetime) -> list[Outcome]:
        """The ten-minute check: retries and takeovers, then a missed week's run."""
        outcomes = self.retry_failed(when)
        missed = self.catch_up(when)
        return outcomes if missed is None else [*outcomes, missed]

    def catch_up(self, when: datetime) -> Outcome | None:
        """The week's run, when its time passed while no worker was up to start it (a
        power cut, an update, a restart over the weekend): the scheduler only starts runs
        due while it runs. None when it was made, or is not due. A new service, which
        has made no weekly run yet, waits for its first due time."""
        due = self.next_run(when) - timedelta(days=7)
        with self.engine.connect() as connection:
            weekly = job_runs.c.kind == "weekly"
            made = connection.execute(
                sa.select(job_runs.c.job_id)
                .where(weekly & (job_runs.c.as_of >= due.date()))
                .limit(1)
            ).first()
            before = connection.execute(
                sa.select(job_runs.c.job_id)
                .where(weekly & (job_runs.c.as_of < due.date()))
                .limit(1)
            ).first()
        if made is not None or before is None:
            return None
        return self.tick(due, trigger="catch-up")

    # The runs ----------------------------------------------------------------------
    def tick(self, when: datetime, trigger: str = "schedule") -> Outcome:
        """The weekly run due at ``when`` (Asia/Bangkok): claimed, skipped or run."""
        day = when.astimezone(BANGKOK).date() if when.tzinfo else when.date()
        if not is_school_week(self.engine, day, self.holidays):
            return self._once("weekly", day, "", trigger, skip=NO_SCHOOL_DAY)
        return self._once("weekly", day, "", trigger)

    def rerun_school(
        self, school_id: str, trigger: str = "upload", when: datetime | None = None
    ) -> Outcome:
        """A school's list of the current week again (after its files were loaded), in the
        background; with no run stored yet, nothing to redo (the week's run will).

        When this school week has no list because its run found nothing to score (a new
        term whose enrolments were not loaded yet) or failed, the files just loaded may
        be what it lacked: the week's run is made now, not next week. While the week's
        run (or this school's rerun) is at work, the rerun waits for it: that run may
        have read the school's files before they came, and the list to redo is its."""
        when = when or datetime.now(BANGKOK)
        thread = threading.Thread(
            target=lambda: self._rerun(school_id, trigger, when),
            name=f"rerun-{school_id}",
            daemon=True,
        )
        thread.start()
        # The reruns still at work, and this one: a worker lives through many uploads.
        with self._reruns_lock:
            self.reruns = [*(t for t in self.reruns if t.is_alive()), thread]
        return Outcome("started")

    def _rerun(self, school_id: str, trigger: str, when: datetime) -> Outcome:
        self._wait_for_runs_at_work(self._this_weeks_run(when), school_id)
        week = self._week_without_a_list(when)
        kind, school = ("weekly", "") if week is not None else ("school", school_id)
        if week is None:
            with self.engine.connect() as connection:
                week = connection.execute(sa.select(sa.func.max(score_runs.c.as_of))).scalar()
        if week is None:
            log.info("no weekly run yet: the school's upload waits for the week's run")
            return Outcome("skipped", detail="no weekly run yet")
        # Each upload is a new attempt of the week's rerun: a later upload reruns again
        # (two uploads that find the same attempt both came before it started).
        attempt = self._next_attempt(kind, week, school)
        return self._once(kind, week, school, trigger, attempt=attempt)

    def _this_weeks_run(self, when: datetime) -> date:
        return (self.next_run(when) - timedelta(days=7)).date()

    def _wait_for_runs_at_work(self, week: date, school_id: str) -> None:
        """Until the week's run and this school's rerun of it have ended (or their lease
        has, when their worker died)."""
        latest = (
            sa.select(job_runs.c.kind, job_runs.c.status, job_runs.c.started_at)
            .where(
                (job_runs.c.as_of == week)
                & (
                    (job_runs.c.kind == "weekly")
                    | ((job_runs.c.kind == "school") & (job_runs.c.school_id == school_id))
                )
            )
            .order_by(job_runs.c.attempt.desc())
        )
        while True:
            with self.engine.connect() as connection:
                rows = connection.execute(latest).all()
            last: dict[str, Any] = {}
            for row in rows:  # each kind's last attempt
                last.setdefault(row.kind, row)
            at_work = [
                row
                for row in last.values()
                if row.status == "running" and now_utc() - row.started_at < LEASE
            ]
            if not at_work:
                return
            time.sleep(self.wait_poll)

    def _week_without_a_list(self, when: datetime) -> date | None:
        """This week's run date, when its run ended without a list (nothing to score, or
        failed) and no list of the week is stored."""
        due = self._this_weeks_run(when)
        with self.engine.connect() as connection:
            stored = connection.execute(
                sa.select(score_runs.c.run_id).where(score_runs.c.as_of >= due).limit(1)
            ).first()
            last = connection.execute(
                sa.select(job_runs.c.status, job_runs.c.detail)
                .where((job_runs.c.kind == "weekly") & (job_runs.c.as_of == due))
                .order_by(job_runs.c.attempt.desc())
                .limit(1)
            ).first()
        if stored is not None or last is None:
            return None
        without = last.status == "failed" or (
            last.status == "skipped" and last.detail != NO_SCHOOL_DAY
        )
        return due if without else None

    def retry_failed(self, when: datetime) -> list[Outcome]:
        """Each failed run with attempts left, and each run whose worker died, again."""
        outcomes = []
        # Each run's last attempt, when it failed or is still running: one statement,
        # however many weeks and uploads the table holds.
        key = (job_runs.c.kind, job_runs.c.as_of, job_runs.c.school_id)
        latest = (
            sa.select(*key, sa.func.max(job_runs.c.attempt).label("attempt"))
            .group_by(*key)
            .subquery()
        )
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(job_runs)
                .join(
                    latest,
                    (job_runs.c.kind == latest.c.kind)
                    & (job_runs.c.as_of == latest.c.as_of)
                    & (job_runs.c.school_id == latest.c.school_id)
                    & (job_runs.c.attempt == latest.c.attempt),
                )
                .where(job_runs.c.status.in_(("failed", "running")))
                .order_by(job_runs.c.job_id)
            ).all()
        moment = when.astimezone(UTC).replace(tzinfo=None) if when.tzinfo else when
        for row in rows:
            if row.trigger == "command":  # whoever typed it saw it fail, and why
                continue
            failed = row.status == "failed" and row.attempt <= RETRIES
            due = failed and row.finished_at is not None and moment - row.finished_at >= RETRY_AFTER
            dead = row.status == "running" and moment - row.started_at >= LEASE
            if due or dead:
                outcomes.append(
                    self._once(row.kind, row.as_of, row.school_id, "retry", attempt=row.attempt + 1)
                )
        return outcomes

    def record(
        self,
        kind: str,
        day: date,
        school_id: str,
        trigger: str,
        work: Callable[[], tuple[int | None, str, int | None]],
    ) -> Outcome:
        """A run made by a command, recorded like the scheduler's (a new attempt); its
        failure is recorded, then raised for the command to report."""
        for _ in range(3):  # another command may take the same attempt at the same moment
            attempt = self._next_attempt(kind, day, school_id)
            job_id = self._claim(kind, day, school_id, trigger, attempt=attempt)
            if job_id is not None:
                return self._run(job_id, work, reraise=True)
        raise RuntimeError(f"could not record the {kind} run of {day}: its attempts were taken")

    def _next_attempt(self, kind: str, day: date, school_id: str) -> int:
        with self.engine.connect() as connection:
            done = connection.execute(
                sa.select(sa.func.max(job_runs.c.attempt)).where(
                    (job_runs.c.kind == kind)
                    & (job_runs.c.as_of == day)
                    & (job_runs.c.school_id == school_id)
                )
            ).scalar()
        return int(done or 0) + 1

    def _once(
        self,
        kind: str,
        day: date,
        school_id: str,
        trigger: str,
        *,
        attempt: int = 1,
        skip: str | None = None,
    ) -> Outcome:
        job_id = self._claim(kind, day, school_id, trigger, attempt=attempt, skip=skip)
        if job_id is None:
            return Outcome("taken")
        run = f"{kind} run of {day}" + (f" for school {school_id}" if school_id else "")
        if skip is not None:
            log.info("%s skipped: %s", run, skip)
            return Outcome("skipped", job_id, skip)
        log.info("%s started (attempt %d, %s)", run, attempt, trigger)
        started = time.monotonic()
        outcome = self._run(job_id, lambda: self.run_job(day, school_id or None))
        if outcome.status == "done":
            log.info("%s done in %.0f s", run, time.monotonic() - started)
        return outcome

    def _run(
        self,
        job_id: int,
        work: Callable[[], tuple[int | None, str, int | None]],
        reraise: bool = False,
    ) -> Outcome:
        """Do a claimed run and record how it ended; a failure with an error id (the
        same id in the log), never lost."""
        try:
            run_id, scorer, students = work()
        except NothingToScore as nothing:
            # Not a failure to retry: a date nobody is enrolled on, or every school's data
            # stale (a new term before its files). The reason is kept for the pages.
            log.info("weekly run skipped: %s", nothing)
            self._finish(job_id, "skipped", detail=str(nothing)[:2000])
            if reraise:
                raise
            return Outcome("skipped", job_id, str(nothing))
        except BaseException as error:  # an interrupted command is recorded too
            error_id = uuid.uuid4().hex[:12]
            log.error("weekly run failed (error id %s): %s", error_id, error)
            self._finish(job_id, "failed", detail=str(error)[:2000], error_id=error_id)
            if reraise or not isinstance(error, Exception):
                raise
            return Outcome("failed", job_id, str(error))
        self._finish(job_id, "done", run_id=run_id, scorer=scorer, students=students)
        return Outcome("done", job_id)

    def _claim(
        self,
        kind: str,
        day: date,
        school_id: str,
        trigger: str,
        *,
        attempt: int,
        skip: str | None = None,
    ) -> int | None:
        try:
            with self.engine.begin() as connection:
                return int(
                    connection.execute(
                        sa.insert(job_runs).values(
                            kind=kind,
                            as_of=day,
                            school_id=school_id,
                            attempt=attempt,
                            status="skipped" if skip else "running",
                            trigger=trigger,
                            holder=self.holder,
                            started_at=now_utc(),
                            finished_at=now_utc() if skip else None,
                            detail=skip,
                        )
                    ).inserted_primary_key[0]  # type: ignore[index]
                )
        except sa.exc.IntegrityError:
            return None

    def _finish(self, job_id: int, status: str, **values: Any) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                sa.update(job_runs)
                .where(job_runs.c.job_id == job_id)
                .values(status=status, finished_at=now_utc(), **values)
            )

    def _score_in_a_process(
        self, day: date, school_id: str | None
    ) -> tuple[int | None, str, int | None]:
        """``ews score`` with this service's settings, in a process of its own."""
        command = [
            sys.executable,
            "-m",
            "ews.cli",
            "score",
            "--as-of",
            day.isoformat(),
            "--scheduled",  # recorded here, not again by the command
        ]
        if school_id:
            command += ["--school", school_id]
        done = subprocess.run(  # noqa: S603 (our own command; arguments from the database)
            command,
            env=os.environ | settings_environment(self.settings),
            capture_output=True,
            text=True,
            timeout=RUN_TIMEOUT,
            check=False,
        )
        if done.returncode == NOTHING_TO_SCORE_EXIT:
            raise NothingToScore(done.stdout.strip().splitlines()[-1][:2000])
        if done.returncode != 0:
            # The command's own last words (which name no student), not its whole output:
            # a refusal (exit 2, ``ews.common.fail``) ends its standard output with them, a
            # crash its standard error; a warning logged on the way is not the reason.
            said = done.stdout if done.returncode == 2 else done.stderr
            lines = (said.strip() or (done.stdout + done.stderr).strip()).splitlines()
            raise RuntimeError(lines[-1][:500] if lines else f"ews score exited {done.returncode}")
        with self.engine.connect() as connection:
            run = connection.execute(
                sa.select(score_runs.c.run_id, score_runs.c.scorer, score_runs.c.students)
                .where(score_runs.c.as_of == day)
                .order_by(score_runs.c.created_at.desc())
                .limit(1)
            ).first()
        if run is None:
            return None, "", None
        return int(run.run_id), str(run.scorer or "lightgbm"), int(run.students)


def settings_environment(settings: Settings) -> dict[str, str]:
    """The ``EWS_*`` variables that give another process these settings."""
    environment = {}
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        if isinstance(value, bool):
            value = "true" if value else "false"
        environment[f"EWS_{name.upper()}"] = str(value)
    return environment
