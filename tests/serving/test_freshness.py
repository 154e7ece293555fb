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
from schooldata.tables import TABLES, job_runs, run_schools, student_scores
from serving.accounts import create_user, set_password
from serving.app import create_app
from serving.i18n import day
from serving.schedule import WeekRunner
from serving.scoring import weekly_run
from tests.conftest import scratch_settings
from tests.serving.conftest import WEEKS, Api, copy_with_a_late_school, serving, shoot, sign_in

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
    return copy_with_a_late_school(
        synthetic_engine, tmp_path_factory.mktemp("late") / "ews.db", api.school, AS_OF
    )


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
    run = weekly_run(late, api.scorer, AS_OF)
    with late.connect() as connection:
        newest = connection.execute(
            sa.select(run_schools.c.newest_attendance).where(
                (run_schools.c.run_id == run.run_id) & (run_schools.c.school_id == api.school)
            )
        ).scalar_one()
    assert newest < (AS_OF - pd.Timedelta(days=21)).date()
    user, _ = create_user(late, "committee", "กรรมการ", school_id=api.school, username="late")
    set_password(late, user.user_id, "late-committee-pw", "tests", must_change=False)
    settings = scratch_settings(str(late.url), tmp_path)
    with serving(create_app(settings, scorer=api.scorer)) as url:
        sign_in(page, url, "late", "late-committee-pw")
        for path in ("/list", "/plan"):
            page.goto(url + path)
            banner = page.locator("p.stale-banner")
            assert banner.count() == 1, path
            # Since when, as the pages write a date (14 ก.พ. 2568).
            assert f"ล่าสุดวันที่ {day(newest, 'th')} " in banner.inner_text()
            # The committee sends files: the banner takes it to the upload page.
            send = banner.locator("a[href='/upload']")
            assert send.inner_text() == "ส่งแบบบันทึกเวลาเรียนล่าสุดที่หน้าส่งข้อมูล แล้วระบบจะจัดทำรายชื่อใหม่"
            assert page.locator("table.list tbody tr.student").count() == 0  # nobody flagged
        shoot(page, "stale")
    # An advisor sends no file: told who does.
    teacher, _ = create_user(
        late, "advisor", "ครู", school_id=api.school, staff_id="class:any", username="late-kru"
    )
    set_password(late, teacher.user_id, "late-advisor-pw", "tests", must_change=False)
    with serving(create_app(settings, scorer=api.scorer)) as url:
        sign_in(page, url, "late-kru", "late-advisor-pw")
        page.goto(url + "/list")
        told = page.locator("p.stale-banner")
        assert told.locator("a").count() == 0
        assert told.inner_text().endswith(
            "เมื่อเจ้าหน้าที่ข้อมูลของโรงเรียนส่งแบบบันทึกเวลาเรียนล่าสุดแล้ว ระบบจะจัดทำรายชื่อใหม่"
        )
    # The administrator's page names the school, its students and since when, as dates are
    # written on the pages.
    admin, _ = create_user(late, "admin", "ผู้ดูแล", username="late-admin")
    set_password(late, admin.user_id, "late-admin-pw", "tests", must_change=False)
    with serving(create_app(settings, scorer=api.scorer)) as url:
        sign_in(page, url, "late-admin", "late-admin-pw")
        page.goto(url + "/admin/operations")
        cells = page.locator("table.stale-schools tbody tr").all_inner_texts()
    with late.connect() as connection:
        enrolled = connection.execute(
            sa.select(run_schools.c.enrolled).where(
                (run_schools.c.run_id == run.run_id) & (run_schools.c.school_id == api.school)
            )
        ).scalar_one()
    assert [c.split("\t")[:3] for c in cells] == [[api.school, f"{enrolled:,}", day(newest, "th")]]


