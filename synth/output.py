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


def student_frame(world: World, places: pd.DataFrame) -> pd.DataFrame:
    """One row per school's student (``places``: each child's school and code there); a
    child at several schools has the same national ID or G code at each."""
    rng = world.rng
    a = {k: v[: world.n] for k, v in world.attrs.items()}
    n = world.n
    no_id = a["migrant"] & (rng.random(n) < 0.6)
    ids = [None if no_id[i] else valid_national_id(rng) for i in range(n)]
    # Half the children without a Thai ID have a G code (G and 12 digits).
    numbers = world.person_numbers(np.arange(n))
    ids = [
        f"G{650_000_000_000 + numbers[i]}" if no_id[i] and i % 2 == 0 else v
        for i, v in enumerate(ids)
    ]
    migrant_nat = rng.choice(["MM", "KH", "LA", "XX"], n, p=[0.6, 0.2, 0.15, 0.05])
    # Born after mid-May counts toward the next year's cohort: age at 16 May is typical.
    birth = [
        date(int(y) - int(m >= 6), int(m), int(d))
        for y, m, d in zip(
            a["birth_year"], rng.integers(1, 13, n), rng.integers(1, 29, n), strict=True
        )
    ]
    person = pd.DataFrame(
        {
            "given_name": rng.choice(GIVEN_NAMES, n),
            "family_name": rng.choice(FAMILY_NAMES, n),
            "national_id": ids,
            "sex": np.array(["M", "F", "X"])[a["sex"]],
            "birth_date": pd.to_datetime(birth).strftime("%Y-%m-%d"),
            "nationality": np.where(a["migrant"], migrant_nat, "TH"),
            "disability": np.where(a["disabled"], rng.choice(DISABILITY_TYPES, n), "none"),
        }
    )
    rows = person.iloc[places["person"].to_numpy()].reset_index(drop=True)
    return rows.assign(
        student_id=places["student_id"].to_numpy(), school_id=places["school_id"].to_numpy()
    )


def school_codes(enrollments: pd.DataFrame) -> pd.DataFrame:
    """Each child's code at each school they were enrolled at: every school numbers its
    own students from 10001 in the order they first came, so schools share codes."""
    first = enrollments.sort_values(["academic_year", "term", "student_id"], kind="stable")
    places = first.drop_duplicates(["student_id", "school_id"])[["student_id", "school_id"]]
    rank = places.groupby("school_id", sort=False).cumcount()
    return pd.DataFrame(
        {
            "person": places["student_id"].to_numpy(dtype=np.int64),
            "school_id": places["school_id"].to_numpy(),
            "student_id": (10001 + rank).astype(str).to_numpy(),
        }
    )


def placed(
    frame: pd.DataFrame, enrollments: pd.DataFrame, codes: pd.DataFrame, when: str | None
) -> pd.DataFrame:
    """Records of children (``student_id``: the child's number) as records of a school's
    student: the school the child was enrolled at then (the latest term begun by the
    record's date, ``when``; by its own year and term when ``when`` is None; the first
    school before any), and the child's code there."""
    if frame.empty:
        return frame.assign(school_id=pd.Series(dtype=str))
    spells = enrollments[["student_id", "school_id", "academic_year", "term"]].copy()
    spells["start"] = np.array(
        [
            thai_default_term(int(y), int(t))[0]
            for y, t in zip(spells["academic_year"], spells["term"], strict=True)
        ],
        dtype="datetime64[ns]",
    )
    spells = spells.sort_values("start", kind="stable")
    frame = frame.reset_index(drop=True).assign(_row=lambda f: np.arange(len(f)))
    if when is None:
        found = frame.merge(
            spells.drop(columns="start"), on=["student_id", "academic_year", "term"], how="left"
        )
    else:
        day = np.asarray(pd.to_datetime(frame[when]), dtype="datetime64[ns]")
        found = pd.merge_asof(
            frame.assign(_day=day).sort_values("_day"),
            spells[["student_id", "school_id", "start"]],
            left_on="_day",
            right_on="start",
            by="student_id",
            direction="backward",
        ).drop(columns=["_day", "start"])
    first = spells.drop_duplicates("student_id").set_index("student_id")["school_id"]
    found["school_id"] = found["school_id"].fillna(found["student_id"].map(first))
    found = found.sort_values("_row").drop(columns="_row").reset_index(drop=True)
    code = codes.set_index(["person", "school_id"])["student_id"]
    where = pd.MultiIndex.from_arrays([found["student_id"].astype(np.int64), found["school_id"]])
    return found.assign(student_id=code.reindex(where).to_numpy())


