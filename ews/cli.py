"""The ``ews`` command: one entry point for analysts, operators and the demo."""

from __future__ import annotations

import contextlib
import getpass
import sys
import time
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from core.secrets import SecretError, secret
from core.settings import Settings

app = typer.Typer(help="Dropout early-warning service for Thai schools.", no_args_is_help=True)
# Written to a file or a pipe, tables are not squeezed to 80 columns (a word or a secret
# cut in two helps nobody).
console = Console(width=None if sys.stdout.isatty() else 200)


def _settings() -> Settings:
    """The settings from the environment; a bad or missing one exits 2 saying which."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as error:
        for problem in error.errors():
            console.print(f"[red]Setting refused: {problem['msg']}[/red]")
        raise typer.Exit(2) from None


def _secret(settings: Settings, name: str) -> str:
    try:
        return secret(settings, name)
    except SecretError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


def _steps(progress: Progress, task: Any) -> Any:
    """A long step's messages: on a terminal, the spinner's text; written to a file or a
    pipe (where the spinner shows nothing), a line each with the time since the start."""
    started = time.perf_counter()
    said: list[str] = []

    def report(message: str) -> None:
        if console.is_terminal:
            progress.update(task, description=message)
        elif not said or said[-1] != message:
            said.append(message)
            elapsed = int(time.perf_counter() - started)
            console.print(f"  [{elapsed // 60:02d}:{elapsed % 60:02d}] {message}")

    return report


# What the weekly run's workers, on Dask or on this machine's pool, import as they start.
SCORING_CODE = ("serving.scoring",)


@contextlib.contextmanager
def _dask(settings: Settings, preload: Sequence[str] = ("features.build",)) -> Iterator[Any]:
    """The Dask client the settings ask for (None: one process); unreachable exits 2.
    A local cluster's workers import ``preload`` (the code their tasks run) as they start."""
    from core.cluster import dask_client

    try:
        with dask_client(settings, preload) as client:
            yield client
    except ConnectionError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None


@app.command()
def synth(
    out: Annotated[Path, typer.Option(help="Folder to write the data directory to.")] = Path(
        "data/synth"
    ),
    schools: Annotated[int, typer.Option(min=3, help="Number of schools and colleges.")] = 20,
    students: Annotated[int, typer.Option(min=50, help="Students seen over all years.")] = 12_000,
    years: Annotated[int, typer.Option(min=1, max=10, help="Academic years.")] = 3,
    first_year: Annotated[int, typer.Option(help="First academic year (Buddhist Era).")] = 2566,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    defect_rate: Annotated[
        float, typer.Option(min=0.0, max=0.2, help="Share of rows with defects.")
    ] = 0.002,
    school_files: Annotated[
        int,
        typer.Option(
            min=0,
            help="Schools whose records are written as they keep them, in schools/<id>/: "
            "Excel with Thai headers and values, a monthly class register, an enrolment "
            "export without advisors.",
        ),
    ] = 2,
    help_effect: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=5.0,
            help="Multiplies every action's simulated effect (0: help changes nothing, "
            "and ews effects must find nothing).",
        ),
    ] = 1.0,
) -> None:
    """Write a synthetic data directory in the data contract's format."""
    from synth import SynthConfig, dropout_rates_by_level, generate, write_directory

    started = time.perf_counter()
    config = SynthConfig(
        schools,
        students,
        years,
        first_year,
        seed,
        defect_rate,
        help_effect=help_effect,
        school_files=school_files,
    )
    with _progress() as progress:
        progress.add_task("simulating schools", total=None)
        result = generate(config)
        progress.add_task(f"writing {out}", total=None)
        in_excel = write_directory(result, out, school_files)
    table = Table(title=f"Synthetic data in {out} ({time.perf_counter() - started:.1f} s)")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for name, frame in result.frames.items():
        table.add_row(name, f"{len(frame):,}")
    console.print(table)
    _print_rates(dropout_rates_by_level(result.frames))
    if in_excel:
        console.print(
            f"Written as schools keep them (Excel, Thai, class registers, no advisors): "
            f"{', '.join(in_excel)} in {out / 'schools'}/"
        )
    console.print(
        f"Injected defects: {sum(result.defects.values()):,} rows ingest must reject, "
        f"{sum(result.blanked.values()):,} optional values it must blank with a warning"
    )


def _print_rates(rates) -> None:  # type: ignore[no-untyped-def]
    if rates.empty:
        console.print(
            "No annual dropout rate: a rate needs a year and the next one's enrolments "
            "(use --years 2 or more)."
        )
        return
    table = Table(
        title="Annual dropout rate by level (dropout exits + unexplained non-continuation)"
    )
    for column in ("level", "student-years", "dropouts", "rate"):
        table.add_column(column, justify="right" if column != "level" else "left")
    for level, row in rates.iterrows():
        table.add_row(
            str(level),
            f"{int(row.student_years):,}",
            f"{int(row.dropouts):,}",
            f"{row.annual_rate:.2%}",
        )
    console.print(table)


