"""Each stored list checked against what happened (``ews outcomes``).

Once a term's weekly lists have matured (every week's horizon has passed in the data),
each is compared with who left: of the students who left, how many were on the list
(high or watch) in some week before leaving, how many weeks ahead (the lead time), how
many were missed; and of the students flagged, how many had any intervention between
being flagged and the end of the term or their leaving. Per school, term and model
version; stored for the pages (a committee sees its school's figures, an analyst every
school's) and logged to MLflow.

Beside the tiers, the headline as a school lives it: each week's stored list replayed as
the school's home-visit plan (its capacity, in the list's order, leaving out whom the
plan took in the 30 days before: ``training.evaluate.visit_plans``, the replay training
judges a model by), and of the students who left, who was on a plan at least 4 and 8
weeks before leaving: per school term, and over each model version's lists per child,
overall and by nationality, poverty, disability and sex with intervals over students.
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
from riskmodel.ranking import DEFAULT_CAPACITY
from riskmodel.registry import OUTCOMES_EXPERIMENT
from schooldata.tables import OUTCOME_COUNTS, list_outcomes, score_runs, student_scores
from training.config import FairnessConfig
from training.evaluate import FOUND_WEEKS, FoundInTime, StudentResamples, found_in_time, visit_plans
from training.fairness import found_in_time_by_group, students_table
from training.labels import LabelRules, dropout_events, label, label_rules, observed_until
from training.matrix import audit_columns
from training.tracking import configure_tracking

FLAGGED = ("high", "watch")
IN_TIME_WEEKS, EARLY_WEEKS = FOUND_WEEKS  # found in time: 4 and 8 weeks ahead
KEY = ["model_version", "school_id", "academic_year", "term"]
# What is stored of each school term judged, in the table's order (``computed_at`` is
# added when stored).
COLUMNS = [c.name for c in list_outcomes.c if c.name != "computed_at"]
BACKFILLED_AFTER = pd.Timedelta(days=14)
# What judging needs beside who the students are, where they were enrolled and how they
# left: the schools' capacities, the children's groups (poverty from their household
# surveys) and their help; never their daily records (most of the database).
OUTCOME_SOURCES = ("schools", "household", "interventions")


@dataclass(frozen=True)
class OnPlans:
    """One model version's judged lists replayed as home-visit plans, each child once."""

    model_version: str
    overall: FoundInTime
    by_group: pd.DataFrame  # ``training.fairness.found_in_time_by_group``'s table


@dataclass(frozen=True)
class OutcomeReport:
    rows: pd.DataFrame  # one per school, term and model version
    runs: int  # weekly runs judged
    immature: int  # weekly runs left out: their horizon has not passed yet
    on_plans: tuple[OnPlans, ...] = ()  # per model version


def list_history(engine: sa.Engine) -> pd.DataFrame:
    """Every stored list row: week, model version, student, school, tier."""
    query = sa.select(
        score_runs.c.run_id,
        score_runs.c.as_of,
        score_runs.c.created_at,
        score_runs.c.model_version,
        student_scores.c.student_id,
        student_scores.c.school_id,
        student_scores.c.grade_level,
        student_scores.c.tier,
        student_scores.c.rank_in_school,
    ).join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
    with engine.connect() as connection:
        frame = pd.DataFrame(
            connection.execute(query).all(), columns=list(query.selected_columns.keys())
        )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def judge_lists(
    history: pd.DataFrame,
    sources: Sources,
    rules: LabelRules,
    config: FairnessConfig | None = None,
) -> OutcomeReport:
    """The outcome figures of every matured weekly list (``config``: the groups' bootstrap
    and the fewest leavers a group needs to be judged)."""
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
    judged = _with_children(judged, sources.students).reset_index(drop=True)
    places = _plan_places(judged, sources)
    judged["planned"] = _on_plans(judged, places)
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
    on_plans = tuple(
        _per_child(
            str(version),
            judged.iloc[rows],
            places[rows],
            sources,
            rules,
            config=config or FairnessConfig(),
        )
        for version, rows in judged.groupby("model_version").indices.items()
    )
    return OutcomeReport(frame, int(judged["run_id"].nunique()), immature, on_plans)


def _plan_places(lists: pd.DataFrame, sources: Sources) -> np.ndarray:
    """Each stored list row's school's weekly home-visit capacity, as the service plans it
    (``DEFAULT_CAPACITY`` where the school gave none)."""
    capacity = pd.Series(np.nan, index=lists.index)
    if sources.schools is not None and "home_visit_capacity" in sources.schools:
        given = sources.schools.astype({"school_id": str}).set_index("school_id")
        capacity = lists["school_id"].map(given["home_visit_capacity"]).astype(float)
    return capacity.fillna(DEFAULT_CAPACITY).to_numpy()


