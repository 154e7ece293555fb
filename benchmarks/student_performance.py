"""The UCI "Student Performance" tables as a data directory, and the list a school gets
on day one from them.

Cortez and Silva, "Using Data Mining to Predict Secondary School Student Performance",
FUBUTEC 2008 (UCI id 320), CC BY 4.0: the students of two Portuguese secondary schools
(``GP``, ``MS``) in one school year (2005-06), in a maths class (395 rows) and a
Portuguese class (649 rows), with their family background, absences and three period
grades (``G1``, ``G2``, ``G3``, 0-20). Real records nobody on this project wrote, and the
only real set of secondary-school children.

It holds **one school year and no leaving**, so it cannot judge a model: no outcome is
known before the year ends, and ``ews train`` says so and trains nothing. It judges what
a school in that position gets, which is the ABC rule's list: this module's check
(``day_one``) loads the files, lets ``ews train`` refuse, has the weekly run rank by the
rule, and judges each stored list against who **failed the year** (``G3`` below 10 in
either class), the table's own outcome. Failing is not leaving; it is the outcome of the
same slide (grades, behaviour) the rule watches for.

This adapter places the table in time, and nothing more:

- **One child, one code**: a child in both classes has one row in each file. The two are
  the same child when the 13 attributes the publishers' own merge uses agree and no other
  row of either file shares them (358 children); every other row is a child of its own.
  A school's codes are ``S0001`` onwards, in the files' order (maths first).
- **The year**: two terms, 15 September to 16 December 2005 and 3 January to 9 June 2006
  (the Buddhist-Era year 2548). Everyone is enrolled in both, at ``M4`` to ``M6`` by age
  (15, 16, 17 and over), with one advisor per school.
- **Grades**: ``G1`` is the first term's grade of the class (``MAT``, ``POR``), recorded on
  16 December: below 10 is ``0`` (a fail), 10 to 20 is 1 to 4 in half steps. ``G2`` is a
  test of the second term, scored out of 20 on 24 March 2006. ``G3`` is the outcome,
  never an input.
- **Household** (a survey on 1 September 2005): the family's size (``LE3`` as 3, ``GT3``
  as 4), who cares for the child (parents together: both; else the guardian) and the
  travel time (the middle of its band, in minutes).
- **Screening** (3 October 2005): health 1 and 2 (of 5) as a problem and at risk;
  alcohol on workdays and weekends summed, 7 or more a behaviour problem, 5 or more at
  risk.

Left out: absences. The table counts a year's absences with no dates; spread over the
year, January's list would know June's absences. So the rule sees no attendance, as at a
college that keeps none, and orders its flags by last term's grades. Also left out:
parents' jobs and education, study and free time, the wish for higher education, ``G3``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

SOURCE = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "student_performance"
# The publishers' merge of the two classes (their R file): a child's own attributes.
SAME_CHILD = [
    "school", "sex", "age", "address", "famsize", "Pstatus", "Medu", "Fedu",
    "Mjob", "Fjob", "reason", "nursery", "internet",
]  # fmt: skip
YEAR = 2548  # September 2005, in the Buddhist Era
TERMS = {1: ("2005-09-15", "2005-12-16"), 2: ("2006-01-03", "2006-06-09")}
G1_RECORDED, G2_TAKEN = "2005-12-16", "2006-03-24"
# The list judged: the first Monday after the first term's grades (the rule reads no
# test score, so later lists of the year are the same).
CHECKPOINT = "2006-01-09"
PASS_MARK = 10


def read(source: Path) -> pd.DataFrame:
    """Both classes' rows, each with its child's code and the class."""
    classes = [
        pd.read_csv(source / f"student-{name}.csv", sep=";").assign(subject=code)
        for name, code in (("mat", "MAT"), ("por", "POR"))
    ]
    rows = pd.concat(classes, ignore_index=True)
    key = rows[SAME_CHILD].astype(str).agg("|".join, axis=1)
    per_class = pd.crosstab(key, rows["subject"])
    unique = per_class.index[(per_class <= 1).all(axis=1)]
    child = np.where(key.isin(unique), key, "row " + rows.index.astype(str))
    codes = pd.Series(pd.factorize(child)[0], index=rows.index)
    return rows.assign(student_id=[f"S{i + 1:04d}" for i in codes])


def failed(rows: pd.DataFrame) -> pd.Series:
    """Each child: failed the year in either class (``G3`` below the pass mark)."""
    return rows.groupby("student_id")["G3"].min() < PASS_MARK


def convert(source: Path, out: Path) -> dict[str, int]:
    """Write the contract's CSV files for the tables in ``source`` into ``out``.

    Returns:
        Rows written per source.
    """
    rows = read(source)
    child = rows.drop_duplicates("student_id").reset_index(drop=True)
    level = child["age"].clip(15, 17).map({15: "M4", 16: "M5", 17: "M6"})
    born = pd.Timestamp("2005-09-01") - pd.to_timedelta(child["age"] * 365.25 + 182, unit="D")
    frames = {
        "schools": pd.DataFrame(
            {
                "school_id": ["GP", "MS"],
                "name": ["Gabriel Pereira", "Mousinho da Silveira"],
                "province": "",
            }
        ),
        "calendar": pd.DataFrame(
            [
                {"school_id": "", "academic_year": YEAR, "term": t, "start_date": s, "end_date": e}
                for t, (s, e) in TERMS.items()
            ]
        ),
        "students": pd.DataFrame(
            {
                "student_id": child["student_id"],
                "school_id": child["school"],
                "sex": child["sex"],
                "birth_date": born.dt.strftime("%Y-%m-%d"),
                "nationality": "TH",  # the country's own: what the features read so
            }
        ),
        "enrollments": pd.concat(
            [
                pd.DataFrame(
                    {
                        "student_id": child["student_id"],
                        "academic_year": YEAR,
                        "term": term,
                        "school_id": child["school"],
                        "grade_level": level,
                        "advisor_id": child["school"] + "-A",
                    }
                )
                for term in TERMS
            ],
            ignore_index=True,
        ),
        "exits": pd.DataFrame(columns=["student_id", "school_id", "exit_date", "exit_type"]),
        "grades": pd.DataFrame(
            {
                "student_id": rows["student_id"],
                "school_id": rows["school"],
                "academic_year": YEAR,
                "term": 1,
                "subject_code": rows["subject"],
                "grade": [_grade(int(g)) for g in rows["G1"]],
                "recorded_date": G1_RECORDED,
            }
        ),
        "assessments": pd.DataFrame(
            {
                "student_id": rows["student_id"],
                "school_id": rows["school"],
                "subject_code": rows["subject"],
                "date": G2_TAKEN,
                "score": rows["G2"],
                "max_score": 20,
                "submitted": True,
            }
        ),
        "household": pd.DataFrame(
            {
                "student_id": child["student_id"],
                "school_id": child["school"],
                "survey_date": "2005-09-01",
                "household_size": np.where(child["famsize"] == "LE3", 3, 4),
                "caregiver": np.where(child["Pstatus"] == "T", "both_parents", child["guardian"]),
                "travel_minutes": child["traveltime"].map({1: 8, 2: 22, 3: 45, 4: 75}),
            }
        ),
        "screenings": pd.DataFrame(
            {
                "student_id": child["student_id"],
                "school_id": child["school"],
                "screening_date": "2005-10-03",
                "health": child["health"].map({1: "problem", 2: "at_risk"}).fillna("normal"),
                "behaviour": _behaviour(child["Dalc"] + child["Walc"]),
            }
        ),
    }
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    return {name: len(frame) for name, frame in frames.items()}


def _grade(score: int) -> str:
    """A 0-20 period grade as a Thai grade: below the pass mark 0, else 1 to 4."""
    if score < PASS_MARK:
        return "0"
    return f"{np.round((score - PASS_MARK) / (20 - PASS_MARK) * 6) / 2 + 1:g}"


def _behaviour(alcohol: pd.Series) -> np.ndarray:
    return np.where(alcohol >= 7, "problem", np.where(alcohol >= 5, "at_risk", "normal"))


def day_one(source: Path, work: Path) -> dict[str, float]:
    """Load the tables, let ``ews train`` refuse, rank the checkpoint's list by the ABC
    rule through the weekly run, and judge the stored list against who failed the year.

    Returns:
        The stored list's ROC-AUC within school (``auc``) and the share who failed among
        the students it flags (``flagged_failed``) and among all (``failed``).
    """
    from benchmarks.common import scratch_settings
    from benchmarks.real_data import within_school_auc  # imports this module first
    from schooldata.db import make_engine
    from schooldata.ingest import ingest_directory
    from schooldata.tables import student_scores
    from serving.model_store import rule_bundle
    from serving.scoring import Scorer, weekly_run
    from training.config import TrainConfig
    from training.split import SplitError
    from training.train import train

    work.mkdir(parents=True, exist_ok=True)
    counts = convert(source, work / "data")
    print("converted:", ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    db = work / "ews.db"
    db.unlink(missing_ok=True)
    engine = make_engine(f"sqlite:///{db}")
    ingest_directory(work / "data", engine, "bench-real-key", work / "rejects")
    settings = scratch_settings(engine, work / "mlflow")
    try:
        train(settings, TrainConfig.load(), engine)
        print("ews train trained a model on one school year: it should have refused")
    except SplitError as refusal:
        print(f"ews train refuses, as it should: {refusal}")
    outcome = failed(read(source))
    rule = Scorer(rule_bundle(settings, "one school year: nothing to learn from"), "abc-rule")
    report = weekly_run(engine, rule, pd.Timestamp(CHECKPOINT))
    with engine.connect() as connection:
        stored = pd.read_sql(
            sa.select(
                student_scores.c.student_id,
                student_scores.c.school_id,
                student_scores.c.rank_in_school,
                student_scores.c.tier,
            ).where(student_scores.c.run_id == report.run_id),
            connection,
        )
    stored["failed"] = stored["student_id"].map(outcome).astype(bool)
    judged = stored.assign(label=stored["failed"].astype(int))
    flagged = stored[stored["tier"] != "low"]
    figures = {
        "auc": within_school_auc(judged, -stored["rank_in_school"].to_numpy(dtype=float)),
        "flagged_failed": float(flagged["failed"].mean()),
        "failed": float(stored["failed"].mean()),
    }
    print(
        f"the list of {CHECKPOINT}: {len(stored):,} students, {int(stored['failed'].sum())} "
        f"failed the year; ROC-AUC of its order within school {figures['auc']:.4f}; of the "
        f"{len(flagged)} it flags, {figures['flagged_failed']:.0%} failed (of all students, "
        f"{figures['failed']:.0%})"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=SOURCE)
    args = parser.parse_args()
    if not (args.source / "student-mat.csv").exists():
        print(f"No student performance tables in {args.source} (see ../shared/datasets/README.md).")
        sys.exit(2)
    with tempfile.TemporaryDirectory(prefix="student-performance-") as work:
        day_one(args.source, Path(work))


if __name__ == "__main__":
    main()
