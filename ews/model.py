"""Commands of the analyst's term: train, promote, drift, effects, and the lists
against what happened."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

if TYPE_CHECKING:
    import pandas as pd

from core.settings import Settings
from ews.common import (
    console,
    dask_or_exit,
    database,
    fail,
    load_settings,
    parse_date,
    progress_bar,
    steps,
)


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
    from schooldata.partitions import PartitionError
    from training.config import TrainConfig
    from training.split import SplitError
    from training.train import train as run_training

    settings = load_settings()
    try:
        train_config = TrainConfig.load(config)
    except (OSError, ValueError) as error:
        fail(f"Bad config: {error}")
    if horizon_days is not None:
        train_config.labels.horizon_days = horizon_days
    if train_until is not None:
        train_config.split.train_until = parse_date(train_until).date()
    if test_from is not None:
        train_config.split.test_from = parse_date(test_from).date()
    with dask_or_exit(settings) as client, progress_bar() as progress:
        task = progress.add_task("training", total=None)
        try:
            result = run_training(
                settings,
                train_config,
                database(settings),
                on_progress=steps(progress, task),
                client=client,
            )
        except (SplitError, PartitionError) as error:
            fail(str(error))
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
        f"Chosen on the folds: {selection.shape.name} shape, {selection.trees} trees "
        f"({selection.reason})"
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
    console.print(
        _found_by_group(
            "Found in time by group: the LightGBM model's weekly home-visit plans, each "
            "school at its capacity (students who left; 95% intervals over students)",
            result.fairness.found_in_time,
        )
    )
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


def promote(
    force: Annotated[
        bool, typer.Option(help="Promote even if the challenger is not better.")
    ] = False,
    reason: Annotated[str | None, typer.Option(help="Why (required with --force).")] = None,
) -> None:
    """Make the challenger champion when it is at least as good on the same test period."""
    from riskmodel.bundle import BundleError
    from training.promote import promote as run_promotion

    settings = load_settings()
    try:
        decision = run_promotion(settings, database(settings), force=force, reason=reason)
    except (BundleError, ValueError) as error:
        fail(str(error))
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


def drift(
    as_of: Annotated[
        str | None, typer.Option(help="As-of date, YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Compare a week's feature distributions with the champion's training distribution
    (PSI), week of term by week of term."""
    import tempfile

    import pandas as pd

    from core.clock import today
    from features.build import features_as_of
    from features.catalog import catalog_entries
    from features.sources import Sources
    from riskmodel.bundle import BundleError
    from riskmodel.input_counts import drift_report
    from riskmodel.registry import CHAMPION, fetch_bundle
    from training.tracking import configure_tracking

    settings = load_settings()
    configure_tracking(settings)
    with tempfile.TemporaryDirectory() as folder:
        try:
            bundle, version = fetch_bundle(settings.model_name, CHAMPION, Path(folder))
        except BundleError as error:
            fail(str(error))
    unfed = bundle.inputs_built_otherwise(catalog_entries())
    if unfed:
        fail(
            f"champion version {version.version} needs inputs this version no longer builds "
            f"as it learned them ({', '.join(unfed)}): train and promote a model with this "
            "version (ews train, ews promote), then measure drift against it"
        )
    day = parse_date(as_of) if as_of else pd.Timestamp(today())
    rows = features_as_of(Sources.from_database(database(settings)), day)
    if rows.empty:
        console.print(f"[yellow]No student is enrolled in a term containing {day.date()}.[/yellow]")
        raise typer.Exit(1)
    report = drift_report(bundle, rows)
    if report.empty:
        console.print(
            f"[yellow]Nothing to compare as of {day.date()}: the champion's training data "
            "has no week of term like this one with enough students (the week a term "
            "ends is never compared: by its last day the graduates have left).[/yellow]"
        )
        return
    table = Table(
        title=f"Drift as of {day.date()} against champion version {version.version} (PSI)"
    )
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


