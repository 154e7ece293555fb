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
overall and by nationality, poverty, disability and sex with intervals over the children
who left.

The stored lists are judged in parts of whole schools (``list_histories``), so that
years of a country's weekly lists never have to be in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from typing import Any

import mlflow
import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.settings import Settings
from features.sources import Sources
from riskmodel.ranking import DEFAULT_CAPACITY
from riskmodel.registry import OUTCOMES_EXPERIMENT
from schooldata.tables import (
    OUTCOME_COUNTS,
    list_outcomes,
    run_schools,
    score_runs,
    student_scores,
)
from training.config import FairnessConfig
from training.evaluate import (
    FOUND_WEEKS,
    FoundInTime,
    StudentResamples,
    found_of,
    visit_plans,
    visited_leads,
)
from training.fairness import GROUP_COLUMNS, audit_groups, found_in_time_by_group, with_leads
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
# How many stored list rows are judged at a time (whole schools: every week of a school's
# lists is in memory at once, as its plans are replayed week after week), never every
# school's: about a gigabyte at the peak (0.9 kB a row on the demo's database).
ROWS_AT_ONCE = 1_000_000


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


def list_history(engine: sa.Engine, schools: tuple[str, str] | None = None) -> pd.DataFrame:
    """Every stored list row (of the schools from the first to the last of ``schools``, in
    the order of their ids): week, model version, student, school, tier, rank and the
    school's capacity that week."""
    query = (
        sa.select(
            score_runs.c.run_id,
            score_runs.c.as_of,
            score_runs.c.created_at,
            score_runs.c.model_version,
            student_scores.c.student_id,
            student_scores.c.school_id,
            student_scores.c.grade_level,
            student_scores.c.tier,
            student_scores.c.rank_in_school,
            run_schools.c.visit_capacity,
        )
        .join(score_runs, score_runs.c.run_id == student_scores.c.run_id)
        .outerjoin(
            run_schools,
            (run_schools.c.run_id == student_scores.c.run_id)
            & (run_schools.c.school_id == student_scores.c.school_id),
        )
    )
    if schools is not None:
        query = query.where(student_scores.c.school_id.between(*schools))
    with engine.connect() as connection:
        frame = pd.DataFrame(
            connection.execute(query).all(), columns=list(query.selected_columns.keys())
        )
    frame["as_of"] = pd.to_datetime(frame["as_of"])
    frame["created_at"] = pd.to_datetime(frame["created_at"])
    return frame


def list_histories(engine: sa.Engine, rows_at_once: int = ROWS_AT_ONCE) -> Iterator[pd.DataFrame]:
    """The stored list rows in parts of whole schools (``list_history``), each part at
    most ``rows_at_once`` rows (a school with more is a part of its own): a school's
    plans are replayed week after week, so all its weeks are in one part."""
    with engine.connect() as connection:
        counts = connection.execute(
            sa.select(student_scores.c.school_id, sa.func.count())
            .group_by(student_scores.c.school_id)
            .order_by(student_scores.c.school_id)
        ).all()
    part: list[str] = []
    size = 0
    for school, rows in counts:
        if part and size + rows > rows_at_once:
            yield list_history(engine, (part[0], part[-1]))
            part, size = [], 0
        part.append(school)
        size += rows
    if part:
        yield list_history(engine, (part[0], part[-1]))


