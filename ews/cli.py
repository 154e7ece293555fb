"""The ``ews`` command: one entry point for analysts, operators and the demo."""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.settings import Settings

app = typer.Typer(help="Dropout early-warning service for Thai schools.", no_args_is_help=True)
console = Console()


def _settings() -> Settings:
    return Settings()


def _progress() -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    )


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
) -> None:
    """Write a synthetic data directory in the data contract's format."""
    from features.synthetic import SynthConfig, dropout_rates_by_level, generate, write_directory

    started = time.perf_counter()
    config = SynthConfig(schools, students, years, first_year, seed, defect_rate)
    with _progress() as progress:
        progress.add_task("simulating schools", total=None)
        result = generate(config)
        progress.add_task(f"writing {out}", total=None)
        write_directory(result, out)
    table = Table(title=f"Synthetic data in {out} ({time.perf_counter() - started:.1f} s)")
    table.add_column("source")
    table.add_column("rows", justify="right")
    for name, frame in result.frames.items():
        table.add_row(name, f"{len(frame):,}")
    console.print(table)
    _print_rates(dropout_rates_by_level(result.frames))
    console.print(f"Injected defects (rows ingest must reject): {sum(result.defects.values()):,}")


def _print_rates(rates) -> None:  # type: ignore[no-untyped-def]
    table = Table(
        title="Annual dropout rate by level (dropout exits + unexplained non-continuation)"
    )
    for column in ("level", "student-years", "dropouts", "rate"):
        table.add_column(column, justify="right" if column != "level" else "left")
    for level, row in rates.iterrows():
        table.add_row(
            str(level), f"{row.student_years:,}", f"{row.dropouts:,}", f"{row.annual_rate:.2%}"
        )
    console.print(table)


@app.command()
def ingest(
    directory: Annotated[
        Path, typer.Argument(help="Data directory (one CSV or Parquet file per source).")
    ],
    rejects_dir: Annotated[Path | None, typer.Option(help="Where rejects reports go.")] = None,
) -> None:
    """Validate a data directory and load it into the operational database."""
    from features.db import make_engine
    from features.ingest import ingest_directory

    settings = _settings()
    engine = make_engine(settings.database_url)
    rejects = rejects_dir or settings.rejects_dir
    with _progress() as progress:
        task = progress.add_task("ingest", total=None)
        try:
            report = ingest_directory(
                directory,
                engine,
                settings.id_hash_key.get_secret_value(),
                rejects,
                on_progress=lambda m: progress.update(task, description=m),
            )
        except FileNotFoundError as error:
            console.print(f"[red]{error}[/red]")
            raise typer.Exit(2) from None

    timing = f"{report.seconds:.1f} s, writing {report.write_seconds:.1f} s"
    table = Table(title=f"Ingest of {directory} ({timing})")
    for column in ("file", "read", "loaded", "rejected", "status"):
        table.add_column(column, justify="left" if column in ("file", "status") else "right")
    for s in report.sources:
        status = f"[red]refused: {s.refused}[/red]" if s.refused else "ok"
        table.add_row(
            s.file, f"{s.rows_read:,}", f"{s.rows_loaded:,}", f"{s.rows_rejected:,}", status
        )
    console.print(table)
    reasons = report.rejects_by_reason()
    if len(reasons):
        by_reason = Table(title=f"Rejected rows by reason (details in {rejects}/)")
        for column in ("source", "column", "reason", "rows"):
            by_reason.add_column(column, justify="right" if column == "rows" else "left")
        for row in reasons.itertuples():
            by_reason.add_row(row.source, row.column, row.reason, f"{row.rows:,}")
        console.print(by_reason)
    attendance = next(
        (s for s in report.sources if s.source == "attendance" and not s.refused), None
    )
    if attendance and report.seconds > 0:
        console.print(
            f"Attendance: {attendance.rows_loaded:,} rows in a {report.seconds:.1f} s load"
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
    """Write one feature row per enrolled student as of a date."""
    from features.build import features_as_of
    from features.db import make_engine
    from features.sources import Sources

    day = _parse_date(as_of)
    settings = _settings()
    with _progress() as progress:
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
def contract(
    out: Annotated[Path, typer.Option(help="Where to write the data dictionary.")] = Path(
        "docs/data-dictionary.md"
    ),
) -> None:
    """Write the data dictionary generated from the data contract."""
    from features.contract import data_dictionary_markdown

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
    """Run the whole job on synthetic data: synth → ingest (→ train → promote → score → serve)."""
    console.rule("1. Synthetic data")
    synth(
        out=data_dir,
        schools=schools,
        students=students,
        years=3,
        first_year=2566,
        seed=0,
        defect_rate=0.002,
    )
    console.rule("2. Ingest")
    try:
        ingest(directory=data_dir, rejects_dir=None)
    except typer.Exit as exit_:
        if exit_.exit_code:
            raise
    del no_serve


if __name__ == "__main__":
    app()