def effects(
    horizon_days: Annotated[
        int,
        typer.Option(min=1, max=1095, help="Days ahead a dropout counts (the labels' horizon)."),
    ] = 180,
    truth: Annotated[
        Path | None,
        typer.Option(
            help="The simulator's truth/effects.csv (synthetic data): beside each "
            "estimate, the simulated effect of all the help its students had that term."
        ),
    ] = None,
) -> None:
    """Estimate each intervention type's effect on leaving (doubly robust), log to MLflow."""
    from serving.i18n import signed
    from training.effects import measure_effects

    settings = load_settings()
    started = time.perf_counter()
    with progress_bar() as progress:
        progress.add_task("building the as-of features and estimating", total=None)
        try:
            report = measure_effects(settings, database(settings), horizon_days, truth)
        except ValueError as error:
            fail(str(error))
    table = Table(
        title=f"Effect on leaving within {horizon_days} days, among the students helped "
        f"({time.perf_counter() - started:.0f} s)"
    )
    columns = ["type", "treated", "left", "effect [95%]", "overlap", "E", "estimable"]
    if report.simulated:
        columns.insert(4, "simulated")
    for column in columns:
        table.add_column(
            column,
            justify="left" if column in ("type", "estimable") else "right",
            # Folded, not cut: the home visit's two group rows differ only at the end.
            overflow="fold" if column == "type" else "ellipsis",
        )
    for e in report.effects:
        estimate = (
            f"{signed(e.effect)} [{signed(e.low)}, {signed(e.high)}]"
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
            row.insert(4, signed(simulated) if simulated is not None else "–")
        table.add_row(*row)
    console.print(table)
    for e in report.effects:
        if not e.usable:
            console.print(f"[yellow]{e.type}: not estimable: {e.why}[/yellow]")
    console.print(
        "An effect is a change in the chance of leaving (−0.010: one student fewer in a "
        "hundred helped): what all of a term's help did for the students whose help that "
        "term included the type, against students given none that term. Overlap: the "
        "share of helped students with comparable students who were not helped. E (the "
        "E-value): how strongly (as a risk ratio with both the help and leaving) a reason "
        "to act that nobody recorded would have to work to explain the effect away; 1 when "
        "the interval already holds no effect. Estimable: enough "
        "comparable records to estimate an effect, whatever it is. Logged to MLflow "
        f"(run {report.run_id})."
        + (
            " Simulated: the simulator's own effect of that help, the same students' and terms'."
            if report.simulated
            else ""
        )
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


def _found_by_group(title: str, groups: pd.DataFrame) -> Table:
    """``training.fairness.found_in_time_by_group``'s table, for the terminal."""
    found = Table(title=title)
    for column in ("attribute", "group"):
        found.add_column(column)
    for column in ("left", "4+ weeks before", "8+ weeks before", "median lead"):
        found.add_column(column, justify="right")
    for row in groups.to_dict("records"):
        found.add_row(
            str(row["attribute"]),
            str(row["group"]),
            f"{row['left']:,}",
            *(
                f"{row[f'found_{w}w']}/{row['left']} (too few to judge)"
                if row["too_few"]
                else f"{row[f'share_found_{w}w']:.0%} "
                f"[{row[f'low_{w}w']:.0%}, {row[f'high_{w}w']:.0%}]"
                for w in (4, 8)
            ),
            f"{row['median_lead_weeks']:.1f} weeks",
        )
    return found


def outcomes(
    horizon_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=1095, help="Days ahead a dropout counts (default: the champion's)."
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(help="TOML config whose \\[fairness] section sets the groups' bootstrap."),
    ] = None,
) -> None:
    """Check every stored weekly list whose horizon has passed against who then left."""
    import tempfile

    from riskmodel.bundle import BundleError
    from riskmodel.registry import CHAMPION, fetch_bundle
    from schooldata.db import upgrade
    from training.config import TrainConfig
    from training.outcomes import check_past_lists, overall
    from training.tracking import configure_tracking

    settings = load_settings()
    try:
        fairness = TrainConfig.load(config).fairness
    except (OSError, ValueError) as error:
        fail(f"Bad config: {error}")
    if horizon_days is None:
        configure_tracking(settings)
        try:
            with tempfile.TemporaryDirectory() as folder:
                bundle, _ = fetch_bundle(settings.model_name, CHAMPION, Path(folder))
            horizon_days = int(bundle.metadata["horizon_days"])
        except BundleError:
            horizon_days = 180
    engine = database(settings)
    upgrade(engine)  # it stores its figures: a database of an older version gains their columns
    report = check_past_lists(settings, engine, horizon_days, config=fairness)
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
        "8+ weeks",
        "on a plan 4+ weeks",
        "on a plan 8+ weeks",
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
            f"{record['found_8w']:,}",
            f"{record['planned_in_time']:,}",
            f"{record['planned_8w']:,}",
            f"{record['missed']:,}",
            f"{record['flagged']:,}",
            f"{record['flagged_helped']:,}",
        )
    console.print(table)
    console.print(
        "Found: on the list (high or watch) in some week before leaving. On a plan: the "
        "school's weekly home-visit plan replayed from its lists (its capacity a week, in "
        "list order, leaving out whom it took in the 30 days before), as a committee "
        "works through it."
    )
    for plans in report.on_plans:
        found = plans.overall
        console.print(
            f"v{plans.model_version}, every judged list, each child once: of {found.left:,} "
            f"who left, on a home-visit plan 4+ weeks before leaving {found.found_4w}, 8+ "
            f"weeks {found.found_8w}; median lead {found.median_lead_weeks:.1f} weeks (0 "
            "for a child no plan took before leaving)."
        )
        console.print(
            _found_by_group(
                f"Found in time by group: v{plans.model_version}'s home-visit plans, each "
                "school at its capacity (students who left; 95% intervals over students)",
                plans.by_group,
            )
        )
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

    from serving.cases import usage

    weeks = usage(database(settings))
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
