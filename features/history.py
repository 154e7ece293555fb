"""School history: age for grade, transitions, moves between schools, returns after leaving,
help received.

The records are a child's at every school they were at (``features.build`` numbers them by
child), so a move, a transition to a new school or a return is seen where it happens: at
the new school, from its first week.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.asof import cumulative_at, latest_at
from schooldata.contract import GRADE_LEVELS

# Usual age at the start of the academic year for each grade level.
TYPICAL_AGE = {
    **{f"K{i}": 2 + i for i in range(1, 4)},
    **{f"P{i}": 5 + i for i in range(1, 7)},
    **{f"M{i}": 11 + i for i in range(1, 7)},
    **{f"V{i}": 14 + i for i in range(1, 4)},
    **{f"H{i}": 17 + i for i in range(1, 3)},
}
TRANSITION_GRADES = ("P6", "M3")
# The first grade of each level, where children enter a school.
ENTRY_GRADES = ("K1", "P1", "M1", "M4", "V1", "H1")
LEVEL_ORDER = {level: float(i) for i, level in enumerate(GRADE_LEVELS)}
RECENT_HELP = pd.Timedelta(days=90)
LAST_YEAR = pd.Timedelta(days=365)


def history_state(
    queries: pd.DataFrame,
    students: pd.DataFrame,
    enrollments: pd.DataFrame,
    exits: pd.DataFrame,
    interventions: pd.DataFrame | None,
) -> pd.DataFrame:
    """History known at each as-of date.

    Args:
        queries: student_id, as_of, term_start, academic_year, grade_level (the current term).
        students, enrollments, exits, interventions: the sources.
    """
    out = pd.DataFrame(index=queries.index)
    out["grade_level"] = queries["grade_level"].to_numpy()
    out["as_of"] = queries["as_of"]
    birth = queries[["student_id"]].merge(
        students[["student_id", "birth_date"]], on="student_id", how="left"
    )
    year_start = pd.to_datetime((queries["academic_year"].astype(int) - 543).astype(str) + "-05-16")
    age_days = (
        (year_start.to_numpy() - birth["birth_date"].to_numpy())
        .astype("timedelta64[D]")
        .astype(float)
    )
    out["age_at_year_start"] = np.floor(age_days / 365.25)

    # Enrolment spells known by the as-of date: a term is known from its start.
    spells = enrollments[["student_id", "term_start", "school_id", "academic_year", "term"]]
    spells = spells.dropna(subset=["term_start"]).sort_values(
        ["student_id", "term_start"], kind="stable"
    )
    child = spells.groupby("student_id", sort=False)
    changed = spells["school_id"].ne(child["school_id"].shift(1))
    first = ~spells["student_id"].duplicated()
    # A term or more enrolled nowhere before this one: the child left and came back.
    ordinal = spells["academic_year"].astype(int) * 2 + spells["term"].astype(int)
    gap = (ordinal - ordinal.groupby(spells["student_id"], sort=False).shift(1)) > 1
    new_school = ~spells.duplicated(["student_id", "school_id"])
    spells = spells.assign(
        move=(changed & ~first).astype(float),
        terms=1.0,
        school=new_school.astype(float),
        back=gap.astype(float),
    )
    columns = ["move", "terms", "school", "back"]
    counts = cumulative_at(spells, "term_start", columns, queries["student_id"], queries["as_of"])
    year_ago = cumulative_at(
        spells, "term_start", ["move"], queries["student_id"], queries["as_of"] - LAST_YEAR
    )
    out["school_moves"] = counts["move"]
    out["terms_enrolled"] = counts["terms"]
    out["schools_attended"] = counts["school"]
    out["moves_last_year"] = (counts["move"] - year_ago["move"]).to_numpy()
    out["entered_on"] = pd.to_datetime(queries["entered_on"]).to_numpy()
    out["entry_grade"] = queries["entry_grade"].to_numpy()
    out["academic_year"] = queries["academic_year"].to_numpy()

    dropouts = exits[exits["exit_type"] == "dropout"][["student_id", "exit_date"]]
    earlier = latest_at(
        dropouts, "exit_date", queries["student_id"], queries["term_start"], strictly_before=True
    )
    # The gaps before the current term (the current term's own gap is counted at its start).
    out["returned"] = (earlier["exit_date"].notna() | (counts["back"] > 0).to_numpy()).astype(float)

    if interventions is not None:
        events = interventions.assign(n=1.0)[["student_id", "date", "n"]]
        now = cumulative_at(events, "date", ["n"], queries["student_id"], queries["as_of"])
        before = cumulative_at(
            events, "date", ["n"], queries["student_id"], queries["as_of"] - RECENT_HELP
        )
        out["interventions_90d"] = (now["n"] - before["n"]).to_numpy()
        visits = interventions[interventions["type"] == "home_visit"][["student_id", "date"]]
        last_visit = latest_at(
            visits.rename(columns={"date": "visit_date"}),
            "visit_date",
            queries["student_id"],
            queries["as_of"],
        )
        out["last_home_visit"] = last_visit["visit_date"].to_numpy()
    else:
        out["interventions_90d"] = np.nan
        out["last_home_visit"] = pd.NaT
    return out


def over_age_years(s: pd.DataFrame) -> pd.Series:
    return s["age_at_year_start"] - s["grade_level"].map(TYPICAL_AGE).astype(float)


def transition_grade(s: pd.DataFrame) -> pd.Series:
    return s["grade_level"].isin(TRANSITION_GRADES).astype(float)


def grade_level_order(s: pd.DataFrame) -> pd.Series:
    return s["grade_level"].map(LEVEL_ORDER).astype(float)


def school_moves(s: pd.DataFrame) -> pd.Series:
    return s["school_moves"].astype(float)


def schools_attended(s: pd.DataFrame) -> pd.Series:
    return s["schools_attended"].astype(float)


def moved_school_last_year(s: pd.DataFrame) -> pd.Series:
    return (s["moves_last_year"] > 0).astype(float)


def entered_school_this_year(s: pd.DataFrame) -> pd.Series:
    entered = pd.to_datetime(s["entered_on"])
    year = entered.dt.year + 543 - (entered.dt.month < 5).astype(int)
    return (year == s["academic_year"].astype(float)).astype(float).where(entered.notna())


def entry_grade_level_order(s: pd.DataFrame) -> pd.Series:
    return s["entry_grade"].map(LEVEL_ORDER).astype(float)


def returned_after_dropout(s: pd.DataFrame) -> pd.Series:
    return s["returned"].astype(float)


def interventions_90d(s: pd.DataFrame) -> pd.Series:
    return s["interventions_90d"].astype(float)


def days_since_home_visit(s: pd.DataFrame) -> pd.Series:
    return (s["as_of"] - pd.to_datetime(s["last_home_visit"])).dt.days.astype(float)


FEATURES = (
    over_age_years,
    transition_grade,
    grade_level_order,
    school_moves,
    schools_attended,
    moved_school_last_year,
    entered_school_this_year,
    entry_grade_level_order,
    returned_after_dropout,
    interventions_90d,
    days_since_home_visit,
)