def judge_lists(
    parts: Iterable[pd.DataFrame],
    sources: Sources,
    rules: LabelRules,
    config: FairnessConfig | None = None,
) -> OutcomeReport:
    """The outcome figures of every matured weekly list (``parts``: the stored list rows,
    each school's in one part, as ``list_histories`` gives them; ``config``: the groups'
    bootstrap and the fewest leavers a group needs to be judged).

    Each part is judged on its own (its schools' plans and terms); what is kept of it
    beside its figures is its children who left, from which each model version's found in
    time per child is judged over all parts (a child who moved is one child)."""
    if isinstance(parts, pd.DataFrame):
        raise TypeError("judge_lists takes the stored list rows in parts: [history]")
    events = dropout_events(sources, rules)[["person_id", "event_date"]]
    # Labelled with the end of the data fixed: a part labels only its own children.
    until = observed_until(sources, rules)
    rules = replace(rules, observed_until=until)
    people = _people(sources.students)
    judged = [
        _judge_part(part, sources, rules, until=until, events=events, people=people)
        for part in parts
    ]
    runs = set().union(*(part.runs for part in judged))
    immature = set().union(*(part.immature for part in judged))
    figures = [part.rows for part in judged if len(part.rows)]
    if not figures:
        return OutcomeReport(pd.DataFrame(columns=COLUMNS), 0, len(immature))
    rows = pd.concat(figures, ignore_index=True)
    found = [part.leavers for part in judged if len(part.leavers)]
    leavers = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=LEAVER_COLUMNS)
    on_plans = tuple(
        _per_child(
            version,
            leavers[leavers["model_version"] == version],
            sources.interventions,
            config or FairnessConfig(),
        )
        for version in sorted(rows["model_version"].unique())
    )
    return OutcomeReport(rows, len(runs), len(immature), on_plans)


@dataclass(frozen=True)
class _Part:
    """One part of the stored lists, judged: its school terms' figures, the runs judged
    and left out, and its children who left (``_leavers``)."""

    rows: pd.DataFrame
    runs: set[int]
    immature: set[int]
    leavers: pd.DataFrame


def _judge_part(
    history: pd.DataFrame,
    sources: Sources,
    rules: LabelRules,
    *,
    until: pd.Timestamp,
    events: pd.DataFrame,
    people: pd.DataFrame,
) -> _Part:
    horizon = pd.Timedelta(days=rules.horizon_days)
    mature = history["as_of"] + horizon <= until
    judged = history[mature]
    immature = set(history.loc[~mature, "run_id"].astype(int))
    if judged.empty:
        nothing = pd.DataFrame(columns=COLUMNS)
        return _Part(nothing, set(), immature, pd.DataFrame(columns=LEAVER_COLUMNS))
    located = sources.calendar.locate(judged["school_id"], judged["as_of"])
    judged = judged.assign(
        academic_year=located["academic_year"].to_numpy(), term=located["term"].to_numpy()
    ).dropna(subset=["academic_year"])
    judged = _with_children(judged, people).reset_index(drop=True)
    judged["planned"] = _on_plans(judged, _plan_places(judged, sources))
    # What is known of this part's children: their leaving and their help.
    theirs = _of_children(sources, set(judged["person_id"]))
    events = events[events["person_id"].isin(judged["person_id"])]
    helped = (
        theirs.interventions[["person_id", "date"]].astype({"person_id": str})
        if theirs.interventions is not None
        else None
    )
    records = [
        _figures(key, lists, events, helped, horizon)
        for key, lists in judged.groupby(["model_version", "school_id", "academic_year", "term"])
    ]
    mine = judged[judged["person_id"].isin(events["person_id"])].reset_index(drop=True)
    return _Part(
        pd.DataFrame(records, columns=COLUMNS),
        set(judged["run_id"].astype(int)),
        immature,
        _leavers(mine, theirs, rules),
    )


def _of_children(sources: Sources, persons: set[str]) -> Sources:
    """The sources with only these children's records (every school they were at)."""
    changes: dict[str, Any] = {}
    for field in fields(sources):
        frame = getattr(sources, field.name)
        if isinstance(frame, pd.DataFrame) and "person_id" in frame:
            changes[field.name] = frame[frame["person_id"].isin(persons).to_numpy()]
    return replace(sources, **changes)