@app.command()
def ingest(
    directory: Annotated[
        Path, typer.Argument(help="Data directory (one CSV or Parquet file per source).")
    ],
    rejects_dir: Annotated[Path | None, typer.Option(help="Where rejects reports go.")] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            help="Also append the validated records to this Parquet dataset partitioned by "
            "school; the database then keeps only schools, calendar, students and enrolments."
        ),
    ] = None,
) -> None:
    """Validate a data directory and load it into the operational database."""
    from schooldata.db import make_engine
    from schooldata.ingest import ingest_directory

    settings = _settings()
    engine = make_engine(settings.database_url)
    rejects = rejects_dir or settings.rejects_dir
    with _progress() as progress:
        task = progress.add_task("ingest", total=None)
        try:
            report = ingest_directory(
                directory,
                engine,
                _secret(settings, "id_hash_key"),
                rejects,
                on_progress=lambda m: progress.update(task, description=m),
                dataset=dataset,
            )
        except FileNotFoundError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None

    timing = f"{report.seconds:.1f} s, writing {report.write_seconds:.1f} s"
    table = Table(title=f"Ingest of {directory} ({timing})")
    for column in ("file", "read", "loaded", "rejected", "values blanked", "status"):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    for s in report.sources:
        status = f"[red]refused: {s.refused}[/red]" if s.refused else "ok"
        table.add_row(
            s.file,
            f"{s.rows_read:,}",
            f"{s.rows_loaded:,}",
            f"{s.rows_rejected:,}",
            f"{s.values_blanked:,}",
            status,
        )
    console.print(table)
    reasons = report.rejects_by_reason()
    if len(reasons):
        by_reason = Table(
            title=f"Rejected rows and blanked values by reason (details in {rejects}/)"
        )
        for column in ("source", "column", "reason", "what happened", "rows"):
            by_reason.add_column(column, justify="right" if column == "rows" else "left")
        for row in reasons.itertuples():
            action = "row rejected" if row.action == "rejected" else "value blanked, row kept"
            by_reason.add_row(
                str(row.source), str(row.column), str(row.reason), action, f"{row.rows:,}"
            )
        console.print(by_reason)
    attendance = [s for s in report.sources if s.source == "attendance" and not s.refused]
    if attendance and report.seconds > 0:
        rows = sum(s.rows_loaded for s in attendance)
        registers = sum(s.rows_loaded for s in attendance if not s.file.endswith(".csv"))
        console.print(
            f"Attendance: {rows:,} rows ({registers:,} of them from Excel class registers) "
            f"in a {report.seconds:.1f} s load"
        )
    if report.linking is not None:
        linking = report.linking
        console.print(
            f"Children across schools: {linking['with_id']:,} students have a national ID or "
            f"G code to link by, {linking['linked_across_schools']:,} of them are the same "
            f"child as a student of another school (a move or a transition); "
            f"{linking['without_id']:,} have no ID and cannot be linked."
        )
    if report.missing_opened:
        console.print(
            f"Children to look for: {report.missing_opened:,} new cases of children enrolled "
            "last term and enrolled nowhere now (or a P6 or M3 graduate enrolled nowhere "
            "this year), on each school's and area office's page /missing."
        )
    if report.exit_code:
        for s in report.refused:
            console.print(f"[red]Refused {s.file}: {s.refused}. Nothing of it was loaded.[/red]")
        raise typer.Exit(report.exit_code)


