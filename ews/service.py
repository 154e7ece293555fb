"""Commands of the running service: the weekly run, its status, and serving."""

from __future__ import annotations

from datetime import UTC
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.clock import BANGKOK
from core.settings import Settings
from ews.common import (
    SCORING_CODE,
    console,
    dask_or_exit,
    database,
    fail,
    load_settings,
    parse_date,
    secret_or_exit,
)


def _scorer(settings: Settings):  # type: ignore[no-untyped-def]
    import tempfile

    from serving.model_store import ModelUnavailable, load_scorer_bundle
    from serving.scoring import Scorer

    try:
        with tempfile.TemporaryDirectory(prefix="ews-model-") as folder:
            bundle, version = load_scorer_bundle(settings, Path(folder))
    except ModelUnavailable as error:
        fail(str(error))
    if bundle.kind == "abc_rule":
        console.print(f"[yellow]{escape(bundle.metadata['why'])}.[/yellow]")
    return Scorer(bundle, version)


def score(
    as_of: Annotated[str, typer.Option(help="As-of date, YYYY-MM-DD.")],
    school: Annotated[
        str | None,
        typer.Option(
            help="Recompute this school's list in the stored run of the date (after new "
            "files); with no run of the date, the whole week is run."
        ),
    ] = None,
    messages: Annotated[
        bool | None,
        typer.Option(
            "--messages/--no-messages",
            help="Tell advisors and committees their list is ready (e-mail, webhook), "
            "when configured; --no-messages for a backfill of past weeks. Unsaid: told "
            "unless a run of the week told them already.",
        ),
    ] = None,
    scheduled: Annotated[
        bool, typer.Option("--scheduled", hidden=True, help="Run by the service's scheduler.")
    ] = False,
) -> None:
    """The weekly run: score and explain every enrolled student, store ranks and changes."""
    from rich.progress import BarColumn, MofNCompleteColumn

    from core.cluster import local_pool, worker_count
    from schooldata.partitions import plan_partitions
    from serving.i18n import scorer_label
    from serving.messages import schools_left_out, week_told_at
    from serving.schedule import NOTHING_TO_SCORE_EXIT, WeekRunner
    from serving.scoring import NothingToScore, weekly_run
    from serving.store import RunReplaced

    settings = load_settings()
    day = parse_date(as_of)
    partitioned = bool(settings.dask_address or settings.dataset_path) and school is None
    with (
        # Started first: the workers import the scoring code while the model loads.
        dask_or_exit(settings, preload=SCORING_CODE) as dask,
        local_pool(1 if dask or not partitioned else settings.processes, SCORING_CODE) as pool,
        Progress(
            TextColumn("scoring"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        scorer = _scorer(settings)
        task = progress.add_task("score", total=None)
        try:
            partitions = (
                plan_partitions(
                    settings.database_url,
                    settings.dataset_path,
                    students_per_task=settings.students_per_task,
                    workers=worker_count(dask or pool),
                )
                if partitioned
                else None
            )
            engine = database(settings)
            reports: list[Any] = []
            # A week made again (the scheduler's run, then a typed one) tells nobody twice.
            told_at = (
                week_told_at(engine, day.date()) if messages is None and school is None else None
            )
            # A school left out of the week's list (its attendance was old), made again now.
            if school is not None and messages is not False:
                was_left_out = school in schools_left_out(engine, day.date())
            else:
                was_left_out = False

            def run() -> tuple[int | None, str, int | None]:
                reports.append(
                    weekly_run(
                        engine,
                        scorer,
                        day,
                        on_progress=lambda done, total: progress.update(
                            task, completed=done, total=total
                        ),
                        partitions=partitions,
                        client=dask or pool,
                        stale_after=settings.stale_after_school_days,
                        school=school,
                    )
                )
                return reports[0].run_id, scorer.kind, reports[0].students

            if scheduled:
                run()
            else:  # recorded beside the scheduler's runs (ews status, the operations page)
                WeekRunner(settings, engine).record(
                    "school" if school else "weekly", day.date(), school or "", "command", run
                )
            report = reports[0]
        except NothingToScore as nothing:
            if not scheduled:
                fail(str(nothing))
            console.print(str(nothing), markup=False, soft_wrap=True)
            raise typer.Exit(NOTHING_TO_SCORE_EXIT) from None
        except (ValueError, RunReplaced) as error:
            fail(str(error))
    verb = "Replaced" if report.replaced else "Stored"
    stages = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in report.seconds.items())
    made_by = scorer_label(scorer.kind, report.model_version, "en")
    if school is not None and "school" in report.seconds:
        console.print(
            f"Recomputed school {school}'s list in the run of {day.date()} by the {made_by}: "
            f"{report.students:,} students ({stages})"
        )
    else:
        schools = len(report.schools) - len(report.stale)
        console.print(
            f"{verb} the run of {day.date()}: {report.students:,} students of "
            f"{schools:,} school{'' if schools == 1 else 's'} ({stages})"
        )
        console.print(f"Ranked by the {made_by}.")
    _print_stale(report.stale, settings.stale_after_school_days)
    if told_at is not None:
        told = told_at.replace(tzinfo=UTC).astimezone(BANGKOK)
        console.print(
            f"Messages: not sent again: a run of this week told its readers on "
            f"{told:%Y-%m-%d at %H:%M} (Bangkok); --messages tells them again."
        )
    elif messages is not False and (settings.smtp_host or settings.webhook_url):
        from serving.messages import tell_about_run

        engine = database(settings)
        # The whole week's run tells everyone; a school's list made again tells its own
        # readers only when it was left out before and is listed now (not at each upload).
        back = (
            school is not None
            and was_left_out
            and report.students > 0
            and school not in schools_left_out(engine, day.date())
        )
        if school is None or back:
            sent = tell_about_run(
                settings, engine, report.run_id, schools=None if school is None else [school]
            )
            console.print(f"Messages: {sent['sent']} sent, {sent['failed']} failed")
    moved = report.drift[report.drift["status"] == "moved"]
    if len(moved):
        console.print(
            f"[yellow]Inputs that moved against the training data (PSI > 0.25): "
            f"{', '.join(sorted(set(moved['feature'])))}. See the analyst's model page.[/yellow]"
        )


def _print_stale(stale: Any, after: int) -> None:
    """Which schools the run left out, and why."""
    if stale.empty:
        return
    table = Table(
        title=f"Skipped: data stale (attendance stops more than {after} school days back)"
    )
    for column in ("school", "enrolled", "newest attendance", "school days missing"):
        table.add_column(column)
    for row in stale.itertuples():
        newest = row.newest_attendance
        table.add_row(
            str(row.school_id),
            f"{row.enrolled:,}",
            str(newest.date()) if hasattr(newest, "date") else "never",
            str(row.school_days_missing),
        )
    console.print(table)
    console.print(
        "[yellow]Their students get no risk this week rather than one computed from days "
        "nobody recorded. Load their newest files and run again.[/yellow]"
    )


def status() -> None:
    """The weekly runs at a glance, and the scorer making the lists.

    Last and next run, how long runs take, schools skipped as stale,
    failures with their error ids, the messages sent, and the tokens in use that are
    about to expire."""
    from schooldata.db import upgrade
    from serving.accounts import RENEW_DAYS, tokens_to_renew
    from serving.i18n import moment, scorer_label
    from serving.operations import operations

    settings = load_settings()
    engine = database(settings)
    upgrade(engine)
    found = operations(settings, engine, limit=10)
    last = found.last_run
    if last is None:
        console.print("No list stored yet (the first weekly run makes one).")
    else:
        made_by = scorer_label(last["scorer"], last["model_version"], "en")
        console.print(
            f"Newest list: week of {last['as_of']}, {last['students']:,} students, by the "
            f"{made_by} (stored {moment(last['created_at'], 'en')}, Asia/Bangkok)"
        )
    if found.scheduler_on and found.next_run is not None:
        console.print(f"Next weekly run: {found.next_run:%a %Y-%m-%d %H:%M} (Asia/Bangkok)")
    else:
        console.print("The service's scheduler is off (EWS_SCHEDULER=false): run ews score.")
    if found.typical_seconds is not None:
        console.print(f"A weekly run takes about {found.typical_seconds:.0f} s")
    console.print(
        f"Messages of the newest list: {found.messages.get('sent', 0)} sent, "
        f"{found.messages.get('failed', 0)} failed"
    )
    to_renew = tokens_to_renew(engine)
    if to_renew:
        console.print(
            f"[bold]{len(to_renew)} token(s) in use expire within {RENEW_DAYS} days, or "
            "have[/bold]: renew them before their integrations stop (ews users list names them)"
        )
    table = Table(title="Runs, newest first (started: Asia/Bangkok)")
    columns = ("week", "kind", "school", "try", "status", "trigger", "started", "took", "detail")
    for column in columns:
        table.add_column(column)
    for job in found.jobs:
        took = (
            f"{(job['finished_at'] - job['started_at']).total_seconds():.0f} s"
            if job["finished_at"]
            else "…"
        )
        detail = job["detail"] or ""
        if job["error_id"]:
            detail = f"error id {job['error_id']}: {detail}"
        table.add_row(
            str(job["as_of"]),
            job["kind"],
            job["school_id"] or "all",
            str(job["attempt"]),
            job["status"],
            job["trigger"],
            moment(job["started_at"], "en"),
            took,
            detail[:80],
        )
    console.print(table)
    if found.stale:
        console.print(
            "Left out of the newest list as stale: "
            + ", ".join(
                f"{s['school_id']} (attendance until {s['newest_attendance'] or 'never'})"
                for s in found.stale
            )
        )


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Server processes (one per core serves the most users; each loads the "
            "champion and checks its files).",
        ),
    ] = 1,
) -> None:
    """Serve the API (and web pages) with uvicorn; the champion is loaded once a process."""

    import uvicorn

    from serving.app import create_app
    from serving.workers import log_to_stderr

    settings = load_settings()
    secret_or_exit(settings, "session_secret")  # refused here, before anything starts
    scorer = _scorer(settings)
    log_to_stderr()
    # Access logs would print paths, and paths carry student ids: the app logs route templates.
    # Behind a proxy, uvicorn takes the client's address from X-Forwarded-For when the
    # proxy's address is trusted (its default trusts only 127.0.0.1).
    options: dict[str, Any] = {
        "access_log": False,
        "forwarded_allow_ips": settings.trusted_proxies,
    }
    if workers > 1:  # each process builds the app from the same environment
        from serving.workers import ServeError
        from serving.workers import serve as serve_workers

        try:
            serve_workers("serving.app:app_from_environment", host, port, workers, **options)
        except ServeError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        return
    uvicorn.run(create_app(settings, scorer), host=host, port=port, **options)
