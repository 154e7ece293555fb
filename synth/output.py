"""The simulation's records as the contract's source files, in the forms schools send them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from schooldata.calendar import thai_default_term
from schooldata.contract import SOURCES_BY_NAME
from schooldata.national_id import check_digit
from synth.config import DISABILITY_TYPES, FAMILY_NAMES, GIVEN_NAMES, SynthResult
from synth.school_files import split_school, write_school_files
from synth.world import World


def valid_national_id(rng: np.random.Generator) -> str:
    stem = str(int(rng.integers(1, 9))) + "".join(str(d) for d in rng.integers(0, 10, 11))
    return stem + str(check_digit(stem))


def student_frame(world: World) -> pd.DataFrame:
    rng = world.rng
    a = {k: v[: world.n] for k, v in world.attrs.items()}
    n = world.n
    no_id = a["migrant"] & (rng.random(n) < 0.6)
    ids = [None if no_id[i] else valid_national_id(rng) for i in range(n)]
    # Half the children without a Thai ID have the school's G code (G and 12 digits).
    ids = [f"G{650_000_000_000 + i}" if no_id[i] and i % 2 == 0 else v for i, v in enumerate(ids)]
    migrant_nat = rng.choice(["MM", "KH", "LA", "XX"], n, p=[0.6, 0.2, 0.15, 0.05])
    # Born after mid-May counts toward the next year's cohort: age at 16 May is typical.
    birth = [
        date(int(y) - int(m >= 6), int(m), int(d))
        for y, m, d in zip(
            a["birth_year"], rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True
        )
    ]
    return pd.DataFrame(
        {
            "student_id": world.student_ids(np.arange(n)),
            "school_id": world.schools["school_id"].to_numpy()[a["school"]],
            "given_name": rng.choice(GIVEN_NAMES, n),
            "family_name": rng.choice(FAMILY_NAMES, n),
            "national_id": ids,
            "sex": np.array(["M", "F", "X"])[a["sex"]],
            "birth_date": pd.to_datetime(birth).strftime("%Y-%m-%d"),
            "nationality": np.where(a["migrant"], migrant_nat, "TH"),
            "disability": np.where(a["disabled"], rng.choice(DISABILITY_TYPES, n), "none"),
        }
    )


def finish(world: World, years: list[int]) -> SynthResult:
    frames: dict[str, pd.DataFrame] = {}
    schools = world.schools.drop(columns=["kind", "migrant_share", "weight"])
    frames["schools"] = schools
    frames["calendar"] = pd.DataFrame(
        [
            {
                "school_id": "",
                "academic_year": y,
                "term": t,
                "start_date": thai_default_term(y, t)[0].isoformat(),
                "end_date": thai_default_term(y, t)[1].isoformat(),
            }
            for y in years
            for t in (1, 2)
        ]
    )
    frames["students"] = student_frame(world)
    for name in (
        "enrollments",
        "attendance",
        "grades",
        "assessments",
        "household",
        "screenings",
        "interventions",
    ):
        frame = (
            pd.concat(world.records[name], ignore_index=True)
            if world.records[name]
            else pd.DataFrame()
        )
        if len(frame):
            frame["student_id"] = world.student_ids(frame["student_id"].to_numpy())
        frames[name] = frame
    exits = pd.DataFrame(world.exit_rows)
    exits["student_id"] = world.student_ids(exits["student_id"].to_numpy())
    exits["reason_code"] = exits.get("reason_code", pd.Series(dtype=float)).astype("Int64")
    frames["exits"] = exits.reindex(columns=SOURCES_BY_NAME["exits"].column_names)
    # Thai Excel exports: Buddhist-Era dd/mm/yyyy in the household and intervention files.
    frames["household"]["survey_date"] = be_slash(frames["household"]["survey_date"])
    frames["interventions"]["date"] = be_slash(frames["interventions"]["date"])
    frames["interventions"] = frames["interventions"].drop_duplicates(
        ["student_id", "date", "type"]
    )
    truth = pd.DataFrame(world.truth)
    if len(truth):
        truth["student_id"] = world.student_ids(truth["student_id"].to_numpy())
    for name, frame in frames.items():
        frames[name] = frame.reindex(columns=SOURCES_BY_NAME[name].column_names)
    effects = pd.concat(world.acted, ignore_index=True) if world.acted else pd.DataFrame()
    if len(effects):
        effects["student_id"] = world.student_ids(effects["student_id"].to_numpy())
    visits = pd.concat(world.visit_truth, ignore_index=True) if world.visit_truth else None
    if visits is not None:
        visits["student_id"] = world.student_ids(visits["student_id"].to_numpy())
    return SynthResult(
        frames,
        dropouts=truth,
        effects=effects,
        visits=visits if visits is not None else pd.DataFrame(),
    )


def write_directory(result: SynthResult, out: Path, school_files: int = 0) -> list[str]:
    """Write one CSV per source, as schools send them (one file in Windows-874).

    ``school_files`` schools get their records in ``schools/<school_id>/`` instead, as
    Excel workbooks with Thai headers and values, a class register for attendance and
    an enrolment export without advisors (``synth.school_files``). Returns their ids.
    """
    out.mkdir(parents=True, exist_ok=True)
    frames = result.frames
    ids = sorted(frames["schools"]["school_id"])
    chosen = ids[:: max(1, len(ids) // school_files)][:school_files] if school_files else []
    for school_id in chosen:
        frames, own = split_school(frames, school_id)
        write_school_files(own, out / "schools" / school_id)
    for name, frame in frames.items():
        # Thai Excel on Windows saves CSV as Windows-874; the college screening export does.
        encoding = {"screenings": "cp874", "students": "utf-8-sig"}.get(name, "utf-8")
        frame.to_csv(out / f"{name}.csv", index=False, encoding=encoding)
    write_truth(result, out / "truth")
    return chosen


def write_truth(result: SynthResult, folder: Path) -> None:
    """What the simulation knows and a school never does, beside the data: each action's
    true effect (on the log-odds and on the chance of leaving that term, 0 when it was
    not done), for checking the effect estimates; and every student-term's chance of
    leaving without help and what a home visit would change in it, for replaying a
    plan (``visits.csv``). Ingest never reads it."""
    folder.mkdir(parents=True, exist_ok=True)
    effects = result.effects.copy()
    if len(effects):
        effects["date"] = pd.to_datetime(effects["date"]).dt.strftime("%Y-%m-%d")
    effects.to_csv(folder / "effects.csv", index=False)
    result.visits.to_csv(folder / "visits.csv", index=False)


def dropout_rates_by_level(frames: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Annual dropout rate by level band, as the DMC would count it.

    A student enrolled in a year counts as a dropout of that year when they have a dropout
    exit in it, or vanish from the next enrolment with no transfer, graduation or death.
    """
    enrol = frames["enrollments"][["student_id", "academic_year", "term", "grade_level"]].copy()
    enrol["academic_year"] = pd.to_numeric(enrol["academic_year"], errors="coerce")
    enrol = enrol.dropna(subset=["academic_year"])
    first_term = enrol.sort_values(["academic_year", "term"]).drop_duplicates(
        ["student_id", "academic_year"]
    )
    exits = frames["exits"].copy()
    exits["exit_date"] = pd.to_datetime(exits["exit_date"], errors="coerce")
    exits["academic_year"] = exits["exit_date"].dt.year + 543 - (exits["exit_date"].dt.month < 5)
    years = sorted(first_term["academic_year"].unique())
    rows = []
    for year in years[:-1]:  # the last year has no next enrolment to check against
        cohort = first_term[first_term["academic_year"] == year]
        in_next = set(enrol.loc[enrol["academic_year"] == year + 1, "student_id"])
        year_exits = exits[exits["academic_year"] == year]
        # Graduating from P6 or M3 and enrolling nowhere is a failed transition, a dropout.
        transition = set(cohort.loc[cohort["grade_level"].isin(["P6", "M3"]), "student_id"])
        explained = set(year_exits.loc[year_exits["exit_type"] != "dropout", "student_id"])
        explained -= transition & set(
            year_exits.loc[year_exits["exit_type"] == "graduated", "student_id"]
        )
        dropped = set(year_exits.loc[year_exits["exit_type"] == "dropout", "student_id"])
        gone = set(cohort["student_id"]) - in_next - explained
        cohort = cohort.assign(dropout=cohort["student_id"].isin(dropped | gone))
        rows.append(cohort)
    table = pd.concat(rows)
    band = (
        table["grade_level"]
        .str[0]
        .map(
            {"K": "pre-primary", "P": "primary", "V": "vocational (ปวช.)", "H": "vocational (ปวส.)"}
        )
    )
    upper = table["grade_level"].isin(["M4", "M5", "M6"])
    band = band.fillna(
        pd.Series(np.where(upper, "upper secondary", "lower secondary"), index=band.index)
    )
    order = [
        "pre-primary",
        "primary",
        "lower secondary",
        "upper secondary",
        "vocational (ปวช.)",
        "vocational (ปวส.)",
    ]
    summary = table.assign(level=band).groupby("level")["dropout"].agg(["size", "sum", "mean"])
    summary = summary.reindex([o for o in order if o in summary.index])
    summary["sum"] = summary["sum"].astype(int)
    renamed: pd.DataFrame = summary.rename(
        columns={"size": "student_years", "sum": "dropouts", "mean": "annual_rate"}
    )
    return renamed


def be_slash(dates: pd.Series) -> pd.Series:
    """Format dates as Thai Excel writes them: dd/mm/yyyy in the Buddhist Era."""
    d = pd.to_datetime(dates)
    return d.dt.strftime("%d/%m/") + (d.dt.year + 543).astype(str)