@app.command()
def features(
    as_of: Annotated[str, typer.Option(help="As-of date, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="Output file: .parquet or .csv.")] = Path(
        "data/features.parquet"
    ),
) -> None:
    """Write one feature row per enrolled student as of a date.

    With EWS_DASK_ADDRESS or EWS_DATASET_PATH set, partition by partition (by school).
    """
    from core.cluster import worker_count
    from features.build import features_as_of
    from features.partitions import PartitionError, features_by_partition, plan_partitions
    from features.sources import Sources
    from schooldata.db import make_engine

    day = _parse_date(as_of)
    settings = _settings()
    with _dask(settings) as client, _progress() as progress:
        if settings.dask_address or settings.dataset_path:
            progress.add_task(f"features as of {day.date()}, by partition", total=None)
            try:
                tasks = plan_partitions(
                    settings.database_url,
                    settings.dataset_path,
                    students_per_task=settings.students_per_task,
                    workers=worker_count(client),
                )
            except PartitionError as error:
                console.print(f"[red]{error}[/red]")
                raise typer.Exit(2) from None
            rows = features_by_partition(tasks, day, client)
        else:
            progress.add_task("reading sources", total=None)
            sources = Sources.from_database(make_engine(settings.database_url))
            progress.add_task(f"features as of {day.date()}", total=None)
            rows = features_as_of(sources, day)
    if rows.empty:
        console.print(f"[yellow]No student is enrolled in a term containing {day.date()}.[/yellow]")
        raise typer.Exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        rows.to_csv(out, index=False, encoding="utf-8-sig")
    else:
        rows.to_parquet(out, index=False)
    console.print(
        f"Wrote {len(rows):,} students × {rows.shape[1]} columns as of {day.date()} to {out}"
    )


def _parse_date(text: str):  # type: ignore[no-untyped-def]
    import pandas as pd

    try:
        return pd.Timestamp(date.fromisoformat(text))
    except ValueError:
        console.print(f"[red]Not a date: {text!r}; use YYYY-MM-DD.[/red]")
        raise typer.Exit(2) from None


@app.command()
def train(
    config: Annotated[
        Path | None, typer.Option(help="TOML config (defaults: training/defaults.toml).")
    ] = None,
    horizon_days: Annotated[
        int | None, typer.Option(min=1, max=1095, help="Days ahead a dropout counts.")
    ] = None,
    train_until: Annotated[
        str | None, typer.Option(help="Last as-of date of training, YYYY-MM-DD.")
    ] = None,
    test_from: Annotated[
        str | None, typer.Option(help="First as-of date of the test period.")
    ] = None,
) -> None:
    """Train, evaluate against baselines, audit fairness, log to MLflow, register a challenger."""
    from features.partitions import PartitionError
    from schooldata.db import make_engine
    from training.config import TrainConfig
    from training.split import SplitError
    from training.train import train as run_training

    settings = _settings()
    try:
        train_config = TrainConfig.load(config)
    except (OSError, ValueError) as error:
        console.print(f"[red]Bad config: {error}[/red]")
        raise typer.Exit(2) from None
    if horizon_days is not None:
        train_config.labels.horizon_days = horizon_days
    if train_until is not None:
        train_config.split.train_until = _parse_date(train_until).date()
    if test_from is not None:
        train_config.split.test_from = _parse_date(test_from).date()
    with _dask(settings) as client, _progress() as progress:
        task = progress.add_task("training", total=None)
        try:
            result = run_training(
                settings,
                train_config,
                make_engine(settings.database_url),
                on_progress=_steps(progress, task),
                client=client,
            )
        except (SplitError, PartitionError) as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    _print_training(result)


def _print_training(result: Any) -> None:
    """What an analyst reads after ``ews train``: the split, the choice, the test, the guards."""
    split = result.plan.describe()
    console.print(
        f"Evaluation model learned from {split['train_from']} – {split['train_until']} "
        f"(outcomes known before the test); test {split['test_from']} – {split['test_until']}; "
        f"refit on every mature row to {split['refit_until']}"
    )
    console.print("Rows: " + ", ".join(f"{k} {v:,}" for k, v in result.rows.items()))
    console.print(f"Rolling-origin folds: {split['folds']}")
    for note in result.notes:
        console.print(f"[yellow]Note: {note}.[/yellow]")
    selection = result.selection
    console.print(
        f"Chosen on the folds: {selection.shape.name} shape, {selection.trees} trees"
        + ("" if selection.tuned else " (defaults: not chosen on data)")
    )
    if len(selection.fold_scores):
        folds = Table(title="Folds (mean ± spread over the folds)")
        folds.add_column("scorer")
        for metric in ("pr_auc", "roc_auc", "precision_at_capacity"):
            folds.add_column(metric, justify="right")
        for scorer, scores in selection.fold_scores.groupby("scorer"):
            folds.add_row(
                str(scorer),
                *(
                    f"{scores[m].mean():.4f} ± {scores[m].std():.4f}"
                    for m in ("pr_auc", "roc_auc", "precision_at_capacity")
                ),
            )
        console.print(folds)
    table = Table(title="Test period: model against baselines (same rows, same calibration)")
    table.add_column("metric")
    for name in ("LightGBM", "ABC rule", "Logistic regression"):
        table.add_column(name, justify="right")
    for metric, row in result.metrics.iterrows():
        table.add_row(str(metric), *(f"{v:.4f}" for v in row.to_numpy()))
    console.print(table)
    console.print("Intervals (95%, bootstrap over students):")
    for name, interval in result.intervals.items():
        console.print(f"  {name}: {interval}")
    calibration = Table(title="Calibration on the test period: observed against expected")
    for column in ("group", "rows", "mean risk", "observed rate", "observed / expected"):
        calibration.add_column(column, justify="left" if column == "group" else "right")
    for row in result.calibration.itertuples():
        calibration.add_row(
            str(row.group),
            f"{row.rows:,}",
            f"{row.mean_risk:.4f}",
            f"{row.observed_rate:.4f}",
            f"{row.observed_over_expected:.2f}",
        )
    console.print(calibration)
    console.print(f"Fairness flags: {', '.join(result.fairness_flags) or 'none'}")
    for problem in result.problems:
        console.print(f"[red bold]Guard: {problem}[/red bold]")
    verdict = (
        "[red]it will not be promoted unless forced[/red]"
        if result.problems
        else "it passed every guard"
    )
    console.print(
        f"Registered dropout-risk version {result.version} as challenger (run {result.run_id}); "
        f"{verdict}; {result.seconds:.0f} s, peak memory {result.peak_memory_gb:.1f} GB"
    )


@app.command()
def promote(
    force: Annotated[
        bool, typer.Option(help="Promote even if the challenger is not better.")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required with --force).")] = None,
) -> None:
    """Make the challenger champion when it is at least as good on the same test period."""
    from riskmodel.bundle import BundleError
    from schooldata.db import make_engine
    from training.promote import promote as run_promotion

    settings = _settings()
    try:
        decision = run_promotion(
            settings, make_engine(settings.database_url), force=force, reason=reason
        )
    except (BundleError, ValueError) as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    for line in decision.reasons:
        console.print(f"- {line}")
    if decision.promoted:
        console.print(f"[green]Version {decision.challenger_version} is now champion.[/green]")
    else:
        stays = (
            f"version {decision.champion_version} stays champion"
            if decision.champion_version
            else "there is still no champion, so nothing is served"
        )
        console.print(f"[yellow]Not promoted: {stays}.[/yellow]")
        raise typer.Exit(1)


@app.command()
def drift(as_of: Annotated[str, typer.Option(help="As-of date, YYYY-MM-DD.")]) -> None:
    """Compare today's feature distributions with the champion's training distribution (PSI)."""
    import tempfile

    from features.build import features_as_of
    from features.sources import Sources
    from riskmodel.bundle import BundleError
    from riskmodel.drift import drift_report
    from riskmodel.registry import CHAMPION, fetch_bundle
    from schooldata.db import make_engine
    from training.tracking import configure_tracking

    settings = _settings()
    configure_tracking(settings)
    with tempfile.TemporaryDirectory() as folder:
        try:
            bundle, version = fetch_bundle(settings.model_name, CHAMPION, Path(folder))
        except BundleError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    rows = features_as_of(
        Sources.from_database(make_engine(settings.database_url)), _parse_date(as_of)
    )
    if rows.empty:
        console.print(f"[yellow]No student is enrolled in a term containing {as_of}.[/yellow]")
        raise typer.Exit(1)
    report = drift_report(bundle, rows)
    table = Table(title=f"Drift as of {as_of} against champion version {version.version} (PSI)")
    for column in ("feature", "PSI", "missing then", "missing now", "status"):
        table.add_column(column, justify="left" if column in ("feature", "status") else "right")
    for row in report.head(15).itertuples():
        table.add_row(
            str(row.feature),
            f"{row.psi:.3f}",
            f"{row.missing_then:.1%}",
            f"{row.missing_now:.1%}",
            str(row.status),
        )
    console.print(table)
    moved = report[report["status"] == "moved"]["feature"].tolist()
    console.print(f"Features that moved (PSI > 0.25): {', '.join(moved) or 'none'}")


def _scorer(settings: Settings):  # type: ignore[no-untyped-def]
    import tempfile

    from serving.model_store import ModelUnavailable, load_scorer_bundle
    from serving.scoring import Scorer

    try:
        with tempfile.TemporaryDirectory(prefix="ews-model-") as folder:
            bundle, version = load_scorer_bundle(settings, Path(folder))
    except ModelUnavailable as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    if bundle.kind == "abc_rule":
        console.print(
            "[yellow]No model is registered yet: this list is ranked by the ABC rule "
            "(attendance, behaviour, course failure). The first sound model (ews train, "
            "ews promote) replaces it at the next run.[/yellow]"
        )
    return Scorer(bundle, version)


@app.command()
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
        bool,
        typer.Option(
            "--messages/--no-messages",
            help="Tell advisors and committees their list is ready (e-mail, webhook), "
            "when configured; --no-messages for a backfill of past weeks.",
        ),
    ] = True,
    scheduled: Annotated[
        bool, typer.Option("--scheduled", hidden=True, help="Run by the service's scheduler.")
    ] = False,
) -> None:
    """The weekly run: score and explain every enrolled student, store ranks and changes."""
    from rich.progress import BarColumn, MofNCompleteColumn

    from core.cluster import local_pool, worker_count
    from features.partitions import plan_partitions
    from schooldata.db import make_engine
    from serving.i18n import scorer_label
    from serving.schedule import WeekRunner
    from serving.scoring import weekly_run

    settings = _settings()
    day = _parse_date(as_of)
    partitioned = bool(settings.dask_address or settings.dataset_path) and school is None
    with (
        # Started first: the workers import the scoring code while the model loads.
        _dask(settings, preload=SCORING_CODE) as dask,
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
            engine = make_engine(settings.database_url)
            reports: list[Any] = []

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
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    verb = "Replaced" if report.replaced else "Stored"
    stages = ", ".join(f"{k.replace('_', ' ')} {v:.1f} s" for k, v in report.seconds.items())
    made_by = scorer_label(scorer.kind, report.model_version, "en")
    if school is not None and "school" in report.seconds:
        console.print(
            f"Recomputed school {school}'s list in the run of {day.date()} by the {made_by}: "
            f"{report.students:,} students ({stages})"
        )
    else:
        console.print(
            f"{verb} the run of {day.date()}: {report.students:,} students of "
            f"{len(report.schools) - len(report.stale)} schools ({stages})"
        )
        console.print(f"Ranked by the {made_by}.")
    _print_stale(report.stale, settings.stale_after_school_days)
    if messages and school is None and (settings.smtp_host or settings.webhook_url):
        from serving.messages import tell_about_run

        sent = tell_about_run(settings, make_engine(settings.database_url), report.run_id)
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


@app.command()
def effects(
    horizon_days: Annotated[
        int,
        typer.Option(min=1, max=1095, help="Days ahead a dropout counts (the labels' horizon)."),
    ] = 180,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="The simulator's truth/effects.csv (synthetic data): true effects beside "
            "the estimates."
        ),
    ] = None,
) -> None:
    """Estimate each intervention type's effect on leaving (doubly robust), log to MLflow."""
    from schooldata.db import make_engine
    from training.effects import measure_effects

    settings = _settings()
    started = time.perf_counter()
    with _progress() as progress:
        progress.add_task("building the as-of features and estimating", total=None)
        try:
            report = measure_effects(
                settings, make_engine(settings.database_url), horizon_days, truth
            )
        except ValueError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None
    table = Table(
        title=f"Effect on leaving within {horizon_days} days, among the students helped "
        f"({time.perf_counter() - started:.0f} s)"
    )
    columns = ["type", "treated", "left", "effect [95%]", "overlap", "E", "use?"]
    if report.simulated:
        columns.insert(4, "simulated")
    for column in columns:
        table.add_column(
            column,
            justify="left" if column in ("type", "use?") else "right",
            # Folded, not cut: the home visit's two group rows differ only at the end.
            overflow="fold" if column == "type" else "ellipsis",
        )
    for e in report.effects:
        estimate = (
            f"{e.effect:+.3f} [{e.low:+.3f}, {e.high:+.3f}]"
            if e.effect is not None and e.low is not None and e.high is not None
            else "–"
        )
        row = [
            e.type,
            f"{e.treated:,}",
            f"{e.left_treated:.1%}",
            estimate,
            f"{1 - e.outside_overlap:.0%}" if e.effect is not None else "–",
            f"{e.e_value:.2f}" if e.e_value is not None else "–",
            "[green]yes[/green]" if e.usable else "[yellow]no[/yellow]",
        ]
        if report.simulated:
            simulated = report.simulated.get(e.type)
            row.insert(4, f"{simulated:+.3f}" if simulated is not None else "–")
        table.add_row(*row)
    console.print(table)
    for e in report.effects:
        if not e.usable:
            console.print(f"[yellow]{e.type}: not usable: {e.why}[/yellow]")
    console.print(
        "An effect is a change in the chance of leaving (−0.010: one student fewer in a "
        "hundred helped). Overlap: the share of helped students with comparable students "
        f"who were not helped. E (the E-value): how strongly (as a risk ratio with both the help "
        f"and leaving) a reason to act that nobody recorded would have to work to explain "
        f"the effect away; 1 when the interval already holds no effect. Logged to MLflow "
        f"(run {report.run_id})."
    )
    console.print(
        f"Home-visit benefit order: {report.benefit_why}."
        + (
            " An analyst turns it on per school on the model page; committees then see it "
            "beside the risk order."
            if report.benefit is not None
            else ""
        )
    )