def _plan_places(lists: pd.DataFrame, sources: Sources) -> np.ndarray:
    """Each stored list row's school's weekly home-visit capacity that week, as the
    service planned it: stored with the run (``visit_capacity``), else (a run stored before
    capacities were) the school's capacity now, else ``DEFAULT_CAPACITY``."""
    capacity = pd.Series(np.nan, index=lists.index)
    if "visit_capacity" in lists:
        capacity = lists["visit_capacity"].astype(float)
    if sources.schools is not None and "home_visit_capacity" in sources.schools:
        given = sources.schools.astype({"school_id": str}).set_index("school_id")
        now = lists["school_id"].map(given["home_visit_capacity"]).astype(float)
        capacity = capacity.fillna(now)
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


LEAVER_COLUMNS = [
    "model_version",
    "person_id",
    "first_week",
    *GROUP_COLUMNS,
    "event_date",
    "lead_weeks",
]


def _leavers(lists: pd.DataFrame, sources: Sources, rules: LabelRules) -> pd.DataFrame:
    """Of the children of these stored list rows (``planned`` where a plan took them) who
    left within the horizon of some week, per model version: their groups as of their
    first week (``first_week``), when they left and the weeks from the first plan that
    took them to leaving (``training.evaluate.visited_leads``; 0: none did). Each week's
    row is labelled as training labels it."""
    if lists.empty:
        return pd.DataFrame(columns=LEAVER_COLUMNS)
    rows = pd.concat(
        [
            lists,
            audit_columns(sources, lists),
            label(sources, lists, rules)[["label", "event_date"]],
        ],
        axis=1,
    )
    rows = pd.concat(
        [rows.drop(columns=GROUP_COLUMNS, errors="ignore"), audit_groups(rows)], axis=1
    )
    rows = rows.sort_values(["as_of", "school_id", "student_id"], kind="stable")
    found = []
    for version, part in rows.groupby("model_version"):
        lead = visited_leads(part, part["planned"].to_numpy())
        by = part[part["person_id"].isin(lead.index)].groupby("person_id")
        children = (
            by[GROUP_COLUMNS]
            .first()
            .assign(
                model_version=version,
                first_week=by["as_of"].min(),
                event_date=by["event_date"].max(),
                lead_weeks=lead,
            )
        )
        found.append(children.rename_axis("person_id").reset_index())
    return pd.concat(found, ignore_index=True)[LEAVER_COLUMNS]


def _per_child(
    version: str,
    leavers: pd.DataFrame,
    interventions: pd.DataFrame | None,
    config: FairnessConfig,
) -> OnPlans:
    """A version's found in time on the plans of all its lists, each child who left once
    (a child who moved, in the parts of both schools: their earliest week's groups, the
    longest lead), overall and by group, with intervals over these children."""
    if leavers.empty:
        return OnPlans(version, found_of(pd.Series(dtype=float)), pd.DataFrame())
    ordered = leavers.sort_values("first_week", kind="stable")
    by = ordered.groupby("person_id", sort=True)
    children = by[GROUP_COLUMNS].first()
    children["event_date"] = by["event_date"].max()
    lead = by["lead_weeks"].max()
    students = with_leads(children, lead, interventions).assign(left=True)
    draws = StudentResamples.draw(children.index.to_numpy(), config.bootstrap)
    return OnPlans(
        version,
        found_of(lead, resamples=config.bootstrap),
        found_in_time_by_group(students.reset_index(), draws, config.min_positives),
    )


def _people(students: pd.DataFrame) -> pd.DataFrame:
    """Each school's student (school, code) and their child, as text."""
    key = ["school_id", "student_id"]
    return students[[*key, "person_id"]].astype(str).drop_duplicates(key)


def _with_children(history: pd.DataFrame, people: pd.DataFrame) -> pd.DataFrame:
    """Stored list rows with each school's student's child (``person_id``; ``_people``)."""
    key = ["school_id", "student_id"]
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
    report = judge_lists(list_histories(engine), sources, rules, config)
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
