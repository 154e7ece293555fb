"""Commands of data: synthetic data, ingest, features, the children to look for, the
weekly export and the data contract."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    import sqlalchemy as sa

from ews.common import (
    actor,
    console,
    dask_or_exit,
    database,
    fail,
    load_settings,
    parse_date,
    progress_bar,
    secret_or_exit,
)
from schooldata.validate import second_column


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
    with progress_bar() as progress:
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
        f"{sum(result.blanked.values()):,} optional values it must blank with a warning, "
        f"{sum(result.not_linked.values()):,} students given a national ID that is not "
        "theirs alone (a column filled down, one ID at two schools) it must link to nobody"
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


def ingest(
    directory: Annotated[
        Path,
        typer.Argument(
            help="Data directory: a file per source named after it in English or Thai "
            "(students.xlsx, นักเรียน.xlsx; CSV, Excel, LibreOffice or Parquet), or several in "
            "a folder named after it; schools' own in schools/<school_id>/. A file under "
            "another name is read by its headers when it is the only one of its data there; "
            "the report names every file not read, and why."
        ),
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
    from schooldata.ingest import ingest_directory

    settings = load_settings()
    engine = database(settings)
    rejects = rejects_dir or settings.rejects_dir
    with progress_bar() as progress:
        task = progress.add_task("ingest", total=None)
        try:
            report = ingest_directory(
                directory,
                engine,
                secret_or_exit(settings, "id_hash_key"),
                rejects,
                on_progress=lambda m: progress.update(task, description=m),
                dataset=dataset,
            )
        except FileNotFoundError as error:
            fail(str(error))

    from serving import i18n

    timing = f"{report.seconds:.1f} s, writing {report.write_seconds:.1f} s"
    table = Table(title=f"Ingest of {directory} ({timing})")
    for column in (
        "file",
        "data",
        "read",
        "loaded",
        "rejected",
        "values blanked",
        "covers",
        "status",
    ):
        table.add_column(
            column, justify="left" if column in ("file", "data", "covers", "status") else "right"
        )
    for s in report.sources:
        # A file's name, its columns and values are the school's: printed as written,
        # never read as markup ("นักเรียน [สำรอง].xlsx").
        status = f"[red]refused: {escape(s.refused)}[/red]" if s.refused else "ok"
        table.add_row(
            escape(s.file),
            s.source,  # a class list is read twice: as students and as enrolments
            f"{s.rows_read:,}",
            f"{s.rows_loaded:,}",
            f"{s.rows_rejected:,}",
            f"{s.values_blanked:,}",
            i18n.covered(s.terms, s.dates, "en"),
            status,
        )
    console.print(table)
    reasons = report.rejects_by_reason()
    if len(reasons):
        by_reason = Table(
            title="Rows rejected, values blanked, corrected or not linked, by reason "
            f"(details in {rejects}/)"
        )
        for column in ("source", "column", "reason", "what happened", "rows"):
            by_reason.add_column(column, justify="right" if column == "rows" else "left")
        for row in reasons.itertuples():
            action = {
                "rejected": "row rejected",
                "blanked": "value blanked, row kept",
                "corrected": "value corrected, row kept",
                "not linked": "row kept, not linked by this ID",
            }[str(row.action)]
            by_reason.add_row(
                str(row.source),
                escape(str(row.column)),
                escape(str(row.reason)),
                action,
                f"{row.rows:,}",
            )
        console.print(by_reason)
    for file, reason in report.not_read:
        console.print(f"[yellow]Not read: {escape(file)}: {escape(reason)}.[/yellow]")
    for file, notes in report.unread().items():
        unknown = [note for note in notes if second_column(note) is None]
        if unknown:
            console.print(
                f"[yellow]Not read in {escape(file)}: {escape(', '.join(unknown))}. To keep "
                "these values, give each column its header in docs/data-dictionary.md, in the "
                "file of the data it belongs to.[/yellow]"
            )
        for note in notes:
            if second_column(note) is not None:
                console.print(f"[yellow]Read in part in {escape(file)}: {escape(note)}.[/yellow]")
    attendance = [s for s in report.sources if s.source == "attendance" and not s.refused]
    if attendance and report.seconds > 0:
        rows = sum(s.rows_loaded for s in attendance)
        registers = sum(s.rows_loaded for s in attendance if not s.file.endswith(".csv"))
        console.print(
            f"Loaded in {report.seconds:.1f} s; attendance: {rows:,} rows ({registers:,} of "
            "them from Excel class registers)"
        )
    if report.linking is not None:
        linking = report.linking
        console.print(
            f"Children across schools: {linking['with_id']:,} "
            f"{'student has' if linking['with_id'] == 1 else 'students have'} a national ID or "
            f"G code to link by, {linking['linked_across_schools']:,} of them are the same "
            f"child as a student of another school (a move or a transition); "
            f"{linking['without_id']:,} {'has' if linking['without_id'] == 1 else 'have'} no ID "
            "and cannot be linked."
        )
        if linking["shared_id"]:
            console.print(
                f"[yellow]{linking['shared_id']:,} students carry a national ID another student "
                "carries (of their school in the same term, or of another school on the same "
                "days at school): none of them is linked by it, nor looked for as one child, "
                "until it is corrected (the codes are in the report).[/yellow]"
            )
    if report.missing_opened:
        console.print(
            f"Children to look for: {report.missing_opened:,} new cases of children enrolled "
            "last term and enrolled nowhere now (or a P6 or M3 graduate enrolled nowhere "
            "this year), on each school's and area office's page /missing."
        )
    for surge in report.missing_surges:
        console.print(f"[yellow]{surge.warning()}.[/yellow]")
    if report.exit_code:
        for s in report.refused:
            console.print(
                f"[red]Refused {escape(s.file)}: {escape(str(s.refused))}. "
                "Nothing of it was loaded.[/red]"
            )
        raise typer.Exit(report.exit_code)


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
    from features.partitions import features_by_partition
    from features.sources import Sources
    from schooldata.partitions import PartitionError, plan_partitions

    day = parse_date(as_of)
    settings = load_settings()
    with dask_or_exit(settings) as client, progress_bar() as progress:
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
                fail(str(error))
            rows = features_by_partition(tasks, day, client)
        else:
            progress.add_task("reading sources", total=None)
            sources = Sources.from_database(database(settings))
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

    from schooldata.db import upgrade
    from serving.accounts import User
    from serving.worklist import counts
    from serving.worklist_report import report

    settings = load_settings()
    engine = database(settings)
    upgrade(engine)
    # Counts only, as an area office (given schools) or an analyst (every school) sees them.
    viewer = (
        User(0, "ews missing", "area", None, None, schools=tuple(school))
        if school
        else User(0, "ews missing", "analyst", None, None)
    )
    found = counts(engine, viewer)
    if not found:
        console.print(_nobody_to_look_for(engine, school))
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
            fail(f"{out}: the report is written as .xlsx or .csv")
        made = report(engine, viewer, "th")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(made.xlsx() if out.suffix == ".xlsx" else made.csv())
        console.print(f"The ministry's report (Thai) is in {out}.")


def _nobody_to_look_for(engine: sa.Engine, schools: list[str] | None) -> str:
    """Why no child is to be looked for: none left, or no enrolment loaded to tell."""
    import sqlalchemy as sa

    from schooldata.tables import TABLES

    enrollments = TABLES["enrollments"]
    loaded = sa.select(enrollments.c.school_id).limit(1)
    if schools:
        loaded = loaded.where(enrollments.c.school_id.in_(schools))
    with engine.connect() as connection:
        if connection.execute(loaded).first() is None:
            where = f" for {', '.join(schools)}" if schools else ""
            return f"No enrolment is loaded{where}: load the schools' files first (ews ingest)."
    return "No child to look for: every child enrolled last term is enrolled now."


def export(
    out: Annotated[Path, typer.Option(help="CSV file to write.")],
    as_of: Annotated[
        str | None,
        typer.Option(
            help="The list of the latest weekly run on or before this date, YYYY-MM-DD "
            "(default: the newest list)."
        ),
    ] = None,
    school: Annotated[
        str | None, typer.Option(help="Only this school (default: all schools).")
    ] = None,
    lang: Annotated[
        str, typer.Option(help="Headers and words in Thai (th) or English (en).")
    ] = "th",
) -> None:
    """Write the week's list as CSV that Excel opens with Thai intact."""
    from core.clock import today
    from serving.export import list_frame, write_csv
    from serving.i18n import scorer_label
    from serving.records import full_list

    settings = load_settings()
    day = parse_date(as_of).date() if as_of else today()
    try:
        listing = full_list(database(settings), day, school, actor=actor())
    except LookupError as error:
        fail(str(error))
    write_csv(list_frame(listing, language="en" if lang == "en" else "th"), out)
    made_by = scorer_label(listing.scorer, listing.model_version, "en")
    console.print(
        f"Wrote {len(listing.students):,} students of the list of the week of "
        f"{listing.as_of} (by the {made_by}) to {out}"
    )


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