@app.command()
def missing(
    school: Annotated[
        list[str] | None, typer.Option(help="Only these schools (default: every school).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Write the ministry's report here (.xlsx or .csv, in Thai)."),
    ] = None,
) -> None:
    """The children to look for: the four counts by school, and the ministry's report."""
    from rich.table import Table

    from schooldata.db import make_engine, upgrade
    from serving.accounts import User
    from serving.worklist import counts
    from serving.worklist_report import report

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    # Counts only, as an area office (given schools) or an analyst (every school) sees them.
    viewer = (
        User(0, "ews missing", "area", None, None, schools=tuple(school))
        if school
        else User(0, "ews missing", "analyst", None, None)
    )
    found = counts(engine, viewer)
    if not found:
        console.print("No child to look for: every child enrolled last term is enrolled now.")
    table = Table("school", "to find", "not yet followed", "being followed", "found", "not found")
    for entry in found:
        found_count = sum(
            entry.statuses[s]
            for s in (
                "found_returning",
                "found_referred",
                "found_enrolled",
                "returned",
                "enrolled_elsewhere",
            )
        )
        table.add_row(
            entry.school_id,
            f"{entry.to_find:,}",
            f"{entry.statuses['not_followed']:,}",
            f"{entry.statuses['following']:,}",
            f"{found_count:,}",
            f"{entry.statuses['not_found']:,}",
        )
    if found:
        console.print(table)
    if out is not None:
        if out.suffix not in (".xlsx", ".csv"):
            console.print(f"[red]{out}: the report is written as .xlsx or .csv[/red]")
            raise typer.Exit(2)
        made = report(engine, viewer, "th")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(made.xlsx() if out.suffix == ".xlsx" else made.csv())
        console.print(f"The ministry's report (Thai) is in {out}.")