def _on_plans(lists: pd.DataFrame, places: np.ndarray) -> np.ndarray:
    """True for the stored list rows that the school's plan took that week: each model
    version's lists replayed in their stored order (``rank_in_school``) as the plans they
    would have made week after week."""
    planned = np.zeros(len(lists), dtype=bool)
    for rows in lists.groupby("model_version").indices.values():
        part = lists.iloc[rows].reset_index(drop=True)
        order = -part["rank_in_school"].to_numpy(dtype=float)
        planned[rows] = visit_plans(order, part, places[rows])
    return planned


def _per_child(
    version: str,
    lists: pd.DataFrame,
    places: np.ndarray,
    sources: Sources,
    rules: LabelRules,
    *,
    config: FairnessConfig,
) -> OnPlans:
    """A version's plans judged per child over all its lists: each week's row labelled as
    training labels it (leaving within the horizon), the child's groups as of the week."""
    rows = lists.reset_index(drop=True)
    rows = pd.concat(
        [
            rows,
            audit_columns(sources, rows),
            label(sources, rows, rules)[["label", "event_date"]],
        ],
        axis=1,
    )
    order = -rows["rank_in_school"].to_numpy(dtype=float)
    overall = found_in_time(rows, order, places, resamples=config.bootstrap)
    students = students_table(rows, order, config, sources.interventions, places=places)
    draws = StudentResamples.draw(students["person_id"].to_numpy(), config.bootstrap)
    return OnPlans(version, overall, found_in_time_by_group(students, draws, config.min_positives))


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
    leads = _lead_weeks(flagged_rows, left["event_date"])
    planned = _lead_weeks(lists[lists["planned"]], left["event_date"])
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
        "found": len(leads),
        "found_in_time": int((leads >= IN_TIME_WEEKS).sum()),
        "found_8w": int((leads >= EARLY_WEEKS).sum()),
        "planned_in_time": int((planned >= IN_TIME_WEEKS).sum()),
        "planned_8w": int((planned >= EARLY_WEEKS).sum()),
        "missed": len(left) - len(leads),
        "median_lead_weeks": float(leads.median()) if len(leads) else float("nan"),
        "flagged": len(first_flag),
        "flagged_helped": helped_count,
        "backfilled_weeks": int(
            lists.loc[lists["created_at"] - lists["as_of"] > BACKFILLED_AFTER, "as_of"].nunique()
        ),
    }


def _lead_weeks(marked: pd.DataFrame, leaving: pd.Series) -> pd.Series:
    """Of each child who left (``leaving``: their date, by ``person_id``) and had a row of
    ``marked`` before leaving, the whole weeks from the first such row to leaving."""
    rows = marked[["person_id", "as_of"]].merge(
        leaving.rename("event_date"), left_on="person_id", right_index=True
    )
    first = rows[rows["as_of"] < rows["event_date"]].groupby("person_id")["as_of"].min()
    return (leaving.reindex(first.index) - first).dt.days // 7


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
    settings: Settings,
    engine: sa.Engine,
    horizon_days: int,
    experiment: str = OUTCOMES_EXPERIMENT,
    config: FairnessConfig | None = None,
) -> OutcomeReport:
    """Judge every matured stored list, store the figures and log them to MLflow."""
    rules = label_rules(engine, horizon_days)
    sources = Sources.from_database(engine, only=OUTCOME_SOURCES)
    report = judge_lists(list_history(engine), sources, rules, config)
    store_outcomes(engine, report)
    if report.rows.empty:
        return report
    configure_tracking(settings)
    totals = overall(report.rows)
    plans = {plan.model_version: plan for plan in report.on_plans}
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
                        "planned_in_time",
                        "planned_8w",
                        "flagged_helped",
                        "share_found",
                    )
                }
                mlflow.log_metrics(
                    {f"{prefix}.{k}": float(v) for k, v in figures.items() if pd.notna(v)}
                )
            if str(version) in plans:
                _log_plans(plans[str(version)])
    return report


def _log_plans(plans: OnPlans) -> None:
    """A version's found in time on the plans: the shares with their intervals, and the
    table by group (counts of students, no student in it)."""
    found = plans.overall
    figures = {"plans.left": found.left, "plans.median_lead_weeks": found.median_lead_weeks}
    for weeks, share in zip(FOUND_WEEKS, (found.found_4w, found.found_8w), strict=True):
        figures |= {
            f"plans.found_{weeks}w": share.estimate,
            f"plans.found_{weeks}w_low": share.low,
            f"plans.found_{weeks}w_high": share.high,
        }
    for row in plans.by_group.to_dict("records"):
        for weeks in FOUND_WEEKS:
            name = f"share_found_{weeks}w"
            figures[f"plans.found_in_time.{row['attribute']}.{row['group']}.{name}"] = row[name]
    mlflow.log_metrics({k: float(v) for k, v in figures.items() if pd.notna(v)})
    mlflow.log_text(plans.by_group.to_csv(index=False), "found_in_time_by_group.csv")


def _experiment(name: str) -> str:
    found = mlflow.get_experiment_by_name(name)
    return found.experiment_id if found is not None else mlflow.create_experiment(name)
