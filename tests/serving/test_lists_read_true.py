"""What a teacher reads is true: reasons, tiers, next steps, one risk a week."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
import sqlalchemy as sa

from features.catalog import catalog
from schooldata.db import make_engine
from schooldata.tables import score_runs, student_scores
from serving import records, store
from serving.access import StudentKey
from serving.accounts import Caller, create_user
from serving.scoring import Scorer, weekly_run
from tests.serving.conftest import WEEKS, Api

LEVEL = {"low": 0, "watch": 1, "high": 2}


def test_every_stored_reason_is_true_of_the_students_value_and_says_something_new(
    whole_run: pd.DataFrame,
) -> None:
    specs = catalog()
    checked = 0
    for contributions, features, reasons in whole_run[
        ["contributions", "run_features", "reasons"]
    ].itertuples(index=False):
        values = {
            c["feature"]: c["value"]
            for c in store.read_contributions(contributions, store.feature_names(features))
        }
        groups = []
        for reason in orjson.loads(reasons):
            spec = specs[reason["feature"]]
            assert spec.actionable
            assert not spec.sensitive
            assert spec.holds(values[reason["feature"]]), (reason, values[reason["feature"]])
            assert "nan" not in reason["text_en"]
            assert "  " not in reason["text_en"]
            groups.append(spec.group or spec.id)
            checked += 1
        assert len(groups) == len(set(groups)), groups
    assert checked > len(whole_run)  # most students have reasons


def test_a_riskier_student_is_never_in_a_lower_tier_of_the_same_school(
    whole_run: pd.DataFrame, api: Api
) -> None:
    tiers = api.scorer.bundle.tiers
    for _, school in whole_run.reset_index().groupby("school_id"):
        level = school["tier"].map(LEVEL).to_numpy()
        risk = school["risk"].to_numpy()
        riskier = risk[:, None] > risk[None, :]
        assert not (riskier & (level[:, None] < level[None, :])).any()
        same = risk[:, None] == risk[None, :]
        assert not (same & (level[:, None] != level[None, :])).any()
        high = school[school["tier"] == "high"]
        assert len(high) <= max(1, int(tiers.high_share * len(school)))
        assert (high["risk"] >= tiers.high_level).all()
        listed = school[school["tier"] != "low"]
        assert (listed["risk"] >= tiers.floor).all()


def test_the_share_flagged_follows_how_many_are_at_risk(whole_run: pd.DataFrame) -> None:
    # "High" is not a fixed share of every school: it moves with the risks.
    shares = (
        whole_run.reset_index().groupby("school_id")["tier"].apply(lambda t: (t == "high").mean())
    )
    assert shares.nunique() > 1


def test_only_flagged_students_have_a_next_step_and_it_is_never_empty(
    whole_run: pd.DataFrame,
) -> None:
    flagged = whole_run["tier"].isin(["high", "watch"])
    assert whole_run.loc[~flagged, "suggested_step_th"].isna().all()
    assert whole_run.loc[~flagged, "suggested_step_en"].isna().all()
    steps = whole_run.loc[flagged, ["suggested_step_th", "suggested_step_en"]]
    assert len(steps)
    assert steps.map(lambda s: bool(s and s.strip())).all().all()


def test_an_outside_referral_is_suggested_only_when_a_screening_says_protection(
    whole_run: pd.DataFrame,
) -> None:
    outside = whole_run["suggested_step_en"] == "make an external child-protection referral"
    for contributions, features in whole_run.loc[
        outside, ["contributions", "run_features"]
    ].itertuples(index=False):
        values = {
            c["feature"]: c["value"]
            for c in store.read_contributions(contributions, store.feature_names(features))
        }
        assert (values.get("screening_protection_level") or 0) >= 1


def test_the_api_and_the_stored_list_give_the_same_risk_for_a_student_and_week(
    api: Api, whole_engine: sa.Engine, whole_run: pd.DataFrame
) -> None:
    # What POST /api/v1/score computes (records.score_students), on the database the
    # week's list was stored in, untouched since (the API tests' own database has
    # interventions recorded after its runs, which change the features).
    user, _ = create_user(whole_engine, "committee", "กรรมการ", school_id=api.school)
    stored = whole_run.loc[api.school, "risk"]
    keys = [StudentKey(api.school, code) for code in stored.index[:40]]

    answered = records.score_students(
        whole_engine, api.scorer, Caller(user, "test"), keys, as_of=pd.Timestamp(WEEKS[-1]).date()
    )

    assert {a.student_id: a.risk for a in answered} == pytest.approx(
        stored.loc[[k.student_id for k in keys]].to_dict(), abs=1e-12
    )


def test_a_week_scored_by_two_model_versions_shows_once_in_a_history(
    api: Api, synthetic_engine: sa.Engine, tmp_path: Path
) -> None:
    copy = tmp_path / "ews.db"
    with sqlite3.connect(str(api.engine.url.database)) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    engine = make_engine(f"sqlite:///{copy}")
    # The shared database holds the fixture's weeks and any week another test scored.
    scored = _scored_weeks(engine, api.school, api.own_student)
    runs_before = _count_runs(engine)
    assert pd.Timestamp(WEEKS[-1]).date() in scored
    second = Scorer(api.scorer.bundle, "second")
    newest = weekly_run(engine, second, pd.Timestamp(WEEKS[-1]))
    user, _ = create_user(engine, "committee", "กรรมการ", school_id=api.school)
    student = StudentKey(api.school, api.own_student)

    detail = records.student_detail(engine, Caller(user, "test"), student)

    weeks = [point.as_of for point in detail.history]
    assert len(weeks) == len(set(weeks))
    assert sorted(weeks) == scored
    assert _count_runs(engine) == runs_before + 1
    with engine.connect() as connection:
        risk = connection.execute(
            sa.select(student_scores.c.risk).where(
                (student_scores.c.run_id == newest.run_id)
                & (student_scores.c.school_id == api.school)
                & (student_scores.c.student_id == api.own_student)
            )
        ).scalar()
    assert detail.history[-1].risk == risk
    assert detail.model_version == "second"
    assert np.isfinite(detail.history[0].risk)


def _scored_weeks(engine: sa.Engine, school: str, student: str) -> list[object]:
    """The distinct weeks in which some run scored this student, in order."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.select(score_runs.c.as_of)
                .join(student_scores, student_scores.c.run_id == score_runs.c.run_id)
                .where(
                    (student_scores.c.school_id == school)
                    & (student_scores.c.student_id == student)
                )
                .distinct()
                .order_by(score_runs.c.as_of)
            ).scalars()
        )


def _count_runs(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(score_runs)).scalar_one()
        )