@app.command()
def outcomes(
    horizon_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=1095, help="Days ahead a dropout counts (default: the champion's)."
        ),
    ] = None,
) -> None:
    """Check every stored weekly list whose horizon has passed against who then left."""
    import tempfile

    from riskmodel.bundle import BundleError
    from riskmodel.registry import CHAMPION, fetch_bundle
    from schooldata.db import make_engine
    from training.outcomes import check_past_lists, overall
    from training.tracking import configure_tracking

    settings = _settings()
    if horizon_days is None:
        configure_tracking(settings)
        try:
            with tempfile.TemporaryDirectory() as folder:
                bundle, _ = fetch_bundle(settings.model_name, CHAMPION, Path(folder))
            horizon_days = int(bundle.metadata["horizon_days"])
        except BundleError:
            horizon_days = 180
    report = check_past_lists(settings, make_engine(settings.database_url), horizon_days)
    console.print(
        f"Judged {report.runs} weekly lists ({report.immature} more are too recent: their "
        f"{horizon_days}-day horizon has not passed)."
    )
    totals = overall(report.rows)
    if totals.empty:
        return
    table = Table(title="Each list against what happened (students, every school)")
    for column in (
        "model",
        "term",
        "weeks",
        "left",
        "found",
        "in time (4+ weeks)",
        "missed",
        "flagged",
        "helped",
    ):
        table.add_column(column, justify="left" if column in ("model", "term") else "right")
    for record in totals.to_dict("records"):
        table.add_row(
            f"v{record['model_version']}",
            f"{record['term']}/{record['academic_year']}",
            f"{record['weeks']:,}"
            + (f" ({record['backfilled_weeks']} backfilled)" if record["backfilled_weeks"] else ""),
            f"{record['left']:,}",
            f"{record['found']:,} ({record['share_found']:.0%})" if record["left"] else "0",
            f"{record['found_in_time']:,}",
            f"{record['missed']:,}",
            f"{record['flagged']:,}",
            f"{record['flagged_helped']:,}",
        )
    console.print(table)
    if totals["backfilled_weeks"].any():
        console.print(
            "[yellow]Backfilled weeks were scored after the fact, by a model that may have "
            "been trained on them: their figures flatter it. Judge a model on the lists it "
            "made week by week.[/yellow]"
        )
    _print_usage(settings)


def _print_usage(settings: Settings) -> None:
    """Whether the lists were used: beside who was found, what was done about it."""
    from rich.table import Table

    from schooldata.db import make_engine
    from serving.cases import usage

    weeks = usage(make_engine(settings.database_url))
    if not weeks:
        return
    table = Table(title="Were the lists used? (each school's weekly list)")
    for column in (
        "week",
        "schools",
        "lists opened",
        "flagged",
        "acted on in 7 days",
        "in 14 days",
    ):
        table.add_column(column, justify="right")
    by_week: dict[Any, list[Any]] = {}
    for week in weeks:
        by_week.setdefault(week.as_of, []).append(week)
    for as_of, rows in sorted(by_week.items()):
        flagged = sum(r.flagged for r in rows)
        acted_7, acted_14 = sum(r.acted_7 for r in rows), sum(r.acted_14 for r in rows)
        table.add_row(
            str(as_of),
            f"{len(rows):,}",
            f"{sum(r.lists_opened for r in rows):,}",
            f"{flagged:,}",
            f"{acted_7:,} ({acted_7 / flagged:.0%})" if flagged else "0",
            f"{acted_14:,} ({acted_14 / flagged:.0%})" if flagged else "0",
        )
    console.print(table)