# Where each kind of record falls in time (None: by its academic year and term).
RECORD_DATES = {
    "attendance": "date",
    "grades": None,
    "assessments": "date",
    "household": "survey_date",
    "screenings": "screening_date",
    "interventions": "date",
    "exits": "exit_date",
}


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
    enrollments = pd.concat(world.records["enrollments"], ignore_index=True)
    codes = school_codes(enrollments)
    frames["students"] = student_frame(world, codes)
    code = codes.set_index(["person", "school_id"])["student_id"]
    frames["enrollments"] = enrollments.assign(
        student_id=code.reindex(
            pd.MultiIndex.from_arrays([enrollments["student_id"], enrollments["school_id"]])
        ).to_numpy()
    )
    for name, when in RECORD_DATES.items():
        if name == "exits":
            records = pd.DataFrame(world.exit_rows)
        elif world.records[name]:
            records = pd.concat(world.records[name], ignore_index=True)
        else:
            records = pd.DataFrame()
        frames[name] = placed(records, enrollments, codes, when) if len(records) else records
    exits = frames["exits"]
    exits["reason_code"] = exits.get("reason_code", pd.Series(dtype=float)).astype("Int64")
    frames["exits"] = exits.reindex(columns=SOURCES_BY_NAME["exits"].column_names)
    # Thai Excel exports: Buddhist-Era dd/mm/yyyy in the household and intervention files.
    frames["household"]["survey_date"] = be_slash(frames["household"]["survey_date"])
    frames["interventions"]["date"] = be_slash(frames["interventions"]["date"])
    frames["interventions"] = frames["interventions"].drop_duplicates(
        ["school_id", "student_id", "date", "type"]
    )
    for name, frame in frames.items():
        frames[name] = frame.reindex(columns=SOURCES_BY_NAME[name].column_names)
    truth = pd.DataFrame(world.truth)
    if len(truth):
        # A failed transition is the end of term 2 of its year.
        truth = truth.rename(columns={"year": "academic_year"})
        truth["term"] = truth.get("term", pd.Series(2, index=truth.index)).fillna(2).astype(int)
        truth = placed(truth, enrollments, codes, None)
    effects = pd.concat(world.acted, ignore_index=True) if world.acted else pd.DataFrame()
    if len(effects):
        effects = placed(effects, enrollments, codes, "date")
    visits = pd.concat(world.visit_truth, ignore_index=True) if world.visit_truth else None
    if visits is not None:
        visits = placed(visits, enrollments, codes, None)
    return SynthResult(
        frames,
        dropouts=truth,
        effects=effects,
        visits=visits if visits is not None else pd.DataFrame(),
    )


def school_file_schools(frames: dict[str, pd.DataFrame], count: int) -> list[str]:
    """The schools whose records ``write_directory`` writes as the schools keep them:
    ``count`` of them, spread over the school IDs."""
    ids = sorted(frames["schools"]["school_id"])
    return ids[:: max(1, len(ids) // count)][:count] if count else []


def write_directory(result: SynthResult, out: Path, school_files: int = 0) -> list[str]:
    """Write one CSV per source, as schools send them (one file in Windows-874).

    ``school_files`` schools get their records in ``schools/<school_id>/`` instead, as
    Excel workbooks with Thai headers and values, a class register for attendance and
    an enrolment export without advisors (``synth.school_files``). Returns their ids.
    """
    out.mkdir(parents=True, exist_ok=True)
    frames = result.frames
    chosen = school_file_schools(frames, school_files)
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
    The last year has no next enrolment to check against: one year of data gives an
    empty table.
    """
    children = _children(frames["students"])
    enrol = frames["enrollments"][
        ["school_id", "student_id", "academic_year", "term", "grade_level"]
    ]
    enrol = _by_child(enrol, children)
    enrol["academic_year"] = pd.to_numeric(enrol["academic_year"], errors="coerce")
    enrol = enrol.dropna(subset=["academic_year"])
    first_term = enrol.sort_values(["academic_year", "term"]).drop_duplicates(
        ["student_id", "academic_year"]
    )
    exits = _by_child(frames["exits"], children)
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
    if not rows:
        return pd.DataFrame(columns=["student_years", "dropouts", "annual_rate"])
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


def _children(students: pd.DataFrame) -> pd.Series:
    """Each school's student's child, by (school, code): their national ID or G code, as
    the DMC links them, else the school's student alone."""
    alone = students["school_id"].astype(str) + ":" + students["student_id"].astype(str)
    child = students["national_id"].astype("string").fillna(alone.astype("string"))
    return pd.Series(
        child.to_numpy(),
        index=pd.MultiIndex.from_frame(students[["school_id", "student_id"]].astype(str)),
    )


def _by_child(frame: pd.DataFrame, children: pd.Series) -> pd.DataFrame:
    """A frame about school's students with ``student_id`` the child (unknown: alone)."""
    key = frame[["school_id", "student_id"]].astype(str)
    found = children.reindex(pd.MultiIndex.from_frame(key)).to_numpy()
    alone = (key["school_id"] + ":" + key["student_id"]).to_numpy()
    return frame.assign(student_id=np.where(pd.isna(found), alone, found))


def be_slash(dates: pd.Series) -> pd.Series:
    """Format dates as Thai Excel writes them: dd/mm/yyyy in the Buddhist Era."""
    d = pd.to_datetime(dates)
    return d.dt.strftime("%d/%m/") + (d.dt.year + 543).astype(str)
