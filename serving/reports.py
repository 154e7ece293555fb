"""Aggregate reads for the pages: the latest run's drift, past lists against what
happened, and a school's data freshness. No student is named in any of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pandas as pd
import sqlalchemy as sa

from schooldata.db import reading
from schooldata.tables import OUTCOME_COUNTS, TABLES, list_outcomes, run_drift, score_runs
from serving import store
from serving.accounts import User

DRIFT_SHOWN = 15
OUTCOME_ROLES = ("committee", "analyst")


@dataclass(frozen=True)
class Drift:
    as_of: date
    newest: date  # the newest run; ``as_of`` is older when that run had no reference
    moved: int
    watch: int
    compared: int
    rows: list[dict[str, Any]]  # the largest first


def latest_drift(engine: sa.Engine) -> Drift | None:
    """The newest compared run's inputs against the training reference.

    A week can have no reference (the model's reference year saw only first terms, say):
    then the newest week that had one is shown, and the page says so.
    """
    with reading(engine) as connection:
        newest = store.latest_run(connection)
        if newest is None:
            return None
        run = connection.execute(
            sa.select(score_runs.c.run_id, score_runs.c.as_of)
            .where(score_runs.c.run_id.in_(sa.select(run_drift.c.run_id).distinct()))
            .order_by(score_runs.c.as_of.desc(), score_runs.c.run_id.desc())
            .limit(1)
        ).first()
        if run is None:
            return None
        rows = (
            connection.execute(
                sa.select(run_drift)
                .where(run_drift.c.run_id == run.run_id)
                .order_by(run_drift.c.psi.desc())
            )
            .mappings()
            .all()
        )
    statuses = pd.Series([r["status"] for r in rows])
    return Drift(
        as_of=run.as_of,
        newest=newest.as_of,
        moved=int((statuses == "moved").sum()),
        watch=int((statuses == "watch").sum()),
        compared=len(rows),
        rows=[dict(r) for r in rows[:DRIFT_SHOWN]],
    )


@dataclass(frozen=True)
class Outcomes:
    overall: list[dict[str, Any]]  # per model version and term, over the schools shown
    by_school: list[dict[str, Any]]  # per school, model version and term


def outcomes(engine: sa.Engine, user: User) -> Outcomes | None:
    """Past lists against what happened: a committee its school's, an analyst every
    school's. None: the caller's role does not see them."""
    if user.role not in OUTCOME_ROLES:
        return None
    query = sa.select(list_outcomes)
    if user.role == "committee":
        query = query.where(list_outcomes.c.school_id == user.school_id)
    with reading(engine) as connection:
        frame = pd.DataFrame(connection.execute(query).mappings().all())
    if frame.empty:
        return Outcomes([], [])
    key = ["model_version", "academic_year", "term"]
    # min_count: a figure no school has (judged before it was counted) stays missing.
    sums = frame.groupby(key, as_index=False)[list(OUTCOME_COUNTS)].sum(min_count=1)
    weeks = frame.groupby(key, as_index=False)[["weeks", "backfilled_weeks"]].max()
    # The median lead over schools is not the median over students: show each school's,
    # and over all schools the students-weighted mean of the school medians.
    leads = frame.dropna(subset=["median_lead_weeks"])
    lead = (
        leads.assign(w=leads["median_lead_weeks"] * leads["found"])
        .groupby(key)[["w", "found"]]
        .sum()
    )
    lead = (lead["w"] / lead["found"]).rename("lead_weeks").reset_index()
    overall = sums.merge(weeks, on=key).merge(lead, on=key, how="left")
    order = ["academic_year", "term", "model_version"]
    return Outcomes(
        overall=_records(overall.sort_values(order, ascending=False)),
        by_school=_records(
            frame.sort_values(["school_id", *order], ascending=[True, False, False, False])
        ),
    )


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [
        {str(k): (None if isinstance(v, float) and pd.isna(v) else v) for k, v in r.items()}
        for r in frame.to_dict("records")
    ]


def plan_order_schools(engine: sa.Engine) -> list[dict[str, Any]]:
    """Every school with whether its plan shows the benefit order, for the analyst."""
    schools = TABLES["schools"]
    with reading(engine) as connection:
        rows = connection.execute(
            sa.select(schools.c.school_id, schools.c.name).order_by(schools.c.school_id)
        ).all()
        on = store.benefit_order_schools(connection)
    return [
        {
            "school_id": r.school_id,
            "name": r.name,
            "on": r.school_id in on,
            "since": on[r.school_id].strftime("%Y-%m-%d") if r.school_id in on else None,
        }
        for r in rows
    ]
