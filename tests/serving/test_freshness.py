"""Stale data is caught, not scored; a date with nobody enrolled is a clear refusal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from ews.cli import app as cli
from features.freshness import school_days_between
from riskmodel.ranking import DEFAULT_CAPACITY
from schooldata.tables import TABLES, run_schools, student_scores
from serving.accounts import create_user, set_password
from serving.app import create_app
from serving.scoring import weekly_run
from tests.conftest import scratch_settings
from tests.serving.conftest import WEEKS, Api, copy_without_runs, serving, shoot, sign_in

AS_OF = pd.Timestamp(WEEKS[-1])


def _env(api: Api, engine: sa.Engine) -> dict[str, str]:
    settings = api.settings
    return {
        "EWS_DATABASE_URL": str(engine.url),
        "EWS_MLFLOW_TRACKING_URI": settings.mlflow_tracking_uri,
        "EWS_MLFLOW_ARTIFACT_ROOT": str(settings.mlflow_artifact_root),
        "EWS_SECRETS_FILE": str(Path(str(engine.url.database)).parent / "secrets.json"),
    }


@pytest.fixture(scope="module")
def late(
    api: Api, synthetic_engine: sa.Engine, tmp_path_factory: pytest.TempPathFactory
) -> sa.Engine:
    """A copy where one school's attendance stops three weeks before the as-of date."""
    engine = copy_without_runs(synthetic_engine, tmp_path_factory.mktemp("late") / "ews.db")
    attendance = TABLES["attendance"]
    with engine.begin() as connection:
        connection.execute(
            sa.delete(attendance).where(
                (attendance.c.school_id == api.school)
                & (attendance.c.date >= (AS_OF - pd.Timedelta(days=21)).date())
            )
        )
    return engine


def test_school_days_count_weekdays_between_records_and_the_as_of_date() -> None:
    friday, monday = pd.Timestamp("2026-01-09"), pd.Timestamp("2026-01-12")
    assert school_days_between(friday, monday) == 0
    assert school_days_between(friday - pd.Timedelta(days=7), monday) == 5
    assert school_days_between(friday - pd.Timedelta(days=21), monday) == 15


def test_a_school_whose_attendance_ends_three_weeks_early_is_skipped_and_said(
    api: Api, late: sa.Engine
) -> None:
    result = CliRunner().invoke(cli, ["score", "--as-of", WEEKS[-1]], env=_env(api, late))

    assert result.exit_code == 0, result.output
    assert "stale" in result.output and api.school in result.output  # noqa: PT018
    with late.connect() as connection:
        schools = pd.DataFrame(connection.execute(sa.select(run_schools)).mappings().all())
        scored = pd.DataFrame(
            connection.execute(sa.select(student_scores.c.school_id, student_scores.c.tier)).all()
        )
        table = TABLES["schools"]
        capacity = dict(
            connection.execute(sa.select(table.c.school_id, table.c.home_visit_capacity)).all()
        )
    # Each school's weekly home-visit capacity of the week, as its plan reads it.
    given = {school: capacity.get(school) for school in schools["school_id"]}
    planned = {school: DEFAULT_CAPACITY if c is None else c for school, c in given.items()}
    assert schools.set_index("school_id")["visit_capacity"].to_dict() == planned
    mine = schools.set_index("school_id").loc[api.school]
    assert bool(mine["stale"]) and mine["scored"] == 0  # noqa: PT018
    assert mine["school_days_missing"] >= 14
    # Nobody of that school is on the list, and the other schools are scored as usual.
    assert api.school not in set(scored["school_id"])
    others = schools[schools["school_id"] != api.school]
    assert not others["stale"].any()
    assert (others["scored"] == others["enrolled"]).all()
    assert len(scored) == others["enrolled"].sum()


def test_a_date_with_nobody_enrolled_exits_2_naming_the_date_and_the_terms(
    api: Api, late: sa.Engine
) -> None:
    result = CliRunner().invoke(cli, ["score", "--as-of", "2031-04-21"], env=_env(api, late))

    assert result.exit_code == 2
    text = " ".join(result.output.split())
    assert "no student is enrolled on 2031-04-21" in text
    assert "term 1" in text and "term 2" in text  # noqa: PT018
    assert "Traceback" not in result.output


def test_the_stale_school_is_shown_as_stale_on_its_pages(
    page: Any, api: Api, late: sa.Engine, tmp_path: Path
) -> None:
    weekly_run(late, api.scorer, AS_OF)
    user, _ = create_user(late, "committee", "กรรมการ", school_id=api.school, username="late")
    set_password(late, user.user_id, "late-committee-pw", "tests", must_change=False)
    settings = scratch_settings(str(late.url), tmp_path)
    with serving(create_app(settings, scorer=api.scorer)) as url:
        sign_in(page, url, "late", "late-committee-pw")
        for path in ("/list", "/plan"):
            page.goto(url + path)
            banner = page.locator("p.stale-banner")
            assert banner.count() == 1, path
            newest = (AS_OF - pd.Timedelta(days=21)).date()
            assert str(newest)[:7] in banner.inner_text()  # and since when
            assert page.locator("table.list tbody tr.student").count() == 0  # nobody flagged
        shoot(page, "stale")