@app.command()
def export(
    as_of: Annotated[str, typer.Option(help="As-of date, YYYY-MM-DD.")],
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
    school: Annotated[
        str | None, typer.Option(help="Only this school (default: all schools).")
    ] = None,
    lang: Annotated[
        str, typer.Option(help="Headers and words in Thai (th) or English (en).")
    ] = "th",
) -> None:
    """Write the week's list as CSV that Excel opens with Thai intact."""
    from schooldata.db import make_engine
    from serving.export import risk_list_frame, write_csv

    settings = _settings()
    try:
        frame = risk_list_frame(
            make_engine(settings.database_url),
            _parse_date(as_of).date(),
            school,
            actor=f"cli:{getpass.getuser()}",
            language="en" if lang == "en" else "th",
        )
    except LookupError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    write_csv(frame, out)
    console.print(f"Wrote {len(frame):,} students to {out}")


@app.command()
def status() -> None:
    """The weekly runs at a glance: last and next run, how long runs take, schools skipped
    as stale, failures with their error ids, messages, and the scorer making the lists."""
    from schooldata.db import make_engine, upgrade
    from serving.i18n import scorer_label
    from serving.operations import operations

    settings = _settings()
    engine = make_engine(settings.database_url)
    upgrade(engine)
    found = operations(settings, engine, limit=10)
    last = found.last_run
    if last is None:
        console.print("No list stored yet (the first weekly run makes one).")
    else:
        made_by = scorer_label(last["scorer"], last["model_version"], "en")
        console.print(
            f"Newest list: week of {last['as_of']}, {last['students']:,} students, by the "
            f"{made_by} (stored {last['created_at']:%Y-%m-%d %H:%M} UTC)"
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
    table = Table(title="Runs, newest first")
    for column in ("week", "kind", "school", "try", "status", "trigger", "took", "detail"):
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


@app.command()
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
    import logging

    import uvicorn

    from serving.app import create_app

    settings = _settings()
    _secret(settings, "session_secret")  # refused here, before anything starts
    scorer = _scorer(settings)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    # Access logs would print paths, and paths carry student ids: the app logs route templates.
    if workers > 1:  # each process builds the app from the same environment
        from serving.workers import ServeError
        from serving.workers import serve as serve_workers

        try:
            serve_workers("serving.app:app_from_environment", host, port, workers, access_log=False)
        except ServeError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(1) from None
        return
    uvicorn.run(create_app(settings, scorer), host=host, port=port, access_log=False)


users_app = typer.Typer(
    help="Staff accounts: passwords for people, expiring tokens for integrations.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")


def _accounts_engine() -> Any:
    from schooldata.db import make_engine

    return make_engine(_settings().database_url)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@users_app.command("create")
def users_create(
    role: Annotated[
        str, typer.Option(help="advisor, committee, data_officer, area, analyst or admin.")
    ],
    name: Annotated[str, typer.Option(help="The person's name.")],
    staff_id: Annotated[
        str | None, typer.Option(help="Advisor's advisor_id in the enrolment data.")
    ] = None,
    school: Annotated[
        str | None,
        typer.Option(help="The school (advisors, committee members, data officers)."),
    ] = None,
    schools: Annotated[
        str | None, typer.Option(help="An area office's schools, comma-separated.")
    ] = None,
    province: Annotated[
        str | None, typer.Option(help="An area office following every school of a province.")
    ] = None,
    username: Annotated[
        str | None,
        typer.Option(help="Sign-in name for the pages; a temporary password is printed."),
    ] = None,
    token_days: Annotated[int, typer.Option(min=1, max=3650, help="Days the token lasts.")] = 365,
    chair: Annotated[
        bool,
        typer.Option(
            "--chair",
            help="A committee member who chairs the care committee (reads protection and "
            "health notes).",
        ),
    ] = False,
) -> None:
    """Create an account; its token is printed once, alone on the last line."""
    from serving.accounts import (
        AccountError,
        create_user,
        schools_of_province,
        set_password,
        temporary_password,
    )

    engine = _accounts_engine()
    try:
        followed = [s.strip() for s in (schools or "").split(",") if s.strip()]
        if province:
            followed += schools_of_province(engine, province)
        user, token = create_user(
            engine,
            role,
            name,
            staff_id,
            school,
            username and username.lower(),
            token_days,
            schools=followed,
            actor=_actor(),
            chair=chair,
        )
        if username:
            temporary = temporary_password()
            set_password(engine, user.user_id, temporary, _actor(), must_change=True)
    except AccountError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Created {user.role} account {user.user_id} ({user.name}).")
    if user.schools:
        console.print(f"It follows {len(user.schools)} schools: {', '.join(user.schools)}.")
    if username:
        console.print(
            f"Sign-in name {user.username}, temporary password (to change at first sign-in): "
            f"{temporary}"
        )
    console.print(f"The token lasts {token_days} days and is shown once:")
    print(token)


@users_app.command("list")
def users_list() -> None:
    """Every account: role, scope, whether it is active. No secret is shown."""
    from serving.accounts import list_users

    table = Table(title="Accounts")
    for column in ("id", "role", "name", "username", "scope", "active", "token expires"):
        table.add_column(column)
    for user in list_users(_accounts_engine()):
        scope = ", ".join(user["schools"]) or " / ".join(
            str(v) for v in (user["school_id"], user["staff_id"]) if v
        )
        table.add_row(
            str(user["user_id"]),
            user["role"],
            user["name"],
            user["username"] or "",
            scope or "all (no student data)" if user["role"] in ("analyst", "admin") else scope,
            "yes" if user["active"] else "no",
            str(user["token_expires_at"] or "")[:10],
        )
    console.print(table)


@users_app.command("revoke")
def users_revoke(user_id: Annotated[int, typer.Argument(help="The account's number.")]) -> None:
    """Deactivate an account: its token stops working and its sessions end at once."""
    from serving.accounts import AccountError, revoke

    try:
        revoke(_accounts_engine(), user_id, _actor())
    except AccountError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Account {user_id} is revoked; its token and sessions no longer work.")


@users_app.command("rotate")
def users_rotate(
    user_id: Annotated[int, typer.Argument(help="The account's number.")],
    token_days: Annotated[int, typer.Option(min=1, max=3650, help="Days the token lasts.")] = 365,
) -> None:
    """Give an account a new token; the old one stops working. Printed once, last line."""
    from serving.accounts import AccountError, rotate_token

    try:
        token = rotate_token(_accounts_engine(), user_id, _actor(), token_days)
    except AccountError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"New token for account {user_id} (lasts {token_days} days), shown once:")
    print(token)