def test_the_data_officer_sees_the_school_left_out_then_back_after_the_rerun(
    page: Any, api: Api, synthetic_engine: sa.Engine, late: sa.Engine, tmp_path: Path
) -> None:
    """The person who sends the files sees, where they send them, whether the school is in
    the week's list and how new its data is; a failed rerun by its error id; and the school
    back in the list once the missing registers are loaded and the list made again.

    (Last in the file: it puts the late school's attendance back.)"""
    run = weekly_run(late, api.scorer, AS_OF)
    with late.connect() as connection:
        stale = (
            connection.execute(
                sa.select(run_schools).where(
                    (run_schools.c.run_id == run.run_id) & (run_schools.c.school_id == api.school)
                )
            )
            .mappings()
            .one()
        )
    assert stale["stale"]
    assert stale["newest_attendance"] < (AS_OF - pd.Timedelta(days=21)).date()
    officer, _ = create_user(
        late, "data_officer", "เจ้าหน้าที่", school_id=api.school, username="late-officer"
    )
    set_password(late, officer.user_id, "late-officer-pw", "tests", must_change=False)
    settings = api.settings.model_copy(update={"database_url": str(late.url)})
    runner = WeekRunner(settings, late)  # the service's own, running `ews score` as it does

    def unreachable() -> tuple[int | None, str, int | None]:
        raise RuntimeError("the database was unreachable")

    with serving(create_app(scratch_settings(str(late.url), tmp_path), scorer=api.scorer)) as url:
        sign_in(page, url, "late-officer", "late-officer-pw")
        page.wait_for_url("**/upload")
        card = page.locator("section.school-in-list")
        assert card.locator("h2").inner_text() == f"ข้อมูลของโรงเรียนในรายชื่อวันที่ {day(AS_OF, 'th')}"
        said = card.locator("p.left-out").inner_text()
        newest = day(stale["newest_attendance"], "th")
        assert f"ข้อมูลการมาเรียนล่าสุดคือวันที่ {newest}" in said
        assert f"ไม่มีบันทึกอีก {stale['school_days_missing']} วันเรียน" in said
        assert said.endswith("ในการประเมินรอบถัดไป")  # this server makes no list on upload
        assert card.locator("dd.newest-attendance").inner_text() == newest
        assert card.locator("p.remake-failed").count() == 0
        shoot(page, "upload-school-left-out")
        # Where the data officer asks to be told by e-mail when it happens.
        page.goto(url + "/account")
        assert page.get_by_text("ระบบจะส่งอีเมลบอกวันที่ของข้อมูลล่าสุด").is_visible()
        assert page.locator("form[action='/account/messages'] input[name=email]").count() == 1
        page.goto(url + "/upload")

        # A rerun that failed is said by its error id, for the administrator's log.
        with pytest.raises(RuntimeError, match="unreachable"):
            runner.record("school", AS_OF.date(), api.school, "upload", unreachable)
        with late.connect() as connection:
            error_id = connection.execute(sa.select(sa.func.max(job_runs.c.error_id))).scalar()
        page.reload()
        assert error_id in card.locator("p.remake-failed").inner_text()

        # Made again before the registers come (other files sent): still left out, said
        # so; the rerun crashed on an empty list.
        runner.record(
            "school",
            AS_OF.date(),
            api.school,
            "upload",
            lambda: runner.run_job(AS_OF.date(), api.school),
        )
        page.reload()
        assert card.locator("p.remake-failed").count() == 0
        assert card.locator("p.left-out").count() == 1

        # The registers the school had not sent, loaded; the school's list made again.
        attendance = TABLES["attendance"]
        with synthetic_engine.connect() as source:
            missing = source.execute(
                sa.select(attendance).where(
                    (attendance.c.school_id == api.school)
                    & (attendance.c.date > stale["newest_attendance"])
                )
            ).mappings()
            rows = [dict(r) for r in missing]
        assert rows
        with late.begin() as connection:
            connection.execute(sa.insert(attendance), rows)
        at_work: list[str] = []

        def rerun() -> tuple[int | None, str, int | None]:
            page.reload()  # while the rerun is claimed and at work
            at_work.append(card.locator("p.remaking").inner_text())
            return runner.run_job(AS_OF.date(), api.school)

        outcome = runner.record("school", AS_OF.date(), api.school, "upload", rerun)
        assert outcome.status == "done"
        assert at_work == ["กำลังจัดทำรายชื่อใหม่จากข้อมูลล่าสุด เปิดหน้านี้อีกครั้งในอีกสักครู่"]
        page.reload()
        assert card.locator("p.left-out").count() == 0
        assert card.locator("p.remake-failed").count() == 0  # the newest run is done
        with late.connect() as connection:
            back = (
                connection.execute(
                    sa.select(run_schools).where(
                        (run_schools.c.run_id == run.run_id)
                        & (run_schools.c.school_id == api.school)
                    )
                )
                .mappings()
                .one()
            )
        assert not back["stale"]
        assert back["scored"] == back["enrolled"] > 0
        assert card.locator("p.scored").inner_text() == (
            f"ประเมินความเสี่ยงแล้ว {back['scored']:,} จาก {back['enrolled']:,} คนที่ลงทะเบียนเรียน"
        )
        assert card.locator("dd.newest-attendance").inner_text() == day(
            back["newest_attendance"], "th"
        )
        shoot(page, "upload-school-in-list")
