"""Each stored list checked against what happened (``ews outcomes``).

Once a term's weekly lists have matured (every week's horizon has passed in the data),
each is compared with who left: of the students who left, how many were on the list
(high or watch) in some week before leaving, how many weeks ahead (the lead time), how
many were missed; and of the students flagged, how many had any intervention between
being flagged and the end of the term or their leaving. Per school, term and model
version; stored for the pages (a committee sees its school's figures, an analyst every
school's) and logged to MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.settings import Settings
from features.sources import Sources
from riskmodel.registry import OUTCOMES_EXPERIMENT
from schooldata.tables import OUTCOME_COUNTS, list_outcomes, score_runs, student_scores
from training.evaluate import FOUND_WEEKS
from training.labels import LabelRules, dropout_events, label_rules, observed_until
from training.tracking import configure_tracking

FLAGGED = ("high", "watch")
IN_TIME_WEEKS, EARLY_WEEKS = FOUND_WEEKS  # found in time: 4 and 8 weeks ahead
KEY = ["model_version", "school_id", "academic_year", "term"]
# What is stored of each school term judged, in the table's order (``computed_at`` is
# added when stored).
COLUMNS = [c.name for c in list_outcomes.c if c.name != "computed_at"]
BACKFILLED_AFTER = pd.Timedelta(days=14)


@dataclass(frozen=True)
class OutcomeReport:
    rows: pd.DataFrame  # one per school, term and model version
    runs: int  # weekly runs judged
    immature: int  # weekly runs left out: their horizon has not passed yet


def list_history(engine: sa.Engine) -> pd.DataFrame:
    """Every stored list row: week, model version, student, school, tier."""
    query = sa.select(
        score_runs.c.run_id,
        score_runs.c.as_of,
        score_runs.c.created_at,
        score_runs.c.model_version,
        student_scores.c.student_id,
        student_scores.c.school_id,
        student_scores.c.tier,
    ).join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
    with engine.connect() as connection:
        frame = pd.DataFrame(
            connection.execute(query).all(), columns=list(query.selected_columns.keys())
        )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def judge_lists(history: pd.DataFrame, sources: Sources, rules: LabelRules) -> OutcomeReport:
    """The outcome figures of every matured weekly list."""
    horizon = pd.Timedelta(days=rules.horizon_days)
    until = observed_until(sources, rules)
    mature = history["as_of"] + horizon <= until
    judged = history[mature]
    immature = int(history.loc[~mature, "run_id"].nunique())
    if judged.empty:
        return OutcomeReport(pd.DataFrame(columns=COLUMNS), 0, immature)
    located = sources.calendar.locate(judged["school_id"], judged["as_of"])
    judged = judged.assign(
        academic_year=located["academic_year"].to_numpy(), term=located["term"].to_numpy()
    ).dropna(subset=["academic_year"])
    judged = _with_children(judged, sources.students)
    events = dropout_events(sources, rules)[["person_id", "event_date"]]
    helped = (
        sources.interventions[["person_id", "date"]].astype({"person_id": str})
        if sources.interventions is not None
        else None
    )
    records = []
    for key, lists in judged.groupby(["model_version", "school_id", "academic_year", "term"]):
        records.append(_figures(key, lists, events, helped, horizon))
    frame = pd.DataFrame(records, columns=COLUMNS)
    return OutcomeReport(frame, int(judged["run_id"].nunique()), immature)


def _with_children(history: pd.DataFrame, students: pd.DataFrame) -> pd.DataFrame:
    """Stored list rows with each school's student's child (``person_id``)."""
    key = ["school_id", "student_id"]
    people = students[[*key, "person_id"]].astype(str).drop_duplicates(key)
    found = history.astype(dict.fromkeys(key, str)).merge(people, on=key, how="left")
    alone = found["school_id"] + ":" + found["student_id"]
    return found.assign(person_id=found["person_id"].fillna(alone))


def _figures(
    key: tuple[object, ...],
    lists: pd.DataFrame,
    events: pd.DataFrame,
    helped: pd.DataFrame | None,
    horizon: pd.Timedelta,
) -> dict[str, object]:
    last_week = lists["as_of"].max()
    students = lists["person_id"].unique()
    # Leaving: the child's first dropout event after their first listed week, within
    # the horizon of their last listed week.
    seen = lists.groupby("person_id")["as_of"].agg(["min", "max"])
    mine = events[events["person_id"].isin(students)].merge(
        seen, left_on="person_id", right_index=True
    )
    mine = mine[(mine["event_date"] > mine["min"]) & (mine["event_date"] <= mine["max"] + horizon)]
    left = mine.sort_values("event_date").drop_duplicates("person_id").set_index("person_id")
    flagged_rows = lists[lists["tier"].isin(FLAGGED)]
    first_flag = flagged_rows.groupby("person_id")["as_of"].min()
    leads = []
    found = found_in_time = found_early = 0
    for person_id, event in left["event_date"].items():
        flags = flagged_rows.loc[
            (flagged_rows["person_id"] == person_id) & (flagged_rows["as_of"] < event), "as_of"
        ]
        if len(flags):
            weeks = (event - flags.min()).days // 7
            leads.append(weeks)
            found += 1
            found_in_time += int(weeks >= IN_TIME_WEEKS)
            found_early += int(weeks >= EARLY_WEEKS)
    helped_count = 0
    if helped is not None and len(first_flag):
        end = left["event_date"].reindex(first_flag.index).fillna(last_week + pd.Timedelta(days=7))
        actions = helped[helped["person_id"].isin(first_flag.index)]
        dates = pd.to_datetime(actions["date"])
        starts = actions["person_id"].map(first_flag)
        stops = actions["person_id"].map(end)
        helped_count = int(actions.loc[(dates >= starts) & (dates <= stops), "person_id"].nunique())
    model_version, school_id, year, term = key
    return {
        "model_version": str(model_version),
        "school_id": str(school_id),
        "academic_year": int(year),  # type: ignore[call-overload]
        "term": int(term),  # type: ignore[call-overload]
        "weeks": int(lists["as_of"].nunique()),
        "students": len(students),
        "left": len(left),
        "found": found,
        "found_in_time": found_in_time,
        "found_8w": found_early,
        "missed": len(left) - found,
        "median_lead_weeks": float(np.median(leads)) if leads else float("nan"),
        "flagged": len(first_flag),
        "flagged_helped": helped_count,
        "backfilled_weeks": int(
            lists.loc[lists["created_at"] - lists["as_of"] > BACKFILLED_AFTER, "as_of"].nunique()
        ),
    }


def store_outcomes(engine: sa.Engine, report: OutcomeReport) -> None:
    """Replace the stored figures of the school terms judged."""
    rows = report.rows.assign(computed_at=datetime.now(UTC).replace(tzinfo=None))
    records = [
        {str(k): (None if isinstance(v, float) and np.isnan(v) else v) for k, v in r.items()}
        for r in rows.to_dict("records")
    ]
    with engine.begin() as connection:
        for record in records:
            connection.execute(
                sa.delete(list_outcomes).where(
                    sa.and_(*(list_outcomes.c[k] == record[k] for k in KEY))
                )
            )
        if records:
            connection.execute(sa.insert(list_outcomes), records)


def overall(rows: pd.DataFrame) -> pd.DataFrame:
    """Totals per model version and term, over every school."""
    if rows.empty:
        return rows
    key = ["model_version", "academic_year", "term"]
    sums = rows.groupby(key, as_index=False)[list(OUTCOME_COUNTS)].sum()
    weeks = rows.groupby(key, as_index=False)[["weeks", "backfilled_weeks"]].max()
    sums = sums.merge(weeks, on=key)
    return sums.assign(
        share_found=(sums["found"] / sums["left"]).where(sums["left"] > 0),
        share_found_in_time=(sums["found_in_time"] / sums["left"]).where(sums["left"] > 0),
        share_found_8w=(sums["found_8w"] / sums["left"]).where(sums["left"] > 0),
        share_flagged_helped=(sums["flagged_helped"] / sums["flagged"]).where(sums["flagged"] > 0),
    )


def check_past_lists(
    settings: Settings, engine: sa.Engine, horizon_days: int, experiment: str = OUTCOMES_EXPERIMENT
) -> OutcomeReport:
    """Judge every matured stored list, store the figures and log them to MLflow."""
    rules = label_rules(engine, horizon_days)
    report = judge_lists(list_history(engine), Sources.from_database(engine), rules)
    store_outcomes(engine, report)
    if report.rows.empty:
        return report
    configure_tracking(settings)
    totals = overall(report.rows)
    for version, part in totals.groupby("model_version"):
        with mlflow.start_run(
            run_name=f"outcomes of v{version}", experiment_id=_experiment(experiment)
        ):
            mlflow.log_params({"model_version": version, "horizon_days": horizon_days})
            for record in part.to_dict("records"):
                prefix = f"{record['academic_year']}_{record['term']}"
                figures = {
                    name: record[name]
                    for name in (
                        "left",
                        "found",
                        "found_in_time",
                        "found_8w",
                        "flagged_helped",
                        "share_found",
                    )
                }
                mlflow.log_metrics(
                    {f"{prefix}.{k}": float(v) for k, v in figures.items() if pd.notna(v)}
                )
    return report


def _experiment(name: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    return found.experiment_id if found is not None else mlflow.create_experiment(name)