@users_app.command("reset-password")
def users_reset_password(
    user_id: Annotated[int, typer.Argument(help="The account's number.")],
) -> None:
    """Set a temporary password (to change at first sign-in); sessions end."""
    from serving.accounts import AccountError, set_password, temporary_password

    temporary = temporary_password()
    try:
        set_password(_accounts_engine(), user_id, temporary, _actor(), must_change=True)
    except AccountError as error:
        console.print(f"[red]{error}[/red]")
        raise typer.Exit(2) from None
    console.print(f"Temporary password for account {user_id}, to change at first sign-in:")
    print(temporary)


audit_app = typer.Typer(help="The audit log of reads and writes of students' records.")
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit log's hash chain: every row follows the one before, unchanged."""
    from schooldata.audit import verify

    result = verify(_accounts_engine())
    if result.broken_at is not None:
        console.print(
            f"[red]The audit log is broken at row {result.broken_at}: it {result.reason}. "
            f"Rows were changed, removed or forged there.[/red]"
        )
        raise typer.Exit(1)
    console.print(f"The audit log is intact: {result.rows:,} rows, each following the last.")


@app.command()
def contract(
    out: Annotated[Path, typer.Option(help="Where to write the data dictionary.")] = Path(
        "docs/data-dictionary.md"
    ),
) -> None:
    """Write the data dictionary generated from the data contract."""
    from schooldata.contract import data_dictionary_markdown

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(data_dictionary_markdown() + "\n", encoding="utf-8")
    console.print(f"Wrote {out}")


@app.command()
def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the synthetic data directory goes.")] = Path(
        "data/synth"
    ),
    students: Annotated[int, typer.Option(min=50)] = 12_000,
    schools: Annotated[int, typer.Option(min=3)] = 20,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Stop before serving.")] = False,
) -> None:
    """Run the whole job on synthetic data: synth → ingest (→ train → promote → score →
    check past lists → estimate effects → serve)."""
    console.rule("1. Synthetic data")
    synth(
        out=data_dir,
        schools=schools,
        students=students,
        years=3,
        first_year=2566,
        seed=0,
        defect_rate=0.002,
        school_files=2,
    )
    console.rule("2. Ingest")
    try:
        ingest(directory=data_dir, rejects_dir=None)
    except typer.Exit as exit_:
        if exit_.exit_code:
            raise
    console.rule("3. Train")
    train(config=None, horizon_days=None, train_until=None, test_from=None)
    console.rule("4. Promote")
    try:
        promote(force=False, reason=None)
    except typer.Exit as exit_:
        if exit_.exit_code:
            console.print("The champion stays; the demo goes on with it.")
    settings = _settings()
    past, recent = _demo_weeks(settings)
    console.rule(f"5. Weekly scoring: {len(past)} past weeks, then the last {len(recent)}")
    console.print(
        "Past weeks are backfilled, so that their lists can be checked against who left; "
        "the last weeks show a season of lists (new and moved students, risk over time)."
    )
    for day in [*past, *recent]:
        score(as_of=day, school=None, messages=day in recent[-1:])
    console.rule("6. Each past list against what happened")
    outcomes(horizon_days=None)
    console.rule("7. Which help worked (against the simulator's truth)")
    effects(horizon_days=180, truth=data_dir / "truth" / "effects.csv")
    console.rule("8. Children to look for (not enrolled anywhere this term)")
    missing(school=None, out=Path("data/missing-children.xlsx"))
    console.rule("9. Accounts (one per role)")
    tokens = _demo_accounts(settings)
    if no_serve:
        console.print(
            "Done. Start the service with [bold].venv/bin/ews serve[/bold], then sign in at "
            f"http://127.0.0.1:8000/login with an account above (also in {DEMO_ACCOUNTS})."
        )
        return
    console.rule("10. Serving on http://127.0.0.1:8000 (Ctrl-C stops)")
    advisor = tokens["advisor"]
    console.print("Try:")
    console.print("  curl http://127.0.0.1:8000/health")
    console.print(
        f'  curl -H "Authorization: Bearer {advisor}" http://127.0.0.1:8000/api/v1/risk-list'
    )
    console.print(
        f'  curl -H "Authorization: Bearer {tokens["committee"]}" '
        f"http://127.0.0.1:8000/api/v1/schools/{tokens['school']}/home-visit-plan"
    )
    console.print("  API documentation: http://127.0.0.1:8000/docs")
    serve(host="127.0.0.1", port=8000)


DEMO_RECENT_WEEKS = 5
DEMO_ACCOUNTS = Path("data/demo-accounts.txt")
DEMO_PAST_WEEKS = 6


