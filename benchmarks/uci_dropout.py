"""The UCI "Predicting Student Dropout and Academic Success" table as a data directory.

Realinho, Machado, Baptista and Martins, *Data* 7(11):146 (2022), UCI id 697, CC BY 4.0:
4,424 students of 17 degree courses of a Portuguese polytechnic, each with what was
known at entry and the units of the first two semesters; ``Target`` is Dropout, Enrolled
or Graduate. Real records nobody on this project wrote, and the one real set with a new
intake: students ranked before any grade, on what they brought with them.

The table has no dates. This adapter places the students in time, and nothing more:

- **Entry cohorts**: the rows, in the file's order, are four cohorts of equal size (the
  first quarter entered in 2016, the last in 2019). The file's order is its publishers';
  nothing here sorts or shuffles it.
- **Terms**: a school year has two terms, 12 September to 27 January and 13 February to
  30 June (the academic year in the Buddhist Era of its September). A course is a school
  (``C9254``); capacity unknown; level ``H1`` (a first year after secondary school).
- **Who is enrolled when**: everyone in the first term of their cohort; in the second
  term when they had units in the second semester; a student who did not drop out stays
  enrolled every term to the end of the records (June 2021): the table says only that
  they did not leave.
- **When a dropout left**: with no unit in the second semester, at the end of the first
  term; else at the end of the second term (the table does not say which later year: the
  first year's end is the earliest it allows). Only ``Dropout`` is a dropout. Since the
  table tells leaving only to the year, the benchmark labels leaving within 365 days
  (``HORIZON_DAYS``), not the 180 of ``ews train``'s defaults: a first-term list is then
  judged on who left in the first year, as the table can tell.
- **Grades**: the first semester's units at the end of the first term, the second's at
  the end of the second term, never earlier: one grade per unit enrolled, the approved
  ones at the semester's average (0-20 as 0-4 in half steps, at least 2: a pass), the
  others 0, units without evaluation ``ร`` (incomplete). No second-semester figure
  exists before the second term ends.
- **Poverty** (a household survey 30 days before entry): a debtor or fees not up to
  date is ``extremely_poor`` (the family cannot pay), a scholarship holder (Portuguese
  grants are means-tested) ``poor``, the others ``none``.
- **Students**: sex (Gender 1 = M), born the age at enrolment before the cohort's
  March; ``Educational special needs`` as a declared disability; the country's own
  students written ``TH`` (the code the features read as "of the country"), the
  international ones ``XX``.

Left out: parents' education and occupation, admission grades, application mode and
the national economy (not in the data contract), and ``Enrolled`` or ``Graduate`` beyond
"did not drop out".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

COHORTS = 4
FIRST_COHORT = 2016
BE_OFFSET = 543
TERMS = {1: ((9, 12), (1, 27)), 2: ((2, 13), (6, 30))}  # (month, day) start, end
HORIZON_DAYS = 365
LAST_YEAR = FIRST_COHORT + COHORTS + 1  # the records end in June of this year

FIRST, SECOND = "Curricular units 1st sem", "Curricular units 2nd sem"


def read(source: Path) -> pd.DataFrame:
    """The table, its column names stripped (one ends in a tab), each row's cohort."""
    table = pd.read_csv(source / "data.csv", sep=";", encoding="utf-8-sig")
    table.columns = table.columns.str.strip()
    return table.assign(cohort=np.arange(len(table)) * COHORTS // len(table))


def term_dates(year: int, term: int) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and last day of a term of the school year starting in September of
    ``year`` (AD)."""
    (start_month, start_day), (end_month, end_day) = TERMS[term]
    start_year = year if term == 1 else year + 1
    return (
        pd.Timestamp(start_year, start_month, start_day),
        pd.Timestamp(year + 1, end_month, end_day),
    )


def convert(source: Path, out: Path) -> dict[str, int]:
    """Write the contract's CSV files for the table in ``source`` into ``out``.

    Returns:
        Rows written per source.
    """
    table = read(source)
    table["student_id"] = [f"U{i:05d}" for i in range(len(table))]
    table["school_id"] = "C" + table["Course"].astype(str)
    table["entry_year"] = FIRST_COHORT + table["cohort"]
    frames = {
        "schools": pd.DataFrame({"school_id": sorted(table["school_id"].unique())}).assign(
            name=lambda f: "Polytechnic course " + f["school_id"].str[1:], province=""
        ),
        "calendar": _calendar(),
        "students": _students(table),
        "enrollments": _enrollments(table),
        "exits": _exits(table),
        "grades": _grades(table),
        "household": _household(table),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    return {name: len(frame) for name, frame in frames.items()}


def _day(values: pd.Series | pd.Timestamp) -> pd.Series | str:
    if isinstance(values, pd.Timestamp):
        return values.strftime("%Y-%m-%d")
    return values.dt.strftime("%Y-%m-%d")


def _calendar() -> pd.DataFrame:
    rows = []
    for year in range(FIRST_COHORT, LAST_YEAR):
        for term in (1, 2):
            start, end = term_dates(year, term)
            rows.append(
                {
                    "school_id": "",
                    "academic_year": year + BE_OFFSET,
                    "term": term,
                    "start_date": _day(start),
                    "end_date": _day(end),
                }
            )
    return pd.DataFrame(rows)


def _students(table: pd.DataFrame) -> pd.DataFrame:
    march = pd.to_datetime(table["entry_year"].astype(str) + "-03-01")
    born = [
        day - pd.DateOffset(years=int(age))
        for day, age in zip(march, table["Age at enrollment"], strict=True)
    ]
    return pd.DataFrame(
        {
            "student_id": table["student_id"],
            "school_id": table["school_id"],
            "sex": np.where(table["Gender"] == 1, "M", "F"),
            "birth_date": _day(pd.Series(born)),
            "nationality": np.where(table["International"] == 1, "XX", "TH"),
            "disability": np.where(table["Educational special needs"] == 1, "declared", "none"),
        }
    )


def _stays(table: pd.DataFrame) -> pd.DataFrame:
    """Every (student, school year AD, term) enrolled."""
    left = table["Target"] == "Dropout"
    second = table[f"{SECOND} (enrolled)"] > 0
    parts = [
        table.assign(year=table["entry_year"], term=1),
        table[~left | second].assign(year=table["entry_year"], term=2),
    ]
    stay = table[~left]
    for later in range(1, COHORTS):
        year = stay["entry_year"] + later
        kept = stay[year < LAST_YEAR]
        parts += [kept.assign(year=year[year < LAST_YEAR], term=t) for t in (1, 2)]
    return pd.concat(parts, ignore_index=True)


def _enrollments(table: pd.DataFrame) -> pd.DataFrame:
    stays = _stays(table)
    starts = [
        term_dates(int(y), int(t))[0] for y, t in zip(stays["year"], stays["term"], strict=True)
    ]
    return pd.DataFrame(
        {
            "student_id": stays["student_id"],
            "academic_year": stays["year"] + BE_OFFSET,
            "term": stays["term"],
            "school_id": stays["school_id"],
            "grade_level": "H1",
            "advisor_id": stays["school_id"] + "-A",
            "snapshot_date": _day(pd.Series(starts) + pd.Timedelta(days=10)),
        }
    )


def _exits(table: pd.DataFrame) -> pd.DataFrame:
    left = table[table["Target"] == "Dropout"]
    term = np.where(left[f"{SECOND} (enrolled)"] > 0, 2, 1)
    ends = [term_dates(int(y), int(t))[1] for y, t in zip(left["entry_year"], term, strict=True)]
    return pd.DataFrame(
        {
            "student_id": left["student_id"].to_numpy(),
            "school_id": left["school_id"].to_numpy(),
            "exit_date": _day(pd.Series(ends)).to_numpy(),
            "exit_type": "dropout",
            "reason_code": 99,
        }
    )


def _grades(table: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for term, prefix in ((1, FIRST), (2, SECOND)):
        enrolled = table[f"{prefix} (enrolled)"].to_numpy()
        approved = table[f"{prefix} (approved)"].to_numpy()
        unevaluated = table[f"{prefix} (without evaluations)"].to_numpy()
        average = table[f"{prefix} (grade)"].to_numpy()
        passed = np.clip(np.round(average / 5 * 2) / 2, 2.0, 4.0)
        for i in np.flatnonzero(enrolled > 0):
            _, end = term_dates(int(table["entry_year"].iat[i]), term)
            for unit in range(int(enrolled[i])):
                if unit < approved[i]:
                    grade = f"{passed[i]:g}"
                elif unit < approved[i] + unevaluated[i]:
                    grade = "ร"
                else:
                    grade = "0"
                rows.append(
                    (
                        table["student_id"].iat[i],
                        table["school_id"].iat[i],
                        int(table["entry_year"].iat[i]) + BE_OFFSET,
                        term,
                        f"T{term}-U{unit + 1:02d}",
                        grade,
                        _day(end),
                    )
                )
    return pd.DataFrame(
        rows,
        columns=[
            "student_id",
            "school_id",
            "academic_year",
            "term",
            "subject_code",
            "grade",
            "recorded_date",
        ],
    )


def _household(table: pd.DataFrame) -> pd.DataFrame:
    cannot_pay = (table["Debtor"] == 1) | (table["Tuition fees up to date"] == 0)
    status = np.where(
        cannot_pay, "extremely_poor", np.where(table["Scholarship holder"] == 1, "poor", "none")
    )
    entry = [term_dates(int(y), 1)[0] for y in table["entry_year"]]
    return pd.DataFrame(
        {
            "student_id": table["student_id"],
            "school_id": table["school_id"],
            "survey_date": _day(pd.Series(entry) - pd.Timedelta(days=30)),
            "equity_status": status,
        }
    )