def _demo_weeks(settings: Settings) -> tuple[list[str], list[str]]:
    """Mondays to score in the demo: every other week of the latest term whose horizon
    has passed in the data (its lists can be judged), then the last weeks of the data."""
    import pandas as pd
    import sqlalchemy as sa

    from schooldata.calendar import Calendar
    from schooldata.db import make_engine, read_table
    from schooldata.tables import TABLES
    from training.config import TrainConfig

    engine = make_engine(settings.database_url)
    with engine.connect() as connection:
        newest = connection.execute(sa.select(sa.func.max(TABLES["attendance"].c.date))).scalar()
    if newest is None:
        raise ValueError("no attendance in the database: nothing to score")
    enrollments = read_table(engine, "enrollments", columns=["academic_year"])
    calendar = Calendar.build(read_table(engine, "calendar"), enrollments["academic_year"].unique())
    end = pd.Timestamp(newest)
    mondays = calendar.mondays(end=end.date())
    recent = list(mondays[-DEMO_RECENT_WEEKS:])
    horizon = pd.Timedelta(days=TrainConfig.load().labels.horizon_days)
    terms = calendar.table[calendar.table["school_id"] == ""]
    past: list[pd.Timestamp] = []
    for start, stop in zip(
        terms.sort_values("start_date", ascending=False)["start_date"],
        terms.sort_values("start_date", ascending=False)["end_date"],
        strict=True,
    ):
        first, last = pd.Timestamp(start), pd.Timestamp(stop)
        weeks = [d for d in mondays if first <= d <= last and d + horizon <= end]
        if len(weeks) >= 4:
            past = weeks[::2][-DEMO_PAST_WEEKS:]
            break
    return [str(d.date()) for d in past], [str(d.date()) for d in recent]


def _demo_accounts(settings: Settings) -> dict[str, str]:
    """One account per role, tied to a school and advisor of the latest list who follow
    returned children (else those at its top; the area office follows that school's
    province): a username with a temporary password for the pages, and a token for the
    API."""
    import secrets as random
    from datetime import date, timedelta

    import sqlalchemy as sa

    from schooldata.db import make_engine
    from schooldata.tables import TABLES, score_runs, student_returns, student_scores
    from serving.accounts import create_user, set_password, temporary_password

    engine = make_engine(settings.database_url)
    schools = TABLES["schools"]
    with engine.connect() as connection:
        latest = connection.execute(sa.select(sa.func.max(student_scores.c.run_id))).scalar()
        week = connection.execute(
            sa.select(score_runs.c.as_of).where(score_runs.c.run_id == latest)
        ).scalar()
        recent = (week or date.today()) - timedelta(days=180 * settings.follow_returned_terms)
        # An advisor following children who came back to school, so the demo shows them;
        # else the advisor of the school's riskiest student.
        top = (
            connection.execute(
                sa.select(student_scores.c.school_id, student_scores.c.advisor_id)
                .join(
                    student_returns,
                    (student_returns.c.school_id == student_scores.c.school_id)
                    & (student_returns.c.student_id == student_scores.c.student_id),
                )
                .where(
                    (student_scores.c.run_id == latest) & (student_returns.c.returned_on >= recent)
                )
                .group_by(student_scores.c.school_id, student_scores.c.advisor_id)
                .order_by(sa.func.count().desc(), student_scores.c.school_id)
                .limit(1)
            ).first()
            or connection.execute(
                sa.select(student_scores.c.school_id, student_scores.c.advisor_id)
                .order_by(student_scores.c.run_id.desc(), student_scores.c.rank_in_school)
                .limit(1)
            ).one()
        )
        province = connection.execute(
            sa.select(schools.c.province).where(schools.c.school_id == top.school_id)
        ).scalar()
        area = list(
            connection.execute(
                sa.select(schools.c.school_id).where(schools.c.province == province)
            ).scalars()
        ) or [top.school_id]
    suffix = random.token_hex(2)  # a second demo in the same database gets new names
    people: dict[str, tuple[str, str | None, str | None, list[str]]] = {
        "advisor": ("ครูที่ปรึกษา (demo)", top.advisor_id, top.school_id, []),
        "committee": ("กรรมการดูแลช่วยเหลือ (demo)", None, top.school_id, []),
        "data_officer": ("เจ้าหน้าที่ข้อมูล (demo)", None, top.school_id, []),
        "area": (f"เขตพื้นที่ {province or ''} (demo)", None, None, area),
        "analyst": ("นักวิเคราะห์ (demo)", None, None, []),
        "admin": ("ผู้ดูแลระบบ (demo)", None, None, []),
    }
    tokens: dict[str, str] = {}
    lines = []
    for role, (name, staff_id, school_id, followed) in people.items():
        username = f"{role.replace('_', '-')}-{suffix}"
        user, token = create_user(
            engine, role, name, staff_id, school_id, username, schools=followed, actor=_actor()
        )
        password = temporary_password()
        set_password(engine, user.user_id, password, _actor(), must_change=True)
        tokens[role] = token
        lines.append(f"{role:<13} username {username:<20} password {password}  token {token}")
    # Whole, never cut to the terminal's width, and kept in a file only its owner reads.
    console.print("Demo accounts (passwords are temporary: change them at first sign-in):")
    for line in lines:
        console.print(line, soft_wrap=True, highlight=False, markup=False)
    DEMO_ACCOUNTS.parent.mkdir(parents=True, exist_ok=True)
    DEMO_ACCOUNTS.touch(mode=0o600, exist_ok=True)
    DEMO_ACCOUNTS.chmod(0o600)
    DEMO_ACCOUNTS.write_text("\n".join(lines) + "\n", encoding="utf-8")
    console.print(f"(also in {DEMO_ACCOUNTS}, readable by you only)")
    console.print(
        f"(advisor {top.advisor_id} and committee of school {top.school_id}; the area office "
        f"follows {', '.join(area)})"
    )
    return tokens | {"school": top.school_id}


if __name__ == "__main__":
    app()
